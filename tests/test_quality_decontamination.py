"""Decontamination: a planted benchmark item is caught from JSONL, Parquet and CSV; clean pairs pass."""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from agentinstruct.quality.decontamination import BenchmarkIndex
from agentinstruct.quality.settings import DecontaminationSettings
from quality_fixtures import make_pair

PLANTED = (
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether in April and May?"
)
OTHER_ITEMS = [
    "Weng earns 12 dollars an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. "
    "How much did she earn?",
    "Betty is saving money for a new wallet which costs 100 dollars. Betty has only half of the money "
    "she needs. How much more money does Betty need to buy the wallet?",
]


def write_benchmark(path, rows: list[dict]) -> None:
    if path.suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    elif path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def rows_with_planted() -> list[dict]:
    questions = [*OTHER_ITEMS, PLANTED]
    return [{"id": f"gsm-{i}", "question": q, "answer": "72", "level": 2} for i, q in enumerate(questions)]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".csv"])
def test_planted_item_is_caught_and_clean_pairs_pass(tmp_path, suffix):
    benchmark = tmp_path / f"gsm8k_test{suffix}"
    write_benchmark(benchmark, rows_with_planted())
    index = BenchmarkIndex.from_settings(DecontaminationSettings(files=[benchmark]))
    assert index.items == 3
    contaminated = make_pair(
        "Solve this: " + PLANTED.upper().replace(",", " ;") + " Show your work.",
        answer="She sold 48 + 24 = 72 clips.",
        passage="",
    )
    match = index.check(contaminated)
    assert match is not None
    assert match.file == str(benchmark) and match.item == "gsm-2" and match.field == "question"
    assert match.role == "user" and match.overlap == 1.0
    assert "natalia sold clips to 48 of her friends in april" in match.span
    clean = make_pair("How many clips did the engineers sell to the fishermen in the harbour in April?")
    assert index.check(clean) is None


def test_contamination_in_the_answer_is_caught_too(tmp_path):
    index = BenchmarkIndex()
    index.add_texts("bench", [PLANTED])
    pair = make_pair(
        "Write a word problem about selling clips.", answer=f"Here is one: {PLANTED}", passage=""
    )
    assert index.check(pair).role == "assistant"
    only_user = BenchmarkIndex(DecontaminationSettings(roles=["user"]))
    only_user.add_texts("bench", [PLANTED])
    assert only_user.check(pair) is None


def test_configured_text_fields_limit_what_is_indexed(tmp_path):
    benchmark = tmp_path / "bench.jsonl"
    write_benchmark(benchmark, [{"question": "What is 2 + 2?", "passage": PLANTED}])
    settings = DecontaminationSettings(files=[benchmark], text_fields=["question"])
    index = BenchmarkIndex.from_settings(settings)
    assert index.check(make_pair(PLANTED, passage="")) is None
    everything = BenchmarkIndex.from_settings(DecontaminationSettings(files=[benchmark]))
    match = everything.check(make_pair(PLANTED, passage=""))
    assert match is not None and match.field == "passage" and match.item == "0"


def test_threshold_is_a_share_of_the_items_ngrams():
    long_item = " ".join(f"word{i}" for i in range(60))  # 48 distinct 13-grams
    partial = " ".join(f"word{i}" for i in range(20))  # 8 of them
    strict = BenchmarkIndex(DecontaminationSettings(threshold=0.5))
    strict.add_texts("bench", [long_item])
    assert strict.check_text(partial) is None
    assert strict.check_text(long_item).overlap == 1.0
    any_match = BenchmarkIndex()
    any_match.add_texts("bench", [long_item])
    found = any_match.check_text(partial)
    assert (
        found is not None and found.matched_ngrams == 8 and found.overlap == pytest.approx(8 / 48, abs=1e-3)
    )


def test_short_items_match_as_a_whole_and_tiny_ones_are_ignored():
    index = BenchmarkIndex()
    index.add_texts("bench", ["Which planet in our solar system is known as the red planet?", "Is it red?"])
    assert index.items == 1  # "Is it red?" is under min_item_words
    match = index.check_text("Quiz time. Which planet in our solar system is known as the Red Planet? Go!")
    assert match is not None and match.span == "which planet in our solar system is known as the red planet"
    assert index.check_text("Which planet in our solar system is the largest one?") is None


def test_index_is_compact():
    index = BenchmarkIndex()
    index.add_texts("bench", [" ".join(f"t{i}_{j}" for j in range(113)) for i in range(100)])
    assert index.ngrams == 100 * 101
    assert index._hashes.nbytes + index._refs.nbytes == 100 * 101 * 12
