"""Program-aided Fermi estimates: the teacher names the estimate's quantities, code does its arithmetic.

The fermi skill's `arithmetic_verified` check re-does every "a × b = c" step of an answer. With the local
1.5B teacher the steps were often wrong ("($50,000 + $5,000) / 2 = $25,000", exactly 27,500) or absent,
and fermi delivered 0 pairs in 3 units of a run. So an answer that still fails after its repair is asked
for once more as a structured estimate (`EstimateProgram`): a list of named steps, each either an assumed
number with a one-line reason or an expression over earlier names, and the name of the final step. Code
computes each expression with the calculator (the same evaluator `arithmetic_verified` uses; no code of the
teacher's is run, so no sandbox is needed and fermi keeps only its calculator), rounds each result that is
not a whole number below a billion to four significant figures and carries the value as written on, so
every equation it writes holds as written (within 0.05%, inside the check's 2%). It
then writes the answer: the assumptions with their reasons, each calculation as an equation, the final
estimate with its order of magnitude. The numbers and reasons are the teacher's; only the arithmetic and
the layout are code's, and `arithmetic_verified` still checks the written answer.

A JSON form rather than a Python program: the grammar holds a small model to it, a step that names no
earlier step is refused with that name, and running it needs no sandbox.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, field_validator

from agentinstruct.agent_outputs import AgentOutput
from agentinstruct.agents import PROMPTS_DIR, Agent
from agentinstruct.flows.state import derive_seed
from agentinstruct.quality.arithmetic import NUMBER, calculate, number_value

if TYPE_CHECKING:
    from agentinstruct.flows.program_aided import AidedAnswer, AidRequest

#: the check whose failures this path answers: a skill checked by it gets an estimate, not a program
ESTIMATE_CHECK = "arithmetic_verified"
#: estimates asked per task, each at its own seed, until one computes
ESTIMATE_ATTEMPTS = 2
#: significant figures each computed value is rounded to (well inside arithmetic_verified's 2%)
SIGNIFICANT = 4
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_EXPRESSION_TOKEN = re.compile(
    rf"(?P<number>{NUMBER.pattern})|(?P<name>{_NAME})|(?P<op>\*\*|[-+*/^])|(?P<lp>\()|(?P<rp>\))|(?P<space>\s+)"
)
_SHOWN_OPS = {"*": "×", "/": "/", "+": "+", "-": "-", "^": "^", "**": "^"}


#: what the grammar lets a step's value be: a number or an expression over names (the local teacher wrote
#: "," as a value, which no step can compute); only in the request schema, so a reply from a backend without
#: a grammar still gets `compute_steps`' error naming the step
VALUE_PATTERN = r"^[$€£]?[A-Za-z0-9_.(][A-Za-z0-9_ .,%+*/()^$€£-]*$"


class EstimateStep(BaseModel):
    name: str = Field(
        json_schema_extra={"pattern": rf"^{_NAME}$"},
        description="the quantity's name as a Python identifier (lowercase words joined by underscores)",
    )
    value_or_expression: str = Field(
        json_schema_extra={"pattern": VALUE_PATTERN},
        description="an assumed number (12000, 2.5, 5%, 2 million) or an arithmetic expression over earlier "
        "steps' names with + - * / ( ), for example a / b where a and b are earlier steps' names",
    )
    note: str = Field(
        default="",
        description="for an assumed number, one line saying why it is reasonable (no calculation); for an "
        "expression, what it works out",
    )

    @field_validator("value_or_expression", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        # a small model often writes an assumed number as a JSON number
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


class EstimateProgram(AgentOutput):
    """The teacher's Fermi estimate as named steps that code computes (`flows.estimates`)."""

    steps: list[EstimateStep] = Field(
        default_factory=list,
        description="the estimate's steps in order: first the assumed numbers, then the calculations",
    )
    final: str = Field(default="", description="the name of the step that is the estimate")
    unit: str | None = Field(default=None, description="the estimate's unit (for example litres per day)")


def estimate_agent(temperature: float, max_tokens: int) -> Agent:
    """The agent asking for an estimate: the aider `SkillFlow._aiders` builds for a skill checked by
    ESTIMATE_CHECK, in place of the programs that print a numeric key."""
    return Agent(
        "estimate_program",
        "fermi_program.j2",
        PROMPTS_DIR,
        EstimateProgram,
        temperature=temperature,
        max_tokens=max_tokens,
    )


