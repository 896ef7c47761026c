"""Named verification checks that skills list in their `checks:` field.

A check looks at one candidate pair (its answer and its context) and returns a `Check`, or None when it
does not apply to that pair. Checks are registered by name so skill files can refer to them; an unknown
name in a skill file is an error at load time of the flow, not a silent no-op.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentinstruct.pairs import Check

if TYPE_CHECKING:  # constraints.py imports this module to register its check, so not the other way round
    from agentinstruct.quality.constraints import Constraint
    from agentinstruct.tools import Tool


@dataclass(frozen=True)
class Candidate:
    """What a check may look at."""

    skill: str
    instruction_type: str
    content: str
    instruction: str
    answer: str
    unanswerable: bool
    #: machine-checkable constraints the instruction carries (quality.constraints), checked by "constraints"
    constraints: tuple[Constraint, ...] = ()
    #: further fields the instruction/editor agents returned (an answer key, a schema, a program...)
    details: Mapping[str, Any] = field(default_factory=dict)
    #: the run's tools by name ("python", "calculator", "search"), for checks that execute or look up
    tools: Mapping[str, Tool] = field(default_factory=dict)
    #: asks the teacher again, independently (optionally `instruction=` a variant of the task), for checks
    #: that compare two answers (None outside a flow)
    resample: Callable[..., Awaitable[str]] | None = None
    #: code computed the answer key from the task's structure: it is itself an independent answer
    key_by_code: bool = False


#: a check returns a Check, None when it does not apply, or an awaitable of either
CheckFunction = Callable[[Candidate], "Check | Awaitable[Check | None] | None"]
CHECKS: dict[str, CheckFunction] = {}


#: how many offending items a check's detail names before it says "and N more"
MAX_LISTED = 8


def listed(items: list[str], limit: int = MAX_LISTED) -> str:
    """The items quoted and comma-separated, cut at `limit` with how many more there are."""
    shown = ", ".join(f"'{item}'" for item in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def check(name: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check function under a name usable in skill files."""

    def register(function: CheckFunction) -> CheckFunction:
        CHECKS[name] = function
        return function

    return register


DECLINE_PATTERNS = re.compile(
    r"cannot be determined|can ?not be answered|not (?:possible|enough information) to (?:determine|answer)"
    r"|does not (?:provide|contain|state|mention) enough|insufficient information|not stated in the passage",
    re.IGNORECASE,
)


@check("unanswerable_declined")
def unanswerable_declined(candidate: Candidate) -> Check | None:
    """An item made unanswerable must be declined, not answered with invented facts; an answerable one whose
    final answer declines fails too (otherwise the check does not apply to it).

    The local teacher ended "Who is the moderator?" with "Answer: The answer cannot be determined from the
    passage." on an item no editor made unanswerable (run s18): either the question or the answer is wrong.
    A decline the task offers as an option ("D) It cannot be determined") is an answer like any other.
    """
    if not candidate.unanswerable:
        from agentinstruct.quality.agreement import final_answer  # agreement builds on this module

        declined = DECLINE_PATTERNS.search(final_answer(candidate.answer))
        if declined is None or declined.group(0).lower() in candidate.instruction.lower():
            return None
        detail = (
            f"the final answer declines ('{declined.group(0)}') a question that was not made unanswerable: "
            "find the answer in the passage"
        )
        return Check(name="unanswerable_declined", ok=False, detail=detail)
    found = DECLINE_PATTERNS.search(candidate.answer)
    detail = f"declined: '{found.group(0)}'" if found else "the answer does not say it cannot be determined"
    return Check(name="unanswerable_declined", ok=bool(found), detail=detail)


def resolve_checks(names: list[str]) -> list[CheckFunction]:
    """Look up checks by name; an unknown name is an error naming the known ones."""
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise ValueError(f"unknown checks {unknown}; known checks: {sorted(CHECKS)}")
    return [CHECKS[n] for n in names]


async def run_checks(functions: list[CheckFunction], candidate: Candidate) -> list[Check]:
    """Run the applicable checks on a candidate, in order (async checks are awaited)."""
    results = []
    for function in functions:
        result = function(candidate)
        if inspect.isawaitable(result):
            result = await result
        if result is not None:
            results.append(result)
    return results
