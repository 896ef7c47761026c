"""The analytical_reasoning skill (SPEC §2 row 6) and its `unique_solution` check, run in the real sandbox.

The taxonomy against the SPEC row, every template rendered with StrictUndefined (the instruction prompt's
example program is itself verified), the check on candidates (a unique answer that is the key and the
teacher's; several solutions; a program that disagrees with the key; a teacher that disagrees; broken
programs; no sandbox), answer matching, and the full flow with a scripted model, refinement included.
"""

from __future__ import annotations

import asyncio
import json
import re

import jinja2
import pytest

from agentinstruct.flows import FlowSettings, SkillFlow
from agentinstruct.flows.resources import FlowResources, build_tools
from agentinstruct.models import ModelRequest, ScriptedModel
from agentinstruct.pairs import Pair
from agentinstruct.quality.agreement import stated_answer as final_answer
from agentinstruct.quality.checks import CHECKS, Candidate, resolve_checks
from agentinstruct.quality.execution import same_answer, unique_solution
from agentinstruct.skills import BUNDLED_DIR, Skill, load_skill_file, load_skills
from skill_templates import render, strict_environment
from test_flows import ListSink, make_seed

pytestmark = pytest.mark.timeout(180)

SKILL_FILE = BUNDLED_DIR / "analytical_reasoning.yaml"
TYPES = [
    "ordering",
    "grouping",
    "assignment",
    "conditional_logic",
    "syllogism",
    "truth_tellers",
    "scheduling",
]
GOALS = ["add_constraint", "could_be_true_or_must_be_false_variant"]

SEED_TEXT = (
    "The lighthouse at Alder Creek was kept by four keepers, Ada, Bo, Cy and Di, who shared the night "
    "watch. The log shows that no keeper ever watched two nights in a row."
)
SCENARIO = (
    "Setting: four keepers share the night watch over four nights.\nEntities: Ada, Bo, Cy, Di\n"
    "Slots: nights 1 to 4, one keeper per night.\nRules:\n1. Ada watches before Bo.\n"
    "2. Cy watches on night 1 or night 4.\n3. Di watches the night right after Bo."
)
PUZZLE = (
    "Ada, Bo, Cy and Di each keep the night watch once over nights 1 to 4.\n"
    "1. Ada watches before Bo.\n2. Cy watches on night 1 or night 4.\n"
    "3. Di watches the night right after Bo.\n"
    "Which one of the following could be the order from night 1 to night 4?\n"
    "(A) Ada, Bo, Di, Cy\n(B) Bo, Di, Ada, Cy\n(C) Cy, Bo, Di, Ada\n(D) Ada, Cy, Bo, Di"
)
PROGRAM = """import itertools as it
import json

K = ["Ada", "Bo", "Cy", "Di"]
valid = []
for o in it.permutations(K):
    if o.index("Ada") > o.index("Bo"):
        continue
    if o.index("Cy") not in (0, 3):  # rule 2
        continue
    if o.index("Di") != o.index("Bo") + 1:
        continue
    valid.append(o)
options = {
    "A": ("Ada", "Bo", "Di", "Cy"),
    "B": ("Bo", "Di", "Ada", "Cy"),
    "C": ("Cy", "Bo", "Di", "Ada"),
    "D": ("Ada", "Cy", "Bo", "Di"),
}
good = [k for k, v in options.items() if v in valid]
print("checked", len(valid), "orders")
print(json.dumps({"solutions": len(good), "answer": ",".join(good)}))
"""
NOT_UNIQUE = PROGRAM.replace('    if o.index("Cy") not in (0, 3):  # rule 2\n        continue\n', "")
REASONING = (
    "Rule 3 puts Di right after Bo, and rule 1 puts Ada before Bo. (B) and (C) have Ada after Bo; (D) has "
    "Cy on night 2, against rule 2. (A) meets every rule."
)
GOOD_ANSWER = f"{REASONING}\n\n**Answer:** A"
WRONG_ANSWER = f"{REASONING}\n\nAnswer: B"


@pytest.fixture(scope="module")
def skill() -> Skill:
    return load_skill_file(SKILL_FILE)


@pytest.fixture(scope="module")
def tools():
    return build_tools(["python"], None)  # the process-wide default sandbox: shared, never closed here


def verify(tools, answer: str = GOOD_ANSWER, program: str = PROGRAM, key: str = "A"):
    details = {"answer_key": key, "solver_program": program}
    item = Candidate(
        "analytical_reasoning", "ordering", SCENARIO, PUZZLE, answer, False, details=details, tools=tools
    )
    return asyncio.run(unique_solution(item))


