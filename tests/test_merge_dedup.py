"""`merge` removes exact and near duplicates across shards with the run's dedup settings (the pair of the
lowest rank is kept), records them as the quality gate would, and stays atomic and idempotent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agentinstruct.cli import app
from agentinstruct.merging import merge
from agentinstruct.pairs import Pair, Rejection
from agentinstruct.quality.gate import QualityGate, quality_rejection
from agentinstruct.quality.settings import QualitySettings
from agentinstruct.sharding import ShardError
from quality_fixtures import make_pair as fixture_pair

pytestmark = pytest.mark.timeout(120)

PASSAGE = (
    "The harbour commission met in 1998 to decide whether the old breakwater should be rebuilt. Engineers "
    "estimated the cost at 40 million and argued that storms had doubled since the last repair, while the "
    "fishermen wanted the money spent on dredging the channel first."
)
OTHER_PASSAGE = (
    "A city council debated a congestion charge for the old town. Traffic engineers predicted a fall of a "
    "fifth in car journeys, while shop owners feared losing customers to the out-of-town shopping centres."
)


def make_pair(question: str, answer: str, **fields: Any) -> Pair:
    """A reading-comprehension pair (`quality_fixtures.make_pair`) about this file's passage, verified."""
    fields.setdefault("passage", PASSAGE)
    verification = {"status": "passed", "checks": [{"name": "grounded", "ok": True}]}
    return fixture_pair(question, answer, verification=verification, **fields)


# shard 0 keeps these
COST = make_pair(
    "What did the engineers estimate the cost of rebuilding the breakwater at?",
    "The engineers estimated the cost at 40 million.",
)
STRENGTHEN = make_pair(
    "Which one of the following, if true, most strengthens the engineers' argument?",
    "That storms have doubled since the last repair, which makes the old breakwater unsafe.",
)
FISHERMEN = make_pair(
    "What did the fishermen want the money spent on first?",
    "They wanted it spent on dredging the channel first.",
)
# shard 1: an exact duplicate of COST (same instruction up to case and punctuation, another answer), a near
# duplicate of STRENGTHEN (reworded), a pair distinct from everything, and FISHERMEN again (same id)
COST_AGAIN = make_pair(
    "what did the engineers estimate the cost of rebuilding the breakwater at",
    "About 40 million, according to the engineers.",
)
STRENGTHEN_REWORDED = make_pair(
    "Which of the following, if true, most strengthens the engineers' argument?",
    "Evidence that storms have doubled since the last repair.",
)
TRAFFIC = make_pair(
    "By how much did the traffic engineers predict car journeys would fall?",
    "They predicted a fall of a fifth.",
    passage=OTHER_PASSAGE,
    document="doc-2",
)
SHARD_REJECTION = Rejection(
    id=Rejection.make_id("quality", "x", "filter:too_short"),
    skill="reading_comprehension",
    stage="quality",
    reason="filter:too_short",
    detail="answer has 1 word",
)


def record(pair: Pair) -> dict[str, Any]:
    return pair.model_dump(mode="json")


def write_shard(
    out: Path,
    rank: int,
    world: int,
    pairs: list[Pair],
    rejections: list[Rejection] = (),
    *,
    quality: dict[str, Any] | None = None,
    status: str = "finished",
    tail: str = "",
) -> Path:
    """A shard directory as `generate --shard RANK/WORLD` leaves it (`quality` None: no config recorded)."""
    directory = out / "shards" / f"{rank}-of-{world}"
    directory.mkdir(parents=True)
    lines = [json.dumps(record(p), ensure_ascii=False) + "\n" for p in pairs]
    (directory / "pairs.jsonl").write_text("".join(lines) + tail, encoding="utf-8")
    (directory / "rejected.jsonl").write_text(
        "".join(json.dumps(r.model_dump(mode="json", exclude_none=True)) + "\n" for r in rejections),
        encoding="utf-8",
    )
    summary: dict[str, Any] = {
        "status": status,
        "shard": f"{rank}/{world}",
        "counters": {
            "pairs": len(pairs),
            "pairs_this_run": len(pairs),
            "rejections": len(rejections),
            "rejections_per_reason": {r.reason: 1 for r in rejections},
            "quality_passed": len(pairs),
        },
        "accounting": {"models": {"test-model": {"calls": 3, "prompt_tokens": 100, "completion_tokens": 50}}},
    }
    if quality is not None:
        summary["config"] = {"model": "test-model", "shard": f"{rank}/{world}", "quality": quality}
    (directory / "run.json").write_text(json.dumps(summary), encoding="utf-8")
    return directory


def quality_config(**dedup: Any) -> dict[str, Any]:
    """`config.quality` as run.json records it, with dedup settings changed."""
    settings = QualitySettings.model_validate({"dedup": dedup})
    return settings.model_dump(mode="json")


