"""Run control: the hook every LLM call the store cannot answer passes through (`StoredModel.observer`).

`RunControl` decides whether a call may go out and watches how it ends:

- **offline replay** (`--offline`): no call goes out; a miss raises `OfflineMiss` (the unit stays open
  and is reported), and the run ends with the list of what is missing;
- **ceilings** (`--budget-usd`, `--max-total-tokens`): once what the output directory has spent, plus
  the expected cost of the calls in flight, reaches a ceiling, the run stops;
- **error stops**: too many failures in a row, or an error rate above `max_error_rate` over the last
  `error_rate_window` calls, stop the run;
- **live counts** per stage (calls active, done, failed) and the token ledger, for the progress display
  and run.json.

A stop is clean: new calls wait at the gate forever, the calls in flight finish (their answers go to the
call store), and the pipeline then cancels the units still running, which stay open for a resume.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from agentinstruct.budget import Ledger, stage_of
from agentinstruct.models.base import ModelError, ModelRequest, ModelResponse
from agentinstruct.pairs import Pair, Rejection
from agentinstruct.writers import OutputWriter


class OfflineMiss(ModelError):
    """`--offline` and the call store has no answer for this request.

    A `ModelError`, so the flow records the chain as failed and goes on with the unit's other chains (every
    miss gets listed); the unit is marked (`UnitHandle.missed`) so that the pipeline neither writes its
    rejections nor records it as finished: a later run with the model can still do it.
    """

    def __init__(self, message: str):
        super().__init__(message, retryable=False, kind="offline")


@dataclass
class UnitHandle:
    """The (skill, seed) unit a task is working for; set by the pipeline in `CURRENT_UNIT`."""

    key: str
    missed: bool = False


#: the unit the current task works for (child tasks of a unit inherit it)
CURRENT_UNIT: ContextVar[UnitHandle | None] = ContextVar("agentinstruct_unit", default=None)


@dataclass
class StopReason:
    """Why a run stopped early: a `kind` for scripts and run.json, and a message that names the fix."""

    kind: str  # budget_usd | max_total_tokens | error_rate | consecutive_failures | interrupted
    message: str

    @property
    def is_ceiling(self) -> bool:
        """A limit the user set (the run did what it was allowed to), not a failure."""
        return self.kind in ("budget_usd", "max_total_tokens", "interrupted")


class RunControl:
    """The observer attached to a run's `StoredModel`s (see the module docstring)."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        offline: bool = False,
        budget_usd: float | None = None,
        max_total_tokens: int | None = None,
        max_error_rate: float = 1.0,
        error_rate_window: int = 200,
        max_consecutive_failures: int = 20,
    ):
        self.ledger = ledger
        self.offline = offline
        self.budget_usd = budget_usd
        self.max_total_tokens = max_total_tokens
        self.max_error_rate = max_error_rate
        self.max_consecutive_failures = max_consecutive_failures
        self.stop_reason: StopReason | None = None
        #: how long a stop waits for the calls in flight (None: the pipeline's default)
        self.drain_limit_s: float | None = None
        self.stopping = asyncio.Event()
        self._abandoned = asyncio.Event()
        self._never: asyncio.Future[None] | None = None
        self._outcomes: deque[bool] = deque(maxlen=max(1, error_rate_window))
        self._idle = asyncio.Event()
        self._idle.set()
        #: calls admitted and not finished (including their retries and backoff waits)
        self.in_flight = 0
        self.active: Counter[str] = Counter()  # per stage
        self.failed: Counter[str] = Counter()  # per stage
        self.sent: Counter[str] = Counter()  # per stage: answered calls this run sent
        #: offline misses per "skill/stage", and a few of the missing tags
        self.missing: Counter[str] = Counter()
        self.missing_tags: list[str] = []

    # -- stopping ------------------------------------------------------------------------------------------
    def stop(self, kind: str, message: str) -> None:
        """Stop the run (the first reason wins): no new calls go out from now on."""
        if self.stop_reason is None:
            self.stop_reason = StopReason(kind, message)
        self.stopping.set()

    def abandon(self) -> None:
        """Stop waiting for the calls in flight (a second interrupt)."""
        self._abandoned.set()

    async def drain(self, timeout: float) -> bool:
        """Wait until the calls in flight have finished (True), `timeout` passed or `abandon()` (False)."""
        waits = {asyncio.ensure_future(self._idle.wait()), asyncio.ensure_future(self._abandoned.wait())}
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        return self._idle.is_set()

    async def _hold(self) -> None:
        """Never return: a call that arrives while the run stops waits until its unit is cancelled."""
        if self._never is None:
            self._never = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._never)

    # -- the hook ------------------------------------------------------------------------------------------
    async def before_call(self, model: Any, request: ModelRequest) -> None:
        skill, stage = stage_of(request.tag)
        if self.offline:
            unit = CURRENT_UNIT.get()
            if unit is not None:
                unit.missed = True
            self.missing[f"{skill}/{stage}"] += 1
            if len(self.missing_tags) < 20 and request.tag not in self.missing_tags:
                self.missing_tags.append(request.tag)
            raise OfflineMiss(
                f"--offline: no stored answer for a {request.tag or 'untagged'} call to {model.name}"
            )
        if not self.stopping.is_set():
            self._check_ceilings()
        if self.stopping.is_set():
            await self._hold()
        self.in_flight += 1
        self._idle.clear()
        self.active[stage] += 1

    def after_call(
        self,
        model: Any,
        request: ModelRequest,
        response: ModelResponse | None,
        error: BaseException | None,
    ) -> None:
        _, stage = stage_of(request.tag)
        self.in_flight -= 1
        self.active[stage] -= 1
        if self.in_flight == 0:
            self._idle.set()
        if response is not None:
            self.sent[stage] += 1
            self._outcomes.append(True)
            self.ledger.record(
                model.name, request.tag, response.usage.prompt_tokens, response.usage.completion_tokens
            )
            return
        if not isinstance(error, ModelError):
            return  # cancelled (a stop, an interrupt): not the endpoint's fault
        self.failed[stage] += 1
        self._outcomes.append(False)
        self._check_errors(model)

    # -- checks --------------------------------------------------------------------------------------------
    def _check_ceilings(self) -> None:
        if self.budget_usd is None and self.max_total_tokens is None:
            return
        total = self.ledger.total()
        average = self.ledger.average_call()
        if self.budget_usd is not None:
            committed = self.in_flight * average.cost_usd
            if total.cost_usd + committed >= self.budget_usd:
                self.stop(
                    "budget_usd",
                    f"budget of ${self.budget_usd:g} reached (${total.cost_usd:.4f} spent by this output "
                    f"directory, about ${committed:.4f} more in the calls in flight); everything done is "
                    "kept: re-run with a higher --budget-usd to continue",
                )
        if self.max_total_tokens is not None:
            expected_tokens = total.tokens + self.in_flight * average.tokens
            if expected_tokens >= self.max_total_tokens:
                self.stop(
                    "max_total_tokens",
                    f"token ceiling of {self.max_total_tokens} reached ({total.tokens} tokens spent by this "
                    "output directory); everything done is kept: re-run with a higher --max-total-tokens "
                    "to continue",
                )

    def _check_errors(self, model: Any) -> None:
        if model.consecutive_failures >= self.max_consecutive_failures:
            self.stop(
                "consecutive_failures",
                f"{model.consecutive_failures} model calls in a row failed (last: {model.last_error}); "
                "check that the server is up and --base-url/--model are right, then re-run to resume",
            )
            return
        window = self._outcomes
        if len(window) == window.maxlen and self.max_error_rate < 1.0:
            rate = window.count(False) / len(window)
            if rate > self.max_error_rate:
                self.stop(
                    "error_rate",
                    f"{rate:.0%} of the last {len(window)} model calls failed (above max_error_rate "
                    f"{self.max_error_rate:g}; last: {model.last_error}); fix the server or lower "
                    "--concurrency, then re-run to resume",
                )

    # -- reporting -----------------------------------------------------------------------------------------
    @property
    def error_rate(self) -> float:
        return self._outcomes.count(False) / len(self._outcomes) if self._outcomes else 0.0

    def offline_report(self) -> str:
        """One line naming what `--offline` could not answer."""
        total = sum(self.missing.values())
        stages = ", ".join(f"{name}: {count}" for name, count in self.missing.most_common())
        examples = "; ".join(self.missing_tags[:5])
        return f"{total} calls are not in the call store ({stages}; e.g. {examples})"


class RunSink:
    """The flows' sink: the writer, except that a unit which missed an offline call writes no rejections.

    Such a unit stays open (it is not recorded as finished), so its rejections would be premature: a
    later run with the model redoes it and records what really happens.
    """

    def __init__(self, writer: OutputWriter):
        self.writer = writer

    @property
    def full(self) -> bool:
        return self.writer.full

    def accept(self, pair: Pair) -> bool:
        return self.writer.accept(pair)

    def reject(self, rejection: Rejection) -> None:
        unit = CURRENT_UNIT.get()
        if unit is not None and unit.missed:
            return
        self.writer.reject(rejection)