@dataclass(frozen=True)
class Step:
    """One step as code computed it: its value (rounded as written) and how it is written."""

    name: str
    value: Decimal
    shown: str  # the value as the answer writes it
    note: str
    equation: str | None = None  # "2,000,000 / 2.5" for a calculation, None for an assumption
    words: str | None = None  # the expression over names, "people / household_size"


class EstimateError(ValueError):
    """The estimate cannot be computed; the message names the step and what is wrong."""


async def by_estimate(request: AidRequest) -> AidedAnswer | list[str]:
    """The answer code writes from the teacher's estimate, or why each estimate failed."""
    from agentinstruct.flows.program_aided import AidedAnswer  # a cycle: program_aided dispatches here

    agent = request.agent
    tag = f"{request.skill.name}/teacher/{request.chain.instruction_type.name}/estimate_program"
    problems: list[str] = []
    call_ids: list[str] = []
    for attempt in range(ESTIMATE_ATTEMPTS):
        seed = derive_seed(request.seed, f"estimate_program{attempt}")
        written = await agent.run(request.model, {"task": request.prompt}, tag=tag, seed=seed)
        call_ids += written.call_ids
        if not written.ok:
            problems.append(written.reason)
            continue
        try:
            steps = await compute_steps(written.output, request.tools.get("calculator"))
        except EstimateError as exc:
            problems.append(f"the estimate could not be computed: {exc}")
            continue
        text = write_answer(steps, written.output.final.strip(), written.output.unit)
        how = (
            "it wrote the estimate as named assumptions and expressions, and code did each calculation with "
            "the calculator and wrote the working"
        )
        return AidedAnswer(text, call_ids, how, second_needed=False)
    return problems


async def compute_steps(program: EstimateProgram, calculator: Any = None) -> list[Step]:
    """Every step's value, in order; an EstimateError names the first step that cannot be computed."""
    steps: dict[str, Step] = {}
    for index, raw in enumerate(program.steps, start=1):
        name = raw.name.strip()
        if not re.fullmatch(_NAME, name):
            raise EstimateError(f"step {index}'s name {name!r} is not an identifier such as households")
        if name in steps:
            raise EstimateError(f"two steps are named {name!r}")
        text = raw.value_or_expression.strip()
        assumed = _assumed(text, steps)
        if assumed is not None:
            if not raw.note.strip():
                raise EstimateError(f"the assumed {name!r} = {text} gives no reason")
            value, percent = number_value(assumed)
            step = Step(name, value / 100 if percent else value, _show(value, percent), raw.note.strip())
        else:
            step = await _calculated(name, text, raw.note.strip(), steps, calculator)
        if step.value <= 0:
            raise EstimateError(f"{name!r} comes out as {step.shown}; a quantity estimated must be positive")
        steps[name] = step
    final = program.final.strip()
    if final not in steps:
        raise EstimateError(f"the final estimate {final!r} is not the name of a step")
    if steps[final].equation is None:
        raise EstimateError(f"the final estimate {final!r} is assumed, not calculated from the assumptions")
    return list(steps.values())


def _assumed(text: str, earlier: dict[str, Step]) -> re.Match | None:
    """The number of an assumed value ("12000", "5%", "2.5 million", also "2,000,000 people": the local
    teacher adds units), or None for an expression (any word naming an earlier step makes it one)."""
    number = NUMBER.match(text)
    if number is None:
        return None
    rest = text[number.end() :].strip()
    if rest and not (
        re.fullmatch(r"[A-Za-z][A-Za-z /]*", rest) and not set(re.findall(_NAME, rest)) & set(earlier)
    ):
        return None
    return number


async def _calculated(name: str, text: str, note: str, earlier: dict[str, Step], calculator: Any) -> Step:
    """A calculated step: its expression over earlier values, computed by the calculator and rounded."""
    shown, computed = [], []
    expect_operand = True
    tokens = _tokens(name, text)
    for token in tokens:
        kind, piece = token.lastgroup, token.group(0).strip()
        if kind == "name" and piece not in earlier:
            known = ", ".join(earlier) or "none yet"
            raise EstimateError(
                f"{name!r} refers to {piece!r}, which no earlier step names (earlier: {known})"
            )
        if kind in ("number", "name") or kind == "lp":
            if not expect_operand:
                raise EstimateError(f"{name!r}: an operator is missing before {piece!r} in {text!r}")
            expect_operand = kind == "lp"
        elif not expect_operand:  # an operator or ")" after an operand
            expect_operand = kind == "op"
        else:
            raise EstimateError(f"{name!r}: {piece!r} has no quantity before it in {text!r}")
        value, written = _operand(kind, piece, earlier)
        computed.append(value)
        shown.append(written)
    if expect_operand:
        raise EstimateError(f"{name!r}: the expression {text!r} ends without a quantity")
    value = _rounded(await _evaluate(" ".join(computed), calculator, name))
    equation = re.sub(r"\( | \)", lambda m: m.group(0).strip(), " ".join(shown))
    has_names = any(t.lastgroup == "name" for t in tokens)
    words = (
        " ".join(text.split()).replace("**", "^").replace("_", " ").replace("*", "×") if has_names else None
    )
    return Step(name, value, _show(value), note, equation, words)


