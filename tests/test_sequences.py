"""Number sequences written as data (`task_shape: sequence`): code writes the terms, the question and the key.

The terms each rule makes (the prompt's own examples among them), the next or a hidden term asked, the
structures sent back with how to fix them (a constant sequence, terms too large, a rule's numbers out of
range, terms that another rule continues differently), and the request: the instruction agent is asked for
the structure alone, under the grammar's bounds.
"""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from agentinstruct.agent_outputs import InstructionOutput
from agentinstruct.flows.outputs import with_skill_fields
from agentinstruct.flows.sequences import (
    MAX_TERM,
    RULES,
    Sequence,
    parse_sequence,
    readings,
    sequence_fields,
)
from agentinstruct.flows.task_shapes import task_shaped
from keyed_skills_support import environment, load

THEME = "The keeper logs the ships he sees each night."


def structure(**changes: object) -> dict:
    return {
        "theme": THEME,
        "rule": "add",
        "start": 4,
        "step": 3,
        "step2": 0,
        "shown": 5,
        "ask": "next",
        **changes,
    }


#: rule -> (start, step, step2, the first six terms), worked out by hand
TERMS = {
    "add": (4, 3, 0, [4, 7, 10, 13, 16, 19]),
    "multiply": (3, 2, 0, [3, 6, 12, 24, 48, 96]),
    "add_growing": (2, 3, 1, [2, 5, 9, 14, 20, 27]),
    "alternate_add": (1, 2, 5, [1, 3, 8, 10, 15, 17]),
    "squares_plus": (1, 2, 0, [5, 10, 17, 26, 37, 50]),
    "triangular": (0, 1, 0, [1, 3, 6, 10, 15, 21]),
    "fibonacci_like": (1, 2, 0, [1, 2, 3, 5, 8, 13]),
}


def test_every_rule_is_worked_out_here() -> None:
    assert set(TERMS) == set(RULES)


@pytest.mark.parametrize("rule", list(TERMS))
def test_each_rule_gives_its_terms_and_the_next_one_is_the_key(rule) -> None:
    start, step, step2, terms = TERMS[rule]
    data = structure(rule=rule, start=start, step=step, step2=step2)
    assert parse_sequence(data).terms() == terms
    fields = sequence_fields(data)
    shown = ", ".join(map(str, terms[:5]))
    assert fields["task"] == f"{THEME} The sequence begins {shown}. What number comes next?"
    assert fields == sequence_fields(data), "reproducible"
    assert fields["answer_key"] == str(terms[5])


@pytest.mark.parametrize("rule", list(TERMS))
def test_a_missing_term_is_hidden_between_shown_ones(rule) -> None:
    start, step, step2, _ = TERMS[rule]
    data = structure(rule=rule, start=start, step=step, step2=step2, shown=6, ask="missing")
    terms = parse_sequence(data).terms()
    fields = sequence_fields(data)
    written = fields["task"].removeprefix(f"{THEME} The sequence is ").split(". ")[0].split(", ")
    assert fields["task"].endswith("Which number stands in place of the question mark?")
    assert len(written) == 7 and written.count("?") == 1
    hidden = written.index("?")
    assert 0 < hidden < 6, "between shown terms, never first or last"
    assert fields["answer_key"] == str(terms[hidden])
    assert [w for w in written if w != "?"] == [str(t) for n, t in enumerate(terms) if n != hidden]


def test_the_prompts_examples_are_what_the_rules_make() -> None:
    """The instruction prompt shows each rule at work: a wrong example would teach the agent a wrong rule."""
    skill = load("brain_teaser")
    source = environment(skill).loader.get_source(environment(skill), "brain_teaser/sequence.j2")[0]
    examples = re.findall(
        r"^- (\w+) with start (-?\d+), step (-?\d+)(?:, step2 (-?\d+))?: (.+)$", source, re.M
    )
    assert sorted(e[0] for e in examples) == sorted(RULES)
    for rule, start, step, step2, shown in examples:
        terms = [int(t) for t in shown.split(", ")]
        data = structure(rule=rule, start=int(start), step=int(step), step2=int(step2 or 0))
        assert parse_sequence(data).terms()[: len(terms)] == terms, rule


