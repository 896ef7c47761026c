"""`LocalModel`: the embedded llama.cpp engine (xllamacpp), in-process, no server to install.

The engine loads lazily on first use, serves `slots` requests in parallel (llama.cpp batches them), and
enforces `json_schema` with a grammar. It also listens on 127.0.0.1 so the same weights can be driven over
HTTP (`base_url`). Finding and verifying the weights lives in `agentinstruct.models.weights`.

Replies are streamed from the engine token by token and assembled here, only so that a generation can be
abandoned: a cancelled call (a stopped run, a timeout) and `close()` end it at the next token instead of
waiting out up to `max_tokens` of CPU time.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from agentinstruct.models.base import Model, ModelError, ModelRequest, ModelResponse, Usage
from agentinstruct.models.weights import DEFAULT_LOCAL_MODEL, ensure_weights, lookup_weights

THREADS_ENV = "AGENTINSTRUCT_LOCAL_THREADS"
#: llama.cpp log verbosity: 0 silent, 1 errors only (default), 2 warnings, 3 and up info
VERBOSITY_ENV = "AGENTINSTRUCT_LOCAL_VERBOSITY"
_PROMPT_CACHE_MIB = 1024


def _import_engine() -> Any:
    try:
        import xllamacpp
    except ImportError as error:
        raise ModelError(
            f"the embedded model needs xllamacpp ({error}); run: pip install 'agentinstruct[local]'"
        ) from None
    return xllamacpp


def _int_from_env(variable: str, default: int) -> int:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ModelError(
            f"${variable}={raw!r} is not an integer; set it to a whole number or unset it"
        ) from None


def default_threads() -> int:
    """CPU threads for the engine: $AGENTINSTRUCT_LOCAL_THREADS, else every core."""
    return max(1, _int_from_env(THREADS_ENV, os.cpu_count() or 1))


class LocalModel(Model):
    """A GGUF model run in this process by llama.cpp, with parallel slots and grammar-enforced JSON."""

    enforces_json_schema = True

    def __init__(
        self,
        name: str = DEFAULT_LOCAL_MODEL,
        *,
        slots: int = 4,
        ctx_per_slot: int = 4096,
        threads: int | None = None,
        cache_dir: Path | str | None = None,
    ):
        if slots < 1 or ctx_per_slot < 256:
            raise ModelError(
                f"LocalModel needs slots >= 1 and ctx_per_slot >= 256, got {slots}, {ctx_per_slot}"
            )
        self.weights = lookup_weights(name)
        self.name = name
        self.slots = slots
        self.ctx_per_slot = ctx_per_slot
        self.threads = threads if threads is not None else default_threads()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._server: Any = None
        self._executor: ThreadPoolExecutor | None = None
        self._load_lock = threading.Lock()  # held while loading, which can take minutes
        self._closing = threading.Event()  # set by close(): every generation in flight ends at its next token
        self._pool_lock = threading.Lock()  # held only briefly, so the event loop never waits on a load

    def start(self) -> None:
        """Load the weights and start the engine now (otherwise the first call does it)."""
        self._running_server()

    @property
    def base_url(self) -> str:
        """OpenAI-compatible endpoint of the running engine (`http://127.0.0.1:PORT/v1`); starts it."""
        return self._running_server().listening_address + "/v1"

    def describe(self) -> dict[str, Any]:
        """Name, backend, weights hash, slots and threads."""
        return {
            "name": self.name,
            "backend": "xllamacpp",
            "weights_sha256": self.weights.sha256,
            "slots": self.slots,
            "threads": self.threads,
        }

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Answer one request on a free slot; at most `slots` run at once."""
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        cancel = threading.Event()
        future = loop.run_in_executor(self._slot_pool(), self._complete_blocking, _payload(request), cancel)
        try:
            result = await future
        except asyncio.CancelledError:
            cancel.set()  # the thread cannot be interrupted, but the engine stops at the next token
            raise
        return self._to_response(result, time.perf_counter() - started)

    async def prepare(self) -> None:
        """Assemble the weights and load the engine before a run, so setup errors surface first."""
        await asyncio.to_thread(self.start)

    def close(self) -> None:
        """Stop the engine and free the weights (synchronous form of `aclose`)."""
        self._closing.set()
        with self._pool_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)  # quick: the generations in flight stop at their next token
        with self._load_lock:
            server, self._server = self._server, None
        del server  # the last reference: xllamacpp stops its HTTP thread and frees the model
        self._closing.clear()

    async def aclose(self) -> None:
        """Stop the engine and free the weights."""
        await asyncio.to_thread(self.close)

    def _slot_pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="llama-slot")
            return self._executor

    def _running_server(self) -> Any:
        with self._load_lock:
            if self._server is None:
                self._server = self._load()
            return self._server

    def _load(self) -> Any:
        engine = _import_engine()
        path = ensure_weights(self.name, self.cache_dir)
        params = engine.CommonParams()
        params.model.path = str(path)
        params.model_alias = {self.name}
        params.n_ctx = self.slots * self.ctx_per_slot
        params.n_parallel = self.slots
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.warmup = False
        params.ui = False
        params.cache_ram_mib = _PROMPT_CACHE_MIB
        params.verbosity = _int_from_env(VERBOSITY_ENV, 1)
        try:
            return engine.Server(params)
        except RuntimeError as error:
            raise ModelError(
                f"llama.cpp could not load {path} ({error}); set {VERBOSITY_ENV}=3 to see its log, and "
                f"try fewer slots or a smaller ctx_per_slot if memory is short"
            ) from None

    def _complete_blocking(self, payload: dict[str, Any], cancel: threading.Event) -> dict[str, Any]:
        server = self._running_server()
        # JSON replies are held by a grammar and rightly repeat blocks (the same "sku" parameter in three API
        # specs): they are watched with a window long enough to take in what differs between such blocks
        free_text = not ({"response_format", "grammar"} & set(payload)) and not payload.get("tools")
        reply = StreamedReply(
            loop_window=LOOP_WINDOW if free_text else JSON_LOOP_WINDOW, keep_unparsed=not payload.get("tools")
        )

        def on_chunk(chunk: dict[str, Any]) -> bool:
            reply.add(chunk)
            # True ends the generation
            return reply.failed or reply.looping or cancel.is_set() or self._closing.is_set()

        # timings in every chunk: a generation ended early (a loop, a cancel) gets no usage chunk at the end
        stream = {
            **payload,
            "stream": True,
            "stream_options": {"include_usage": True},
            "timings_per_token": True,
        }
        try:
            server.handle_chat_completions(stream, on_chunk)
        except (ValueError, RuntimeError) as error:  # e.g. a json_schema llama.cpp cannot turn into a grammar
            raise ModelError(
                f"{self.name}: the engine rejected the request ({error}); check the json_schema and messages",
                status=400,
            ) from None
        if cancel.is_set() or self._closing.is_set():
            raise ModelError(f"{self.name}: the generation was abandoned (the call was cancelled)")
        return reply.result()

    def _to_response(self, result: dict[str, Any], duration_s: float) -> ModelResponse:
        """Turn the engine's OpenAI-shaped dict into a `ModelResponse`, raising on errors."""
        if "error" in result:
            raise _engine_error(self.name, result["error"])
        choices = result.get("choices") or []
        message = choices[0].get("message") if choices else None
        if not message:
            raise ModelError(
                f"{self.name}: the engine returned no choices; retrying may help", retryable=True
            )
        usage = result.get("usage") or {}
        return ModelResponse(
            text=message.get("content") or "",
            finish_reason=choices[0].get("finish_reason"),
            usage=Usage(
                prompt_tokens=usage.get("prompt_tokens", 0),
                completion_tokens=usage.get("completion_tokens", 0),
            ),
            model=self.name,
            tool_calls=message.get("tool_calls") or None,
            duration_s=duration_s,
        )