# -- the skill file ------------------------------------------------------------------------------------
def test_taxonomy_matches_the_spec_row(skill: Skill) -> None:
    assert "analytical_reasoning" in load_skills()
    assert skill.seed_kinds == ["text"]
    assert [t.name for t in skill.transformations] == ["scenario_builder"]
    assert [t.name for t in skill.instruction_types] == TYPES
    assert [g.name for g in skill.refinement.goals] == GOALS
    assert skill.checks == ["unique_solution"] and resolve_checks(skill.checks)
    assert skill.teacher_tools == ["python"]
    assert skill.repair_rounds == 0, "repairing would tell the teacher the key"
    assert set(skill.instruction_fields) == {"answer_key", "solver_program"}
    assert '{"solutions": N, "answer": "..."}' in skill.instruction_fields["solver_program"]
    for t in skill.instruction_types:
        assert t.intent.strip() and "\n" not in t.intent.strip(), t.name
        # code writes every type's program: the guidance is about the puzzle's data
        assert "itertools" not in t.guidance and len(t.guidance.split()) >= 20, t.name
        if t.task_shape == "arrangement":
            assert t.prompt == "analytical_reasoning/arrangement.j2", t.name
            assert "one_each" in t.guidance, t.name
        else:  # truth_tellers and syllogism: a shape and a prompt of their own
            assert t.task_shape == t.name and t.prompt == f"analytical_reasoning/{t.name}.j2", t.name
    arranged = [t.name for t in skill.instruction_types if t.task_shape == "arrangement"]
    assert arranged == ["ordering", "grouping", "assignment", "conditional_logic", "scheduling"]
    goals = {g.name: g for g in skill.refinement.goals}
    assert not any(g.edits_content or g.marks_unanswerable for g in goals.values())


@pytest.fixture(scope="module")
def env(skill: Skill) -> jinja2.Environment:
    return strict_environment(skill)


def test_every_template_renders(skill: Skill, env: jinja2.Environment) -> None:
    assert len(skill.template_files()) == 11  # with the program-aided answer's two and three shapes' own
    [scenario_builder] = skill.transformations
    text = render(
        env,
        skill.transformation_prompt(scenario_builder),
        seed=SEED_TEXT,
        transformation=scenario_builder,
        skill=skill,
    )
    assert SEED_TEXT in text and "write no rules" in text and "not suitable" in text
    for it in skill.instruction_types:
        text = render(
            env,
            it.prompt or skill.prompts.instruction,
            content=SCENARIO,
            transformation=scenario_builder,
            instruction_type=it,
            skill=skill,
        )
        assert it.guidance in text
        # the scenario's rules are facts the local model copied; code writes the key and program
        assert SCENARIO.split("\nRules:")[0] in text and "Ada watches before Bo" not in text
        assert "solver_program" not in text and "Example of a whole reply's puzzle field:" in text
        if it.task_shape == "arrangement":
            assert '"Ann < Ben"' in text
        else:
            assert "not suitable only if the scenario names no setting" in text
        teacher = render(env, skill.prompts.teacher, skill=skill, instruction_type=it)
        assert it.intent in teacher and 'last line "Answer: X"' in teacher
        assert render(
            env, skill.prompts.user_turn, content=SCENARIO, instruction=PUZZLE, instruction_type=it
        ) == (PUZZLE)
    details = {"answer_key": "A", "solver_program": PROGRAM}
    for goal in skill.refinement.goals:
        for round_ in (1, 2):
            common = {
                "content": SCENARIO,
                "instruction": PUZZLE,
                "instruction_type": skill.instruction_types[0],
                "goal": goal,
                "round": round_,
                "constraints": [],
                "details": details,
            }
            suggestion = render(env, skill.prompts.suggester, **common)
            edit = render(
                env, skill.prompts.editor, suggestion="Add: Bo does not watch on night 2.", **common
            )
            for text in (suggestion, edit):
                assert PUZZLE in text and goal.description in text and "not suitable" in text
                assert "correct answer" in text and ": A" in text
            assert ("round 2" in suggestion) == (round_ == 2)
            assert "solver_program" in edit and '"solutions"' in edit
            assert PROGRAM not in edit, (
                "the editor writes a fresh program (old lines would count as copied scaffold)"
            )


def test_the_example_program_in_the_prompt_is_itself_verified(
    skill: Skill, env: jinja2.Environment, tools
) -> None:
    text = render(
        env,
        skill.prompts.instruction,
        content=SCENARIO,
        transformation=skill.transformations[0],
        instruction_type=skill.instruction_types[0],
        skill=skill,
    )
    program = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    result = verify(tools, answer="Ann cannot be behind Ben...\nAnswer: B", program=program, key="B")
    assert result.ok, result.detail
    generic = [line.strip(" -") for line in program.splitlines() if len(line.strip(" -")) >= 30]
    assert all("Ann" in line for line in generic), "generic example lines stay short (scaffold-copy check)"


