"""Running a generation job: documents in, pairs out, with resumable state.

`run()` is the synchronous entry point used by the CLI and by library users; inside, one asyncio loop
streams seeds from the documents (never holding the corpus in memory), feeds (skill, seed) units through
a bounded queue to a pool of workers, and lets `StoredModel` bound the number of LLM calls in flight.
Finished units are recorded in the run store so a re-run of the same command resumes. The flow for a
single unit is `agentinstruct.flows`; the output files are `agentinstruct.writers`.
"""

from __future__ import annotations

import asyncio
import json
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from agentinstruct.config import RunConfig
from agentinstruct.documents import DocumentFailure, Seed, iter_seeds
from agentinstruct.flows import FlowSettings, SkillFlow, flow_class
from agentinstruct.flows.resources import FlowResources, build_resources
from agentinstruct.models import Model, create_model, split_base_urls
from agentinstruct.models.stored import StoredModel
from agentinstruct.pairs import Rejection
from agentinstruct.progress import RunMonitor
from agentinstruct.skills import Skill, load_skills, select_skills, taxonomy_hash
from agentinstruct.store import RunStore
from agentinstruct.tools import ToolUnavailable
from agentinstruct.version import __version__
from agentinstruct.writers import OutputWriter, write_json_atomic

#: a run stops when this many model calls in a row failed after retries (the server is down or misconfigured)
MAX_CONSECUTIVE_FAILURES = 20


class RunError(RuntimeError):
    """The run cannot start or cannot go on; the message says why and what to do."""


@dataclass
class RunCounters:
    """What the scheduler saw, for run.json and the progress display."""

    documents: int = 0
    documents_rejected: int = 0
    seeds: int = 0
    units_done: int = 0
    units_skipped_resume: int = 0
    units_failed: int = 0
    _last_document: str = field(default="", repr=False)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


def run(config: RunConfig, *, model: Model | None = None, teacher: Model | None = None) -> dict[str, Any]:
    """Run a generation job to completion and return the run.json contents."""
    return asyncio.run(run_async(config, model=model, teacher=teacher))


async def run_async(
    config: RunConfig, *, model: Model | None = None, teacher: Model | None = None
) -> dict[str, Any]:
    """The asynchronous body of `run()`; usable from code that already has an event loop."""
    skills = select_skills(load_skills(config.skills_dirs), config.skills)
    taxonomy = taxonomy_hash(skills)
    config.out.mkdir(parents=True, exist_ok=True)
    store = RunStore(config.out / "state.sqlite")
    try:
        _check_resume(store, config, taxonomy)
    except RunError:
        store.close()  # refused before anything ran: leave the previous run.json as it was
        raise
    writer = OutputWriter(config.out, max_pairs=config.max_pairs)
    backend = model or _create_model(config, config.model)
    attempts = config.max_retries + 1  # the middleware makes every retry (the SDK's own are turned off)
    stored = StoredModel(backend, store, concurrency=config.concurrency, max_attempts=attempts)
    teacher_stored = stored
    if teacher is not None or config.teacher_model:
        teacher_backend = teacher or _create_model(config, config.teacher_model)
        teacher_stored = StoredModel(
            teacher_backend, store, concurrency=config.concurrency, max_attempts=attempts
        )
    counters = RunCounters()
    started = time.time()
    state = {"status": "running", "error": None}
    monitor = RunMonitor(counters, writer, [stored, teacher_stored], enabled=config.progress)
    try:
        await stored.prepare()
        if teacher_stored is not stored:
            await teacher_stored.prepare()
        resources = await _resources(config, skills, store)
        flows = {
            s.name: flow_class(s.flow)(s, stored, writer, _settings(config), teacher_stored, resources)
            for s in skills
        }
        with monitor:
            await _schedule(config, skills, flows, writer, store, stored, counters)
        state["status"] = "finished" if not writer.full else "finished_max_pairs"
    except BaseException as exc:
        state["status"], state["error"] = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        summary = _summary(config, taxonomy, counters, writer, [stored, teacher_stored], started, state)
        write_json_atomic(config.out / "run.json", summary)
        writer.close()
        store.close()
        await backend.aclose()
        if teacher_stored is not stored:
            await teacher_stored.aclose()
    return summary


async def _resources(config: RunConfig, skills: list[Skill], store: RunStore) -> FlowResources:
    """Build the corpus index and tools the skills need (before any model call), or stop with the cause."""

    def seeds() -> Any:
        items = _seed_stream(config)
        return (item for item in items if not isinstance(item, DocumentFailure))

    try:
        return await asyncio.to_thread(build_resources, skills, config.out, store, seeds)
    except (ToolUnavailable, ValueError, OSError) as error:
        raise RunError(f"cannot set up the tools the selected skills need: {error}") from None


def _seed_stream(config: RunConfig) -> Any:
    return iter_seeds(
        config.inputs,
        max_chars=config.chunk_chars,
        min_chars=config.min_chunk_chars,
        max_bytes=config.max_file_bytes,
        text_field=config.text_field,
        max_documents=config.max_documents,
    )


def _create_model(config: RunConfig, name: str | None) -> Model:
    return create_model(
        name,
        base_url=config.base_url,
        api_key_env=config.api_key_env,
        timeout=config.request_timeout_s,
        max_retries=config.max_retries,
        slots=min(config.local_slots, config.concurrency),
        threads=config.local_threads,
    )


def _settings(config: RunConfig) -> FlowSettings:
    return FlowSettings(
        run_seed=config.seed,
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        teacher_temperature=config.teacher_temperature,
        teacher_max_tokens=config.teacher_max_tokens,
        refinement_rounds=config.refinement_rounds,
        instructions_per_seed=config.instructions_per_seed,
        unanswerable_share=config.unanswerable_share,
    )


