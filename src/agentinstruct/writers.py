"""Output files of a run: `pairs.jsonl`, `rejected.jsonl` and `run.json` (SPEC §3).

Each line is appended with a single flushed write as its result arrives, so a killed process (SIGKILL)
loses at most the line being written. Making lines survive a power loss takes an fsync, which costs
milliseconds: `durable()` does it in a worker thread and one fsync serves every caller waiting at that
moment (group commit), so the event loop never blocks on the disk. The pipeline awaits `durable()`
before it records a unit as finished, so a unit is never marked done ahead of its pairs. On start the
writer streams back the ids already on disk, so a resumed run never writes a pair or a rejection twice;
a torn last line left by a crash is cut off before appending. The writer also enforces `--max-pairs`.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentinstruct.pairs import Pair, Rejection


def _scan(path: Path, visit: Callable[[dict[str, Any]], None]) -> None:
    """Visit each JSON line of a file, streaming, and cut off an incomplete last line left by a crash."""
    if not path.exists():
        return
    good_bytes = 0
    with path.open("rb") as handle:
        for line in handle:
            if not line.endswith(b"\n"):
                break
            try:
                visit(json.loads(line))
            except json.JSONDecodeError:
                break
            good_bytes += len(line)
    if good_bytes != path.stat().st_size:
        with path.open("r+b") as handle:
            handle.truncate(good_bytes)


class OutputWriter:
    """Appends pairs and rejections durably, deduplicating by id, and counts what it wrote."""

    def __init__(self, out_dir: Path, *, max_pairs: int | None = None, fsync: bool = True):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.max_pairs = max_pairs
        self.fsync = fsync
        self.pairs_path = self.out_dir / "pairs.jsonl"
        self.rejected_path = self.out_dir / "rejected.jsonl"
        self._pair_ids: set[str] = set()
        self._rejection_ids: set[str] = set()
        self.pairs_per_skill: Counter[str] = Counter()
        self.pairs_per_type: Counter[str] = Counter()
        self.rejections: Counter[str] = Counter()
        self.rejections_per_skill: Counter[str] = Counter()
        self.unanswerable = 0
        _scan(self.pairs_path, self._count_pair)
        _scan(self.rejected_path, self._count_rejection)
        self.resumed_pairs = len(self._pair_ids)
        self.new_pairs = 0
        self.duplicates = 0
        self._pairs = self.pairs_path.open("a", encoding="utf-8")
        self._rejected = self.rejected_path.open("a", encoding="utf-8")
        #: lines written / lines known to be on disk (for group commit)
        self._written = 0
        self._synced = 0
        self._sync_task: asyncio.Future[None] | None = None

    def _count_pair(self, record: dict[str, Any]) -> None:
        self._pair_ids.add(record["id"])
        self.pairs_per_skill[record["skill"]] += 1
        self.pairs_per_type[f"{record['skill']}/{record['instruction_type']}"] += 1
        self.unanswerable += int(bool(record.get("unanswerable")))

    def _count_rejection(self, record: dict[str, Any]) -> None:
        self._rejection_ids.add(record["id"])
        self.rejections[record["reason"]] += 1
        self.rejections_per_skill[rejection_skill(record)] += 1

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
        record = pair.model_dump(mode="json")
        self._append(self._pairs, record)
        self._count_pair(record)
        self.new_pairs += 1
        return True

    def reject(self, rejection: Rejection) -> None:
        """Append a rejection unless the same one is already recorded."""
        if rejection.id in self._rejection_ids:
            return
        record = rejection.model_dump(mode="json", exclude_none=True)
        self._append(self._rejected, record)
        self._count_rejection(record)

    def _append(self, handle: Any, record: dict[str, Any]) -> None:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        handle.flush()
        self._written += 1

    async def durable(self) -> None:
        """Return once every line written so far is on disk (fsync, shared by concurrent callers)."""
        if not self.fsync:
            return
        target = self._written
        while self._synced < target:
            if self._sync_task is None or self._sync_task.done():
                self._sync_task = asyncio.ensure_future(self._sync_once())
            await asyncio.shield(self._sync_task)

    async def _sync_once(self) -> None:
        upto = self._written
        await asyncio.to_thread(self.sync)
        self._synced = max(self._synced, upto)

    def sync(self) -> None:
        """fsync both files now (blocking)."""
        if self.fsync:
            for handle in (self._pairs, self._rejected):
                try:
                    os.fsync(handle.fileno())
                except (ValueError, OSError):
                    if not handle.closed:  # closed by close() meanwhile: close() synced it
                        raise

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
            "rejections_per_skill": dict(sorted(self.rejections_per_skill.items())),
        }

    def close(self) -> None:
        self.sync()
        self._pairs.close()
        self._rejected.close()


def rejection_skill(record: dict[str, Any]) -> str:
    """The skill a rejection counts under in run.json; "(document)" for inputs no skill got to see."""
    return str(record.get("skill") or "(document)")


def write_json_atomic(path: Path, data: dict[str, Any], *, fsync: bool = True) -> None:
    """Write a JSON file so readers never see it half-written (a crash leaves the old or the new one)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
        handle.flush()
        if fsync:
            os.fsync(handle.fileno())
    os.replace(tmp, path)
