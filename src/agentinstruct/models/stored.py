"""Middleware every backend goes through: call store (cache + log), adaptive concurrency, retries, accounting.

`StoredModel` wraps any `Model`. A request whose content hash is already in the run's store is answered
from it (so resumed runs never re-send a completed call); otherwise each attempt waits for a permit of
an `AdaptiveLimiter` (the configured concurrency is its ceiling; an `EndpointPoolModel` keeps one
limiter per endpoint instead), calls the backend, and on a retryable error waits (the server's
`Retry-After` when it sent one, else exponential backoff with full jitter) and tries again, up to
`max_attempts`. The middleware owns retrying: it switches off the SDK's own retries
(`Model.disable_internal_retries`). Responses are recorded in the store and their tokens in `CallStats`.
Backends themselves stay free of this logic.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from agentinstruct.models.base import Model, ModelError, ModelRequest, ModelResponse, canonical_key
from agentinstruct.models.limiter import AdaptiveLimiter, Permit
from agentinstruct.store import RunStore

#: retries of a failed call when neither the caller nor the backend says how many
DEFAULT_RETRIES = 2
#: calls whose final outcome `StoredModel.error_rate` looks at
ERROR_RATE_WINDOW = 200


@dataclass
class CallStats:
    """Counters of calls and tokens, overall and per stage (the tag's first two parts)."""

    calls: int = 0
    cached: int = 0
    failed: int = 0
    retries: int = 0
    rate_limited: int = 0
    timeouts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    by_stage: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0})
    )

    def add(self, tag: str, response: ModelResponse) -> None:
        stage = "/".join(tag.split("/")[:2]) or "untagged"
        entry = self.by_stage[stage]
        entry["calls"] += 1
        entry["prompt_tokens"] += response.usage.prompt_tokens
        entry["completion_tokens"] += response.usage.completion_tokens
        self.calls += 1
        self.prompt_tokens += response.usage.prompt_tokens
        self.completion_tokens += response.usage.completion_tokens
        self.seconds += response.duration_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "cached_calls": self.cached,
            "failed_calls": self.failed,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "timeouts": self.timeouts,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "model_seconds": round(self.seconds, 3),
            "by_stage": {k: dict(v) for k, v in sorted(self.by_stage.items())},
        }


class CallObserver(Protocol):
    """Watches the calls the store cannot answer (run control: budgets, offline replay, live counts).

    `before_call` may wait or raise to refuse the call; `after_call` gets the response or the error.
    """

    async def before_call(self, model: StoredModel, request: ModelRequest) -> None: ...

    def after_call(
        self,
        model: StoredModel,
        request: ModelRequest,
        response: ModelResponse | None,
        error: BaseException | None,
    ) -> None: ...