# -- the check on candidates ------------------------------------------------------------------------------
def test_a_unique_answer_that_is_the_key_and_the_teachers_passes(tools) -> None:
    assert "unique_solution" in CHECKS
    result = verify(tools)
    assert result.ok and "exactly 1 solution (A)" in result.detail


def test_rejections_say_precisely_what_failed(tools) -> None:
    assert verify(tools, program=NOT_UNIQUE).detail == "the program found 2 solutions, not exactly one"
    assert verify(tools, key="C").detail == "the program's answer A differs from the key C"
    assert verify(tools, answer=WRONG_ANSWER).detail == "the teacher answered B, the key is A"
    assert "no final line 'Answer: ...'" in verify(tools, answer=REASONING).detail
    contradiction = PROGRAM.replace("not in (0, 3)", "not in (9,)")
    assert "found no solution" in verify(tools, program=contradiction).detail
    crash = PROGRAM.replace("valid = []", "valid = []\nundefined_name")
    detail = verify(tools, program=crash).detail
    assert "failed (exit 1)" in detail and "NameError" in detail
    silent = PROGRAM.replace(
        'print(json.dumps({"solutions": len(good), "answer": ",".join(good)}))', "print(good)"
    )
    assert "last line is not" in verify(tools, program=silent).detail
    assert "has no solver_program" in verify(tools, program="").detail
    for result in (verify(tools, program=NOT_UNIQUE), verify(tools, answer=WRONG_ANSWER)):
        assert not result.ok and result.name == "unique_solution"


def test_programs_may_come_fenced_and_give_open_answers(tools) -> None:
    assert verify(tools, program=f"```python\n{PROGRAM}```").ok
    assert verify(tools, program=f"```python\n{PROGRAM}").ok  # the local model left its fence open
    open_program = 'import json\nprint(json.dumps({"solutions": 1, "answer": ["Ada", "Bo", "Di", "Cy"]}))'
    assert verify(tools, program=open_program, key="Ada, Bo, Di, Cy", answer="...\nAnswer: Ada-Bo-Di-Cy").ok
    assert not verify(tools, program=open_program, key="Ada, Bo, Di, Cy", answer="Answer: Ada, Di, Bo, Cy").ok


def test_without_the_sandbox_nothing_runs() -> None:
    result = verify({})
    assert not result.ok and "code interpreter is not set up" in result.detail


def test_answer_matching() -> None:
    assert same_answer("(B)", "B") and same_answer("Option B", "b") and same_answer("B) Cal, Ann, Ben", "B")
    assert not same_answer("B and C", "B") and not same_answer("C", "B") and not same_answer("", "B")
    assert same_answer("Ann, Cal and Ben", "Ann, Cal, Ben") and not same_answer(
        "Cal, Ann, Ben", "Ann, Cal, Ben"
    )
    assert same_answer("Yes.", "yes") and not same_answer("no", "yes")
    assert final_answer("steps\nAnswer: A\nmore\n**Final answer:** (C).") == "(C)"
    assert final_answer("So the answer is **B**.") == "B" and final_answer("It is option B.") is None
    assert final_answer("The answer is B.\nAnswer: C") == "C"


# -- the whole flow ------------------------------------------------------------------------------------
EDITED_PROGRAM = 'import json\nprint(json.dumps({"solutions": 1, "answer": "D"}))'


def reasoning_reply(bad_types: dict[str, str]):
    """Scripted agents; `bad_types` maps a type to "not_unique" (its program) or "teacher" (wrong answer)."""

    def reply(request: ModelRequest) -> object:
        _, stage, *rest = request.tag.split("/")
        user = request.messages[-1]["content"]
        if stage == "transform":
            return {"content": SCENARIO, "suitable": True, "reason": ""}
        if stage == "instruct":
            program = NOT_UNIQUE if bad_types.get(rest[-1]) == "not_unique" else PROGRAM
            return {
                "instruction": f"[{rest[-1]}] {PUZZLE}",
                "answer_key": "A",
                "solver_program": program,
                "suitable": True,
                "reason": "",
            }
        if stage == "refine" and rest[0] == "suggester":
            assert "Its correct answer: A" in user
            return {"suggestion": "Add rule 4: Bo does not watch on night 2.", "suitable": True, "reason": ""}
        if stage == "refine":
            puzzle = user.split('Puzzle:\n"""\n')[1].split('\n"""')[0]
            return {
                "content": "unchanged",
                "instruction": f"{puzzle}\n4. Bo does not watch on night 2. [edited]",
                "answer_key": "D",
                "solver_program": EDITED_PROGRAM,
                "suitable": True,
                "reason": "",
            }
        assert stage == "teacher" and not request.tag.endswith("/repair"), request.tag
        itype = rest[0]
        if not any("Result of python" in str(m.get("content")) for m in request.messages):
            return {"action": "call", "tool": "python", "arguments": {"code": "print(4 * 3 * 2)"}}
        prompt = request.messages[1]["content"]
        if "[edited]" in prompt:
            return {"action": "answer", "answer": f"{REASONING}\nAnswer: D"}
        wrong = bad_types.get(itype) == "teacher"
        return {"action": "answer", "answer": WRONG_ANSWER if wrong else GOOD_ANSWER}

    return reply


