"""Human-readable views of runs and skills for the `inspect` and `skills SKILL` commands.

Reads the output files of a run (run.json, pairs.jsonl, rejected.jsonl); never writes them. A sharded
run's files live in OUT/shards/RANK-of-WORLD/ (`agentinstruct.sharding.output_parts`): counts and look-ups
cover every shard.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from agentinstruct.sharding import output_parts, shard_directories
from agentinstruct.skills import Skill


class InspectionError(ValueError):
    """The output directory or id asked for does not exist."""


def _records(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn last line from a crash; the next run repairs it


def _require_run(out: Path) -> list[Path]:
    """The directories holding the run's files (OUT, or its shards); an error when there are none."""
    parts = [p for p in output_parts(out) if (p / "pairs.jsonl").exists() or (p / "run.json").exists()]
    if not parts:
        raise InspectionError(
            f"{out} is not a run output directory (no pairs.jsonl or run.json); pass the --out of a run"
        )
    return parts


def _run_info(out: Path, parts: list[Path]) -> dict[str, Any]:
    """run.json of OUT, or for a sharded run the shards' statuses and LLM usage side by side."""
    if parts == [out]:
        return json.loads((out / "run.json").read_text()) if (out / "run.json").exists() else {}
    shards: dict[str, Any] = {}
    llm: list[Any] = []
    for shard, path in shard_directories(out):
        run = json.loads((path / "run.json").read_text()) if (path / "run.json").exists() else {}
        shards[str(shard)] = run.get("status")
        llm.extend(run.get("llm") or [])
    statuses = set(shards.values())
    status = statuses.pop() if len(statuses) == 1 else "mixed"
    return {"status": status, "shards": shards, "llm": llm}


def print_counts(console: Console, out: Path, *, as_json: bool = False) -> None:
    """Pairs per skill and instruction type, rejections per reason, and the run's LLM usage."""
    parts = _require_run(out)
    per_type: Counter[tuple[str, str]] = Counter()
    reasons: Counter[str] = Counter()
    for part in parts:
        for pair in _records(part / "pairs.jsonl"):
            per_type[(pair["skill"], pair["instruction_type"])] += 1
        reasons.update(r["reason"] for r in _records(part / "rejected.jsonl"))
    run = _run_info(out, parts)
    if as_json:
        data = {
            "pairs": sum(per_type.values()),
            "pairs_per_instruction_type": {f"{s}/{t}": n for (s, t), n in sorted(per_type.items())},
            "rejections_per_reason": dict(sorted(reasons.items())),
            "status": run.get("status"),
            "llm": run.get("llm"),
        }
        if "shards" in run:
            data["shards"] = run["shards"]
        print(json.dumps(data, indent=2))
        return
    table = Table("skill", "instruction type", "pairs", title=f"{sum(per_type.values())} pairs in {out}")
    for (skill, itype), n in sorted(per_type.items()):
        table.add_row(skill, itype, str(n))
    console.print(table)
    rejected = Table("reason", "count", title=f"{sum(reasons.values())} rejected")
    for reason, n in reasons.most_common():
        rejected.add_row(reason, str(n))
    console.print(rejected)
    for usage in run.get("llm", []):
        console.print(
            f"LLM: {usage['calls']} calls ({usage['cached_calls']} from the call store), "
            f"{usage['prompt_tokens']} tokens in, {usage['completion_tokens']} out"
        )
    if "shards" in run:
        console.print(f"shards: {', '.join(f'{k} {v}' for k, v in run['shards'].items())}")
    elif run:
        console.print(f"status: {run.get('status')} ({run.get('timings', {}).get('duration_s')} s)")


def find_record(out: Path, record_id: str) -> tuple[str, dict[str, Any]]:
    """A pair or rejection whose id starts with `record_id`."""
    parts = _require_run(out)
    for kind, name in (("pair", "pairs.jsonl"), ("rejection", "rejected.jsonl")):
        for part in parts:
            for record in _records(part / name):
                if record["id"].startswith(record_id):
                    return kind, record
    raise InspectionError(
        f"no pair or rejection with id {record_id} in {out}; run `agentinstruct inspect {out}`"
    )


def _shorten(text: str, limit: int = 400) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more characters]"


def print_record(console: Console, out: Path, record_id: str, *, as_json: bool = False) -> None:
    """One pair (or rejection) with its messages, lineage and verification as a tree."""
    kind, record = find_record(out, record_id)
    if as_json:
        print(json.dumps(record, indent=2, ensure_ascii=False))
        return
    title = f"{kind} {record['id']}  {record.get('skill')}/{record.get('instruction_type')}"
    if kind == "rejection":
        title += f"  reason: {record['reason']} ({_shorten(record.get('detail', ''), 200)})"
    tree = Tree(f"[bold]{title}")
    messages = tree.add("messages")
    for message in record.get("messages", []):
        messages.add(f"[cyan]{message['role']}[/]: {_shorten(message.get('content') or '')}")
    lineage = record.get("lineage", {})
    branch = tree.add("lineage")
    document = lineage.get("document", {})
    branch.add(f"document {document.get('id', '?')} {document.get('source')} span {document.get('span')}")
    if lineage.get("transformation"):
        t = lineage["transformation"]
        branch.add(f"transformation [green]{t['agent']}[/]: {_shorten(t['content'], 300)}")
    if lineage.get("seed_instruction"):
        s = lineage["seed_instruction"]
        branch.add(f"seed instruction [green]{s['agent']}[/]: {_shorten(s['text'], 300)}")
    for step in lineage.get("refinement", []):
        node = branch.add(f"refinement round {step['round']} [green]{step['goal']}[/]")
        node.add(f"suggestion: {_shorten(step['suggestion'], 300)}")
        node.add(f"edited: {_shorten(step['edited'], 300)}")
    if lineage.get("teacher"):
        branch.add(f"teacher {lineage['teacher']['model']} {lineage['teacher'].get('params')}")
    call_ids = lineage.get("call_ids", [])
    branch.add(f"calls: {len(call_ids)} ({', '.join(c[:12] for c in call_ids)})")
    verification = record.get("verification") or {}
    checks = tree.add(f"verification: {verification.get('status', 'not_applicable')}")
    for c in verification.get("checks", []):
        checks.add(f"{'✔' if c['ok'] else '✘'} {c['name']}: {c.get('detail', '')}")
    console.print(tree)


def print_skill(console: Console, skill: Skill) -> None:
    """A skill's transformations (with their instruction types), types with intents, goals and checks."""
    console.print(f"[bold]{skill.name}[/] — {skill.description} (seeds: {', '.join(skill.seed_kinds)})")
    transformations = Table("transformation", "description", "instruction types", title="transformations")
    for t in skill.transformations:
        name = f"{t.name} (verbatim)" if t.verbatim else t.name
        transformations.add_row(name, t.description, ", ".join(t.instruction_types) or "all")
    console.print(transformations)
    types = Table(
        "instruction type", "source", "intent", title=f"{len(skill.instruction_types)} instruction types"
    )
    for t in skill.instruction_types:
        types.add_row(t.name, t.source, t.intent)
    console.print(types)
    goals = Table("refinement goal", "description", title=f"refinement ({skill.refinement.rounds} rounds)")
    for g in skill.refinement.goals:
        goals.add_row(g.name, g.description)
    console.print(goals)
    console.print(f"checks: {', '.join(skill.checks) or 'none'}")
