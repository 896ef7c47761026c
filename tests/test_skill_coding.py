"""The coding skill (SPEC §2 row 10) and its `code_runs_tests` check, run in the real sandbox.

The skill file's taxonomy against the SPEC row, every template rendered with StrictUndefined, the check on
candidates (passing, failing with the failing assertion, not applicable, no sandbox, timeouts, ways to skip
tests), and the full flow with a scripted model whose teacher calls the python tool, fails, is repaired,
or stays wrong and is rejected.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import jinja2
import pytest

from agentinstruct.documents import Document, Seed
from agentinstruct.flows import FlowSettings, SkillFlow
from agentinstruct.flows.resources import FlowResources, build_tools
from agentinstruct.models import ModelRequest, ScriptedModel
from agentinstruct.pairs import Pair
from agentinstruct.quality import execution
from agentinstruct.quality.checks import CHECKS, Candidate, resolve_checks
from agentinstruct.quality.code_prose import code_discussed
from agentinstruct.quality.execution import code_runs_tests, split_solution_and_tests
from agentinstruct.skills import BUNDLED_DIR, Skill, load_skill_file, load_skills
from skill_templates import render, strict_environment
from test_flows import ListSink

pytestmark = pytest.mark.timeout(180)

SKILL_FILE = BUNDLED_DIR / "coding.yaml"
TYPES = [
    "implement_function",
    "fix_bug",
    "explain_code",
    "write_tests",
    "refactor",
    "translate_language",
    "complexity_analysis",
    "code_review",
    "complete_code",
    "api_usage",
]
PROSE = {"explain_code", "complexity_analysis", "code_review"}
#: types about existing code: their instruction agent must fill "code"
GIVEN_CODE = PROSE | {"fix_bug", "write_tests", "refactor", "translate_language", "complete_code"}
GOALS = ["add_edge_cases", "add_performance_requirement"]

SEED_CODE = '''def median(values):
    """The middle value of a non-empty list (the mean of the two middle ones for an even length)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
