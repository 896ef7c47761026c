"""The results prose about code states for calls, run in the sandbox and compared (quality.code_claims)."""

from __future__ import annotations

import asyncio

import pytest

from agentinstruct.flows.resources import build_tools
from agentinstruct.quality.checks import Candidate
from agentinstruct.quality.code_claims import Claim, stated_claims
from agentinstruct.quality.code_prose import code_discussed

pytestmark = pytest.mark.timeout(120)

#: c19's explain_code task: its code ends with example prints, one of which raises
CODE = """def calculate_rent(length_of_lease: float, rental_rate_per_year: float) -> float:
    if length_of_lease <= 0 or rental_rate_per_year <= 0:
        raise ValueError('Length of lease and rental rate must be positive.')
    return length_of_lease * rental_rate_per_year * 5

print(calculate_rent(5, 1))
print(calculate_rent(0, 1))
"""
TASK = f"Explain what calculate_rent does and when it raises.\n\n```python\n{CODE}```"
EXPLAINED = (
    "`calculate_rent` multiplies the lease length by the yearly rate and by five.\n"
    "- `calculate_rent(0, 1)` raises a `ValueError`, since a lease cannot be zero years long.\n"
    "- `calculate_rent(2, 1.5)` returns `15.0`.\n"
)


@pytest.fixture(scope="module")
def tools():
    return build_tools(["python"], None)


def discussed(answer: str, tools, task: str = TASK):
    candidate = Candidate("coding", "explain_code", "", task, answer, False, tools=tools)
    return asyncio.run(code_discussed(candidate))


def test_claims_are_calls_of_the_tasks_functions_with_literal_arguments() -> None:
    text = (
        "`calculate_rent(5, 1)` returns `$5.00`; `calculate_rent(0, 1)` raises a `ValueError`; "
        "`calculate_rent(years, rate)` returns the rent; `sorted([2, 1])` gives `[1, 2]`; "
        "`calculate_rent(1, 2)` is 10 and `calculate_rent(5, 1)` is 25 (said twice: the first counts)."
    )
    assert stated_claims(text, {"calculate_rent"}) == [
        Claim("calculate_rent(5, 1)", "$5.00"),
        Claim("calculate_rent(1, 2)", "10"),
        Claim("calculate_rent(0, 1)", "ValueError", raises=True),
    ]


def test_right_results_pass_and_are_counted(tools) -> None:
    result = discussed(EXPLAINED, tools)
    assert result.ok and "2 stated call result(s) match" in result.detail, result.detail


def test_a_wrong_result_is_rejected_with_what_the_code_gives(tools) -> None:
    """c19: "`calculate_rent(5, 1)` returns `$5.00`" passed on naming the function; the code gives 25."""
    result = discussed(EXPLAINED + "- `calculate_rent(5, 1)` returns `$5.00`.\n", tools)
    assert not result.ok and "`calculate_rent(5, 1)` returns 25, not $5.00" in result.detail
    raises = discussed("`calculate_rent(1, 1)` raises a `ValueError` in `calculate_rent`.", tools)
    assert not raises.ok and "returns 5, it does not raise ValueError" in raises.detail
    no_raise = discussed("`calculate_rent(-1, 1)` returns `-5`, says `calculate_rent`'s reader.", tools)
    assert not no_raise.ok and "raises ValueError, not -5" in no_raise.detail


@pytest.mark.parametrize(
    ("stated", "ok"),
    [("`£1,250.00`", True), ("1250", True), ("`1250.0`", True), ("`1,249.5`", False), ("`'1250'`", False)],
)
def test_numbers_compare_by_value_and_rounding(tools, stated: str, ok: bool) -> None:
    result = discussed(f"So `calculate_rent(50, 5)` returns {stated} from `calculate_rent`.", tools)
    assert result.ok is ok, result.detail


def test_results_that_cannot_be_judged_are_left_alone(tools) -> None:
    code = "class Lease:\n    pass\n\ndef make_lease(years):\n    return Lease()\n"
    task = f"Explain make_lease.\n\n```python\n{code}```"
    assert discussed("`make_lease(3)` returns `a Lease`, made by `make_lease`.", tools, task).ok  # an object
    assert discussed("`calculate_rent(2, 2)` returns `20`.", {}, TASK).ok  # no sandbox: nothing runs