def test_numbers_given_as_digits_and_a_theme_without_a_stop_are_read_as_meant() -> None:
    read = parse_sequence(structure(start="4", step=3.0, theme="  Ships seen  each night ", rule=" Add"))
    assert read == Sequence("Ships seen each night.", "add", 4, 3, 0, 5, "next")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"step": 0}, "every term is 4: choose a step that changes the terms"),
        ({"rule": "fibonacci_like", "start": 0, "step": 0}, "every term is 0"),
        ({"rule": "multiply", "step": 7}, "multiply's step is 7: multiply by 2 to 5"),
        ({"rule": "multiply", "step": 1}, "multiply's step is 1"),
        ({"rule": "multiply", "start": 200, "step": 5, "shown": 7}, f"beyond {MAX_TERM}: choose a smaller"),
        ({"rule": "squares_plus", "step": -2}, "step is the first number squared: give 0 or more"),
        ({"rule": "triangular", "step": -1}, "step is the first triangle's number: give 0 or more"),
        ({"rule": "cubes"}, "the rule 'cubes' is not one of add, multiply"),
        ({"shown": 4}, "shown is 4: show 5 to 7 terms"),
        ({"shown": 9}, "shown is 9: show 5 to 7 terms"),
        ({"ask": "previous"}, "ask is 'previous': ask for the 'next' term or a 'missing' one"),
        ({"theme": "  "}, "the theme is empty: write one sentence"),
        ({"theme": "He sees 19 ships."}, "the theme holds 19, the answer: leave the sequence's numbers out"),
        ({"start": "2.5"}, "start is '2.5': give a whole number"),
        ({"step2": None}, "step2 is None: give a whole number"),
    ],
)
def test_a_structure_that_cannot_make_a_fair_puzzle_is_sent_back_saying_how_to_fix_it(
    changes, message
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        sequence_fields(structure(**changes))


def test_a_structure_that_is_not_an_object_is_not_a_sequence() -> None:
    with pytest.raises(TypeError):
        sequence_fields(["add", 4, 3])


def test_terms_that_another_rule_continues_differently_are_sent_back() -> None:
    """-3, ?, 0, 3, 3, 6: the sum of the two before gives 3, adding 3 and 0 in turn gives 0."""
    known = {0: -3, 2: 0, 3: 3, 4: 3, 5: 6}
    found = dict(readings(known, 1))
    assert found["each term the sum of the two before (fibonacci_like)"] == 3
    assert found["two steps in turn (alternate_add)"] == 0
    assert "multiply by 2 (multiply)" not in found  # a reading the terms do not fit gives nothing
    ambiguous = structure(rule="fibonacci_like", start=-3, step=3, shown=5, ask="missing")
    with pytest.raises(ValueError, match=r"also fit another rule \(two steps in turn .*gives 0 instead of 3"):
        sequence_fields(ambiguous)
    # the same numbers asked for the next term are fair: -3, 3, 0, 3, 3 fit only the sum of the two before
    assert sequence_fields({**ambiguous, "ask": "next"})["answer_key"] == "6"


def test_the_evenly_growing_reading_covers_squares_and_triangles() -> None:
    """Squares and triangular numbers are differences that grow evenly: the readings agree on the key."""
    for rule in ("squares_plus", "triangular", "add_growing"):
        terms = TERMS[rule][-1]
        found = dict(readings(dict(enumerate(terms[:5])), 5))
        assert set(found.values()) == {Fraction(terms[5])}, rule


def test_the_request_asks_for_the_structure_alone_under_the_grammars_bounds() -> None:
    fields = {"answer_key": "the answer"}
    output = task_shaped(with_skill_fields(InstructionOutput, fields, key="puzzle"), "sequence", "puzzle")
    request = output.request_schema()
    assert list(request["properties"]) == ["puzzle", "suitable", "reason"]  # the key is code's
    puzzle = request["properties"]["puzzle"]
    assert puzzle["properties"]["rule"]["enum"] == list(RULES)
    assert puzzle["properties"]["shown"] == {"type": "integer", "minimum": 5, "maximum": 7}
    assert puzzle["properties"]["ask"]["enum"] == ["next", "missing"]
    assert puzzle["properties"]["step2"]["maximum"] == 50 and puzzle["additionalProperties"] is False
    assert all(f"{rule}: {meaning}" in puzzle["description"] for rule, (meaning, _) in RULES.items())
    reply = output.model_validate({"puzzle": structure(), "suitable": True, "reason": ""})
    assert reply.instruction.endswith("13, 16. What number comes next?") and reply.answer_key == "19"


def test_a_programs_terms_are_read_against_the_shown_ones_the_hidden_one_aside() -> None:
    from agentinstruct.flows.sequences import shown_terms, terms_problem

    task = "Steps. The sequence is 4, ?, 10, 13, 16. Which number stands in place of the question mark?"
    shown = shown_terms(task)
    assert shown == ["4", "?", "10", "13", "16"]
    program = "terms = [4 + 3 * n for n in range(5)]\nprint(', '.join(map(str, terms)))\nprint(terms[1])"
    assert terms_problem(shown, program, "4, 7, 10, 13, 16") == ""
    assert terms_problem(shown, program, "4, 8, 10, 13, 16") == ""  # the hidden one is the answer
    assert "do not reproduce" in terms_problem(shown, program, "4, 7, 10, 14, 16")
    assert shown_terms("What number comes next: 4, 7?") is None