def _tokens(name: str, text: str) -> list[re.Match]:
    tokens, position = [], 0
    while position < len(text):
        token = _EXPRESSION_TOKEN.match(text, position)
        if token is None or not token.group(0):
            raise EstimateError(
                f"{name!r}: cannot read {text[position:]!r} in {text!r} (use names, numbers, + - * /)"
            )
        position = token.end()
        if token.lastgroup != "space":
            tokens.append(token)
    if not tokens:
        raise EstimateError(f"{name!r} has neither a number nor an expression")
    return tokens


def _operand(kind: str, piece: str, earlier: dict[str, Step]) -> tuple[str, str]:
    """(what the calculator is given, what the answer writes) for one token of an expression."""
    if kind == "name":
        step = earlier[piece]
        return f"({format(step.value, 'f')})", step.shown
    if kind == "number":
        value, percent = number_value(NUMBER.fullmatch(piece))
        value = value / 100 if percent else value
        return f"({format(value, 'f')})", _show(value * 100 if percent else value, percent)
    if kind == "op":
        return ("**" if piece in ("^", "**") else piece), _SHOWN_OPS[piece]
    return piece, piece


async def _evaluate(expression: str, calculator: Any, name: str) -> Decimal:
    """The calculator's value of an expression of plain numbers (the run's tool, else a local one)."""
    result = await calculate(expression, calculator)
    numeric = result.get("numeric")
    try:
        value = Decimal(numeric) if isinstance(numeric, str) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        error = result.get("error")
        raise EstimateError(
            f"{name!r} has no numeric value ({error or 'the calculator gave ' + str(numeric)})"
        )
    return value


def _rounded(value: Decimal) -> Decimal:
    """`value` to SIGNIFICANT figures, or whole when it is an integer below a billion (written exactly)."""
    if value == value.to_integral_value() and abs(value) < 10**9:
        return value.to_integral_value()
    exponent = value.adjusted() - SIGNIFICANT + 1
    return value.quantize(Decimal(1).scaleb(exponent)).normalize() if value else value


def _show(value: Decimal, percent: bool = False) -> str:
    """A value as the answer writes it: thousands separators, scale words past a billion, a power of ten
    past a quadrillion, which `arithmetic_verified` all reads back to the same number."""
    if percent:
        return f"{_plain(value)}%"
    magnitude = abs(value)
    if magnitude >= 10**15 or (0 < magnitude < Decimal("0.0001")):
        power = value.adjusted()
        return f"{_plain(value.scaleb(-power))} × 10^{power}"
    if magnitude >= 10**12:
        return f"{_plain(value / 10**12)} trillion"
    if magnitude >= 10**9:
        return f"{_plain(value / 10**9)} billion"
    return _plain(value)


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), ",f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def write_answer(steps: list[Step], final: str, unit: str | None) -> str:
    """The worked estimate: assumptions with reasons, one equation per calculation, the final estimate."""
    assumptions = [s for s in steps if s.equation is None]
    calculations = [s for s in steps if s.equation is not None]
    lines = ["Assumptions:"]
    lines += [f"- {_label(s.name)}: {s.shown} (assumed: {s.note})" for s in assumptions]
    lines += ["", "Calculation:"]
    for number, step in enumerate(calculations, start=1):
        words = f" ({step.words})" if step.words else ""
        note = f" ({step.note})" if step.note else ""
        lines.append(f"{number}. {_label(step.name)}{words}: {step.equation} = {step.shown}{note}")
    estimate = next(s for s in steps if s.name == final)
    power = math.floor(math.log10(float(estimate.value)))
    what = (unit or "").strip() or _label(final).lower()
    lines += ["", f"Final estimate: about {estimate.shown} {what}, an order of magnitude of 10^{power}."]
    return "\n".join(lines)


def _label(name: str) -> str:
    words = " ".join(name.replace("_", " ").split())
    return words[:1].upper() + words[1:]
