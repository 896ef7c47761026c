"""The quality gate inside `generate`: dedup against a dataset, decontamination, the judge, bad files.

Runs the real command against the loopback OpenAI server; the gate's units are tested in
test_quality_gate.py and its parts in test_quality_*.py.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from agentinstruct.quality.text import words
from agentinstruct.testing import OpenAIServer
from test_cli import agent_responder, generate, read_jsonl

pytestmark = pytest.mark.timeout(120)

SMALL = ("--skills", "reading_comprehension", "--max-documents", "2", "--seed", "5", "--concurrency", "4")


def judging_responder(body: dict) -> object:
    """`agent_responder`, plus a judge that scores by a hash of the conversation (0-10, spread evenly)."""
    schema = (body.get("response_format") or {}).get("json_schema", {}).get("name")
    if schema == "JudgeVerdict":
        user = body["messages"][-1]["content"]
        score = int(hashlib.sha256(user.encode()).hexdigest()[:4], 16) % 11
        return {"score": score, "rationale": f"scored {score} by the test judge"}
    return agent_responder(body)


@pytest.fixture
def server(openai_server: OpenAIServer) -> OpenAIServer:
    openai_server.responder = judging_responder
    return openai_server


@pytest.fixture
def first_run(server, tmp_path) -> Path:
    out = tmp_path / "first"
    result = generate(out, server, *SMALL)
    assert result.exit_code == 0, result.output
    return out


def test_every_pair_passes_the_gate_and_run_json_counts_it(first_run):
    pairs = read_jsonl(first_run / "pairs.jsonl")
    counters = json.loads((first_run / "run.json").read_text())["counters"]
    assert len(pairs) >= 5
    assert counters["quality_checked"] == counters["quality_passed"] + sum(
        counters["quality_rejected_per_reason"].values()
    )
    assert counters["quality_passed"] == len(pairs) and counters["dedup_indexed"] == len(pairs)


def test_dedup_against_a_previous_dataset_rejects_what_it_already_holds(server, first_run, tmp_path):
    out = tmp_path / "second"
    previous = first_run / "pairs.jsonl"
    result = generate(out, server, *SMALL, "--dedup-against", str(previous))
    assert result.exit_code == 0, result.output
    assert read_jsonl(out / "pairs.jsonl") == []  # the same seed asks the same questions again
    rejections = [r for r in read_jsonl(out / "rejected.jsonl") if r["stage"] == "quality"]
    first_ids = {p["id"] for p in read_jsonl(previous)}
    assert len(rejections) == len(first_ids)
    for rejection in rejections:
        assert rejection["reason"] == "dedup:exact"
        duplicate = rejection["lineage"]["quality"]["duplicate_of"]
        file_name, _, pair_id = duplicate["id"].partition("#")  # the item as "<file name>#<its id>"
        assert file_name == previous.name and pair_id in first_ids, duplicate
        assert duplicate["source"] == str(previous)


def test_decontamination_rejects_pairs_that_contain_a_benchmark_item(server, first_run, tmp_path):
    planted = read_jsonl(first_run / "pairs.jsonl")[0]
    item_text = " ".join(planted["messages"][1]["content"].split()[-25:])  # ends with the question
    benchmark = tmp_path / "bench_test.jsonl"
    rows = [
        {"id": "clean-1", "question": "What is the boiling point of water at sea level in degrees Celsius?"},
        {"id": "planted", "question": item_text},
    ]
    benchmark.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "decontaminated"
    result = generate(out, server, *SMALL, "--decontaminate", str(benchmark))
    assert result.exit_code == 0, result.output

    rejected = [r for r in read_jsonl(out / "rejected.jsonl") if r["reason"] == "decontamination:bench_test"]
    assert planted["messages"] in [r["messages"] for r in rejected]
    for rejection in rejected:
        contamination = rejection["lineage"]["quality"]["contamination"]
        assert contamination["file"] == str(benchmark) and contamination["item"] == "planted"
        turns = " ".join(m["content"] for m in rejection["messages"] if m["role"] == contamination["role"])
        assert contamination["span"] and contamination["span"] in " ".join(words(turns))  # normalised words
    kept = read_jsonl(out / "pairs.jsonl")
    assert kept and planted["messages"] not in [p["messages"] for p in kept]
    assert len(kept) + len(rejected) == len(read_jsonl(first_run / "pairs.jsonl"))


def test_the_judge_scores_every_pair_and_the_minimum_score_filters(server, tmp_path):
    out = tmp_path / "judged"
    result = generate(out, server, *SMALL, "--judge-model", "test-model", "--min-judge-score", "5")
    assert result.exit_code == 0, result.output
    pairs = read_jsonl(out / "pairs.jsonl")
    low = [r for r in read_jsonl(out / "rejected.jsonl") if r["reason"] == "judge:low_score"]
    assert pairs and low  # the hash-based scores fall on both sides of 5
    assert all(p["quality"]["judge_score"] >= 5 for p in pairs)
    assert all(r["lineage"]["quality"]["judge"]["score"] < 5 for r in low)

    summary = json.loads((out / "run.json").read_text())
    assert [m["name"] for m in summary["models"]] == ["test-model"]  # the judge shares the generator
    assert summary["config"]["quality"]["judge"] == {
        **summary["config"]["quality"]["judge"],
        "min_score": 5.0,
    }
    store = sqlite3.connect(out / "state.sqlite")
    (judge_calls,) = store.execute("SELECT count(*) FROM calls WHERE tag LIKE '%/judge'").fetchone()
    assert judge_calls >= len(pairs) + len(low)
    # the judge's call is part of each pair's lineage
    judge_ids = {row[0] for row in store.execute("SELECT key FROM calls WHERE tag LIKE '%/judge'")}
    assert all(judge_ids & set(p["lineage"]["call_ids"]) for p in pairs)


def test_a_missing_benchmark_file_stops_before_any_model_call(server, tmp_path):
    missing = tmp_path / "no_such_benchmark.jsonl"
    result = generate(tmp_path / "out", server, *SMALL, "--decontaminate", str(missing))
    assert result.exit_code != 0
    assert "no_such_benchmark.jsonl" in result.output and "quality" in result.output
    assert server.request_count == 0


def test_an_out_of_range_judge_score_is_a_config_error(server, tmp_path):
    result = generate(tmp_path / "out", server, *SMALL, "--judge-model", "m", "--min-judge-score", "11")
    assert result.exit_code != 0 and "min_score" in result.output
    assert server.request_count == 0


def test_a_dedup_threshold_without_a_band_layout_is_refused_with_the_fix(server, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("quality:\n  dedup:\n    threshold: 0.99\n")
    result = generate(tmp_path / "out", server, *SMALL, "--config", str(config))
    assert result.exit_code != 0 and "lower the threshold or raise num_perm" in result.output
    assert server.request_count == 0
