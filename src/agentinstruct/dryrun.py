"""`--dry-run`: run a small sample of units for real, then estimate calls, tokens, cost and time of the run.

1. The inputs are streamed once without any model call to count the units the run (or shard) has, per
   skill, and how many of them an earlier run into OUT already finished; a uniform random sample of
   `dry_run_units` units (seeded by `--seed`, spread over the skills) is drawn on the way.
2. The sample runs like a normal run, with the same ordinals as in the full run, but into
   `OUT/dry-run/` (wiped first), so OUT's own pairs, rejections and call store are left alone; its
   pairs are there to look at.
3. Per skill, the sample's calls, tokens and cost per unit are multiplied by the units left to do. Wall
   time is the estimated calls times the sample's mean call latency divided by the concurrency (never
   less than the sample took). The estimate goes to `OUT/dry-run/estimate.json` and is returned.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

from agentinstruct.config import RunConfig
from agentinstruct.documents import DocumentFailure
from agentinstruct.models import Model, split_base_urls
from agentinstruct.sharding import Shard
from agentinstruct.skills import Skill, load_skills, select_skills
from agentinstruct.store import RunStore
from agentinstruct.writers import write_json_atomic

DRY_RUN_DIR = "dry-run"


def plan_units(config: RunConfig, skills: list[Skill], *, sample_size: int = 0) -> dict[str, Any]:
    """Count the run's units by streaming the inputs (no model calls), and draw a sample of unit keys.

    Returns documents, seeds, units per skill, units per skill already finished in OUT's store, and
    `sample`: up to `sample_size` unit keys, uniformly drawn per skill and spread round-robin over skills.
    """
    from agentinstruct.pipeline import part_directory
    from agentinstruct.planning import Planner
    from agentinstruct.run_setup import flow_settings, seed_stream

    shard = Shard.parse(config.shard) if config.shard else None
    planner = Planner(skills, shard, settings=flow_settings(config))
    state_path = part_directory(config) / "state.sqlite"
    store = RunStore(state_path) if state_path.exists() else None
    rng = random.Random(f"dry-run:{config.seed}")
    reservoirs: dict[str, list[str]] = {s.name: [] for s in skills}
    units: Counter[str] = Counter()
    done: Counter[str] = Counter()
    documents = rejected = seeds = 0
    try:
        for item in seed_stream(config):
            planned = planner.plan(item)
            if not planned.owned:
                continue
            if isinstance(item, DocumentFailure):
                rejected += 1
                continue
            documents += int(planned.new_document)
            seeds += 1
            for skill, _, key in planned.units:
                units[skill.name] += 1
                if store is not None and store.unit_done(key):
                    done[skill.name] += 1
                reservoir = reservoirs[skill.name]
                if len(reservoir) < sample_size:
                    reservoir.append(key)
                else:
                    slot = rng.randrange(units[skill.name])
                    if slot < sample_size:
                        reservoir[slot] = key
    finally:
        if store is not None:
            store.close()
    sample: list[str] = []
    pools = [list(r) for r in reservoirs.values() if r]
    while len(sample) < sample_size and any(pools):
        for pool in pools:
            if pool and len(sample) < sample_size:
                sample.append(pool.pop(0))
    return {
        "documents": documents,
        "documents_rejected": rejected,
        "seeds": seeds,
        "units": sum(units.values()),
        "units_per_skill": dict(sorted(units.items())),
        "units_done_before": sum(done.values()),
        "units_done_before_per_skill": dict(sorted(done.items())),
        "sample": sample,
    }


async def dry_run(
    config: RunConfig, *, model: Model | None = None, teacher: Model | None = None
) -> dict[str, Any]:
    """Run a sample into OUT/dry-run and estimate the whole run (see the module docstring)."""
    from agentinstruct.pipeline import run_async

    skills = select_skills(load_skills(config.skills_dirs), config.skills, config.skill_weights)
    plan = await asyncio.to_thread(plan_units, config, skills, sample_size=config.dry_run_units)
    sample_dir = Path(config.out) / DRY_RUN_DIR
    shutil.rmtree(sample_dir, ignore_errors=True)
    sample_config = config.model_copy(update={"dry_run": False, "max_pairs": None})
    started = time.monotonic()
    summary = await run_async(
        sample_config, model=model, teacher=teacher, directory=sample_dir, only_units=set(plan["sample"])
    )
    wall_s = time.monotonic() - started
    estimate = _estimate(config, plan, summary, wall_s)
    result = {
        "status": "dry_run",
        "directory": str(sample_dir),
        "plan": {k: v for k, v in plan.items() if k != "sample"},
        "sample": estimate["sample"],
        "estimate": estimate["estimate"],
        "sample_run": {"status": summary["status"], "counters": summary["counters"]},
    }
    write_json_atomic(sample_dir / "estimate.json", result)
    return result


def _estimate(
    config: RunConfig, plan: dict[str, Any], summary: dict[str, Any], wall_s: float
) -> dict[str, Any]:
    accounting = summary["accounting"]
    priced = accounting["priced"]
    sampled: Counter[str] = Counter(key.split(":", 1)[0] for key in plan["sample"])
    units_run = max(1, len(plan["sample"]))
    this_run = accounting["this_run"]
    overall = {
        "calls": this_run["calls"] / units_run,
        "prompt_tokens": this_run["prompt_tokens"] / units_run,
        "completion_tokens": this_run["completion_tokens"] / units_run,
        "cost_usd": (this_run["cost_usd"] or 0.0) / units_run,
        "pairs": summary["counters"]["pairs"] / units_run,
    }
    per_skill: dict[str, dict[str, float]] = {}
    for skill, count in sampled.items():
        usage = accounting["by_skill"].get(skill)
        if usage is None or not count:
            continue
        pairs = summary["counters"]["pairs_per_skill"].get(skill, 0)
        per_skill[skill] = {
            "calls": usage["calls"] / count,
            "prompt_tokens": usage["prompt_tokens"] / count,
            "completion_tokens": usage["completion_tokens"] / count,
            "cost_usd": (usage["cost_usd"] or 0.0) / count,
            "pairs": pairs / count,
        }
    totals: Counter[str] = Counter()
    remaining_per_skill = {}
    for skill, units in plan["units_per_skill"].items():
        remaining = units - plan["units_done_before_per_skill"].get(skill, 0)
        remaining_per_skill[skill] = remaining
        for key, value in per_skill.get(skill, overall).items():
            totals[key] += value * remaining
    llm = summary["llm"]
    sent = sum(m["calls"] - m["cached_calls"] for m in llm)
    latency = sum(m["model_seconds"] for m in llm) / sent if sent else 0.0
    parallel = _parallel_calls(config, summary)
    calls = round(totals["calls"])
    wall = max(calls * latency / parallel, wall_s if calls else 0.0)
    sample = {
        "units": len(plan["sample"]),
        "units_per_skill": dict(sorted(sampled.items())),
        "calls": this_run["calls"],
        "prompt_tokens": this_run["prompt_tokens"],
        "completion_tokens": this_run["completion_tokens"],
        "cost_usd": this_run["cost_usd"],
        "pairs": summary["counters"]["pairs"],
        "rejections": summary["counters"]["rejections"],
        "wall_s": round(wall_s, 3),
        "mean_call_latency_s": round(latency, 4),
        "per_unit": {k: round(v, 4) for k, v in overall.items()},
        "per_unit_per_skill": {
            s: {k: round(v, 4) for k, v in d.items()} for s, d in sorted(per_skill.items())
        },
    }
    estimate = {
        "units": plan["units"],
        "units_remaining": sum(remaining_per_skill.values()),
        "units_remaining_per_skill": remaining_per_skill,
        "calls": calls,
        "prompt_tokens": round(totals["prompt_tokens"]),
        "completion_tokens": round(totals["completion_tokens"]),
        "cost_usd": round(totals["cost_usd"], 4) if priced else None,
        "pairs": round(totals["pairs"]),
        "wall_s": round(wall, 1),
        "parallel_calls": parallel,
        "note": "cost needs prices for every model in the config"
        if not priced
        else "calls and tokens per unit from the sample, times the units left; wall time assumes the "
        "concurrency is reached and the sample's latency holds",
    }
    return {"sample": sample, "estimate": estimate}


def _parallel_calls(config: RunConfig, summary: dict[str, Any]) -> int:
    """Calls that can be in flight at once: the concurrency per endpoint, or the local engine's slots."""
    slots = [m.get("slots") for m in summary["models"] if m.get("slots")]
    if slots:
        return max(1, min(config.concurrency, min(slots)))
    return max(1, config.concurrency * max(1, len(split_base_urls(config.base_url))))
