"""Middleware every backend goes through: call store (cache + log), bounded concurrency, retries, accounting.

`StoredModel` wraps any `Model`. A request whose content hash is already in the run's store is answered
from it (so resumed runs never re-send a completed call); otherwise it waits for a concurrency slot,
calls the backend with bounded retries and backoff on retryable errors, records the response, and adds
its tokens to `CallStats`. Backends themselves stay free of this logic.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from agentinstruct.models.base import Model, ModelError, ModelRequest, ModelResponse
from agentinstruct.store import RunStore


@dataclass
class CallStats:
    """Counters of calls and tokens, overall and per stage (the tag's first two parts)."""

    calls: int = 0
    cached: int = 0
    failed: int = 0
    retries: int = 0
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
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "model_seconds": round(self.seconds, 3),
            "by_stage": {k: dict(v) for k, v in sorted(self.by_stage.items())},
        }


class StoredModel(Model):
    """Wrap a backend with the call store, a concurrency limit, retries and token accounting."""

    def __init__(
        self,
        inner: Model,
        store: RunStore | None,
        *,
        concurrency: int = 8,
        max_attempts: int = 3,
        backoff_s: float = 1.0,
    ):
        self.inner = inner
        self.name = inner.name
        self.store = store
        self.stats = CallStats()
        #: failures since the last success: a run stops when every call keeps failing
        self.consecutive_failures = 0
        self.last_error = ""
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self._slots = asyncio.Semaphore(concurrency)

    @property
    def enforces_json_schema(self) -> bool:  # type: ignore[override]
        """The backend's own answer, which may change once a server is found to ignore schemas."""
        return self.inner.enforces_json_schema

    async def complete(self, request: ModelRequest) -> ModelResponse:
        key = request.key(self.inner.name)
        if self.store is not None:
            hit = self.store.get_call(key)
            if hit is not None:
                self.stats.cached += 1
                self.stats.add(request.tag, hit)
                return hit.model_copy(update={"cached": True, "call_id": key})
        async with self._slots:
            response = await self._call_with_retries(request)
        if self.store is not None:
            self.store.put_call(key, self.inner.name, request, response)
        self.stats.add(request.tag, response)
        return response.model_copy(update={"call_id": key})

    async def _call_with_retries(self, request: ModelRequest) -> ModelResponse:
        for attempt in range(1, self.max_attempts + 1):
            started = time.monotonic()
            try:
                response = await self.inner.complete(request)
            except ModelError as exc:
                if not exc.retryable or attempt == self.max_attempts:
                    self.stats.failed += 1
                    self.consecutive_failures += 1
                    self.last_error = str(exc)
                    raise
                self.stats.retries += 1
                delay = self.backoff_s * 2 ** (attempt - 1)
                await asyncio.sleep(delay * (0.5 + random.random()))
                continue
            if not response.duration_s:
                response.duration_s = time.monotonic() - started
            self.consecutive_failures = 0
            return response
        raise AssertionError("unreachable")

    async def prepare(self) -> None:
        await self.inner.prepare()

    async def aclose(self) -> None:
        await self.inner.aclose()

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()