#: a free-text reply whose last LOOP_WINDOW characters already occur LOOP_REPEATS times is caught in a
#: loop; checked every LOOP_CHECK_EVERY characters (prose does not repeat 160 characters word for word twice)
LOOP_WINDOW = 160
#: the window for JSON replies: a 1.5B model under the grammar repeated four sentences of its seed inside
#: one string field for 2048 tokens (332 s); repeated parameter blocks of an API list stay far shorter
JSON_LOOP_WINDOW = 1000
LOOP_REPEATS = 3
LOOP_CHECK_EVERY = 256


#: the start of the engine's error for a finished reply its chat parser could not read
PARSER_REJECTED = "The model produced output that does not match the expected"


class StreamedReply:
    """The engine's streamed chunks assembled into the dict a non-streamed reply would be."""

    def __init__(self, loop_window: int = LOOP_WINDOW, keep_unparsed: bool = False) -> None:
        self.loop_window = loop_window
        #: a reply the engine's chat parser rejects after it was streamed is kept as the text streamed
        self.keep_unparsed = keep_unparsed
        self.content: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] = {}
        #: the engine's running counts (`timings_per_token`): the usage of a reply ended before its last chunk
        self.timings: dict[str, Any] = {}
        self.error: Any = None
        #: set when the text has gone into a loop: the generation is ended with finish_reason "repetition"
        self.looping = False
        self._length = 0
        self._checked = 0

    @property
    def failed(self) -> bool:
        return self.error is not None

    def add(self, chunk: dict[str, Any]) -> None:
        """Fold in one chunk: a content or tool-call delta, the finish reason, the usage or an error."""
        if "error" in chunk:
            self.error = chunk["error"]
            return
        self.usage = chunk.get("usage") or self.usage
        self.timings = chunk.get("timings") or self.timings
        for choice in chunk.get("choices") or []:
            self.finish_reason = choice.get("finish_reason") or self.finish_reason
            delta = choice.get("delta") or {}
            if delta.get("content"):
                self.content.append(delta["content"])
                self._length += len(delta["content"])
                if self._length - self._checked >= LOOP_CHECK_EVERY:
                    self._check_loop()
            for part in delta.get("tool_calls") or []:
                self._add_tool_call(part)

    def _check_loop(self) -> None:
        """Flag a loop: the last `loop_window` characters already stood LOOP_REPEATS times in the text.

        A 1.5B model sometimes repeats one paragraph until the token limit (minutes on a CPU, for a reply
        that is thrown away); ending it at the third repeat saves that time, and the agent asks again.
        """
        self._checked = self._length
        text = "".join(self.content)
        self.content = [text]
        window = self.loop_window
        if len(text) >= window * LOOP_REPEATS and text.count(text[-window:]) >= LOOP_REPEATS:
            self.looping = True
            self.finish_reason = "repetition"

    def _add_tool_call(self, part: dict[str, Any]) -> None:
        """Tool calls arrive in pieces per index: the id and name first, then the arguments in fragments."""
        call = self.tool_calls.setdefault(
            part.get("index", len(self.tool_calls)),
            {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
        )
        call["id"] = part.get("id") or call["id"]
        function = part.get("function") or {}
        call["function"]["name"] += function.get("name") or ""
        call["function"]["arguments"] += function.get("arguments") or ""

    def result(self) -> dict[str, Any]:
        """`{"choices": [{"message", "finish_reason"}], "usage"}`, or `{"error": ...}`."""
        if self.error is not None and not self._unparsed():
            return {"error": self.error}
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.content)}
        if self.tool_calls:
            message["tool_calls"] = [self.tool_calls[index] for index in sorted(self.tool_calls)]
        finish_reason = "repetition" if self.looping else self.finish_reason  # whatever chunk came last
        return {"choices": [{"message": message, "finish_reason": finish_reason}], "usage": self._usage()}

    def _unparsed(self) -> bool:
        """Whether the error is llama.cpp's chat parser rejecting a reply already streamed in full, with no
        tools to parse: the text is then the model's reply, and the agent judges it like any other.

        The engine ends such a reply with "The model produced output that does not match the expected
        peg-native format" (one structured web answer of the local teacher, run s12b). Under a fixed seed
        the same reply comes again, so the three attempts of the call all failed the same way.
        """
        message = str(self.error.get("message", "") if isinstance(self.error, dict) else self.error)
        streamed = any(part.strip() for part in self.content)
        return self.keep_unparsed and streamed and not self.tool_calls and PARSER_REJECTED in message

    def _usage(self) -> dict[str, Any]:
        """The engine's usage; for a reply cut before it came, the counts of the last chunk's timings."""
        if self.usage or not self.timings:
            return self.usage
        return {
            "prompt_tokens": self.timings.get("cache_n", 0) + self.timings.get("prompt_n", 0),
            "completion_tokens": self.timings.get("predicted_n", 0),
        }


