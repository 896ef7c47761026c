"""Dedup: precision and recall on a labelled set, the passage-plus-question case, scopes, and seeding."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from agentinstruct.quality.dedup import DedupItem, Deduplicator
from agentinstruct.quality.settings import DedupSettings
from dedup_labelled import distinct, exact_variants, near_variants
from quality_fixtures import make_pair


def item(text: str, item_id: str = "q", skill: str = "s") -> DedupItem:
    return DedupItem(item_id, skill, text, text)


def test_precision_and_recall_on_a_labelled_set():
    """Exact copies (case, spacing, punctuation) and small-edit paraphrases are caught; distinct items on
    the same topics are not."""
    dedup = Deduplicator()
    base = distinct()
    false_positives = sum(dedup.check_item(item(text, f"b{i}")) is not None for i, text in enumerate(base))
    for i, text in enumerate(base):
        dedup.add_item(item(text, f"b{i}"))
    rng = random.Random(7)
    true_positives = found_wrong = missed = 0
    for i, text in enumerate(base):
        for variant in exact_variants(text):
            found = dedup.check_item(item(variant))
            assert found is not None and found.kind == "exact" and found.id == f"b{i}", variant
        for variant in near_variants(text, rng):
            found = dedup.check_item(item(variant))
            if found is None:
                missed += 1
            elif found.id == f"b{i}":
                true_positives += 1
            else:
                found_wrong += 1
    precision = true_positives / (true_positives + found_wrong + false_positives)
    recall = true_positives / (true_positives + missed)
    assert false_positives == 0
    assert precision >= 0.95, precision
    assert recall >= 0.85, recall


def test_same_passage_different_questions_are_distinct_but_a_reworded_question_is_not():
    dedup = Deduplicator()
    first = make_pair("Which one of the following, if true, most strengthens the engineers' argument?")
    dedup.add(first)
    other_question = make_pair(
        "What is the main point of disagreement between the fishermen and the engineers?"
    )
    assert dedup.check(other_question) is None
    reworded = make_pair("Which of the following, if true, most strengthens the engineers' argument?")
    found = dedup.check(reworded)
    assert found is not None and found.kind == "near" and found.id == first.id
    assert 0.7 <= found.similarity <= 1.0
    # the same question about another passage is another item
    elsewhere = make_pair(
        "Which one of the following, if true, most strengthens the engineers' argument?",
        passage="A city council debated a congestion charge for the old town. Traffic engineers predicted "
        "a fall of a fifth in car journeys, while shop owners feared losing customers to the suburbs.",
    )
    assert dedup.check(elsewhere) is None


def test_a_pair_is_never_a_duplicate_of_itself():
    dedup = Deduplicator()
    pair = make_pair("What did the engineers estimate the cost at?")
    dedup.add(pair)
    assert dedup.check(pair) is None


def test_scope_skill_compares_only_within_a_skill_and_global_across():
    text = "Rewrite the following paragraph about pension savings in plain language for beginners."
    per_skill = Deduplicator(DedupSettings(scope="skill"))
    per_skill.add_item(DedupItem("a", "text_modification", text, text))
    assert per_skill.check_item(DedupItem("b", "creative_content", text, text)) is None
    assert per_skill.check_item(DedupItem("c", "text_modification", text, text)).id == "a"
    everywhere = Deduplicator(DedupSettings(scope="global"))
    everywhere.add_item(DedupItem("a", "text_modification", text, text))
    assert everywhere.check_item(DedupItem("b", "creative_content", text, text)).id == "a"


def test_exact_and_near_can_be_turned_off():
    text = distinct()[0]
    only_near = Deduplicator(DedupSettings(exact=False))
    only_near.add_item(item(text, "a"))
    assert only_near.check_item(item(text.upper())).kind == "near"
    only_exact = Deduplicator(DedupSettings(near=False))
    only_exact.add_item(item(text, "a"))
    assert only_exact.check_item(item(text.upper())).kind == "exact"
    assert only_exact.check_item(item(near_variants(text, random.Random(1), 1)[0])) is None


def test_resume_seeds_from_the_runs_pairs_and_skips_a_torn_line(tmp_path):
    written = make_pair("Which one of the following, if true, most weakens the fishermen's position?")
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(written.model_dump(mode="json")) + "\n" + '{"id": "torn', encoding="utf-8")
    dedup = Deduplicator()
    assert dedup.seed_from_pairs_file(path) == 1
    again = make_pair("Which one of the following, if true, most weakens the fishermen's position ?!")
    found = dedup.check(again)
    assert found is not None and found.id == written.id and found.source == "run"
    assert dedup.check(written) is None  # re-delivered on resume: left to the writer's id check


def test_seeding_from_existing_datasets_in_every_layout(tmp_path):
    texts = distinct()
    plain = tmp_path / "plain.jsonl"
    plain.write_text(
        "\n".join(json.dumps({"uid": f"u{i}", "prompt": t, "score": 3}) for i, t in enumerate(texts[:3])),
        encoding="utf-8",
    )
    orca = tmp_path / "orca.parquet"
    messages = [json.dumps([{"role": "user", "content": texts[3]}, {"role": "assistant", "content": "x"}])]
    pq.write_table(pa.table({"messages": messages}), orca)
    table = tmp_path / "table.csv"
    table.write_text(f'id,instruction\n7,"{texts[4]}"\n', encoding="utf-8")
    sharegpt = tmp_path / "sharegpt.json"
    sharegpt.write_text(json.dumps([{"conversations": [{"from": "human", "value": texts[5]}]}]))
    dedup = Deduplicator()
    assert dedup.seed_from_file(plain, text_fields=["prompt"]) == 3
    assert dedup.seed_from_file(orca) == 1
    assert dedup.seed_from_file(table) == 1
    assert dedup.seed_from_file(sharegpt) == 1
    assert dedup.check_item(item(texts[1], skill="any")).id == "plain.jsonl#u1"
    found = dedup.check_item(item(texts[3].lower()))
    assert found.id == "orca.parquet#0" and found.source == str(orca)
    assert dedup.check_item(item(texts[4])).id == "table.csv#7"
    assert dedup.check_item(item(texts[5])).id == "sharegpt.json#0"
    assert dedup.check_item(item(texts[9])) is None


def test_unreadable_dataset_names_the_file(tmp_path):
    from agentinstruct.quality.datafiles import DataFileError

    with pytest.raises(DataFileError, match=r"missing\.jsonl"):
        Deduplicator().seed_from_file(tmp_path / "missing.jsonl")
    (tmp_path / "data.xml").write_text("<x/>")
    with pytest.raises(DataFileError, match="unsupported"):
        Deduplicator().seed_from_file(tmp_path / "data.xml")


def test_hash_multimap_keeps_every_item_across_merges():
    from agentinstruct.quality.hashindex import HashMultiMap

    index = HashMultiMap(merge_at=5)
    for item in range(40):
        index.add([item % 7, 1000 + item], item)
    assert len(index) == 80
    assert index.get([3]) == [3, 10, 17, 24, 31, 38]
    assert index.get([3, 1010, 999]) == [3, 10, 17, 24, 31, 38]
    assert index.first(1039) == 39 and index.first(5) == 5 and index.first(123456) is None
    assert index.get([2**64 - 1]) == []


@pytest.mark.parametrize(("num_perm", "shingle_size"), [(128, 2), (16, 1), (256, 3)])
def test_signatures_are_datasketchs_minhash(num_perm, shingle_size):
    """The numpy signature is exactly what `datasketch.MinHash` (affine32) gives the same shingles."""
    import numpy as np
    from datasketch import MinHash

    from agentinstruct.quality.dedup import shingle_hashes

    dedup = Deduplicator(DedupSettings(num_perm=num_perm, shingle_size=shingle_size, threshold=0.5))
    rng = random.Random(5)
    vocabulary = [f"w{i}" for i in range(200)] + ["é", "straße"]
    for length in [0, 1, 2, 5, *(rng.randint(3, 300) for _ in range(40))]:
        tokens = [rng.choice(vocabulary) for _ in range(length)]
        reference = MinHash(
            num_perm=num_perm, permutations=dedup._template.permutations, scheme="affine32", hashfunc=int
        )
        reference.update_batch(shingle_hashes(tokens, shingle_size).tolist())
        assert np.array_equal(dedup._minhash(tokens), reference.hashvalues.astype(np.uint64))
