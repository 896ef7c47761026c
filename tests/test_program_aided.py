"""Program-aided answers to held-out few-shot tasks (`flows.program_aided`), in the flow, scripted.

When the teacher's own answer misses the key, the teacher writes its rule as a function, which runs in the
real sandbox on every example and both queries. A function that gives every example's output answers the
task, with the working written from its results, and its answer to the second query is what
`second_query_agrees` compares; a function that misses an example, cannot run, or only memorises the
examples leaves the rejection standing. The teacher is never shown the key or the second query.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agentinstruct.agent_outputs import RuleFunctionOutput
from agentinstruct.agents import render
from agentinstruct.flows.program_aided import function_code
from agentinstruct.models import ModelRequest
from agentinstruct.reply_problems import copied_scaffold
from keyed_skills_support import load, run, scripted
from test_skill_few_shot_reasoning import FIELDS, MAPPING

pytestmark = pytest.mark.timeout(120)

YEARS = 'def rule(text):\n    first, last = text.split("-")\n    return str(int(last) - int(first))'
CONSTANT = "def rule(text):\n    return '50'"
MEMORISED = (
    "def rule(text):\n"
    "    seen = {'1852-1942': '90', '1900-1950': '50', '1990-2001': '11'}\n"
    "    return seen.get(text, '75')"
)


def program_teacher(function: str | None, fixed: str | None = None):
    """The teacher's words miss the key; asked for a function, it writes `function` (None: no JSON), and
    shown the examples it missed, `fixed` (default: `function` again)."""

    def teacher(request: ModelRequest) -> object:
        written = (fixed or function) if request.tag.endswith("/rule_function/fix") else function
        if "/rule_function" in request.tag and written is not None:
            return {"rule": "The later year minus the earlier one.", "function": written, "suitable": True}
        return "Add the digits.\nAnswer: 21"

    return teacher


def run_held_out(function: str | None, fixed: str | None = None):
    skill = load("few_shot_reasoning")
    single = skill.model_copy(
        update={
            "transformations": skill.transformations[:1],
            "instruction_types": [skill.types_by_name["pattern_induction"]],
        }
    )
    model = scripted(single, FIELDS, program_teacher(function, fixed), content=MAPPING)
    return model, run(single, model, refinement_rounds=0)


def test_a_missed_key_is_answered_by_the_teachers_function() -> None:
    model, sink = run_held_out(YEARS)
    assert sink.pairs and not sink.rejections
    for pair in sink.pairs:
        answer = pair.messages[-1]["content"]
        assert answer.startswith("The rule: The later year minus the earlier one.") and YEARS in answer
        assert "- 1852-1942 → 90" in answer and answer.endswith("it gives 75.\nAnswer: 75")
        checks = {c.name: c for c in pair.verification.checks}
        assert list(checks) == ["answer_matches_key", "second_query_agrees", "program_aided"]
        assert all(c.ok for c in checks.values()) and "answered '24'" in checks["second_query_agrees"].detail
        assert "answered '21'" in checks["program_aided"].detail  # the teacher's own answer, recorded
    asked = [r for r in model.requests if r.tag.endswith("/rule_function")]
    assert len(asked) == len(sink.pairs)  # the first program answered each
    for request in asked:
        shown = str(request.messages)
        assert "2000-2024" not in shown and "'24'" not in shown and "Output: 75" not in shown
        assert "Input: 1800-1875 -> Output: ?" in shown


@pytest.mark.parametrize(
    ("function", "problem"),
    [
        (CONSTANT, "the function gives '50' for the example '1852-1942', whose output is '90'"),
        ("rule = lambda text: text", "not a Python function definition"),
        ("def rule(text):\n    return text.split(", "the function could not be run"),
        (None, "the teacher's programs could not answer it"),
        (
            YEARS.replace("    return", "    assert first != '1800'\n    return"),
            "the function fails on a query",
        ),
    ],
    ids=["misses-an-example", "no-definition", "syntax-error", "no-program", "fails-on-the-query"],
)
def test_a_function_that_does_not_fit_the_examples_leaves_the_rejection(function, problem) -> None:
    model, sink = run_held_out(function)
    assert not sink.pairs and sink.rejections
    for rejection in sink.rejections:
        assert rejection.reason == "verification_failed:answer_matches_key,second_query_agrees,program_aided"
        assert problem in rejection.detail
    asked = [r for r in model.requests if "/rule_function" in r.tag]
    assert len(asked) >= 3 * len(sink.rejections)  # a function and two fixes (or fresh tries) per task


def test_a_function_that_memorises_the_examples_fails_the_second_query() -> None:
    _, sink = run_held_out(MEMORISED)
    assert not sink.pairs and sink.rejections
    for rejection in sink.rejections:
        assert rejection.reason == "verification_failed:second_query_agrees"
        assert "answered '75', expected '24'" in rejection.detail


def test_a_function_shown_the_examples_it_missed_can_fix_itself() -> None:
    model, sink = run_held_out(CONSTANT, fixed=YEARS)
    assert sink.pairs and not sink.rejections
    assert all(YEARS in pair.messages[-1]["content"] for pair in sink.pairs)
    fixes = [r for r in model.requests if r.tag.endswith("/rule_function/fix")]
    assert len(fixes) == len(sink.pairs)
    shown = fixes[0].messages[-1]["content"]
    assert "for 1852-1942 it gives 50, but the output is 90" in shown and "1900-1950" not in shown
    assert "75" not in shown and "2000-2024" not in shown  # the key and the second query stay hidden


def test_a_function_written_after_a_label_runs() -> None:
    # run s15: the teacher copied the prompt's "The number of letters: def rule(text): ...", label and all
    _, sink = run_held_out("The later year minus the earlier one: " + YEARS)
    assert sink.pairs and not sink.rejections
    assert all(YEARS in pair.messages[-1]["content"] for pair in sink.pairs)


def test_a_function_may_copy_an_example_rule_of_the_prompt_but_the_rule_sentence_may_not() -> None:
    skill = load("few_shot_reasoning")
    template = skill.prompts.extra["rule_function"]
    prompt = render(Path(skill.directory), template, task="Input: school -> Output: 6")
    line = next(x for x in prompt.splitlines() if x.startswith("- The number of letters:"))
    copied = line.removeprefix("- ")
    output = RuleFunctionOutput(rule="Count the letters.", function=copied)
    assert copied_scaffold(output, prompt, {"task": "Input: school -> Output: 6"}) == ""
    assert function_code(output.function) == copied.split(": ", 1)[1]
    output = RuleFunctionOutput(rule=copied, function=copied)
    assert "the field 'rule' copies my request" in copied_scaffold(output, prompt, {"task": "x"})
