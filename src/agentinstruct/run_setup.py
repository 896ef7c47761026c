"""What a run needs before its first unit: the models, the resume check, the tools and the quality gate.

`pipeline.run_async` calls these in order; they hold no scheduling logic. Every model a run uses (the
generator, an optional separate teacher, an optional judge) is wrapped in one `StoredModel` per distinct
model name, all sharing the run's call store, so a judge that is the generator's model loads no second
set of weights and every call counts against the same budget.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentinstruct.budget import Ledger
from agentinstruct.config import RunConfig
from agentinstruct.documents import DocumentFailure, iter_seeds
from agentinstruct.flows import FlowSettings
from agentinstruct.flows.resources import FlowResources, build_resources
from agentinstruct.flows.state import Sink
from agentinstruct.models import Model, create_model
from agentinstruct.models.stored import StoredModel
from agentinstruct.quality.gate import QualityGate
from agentinstruct.skills import Skill
from agentinstruct.store import RunStore
from agentinstruct.tools import ToolUnavailable

logger = logging.getLogger(__name__)


class RunError(RuntimeError):
    """The run cannot start or cannot go on; the message says why and what to do."""


@dataclass
class RunModels:
    """The run's models, each wrapped in the call store.

    `backends` are closed at the end of the run, those passed in included: their HTTP clients are bound to
    the run's event loop, which `run()` closes.
    """

    generator: StoredModel
    teacher: StoredModel
    judge: StoredModel | None = None
    backends: list[Model] = field(default_factory=list)

    @property
    def all(self) -> list[StoredModel]:
        """Each distinct stored model once (for accounting, run.json and the progress display)."""
        models = [self.generator, self.teacher, self.judge]
        return list({id(m): m for m in models if m is not None}.values())

    async def aclose(self) -> None:
        for backend in {id(b): b for b in self.backends}.values():
            await backend.aclose()


async def open_models(
    config: RunConfig, store: RunStore, *, model: Model | None = None, teacher: Model | None = None
) -> RunModels:
    """Create (or take) the generator, teacher and judge backends and wrap each in the call store."""
    backends: list[Model] = [m for m in (model, teacher) if m is not None]
    attempts = config.max_retries + 1  # the middleware makes every retry (the SDK's own are turned off)

    def stored_for(backend: Model) -> StoredModel:
        return StoredModel(backend, store, concurrency=config.concurrency, max_attempts=attempts)

    def backend_for(name: str | None) -> Model:
        backend = create_run_model(config, name)
        backends.append(backend)
        return backend

    try:
        generator = stored_for(model if model is not None else backend_for(config.model))
        teacher_stored = generator
        if teacher is not None or config.teacher_model:
            teacher_stored = stored_for(teacher if teacher is not None else backend_for(config.teacher_model))
        judge_stored = None
        judge_name = config.quality.judge.model
        if judge_name:
            same = [m for m in (generator, teacher_stored) if m.name == judge_name]
            judge_stored = same[0] if same else stored_for(backend_for(judge_name))
    except BaseException:
        for backend in backends:
            await backend.aclose()
        raise
    return RunModels(generator, teacher_stored, judge_stored, backends)


def check_prices(config: RunConfig, ledger: Ledger, models: list[StoredModel]) -> None:
    """Refuse `--budget-usd` when a model of the run has no price."""
    unpriced = ledger.unpriced([m.name for m in models])
    if config.budget_usd is None or not unpriced:
        return
    example = "\n".join(f"  {name}: {{input_per_mtok: 0.15, output_per_mtok: 0.6}}" for name in unpriced)
    raise RunError(
        f"--budget-usd needs a price for {', '.join(unpriced)}; add to the --config file:\nprices:\n{example}"
    )


def build_gate(config: RunConfig, directory: Path, sink: Sink, judge: StoredModel | None) -> QualityGate:
    """The quality gate in front of `sink`; a bad benchmark or dedup file stops the run before any call."""
    try:
        return QualityGate.from_settings(config.quality, directory, sink, judge_model=judge)
    except (OSError, ValueError) as error:
        raise RunError(f"cannot set up the quality checks: {error}") from None


def create_run_model(config: RunConfig, name: str | None) -> Model:
    """A backend for model `name` with the run's server, key, timeout and local-model settings."""
    return create_model(
        name,
        base_url=config.base_url,
        api_key_env=config.api_key_env,
        timeout=config.request_timeout_s,
        max_retries=config.max_retries,
        slots=min(config.local_slots, config.concurrency),
        threads=config.local_threads,
    )


def flow_settings(config: RunConfig) -> FlowSettings:
    """The run-level knobs the flows read."""
    return FlowSettings(
        run_seed=config.seed,
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        teacher_temperature=config.teacher_temperature,
        teacher_max_tokens=config.teacher_max_tokens,
        refinement_rounds=config.refinement_rounds,
        instructions_per_seed=config.instructions_per_seed,
        unanswerable_share=config.unanswerable_share,
        skill_weights=dict(config.skill_weights),
    )


def seed_stream(config: RunConfig) -> Any:
    """The run's seeds (and per-document failures), streamed from its inputs."""
    return iter_seeds(
        config.inputs,
        max_chars=config.chunk_chars,
        min_chars=config.min_chunk_chars,
        max_bytes=config.max_file_bytes,
        text_field=config.text_field,
        max_documents=config.max_documents,
    )


def check_resume(store: RunStore, config: RunConfig, taxonomy: str, directory: Path | None = None) -> None:
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
            f"{directory or config.out} holds a run made with different settings ({', '.join(changed)}); "
            "resuming would mix incompatible data: use a new --out directory or restore the previous settings"
        )


async def build_run_resources(
    config: RunConfig, skills: list[Skill], store: RunStore, directory: Path
) -> tuple[FlowResources, list[Skill]]:
    """Build the corpus index and tools the skills need (before any model call), or stop with the cause.

    The index covers the whole input (every shard builds the same one, in its own directory). When the
    sandbox cannot isolate code and the skills were not chosen by name (`--skills all`), the skills whose
    teacher runs code are left out with a warning instead of failing the run; named skills fail.
    """

    def seeds() -> Any:
        items = seed_stream(config)
        return (item for item in items if not isinstance(item, DocumentFailure))

    try:
        try:
            return await asyncio.to_thread(build_resources, skills, directory, store, seeds), skills
        except ToolUnavailable as error:
            if config.skills.strip() not in ("", "all"):
                raise
            kept = [s for s in skills if "python" not in s.teacher_tools]
            left_out = sorted(s.name for s in skills if "python" in s.teacher_tools)
            logger.warning("left out %s: the code sandbox is unavailable (%s)", ", ".join(left_out), error)
            return await asyncio.to_thread(build_resources, kept, directory, store, seeds), kept
    except (ToolUnavailable, ValueError, OSError) as error:
        raise RunError(f"cannot set up the tools the selected skills need: {error}") from None