def _check_resume(store: RunStore, config: RunConfig, taxonomy: str) -> None:
    """Refuse to resume into an output directory made with a different config or taxonomy."""
    fingerprint = json.dumps({"config": config.fingerprint(), "taxonomy": taxonomy}, sort_keys=True)
    previous = store.get_meta("fingerprint")
    if previous is None:
        store.set_meta("fingerprint", fingerprint)
        return
    if previous != fingerprint:
        old, new = json.loads(previous), json.loads(fingerprint)
        changed = sorted(k for k in new["config"] if old["config"].get(k) != new["config"].get(k))
        if old["taxonomy"] != new["taxonomy"]:
            changed.append("taxonomy (skill files or prompts)")
        raise RunError(
            f"{config.out} holds a run made with different settings ({', '.join(changed)}); "
            "resuming would mix incompatible data: use a new --out directory or restore the previous settings"
        )


async def _schedule(
    config: RunConfig,
    skills: list[Skill],
    flows: dict[str, SkillFlow],
    writer: OutputWriter,
    store: RunStore,
    model: StoredModel,
    counters: RunCounters,
) -> None:
    queue: asyncio.Queue[tuple[Skill, Seed, int] | None] = asyncio.Queue(maxsize=config.concurrency * 2)
    abort: list[str] = []

    async def worker() -> None:
        while (unit := await queue.get()) is not None:
            skill, seed, ordinal = unit
            if writer.full or abort:
                continue
            await _run_unit(flows[skill.name], seed, ordinal, writer, store, counters)
            if model.consecutive_failures >= MAX_CONSECUTIVE_FAILURES and not abort:
                abort.append(
                    f"{model.consecutive_failures} model calls in a row failed (last: {model.last_error}); "
                    "check that the server is up and --base-url/--model are right, then re-run to resume"
                )

    endpoints = max(1, len(split_base_urls(config.base_url)))  # each endpoint takes `concurrency` calls
    workers = [asyncio.create_task(worker()) for _ in range(config.concurrency * endpoints)]
    try:
        await _produce(config, skills, queue, writer, store, counters, abort)
    finally:
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
    if abort:
        raise RunError(abort[0])
    if model.stats.failed and not model.stats.calls and not model.stats.cached:
        raise RunError(
            f"all {model.stats.failed} model calls failed (last: {model.last_error}); "
            "check that the server is up "
            "and --base-url/--model are right, then re-run to resume"
        )


async def _run_unit(
    flow: SkillFlow, seed: Seed, ordinal: int, writer: OutputWriter, store: RunStore, counters: RunCounters
) -> None:
    key = f"{flow.skill.name}:{seed.id}"
    try:
        pairs = await flow.run_seed(seed, ordinal)
    except Exception as exc:  # a bug or an unexpected backend error must not end the run
        counters.units_failed += 1
        writer.reject(
            Rejection(
                id=Rejection.make_id("internal", key),
                skill=flow.skill.name,
                stage="flow",
                reason="internal_error",
                detail=f"{type(exc).__name__}: {exc} | {traceback.format_exc(limit=3)[-600:]}",
                lineage={
                    "document": {
                        "id": seed.document.id,
                        "source": seed.document.source,
                        "span": list(seed.span),
                    }
                },
            )
        )
        return
    if not writer.full:  # a unit cut short by --max-pairs stays open so a larger limit can continue it
        store.mark_unit(key, "done", pairs)
        counters.units_done += 1


async def _produce(
    config: RunConfig,
    skills: list[Skill],
    queue: asyncio.Queue,
    writer: OutputWriter,
    store: RunStore,
    counters: RunCounters,
    abort: list[str],
) -> None:
    items = _seed_stream(config)
    ordinals = dict.fromkeys((s.name for s in skills), 0)  # the n-th seed each skill gets, for coverage
    done = object()
    while not (writer.full or abort):
        item = await asyncio.to_thread(next, items, done)  # file parsing must not block the event loop
        if item is done:
            return
        if isinstance(item, DocumentFailure):
            counters.documents_rejected += 1
            writer.reject(_document_rejection(item.source, f"document:{item.reason}", item.detail))
            continue
        new_document = item.document.id != counters._last_document
        if new_document:
            counters.documents += 1
            counters._last_document = item.document.id
        counters.seeds += 1
        matching = [s for s in skills if item.kind in s.seed_kinds]
        if not matching and new_document:
            writer.reject(
                _document_rejection(
                    item.document.source,
                    "no_matching_skill",
                    f"no selected skill takes {item.kind} seeds; select one with --skills",
                )
            )
        for skill in matching:
            ordinal = ordinals[skill.name]
            ordinals[skill.name] += 1
            if store.unit_done(f"{skill.name}:{item.id}"):
                counters.units_skipped_resume += 1
                continue
            await queue.put((skill, item, ordinal))


def _document_rejection(source: str, reason: str, detail: str) -> Rejection:
    return Rejection(
        id=Rejection.make_id("document", source, reason),
        stage="document",
        reason=reason,
        detail=detail,
        lineage={"document": {"source": source}},
    )


def _summary(
    config: RunConfig,
    taxonomy: str,
    counters: RunCounters,
    writer: OutputWriter,
    models: list[StoredModel],
    started: float,
    state: dict[str, Any],
) -> dict[str, Any]:
    unique = list({id(m): m for m in models}.values())
    finished = time.time()
    return {
        "version": __version__,
        "status": state["status"],
        "error": state["error"],
        "config": config.public(),
        "taxonomy_hash": taxonomy,
        "models": [m.describe() for m in unique],
        "counters": {**counters.as_dict(), **writer.counters()},
        "llm": [m.stats.as_dict() for m in unique],
        "timings": {
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(finished)),
            "duration_s": round(finished - started, 3),
        },
    }