'''
MATERIAL = (
    "Problem: return the median of a list of numbers.\nFunctions: median(values: list[float]) -> float\n"
    "Rules and edge cases: an empty list raises ValueError.\nExamples: median([3, 1, 2]) == 2\n"
    f"Reference code:\n```python\n{SEED_CODE}```"
)
TASK = "Write `median(values: list[float]) -> float`; median([3, 1, 2]) is 2 and median([4, 1, 3, 2]) is 2.5."

SOLUTION = """```python
def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
```"""
TESTS = """```python
def test_odd():
    assert median([3, 1, 2]) == 2

def test_even():
    assert median([4, 1, 3, 2]) == 2.5
```"""
GOOD = f"Sort, then take the middle.\n\n{SOLUTION}\n\n{TESTS}\n"
BAD = GOOD.replace("ordered = sorted(values)", "ordered = list(values)")  # forgets to sort
PROSE_ANSWER = "`median` sorts the list, then returns the middle item or the mean of the two middle ones."
PROSE_BOUND = PROSE_ANSWER + " Sorting dominates: O(n log n) time and O(n) space."
#: prose types are about code that the task itself carries
PROSE_TASK = f"Explain, give the complexity of or review this code:\n```python\n{SEED_CODE}```"
PROSE_WITH_WRONG_TESTS = PROSE_ANSWER + f"\n\n{SOLUTION}\n\n" + TESTS.replace("== 2.5", "== 3")
#: what a scripted task of a type adds to TASK, so that it asks what the type asks
TYPE_ASKS = {"write_tests": " Write tests for it.", "translate_language": " Translate it into JavaScript."}
JS_ANSWER = "Same logic in JavaScript:\n\n```javascript\nfunction median(v) { return v; }\n```\n"


@pytest.fixture(scope="module")
def skill() -> Skill:
    return load_skill_file(SKILL_FILE)


@pytest.fixture(scope="module")
def tools():
    return build_tools(["python"], None)  # the process-wide default sandbox: shared, never closed here


def emulating() -> Skill:
    """The coding skill with its python tool emulated through JSON actions for a scripted model."""
    return load_skills()["coding"].model_copy(update={"tools_without_function_calling": "emulate"})


def candidate(answer: str, tools, instruction_type: str = "implement_function") -> Candidate:
    task = PROSE_TASK if instruction_type in PROSE else TASK
    return Candidate("coding", instruction_type, MATERIAL, task, answer, False, tools=tools)


def discussed(answer: str, tools, instruction_type: str):
    return asyncio.run(code_discussed(candidate(answer, tools, instruction_type)))


def verify(answer: str, tools, instruction_type: str = "implement_function"):
    return asyncio.run(code_runs_tests(candidate(answer, tools, instruction_type)))


# -- the skill file ------------------------------------------------------------------------------------
def test_taxonomy_matches_the_spec_row(skill: Skill) -> None:
    assert "coding" in load_skills()
    assert skill.seed_kinds == ["code", "text"]
    assert [t.name for t in skill.transformations] == ["problem_from_code", "task_from_docs"]
    assert [t.name for t in skill.instruction_types] == TYPES
    assert [g.name for g in skill.refinement.goals] == GOALS
    assert skill.checks == ["code_runs_tests", "code_discussed"] and resolve_checks(skill.checks)
    assert skill.teacher_tools == ["python"]
    assert skill.repair_rounds == 2
    assert skill.system_prompt.strip() and skill.description.strip()
    for t in skill.transformations:
        assert t.description.strip() and t.instruction_types == []
    for t in skill.instruction_types:
        assert t.intent.strip() and "\n" not in t.intent.strip(), t.name
        assert len(t.guidance.split()) >= 30, f"{t.name}: guidance must say what a good task looks like"
    for g in skill.refinement.goals:
        assert g.description.strip() and not g.edits_content and not g.marks_unanswerable


@pytest.fixture(scope="module")
def env(skill: Skill) -> jinja2.Environment:
    return strict_environment(skill)


def test_every_template_renders(skill: Skill, env: jinja2.Environment) -> None:
    assert len(skill.template_files()) == 7
    for t in skill.transformations:
        text = render(env, skill.transformation_prompt(t), seed=SEED_CODE, transformation=t, skill=skill)
        assert SEED_CODE in text and "not suitable" in text and "Reference code" in text
    for it in skill.instruction_types:
        text = render(
            env,
            skill.prompts.instruction,
            content=MATERIAL,
            transformation=skill.transformations[0],
            instruction_type=it,
            skill=skill,
        )
        assert MATERIAL in text and it.guidance in text and "not suitable" in text
        teacher = render(env, skill.prompts.teacher, skill=skill, instruction_type=it, tools=["python"])
        assert it.intent in teacher
        if it.name in PROSE:
            assert "Tests are not required" in teacher
        else:
            assert "```python block of tests" in teacher and "sandbox" in teacher
        assert ("target language is not Python" in teacher) == (it.name == "translate_language")
        assert render(
            env, skill.prompts.user_turn, content=MATERIAL, instruction=TASK, instruction_type=it
        ) == (TASK)
    for goal in skill.refinement.goals:
        for round_ in (1, 2):
            common = {
                "content": MATERIAL,
                "instruction": TASK,
                "instruction_type": skill.instruction_types[0],
                "goal": goal,
                "round": round_,
                "constraints": [],
                "details": {},
            }
            suggestion = render(env, skill.prompts.suggester, **common)
            edit = render(env, skill.prompts.editor, suggestion="Require ValueError for []", **common)
            for text in (suggestion, edit):
                assert TASK in text and goal.description in text and "not suitable" in text
            assert ("round 2" in suggestion) == (round_ == 2)
            assert '"unchanged" in "content"' in edit


# -- the check on candidates ------------------------------------------------------------------------------
def test_the_convention_picks_the_last_tests_block_and_the_block_before_it() -> None:
    shown = "Original:\n```python\nprint('buggy')\n```\n"
    solution, tests = split_solution_and_tests(shown + GOOD)
    assert "sorted(values)" in solution and "def test_odd" in tests
    assert split_solution_and_tests(PROSE_ANSWER) == (None, None)
    untagged = GOOD.replace("```python", "```")
    assert split_solution_and_tests(untagged) == split_solution_and_tests(GOOD)


def test_a_correct_solution_passes_and_a_wrong_one_fails_with_the_assertion(tools) -> None:
    assert "code_runs_tests" in CHECKS
    good = verify(GOOD, tools)
    assert good.ok and "2 test function(s) passed" in good.detail
    bad = verify(BAD, tools)
    assert not bad.ok
    assert "first failure: test_odd" in bad.detail and "AssertionError" in bad.detail
    assert 'File "tests", line 2, in test_odd' in bad.detail  # points into the teacher's own block
    assert len(bad.detail) < 1200


def test_module_level_asserts_and_other_test_styles_run(tools) -> None:
    asserts = f"{SOLUTION}\n\n```python\nassert median([5]) == 5\nassert median([1, 2]) == 1.5\n```"
    assert verify(asserts, tools).ok
    failing = asserts.replace("== 1.5", "== 2")
    detail = verify(failing, tools).detail
    assert "error while running the tests block" in detail and "assert median([1, 2]) == 2" in detail
    styles = """```python
import unittest

class TestMedian(unittest.TestCase):
    def test_odd(self):
        self.assertEqual(median([3, 1, 2]), 2)

class TestPlain:
    def test_even(self):
        assert median([4, 1, 3, 2]) == 2.5

async def test_async():
    assert median([1]) == 1
```"""
    result = verify(f"{SOLUTION}\n\n{styles}", tools)
    assert result.ok and "3 test function(s) passed" in result.detail


def test_tests_cannot_be_skipped_or_empty(tools) -> None:
    exits = GOOD.replace("    return (ordered", "    import os\n    os._exit(0)\n    return (ordered")
    assert "before the tests finished" in verify(exits, tools).detail
    quits = GOOD.replace(
        "```\n\n```python\ndef test_odd", "import sys\nsys.exit(0)\n```\n\n```python\ndef test_odd"
    )
    assert "called sys.exit(0)" in verify(quits, tools).detail
    vacuous = f"{SOLUTION}\n\n```python\ndef test_nothing():\n    assert True\n```"
    assert "never use the solution's names (median)" in verify(vacuous, tools).detail
    empty = f"{SOLUTION}\n\n```python\ndef test_nothing():\n    median([1])\n```"
    assert "no assert statement" in verify(empty, tools).detail
    fixture = f"{SOLUTION}\n\n```python\ndef test_odd(tmp_path):\n    assert median([1]) == 1\n```"
    assert "takes parameters" in verify(fixture, tools).detail
    syntax = GOOD.replace("return ordered[middle]", "return ordered[middle")
    assert "SyntaxError" in verify(syntax, tools).detail and 'File "solution"' in verify(syntax, tools).detail


def test_missing_code_under_test_gets_a_hint(tools) -> None:
    only_tests = "```python\ndef test_odd():\n    assert median([3, 1, 2]) == 2\n```"
    result = verify(only_tests, tools, "write_tests")
    assert not result.ok and "NameError" in result.detail and "its own ```python block" in result.detail


def test_applicability(tools) -> None:
    for itype in ("explain_code", "code_review"):  # prose: nothing runs, the prose is checked
        assert verify(PROSE_ANSWER, tools, itype) is None and discussed(PROSE_ANSWER, tools, itype).ok
    assert not verify(PROSE_WITH_WRONG_TESTS, tools, "complexity_analysis").ok  # tests given: they run
    assert discussed(PROSE_WITH_WRONG_TESTS, tools, "complexity_analysis") is None  # ...and only they
    assert discussed(GOOD, tools, "implement_function") is None
    assert verify(JS_ANSWER, tools, "translate_language") is None
    assert verify(GOOD, tools, "translate_language").ok  # translated into Python: run
    no_tests = verify(f"Here it is:\n{SOLUTION}", tools, "implement_function")
    assert not no_tests.ok and "no ```python block of tests" in no_tests.detail
    assert not verify(f"Here it is:\n{SOLUTION}", tools, "translate_language").ok
    # no fenced block at all: nothing was translated that a check could see (s14 passed such a pair)
    unfenced_code = "The translation:\n\ndef median(xs):\n    return sorted(xs)[1]"
    unfenced = verify(unfenced_code, tools, "translate_language")
    assert not unfenced.ok and "no fenced code block" in unfenced.detail


def test_without_the_sandbox_nothing_runs(tools, monkeypatch) -> None:
    missing = verify(GOOD, {})
    assert not missing.ok and "code interpreter is not set up" in missing.detail

    class Unavailable:
        async def call(self, **_: object) -> dict:
            from agentinstruct.tools.sandbox import SandboxUnavailable

            raise SandboxUnavailable("bubblewrap is missing")

    broken = verify(GOOD, {"python": Unavailable()})
    assert not broken.ok and "cannot run code on this machine: bubblewrap is missing" in broken.detail


def test_an_endless_loop_is_stopped(tools, monkeypatch) -> None:
    monkeypatch.setattr(execution, "TESTS_TIMEOUT_S", 1.0)
    looping = GOOD.replace("    ordered = sorted(values)", "    while True:\n        pass")
    result = verify(looping, tools)
    assert not result.ok and "did not finish within 1 s" in result.detail


# -- the whole flow ------------------------------------------------------------------------------------
def code_seed(index: int) -> Seed:
    text = SEED_CODE
    document = Document(id=f"code{index:03d}", source=f"m{index}.py", sha256="0" * 64, text=text, kind="code")
    return Seed(id=f"code{index:03d}:0-{len(text)}", document=document, span=(0, len(text)), text=text)


def coding_reply(always_bad: bool = False):
    """Scripted coding agents; the teacher tries the python tool, answers badly, and is repaired."""

    def reply(request: ModelRequest) -> object:
        _, stage, *rest = request.tag.split("/")
        if stage == "transform":
            return {"content": MATERIAL, "suitable": True, "reason": ""}
        if stage == "instruct":
            if rest[-1] in PROSE:  # the code in its own field (code_review: in the task as well)
                task = PROSE_TASK if rest[-1] == "code_review" else PROSE_TASK.split(":")[0] + "."
                return {"instruction": f"({rest[-1]}) {task}", "code": SEED_CODE, "suitable": True}
            code = SEED_CODE if rest[-1] in GIVEN_CODE else "-"
            task = TASK + TYPE_ASKS.get(rest[-1], "")
            return {"instruction": f"({rest[-1]}) {task}", "code": code, "suitable": True, "reason": ""}
        if stage == "refine" and rest[0] == "suggester":
            return {"suggestion": f"{rest[-1]}: require ValueError for []", "suitable": True, "reason": ""}
        if stage == "refine":
            task = request.messages[-1]["content"].split('Task:\n"""\n')[1].split('\n"""')[0]
            edited = f"{task} An empty list must raise ValueError ({rest[-1]})."
            fields = {"content": "unchanged", "instruction": edited, "code": "-"}
            return {**fields, "suitable": True, "reason": ""}
        assert stage == "teacher", request.tag
        itype, repair = rest[0], rest[-1] == "repair"
        tried = any("Result of python" in str(m.get("content")) for m in request.messages)
        if not repair and not tried:
            return {"action": "call", "tool": "python", "arguments": {"code": "print(sorted([3, 1, 2]))"}}
        if always_bad:
            answer = PROSE_WITH_WRONG_TESTS if itype in PROSE else BAD
        elif itype in PROSE:
            answer = PROSE_BOUND
        elif itype == "translate_language":
            answer = JS_ANSWER
        else:
            # a repaired answer opens with words to the feedback, which the pair's user never saw (s14)
            answer = (
                f"I apologize for the oversight. Here is the corrected answer:\n\n{GOOD}" if repair else BAD
            )
        return {"action": "answer", "answer": answer}

    return reply


def run(model: ScriptedModel, seeds: int, tools, **settings) -> ListSink:
    skill = emulating()
    sink = ListSink()
    resources = FlowResources(tools=tools)
    flow = SkillFlow(skill, model, sink, FlowSettings(**settings), resources=resources)

    async def go() -> None:
        for ordinal in range(seeds):
            await flow.run_seed(code_seed(ordinal), ordinal)

    asyncio.run(go())
    return sink


def test_the_flow_runs_every_type_and_repairs_failing_code(tools) -> None:
    model = ScriptedModel(coding_reply())
    sink = run(model, 5, tools, refinement_rounds=0)

    assert not sink.rejections
    assert sorted(p.instruction_type for p in sink.pairs) == sorted(TYPES)
    for pair in sink.pairs:
        Pair.model_validate(pair.model_dump(mode="json"))
        assert [m["role"] for m in pair.messages] == ["system", "user", "assistant"]
        task = PROSE_TASK if pair.instruction_type in PROSE else TASK
        task += TYPE_ASKS.get(pair.instruction_type, "")
        fenced = f"\n\n```python\n{SEED_CODE.rstrip()}\n```"
        if pair.instruction_type in PROSE and pair.instruction_type != "code_review":
            # the code came in its own field and is shown after the task, in a fence
            task = PROSE_TASK.split(":")[0] + "." + fenced
        elif pair.instruction_type in GIVEN_CODE - PROSE:
            task += fenced
        assert pair.messages[1]["content"] == f"({pair.instruction_type}) {task}"  # code_review: shown once
        [call] = pair.lineage.tool_calls
        assert call["name"] == "python" and call["ok"] and "[1, 2, 3]" in call["result"]
        checks = {c.name: c for c in pair.verification.checks}
        if pair.instruction_type in PROSE:
            assert pair.verification.status == "passed" and checks["code_discussed"].ok
            assert "'median'" in checks["code_discussed"].detail
            continue
        if pair.instruction_type == "translate_language":  # into JavaScript: its names are checked
            assert pair.verification.status == "passed" and list(checks) == ["code_discussed"]
            continue
        assert pair.verification.status == "passed", pair.instruction_type
        assert checks["code_runs_tests"].ok and "passed in the sandbox" in checks["code_runs_tests"].detail
        assert "passed after 1 repair round" in checks["repaired"].detail
        assert "AssertionError" in checks["repaired"].detail
        assert pair.messages[-1]["content"] == GOOD.strip()
    repairs = Counter(r.tag.split("/")[2] for r in model.requests if r.tag.endswith("/repair"))
    assert set(repairs) == set(TYPES) - PROSE - {"translate_language"}
    feedback = next(r for r in model.requests if r.tag.endswith("/repair")).messages[-1]["content"]
    assert "first failure: test_odd" in feedback and "AssertionError" in feedback


def test_code_that_stays_wrong_is_rejected_after_two_repairs(tools) -> None:
    model = ScriptedModel(coding_reply(always_bad=True))
    sink = run(model, 1, tools, refinement_rounds=0)

    assert not sink.pairs and len(sink.rejections) == 2
    for rejection in sink.rejections:
        assert rejection.reason == "verification_failed:code_runs_tests"
        assert "AssertionError" in rejection.detail
        assert rejection.verification.status == "failed"
        assert not rejection.verification.checks[0].ok
        type_repairs = [r for r in model.requests if r.tag.endswith(f"{rejection.instruction_type}/repair")]
        assert len(type_repairs) == 2


def test_refined_tasks_are_answered_and_verified(tools) -> None:
    model = ScriptedModel(coding_reply())
    sink = run(model, 1, tools, refinement_rounds=2)

    goals = {step.goal for p in sink.pairs for step in p.lineage.refinement}
    assert goals <= set(GOALS) and goals
    refined = [p for p in sink.pairs if p.lineage.refinement]
    assert refined and all("must raise ValueError" in p.messages[1]["content"] for p in refined)
    assert len(sink.pairs) == 6 and not sink.rejections
    assert json.dumps([p.model_dump(mode="json") for p in sink.pairs])


def test_main_guards_and_unittest_main_in_the_tests_run(tools) -> None:
    guarded = f"{SOLUTION}\n\n```python\nif __name__ == '__main__':\n    assert median([1, 2]) == 2\n```"
    result = verify(guarded, tools)
    assert not result.ok and "assert median([1, 2]) == 2" in result.detail
    unit = """```python
import unittest

class TestMedian(unittest.TestCase):
    def test_even(self):
        self.assertEqual(median([1, 2]), 1.5)

if __name__ == "__main__":
    unittest.main()
```"""
    assert verify(f"{SOLUTION}\n\n{unit}", tools).ok
    failing = verify(f"{SOLUTION}\n\n{unit.replace('1.5', '2')}", tools)
    assert not failing.ok and "called sys.exit(1)" in failing.detail and "AssertionError" in failing.detail


def test_quoted_code_with_inner_asserts_is_not_taken_for_tests(tools) -> None:
    quoted = "```python\ndef first(items):\n    assert items, 'empty'\n    return items[0]\n```"
    assert split_solution_and_tests(quoted)[1] is None
    explained = f"It checks that the list is not empty.\n\n{quoted}"
    assert verify(explained, tools, "explain_code") is None  # no tests: nothing runs
    assert discussed(explained, tools, "explain_code") is not None  # the prose check applies


def test_prose_answers_must_be_about_code_the_task_holds(tools) -> None:
    """explain_code, complexity_analysis and code_review run nothing: their prose is checked instead."""
    good = discussed(PROSE_BOUND, tools, "complexity_analysis")
    assert good.ok and "'median'" in good.detail and "O(n log n)" in good.detail
    no_bound = discussed(PROSE_ANSWER, tools, "complexity_analysis")
    assert not no_bound.ok and "no bound" in no_bound.detail
    assert discussed(PROSE_ANSWER, tools, "explain_code").ok  # no bound needed to explain
    vague = discussed("It sorts things and picks one. O(n) time.", tools, "complexity_analysis")
    assert not vague.ok and "never names the code" in vague.detail and "'median'" in vague.detail
    # the pair seen from the local model: a "complexity" task about a garden, with no code in it
    no_code = Candidate(
        "coding",
        "complexity_analysis",
        MATERIAL,
        "Write a Python function to analyze the objections to a garden in a city.",
        "The function `analyze_garden` calculates the estimated costs: O(n).",
        False,
        tools=tools,
    )
    result = asyncio.run(code_discussed(no_code))
    assert not result.ok and "holds no code to analyse" in result.detail


def given_code_flow(itype: str, material: str, tools) -> tuple[ScriptedModel, ListSink]:
    """One seed through a single type whose instruction agent writes code "-" first, the code next."""
    skill = emulating()
    replies = iter(["-", SEED_CODE])
    base = coding_reply()

    def reply(request: ModelRequest) -> object:
        if "/transform/" in request.tag:
            return {"content": material, "suitable": True, "reason": ""}
        if "/instruct/" in request.tag:  # the local model wrote code "-" for a task about given code
            task = f"({itype}) Explain what median does and why it sorts first."
            return {"instruction": task, "code": next(replies), "suitable": True, "reason": ""}
        return base(request)

    single = skill.model_copy(update={"instruction_types": [skill.types_by_name[itype]]})
    model = ScriptedModel(reply)
    sink = ListSink()
    flow = SkillFlow(
        single, model, sink, FlowSettings(refinement_rounds=0), resources=FlowResources(tools=tools)
    )
    asyncio.run(flow.run_seed(code_seed(0), 0))
    return model, sink


def test_a_task_about_given_code_takes_the_reference_code_when_it_leaves_code_out(tools) -> None:
    skill = load_skills()["coding"]
    assert {t.name for t in skill.instruction_types if t.required_fields == ["code"]} == GIVEN_CODE
    filled = {t.name for t in skill.instruction_types if t.filled_from_material}
    assert filled == GIVEN_CODE - {"fix_bug", "complete_code"}  # those two must change the code
    model, sink = given_code_flow("explain_code", MATERIAL, tools)
    assert len([r for r in model.requests if "/instruct/" in r.tag]) == 1
    [pair] = sink.pairs
    assert f"```python\n{SEED_CODE.rstrip()}\n```" in pair.messages[1]["content"]


@pytest.mark.parametrize(
    ("itype", "material"),
    [
        ("fix_bug", MATERIAL),  # the bug must be put in: the reference code as it is will not do
        ("explain_code", MATERIAL.split("Reference code:")[0]),  # no code in the material to take
        ("explain_code", MATERIAL + "\n```python\nprint(median([1]))\n```"),  # two blocks: which one?
    ],
)
def test_a_task_about_given_code_without_the_code_is_asked_again(itype, material, tools) -> None:
    model, sink = given_code_flow(itype, material, tools)
    asks = [r for r in model.requests if "/instruct/" in r.tag]
    assert len(asks) == 2
    assert (
        f"'code' is empty, but a task of this type ({itype}) cannot do without it"
        in asks[1].messages[-1]["content"]
    )
    assert sink.pairs and SEED_CODE.rstrip() in sink.pairs[0].messages[1]["content"]


def test_filled_from_material_names_required_fields(skill: Skill) -> None:
    raw = skill.model_dump()
    fix_bug = next(t for t in raw["instruction_types"] if t["name"] == "fix_bug")
    fix_bug["required_fields"] = []
    fix_bug["filled_from_material"] = ["code"]
    with pytest.raises(ValueError, match=r"fix_bug.filled_from_material: \['code'\] are not in its required"):
        Skill.model_validate(raw)


def test_a_translation_into_another_language_keeps_the_codes_names_and_language() -> None:
    """Nothing here runs JavaScript: without this, such a pair was delivered with no check at all."""
    from agentinstruct.quality.code_prose import translation_problem

    task = f"Translate this into JavaScript, keeping the behaviour.\n\n```python\n{SEED_CODE}```"
    assert translation_problem(task, "javascript", "function median(values) { return values[0]; }") == ""
    assert translation_problem(task, "js", "const median = (values) => values[0];") == ""
    assert "does not define 'median'" in translation_problem(
        task, "javascript", "function mid(v) { return v; }"
    )
    assert "the answer's code block is Java" in translation_problem(
        task, "java", "class M { int median() {} }"
    )
    assert "unchanged" in translation_problem(task, "javascript", SEED_CODE)
    # "Go through" is not the language Go; a task that names no language takes any
    assert (
        translation_problem(
            task.replace("Translate", "Go through it and translate"), "js", "function median(){}"
        )
        == ""
    )


def test_an_implement_function_task_that_shows_the_reference_code_is_sent_back(skill, tools) -> None:
    """c19: the task showed calculate_total_cost whole and asked for it; the answer could only copy it."""
    resources = FlowResources(tools=tools)
    flow = SkillFlow(
        skill, ScriptedModel(lambda request: "ok"), ListSink(), FlowSettings(), resources=resources
    )
    output = flow.instructors["implement_function"].output
    reply = {"instruction": TASK, "suitable": True, "reason": ""}
    with pytest.raises(ValueError, match="'code' must be '-' for a task of this type"):
        output.model_validate({**reply, "code": SEED_CODE})
    assert output.model_validate({**reply, "code": "-"}).instruction == TASK


@pytest.mark.parametrize(
    ("itype", "asked"),
    [
        # s14: a write_tests task asked to write the function it showed; the teacher wrote it again
        ("write_tests", "Write unit tests for median, empty list included."),
        # c19: an explain_code task asked for a function, and the teacher explained wrong results of it
        ("explain_code", "Explain to a new team member why median sorts before it indexes."),
        ("complexity_analysis", "Give the time complexity of median in big-O of the list's length."),
        ("code_review", "Review median for a student and rank the issues you find."),
        # s18: a translate_language task asked for a Python function and showed it in Python
        ("translate_language", "Translate median into idiomatic JavaScript, keeping its errors."),
    ],
)
def test_a_task_that_never_asks_what_its_type_asks_is_sent_back(skill, tools, itype, asked) -> None:
    resources = FlowResources(tools=tools)
    flow = SkillFlow(
        skill, ScriptedModel(lambda request: "ok"), ListSink(), FlowSettings(), resources=resources
    )
    output = flow.instructors[itype].output
    reply = {"code": SEED_CODE, "suitable": True, "reason": ""}
    with pytest.raises(ValueError, match="must contain"):
        output.model_validate({**reply, "instruction": "Write a Python function that returns the median."})
    assert output.model_validate({**reply, "instruction": asked}).instruction.startswith(asked)


def test_without_function_calling_the_teacher_answers_in_free_text_and_the_sandbox_checks_it(tools) -> None:
    """s18: through JSON actions the local teacher wrote prose or code cut from its function, 0 pairs."""
    skill = load_skills()["coding"]
    assert skill.tools_without_function_calling == "skip"
    base = coding_reply()

    def reply(request: ModelRequest) -> object:
        if "/teacher/" not in request.tag:
            return base(request)
        assert request.tools is None and request.json_schema is None, "no tools, no JSON actions"
        assert "python tool" not in str(request.messages[0]["content"])
        return GOOD if request.tag.endswith("/repair") else BAD

    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["implement_function"]]})
    sink = ListSink()
    resources = FlowResources(tools=tools)
    flow = SkillFlow(
        single, ScriptedModel(reply), sink, FlowSettings(refinement_rounds=0), resources=resources
    )
    asyncio.run(flow.run_seed(code_seed(0), 0))
    [pair] = sink.pairs
    checks = {c.name: c for c in pair.verification.checks}
    assert (
        checks["code_runs_tests"].ok and "AssertionError" in checks["repaired"].detail
    )  # ran, failed, repaired
    assert pair.messages[-1]["content"] == GOOD.strip() and not pair.lineage.tool_calls

    native = SkillFlow(
        skill, ScriptedModel(native_tool_calls=True), ListSink(), FlowSettings(), resources=resources
    )
    assert native.teacher_tools is not None
    assert "python tool" in native._teacher_system(skill.types_by_name["implement_function"])


def test_a_solution_closed_by_a_tagged_fence_is_read_as_the_blocks_meant(tools) -> None:
    """s18's teacher closed its solution with "```python", wrote a sentence, and opened its tests."""
    answer = f"The median:\n\n{SOLUTION}python\n\nThe following tests check it:\n\n{TESTS}\n"
    assert split_solution_and_tests(answer) == (
        SOLUTION.removeprefix("```python\n").removesuffix("```"),
        TESTS.removeprefix("```python\n").removesuffix("```"),
    )
    assert verify(answer, tools).ok
    quoted = "```python\nFENCE = '''\n```python\n'''\nprint(FENCE)\n```"  # a block that parses stays whole
    assert execution.code_blocks(quoted) == [("python", "FENCE = '''\n```python\n'''\nprint(FENCE)\n")]


