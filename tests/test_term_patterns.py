"""Mappings from a seed's terms (`content_shape: terms`): the model lists terms, code applies a rule.

The rule is applied by code, so every output is right; a rule is used only when it fits enough terms and
its outputs vary (a category shows each class twice); the choice is reproducible; the notation is the
mapping shape's, so the held-out task shape takes the mapping as its material.
"""

from __future__ import annotations

import re

import pytest

from agentinstruct.flows.held_out import held_out_fields, mapping_pairs
from agentinstruct.flows.shaped_content import shaped_output
from agentinstruct.flows.term_patterns import (
    ASKED_TERMS,
    FALLBACK_PATTERNS,
    MIN_TERMS,
    PATTERNS,
    TERMS_SCHEMA,
    _usable,
    term_mapping,
)
from agentinstruct.skills import load_skills

GARDEN = [
    "Mill Lane Growers Association", "Fenwick Town Council", "Station Road", "Harlow Printing Works",
    "Deborah Mwangi", "Old Quay", "Mill Lane",
]  # fmt: skip
NUMBERS = ["36", "12", "2,100", "140", "9,000", "6,500", "7"]


def written(terms: list[str]) -> str:
    reply = {"content": {"terms": terms}, "suitable": True, "reason": ""}
    return shaped_output("terms").model_validate(reply).content


@pytest.mark.parametrize(
    ("name", "term", "output"),
    [
        ("initials", "Mill Lane Growers Association", "MLGA"),
        ("slug", "Old Quay District", "old-quay-district"),
        ("reversed", "Fenwick Town Council", "Council Town Fenwick"),
        ("last_word", "Station Road", "Road"),
        ("word_count", "Harlow Printing Works", "3"),
        ("letters", "Fenwick", "7"),
        ("double", "2,100", "4,200"),
        ("century", "1852", "19th"),
        ("century", "1911", "20th"),
        ("century", "2001", "21st"),
        ("parity", "140", "even"),
        ("first_letter", "Old Quay", "vowel"),
    ],
)
def test_each_rule_gives_the_right_output(name, term, output) -> None:
    assert PATTERNS[name].applies(term) and PATTERNS[name].output(term) == output


@pytest.mark.parametrize("term", ["letters@fenwick-gazette.example", "A-12 road", "Mill Lane, Fenwick"])
def test_word_rules_take_only_words_separated_by_spaces(term) -> None:
    """The local run s9b's "last word" of an e-mail address was "example": no solver could know that."""
    assert not any(PATTERNS[name].applies(term) for name in ("initials", "slug", "reversed", "last_word"))


def test_the_terms_become_a_mapping_in_the_notation_held_out_tasks_read() -> None:
    text = written([*GARDEN, " Mill lane. "])  # a repeated term counts once
    rule, *rest = text.splitlines()
    assert rule.removeprefix("Rule: ") in {p.rule for p in PATTERNS.values()}
    pairs = mapping_pairs(text)
    assert len(pairs) == len(GARDEN) and rest[0] == "Examples:"
    assert text == written(list(GARDEN)), "the rule is chosen reproducibly from the terms"
    examples = [list(p) for p in list(pairs.items())[:4]]
    chosen = {
        "examples": examples,
        "query": list(list(pairs.items())[4]),
        "second_query": list(list(pairs.items())[5]),
    }
    fields = held_out_fields(chosen, text)
    assert fields["answer_key"] == list(pairs.values())[4]


def test_a_category_rule_shows_each_class_at_least_twice() -> None:
    mapping = term_mapping({"terms": NUMBERS})
    outputs = [o for _, o in mapping["examples"]]
    if mapping["rule"] == PATTERNS["parity"].rule:
        assert min(outputs.count(label) for label in set(outputs)) >= 2
    odd_once = ["36", "12", "2,100", "140", "9,000", "6,500", "7"]
    parity = PATTERNS["parity"]
    assert sum(parity.output(t) == "odd" for t in odd_once) == 1
    assert _usable(parity, odd_once) is None and _usable(PATTERNS["double"], odd_once)


def test_terms_that_fit_no_rule_are_sent_back_with_what_to_give() -> None:
    with pytest.raises(ValueError, match="the 2 distinct terms fit no pattern: give 8-12 terms copied"):
        written(["Mill Lane", "mill lane", "Old Quay", "Mill  Lane", "Old Quay.", "old quay"])
    with pytest.raises(ValueError, match="it is not terms taken word for word from the text"):
        written("Mill Lane")  # type: ignore[arg-type]


def test_terms_of_mixed_kinds_fall_back_to_a_rule_for_any_name() -> None:
    """s37's terms: four single words, three two-word names and an amount; no rule above fit them."""
    terms = ["Association", "Station Road", "Residential", "Residents", "Rainwater tank", "Parks budget"]
    terms += ["6,500 pounds", "March"]
    assert not any(_usable(p, terms) for p in PATTERNS.values())
    mapping = term_mapping({"terms": terms})
    assert mapping["rule"] in {p.rule for p in FALLBACK_PATTERNS.values()}
    examples = dict(mapping["examples"])
    assert (len(examples) >= MIN_TERMS and "6,500 pounds" in examples) or "Station Road" in examples
    if mapping["rule"] == FALLBACK_PATTERNS["capitals"].rule:
        assert examples["Station Road"] == "STATION ROAD"
    else:
        assert examples["Station Road"] == "7" and examples["March"] == "5"
    # with a rule above that fits, the fallback rules are not among the choices
    assert term_mapping({"terms": NUMBERS})["rule"] in {p.rule for p in PATTERNS.values()}


def test_more_terms_are_asked_for_than_a_pattern_needs_and_no_example_terms_are_given() -> None:
    """Asked for 6, the local model gave 4 names and 2 numbers, which fit no pattern; and it copied the
    prompt's example terms ("Mill Lane", "Harbour Board", "2,100") into seeds that hold none of them."""
    terms = TERMS_SCHEMA["properties"]["terms"]
    assert (terms["minItems"], terms["maxItems"]) == ASKED_TERMS and ASKED_TERMS[0] > MIN_TERMS
    skill = load_skills()["few_shot_reasoning"]
    template = (skill.directory / "few_shot_reasoning/transformations/term_pattern.j2").read_text()
    assert "8 to 12" in template and not re.search(r'"(?:Mill Lane|Harbour Board|2,100|1852)"', template)
