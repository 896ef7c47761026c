"""The fermi skill (SPEC §2 row 9): taxonomy, templates, the flow with a calculator-calling scripted teacher,
and the `arithmetic_verified` check re-doing each step of the estimate with the calculator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agentinstruct.flows import FlowSettings, SkillFlow
from agentinstruct.flows.resources import FlowResources, build_tools
from agentinstruct.models import ModelRequest, ScriptedModel
from agentinstruct.pairs import Pair
from agentinstruct.quality.arithmetic import arithmetic_verified, find_statements
from agentinstruct.quality.checks import Candidate, resolve_checks
from agentinstruct.skills import Skill, load_skills
from agentinstruct.tools.calculator import CalculatorTool
from grounded_skills import load, render_every_template, render_template, run_flow, stage, variant
from test_flows import ListSink

pytestmark = pytest.mark.timeout(120)

TYPES = [
    "population_estimate",
    "quantity_estimate",
    "rate_estimate",
    "cost_estimate",
    "physical_estimate",
    "time_estimate",
]
GOALS = ["add_sub_estimate", "ask_for_range"]
SCENARIO = (
    "Harbourtown, a city of about 2 million people, is proud of its music school and its many upright "
    "pianos; a tuner there charges 90 euros a visit and can do about 4 tunings a day."
)
QUESTION = "How many piano tuners work in Harbourtown, a city of about 2 million people?"
GOOD = """Assumptions:
- About 2,000,000 people live in the city, 2.5 people per household.
- 1 household in 20 (5%) owns a piano, tuned once a year.
- A tuner does 4 tunings a day on 250 working days.

Estimate:
1. 2,000,000 people / 2.5 people per household = 800,000 households
2. 5% of 800,000 households = 40,000 pianos, so 40,000 tunings per year
3. 4 tunings/day × 250 days = 1,000 tunings per tuner per year
4. 40,000 / 1,000 ≈ 40 tuners

