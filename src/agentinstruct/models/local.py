"""`LocalModel`: the embedded llama.cpp engine (xllamacpp), in-process, no server to install.

The engine loads lazily on first use, serves `slots` requests in parallel (llama.cpp batches them), and
enforces `json_schema` with a grammar. It also listens on 127.0.0.1 so the same weights can be driven over
HTTP (`base_url`). Finding and verifying the weights lives in `agentinstruct.models.weights`.
"""

from __future__ import annotations

import asyncio
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
        result = await loop.run_in_executor(self._slot_pool(), self._complete_blocking, _payload(request))
        return self._to_response(result, time.perf_counter() - started)

    async def prepare(self) -> None:
        """Assemble the weights and load the engine before a run, so setup errors surface first."""
        await asyncio.to_thread(self.start)

    def close(self) -> None:
        """Stop the engine and free the weights (synchronous form of `aclose`)."""
        with self._pool_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        with self._load_lock:
            server, self._server = self._server, None
        del server  # the last reference: xllamacpp stops its HTTP thread and frees the model

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

    def _complete_blocking(self, payload: dict[str, Any]) -> dict[str, Any]:
        server = self._running_server()
        try:
            return server.handle_chat_completions(payload)
        except (ValueError, RuntimeError) as error:  # e.g. a json_schema llama.cpp cannot turn into a grammar
            raise ModelError(
                f"{self.name}: the engine rejected the request ({error}); check the json_schema and messages",
                status=400,
            ) from None

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


def _payload(request: ModelRequest) -> dict[str, Any]:
    """The OpenAI-style request dict the engine takes."""
    payload: dict[str, Any] = {
        "messages": request.messages,
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
    }
    if request.seed is not None:
        payload["seed"] = request.seed
    if request.tools:
        payload["tools"] = request.tools
    if request.json_schema:
        payload["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": request.json_schema.get("name", "output"),
                "schema": request.json_schema.get("schema", {}),
            },
        }
    return payload


def _engine_error(name: str, error: Any) -> ModelError:
    """A `ModelError` from the engine's {"code", "message", "type"} error object."""
    detail = error if isinstance(error, dict) else {"message": str(error)}
    status = detail.get("code") if isinstance(detail.get("code"), int) else None
    message = str(detail.get("message", detail))
    if "context" in message.lower():
        message += "; shorten the input or raise ctx_per_slot"
    retryable = status is not None and status >= 500
    return ModelError(f"{name}: {message}", retryable=retryable, status=status)
