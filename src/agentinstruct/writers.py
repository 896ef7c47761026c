"""Output files of a run: `pairs.jsonl`, `rejected.jsonl` and `run.json` (SPEC §3).

Lines are appended as results arrive and made durable (flush + fsync) before the writer reports
success, so a crash loses at most the line being written. On start the writer reads back the ids
already on disk, so a resumed run never writes a pair or a rejection twice; a torn last line left by
a crash is cut off before appending. The writer also enforces `--max-pairs`.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from agentinstruct.pairs import Pair, Rejection


def _repair_and_read_ids(path: Path) -> list[dict[str, Any]]:
    """Read the JSON lines of a file, truncating an incomplete last line left by a crash."""
    if not path.exists():
        return []
    records, good_bytes = [], 0
    with path.open("rb") as handle:
        for line in handle:
            if not line.endswith(b"\n"):
                break
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
            good_bytes += len(line)
    if good_bytes != path.stat().st_size:
        with path.open("r+b") as handle:
            handle.truncate(good_bytes)
    return records


class OutputWriter:
    """Appends pairs and rejections durably, deduplicating by id, and counts what it wrote."""

    def __init__(self, out_dir: Path, *, max_pairs: int | None = None, fsync: bool = True):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.max_pairs = max_pairs
        self.fsync = fsync
        self.pairs_path = self.out_dir / "pairs.jsonl"
        self.rejected_path = self.out_dir / "rejected.jsonl"
        existing_pairs = _repair_and_read_ids(self.pairs_path)
        existing_rejections = _repair_and_read_ids(self.rejected_path)
        self._pair_ids = {p["id"] for p in existing_pairs}
        self._rejection_ids = {r["id"] for r in existing_rejections}
        self.pairs_per_skill: Counter[str] = Counter(p["skill"] for p in existing_pairs)
        self.pairs_per_type: Counter[str] = Counter(
            f"{p['skill']}/{p['instruction_type']}" for p in existing_pairs
        )
        self.unanswerable = sum(1 for p in existing_pairs if p.get("unanswerable"))
        self.rejections: Counter[str] = Counter(r["reason"] for r in existing_rejections)
        self.resumed_pairs = len(existing_pairs)
        self.new_pairs = 0
        self.duplicates = 0
        self._pairs = self.pairs_path.open("a", encoding="utf-8")
        self._rejected = self.rejected_path.open("a", encoding="utf-8")

    @property
    def pair_count(self) -> int:
        return len(self._pair_ids)

    @property
    def full(self) -> bool:
        return self.max_pairs is not None and self.pair_count >= self.max_pairs

    def accept(self, pair: Pair) -> bool:
        """Append a pair unless it is a duplicate or the pair limit is reached; True when written."""
        if pair.id in self._pair_ids:
            self.duplicates += 1
            return False
        if self.full:
            return False
        self._append(self._pairs, pair.model_dump(mode="json"))
        self._pair_ids.add(pair.id)
        self.pairs_per_skill[pair.skill] += 1
        self.pairs_per_type[f"{pair.skill}/{pair.instruction_type}"] += 1
        self.unanswerable += int(pair.unanswerable)
        self.new_pairs += 1
        return True

    def reject(self, rejection: Rejection) -> None:
        """Append a rejection unless the same one is already recorded."""
        if rejection.id in self._rejection_ids:
            return
        self._append(self._rejected, rejection.model_dump(mode="json", exclude_none=True))
        self._rejection_ids.add(rejection.id)
        self.rejections[rejection.reason] += 1

    def _append(self, handle: Any, record: dict[str, Any]) -> None:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        handle.flush()
        if self.fsync:
            os.fsync(handle.fileno())

    def counters(self) -> dict[str, Any]:
        """Pair and rejection counts for run.json."""
        return {
            "pairs": self.pair_count,
            "pairs_this_run": self.new_pairs,
            "pairs_resumed": self.resumed_pairs,
            "pairs_per_skill": dict(sorted(self.pairs_per_skill.items())),
            "pairs_per_instruction_type": dict(sorted(self.pairs_per_type.items())),
            "unanswerable_pairs": self.unanswerable,
            "duplicate_pairs_skipped": self.duplicates,
            "rejections": sum(self.rejections.values()),
            "rejections_per_reason": dict(sorted(self.rejections.items())),
        }

    def close(self) -> None:
        self._pairs.close()
        self._rejected.close()


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write a JSON file so readers never see it half-written."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
