"""Program-aided answers to text tasks whose key is a number (`flows.program_aided`), in the brain_teaser
flow, scripted, with programs run in the real sandbox.

When the teacher's worded answer misses a numeric key, the teacher writes two programs apart; each runs
in the sandbox and prints its answer. The first one's working becomes the answer and the second one's
output is the second independent answer `answers_agree` compares, so a pair needs the key and both
programs to agree. The teacher is never shown the key.
"""

from __future__ import annotations

import pytest

from agentinstruct.models import ModelRequest
from keyed_skills_support import load, run, scripted
from test_skill_brain_teaser import KEY, PUZZLE, WRONG

pytestmark = pytest.mark.timeout(120)

RIGHT = "weekly = 120 * 6\nprint(weekly * 2)"
OFF = "print(120 * 14)"
RAISES = "steps = 120 / 0\nprint(steps)"


def program_teacher(*programs: str | None):
    """The teacher's words give 1680; asked for programs, it writes `programs` in turn (None: no JSON)."""
    written = iter(programs)

    def teacher(request: ModelRequest) -> object:
        if request.tag.endswith("/computed_answer"):
            program = next(written, None)
            if program is None:
                return "I would count the steps."
            reasoning = "Two weeks of six nights, 120 steps a night."
            return {"reasoning": reasoning, "program": program, "unit": "steps", "suitable": True}
        return WRONG

    return teacher


def run_math_puzzle(*programs: str | None, key: str = KEY, type_name: str = "math_puzzle"):
    skill = load("brain_teaser")
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name[type_name]]})
    model = scripted(single, {"instruction": PUZZLE, "answer_key": key}, program_teacher(*programs))
    return model, run(single, model, refinement_rounds=0, instructions_per_seed=1)


def test_a_missed_numeric_key_is_answered_by_two_programs() -> None:
    model, sink = run_math_puzzle(RIGHT, RIGHT)
    [pair] = sink.pairs
    answer = pair.messages[-1]["content"]
    assert answer.startswith("Two weeks of six nights") and RIGHT in answer
    assert answer.endswith("The program prints 1440.\nAnswer: 1440 steps")
    checks = {c.name: c for c in pair.verification.checks}
    assert list(checks) == ["answers_agree", "program_aided"] and all(c.ok for c in checks.values())
    assert "second independent answer" in checks["answers_agree"].detail
    assert "'1680'" in checks["program_aided"].detail  # the teacher's own failed answer, recorded
    asked = [r for r in model.requests if r.tag.endswith("/computed_answer")]
    assert len(asked) == 2 and asked[0].seed != asked[1].seed
    assert all(PUZZLE in str(r.messages) and "1440" not in str(r.messages) for r in asked)
    assert not any(r.tag.endswith("/resample") for r in model.requests)  # the second program stands in


@pytest.mark.parametrize(
    ("programs", "problem"),
    [
        ((OFF, OFF), "does not agree with the key '1440 steps'"),
        ((RIGHT, OFF), "a second independent answer ends '1680', this one '1440 steps'"),
        ((RAISES, RIGHT, RAISES), "only one program ran"),
        ((None, None, None), "the teacher's programs could not answer it"),
    ],
)
def test_programs_that_disagree_or_fail_leave_the_rejection(programs, problem) -> None:
    _, sink = run_math_puzzle(*programs)
    [rejection] = sink.rejections
    assert not sink.pairs and problem in rejection.detail, rejection.detail


def test_a_program_that_only_prints_a_given_value_is_no_answer() -> None:
    # run s18: "If the soil has a weight of 400,000 pounds, what is the weight of the lot?" got print(400000)
    _, sink = run_math_puzzle("print(1440)", "total = 1440\nprint(total)", "print(1440)")
    [rejection] = sink.rejections
    assert not sink.pairs and "the program computes nothing" in rejection.detail
    _, sink = run_math_puzzle("print(1440)", RIGHT, RIGHT)  # the others work it out
    assert sink.pairs and "print(1440)" not in sink.pairs[0].messages[-1]["content"]


def test_a_program_that_raises_is_reported_with_its_error() -> None:
    _, sink = run_math_puzzle(RAISES, RAISES, RAISES)
    [rejection] = sink.rejections
    assert "the program could not be run: ZeroDivisionError" in rejection.detail