def two_shards(out: Path, quality: dict[str, Any] | None = None, **options: Any) -> None:
    quality = quality_config() if quality is None else quality
    write_shard(out, 0, 2, [COST, STRENGTHEN, FISHERMEN], quality=quality, **options)
    write_shard(
        out,
        1,
        2,
        [COST_AGAIN, TRAFFIC, STRENGTHEN_REWORDED, FISHERMEN],
        [SHARD_REJECTION],
        quality=quality,
    )


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def files(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in ("pairs.jsonl", "rejected.jsonl", "run.json")}


class ListSink:
    def __init__(self) -> None:
        self.pairs: list[Pair] = []
        self.rejections: list[Rejection] = []

    @property
    def full(self) -> bool:
        return False

    def accept(self, pair: Pair) -> bool:
        self.pairs.append(pair)
        return True

    def reject(self, rejection: Rejection) -> None:
        self.rejections.append(rejection)


def test_merge_removes_cross_shard_duplicates_keeping_the_lowest_rank(tmp_path):
    out = tmp_path / "out"
    two_shards(out)
    merged = merge(out)

    pairs = read_jsonl(out / "pairs.jsonl")
    assert [p["id"] for p in pairs] == [COST.id, STRENGTHEN.id, FISHERMEN.id, TRAFFIC.id]
    assert pairs == [record(p) for p in (COST, STRENGTHEN, FISHERMEN, TRAFFIC)]  # lines kept as they were

    rejections = read_jsonl(out / "rejected.jsonl")
    assert rejections[0] == SHARD_REJECTION.model_dump(mode="json", exclude_none=True)
    by_reason = {r["reason"]: r for r in rejections[1:]}
    assert set(by_reason) == {"dedup:exact", "dedup:near"} and len(rejections) == 3
    exact, near = by_reason["dedup:exact"], by_reason["dedup:near"]
    assert exact["id"] == Rejection.make_id("quality", COST_AGAIN.id, "dedup:exact")
    assert exact["stage"] == "quality" and exact["messages"] == COST_AGAIN.messages
    assert exact["lineage"]["quality"]["duplicate_of"] == {
        "id": COST.id,
        "kind": "exact",
        "similarity": 1.0,
        "source": "run",
    }
    assert exact["lineage"]["document"]["id"] == "doc-1" and exact["verification"]["status"] == "passed"
    assert near["messages"] == STRENGTHEN_REWORDED.messages
    found = near["lineage"]["quality"]["duplicate_of"]
    assert found["id"] == STRENGTHEN.id and found["kind"] == "near" and 0.7 <= found["similarity"] < 1
    assert near["detail"] == f"near duplicate of {STRENGTHEN.id} (similarity {found['similarity']:.2f})"

    # the rejections are exactly what the quality gate records for the same pairs in the same order
    gate_sink = ListSink()
    gate = QualityGate.from_settings(QualitySettings(), tmp_path / "gate", gate_sink)
    for pair in (COST, STRENGTHEN, FISHERMEN, COST_AGAIN, TRAFFIC, STRENGTHEN_REWORDED):
        gate.accept(pair)
    assert [r.model_dump(mode="json", exclude_none=True) for r in gate_sink.rejections] == rejections[1:]
    detail = f"exact duplicate of {COST.id} (similarity 1.00)"
    finding = {"duplicate_of": exact["lineage"]["quality"]["duplicate_of"]}
    expected = quality_rejection(COST_AGAIN, "dedup:exact", detail, finding)
    assert exact == expected.model_dump(mode="json", exclude_none=True)

    counters = json.loads((out / "run.json").read_text())["counters"]
    assert counters == merged["counters"]
    assert counters["merge_duplicates_removed"] == 2
    assert counters["merge_duplicates_per_kind"] == {"exact": 1, "near": 1}
    assert counters["pairs"] == len(pairs) == merged["pairs"] == 4
    assert counters["pairs_per_skill"] == {"reading_comprehension": 4}
    assert counters["rejections"] == len(rejections) == merged["rejections"] == 3
    assert counters["rejections_per_reason"] == {"dedup:exact": 1, "dedup:near": 1, "filter:too_short": 1}
    assert counters["rejections_per_skill"] == {"reading_comprehension": 3}  # the merged file's, not summed
    assert counters["pairs_this_run"] == 7 and counters["quality_passed"] == 7  # the shards' own, summed
    assert merged["status"] == "merged" and merged["dedup"]["near"] is True
    assert merged["accounting"]["total"]["calls"] == 6


def test_merging_again_gives_identical_files_and_leaves_no_temporary_files(tmp_path):
    out = tmp_path / "out"
    two_shards(out)
    merge(out)
    first = files(out)
    again = merge(out)
    assert files(out) == first
    assert again["counters"]["merge_duplicates_removed"] == 2
    assert sorted(p.name for p in out.iterdir()) == ["pairs.jsonl", "rejected.jsonl", "run.json", "shards"]


