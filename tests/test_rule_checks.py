"""Program-aided answers to arrangement puzzles (`flows.rule_checks`): the teacher reads each rule as a check.

The puzzle's parts are read back from the text code wrote (orders and groups); the teacher's checks are
accepted only when each means what its author's check means, every option is tested and the worked answer
is written from the results. In the flow (real sandbox, scripted model), a teacher whose own answer fails
is answered so and the pair records it; a misread rule leaves the rejection standing; the reading is asked
without the key or the author's checks; a puzzle written as text is never answered this way.
"""

from __future__ import annotations

import pytest

from agentinstruct.flows.arrangements import arrangement_fields, parse_arrangement
from agentinstruct.flows.resources import build_tools
from agentinstruct.flows.rule_checks import CheckedAnswer, _quoted, author_checks, checked_answer, read_puzzle
from agentinstruct.models import ModelRequest, ScriptedModel
from test_arrangements import GROUPS, ORDER, arranged_reply, run_ordering

pytestmark = pytest.mark.timeout(180)

#: the same rules as ORDER's and GROUPS' checks, written another way (as a teacher might)
ORDER_READ = ["after(Bo, Ada)", "not Cy == 5", "immediately_after(Di, Ed)", "Bo >= 2"]
GROUPS_READ = ["Ben != Ann", "Cal == 'North'", "Ann == 'South' or Dee == 'South'", "count('South') < 3"]


@pytest.fixture(scope="module")
def tools():
    return build_tools(["python"], None)  # the process-wide default sandbox: shared, never closed here


@pytest.mark.parametrize("data", [ORDER, GROUPS], ids=["ordering", "grouping"])
def test_the_puzzle_is_read_back_from_the_text_code_wrote(data) -> None:
    fields = arrangement_fields(data)
    view = read_puzzle(fields["task"])
    assert view is not None
    assert view.entities == tuple(data["entities"]) and len(view.rules) == len(
        author_checks(fields["solver_program"])
    )
    written = parse_arrangement(data)
    for letter, (text, places) in view.options.items():
        assert text in fields["task"]
        assert (not written.broken(places)) == (letter == fields["answer_key"])


def test_other_text_is_not_read_as_an_arrangement_puzzle() -> None:
    assert read_puzzle("Ada, Bo and Cy each keep one night.\n1. Ada is before Bo.\n(A) Ada, Bo, Cy") is None
    task = arrangement_fields(ORDER)["task"]
    assert read_puzzle(task.replace("(E) ", "(E) Zed, ")) is None  # an option naming someone else


@pytest.mark.parametrize(
    ("data", "checks"), [(ORDER, ORDER_READ), (GROUPS, GROUPS_READ)], ids=["order", "groups"]
)
def test_checks_that_mean_the_rules_answer_the_puzzle_with_the_working(data, checks) -> None:
    fields = arrangement_fields(data)
    view = read_puzzle(fields["task"])
    answer = checked_answer(view, checks, author_checks(fields["solver_program"]))
    assert isinstance(answer, CheckedAnswer) and answer.answer == fields["answer_key"]
    assert [check for _, _, check in answer.rules] == checks
    for letter, _, broken in answer.options:
        assert bool(broken) == (letter != answer.answer)
        for number, sentence, places in broken:
            assert sentence == data["rules"][number - 1]["text"] and places


@pytest.mark.parametrize(
    ("checks", "problem"),
    [
        (
            ["Ada < Bo", "Cy != 5", "Di + 1 == Ed", "Bo != 1"],
            "rule 3 (Di watches the night right after Ed.) was read as",
        ),
        (["Ada < Bo", "Cy != 'five'", "Di == Ed + 1", "Bo != 1"], "rule 2 ("),
        (["Ada < Bo", "Cy != 5", "Di == Ed + 1"], "3 checks for 4 rules"),
        (["Ada < Bo", "Cy != 5", "Di == Ed + 1", "Bo is not first"], "rule 4's check"),
        (["Ada < Bo", "Cy != 5", "Di == Ed + 1", "Bo < 'x'"], "fails when evaluated"),
    ],
    ids=["misread", "never-equal", "too-few", "not-an-expression", "fails"],
)
def test_a_misread_rule_cannot_answer(checks, problem) -> None:
    fields = arrangement_fields(ORDER)
    answer = checked_answer(read_puzzle(fields["task"]), checks, author_checks(fields["solver_program"]))
    assert isinstance(answer, str) and problem in answer


