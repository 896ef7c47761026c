"""`AdaptiveLimiter`: how many calls one endpoint gets at once, adapted to how it copes (AIMD).

The limit starts low (`min(ceiling, 8)` by default) and grows while the endpoint answers with stable
latency: after each window of successes whose median latency is within `latency_tolerance` (1.5x) of
the best recent window, and only if the limit was actually reached during the window. Until the first
sign of overload the limit doubles per window ("slow start", so a fleet that can take 256 calls gets
there in a few round trips); afterwards it grows by one per window. An overload signal (429, 503 or a
timeout) halves the limit, never below 1, once per congestion event: calls that were already in flight
when the limit was cut do not cut it again. The configured concurrency is the ceiling.

Calls take a `Permit` (`await limiter.acquire()`) and give it back with the outcome
(`release_success()`, `release_overloaded()` or a neutral `release()`). Waiters are served first come,
first served; a shrinking limit simply stops waking them until enough permits come back, a growing one
wakes them at once, and a waiter cancelled at any point gives back a permit it was handed. Everything
runs on one event loop: no locks, no lost wake-ups.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from typing import Any

DEFAULT_INITIAL_LIMIT = 8


class Permit:
    """One granted slot; release it exactly once (later calls are ignored)."""

    __slots__ = ("_limiter", "epoch", "released", "started")

    def __init__(self, limiter: AdaptiveLimiter, started: float, epoch: int):
        self._limiter = limiter
        self.started = started
        self.epoch = epoch
        self.released = False

    def release_success(self) -> None:
        """The call succeeded: its latency feeds the growth decision."""
        self._give_back("success")

    def release_overloaded(self) -> None:
        """The call hit 429/503/a timeout: the limit is halved (once per congestion event)."""
        self._give_back("overload")

    def release(self) -> None:
        """Give the slot back without a verdict (other errors, cancellation)."""
        self._give_back("neutral")

    def _give_back(self, outcome: str) -> None:
        if not self.released:
            self.released = True
            self._limiter._release(self, outcome)


class AdaptiveLimiter:
    """An asyncio concurrency limit between 1 and `ceiling` that adapts to latency and overload."""

    def __init__(
        self,
        ceiling: int,
        *,
        initial: int | None = None,
        latency_tolerance: float = 1.5,
        min_window: int = 4,
        history: int = 8,
        slow_start: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ):
        if ceiling < 1:
            raise ValueError(f"the concurrency ceiling must be at least 1, not {ceiling}")
        self.ceiling = ceiling
        self.limit = max(1, min(ceiling, initial if initial is not None else DEFAULT_INITIAL_LIMIT))
        self.in_flight = 0
        self.latency_tolerance = latency_tolerance
        self.min_window = max(1, min_window)
        self.slow_start = slow_start
        self.increases = 0
        self.decreases = 0
        self._clock = clock
        self._waiters: deque[asyncio.Future[Permit]] = deque()
        self._samples: list[float] = []
        self._window_medians: deque[float] = deque(maxlen=max(1, history))
        self._saturated = False
        self._epoch = 0
        self._listeners: list[Callable[[], None]] = []

    # -- state ---------------------------------------------------------------------------------------
    @property
    def waiting(self) -> int:
        """Callers queued for a permit."""
        return sum(1 for waiter in self._waiters if not waiter.done())

    @property
    def best_latency(self) -> float | None:
        """The lowest median latency among recent windows (the growth reference)."""
        return min(self._window_medians, default=None)

    def has_capacity(self) -> bool:
        """Whether `try_acquire()` would succeed now."""
        return self.in_flight < self.limit and not self.waiting

    def snapshot(self) -> dict[str, Any]:
        """Figures for progress displays and run summaries."""
        return {
            "limit": self.limit,
            "ceiling": self.ceiling,
            "in_flight": self.in_flight,
            "waiting": self.waiting,
            "increases": self.increases,
            "decreases": self.decreases,
        }

    def set_ceiling(self, ceiling: int, *, initial: int | None = None) -> None:
        """Change the ceiling (and, when given, the current limit), waking waiters if room appeared."""
        if ceiling < 1:
            raise ValueError(f"the concurrency ceiling must be at least 1, not {ceiling}")
        self.ceiling = ceiling
        limit = initial if initial is not None else self.limit
        self.limit = max(1, min(ceiling, limit))
        self._wake()

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener()` whenever permits are free and nobody waits here (used by endpoint pools)."""
        self._listeners.append(listener)

    # -- acquiring -----------------------------------------------------------------------------------
    def try_acquire(self) -> Permit | None:
        """A permit if one is free and nobody is queued ahead, else None; never waits."""
        if self.in_flight < self.limit and not self.waiting:
            return self._grant()
        return None

    async def acquire(self) -> Permit:
        """Wait for a permit (first come, first served)."""
        permit = self.try_acquire()
        if permit is not None:
            return permit
        self._saturated = True  # demand exceeds the limit: the window tests it
        waiter: asyncio.Future[Permit] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                waiter.result().release()  # granted just as the caller was cancelled: pass it on
            else:
                with suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def _grant(self) -> Permit:
        self.in_flight += 1
        if self.in_flight >= self.limit:
            self._saturated = True
        return Permit(self, self._clock(), self._epoch)

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(self._grant())
        if self.in_flight < self.limit and not self._waiters:
            for listener in list(self._listeners):
                listener()

    # -- adapting ------------------------------------------------------------------------------------
    def _release(self, permit: Permit, outcome: str) -> None:
        self.in_flight -= 1
        if outcome == "overload":
            self._on_overload(permit)
        elif outcome == "success":
            self._on_success(self._clock() - permit.started)
        self._wake()

    def _on_overload(self, permit: Permit) -> None:
        if permit.epoch < self._epoch:
            return  # sent before the last cut: part of the congestion event already answered
        if self.limit > 1:
            self.limit //= 2
            self.decreases += 1
        self.slow_start = False
        self._epoch += 1
        self._samples.clear()
        self._saturated = False

    def _on_success(self, latency: float) -> None:
        self._samples.append(latency)
        if len(self._samples) < max(self.min_window, self.limit):
            return
        median = statistics.median(self._samples)
        self._window_medians.append(median)
        stable = median <= self.latency_tolerance * min(self._window_medians)
        if self._saturated and self.limit < self.ceiling:
            if stable:
                grown = self.limit * 2 if self.slow_start else self.limit + 1
                self.limit = min(self.ceiling, grown)
                self.increases += 1
            else:
                self.slow_start = False  # latency rose with load: from now on probe one at a time
        self._samples.clear()
        self._saturated = self.in_flight >= self.limit
