"""A real, tiny OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks.

`OpenAIServer` speaks `POST /v1/chat/completions` and `GET /v1/models` over a real socket, so clients are
exercised end to end (HTTP, JSON, headers, retries). What it answers is decided by a `responder` callable;
`example_for_schema` builds a minimal JSON value valid for a JSON schema. No model runs here.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], Any]
_MAX_SCHEMA_DEPTH = 12


@dataclass
class ServerReply:
    """A responder's answer when plain content is not enough (errors, headers, tool calls, raw bodies).

    `body` (a dict, str or bytes) replaces the whole response body; otherwise a chat completion is built
    from `content`, `finish_reason` and `tool_calls`, or an error body when `status` >= 400.
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content: str | None = None
    finish_reason: str = "stop"
    tool_calls: list[dict[str, Any]] | None = None


def example_for_schema(schema: dict[str, Any], root: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """A small JSON value valid for `schema` (strings "x", numbers 0, booleans true, every property)."""
    root = schema if root is None else root
    if depth > _MAX_SCHEMA_DEPTH:
        return None
    if "$ref" in schema:
        return example_for_schema(_resolve_ref(schema["$ref"], root), root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf", "allOf"):
        if schema.get(combinator):
            return example_for_schema(schema[combinator][0], root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((option for option in kind if option != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        properties = schema.get("properties", {})
        return {key: example_for_schema(sub, root, depth + 1) for key, sub in properties.items()}
    if kind == "array":
        count = int(schema.get("minItems", 0))
        return [example_for_schema(schema.get("items", {}), root, depth + 1) for _ in range(count)]
    if kind == "string":
        return "x" * max(1, int(schema.get("minLength", 1)))
    if kind in ("integer", "number"):
        return _example_number(schema)
    if kind == "boolean":
        return True
    return None


def _example_number(schema: dict[str, Any]) -> int | float:
    """0, or the smallest integer above the schema's lower bound when 0 is out of range."""
    if isinstance(schema.get("exclusiveMinimum"), (int, float)) and schema["exclusiveMinimum"] >= 0:
        return math.floor(schema["exclusiveMinimum"]) + 1
    if isinstance(schema.get("minimum"), (int, float)) and schema["minimum"] > 0:
        return math.ceil(schema["minimum"])
    return 0


def _resolve_ref(reference: str, root: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `#/...` JSON pointer inside the root schema."""
    node: Any = root
    for token in reference.lstrip("#/").split("/"):
        if token:
            node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def default_responder(body: dict[str, Any]) -> Any:
    """Echo a fixed text, or a minimal schema-valid JSON object when a json_schema is requested."""
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return example_for_schema(response_format.get("json_schema", {}).get("schema", {}))
    return "ok from test server"


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class OpenAIServer:
    """A threaded OpenAI-compatible HTTP server; use as a context manager or via start()/stop()."""

    def __init__(
        self, responder: Responder | None = None, *, model: str = "test-model", latency_s: float = 0.0
    ):
        self.responder: Responder = responder or default_responder
        self.model = model
        self.latency_s = latency_s
        self.requests: list[dict[str, Any]] = []
        self.request_headers: list[dict[str, str]] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def request_count(self) -> int:
        """How many chat-completion requests arrived."""
        return len(self.requests)

    @property
    def port(self) -> int:
        """The bound TCP port (the server must be started)."""
        if self._httpd is None:
            raise RuntimeError("OpenAIServer is not running; call start() or use it in a `with` block")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/v1`, what OpenAI clients take as base_url."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> OpenAIServer:
        """Bind an ephemeral port and serve in a daemon thread."""
        if self._httpd is None:
            self._httpd = _Backend(("127.0.0.1", 0), _Handler)
            self._httpd.owner = self
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, args=(0.05,), name="openai-server", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def answer(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """Record one chat request and produce (status, headers, body bytes) for it."""
        with self._lock:
            self.requests.append(body)
            self.request_headers.append(headers)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if self.latency_s:
                time.sleep(self.latency_s)
            try:
                reply = self.responder(body)
            except Exception as error:  # a broken responder becomes a visible 500, not a hung client
                reply = ServerReply(status=500, body={"error": {"message": f"responder failed: {error!r}"}})
            return self._render(body, reply)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _render(self, body: dict[str, Any], reply: Any) -> tuple[int, dict[str, str], bytes]:
        if not isinstance(reply, ServerReply):
            content = reply if isinstance(reply, str) else json.dumps(reply)
            reply = ServerReply(content=content)
        if reply.body is not None:
            payload = reply.body
        elif reply.status >= 400:
            payload = {"error": {"message": f"test server error {reply.status}", "type": "server_error"}}
        else:
            payload = self._completion(body, reply)
        if isinstance(payload, bytes):
            data = payload
        else:
            data = (payload if isinstance(payload, str) else json.dumps(payload)).encode("utf-8")
        return reply.status, {"Content-Type": "application/json", **reply.headers}, data

    def _completion(self, body: dict[str, Any], reply: ServerReply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_calls:
            message["tool_calls"] = reply.tool_calls
        prompt = sum(_approx_tokens(str(m.get("content") or "")) for m in body.get("messages", []))
        completion = _approx_tokens(reply.content or "")
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }


class _Backend(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512
    owner: OpenAIServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Backend

    def log_message(self, format: str, *args: Any) -> None:  # silence per-request stderr lines
        pass

    def do_GET(self) -> None:
        if self.path.rstrip("/") != "/v1/models":
            self._send(404, {}, json.dumps({"error": {"message": f"no route GET {self.path}"}}).encode())
            return
        models = {"object": "list", "data": [{"id": self.server.owner.model, "object": "model"}]}
        self._send(200, {"Content-Type": "application/json"}, json.dumps(models).encode())

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, {}, json.dumps({"error": {"message": f"no route POST {self.path}"}}).encode())
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(400, {}, json.dumps({"error": {"message": "request body is not JSON"}}).encode())
            return
        headers = {key.lower(): value for key, value in self.headers.items()}
        self._send(*self.server.owner.answer(body, headers))

    def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