def test_a_key_that_is_not_a_number_asks_for_no_program() -> None:
    model, sink = run_math_puzzle(RIGHT, RIGHT, key="the lamp", type_name="riddle")
    assert sink.rejections and not sink.pairs
    assert not any(r.tag.endswith("/computed_answer") for r in model.requests)


def test_a_program_in_a_code_fence_runs_without_it() -> None:
    """The local teacher wrapped one program of two in ```python, which ran as a SyntaxError."""
    _, sink = run_math_puzzle(f"```python\n{RIGHT}\n```", RIGHT)
    [pair] = sink.pairs
    assert f"```python\n{RIGHT}\n```" in pair.messages[-1]["content"]
    assert pair.messages[-1]["content"].count("```") == 2


def run_rekeyed(*programs: str, keys: tuple[str, str]):
    """A math puzzle keyed `keys[0]`, whose author, asked to solve it again, keys it `keys[1]`."""
    skill = load("brain_teaser")
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["math_puzzle"]]})
    model = scripted(
        single,
        {"instruction": PUZZLE, "answer_key": keys[0]},
        program_teacher(*programs),
        rekey=lambda request: {"answer_key": keys[1]},
    )
    return model, run(single, model, refinement_rounds=0, instructions_per_seed=1)


def test_an_authors_two_different_keys_are_set_aside_when_two_programs_agree() -> None:
    """Run s13: the author keyed $300 + $150 + $40 as 480, then 590; two programs printed 490."""
    model, sink = run_rekeyed(RIGHT, RIGHT, keys=("1600 steps", "1500 steps"))
    [pair] = sink.pairs
    checks = {c.name: c for c in pair.verification.checks}
    assert list(checks) == ["answers_agree", "program_aided", "key_rechecked", "key_set_aside"]
    assert all(c.ok for c in checks.values()) and pair.verification.status == "passed"
    assert "'1600 steps', then '1500 steps'" in checks["key_set_aside"].detail
    assert "second independent answer" in checks["answers_agree"].detail
    fields = pair.lineage.seed_instruction.fields
    assert fields["answer_key"] == "1500 steps" and fields["first_answer_key"] == "1600 steps"
    # the program-aided answer is checked again with its second program, never a worded resample
    assert not any(r.tag.endswith("/resample") for r in model.requests)


@pytest.mark.parametrize(
    ("programs", "keys", "problem"),
    [
        # the programs disagree: no two answers decide
        ((RIGHT, OFF), ("1500 steps", "1600 steps"), "does not agree with the key '1600 steps'"),
        # the author gives the same number twice: its key stands against the programs
        ((RIGHT, RIGHT), ("1600 steps", "1600"), "does not agree with the key '1600'"),
    ],
)
def test_keys_stand_unless_they_disagree_with_each_other_and_two_programs_agree(
    programs, keys, problem
) -> None:
    _, sink = run_rekeyed(*programs, keys=keys)
    [rejection] = sink.rejections
    assert not sink.pairs and problem in rejection.detail, rejection.detail
    names = [c.name for c in rejection.verification.checks]
    assert "program_aided" in names and "key_set_aside" not in names


def test_a_key_is_set_aside_only_for_answers_agree_and_a_second_program() -> None:
    from agentinstruct.flows.answer_keys import set_aside_reason

    keys, answer = ("480", "590"), "The program prints 490.\nAnswer: 490"
    assert "two programs written apart both print 490" in set_aside_reason(
        ["answers_agree"], {"answers_agree"}, keys, answer, "490"
    )
    # the key is multiple_choice's criterion; a worded answer has no second program; another check failed
    assert not set_aside_reason(["answer_matches_key"], {"answer_matches_key"}, keys, answer, "490")
    assert not set_aside_reason(["answers_agree"], {"answers_agree"}, keys, answer, None)
    assert not set_aside_reason(["answers_agree", "x"], {"answers_agree", "x"}, keys, answer, "490")
    # an answer that is one of the keys is judged against it as before; words are not set aside
    assert not set_aside_reason(["answers_agree"], {"answers_agree"}, ("490", "590"), answer, "490")
    assert not set_aside_reason(["answers_agree"], {"answers_agree"}, ("sleep group", "thing"), answer, "490")
