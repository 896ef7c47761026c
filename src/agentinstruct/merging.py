"""`merge`: the shards of a sharded run (`agentinstruct.sharding`) joined into OUT's own output files.

`merge(OUT)` concatenates `OUT/shards/*/pairs.jsonl` and `rejected.jsonl` in rank order into
`OUT/pairs.jsonl` and `OUT/rejected.jsonl`, and writes `OUT/run.json` with the shards' counters summed,
once every shard has finished (`allow_unfinished` merges what is there). Each output file is written to
a temporary name and renamed, so a crash mid-merge leaves the previous files.

The quality gate deduplicates each shard only against itself while generating, so `merge` applies the
run's dedup settings (`config.quality.dedup` in the shards' run.json) across shards: pairs are streamed in
rank order through one `Deduplicator` (seeded from `dedup.against`), and a pair that is an exact or near
duplicate of an earlier merged pair goes to `OUT/rejected.jsonl` as a `dedup:exact` / `dedup:near` quality
rejection (built as the gate builds it) instead of `OUT/pairs.jsonl`: of a duplicate group, the pair of the
lowest rank is kept. `OUT/run.json` counts them (`merge_duplicates_removed`, `merge_duplicates_per_kind`),
and its pair and rejection counters are those of the merged files. With exact and near dedup off, merge
only concatenates (skipping repeated ids).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from agentinstruct.sharding import SHARDS_DIR, ShardError, shard_directories
from agentinstruct.writers import rejection_skill

if TYPE_CHECKING:
    from agentinstruct.pairs import Pair
    from agentinstruct.quality.dedup import Deduplicator, DuplicateOf
    from agentinstruct.quality.settings import DedupSettings


def merge(out: Path, *, allow_unfinished: bool = False) -> dict[str, Any]:
    """Merge every shard's pairs and rejections into OUT, removing cross-shard duplicates; write run.json.

    Pairs are streamed in shard-rank order: a repeated id is skipped, and, with the run's dedup settings
    (`config.quality.dedup` of the shards' run.json, defaults when absent), a pair that is an exact or
    near duplicate of a pair merged before it (or of a `dedup.against` dataset) is not written to
    OUT/pairs.jsonl but recorded in OUT/rejected.jsonl as a `dedup:exact` / `dedup:near` quality
    rejection, as the gate does; so of a duplicate group the pair of the lowest rank is kept.
    Refuses while a shard is missing or has not finished (unless `allow_unfinished`). Files are written
    to temporary names and renamed, so readers never see half a merge; running it again redoes it.
    """
    out = Path(out)
    shards = shard_directories(out)
    if not shards:
        raise ShardError(f"{out} has no shards ({out}/{SHARDS_DIR}/RANK-of-WORLD); nothing to merge")
    worlds = {s.world for s, _ in shards}
    if len(worlds) > 1:
        raise ShardError(f"{out} mixes world sizes {sorted(worlds)}; merge needs the shards of one run")
    world = worlds.pop()
    summaries = {s.rank: _read_json(path / "run.json") for s, path in shards}
    missing = sorted(set(range(world)) - set(summaries))
    unfinished = sorted(
        rank
        for rank, summary in summaries.items()
        if not str(summary.get("status", "")).startswith("finished")
    )
    if (missing or unfinished) and not allow_unfinished:
        problems = []
        if missing:
            problems.append(f"shards {missing} of {world} have not run")
        if unfinished:
            problems.append(f"shards {unfinished} have not finished")
        raise ShardError(
            f"cannot merge {out}: {'; '.join(problems)}; run them (re-running resumes) "
            "or pass --allow-unfinished"
        )
    settings = _dedup_settings(out, [summaries[s.rank] for s, _ in shards])
    tally = _merge_files(out, [path for _, path in shards], settings)
    counters = _sum_counters([summary.get("counters", {}) for summary in summaries.values()])
    counters.update(tally.counters())
    merged = {
        "status": "merged" if not (missing or unfinished) else "merged_partial",
        "merged_from": [
            {"shard": str(s), "directory": str(path), "status": summaries[s.rank].get("status")}
            for s, path in shards
        ],
        "world_size": world,
        "dedup": settings.model_dump(mode="json") if settings.exact or settings.near else None,
        "counters": counters,
        "accounting": _sum_accounting([summary.get("accounting", {}) for summary in summaries.values()]),
        "pairs": tally.pairs,
        "rejections": tally.rejections,
    }
    _write_atomic(out / "run.json", json.dumps(merged, indent=2, ensure_ascii=False) + "\n")
    return merged


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _dedup_settings(out: Path, summaries: list[dict[str, Any]]) -> DedupSettings:
    """The dedup settings the shards ran with (`config.quality.dedup` of the first shard recording them)."""
    from pydantic import ValidationError

    from agentinstruct.quality.settings import DedupSettings, QualitySettings

    for summary in summaries:
        quality = (summary.get("config") or {}).get("quality")
        if isinstance(quality, dict):
            try:
                return DedupSettings.model_validate(quality.get("dedup") or {})
            except ValidationError as exc:
                raise ShardError(
                    f"cannot merge {out}: the shards' run.json holds invalid dedup settings "
                    f"(config.quality.dedup): {exc.errors()[0].get('msg')}"
                ) from exc
    return QualitySettings().dedup


@dataclass
class _Tally:
    """What the merge wrote, for OUT/run.json: its counts always match the merged files."""

    pairs: int = 0
    rejections: int = 0
    per_skill: Counter[str] = field(default_factory=Counter)
    per_type: Counter[str] = field(default_factory=Counter)
    unanswerable: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    rejected_skills: Counter[str] = field(default_factory=Counter)
    removed: Counter[str] = field(default_factory=Counter)

    def pair(self, record: dict[str, Any]) -> None:
        self.pairs += 1
        self.per_skill[str(record.get("skill"))] += 1
        self.per_type[f"{record.get('skill')}/{record.get('instruction_type')}"] += 1
        self.unanswerable += int(bool(record.get("unanswerable")))

    def rejection(self, record: dict[str, Any]) -> None:
        self.rejections += 1
        self.reasons[str(record.get("reason"))] += 1
        self.rejected_skills[rejection_skill(record)] += 1

    def counters(self) -> dict[str, Any]:
        return {
            "pairs": self.pairs,
            "pairs_per_skill": dict(sorted(self.per_skill.items())),
            "pairs_per_instruction_type": dict(sorted(self.per_type.items())),
            "unanswerable_pairs": self.unanswerable,
            "rejections": self.rejections,
            "rejections_per_reason": dict(sorted(self.reasons.items())),
            "rejections_per_skill": dict(sorted(self.rejected_skills.items())),
            "merge_duplicates_removed": sum(self.removed.values()),
            "merge_duplicates_per_kind": {kind: self.removed[kind] for kind in ("exact", "near")},
        }


def _merge_files(out: Path, directories: list[Path], settings: DedupSettings) -> _Tally:
    """Write OUT/pairs.jsonl and OUT/rejected.jsonl from the shard directories (in rank order)."""
    from agentinstruct.quality.datafiles import DataFileError
    from agentinstruct.quality.gate import duplicate_rejection, seeded_deduplicator

    try:
        deduplicator = seeded_deduplicator(settings)
    except DataFileError as exc:
        raise ShardError(
            f"cannot merge {out}: {exc} (a dedup.against file of the run; relative paths are read from "
            "the current directory, so merge from where the shards were generated)"
        ) from exc
    tally = _Tally()
    rejection_ids: set[str] = set()
    with _AtomicFile(out / "pairs.jsonl") as pairs, _AtomicFile(out / "rejected.jsonl") as rejected:
        for directory in directories:
            for line, record in _complete_lines(directory / "rejected.jsonl"):
                if record["id"] not in rejection_ids:
                    rejection_ids.add(record["id"])
                    rejected.write(line)
                    tally.rejection(record)
        pair_ids: set[str] = set()
        for directory in directories:
            for line, record in _complete_lines(directory / "pairs.jsonl"):
                if record["id"] in pair_ids:
                    continue
                pair_ids.add(record["id"])
                duplicate = _cross_shard_duplicate(deduplicator, record)
                if duplicate is not None:
                    pair, found = duplicate
                    tally.removed[found.kind] += 1
                    rejection = duplicate_rejection(pair, found)
                    if rejection.id not in rejection_ids:
                        rejection_ids.add(rejection.id)
                        data = rejection.model_dump(mode="json", exclude_none=True)
                        rejected.write((json.dumps(data, ensure_ascii=False) + "\n").encode("utf-8"))
                        tally.rejection(data)
                    continue
                pairs.write(line)
                tally.pair(record)
    return tally


def _cross_shard_duplicate(
    deduplicator: Deduplicator | None, record: dict[str, Any]
) -> tuple[Pair, DuplicateOf] | None:
    """The pair and the earlier merged pair (or `against` item) it duplicates; else index it, None.

    A record that is not a valid pair is neither compared nor indexed (it is merged as it is).
    """
    from agentinstruct.pairs import Pair

    if deduplicator is None:
        return None
    try:
        pair = Pair.model_validate(record)
    except ValueError:
        return None
    found = deduplicator.check(pair)
    if found is None:
        deduplicator.add(pair)
        return None
    return pair, found


def _complete_lines(source: Path) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """The complete JSON lines of a shard file with an id, as bytes and parsed; stops at a torn last line."""
    if not source.exists():
        return
    with source.open("rb") as handle:
        for line in handle:
            if not line.endswith(b"\n"):
                break  # a torn last line of a crashed shard
            try:
                record = json.loads(line)
                record["id"] = str(record["id"])
            except (ValueError, KeyError, TypeError):
                continue
            yield line, record


class _AtomicFile:
    """A binary file written under a temporary name and renamed over `target` (fsynced) on success only."""

    def __init__(self, target: Path):
        self.target = target
        self.tmp = target.with_name(target.name + ".merging")

    def __enter__(self) -> BinaryIO:
        self.handle = self.tmp.open("wb")
        return self.handle

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        if kind is not None:
            self.handle.close()
            self.tmp.unlink(missing_ok=True)
            return
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.replace(self.tmp, self.target)


def _sum_counters(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Add up numeric counters and counter dictionaries of several run.json files."""
    total: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, bool):
                continue
            if isinstance(value, (int, float)):
                total[key] = total.get(key, 0) + value
            elif isinstance(value, dict):
                bucket = total.setdefault(key, Counter())
                for name, count in value.items():
                    if isinstance(count, (int, float)) and not isinstance(count, bool):
                        bucket[name] += count
    return {k: dict(sorted(v.items())) if isinstance(v, Counter) else v for k, v in total.items()}


def _sum_accounting(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Tokens and cost of all shards: totals and per model."""
    models: dict[str, Counter] = {}
    total: Counter = Counter()
    for part in parts:
        for name, usage in (part.get("models") or {}).items():
            bucket = models.setdefault(name, Counter())
            for key in ("calls", "prompt_tokens", "completion_tokens", "cost_usd"):
                value = usage.get(key) or 0
                bucket[key] += value
                total[key] += value
    rounded = {k: round(v, 6) if isinstance(v, float) else v for k, v in total.items()}
    return {"total": rounded, "models": {k: dict(v) for k, v in sorted(models.items())}}


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