def test_with_dedup_off_merge_only_concatenates(tmp_path):
    out = tmp_path / "out"
    two_shards(out, quality_config(exact=False, near=False))
    merged = merge(out)
    ids = [p["id"] for p in read_jsonl(out / "pairs.jsonl")]
    # FISHERMEN's second copy is the same pair (same id): skipped, not a rejection
    assert ids == [COST.id, STRENGTHEN.id, FISHERMEN.id, COST_AGAIN.id, TRAFFIC.id, STRENGTHEN_REWORDED.id]
    assert [r["reason"] for r in read_jsonl(out / "rejected.jsonl")] == ["filter:too_short"]
    assert merged["counters"]["merge_duplicates_removed"] == 0 and merged["dedup"] is None
    assert merged["counters"]["pairs"] == merged["pairs"] == 6


def test_merge_follows_the_recorded_settings(tmp_path):
    only_exact = tmp_path / "exact"
    two_shards(only_exact, quality_config(near=False))
    merged = merge(only_exact)
    assert merged["counters"]["merge_duplicates_per_kind"] == {"exact": 1, "near": 0}
    assert STRENGTHEN_REWORDED.id in {p["id"] for p in read_jsonl(only_exact / "pairs.jsonl")}
    strict = tmp_path / "strict"
    two_shards(strict, quality_config(threshold=0.95))
    assert merge(strict)["counters"]["merge_duplicates_per_kind"] == {"exact": 1, "near": 0}
    # shards that recorded no quality settings merge with the defaults (exact and near on)
    defaults = tmp_path / "defaults"
    write_shard(defaults, 0, 2, [COST, STRENGTHEN])
    write_shard(defaults, 1, 2, [COST_AGAIN, STRENGTHEN_REWORDED])
    merged = merge(defaults)
    assert merged["counters"]["merge_duplicates_per_kind"] == {"exact": 1, "near": 1}
    assert merged["dedup"] == QualitySettings().dedup.model_dump(mode="json")


def test_scope_skill_keeps_duplicates_of_other_skills(tmp_path):
    out = tmp_path / "out"
    other_skill = make_pair(
        "What did the engineers estimate the cost of rebuilding the breakwater at?",
        "40 million.",
        skill="open_domain_qa",
    )
    quality = quality_config(scope="skill")
    write_shard(out, 0, 2, [COST], quality=quality)
    write_shard(out, 1, 2, [other_skill, COST_AGAIN], quality=quality)
    merge(out)
    assert [p["id"] for p in read_jsonl(out / "pairs.jsonl")] == [COST.id, other_skill.id]
    assert [r["reason"] for r in read_jsonl(out / "rejected.jsonl")] == ["dedup:exact"]


def test_merge_seeds_dedup_from_the_against_datasets(tmp_path):
    previous = tmp_path / "previous_release.jsonl"
    previous.write_text(json.dumps(record(TRAFFIC)) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    two_shards(out, quality_config(against=[str(previous)]))
    merged = merge(out)
    assert TRAFFIC.id not in {p["id"] for p in read_jsonl(out / "pairs.jsonl")}
    against = [r for r in read_jsonl(out / "rejected.jsonl") if r["messages"] == TRAFFIC.messages]
    assert len(against) == 1
    assert against[0]["lineage"]["quality"]["duplicate_of"]["source"] == str(previous)
    assert against[0]["detail"].endswith(f"from {previous} (similarity 1.00)")
    assert merged["counters"]["merge_duplicates_removed"] == 3
    previous.unlink()
    with pytest.raises(ShardError, match=r"previous_release\.jsonl"):
        merge(out)
    assert merged["pairs"] == len(read_jsonl(out / "pairs.jsonl"))  # the failed merge left OUT as it was
    assert not list(out.glob("*.merging"))


def test_unfinished_shards_are_refused_unless_allowed_and_torn_lines_are_skipped(tmp_path):
    out = tmp_path / "out"
    write_shard(out, 0, 2, [COST, STRENGTHEN], quality=quality_config())
    torn = json.dumps(record(TRAFFIC))[:40]
    write_shard(out, 1, 2, [COST_AGAIN], quality=quality_config(), status="running", tail=torn)
    with pytest.raises(ShardError, match=r"shards \[1\] have not finished"):
        merge(out)
    assert not (out / "pairs.jsonl").exists()
    merged = merge(out, allow_unfinished=True)
    assert merged["status"] == "merged_partial"
    assert [p["id"] for p in read_jsonl(out / "pairs.jsonl")] == [COST.id, STRENGTHEN.id]
    assert merged["counters"]["pairs"] == 2 and merged["counters"]["merge_duplicates_removed"] == 1


def test_the_merge_command_reports_the_merged_counts(tmp_path):
    out = tmp_path / "out"
    two_shards(out)
    result = CliRunner().invoke(app, ["merge", str(out)])
    assert result.exit_code == 0, result.output
    assert "4 pairs, 3 rejections from 2 shards" in " ".join(result.output.split())


def test_a_merge_that_fails_half_way_leaves_the_previous_merge_in_place(tmp_path, monkeypatch):
    out = tmp_path / "out"
    two_shards(out)
    merge(out)
    before = files(out)

    def broken(*_: Any) -> Rejection:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("agentinstruct.quality.gate.duplicate_rejection", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        merge(out)
    assert files(out) == before
    assert not list(out.glob("*.merging"))
