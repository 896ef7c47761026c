"""Running a generation job: documents in, pairs out, with resumable state.

`run()` is the synchronous entry point used by the CLI and by library users; inside, one asyncio loop
streams seeds from the documents (never holding the corpus in memory), feeds (skill, seed) units through
a bounded queue to a pool of workers, and lets `StoredModel` bound the number of LLM calls in flight.
Finished units are recorded in the run store so a re-run of the same command resumes. The flow for a
single unit is `agentinstruct.flows`; the output files are `agentinstruct.writers`.

Crash safety: every LLM answer is committed to the call store as it arrives; pairs and rejections are
appended with one flushed write each; a unit is recorded as finished only after its lines are on disk
(`OutputWriter.durable`). A killed run therefore resumes with nothing lost, nothing written twice, and
no completed call sent again (a re-run unit is answered from the call store and its pairs deduplicated).

Run control (`agentinstruct.control`): budget and token ceilings, error-rate and consecutive-failure
stops, SIGINT/SIGTERM and `--offline` replay all end the run the same clean way: no new call goes out,
the calls in flight finish, and the units still running are cancelled and stay open for a resume.
Sharding (`agentinstruct.sharding`): with `shard="r/w"` only the documents that shard owns run, into
`OUT/shards/r-of-w/`. `--dry-run` is `agentinstruct.dryrun`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentinstruct.budget import Ledger
from agentinstruct.config import RunConfig
from agentinstruct.control import CURRENT_UNIT, RunControl, RunSink, UnitHandle
from agentinstruct.documents import Seed
from agentinstruct.flows import SkillFlow, flow_class
from agentinstruct.gc_tuning import quieter_collector
from agentinstruct.models import Model, split_base_urls
from agentinstruct.models.stored import StoredModel
from agentinstruct.pairs import Rejection
from agentinstruct.planning import Planner
from agentinstruct.progress import RunMonitor
from agentinstruct.quality.gate import QualityGate
from agentinstruct.run_setup import (
    RunError,
    RunModels,
    build_gate,
    build_run_resources,
    check_prices,
    check_resume,
    flow_settings,
    open_models,
    seed_stream,
)
from agentinstruct.run_summary import RunCounters, run_summary
from agentinstruct.sharding import Shard, ShardError, check_layout
from agentinstruct.skills import Skill, load_skills, select_skills, taxonomy_hash
from agentinstruct.store import RunStore
from agentinstruct.writers import OutputWriter, write_json_atomic

#: default of `RunConfig.max_consecutive_failures`: a run stops when this many model calls in a row failed
MAX_CONSECUTIVE_FAILURES = 20
#: seconds a stop caused by SIGINT/SIGTERM waits for the calls in flight (a second signal stops waiting)
INTERRUPT_DRAIN_S = 10.0
#: seconds between run.json checkpoints while a run goes on
CHECKPOINT_INTERVAL_S = 30.0


logger = logging.getLogger(__name__)


# -- entry points ------------------------------------------------------------------------------------------


def run(config: RunConfig, *, model: Model | None = None, teacher: Model | None = None) -> dict[str, Any]:
    """Run a generation job (or, with `config.dry_run`, estimate one) and return the run.json contents."""
    if config.dry_run:
        from agentinstruct.dryrun import dry_run

        return asyncio.run(dry_run(config, model=model, teacher=teacher))
    return asyncio.run(run_async(config, model=model, teacher=teacher))


def part_directory(config: RunConfig) -> Path:
    """Where this run (or shard) writes: OUT, or OUT/shards/RANK-of-WORLD."""
    return Shard.parse(config.shard).directory(config.out) if config.shard else Path(config.out)


async def run_async(
    config: RunConfig,
    *,
    model: Model | None = None,
    teacher: Model | None = None,
    directory: Path | None = None,
    only_units: set[str] | None = None,
) -> dict[str, Any]:
    """The asynchronous body of `run()`; usable from code that already has an event loop.

    `directory` overrides where the output goes (default: `part_directory(config)`); `only_units`
    restricts the run to these unit keys (a dry run's sample).
    """
    skills = select_skills(load_skills(config.skills_dirs), config.skills, config.skill_weights)
    taxonomy = taxonomy_hash(skills)
    shard = Shard.parse(config.shard) if config.shard else None
    if directory is None:
        try:
            check_layout(config.out, shard)
        except ShardError as error:
            raise RunError(str(error)) from None
        directory = part_directory(config)
    directory.mkdir(parents=True, exist_ok=True)
    # closed in reverse order on any exit; a refused resume leaves the previous run.json as it was
    async with contextlib.AsyncExitStack() as stack:
        store = stack.enter_context(contextlib.closing(RunStore(directory / "state.sqlite")))
        check_resume(store, config, taxonomy, directory)
        writer = stack.enter_context(contextlib.closing(OutputWriter(directory, max_pairs=config.max_pairs)))
        run_models = await open_models(config, store, model=model, teacher=teacher)
        stack.push_async_callback(run_models.aclose)
        ledger = Ledger.from_store(store, config.prices)
        check_prices(config, ledger, run_models.all)
        gate = build_gate(config, directory, RunSink(writer), run_models.judge)
        job = _Job(
            config, taxonomy, directory, shard, store, writer, run_models, gate, _run_control(config, ledger)
        )
        return await job.execute(skills, only_units)


def _run_control(config: RunConfig, ledger: Ledger) -> RunControl:
    """The run's ceilings and stop conditions, from its config."""
    return RunControl(
        ledger,
        offline=config.offline,
        budget_usd=config.budget_usd,
        max_total_tokens=config.max_total_tokens,
        max_error_rate=config.max_error_rate,
        error_rate_window=config.error_rate_window,
        max_consecutive_failures=config.max_consecutive_failures,
    )


@dataclass
class _Job:
    """One run with its resources open: schedules the units and keeps run.json up to date."""

    config: RunConfig
    taxonomy: str
    directory: Path
    shard: Shard | None
    store: RunStore
    writer: OutputWriter
    run_models: RunModels
    gate: QualityGate
    control: RunControl
    counters: RunCounters = field(default_factory=RunCounters)
    started: float = field(default_factory=time.time)
    state: dict[str, Any] = field(default_factory=lambda: {"status": "running", "error": None})
    queue_size: list[Callable[[], int]] = field(default_factory=lambda: [lambda: 0])

    def summary(self) -> dict[str, Any]:
        """The run.json contents as of now."""
        models = self.run_models.all
        return run_summary(
            self.config,
            self.taxonomy,
            self.counters,
            self.writer,
            models,
            self.control,
            self.started,
            self.state,
            self.gate.counters(),
        )

    def checkpoint(self) -> None:
        write_json_atomic(self.directory / "run.json", self.summary(), fsync=False)

    async def execute(self, skills: list[Skill], only_units: set[str] | None) -> dict[str, Any]:
        """Prepare the models and tools, run every unit, and return the final run.json contents."""
        config, models = self.config, self.run_models.all
        for stored_model in models:
            stored_model.observer = self.control
        try:
            self.checkpoint()
            if not config.offline:  # offline never contacts a server nor loads weights
                for stored_model in models:
                    await stored_model.prepare()
            resources, skills = await build_run_resources(config, skills, self.store, self.directory)
            settings = flow_settings(config)
            generator, teacher = self.run_models.generator, self.run_models.teacher
            flows = {
                s.name: flow_class(s.flow)(s, generator, self.gate, settings, teacher, resources)
                for s in skills
            }
            planner = Planner(skills, self.shard, only_units, settings)
            with self._monitor(), _stop_on_signals(self.control), quieter_collector():
                await _schedule(self, planner, flows)
            self.state["status"] = _final_status(self.control, self.writer, models, self.counters)
        except BaseException as exc:
            if self.state["status"] in ("running", "finished", "finished_max_pairs"):
                self.state["status"] = "failed"
            self.state["error"] = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            final = self.summary()
            write_json_atomic(self.directory / "run.json", final)
        return final

    def _monitor(self) -> RunMonitor:
        return RunMonitor(
            self.counters,
            self.writer,
            self.run_models.all,
            control=self.control,
            queue_size=lambda: self.queue_size[0](),
            enabled=self.config.progress,
            interval_s=self.config.progress_interval_s,
            checkpoint=self.checkpoint,
            checkpoint_s=CHECKPOINT_INTERVAL_S,
            title=f"{self.directory}" + (f" (shard {self.shard})" if self.shard else ""),
        )


def _final_status(
    control: RunControl, writer: OutputWriter, models: list[StoredModel], counters: RunCounters
) -> str:
    """The status of a run whose scheduler returned; raises `RunError` when it ended in failure."""
    reason = control.stop_reason
    if reason is not None:
        if reason.is_ceiling:
            return "stopped"
        raise RunError(reason.message)
    if control.missing:
        raise RunError(
            f"--offline: {control.offline_report()}; {counters.units_offline_missing} units could not be "
            "replayed and stay open: re-run without --offline to make these calls, or check that --model "
            "and the settings match the run that filled the call store"
        )
    for model in models:
        if model.stats.failed and not model.stats.calls and not model.stats.cached:
            raise RunError(
                f"all {model.stats.failed} model calls failed (last: {model.last_error}); "
                "check that the server is up "
                "and --base-url/--model are right, then re-run to resume"
            )
    return "finished" if not writer.full else "finished_max_pairs"


@contextlib.contextmanager
def _stop_on_signals(control: RunControl) -> Iterator[None]:
    """SIGINT/SIGTERM stop the run cleanly (a second one stops waiting for the calls in flight)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        yield
        return
    installed: list[signal.Signals] = []

    def handle(name: str) -> None:
        if control.stopping.is_set():
            control.abandon()
            return
        control.drain_limit_s = INTERRUPT_DRAIN_S
        control.stop(
            "interrupted",
            f"interrupted by {name}; everything done is kept: re-run the same command to resume",
        )

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, handle, sig.name)
        except (NotImplementedError, RuntimeError, ValueError):
            continue  # not the main thread, or not supported here: default handling
        installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


# -- scheduling --------------------------------------------------------------------------------------------


async def _schedule(job: _Job, planner: Planner, flows: dict[str, SkillFlow]) -> None:
    """Feed units to the workers until the input is exhausted or the run stops; a stop is clean."""
    config, writer, store, control, counters = job.config, job.writer, job.store, job.control, job.counters
    endpoints = max(1, len(split_base_urls(config.base_url)))  # each endpoint takes `concurrency` calls
    worker_count = config.concurrency * endpoints
    queue: asyncio.Queue[tuple[Skill, Seed, int, str] | None] = asyncio.Queue(maxsize=worker_count * 2)
    job.queue_size[0] = queue.qsize

    async def worker() -> None:
        while (unit := await queue.get()) is not None:
            skill, seed, ordinal, key = unit
            if writer.full or control.stopping.is_set():
                continue
            await _run_unit(flows[skill.name], seed, ordinal, key, writer, store, counters)

    async def main() -> None:
        workers = [asyncio.create_task(worker()) for _ in range(worker_count)]
        try:
            await _produce(config, planner, queue, writer, store, counters)
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    main_task = asyncio.create_task(main())
    stop_task = asyncio.create_task(control.stopping.wait())
    try:
        await asyncio.wait({main_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        if not main_task.done():
            # stopping: nothing new goes out; let the calls in flight land in the call store, then cancel
            limit = control.drain_limit_s or min(config.request_timeout_s + 5.0, 120.0)
            await control.drain(limit)
            main_task.cancel()
    finally:
        stop_task.cancel()
        if not main_task.done():
            main_task.cancel()
        (outcome,) = await asyncio.gather(main_task, return_exceptions=True)
    if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
        raise outcome


async def _run_unit(
    flow: SkillFlow,
    seed: Seed,
    ordinal: int,
    key: str,
    writer: OutputWriter,
    store: RunStore,
    counters: RunCounters,
) -> None:
    unit = UnitHandle(key)
    token = CURRENT_UNIT.set(unit)
    counters.units_running += 1
    try:
        pairs = await flow.run_seed(seed, ordinal)
    except Exception as exc:  # a bug or an unexpected backend error must not end the run
        counters.units_failed += 1
        if not unit.missed:
            writer.reject(_internal_rejection(flow, seed, key, exc))
        return
    finally:
        counters.units_running -= 1
        CURRENT_UNIT.reset(token)
    if unit.missed:  # --offline could not answer a call: the unit stays open for a run with the model
        counters.units_offline_missing += 1
        return
    if not writer.full:  # a unit cut short by --max-pairs stays open so a larger limit can continue it
        await writer.durable()  # its pairs are on disk before the unit is recorded as finished
        store.mark_unit(key, "done", pairs)
        counters.units_done += 1
        counters.units_finished_per_skill[flow.skill.name] += 1


def _internal_rejection(flow: SkillFlow, seed: Seed, key: str, exc: Exception) -> Rejection:
    return Rejection(
        id=Rejection.make_id("internal", key),
        skill=flow.skill.name,
        stage="flow",
        reason="internal_error",
        detail=f"{type(exc).__name__}: {exc} | {traceback.format_exc(limit=3)[-600:]}",
        lineage={
            "document": {"id": seed.document.id, "source": seed.document.source, "span": list(seed.span)}
        },
    )


async def _produce(
    config: RunConfig,
    planner: Planner,
    queue: asyncio.Queue,
    writer: OutputWriter,
    store: RunStore,
    counters: RunCounters,
) -> None:
    items = seed_stream(config)
    done = object()
    while not writer.full:
        item = await asyncio.to_thread(next, items, done)  # file parsing must not block the event loop
        if item is done:
            return
        planned = planner.plan(item)
        if not planned.owned:
            continue
        if planned.failure is not None:
            counters.documents_rejected += 1
            failure = planned.failure
            writer.reject(_document_rejection(failure.source, f"document:{failure.reason}", failure.detail))
            continue
        if planned.new_document:
            counters.documents += 1
        counters.seeds += 1
        if planned.no_skill:
            writer.reject(
                _document_rejection(
                    item.document.source,
                    "no_matching_skill",
                    f"no selected skill takes {item.kind} seeds; select one with --skills",
                )
            )
        for skill, ordinal, key in planned.units:
            counters.units_planned += 1
            counters.units_planned_per_skill[skill.name] += 1
            if store.unit_done(key):
                counters.units_skipped_resume += 1
                counters.units_finished_per_skill[skill.name] += 1
                continue
            await queue.put((skill, item, ordinal, key))


def _document_rejection(source: str, reason: str, detail: str) -> Rejection:
    return Rejection(
        id=Rejection.make_id("document", source, reason),
        stage="document",
        reason=reason,
        detail=detail,
        lineage={"document": {"source": source}},
    )