def test_slots_of_several_words_are_read_quoted_and_numbered_ones_unquoted() -> None:
    data = {
        "setup": "Three stalls each take one spot at the fair.",
        "entities": ["Ann", "Ben", "Cal"],
        "slots": ["main gate", "car park", "hall"],
        "one_each": True,
        "rules": [
            {"text": "Ann is at the main gate.", "check": "Ann == 'main gate'"},
            {"text": "Ben is not in the hall.", "check": "Ben != 'hall'"},
            {"text": "Cal is not at the main gate.", "check": "Cal != 'main gate'"},
        ],
    }
    fields = arrangement_fields(data)
    view = read_puzzle(fields["task"])
    read = ["Ann == main gate", "Ben != hall", "not Cal == main gate"]
    assert (
        _quoted("count('4') == 1 and Ann != \"2\" and Ben == '9'", (2, 4))
        == "count(4) == 1 and Ann != 2 and Ben == '9'"
    )
    answer = checked_answer(view, read, author_checks(fields["solver_program"]))
    assert isinstance(answer, CheckedAnswer) and answer.answer == fields["answer_key"]


# -- in the flow ----------------------------------------------------------------------------------------
def aided_reply(readings: list[list[str]]):
    """Scripted agents: the teacher's own answer is always wrong; its readings of the rules, in turn."""
    fields = arrangement_fields(ORDER)
    wrong = next(letter for letter in "ABCDE" if letter != fields["answer_key"])
    turns = iter(readings)

    others = arranged_reply(ORDER, wrong)  # the cast, the puzzle, and the teacher's wrong letter

    def reply(request: ModelRequest) -> object:
        if request.tag.endswith("/rule_checks"):
            checks = [
                {"rule": r["text"], "check": c} for r, c in zip(ORDER["rules"], next(turns), strict=False)
            ]
            return {"checks": checks, "suitable": True, "reason": ""}
        return others(request)

    return reply, fields


def test_a_failed_answer_is_answered_through_the_teachers_checks(tools) -> None:
    reply, fields = aided_reply([ORDER_READ])
    model = ScriptedModel(reply)
    [pair] = run_ordering(model, tools).pairs
    answer = pair.messages[-1]["content"]
    assert (
        answer.endswith(f"Answer: {fields['answer_key']}")
        and "1. Ada watches before Bo. → after(Bo, Ada)" in answer
    )
    assert answer.count("breaks rule") >= 4 and f"({fields['answer_key']}) obeys every rule" in answer
    assert [c.name for c in pair.verification.checks] == ["unique_solution", "program_aided"]
    assert (
        pair.verification.status == "passed"
        and "the teacher's own answer failed" in pair.verification.checks[1].detail
    )
    [reading] = [r for r in model.requests if r.tag.endswith("/rule_checks")]
    asked = str(reading.messages)
    assert (
        "solver" not in asked
        and "answer_key" not in asked
        and "Ed + 1" not in asked
        and "Di == Ed" not in asked
    )
    assert "Di watches the night right after Ed." in asked


def test_a_misread_rule_leaves_the_rejection_standing(tools) -> None:
    misread = ["Ada < Bo", "Cy != 5", "Di + 1 == Ed", "Bo != 1"]
    reply, _ = aided_reply([misread, misread])
    model = ScriptedModel(reply)
    sink = run_ordering(model, tools)
    assert not sink.pairs
    [rejection] = sink.rejections
    assert rejection.reason == "verification_failed:unique_solution,program_aided"
    assert "does not say what it says" in rejection.detail
    assert len([r for r in model.requests if r.tag.endswith("/rule_checks")]) == 2


def test_a_puzzle_written_as_text_is_not_answered_through_checks(tools) -> None:
    def reply(request: ModelRequest) -> object:
        stage = request.tag.split("/")[1]
        if stage == "transform":
            return {"content": "Setting: a watch.\nEntities: Ada, Bo, Cy", "suitable": True, "reason": ""}
        if stage == "instruct":
            program = 'import json\nprint(json.dumps({"solutions": 1, "answer": "A"}))'
            task = "All keepers are awake. Bo is a keeper. Which follows?\n(A) Bo is awake\n(B) Bo sleeps"
            task += "\n(C) Bo is no keeper"
            return {
                "puzzle": task,
                "answer_key": "A",
                "solver_program": program,
                "suitable": True,
                "reason": "",
            }
        return {"action": "answer", "answer": "Bo sleeps.\nAnswer: B"}

    model = ScriptedModel(reply)
    sink = run_ordering(model, tools, kind="syllogism")
    [rejection] = sink.rejections
    assert rejection.reason == "verification_failed:unique_solution" and "answered B" in rejection.detail
    assert not [r for r in model.requests if r.tag.endswith("/rule_checks")]
