"""run.json: what a run reports about itself while it runs and when it ends.

The summary is assembled here, with the scheduler's own counters (`RunCounters`); the other counters come
from the writer, the models' call statistics, the run control (ledger, error rate) and the quality gate.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from agentinstruct.config import RunConfig
from agentinstruct.control import RunControl
from agentinstruct.models.stored import StoredModel
from agentinstruct.version import __version__
from agentinstruct.writers import OutputWriter


@dataclass
class RunCounters:
    """What the scheduler saw, for run.json and the progress display."""

    documents: int = 0
    documents_rejected: int = 0
    seeds: int = 0
    units_planned: int = 0
    units_done: int = 0
    units_skipped_resume: int = 0
    units_failed: int = 0
    units_offline_missing: int = 0
    units_running: int = 0
    #: per skill: units planned, and units finished (in this run or, skipped on resume, an earlier one)
    units_planned_per_skill: Counter[str] = field(default_factory=Counter)
    units_finished_per_skill: Counter[str] = field(default_factory=Counter)
    _last_document: str = field(default="", repr=False)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            k: dict(sorted(v.items())) if isinstance(v, Counter) else v
            for k, v in self.__dict__.items()
            if not k.startswith("_") and k != "units_running"
        }
        data["units_unfinished"] = max(0, self.units_planned - self.units_done - self.units_skipped_resume)
        return data


def run_summary(
    config: RunConfig,
    taxonomy: str,
    counters: Any,
    writer: OutputWriter,
    models: list[StoredModel],
    control: RunControl,
    started: float,
    state: dict[str, Any],
    quality: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """run.json: written at the start, every `CHECKPOINT_INTERVAL_S` while running, and at the end.

    `status` is running | finished | finished_max_pairs | stopped (a ceiling or an interrupt: `stop` says
    which, with the message) | failed (`error`, and `stop` for error-rate, consecutive-failure stops).
    `accounting` holds tokens and cost this run and for the whole output directory, per model, skill and
    stage; `control` the offline misses, error rate, failed calls per stage and the final concurrency.
    """
    finished = time.time()
    duration = finished - started
    reason = control.stop_reason
    return {
        "version": __version__,
        "status": state["status"],
        "error": state["error"],
        "stop": {"kind": reason.kind, "message": reason.message} if reason else None,
        "shard": config.shard,
        "config": config.public(),
        "taxonomy_hash": taxonomy,
        "models": [m.describe() for m in models],
        "counters": {**counters.as_dict(), **writer.counters(), **(quality or {})},
        "llm": [m.stats.as_dict() for m in models],
        "accounting": control.ledger.report([(m.name, m.stats) for m in models]),
        "control": {
            "offline": config.offline,
            "offline_missing": dict(sorted(control.missing.items())),
            "error_rate": round(control.error_rate, 4),
            "failed_calls_per_stage": dict(sorted(control.failed.items())),
            "concurrency": [{"model": m.name, **_concurrency(m)} for m in models],
        },
        "throughput": {
            "pairs_per_s": round(writer.new_pairs / duration, 3) if duration > 0 else 0.0,
            "calls_per_s": round(sum(control.sent.values()) / duration, 3) if duration > 0 else 0.0,
        },
        "timings": {
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(finished)),
            "duration_s": round(duration, 3),
        },
    }


def _concurrency(model: StoredModel) -> dict[str, Any]:
    status = model.concurrency_status()
    return {"limit": status["limit"], "in_flight": status["in_flight"], "waiting": status["waiting"]}