#: llama.cpp's DRY ("don't repeat yourself") sampler at its author's recommended settings; on SmolLM2 it
#: turned 3 of 3 looping speeches into 3 that did not loop
DRY_SAMPLING = {"dry_multiplier": 0.8, "dry_base": 1.75, "dry_allowed_length": 2}


def _payload(request: ModelRequest) -> dict[str, Any]:
    """The OpenAI-style request dict the engine takes."""
    payload: dict[str, Any] = {
        "messages": request.messages,
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
    }
    if request.seed is not None:
        payload["seed"] = request.seed
    if request.discourage_repeats:
        # DRY penalises extending a passage that already occurred, not single tokens: a JSON reply's
        # repeated keys, held by the grammar anyway, are not pushed away as a frequency penalty would
        payload |= DRY_SAMPLING
    if request.tools:
        payload["tools"] = request.tools
    if request.json_schema:
        schema = request.json_schema.get("schema", {})
        grammar = _compact_grammar(json.dumps(schema))
        if grammar:
            payload["grammar"] = grammar
        else:
            payload["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": request.json_schema.get("name", "output"), "schema": schema},
            }
    return payload


#: JSON replies are written on one line: under the engine's own grammar, which lets whitespace go anywhere,
#: the local 1.5B model pretty-printed every reply, and written compact the same API definitions took 40%
#: fewer tokens and half the time (334 vs 574 and 430 vs 719 tokens on s31's library_reconstruction prompt,
#: with as many APIs and parameters; its 1,024-token replies had been cut off in 2 of 6 tool_use units)
COMPACT_JSON = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