def run(model: ScriptedModel, seeds: int, tools, **settings) -> ListSink:
    sink = ListSink()
    flow = SkillFlow(
        load_skills()["analytical_reasoning"],
        model,
        sink,
        FlowSettings(**settings),
        resources=FlowResources(tools=tools),
    )

    async def go() -> None:
        for ordinal in range(seeds):
            await flow.run_seed(make_seed(ordinal, SEED_TEXT), ordinal)

    asyncio.run(go())
    return sink


def test_the_flow_keeps_verified_puzzles_and_rejects_the_rest(tools) -> None:
    bad = {"syllogism": "not_unique", "truth_tellers": "teacher"}
    model = ScriptedModel(reasoning_reply(bad))
    sink = run(model, 4, tools, refinement_rounds=0)

    assert {p.instruction_type for p in sink.pairs} == set(TYPES) - set(bad)
    for pair in sink.pairs:
        Pair.model_validate(pair.model_dump(mode="json"))
        assert [m["role"] for m in pair.messages] == ["system", "user", "assistant"]
        assert pair.messages[1]["content"] == f"[{pair.instruction_type}] {PUZZLE}"
        assert pair.verification.status == "passed"
        [check] = pair.verification.checks
        assert check.name == "unique_solution" and "exactly 1 solution (A)" in check.detail
        [call] = pair.lineage.tool_calls
        assert call["name"] == "python" and '"24' in call["result"]
    reasons = {r.instruction_type: (r.reason, r.detail) for r in sink.rejections}
    assert reasons == {
        "syllogism": (
            "verification_failed:unique_solution",
            "the program found 2 solutions, not exactly one",
        ),
        "truth_tellers": ("verification_failed:unique_solution", "the teacher answered B, the key is A"),
    }
    teacher_prompts = [r for r in model.requests if "/teacher/" in r.tag]
    assert all(
        "solver" not in str(r.messages) and "answer_key" not in str(r.messages) for r in teacher_prompts
    )


def test_refinement_replaces_the_key_and_program_that_are_verified(tools) -> None:
    model = ScriptedModel(reasoning_reply({}))
    sink = run(model, 1, tools, refinement_rounds=1)

    assert len(sink.pairs) == 4 and not sink.rejections
    refined = [p for p in sink.pairs if p.lineage.refinement]
    assert len(refined) == 2
    for pair in refined:
        assert pair.lineage.refinement[0].goal in GOALS
        assert "[edited]" in pair.messages[1]["content"] and pair.messages[-1]["content"].endswith(
            "Answer: D"
        )
        assert "exactly 1 solution (D)" in pair.verification.checks[0].detail


def test_only_arrangement_puzzles_get_a_program_aided_answer(tools) -> None:
    """Truth-tellers and syllogisms are keyed by a letter: the numeric programs could not answer them."""
    skill = load_skills()["analytical_reasoning"]
    flow = SkillFlow(
        skill, ScriptedModel(lambda r: {}), ListSink(), FlowSettings(), resources=FlowResources(tools=tools)
    )
    assert set(flow.aiders) == {"arrangement"}


def test_a_bare_answer_after_tools_is_worked_out_in_words_without_them(tools) -> None:
    """s13: asked for its working with python at hand, the local teacher's program failed and its whole
    answer became the error text; the re-ask goes without tools or the earlier tool turns."""
    scripted = reasoning_reply({})

    def reply(request: ModelRequest) -> object:
        if request.tag.endswith("/worked"):
            return GOOD_ANSWER
        answer = scripted(request)
        if isinstance(answer, dict) and answer.get("action") == "answer":
            return {"action": "answer", "answer": "A"}  # the bare letter, after a python call
        return answer

    model = ScriptedModel(reply)
    sink = run(model, 1, tools, refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    assert pair.messages[-1]["content"] == GOOD_ANSWER and pair.verification.status == "passed"
    [asked] = [r for r in model.requests if r.tag.endswith("/worked")]
    assert asked.tools is None and "action" not in json.dumps(asked.json_schema)  # native or emulated
    assert not any(m["role"] == "tool" or m.get("tool_calls") for m in asked.messages)
    assert asked.messages[-2]["content"] == "A"
    assert 'Answer: " followed by your final answer' in asked.messages[-1]["content"]
