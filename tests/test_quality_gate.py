"""The quality gate in front of the real OutputWriter: what it forwards, what it rejects and how."""

from __future__ import annotations

import asyncio
import json

import pytest

from agentinstruct.models.scripted import ScriptedModel
from agentinstruct.pairs import Pair, Rejection
from agentinstruct.quality.gate import JudgeNotAwaited, QualityGate, deliver
from agentinstruct.quality.settings import QualitySettings
from agentinstruct.writers import OutputWriter
from quality_fixtures import PASSAGE, make_pair

BENCHMARK_ITEM = (
    "A train leaves the station at nine in the morning travelling at sixty miles per hour toward a city "
    "that lies one hundred and eighty miles away. At what time does it arrive?"
)


def read(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def benchmark_file(tmp_path):
    path = tmp_path / "trains.jsonl"
    path.write_text(json.dumps({"id": "t-1", "question": BENCHMARK_ITEM}) + "\n")
    return path


def gate_for(out, settings=None, **kwargs) -> tuple[QualityGate, OutputWriter]:
    writer = OutputWriter(out, fsync=False)
    return QualityGate.from_settings(settings or QualitySettings(), out, writer, **kwargs), writer


def test_forwards_good_pairs_and_rejects_with_reason_detail_and_lineage(tmp_path, benchmark_file):
    out = tmp_path / "out"
    gate, writer = gate_for(out, QualitySettings().with_flags(decontaminate=[benchmark_file]))
    first = make_pair("Which one of the following, if true, most strengthens the engineers' argument?")
    assert gate.accept(first)
    assert not gate.accept(
        make_pair("Which one of the following, if true, most strengthens the engineers argument")
    )
    assert not gate.accept(
        make_pair("Which of the following, if true, most strengthens the engineers' argument?")
    )
    assert not gate.accept(
        make_pair("What did the engineers estimate?", answer="They estimated it at 40 and")
    )
    assert not gate.accept(make_pair(BENCHMARK_ITEM, passage=""))
    assert gate.accept(make_pair("What did the fishermen want the money spent on first?"))
    writer.close()
    assert [p["id"] for p in read(out / "pairs.jsonl")] == [first.id, read(out / "pairs.jsonl")[1]["id"]]
    rejected = {r["reason"]: r for r in read(out / "rejected.jsonl")}
    assert set(rejected) == {"dedup:exact", "dedup:near", "filter:truncated", "decontamination:trains"}
    for reason in ("dedup:exact", "dedup:near"):
        record = rejected[reason]
        assert record["lineage"]["quality"]["duplicate_of"]["id"] == first.id and first.id in record["detail"]
        assert record["stage"] == "quality" and record["messages"][1]["content"].startswith(PASSAGE[:40])
        assert record["lineage"]["document"]["id"] == "doc-1" and record["skill"] == "reading_comprehension"
    contamination = rejected["decontamination:trains"]["lineage"]["quality"]["contamination"]
    assert contamination["file"] == str(benchmark_file) and contamination["item"] == "t-1"
    assert "a train leaves the station" in contamination["span"]
    assert rejected["filter:truncated"]["lineage"]["quality"] == {"filter": "truncated"}
    assert gate.counters()["quality_rejected_per_reason"]["dedup:near"] == 1
    assert gate.counters()["quality_passed"] == 2


def test_resume_does_not_accept_a_near_duplicate_of_a_pair_written_before(tmp_path):
    out = tmp_path / "out"
    gate, writer = gate_for(out)
    before = make_pair("Which one of the following, if true, most weakens the fishermen's position?")
    assert gate.accept(before)
    writer.close()
    gate, writer = gate_for(out)  # a new process resuming into the same OUT
    assert not gate.accept(
        make_pair("Which of the following, if true, most weakens the fishermen's position?")
    )
    assert not gate.accept(
        before
    )  # re-delivered: the writer skips it by id, it is not a "duplicate" rejection
    assert writer.duplicates == 1
    writer.close()
    assert [r["reason"] for r in read(out / "rejected.jsonl")] == ["dedup:near"]


def test_dedup_against_an_existing_dataset(tmp_path):
    existing = tmp_path / "previous.jsonl"
    old = make_pair("What is the main point of disagreement between the fishermen and the engineers?")
    existing.write_text(json.dumps(old.model_dump(mode="json")) + "\n")
    gate, writer = gate_for(tmp_path / "out", QualitySettings().with_flags(dedup_against=[existing]))
    assert not gate.accept(
        make_pair("What is the main point of disagreement between the fishermen and engineers?")
    )
    writer.close()
    [rejection] = read(tmp_path / "out" / "rejected.jsonl")
    assert rejection["lineage"]["quality"]["duplicate_of"]["source"] == str(existing)


def test_judge_scores_filter_and_are_written(tmp_path):
    scores = iter([9, 2])
    model = ScriptedModel(lambda request: {"score": next(scores), "rationale": "graded"})
    settings = QualitySettings().with_flags(judge_model="judge", min_judge_score=5)
    gate, writer = gate_for(tmp_path / "out", settings, judge_model=model)
    good = make_pair("What did the engineers estimate the cost at?")
    bad = make_pair("What did the fishermen want the money spent on first?")
    with pytest.raises(JudgeNotAwaited):
        gate.accept(good)
    assert asyncio.run(deliver(gate, good))
    assert not asyncio.run(gate.accept_async(bad))
    writer.close()
    [written] = read(tmp_path / "out" / "pairs.jsonl")
    assert written["id"] == good.id and written["quality"]["judge_score"] == 9.0
    [rejection] = read(tmp_path / "out" / "rejected.jsonl")
    assert rejection["reason"] == "judge:low_score" and rejection["lineage"]["quality"]["judge"]["score"] == 2
    assert "2 < 5" in rejection["detail"]


def test_near_duplicates_judged_at_the_same_time_are_not_both_accepted(tmp_path):
    async def slow_judge(request):
        await asyncio.sleep(0.01)
        return {"score": 8, "rationale": "fine"}

    gate, writer = gate_for(
        tmp_path / "out",
        judge_model=ScriptedModel(slow_judge),
        settings=QualitySettings().with_flags(judge_model="judge"),
    )
    twins = [
        make_pair("Which one of the following, if true, most strengthens the engineers' argument?"),
        make_pair("Which of the following, if true, most strengthens the engineers' argument?"),
    ]

    async def both():
        return await asyncio.gather(*(gate.accept_async(p) for p in twins))

    assert sorted(asyncio.run(both())) == [False, True]
    writer.close()
    assert [r["reason"] for r in read(tmp_path / "out" / "rejected.jsonl")] == ["dedup:near"]


def test_gate_is_a_sink_for_any_sink_and_passes_rejections_through():
    class ListSink:
        def __init__(self):
            self.pairs: list[Pair] = []
            self.rejections: list[Rejection] = []

        @property
        def full(self) -> bool:
            return len(self.pairs) >= 1

        def accept(self, pair: Pair) -> bool:
            if self.full:
                return False
            self.pairs.append(pair)
            return True

        def reject(self, rejection: Rejection) -> None:
            self.rejections.append(rejection)

    sink = ListSink()
    gate = QualityGate(sink)  # filters only: no dedup index, no benchmark_file, no judge
    assert not gate.full
    assert asyncio.run(deliver(gate, make_pair("What did the engineers estimate the cost at?")))
    assert gate.full
    late = make_pair("What did the engineers estimate?", answer="They estimated it at 40 and")
    assert not gate.accept(late) and sink.rejections == []  # nothing is screened once the sink is full
    gate.reject(Rejection(id="x", stage="document", reason="document:empty"))
    assert [r.reason for r in sink.rejections] == ["document:empty"]


def test_a_configured_judge_model_must_be_passed(tmp_path):
    with pytest.raises(ValueError, match="judge model"):
        gate_for(tmp_path / "out", QualitySettings().with_flags(judge_model="gpt-judge"))