Final answer: about 40 piano tuners, an order of magnitude of 10^1."""
BAD = GOOD.replace("= 40,000 pianos", "= 4,000 pianos").replace("= 1,000 tunings", "= 10,000 tunings")


def test_taxonomy_matches_the_spec_row() -> None:
    skill = load("fermi")
    assert skill.seed_kinds == ["text"]
    assert [t.name for t in skill.instruction_types] == TYPES
    assert [t.name for t in skill.transformations] == ["quantity_scenario"]
    assert [g.name for g in skill.refinement.goals] == GOALS
    assert skill.teacher_tools == ["calculator"]
    assert skill.checks == ["arithmetic_verified"] and resolve_checks(skill.checks)
    assert skill.repair_rounds == 1
    assert skill.program_aided  # an answer still wrong after repair is written from named steps


def test_loads_with_the_bundled_skills() -> None:
    assert [t.name for t in load_skills()["fermi"].instruction_types] == TYPES


def test_every_template_renders() -> None:
    skill = load("fermi")
    texts = render_every_template(skill, SCENARIO, QUESTION, {})
    assert any("Use the calculator tool" in text for text in texts)
    user = render_template(
        skill,
        skill.prompts.user_turn,
        content=SCENARIO,
        instruction=QUESTION,
        instruction_type=skill.instruction_types[0],
    )
    assert user == QUESTION, "a Fermi question stands on its own"
    without = skill.model_copy(update={"teacher_tools": []})
    teacher = render_template(
        without, skill.prompts.teacher, skill=without, instruction_type=skill.instruction_types[0], tools=[]
    )
    assert "calculator" not in teacher


#: the teacher's estimate as named steps (`flows.estimates`), asked once its worded answer fails for good
ESTIMATE = {
    "steps": [
        {"name": "people", "value_or_expression": "2 million", "note": "the question says about 2 million"},
        {"name": "household_size", "value_or_expression": "2.5", "note": "a typical household"},
        {"name": "piano_share", "value_or_expression": "5%", "note": "1 household in 20 owns a piano"},
        {"name": "tunings_per_day", "value_or_expression": 4, "note": "a tuner does about 4 a day"},
        {"name": "households", "value_or_expression": "people / household_size", "note": ""},
        {"name": "pianos", "value_or_expression": "households * piano_share", "note": "each tuned yearly"},
        {"name": "per_tuner", "value_or_expression": "tunings_per_day * 250", "note": "on 250 working days"},
        {"name": "tuners", "value_or_expression": "pianos / per_tuner", "note": ""},
    ],
    "final": "tuners",
    "unit": "piano tuners",
}


def reply_with(answers: list[str], estimate: object = None):
    """Scripted agents; the teacher first calls the calculator, then gives `answers` in turn, and when asked
    for its estimate as named steps gives `estimate` (by default a reply that is no estimate)."""
    queue = list(answers)

    def reply(request: ModelRequest) -> object:
        step, rest = stage(request)
        if step == "teacher" and rest[-1] == "estimate_program":
            return estimate if estimate is not None else {"answer": "about 40"}
        if step == "transform":
            return {"content": SCENARIO, "suitable": True}
        if step == "instruct":
            return {"instruction": f"({rest[-1]}) {QUESTION}", "suitable": True}
        if step == "refine" and rest[0] == "suggester":
            return {
                "suggestion": f"For {rest[-1]}: also ask for a low and a high estimate.",
                "suitable": True,
            }
        if step == "refine" and rest[0] == "editor":
            text = f"{QUESTION} Give a low and a high estimate too ({rest[-1]} {variant(request)})."
            return {"content": SCENARIO, "instruction": text, "suitable": True}
        if step == "teacher":
            called = any("Result of calculator" in str(m["content"]) for m in request.messages)
            if not called and rest[-1] != "repair":
                return {"action": "call", "tool": "calculator", "arguments": {"expression": "2000000 / 2.5"}}
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
            return {"action": "answer", "answer": answer}
        raise AssertionError(f"unexpected tag {request.tag}")

    return reply


def resources() -> FlowResources:
    return FlowResources(tools=build_tools(["calculator"], None))


def emulating() -> Skill:
    """The fermi skill with its calculator emulated for a model without native function calling."""
    return load("fermi").model_copy(update={"tools_without_function_calling": "emulate"})


def test_the_flow_covers_the_taxonomy_and_records_the_calculator() -> None:
    skill = emulating()
    sink, _ = run_flow(skill, reply_with([GOOD]), 6, resources=resources())
    assert not sink.rejections
    assert {p.instruction_type for p in sink.pairs} == set(TYPES)
    assert {s.goal for p in sink.pairs for s in p.lineage.refinement} == set(GOALS)
    for pair in sink.pairs:
        Pair.model_validate(pair.model_dump(mode="json"))
        assert [m["role"] for m in pair.messages] == ["system", "user", "assistant"]
        assert QUESTION in pair.messages[1]["content"] and SCENARIO not in pair.messages[1]["content"]
        assert pair.messages[2]["content"] == GOOD
        [call] = pair.lineage.tool_calls
        assert call["name"] == "calculator" and call["ok"] and "800000" in call["result"]
        [result] = pair.verification.checks
        assert result.name == "arithmetic_verified" and result.ok and "4 arithmetic steps" in result.detail


def test_wrong_arithmetic_is_repaired_or_rejected() -> None:
    skill = emulating()
    sink, model = run_flow(
        skill, reply_with([BAD, GOOD]), 1, resources=resources(), refinement_rounds=0, instructions_per_seed=1
    )
    [pair] = sink.pairs
    assert pair.messages[2]["content"] == GOOD
    repaired = next(c for c in pair.verification.checks if c.name == "repaired")
    assert "'5% of 800,000 households = 4,000'" in repaired.detail
    repair = next(r for r in model.requests if r.tag.endswith("/repair"))
    assert "exactly 40,000 by the calculator" in repair.messages[-1]["content"]

    sink, _ = run_flow(
        skill, reply_with([BAD]), 1, resources=resources(), refinement_rounds=0, instructions_per_seed=1
    )
    assert not sink.pairs
    [rejection] = sink.rejections
    # no estimate came of the named steps either (the reply was none): the original rejection stands
    assert rejection.reason == "verification_failed:arithmetic_verified,program_aided"
    assert rejection.detail.startswith("2 of 4 arithmetic steps are wrong")
    assert "'4 tunings/day * 250 days = 10,000' (exactly 1,000 by the calculator)" in rejection.detail
    assert "the teacher's programs could not answer it" in rejection.detail


def test_an_answer_still_wrong_after_repair_is_written_from_the_teachers_steps() -> None:
    skill = emulating()
    settings = {"refinement_rounds": 0, "instructions_per_seed": 1}
    sink, model = run_flow(skill, reply_with([BAD], ESTIMATE), 1, resources=resources(), **settings)
    [pair] = sink.pairs
    answer = pair.messages[2]["content"]
    assert "- Piano share: 5% (assumed: 1 household in 20 owns a piano)" in answer  # the teacher's reasons
    assert "2. Pianos (households × piano share): 800,000 × 5% = 40,000 (each tuned yearly)" in answer
    assert answer.endswith("Final estimate: about 40 piano tuners, an order of magnitude of 10^1.")
    checks = {c.name: c for c in pair.verification.checks}
    assert list(checks) == ["arithmetic_verified", "program_aided", "repaired"]
    assert all(c.ok for c in checks.values())
    assert "4 arithmetic steps re-done" in checks["arithmetic_verified"].detail
    assert "'5% of 800,000 households = 4,000'" in checks["program_aided"].detail  # the failed answer
    [asked] = [r for r in model.requests if r.tag.endswith("/estimate_program")]
    assert QUESTION in asked.messages[-1]["content"] and "4,000" not in asked.messages[-1]["content"]


def test_without_function_calling_the_teacher_answers_in_free_text() -> None:
    skill = load("fermi")
    assert skill.tools_without_function_calling == "skip"

    def reply(request: ModelRequest) -> object:
        if stage(request)[0] == "teacher":
            assert request.tools is None and request.json_schema is None, "no tools, no JSON actions"
            assert "calculator" not in str(request.messages[0]["content"])
            return GOOD
        return reply_with([GOOD])(request)

    settings = {"refinement_rounds": 0, "instructions_per_seed": 1}
    sink, _ = run_flow(skill, reply, 1, resources=resources(), **settings)
    [pair] = sink.pairs
    assert pair.messages[2]["content"] == GOOD and not pair.lineage.tool_calls
    [result] = pair.verification.checks
    assert result.name == "arithmetic_verified" and result.ok  # the check re-does the arithmetic itself

    native = SkillFlow(
        skill, ScriptedModel(native_tool_calls=True), ListSink(), FlowSettings(), resources=resources()
    )
    assert native.teacher_tools is not None and "calculator" in native._teacher_system(
        skill.instruction_types[0]
    )


class RecordingCalculator(CalculatorTool):
    def __init__(self) -> None:
        super().__init__()
        self.expressions: list[str] = []

    async def call(self, **arguments: Any) -> dict[str, Any]:
        self.expressions.append(arguments["expression"])
        return await super().call(**arguments)


def check(answer: str, tools: dict | None = None):
    candidate = Candidate(
        "fermi", "population_estimate", SCENARIO, QUESTION, answer, False, tools=tools or {}
    )
    return asyncio.run(arithmetic_verified(candidate))


def test_check_uses_the_run_calculator_and_accepts_right_arithmetic() -> None:
    tool = RecordingCalculator()
    result = check(GOOD, {"calculator": tool})
    assert result.ok, result.detail
    assert tool.expressions == ["2000000 / 2.5", "0.05 * 800000", "4 * 250", "40000 / 1000"]
    assert check(GOOD).ok  # without the run's tool, a local Calculator does the same


def test_check_rejects_wrong_steps_and_answers_without_arithmetic() -> None:
    result = check(BAD)
    assert not result.ok and "2 of 4 arithmetic steps are wrong" in result.detail
    result = check("There are probably about 40 piano tuners in the city.")
    assert not result.ok and "no arithmetic step found" in result.detail


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("3 million × 0.25 = 750,000", True),
        ("1.5e6 / 3 = 500,000", True),
        ("1.5 × 10^6 people × 2 = 3 × 10^6 people", True),
        ("2,000 * 3 = 6000", True),
        ("2**10 = 1024", True),
        ("20% of 300 = 60", True),
        ("120 / 300 = 40%", True),
        ("2 × 3 × 4 = 24", True),
        ("8 billion × 0.3 = 2.4 billion ≈ 2.5 billion", True),  # a chain: 2.4e9 ≈ 2.5e9 within 10%
        ("6 × 50,000 = 300,000 ≈ 10^5", True),  # an order of magnitude: within half an order
        ("6 × 50,000 = 300,000 ≈ 10^6", False),
        ("$\\frac{900}{3} = 300$", True),
        ("7 \\times 8 = 56", True),
        ("100 + 20 × 3 = 360", True),  # read left to right, as a running total
        ("3 million × 0.25 = 75,000", False),
        ("1,000 / 8 = 100", False),  # 125: off by 20% with "="
        ("1,000 / 8 = about 120", True),  # hedged: within 10%
        ("1,000 / 8 ≈ 120", True),
        ("8 billion × 0.3 = 2.4 billion = 3 billion", False),
        # a unit's power is the unit's, not the number's: the local teacher wrote "600 m ^2 / 1 car space"
        ("600 m ^2 / 1 car space = 600", True),
        ("600 m² / 25 m²/car = 24 cars", True),
        ("3 km^3 × 2 = 6 km^3", True),
        ("10^2 m^2 × 3 = 300 m^2", True),
        ("600 m^2 / 2 = 400", False),
        # ...a LaTeX unit's too: the local teacher's correct step was read as 1^3 * 2000000^3 (s14)
        ("1 \\, \\text{m}^3 \\times 2,000,000 \\, \\text{bricks/m}^3 = 2,000,000", True),
        ("\\text{Volume} = 4 \\, \\text{m}^2 \\times 3 = 13", False),
    ],
)
def test_statement_forms(text: str, ok: bool) -> None:
    result = check(f"Step: {text}.")
    assert result.ok == ok, result.detail


def test_ranges_restatements_and_plain_numbers_are_not_statements() -> None:
    text = (
        "Between 2-3 million × 0.1 = 200,000-300,000 people. The year 2023 = a good year. Step 5-10 = 7.\n"
        "So 800,000 ≈ 10^6 households."
    )
    assert find_statements(text) == []


def test_a_quantity_worked_out_on_consecutive_lines_is_one_chain() -> None:
    # the local teacher's sums (run s12a): no line alone holds an expression and its result
    lines = [
        "- Total cost per year = (allotments × cost per allotment) + labour",
        "- Total cost per year = (500 × $50 × 52) + ($10 × 52)",
        "- Total cost per year = $1,300,000 + $520",
        "- Total cost per year ≈ $1,300,520",
    ]
    found = [(s.expression, s.stated) for s in find_statements("\n".join(lines))]
    assert found == [("( 500 * 50 * 52 ) + ( 10 * 52 )", 1300000), ("1300000 + 520", 1300520)]
    assert check("\n".join(lines)).ok
    wrong = [*lines[1:3], "- Total cost per year ≈ $1,900,520"]
    assert not check("\n".join(wrong)).ok
    # lines about different quantities stay apart
    assert find_statements("Cost = 500 × 50\nPeople = 25,000") == []


def test_an_estimate_naming_an_unknown_step_leaves_the_rejection_standing() -> None:
    steps = [*ESTIMATE["steps"][:4], {"name": "households", "value_or_expression": "people / size"}]
    estimate = {**ESTIMATE, "steps": steps, "final": "households"}
    settings = {"refinement_rounds": 0, "instructions_per_seed": 1}
    sink, _ = run_flow(emulating(), reply_with([BAD], estimate), 1, resources=resources(), **settings)
    [rejection] = sink.rejections
    assert not sink.pairs and rejection.reason == "verification_failed:arithmetic_verified,program_aided"
    assert "'households' refers to 'size', which no earlier step names" in rejection.detail


def test_the_flow_builds_the_estimate_agent_and_no_numeric_program_aider() -> None:
    # fermi has no key to compute: its only aider is the estimate written as named steps, built with the
    # flow's teacher settings (it used to get the numeric programs' agent too, which it never asked)
    settings = FlowSettings(teacher_temperature=0.3)
    model = ScriptedModel(lambda r: "ok")
    flow = SkillFlow(emulating(), model, ListSink(), settings, resources=resources())
    agents = set(flow.aiders.values())
    assert [a.name for a in agents] == ["estimate_program"]
    [agent] = agents
    assert agent.temperature == 0.3
    assert set(flow.aiders) == {t.task_shape for t in flow.skill.instruction_types}


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        # a result stated before its working in brackets (s14: 2000 lots x 100 sessions stated as 20,000)
        ("- 20,000 mowing sessions per year (2000 lots × 100 sessions per lot)", False),
        ("- 200,000 mowing sessions per year (2000 lots × 100 sessions per lot)", True),
        ("3 million people (10% of 30 million) walk", True),
        ("about 520 pounds (2 x 250 pounds per day)", True),  # rough working: within 10%
        # beside ordinary steps (s14's pair: the bracket came first, a step after it)
        ("20,000 sessions (2000 lots × 100 sessions per lot).\nTotal = 20,000 × 2,100 = 42,000,000", False),
    ],
)
def test_a_result_before_its_bracketed_working_is_checked(text: str, ok: bool) -> None:
    result = check(f"Step: {text}.")
    assert result.ok == ok, result.detail


def test_a_bracket_that_gives_a_size_is_not_working() -> None:
    # "1 building" measured in metres: the bracket says how big, not how the count was found
    assert find_statements("1 building (100 m × 100 m × 100 m) holds them") == []
    assert find_statements("12 beds (see plan 2 × 3)") == []


def test_a_final_estimate_must_be_a_result_the_steps_work_out() -> None:
    # run s14: the steps worked out 800,000 cars and the final answer said 8,000,000
    steps = "2. Estimate:\n- 80,000 rows * 10 cars per row ≈ 800,000 cars\n\n3. Final answer:\n"
    wrong = check(f"{steps}- Number of cars in a car park: 8,000,000 cars\n- Low estimate: 700,000")
    assert not wrong.ok and "final estimate 8e+06 is none of the results" in wrong.detail
    assert "steps are wrong" not in wrong.detail  # the final estimate is no step ("2 of 1", run s16)
    both = check(f"{steps.replace('800,000 cars', '900,000 cars')}- About 8,000,000 cars.")
    assert both.detail.startswith("1 of 1 arithmetic steps are wrong")
    assert "none of the results" in both.detail
    assert check(f"{steps}- About 800,000 cars, an order of magnitude of 10^6.").ok
    assert check(f"{steps}- Roughly 1 million cars.").ok  # rounded
    # the final line may restate the question's figures before the estimate
    assert check(f"{steps}- For 20 to 40 car parks: 800,000 cars each.").ok


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        # run s16's final lines: a bare quantity restated in a larger unit was never re-done
        ("Total time: 75,000 minutes = 1.25 hours (low estimate)", False),
        ("Total time: 75,000 minutes = 1,250 hours", True),
        ("5,000 shelves × 15 minutes per shelf = 75,000 minutes = 1,250 hours", True),
        ("5,000 shelves × 15 minutes per shelf = 75,000 minutes = 1.25 hours", False),
        ("3 km = 3,000 metres", True),
        ("10 miles ≈ 16 km", True),
        ("10 miles = 1.6 km", False),
        ("2,000 hours = 250 days", True),  # working days of 8 hours
        ("2,000 hours = 100 days", False),
        ("6 months = 24 weeks", True),  # a month is about 4 weeks
        ("1 day = 8 hours", True),  # defines a working day: an assumption, no step
    ],
)
def test_a_quantity_restated_in_another_unit_is_converted(text: str, ok: bool) -> None:
    result = check(f"Step: 4 × 5 = 20. {text}.")
    assert result.ok == ok, result.detail


def test_a_chain_that_changes_what_it_counts_restates_nothing() -> None:
    # "= 120 million households" then "= 300 million people": another quantity, not a wrong restatement
    assert check("300 million / 2.5 = 120 million households = 300 million people").ok
    assert not check("300 million / 2.5 = 120 million = 300 million").ok
