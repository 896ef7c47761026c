"""Partitioning a run by document so N processes or machines each take a shard and write their own part.

A shard is `rank` of `world` (0 <= rank < world). Which shard owns a document is a pure function of its
id (`shard_of`: sha256 of the id, modulo the world size): no coordination, no shared state, the same
answer on every machine. Everything here is independent of the single-process runner, so an executor
(e.g. one Ray task per shard) only needs `Shard.parse("r/w")` and `agentinstruct.pipeline.run` with
`RunConfig(shard="r/w")`.

Layout of a sharded output directory (each shard writes only below its own directory)::

    OUT/shards/0-of-4/pairs.jsonl      accepted pairs of shard 0
    OUT/shards/0-of-4/rejected.jsonl   its rejections
    OUT/shards/0-of-4/run.json         its run summary (status, counters, tokens, cost)
    OUT/shards/0-of-4/state.sqlite     its call store and unit table (resume is per shard)
    OUT/shards/1-of-4/...

Each shard streams the whole input but runs only the units of the documents it owns; the position of a
seed among a skill's seeds (which steers taxonomy coverage) is counted over the whole input, so the
union of the shards' pairs is exactly what one unsharded run with the same settings would produce.
Readers use `output_parts(OUT)`; `agentinstruct.merging.merge(OUT)` concatenates the shards into
`OUT/pairs.jsonl`, `OUT/rejected.jsonl` and `OUT/run.json` once every shard has finished.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SHARDS_DIR = "shards"
_SHARD_DIR = re.compile(r"^(\d+)-of-(\d+)$")


class ShardError(ValueError):
    """A shard specification or a sharded output directory is invalid; the message names the fix."""


def shard_of(key: str, world: int) -> int:
    """The rank (0..world-1) that owns `key` (a document id): sha256 of the key, modulo `world`."""
    if world < 1:
        raise ShardError(f"the world size must be at least 1, got {world}")
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % world


@dataclass(frozen=True)
class Shard:
    """Rank `rank` of `world` shards."""

    rank: int
    world: int

    def __post_init__(self) -> None:
        if self.world < 1 or not 0 <= self.rank < self.world:
            raise ShardError(
                f"invalid shard {self.rank}/{self.world}: use RANK/WORLD with 0 <= RANK < WORLD, e.g. 0/4"
            )

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`"RANK/WORLD"` (e.g. "2/8") to a Shard."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
        if not match:
            raise ShardError(f"invalid shard {text!r}: use RANK/WORLD with 0 <= RANK < WORLD, e.g. 0/4")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.rank}/{self.world}"

    @property
    def name(self) -> str:
        return f"{self.rank}-of-{self.world}"

    def owns(self, key: str) -> bool:
        """Whether this shard runs the document with this id (or records this failed source)."""
        return self.world == 1 or shard_of(key, self.world) == self.rank

    def directory(self, out: Path) -> Path:
        """Where this shard writes: `OUT/shards/RANK-of-WORLD`."""
        return Path(out) / SHARDS_DIR / self.name


def run_shard(config: Any, rank: int, world: int, **options: Any) -> dict[str, Any]:
    """Run shard `rank` of `world` of a `RunConfig` to completion (what one executor task does).

    Re-running it resumes that shard; shards share nothing, so they may run anywhere in any order.
    """
    from agentinstruct.pipeline import run

    return run(config.model_copy(update={"shard": str(Shard(rank, world))}), **options)


def shard_store(out: Path, shard: Shard) -> Any:
    """The shard's own state store (call store, unit table), e.g. for an executor to check progress."""
    from agentinstruct.store import RunStore

    return RunStore(shard.directory(out) / "state.sqlite")


def shard_directories(out: Path) -> list[tuple[Shard, Path]]:
    """The shard directories under `OUT/shards`, ordered by world size then rank."""
    base = Path(out) / SHARDS_DIR
    if not base.is_dir():
        return []
    found = []
    for path in base.iterdir():
        match = _SHARD_DIR.match(path.name)
        if match and path.is_dir():
            rank, world = int(match.group(1)), int(match.group(2))
            if 0 <= rank < world:
                found.append((Shard(rank, world), path))
    return sorted(found, key=lambda item: (item[0].world, item[0].rank))


def output_parts(out: Path) -> list[Path]:
    """The directories holding a run's pairs.jsonl/rejected.jsonl/run.json: OUT itself, or its shards.

    OUT itself when it has its own pairs.jsonl (a single-process run, or merged shards), else every shard
    directory (which may be empty when nothing has run yet).
    """
    out = Path(out)
    if (out / "pairs.jsonl").exists() or (out / "run.json").exists():
        return [out]
    return [path for _, path in shard_directories(out)]


def check_layout(out: Path, shard: Shard | None) -> None:
    """Refuse to mix a sharded and an unsharded run, or two world sizes, in one output directory."""
    out = Path(out)
    shards = shard_directories(out)
    if shard is None:
        if shards and not (out / "state.sqlite").exists():
            worlds = sorted({s.world for s, _ in shards})
            raise ShardError(
                f"{out} holds a sharded run (world size {', '.join(map(str, worlds))}); re-run each "
                f"shard with --shard RANK/{worlds[0]}, merge them with `agentinstruct merge {out}`, "
                "or use a new --out"
            )
        return
    if (out / "state.sqlite").exists():
        raise ShardError(
            f"{out} holds an unsharded run; resume it without --shard, or use a new --out for a sharded run"
        )
    other = sorted({s.world for s, _ in shards if s.world != shard.world})
    if other:
        raise ShardError(
            f"{out} holds shards of world size {', '.join(map(str, other))}, not {shard.world}; keep the "
            "same world size to resume (documents are partitioned by it), or use a new --out"
        )
