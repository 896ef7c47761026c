"""run.json: what a run reports about itself while it runs and when it ends.

Only the assembly of the summary lives here; the counters come from the pipeline, the writer, the models'
call statistics, the run control (ledger, error rate) and the quality gate.
"""

from __future__ import annotations

import time
from typing import Any

from agentinstruct.config import RunConfig
from agentinstruct.control import RunControl
from agentinstruct.models.stored import StoredModel
from agentinstruct.version import __version__
from agentinstruct.writers import OutputWriter


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