class StoredModel(Model):
    """Wrap a backend with the call store, an adaptive concurrency limit, retries and token accounting.

    `concurrency` is the ceiling of the adaptive limit (per endpoint for an `EndpointPoolModel`);
    `initial_concurrency` where it starts (default `min(concurrency, 8)`). `max_attempts` bounds the
    tries of one call (default: 1 + the backend's `max_retries`, else 3). Without `Retry-After` the
    wait before try n+1 is uniform in [0, min(max_backoff_s, backoff_s * 2**(n-1))]; with it, the
    server's value capped at `max_retry_after_s`, never less. After the last attempt the error is raised
    with the number of attempts in its message.
    """

    def __init__(
        self,
        inner: Model,
        store: RunStore | None,
        *,
        concurrency: int = 8,
        max_attempts: int | None = None,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        max_retry_after_s: float = 120.0,
        initial_concurrency: int | None = None,
    ):
        self.inner = inner
        self.name = inner.name
        self.store = store
        self.stats = CallStats()
        #: failures since the last success: a run stops when every call keeps failing
        self.consecutive_failures = 0
        self.last_error = ""
        if max_attempts is None:
            retries = inner.max_retries if inner.max_retries is not None else DEFAULT_RETRIES
            max_attempts = retries + 1
        self.max_attempts = max(1, max_attempts)
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_retry_after_s = max_retry_after_s
        inner.disable_internal_retries()
        #: None when the backend limits concurrency per endpoint itself (an endpoint pool)
        self.limiter: AdaptiveLimiter | None = None
        if not inner.set_concurrency(concurrency, initial=initial_concurrency):
            self.limiter = AdaptiveLimiter(concurrency, initial=initial_concurrency)
        self._outcomes: deque[bool] = deque(maxlen=ERROR_RATE_WINDOW)
        #: optional hook around every call the store cannot answer (see `CallObserver`)
        self.observer: CallObserver | None = None

    @property
    def enforces_json_schema(self) -> bool:  # type: ignore[override]
        """The backend's own answer, which may change once a server is found to ignore schemas."""
        return self.inner.enforces_json_schema

    @property
    def native_tool_calls(self) -> bool:
        """Whether the backend speaks OpenAI function calling (tool loops ask the wrapper)."""
        return bool(getattr(self.inner, "native_tool_calls", False))

    @property
    def error_rate(self) -> float:
        """Share of the last calls (up to 200, cache hits excluded) that failed after every attempt."""
        return self._outcomes.count(False) / len(self._outcomes) if self._outcomes else 0.0

    def concurrency_status(self) -> dict[str, Any]:
        """Live figures for progress displays: total limit, in flight, queued, and each endpoint's state."""
        if self.limiter is not None:
            snapshot = self.limiter.snapshot()
            endpoint = str(self.inner.describe().get("base_url") or self.inner.name)
            endpoints = [{"endpoint": endpoint, **snapshot, "healthy": True}]
            waiting = snapshot["waiting"]
        else:
            endpoints = self.inner.endpoint_status()  # type: ignore[attr-defined]
            waiting = getattr(self.inner, "waiting", 0)
        return {
            "limit": sum(e["limit"] for e in endpoints),
            "in_flight": sum(e["in_flight"] for e in endpoints),
            "waiting": waiting,
            "endpoints": endpoints,
        }

    async def complete(self, request: ModelRequest) -> ModelResponse:
        canonical = request.canonical(self.inner.name)  # serialised once: the key and the stored request
        key = canonical_key(canonical)
        if self.store is not None:
            hit = self.store.get_call(key)
            if hit is not None:
                self.stats.cached += 1
                self.stats.add(request.tag, hit)
                return hit.model_copy(update={"cached": True, "call_id": key})
        if self.observer is not None:
            await self.observer.before_call(self, request)
        try:
            response = await self._call_with_retries(request)
        except BaseException as error:
            if self.observer is not None:
                self.observer.after_call(self, request, None, error)
            raise
        if self.store is not None:
            self.store.put_call(key, self.inner.name, request, response, request_json=canonical)
        self.stats.add(request.tag, response)
        if self.observer is not None:
            self.observer.after_call(self, request, response, None)
        return response.model_copy(update={"call_id": key})

    def retry_delay(self, attempt: int, error: ModelError) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if error.retry_after is not None:
            wait = min(max(0.0, error.retry_after), self.max_retry_after_s)
            return wait + random.uniform(0, min(1.0, 0.1 * wait))  # spread the herd, never earlier
        return random.uniform(0, min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))

    async def _call_with_retries(self, request: ModelRequest) -> ModelResponse:
        for attempt in range(1, self.max_attempts + 1):
            permit: Permit | None = await self.limiter.acquire() if self.limiter is not None else None
            started = time.monotonic()
            try:
                response = await self.inner.complete(request)
            except ModelError as exc:
                if permit is not None and exc.overloaded:
                    permit.release_overloaded()
                elif permit is not None:
                    permit.release()
                self._count(exc)
                if not exc.retryable or attempt == self.max_attempts:
                    self.stats.failed += 1
                    self.consecutive_failures += 1
                    self._outcomes.append(False)
                    if attempt > 1:
                        final = _with_attempts(exc, attempt)
                        self.last_error = str(final)
                        raise final from exc
                    self.last_error = str(exc)
                    raise
                self.stats.retries += 1
                await asyncio.sleep(self.retry_delay(attempt, exc))
                continue
            except BaseException:
                if permit is not None:
                    permit.release()
                raise
            if permit is not None:
                permit.release_success()
            if not response.duration_s:
                response.duration_s = time.monotonic() - started
            self.consecutive_failures = 0
            self._outcomes.append(True)
            return response
        raise AssertionError("unreachable")

    def _count(self, error: ModelError) -> None:
        if error.status in (429, 503):
            self.stats.rate_limited += 1
        elif error.kind == "timeout":
            self.stats.timeouts += 1

    async def prepare(self) -> None:
        await self.inner.prepare()

    async def aclose(self) -> None:
        await self.inner.aclose()

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()


def _with_attempts(error: ModelError, attempts: int) -> ModelError:
    """The same error, its message saying how many attempts were made."""
    return ModelError(
        f"{error} (gave up after {attempts} attempts)",
        retryable=error.retryable,
        status=error.status,
        retry_after=error.retry_after,
        kind=error.kind,
    )
