"""`EndpointPoolModel`: one model served by several endpoints (e.g. a vLLM fleet), balanced by load.

Each endpoint is a backend (normally an `OpenAIModel` per base URL) with its own `AdaptiveLimiter`. A
call goes to the healthy endpoint with the lowest load (calls in flight relative to its current limit);
when every endpoint is at its limit the call waits, first come first served, for whichever frees first.
An endpoint that cannot be reached (connection refused, connect timeout) or drops `drop_threshold`
connections in a row is set aside for `cooldown_s` and the others take its share; when every endpoint is
set aside they are all tried again, so errors surface instead of hanging. Retries are not done here: the
middleware (`StoredModel`) retries a failed call, and the retry is balanced again, so it lands on another
endpoint. Call-store keys use the model name, never the endpoint, so any endpoint can answer any call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

from agentinstruct.models.base import Model, ModelError, ModelRequest, ModelResponse
from agentinstruct.models.limiter import DEFAULT_INITIAL_LIMIT, AdaptiveLimiter, Permit

logger = logging.getLogger(__name__)


class Endpoint:
    """One backend of a pool, its limiter and its health."""

    def __init__(self, backend: Model, limiter: AdaptiveLimiter):
        self.backend = backend
        self.limiter = limiter
        self.label = str(backend.describe().get("base_url") or backend.name)
        self.unhealthy_until = 0.0
        self.consecutive_drops = 0
        self.calls = 0
        self.failures = 0

    def healthy(self, now: float) -> bool:
        return now >= self.unhealthy_until

    def load(self) -> float:
        return self.limiter.in_flight / self.limiter.limit


class EndpointPoolModel(Model):
    """Balance one model over several backends by load, each with an adaptive limit and a health state."""

    def __init__(
        self,
        backends: Sequence[Model],
        *,
        name: str | None = None,
        ceiling: int = 8,
        initial: int | None = None,
        cooldown_s: float = 30.0,
        drop_threshold: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not backends:
            raise ValueError("an endpoint pool needs at least one backend")
        self.backends = list(backends)
        self.name = name or self.backends[0].name
        self.max_retries = self.backends[0].max_retries
        self.cooldown_s = cooldown_s
        self.drop_threshold = max(1, drop_threshold)
        self._clock = clock
        self.endpoints = [
            Endpoint(backend, AdaptiveLimiter(ceiling, initial=initial, clock=clock)) for backend in backends
        ]
        for endpoint in self.endpoints:
            endpoint.limiter.add_listener(self._dispatch)
        self._waiters: deque[asyncio.Future[tuple[Endpoint, Permit]]] = deque()
        self._turn = 0

    @property
    def enforces_json_schema(self) -> bool:  # type: ignore[override]
        """True only while every endpoint enforces schemas (each adapts on its own when rejected)."""
        return all(backend.enforces_json_schema for backend in self.backends)

    @property
    def native_tool_calls(self) -> bool:
        """True only when every endpoint speaks OpenAI function calling."""
        return all(getattr(backend, "native_tool_calls", False) for backend in self.backends)

    def disable_internal_retries(self) -> None:
        for backend in self.backends:
            backend.disable_internal_retries()

    def set_concurrency(self, ceiling: int, *, initial: int | None = None) -> bool:
        """Each endpoint gets `ceiling` as its own ceiling; the pool limits calls itself."""
        start = initial if initial is not None else min(ceiling, DEFAULT_INITIAL_LIMIT)
        for endpoint in self.endpoints:
            endpoint.limiter.set_ceiling(ceiling, initial=start)
        return True

    # -- calls ---------------------------------------------------------------------------------------
    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Send the request to the least-loaded healthy endpoint (waiting for room if all are full)."""
        endpoint, permit = await self._acquire()
        endpoint.calls += 1
        try:
            response = await endpoint.backend.complete(request)
        except ModelError as error:
            endpoint.failures += 1
            self._note_failure(endpoint, error)
            if error.overloaded:
                permit.release_overloaded()
            else:
                permit.release()
            raise
        except BaseException:
            permit.release()
            raise
        endpoint.consecutive_drops = 0
        permit.release_success()
        return response

    def _note_failure(self, endpoint: Endpoint, error: ModelError) -> None:
        if error.kind == "connection":
            endpoint.consecutive_drops += 1
        if error.kind == "connect" or endpoint.consecutive_drops >= self.drop_threshold:
            if endpoint.healthy(self._clock()):
                logger.warning(
                    "%s: setting %s aside for %gs (%s)", self.name, endpoint.label, self.cooldown_s, error
                )
            endpoint.unhealthy_until = self._clock() + self.cooldown_s
            endpoint.consecutive_drops = 0

    async def _acquire(self) -> tuple[Endpoint, Permit]:
        if not self._pending():
            chosen = self._pick()
            if chosen is not None:
                permit = chosen.limiter.try_acquire()
                if permit is not None:
                    return chosen, permit
        waiter: asyncio.Future[tuple[Endpoint, Permit]] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                waiter.result()[1].release()  # handed a permit just as the caller was cancelled
            else:
                with suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    @property
    def waiting(self) -> int:
        """Callers queued because every endpoint is at its limit."""
        return sum(1 for waiter in self._waiters if not waiter.done())

    def _pending(self) -> bool:
        return any(not waiter.done() for waiter in self._waiters)

    def _pick(self) -> Endpoint | None:
        """The least-loaded endpoint with a free permit, among healthy ones (all, if none is healthy)."""
        now = self._clock()
        candidates = [e for e in self.endpoints if e.healthy(now)] or self.endpoints
        count = len(self.endpoints)
        best: Endpoint | None = None
        best_rank: tuple[float, int, int] | None = None
        for endpoint in candidates:
            if not endpoint.limiter.has_capacity():
                continue
            # ties go round-robin, so equal endpoints share calls evenly
            order = (self.endpoints.index(endpoint) - self._turn) % count
            rank = (endpoint.load(), endpoint.limiter.in_flight, order)
            if best_rank is None or rank < best_rank:
                best, best_rank = endpoint, rank
        if best is not None:
            self._turn = (self.endpoints.index(best) + 1) % count
        return best

    def _dispatch(self) -> None:
        """Hand free permits to queued callers (a limiter calls this whenever it has room)."""
        while self._waiters:
            if self._waiters[0].done():  # cancelled while queued
                self._waiters.popleft()
                continue
            endpoint = self._pick()
            if endpoint is None:
                return
            permit = endpoint.limiter.try_acquire()
            if permit is None:
                return
            self._waiters.popleft().set_result((endpoint, permit))

    # -- lifecycle and display -----------------------------------------------------------------------
    async def prepare(self) -> None:
        """Check every endpoint; unreachable ones are set aside, and it fails only when none answers."""
        results = await asyncio.gather(
            *(endpoint.backend.prepare() for endpoint in self.endpoints), return_exceptions=True
        )
        errors = [result for result in results if isinstance(result, BaseException)]
        for endpoint, result in zip(self.endpoints, results, strict=True):
            if isinstance(result, ModelError):
                self._note_failure(endpoint, result)
        if len(errors) == len(self.endpoints):
            raise errors[0]
        for error in errors:
            if not isinstance(error, ModelError):
                raise error

    async def aclose(self) -> None:
        for backend in self.backends:
            await backend.aclose()

    def describe(self) -> dict[str, Any]:
        first = self.backends[0].describe()
        return {
            "name": self.name,
            "backend": first.get("backend", "pool"),
            "base_url": ",".join(endpoint.label for endpoint in self.endpoints),
            "endpoints": [endpoint.label for endpoint in self.endpoints],
        }

    def endpoint_status(self) -> list[dict[str, Any]]:
        """Per endpoint: limit, ceiling, in flight, health and call counts (for progress displays).

        Calls queued for the pool as a whole are in `waiting` (the endpoints' own `waiting` stays 0).
        """
        now = self._clock()
        return [
            {
                "endpoint": endpoint.label,
                **endpoint.limiter.snapshot(),
                "healthy": endpoint.healthy(now),
                "calls": endpoint.calls,
                "failures": endpoint.failures,
            }
            for endpoint in self.endpoints
        ]
