"""A real, tiny OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks.

`OpenAIServer` speaks `POST /v1/chat/completions` and `GET /v1/models` over a real socket, so clients are
exercised end to end (HTTP, JSON, headers, retries). What it answers is decided by a `responder` callable;
`example_for_schema` builds a minimal JSON value valid for a JSON schema. No model runs here.

A `FaultPlan` makes it misbehave like a real fleet: 429 with Retry-After, 500, 503, dropped
connections, hangs past the client's timeout, malformed JSON and truncated answers (finish_reason
"length"), on an explicit per-request schedule and/or at seeded random rates. `stop()` also cuts open
connections, as a crashing server would.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import random
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], Any]
_MAX_SCHEMA_DEPTH = 12

#: the faults a `FaultPlan` can inject, in the order random rates are laid out
FAULTS = ("rate_limit", "server_error", "unavailable", "drop", "hang", "malformed", "truncate")
_MALFORMED_BODY = b'{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{"index": 0, "mess'


@dataclass
class FaultPlan:
    """Which chat requests misbehave, and how; deterministic for a given seed.

    Faults: "rate_limit" (429 with `Retry-After: retry_after_s`), "server_error" (500), "unavailable"
    (503 with Retry-After), "drop" (the connection is closed without an answer), "hang" (no answer for
    `hang_s`, then the connection is closed; set it above the client timeout), "malformed" (a 200 whose
    body is cut-off JSON), "truncate" (a normal completion cut to `truncate_chars` characters with
    finish_reason "length").

    `schedule` fixes the fault of the first requests by arrival order (None: answer normally). Later
    requests fail at `rates` ({fault: probability}), drawn from a generator seeded with `seed`, the
    request body and how many times that same body was sent before, so the outcome of a request and of
    each of its retries does not depend on the order concurrent requests arrive in.
    """

    rates: dict[str, float] = field(default_factory=dict)
    schedule: Sequence[str | None] = ()
    seed: int = 0
    retry_after_s: float | None = 1.0
    hang_s: float = 30.0
    truncate_chars: int = 12

    def __post_init__(self) -> None:
        unknown = sorted({*self.rates, *(f for f in self.schedule if f is not None)} - set(FAULTS))
        if unknown:
            raise ValueError(f"unknown fault(s) {unknown}; known: {', '.join(FAULTS)}")
        if any(rate < 0 for rate in self.rates.values()) or sum(self.rates.values()) > 1:
            raise ValueError("fault rates must be >= 0 and add up to at most 1")

    @classmethod
    def uniform(cls, rate: float, *, seed: int = 0, **options: Any) -> FaultPlan:
        """Every fault at the same rate, `rate` in total (e.g. 0.3: 30% of requests misbehave).

        Hangs are among them: give the client a timeout well below `hang_s`.
        """
        return cls(rates={fault: rate / len(FAULTS) for fault in FAULTS}, seed=seed, **options)

    def choose(self, index: int, body_digest: str, occurrence: int) -> str | None:
        """The fault for request number `index` (0-based) whose body was already seen `occurrence` times."""
        if index < len(self.schedule):
            return self.schedule[index]
        if not self.rates:
            return None
        draw = random.Random(f"{self.seed}:{body_digest}:{occurrence}").random()
        for fault in FAULTS:
            rate = self.rates.get(fault, 0.0)
            if draw < rate:
                return fault
            draw -= rate
        return None


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
    """A small JSON value valid for `schema` (strings "x x x", numbers 0, booleans true, every property)."""
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
        # a few words, not one letter: agents reject a one-word task as a fragment
        text = "x x x"
        return text + " x" * max(0, (int(schema.get("minLength", 1)) - len(text) + 1) // 2)
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
        self,
        responder: Responder | None = None,
        *,
        model: str = "test-model",
        latency_s: float = 0.0,
        faults: FaultPlan | None = None,
    ):
        self.responder: Responder = responder or default_responder
        self.model = model
        self.latency_s = latency_s
        self.faults = faults
        self.requests: list[dict[str, Any]] = []
        self.request_headers: list[dict[str, str]] = []
        #: monotonic arrival time of each chat request (same order as `requests`)
        self.arrivals: list[float] = []
        #: the fault injected into each chat request, None for a normal answer (same order as `requests`)
        self.fault_log: list[str | None] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _Backend | None = None
        self._thread: threading.Thread | None = None

    @property
    def request_count(self) -> int:
        """How many chat-completion requests arrived."""
        return len(self.requests)

    @property
    def in_flight(self) -> int:
        """Chat requests being answered right now (hung ones included)."""
        return self._in_flight

    @property
    def faults_injected(self) -> Counter[str]:
        """How many times each fault was injected."""
        return Counter(fault for fault in self.fault_log if fault is not None)

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
            self._stopping.clear()
            self._httpd = _Backend(("127.0.0.1", 0), _Handler)
            self._httpd.owner = self
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, args=(0.05,), name="openai-server", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections (ending hangs at once) and release the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._stopping.set()
            with self._lock:
                connections = list(self._connections)
            for connection in connections:
                _cut(connection)
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def answer(
        self, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes] | None:
        """Record one chat request; answer (status, headers, body bytes), or None to drop the connection."""
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()
        with self._lock:
            index = len(self.requests)
            self.requests.append(body)
            self.request_headers.append(headers)
            self.arrivals.append(time.monotonic())
            fault = self.faults.choose(index, digest, self._seen[digest]) if self.faults else None
            self._seen[digest] += 1
            self.fault_log.append(fault)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if fault is not None and fault != "truncate":
                return self._fault(fault)
            if self.latency_s:
                self._stopping.wait(self.latency_s)
            try:
                reply = self.responder(body)
            except Exception as error:  # a broken responder becomes a visible 500, not a hung client
                reply = ServerReply(status=500, body={"error": {"message": f"responder failed: {error!r}"}})
            if fault == "truncate":
                reply = self._truncated(reply)
            return self._render(body, reply)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _fault(self, fault: str) -> tuple[int, dict[str, str], bytes] | None:
        """The answer (or None: drop the connection) for an injected fault other than truncation."""
        assert self.faults is not None
        plan = self.faults
        retry_after = {} if plan.retry_after_s is None else {"Retry-After": f"{plan.retry_after_s:g}"}
        errors = {
            "rate_limit": (429, retry_after, "rate limit exceeded (injected)"),
            "unavailable": (503, retry_after, "service unavailable (injected)"),
            "server_error": (500, {}, "internal server error (injected)"),
        }
        if fault in errors:
            status, extra, message = errors[fault]
            data = json.dumps({"error": {"message": message, "type": "server_error"}}).encode("utf-8")
            return status, {"Content-Type": "application/json", **extra}, data
        if self.latency_s:
            self._stopping.wait(self.latency_s)
        if fault == "hang":
            self._stopping.wait(plan.hang_s)
            return None
        if fault == "malformed":
            return 200, {"Content-Type": "application/json"}, _MALFORMED_BODY
        return None  # "drop"

    def _truncated(self, reply: Any) -> Any:
        """The reply cut short as a model that hit max_tokens would leave it."""
        if isinstance(reply, ServerReply):
            if reply.body is not None or reply.status >= 400 or reply.content is None:
                return reply
            content = reply.content
        else:
            content = reply if isinstance(reply, str) else json.dumps(reply)
        assert self.faults is not None
        return ServerReply(content=content[: self.faults.truncate_chars], finish_reason="length")

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


def _cut(connection: socket.socket) -> None:
    """Close a connection from the server side without an answer (the client sees it dropped)."""
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


class _Backend(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512
    owner: OpenAIServer

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.owner._lock:
            self.owner._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.owner._lock:
            self.owner._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that gave up (timeouts) or connections cut by `stop()` are expected, not errors."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, OSError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and the client's
    #: delayed ACK add ~40 ms to every keep-alive answer
    disable_nagle_algorithm = True
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
        answer = self.server.owner.answer(body, headers)
        if answer is None:  # an injected drop or hang: no answer at all
            self.close_connection = True
            _cut(self.connection)
            return
        self._send(*answer)

    def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
