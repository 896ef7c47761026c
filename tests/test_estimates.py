"""Program-aided Fermi estimates (`flows.estimates`): the teacher's named steps computed by code, written
as an answer whose every equation `arithmetic_verified` accepts, and clear refusals of steps code cannot
compute."""

from __future__ import annotations

import asyncio
from typing import Any

import jsonschema
import pytest

from agentinstruct.agents import PROMPTS_DIR
from agentinstruct.flows.estimates import EstimateError, EstimateProgram, compute_steps, write_answer
from agentinstruct.quality.arithmetic import arithmetic_verified, find_statements
from agentinstruct.quality.checks import Candidate
from test_skill_fermi import RecordingCalculator

pytestmark = pytest.mark.timeout(60)

ASSUMED = [
    {"name": "people", "value_or_expression": "2 million", "note": "the question says about 2 million"},
    {"name": "household_size", "value_or_expression": 2.5, "note": "a typical household"},
    {"name": "low_rent", "value_or_expression": "$50,000", "note": "a small flat"},
    {"name": "high_rent", "value_or_expression": "5,000 dollars", "note": "a room"},
]


def program(*calculations: tuple[str, str], final: str | None = None, unit: str | None = "units") -> Any:
    steps = [*ASSUMED, *({"name": n, "value_or_expression": e, "note": ""} for n, e in calculations)]
    final = final or calculations[-1][0]
    return EstimateProgram.model_validate({"steps": steps, "final": final, "unit": unit})


def answer_of(estimate: EstimateProgram, calculator: Any = None) -> str:
    steps = asyncio.run(compute_steps(estimate, calculator))
    return write_answer(steps, estimate.final, estimate.unit)


def verified(answer: str) -> Any:
    return asyncio.run(arithmetic_verified(Candidate("fermi", "cost_estimate", "", "", answer, False)))


def test_the_measured_wrong_step_comes_out_right_and_keeps_the_assumptions() -> None:
    worded = "Average rent: ($50,000 + $5,000) / 2 = $25,000"  # the local teacher's step
    assert not verified(worded).ok
    answer = answer_of(program(("average_rent", "(low_rent + high_rent) / 2")))
    assert "1. Average rent ((low rent + high rent) / 2): (50,000 + 5,000) / 2 = 27,500" in answer
    assert "- Low rent: 50,000 (assumed: a small flat)" in answer
    assert "- People: 2,000,000 (assumed: the question says about 2 million)" in answer
    assert answer.endswith("Final estimate: about 27,500 units, an order of magnitude of 10^4.")
    result = verified(answer)
    assert result.ok and result.detail.startswith("1 arithmetic steps"), result.detail


@pytest.mark.parametrize(
    "expression",
    [
        "people / household_size",  # 800,000
        "people / household_size / 3",  # 266,666.67: rounded to 266,700 and carried on as written
        "people * 1234.567",  # 2.469 billion
        "people * people * 1000",  # 4 × 10^15
        "1 / people",  # 5 × 10^-7
        "people * 5% + high_rent - 7",
        "(people - high_rent) * 0.0001234",
        "people ** 2 / 7",
    ],
)
def test_every_equation_written_is_one_arithmetic_verified_accepts(expression: str) -> None:
    estimate = program(("first", expression), ("second", "first * 3 / 7"), ("third", "second / first"))
    answer = answer_of(estimate)
    assert len(find_statements(answer)) == 3, answer
    result = verified(answer)
    assert result.ok, f"{result.detail}\n{answer}"


def test_the_run_calculator_does_the_arithmetic() -> None:
    tool = RecordingCalculator()
    answer_of(program(("households", "people / household_size")), tool)
    assert tool.expressions == ["(2000000) / (2.5)"]


@pytest.mark.parametrize(
    ("calculations", "final", "message"),
    [
        (
            [("households", "people / size")],
            None,
            "'households' refers to 'size', which no earlier step names",
        ),
        ([("households", "people household_size")], None, "an operator is missing before 'household_size'"),
        ([("households", "people / ")], None, "ends without a quantity"),
        ([("households", "people / household_size; 3")], None, "cannot read"),
        ([("households", "import os")], None, "refers to 'import'"),
        ([("households", "* people")], None, "has no quantity before it"),
        ([("households", "high_rent - low_rent")], None, "'households' comes out as -45,000"),
        ([("households", "people / (household_size - 2.5)")], None, "'households' has no numeric value"),
        ([("households", "people / household_size")], "tuners", "'tuners' is not the name of a step"),
        ([("households", "people / household_size")], "people", "'people' is assumed, not calculated"),
        ([("people", "people * 2")], None, "two steps are named 'people'"),
        ([("2nd", "people * 2")], None, "step 5's name '2nd' is not an identifier"),
    ],
)
def test_a_malformed_estimate_is_refused_with_the_step_named(
    calculations: list[tuple[str, str]], final: str | None, message: str
) -> None:
    with pytest.raises(EstimateError) as raised:
        answer_of(program(*calculations, final=final))
    assert message in str(raised.value), str(raised.value)


def test_an_assumption_needs_a_reason() -> None:
    estimate = EstimateProgram.model_validate(
        {
            "steps": [
                {"name": "people", "value_or_expression": "2000000"},
                {"name": "x", "value_or_expression": "people * 2"},
            ],
            "final": "x",
        }
    )
    with pytest.raises(EstimateError, match="the assumed 'people' = 2000000 gives no reason"):
        answer_of(estimate)


def test_the_grammar_holds_names_and_values_to_what_a_step_can_compute() -> None:
    # the local teacher wrote "," as an assumed value and copied the prompt's example names (run s12a)
    schema = EstimateProgram.request_schema()
    step = schema["$defs"]["EstimateStep"]["properties"]
    for good in ("12000", "5%", "2 million", "$50,000", "(a + b) * 12", "visitors / 2.5"):
        jsonschema.validate(good, step["value_or_expression"])
    for bad in (",", "", " ", "; 3", "people; 3"):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, step["value_or_expression"])
    jsonschema.validate("daily_visitors", step["name"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("daily visitors", step["name"])
    prompt = (PROMPTS_DIR / "fermi_program.j2").read_text()
    assert "piano" not in prompt and "households" not in prompt