@functools.lru_cache(maxsize=256)
def _compact_grammar(schema_json: str) -> str | None:
    """The llguidance grammar of a JSON schema, written without layout whitespace; None when the schema
    cannot be read here (the engine then gets it as `response_format` and reports what is wrong)."""
    schema = json.loads(schema_json)
    if not isinstance(schema, dict) or not _schema_types_known(schema):
        return None
    guidance = {**COMPACT_JSON, **(schema.get("x-guidance") or {})}
    try:
        return str(_import_engine().json_schema_to_grammar(json.dumps({**schema, "x-guidance": guidance})))
    except (ValueError, RuntimeError, TypeError):
        return None


_JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})


def _schema_types_known(schema: Any) -> bool:
    """Whether every "type" in the schema is a JSON type (the engine names an unknown one precisely)."""
    if isinstance(schema, list):
        return all(_schema_types_known(item) for item in schema)
    if not isinstance(schema, dict):
        return True
    kinds = schema.get("type", [])
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if any(not isinstance(k, str) or k not in _JSON_TYPES for k in kinds):
        return False
    named = ("properties", "$defs", "definitions", "patternProperties")  # name -> schema, not a schema
    nested = [v for k, v in schema.items() if k not in named and k not in ("enum", "const", "default")]
    nested += [v for k in named if isinstance(schema.get(k), dict) for v in schema[k].values()]
    return all(_schema_types_known(value) for value in nested)


def _engine_error(name: str, error: Any) -> ModelError:
    """A `ModelError` from the engine's {"code", "message", "type"} error object."""
    detail = error if isinstance(error, dict) else {"message": str(error)}
    status = detail.get("code") if isinstance(detail.get("code"), int) else None
    message = str(detail.get("message", detail))
    if "context" in message.lower():
        message += "; shorten the input or raise ctx_per_slot"
    retryable = status is not None and status >= 500
    return ModelError(f"{name}: {message}", retryable=retryable, status=status)