def test_blocks_indented_in_a_list_item_run(tools) -> None:
    """c19: the teacher put its solution and tests under "2. **Complete Solution:**", indented 3 spaces."""
    indent = "\n".join("   " + line for line in f"{SOLUTION}\n\n{TESTS}".splitlines())
    assert verify(f"1. Sort, then take the middle.\n2. **Complete Solution:**\n{indent}\n", tools).ok


def test_a_usage_example_in_prose_about_code_is_not_taken_for_tests(tools) -> None:
    """c19: a complexity analysis ending with a main guard that prints two calls was rejected as vacuous."""
    example = "```python\nif __name__ == '__main__':\n    print(median([3, 1, 2]))  # 2\n```"
    answer = f"{PROSE_BOUND}\n\n{SOLUTION}\n\n{example}"
    assert verify(answer, tools, "complexity_analysis") is None
    assert discussed(answer, tools, "complexity_analysis").ok
    assert not verify(answer, tools, "implement_function").ok  # a task that needs tests still needs them


def test_empty_fields_name_instruction_fields(skill: Skill) -> None:
    raw = skill.model_dump()
    raw["instruction_types"][0]["empty_fields"] = ["reference"]
    match = r"instruction_types.implement_function.empty_fields: \['reference'\] are not instruction_fields"
    with pytest.raises(ValueError, match=match):
        Skill.model_validate(raw)


def test_a_refactor_or_fix_that_gives_the_tasks_code_back_fails(tools) -> None:
    """s20: the "refactored" function was the task's own, with two comments added; its tests passed."""
    task = f"Refactor median for readability, keeping its behaviour.\n\n```python\n{SEED_CODE}```"
    commented = SEED_CODE.replace("    ordered =", "    # sort first\n    ordered =")
    answer = f"Done.\n\n```python\n{commented}```\n\n{TESTS}"
    for itype in ("refactor", "fix_bug", "complete_code"):
        result = asyncio.run(
            code_runs_tests(Candidate("coding", itype, MATERIAL, task, answer, False, tools=tools))
        )
        assert not result.ok and "the task's code unchanged" in result.detail, itype
    changed = f"Done.\n\n{SOLUTION}\n\n{TESTS}"  # the docstring went: a change, however small
    assert asyncio.run(
        code_runs_tests(Candidate("coding", "refactor", MATERIAL, task, changed, False, tools=tools))
    ).ok
    # other types may give the code back: tests of given code hold it as the task does
    same = asyncio.run(
        code_runs_tests(Candidate("coding", "write_tests", MATERIAL, task, answer, False, tools=tools))
    )
    assert same.ok
