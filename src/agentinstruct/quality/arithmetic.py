"""The `arithmetic_verified` check: every arithmetic step written in an answer is re-done with the calculator.

Used by the fermi skill (SPEC §2 row 9), whose answers are step-by-step estimates. A *statement* is an
arithmetic expression followed by a relation and a stated result, within one line or sentence: "a × b = c", "a
* b ≈ c", "a / b = c", "x% of y = z", chains "a × b × c = d" and "a × b = c × d = e" (each link is a
statement; "= c ≈ d", a bare restatement inside a chain, is one too). Operands may carry units ("300 million
people / 2.5 people per household = 120 million households"), currency signs, thousands separators ("2,000"),
scale words and suffixes ("3 million", "1.2 bn", "5k", "$2M"), exponents ("1.5e6", "1.5 × 10^6", "10⁶",
"2**10"; a power after a unit, "m^2" or "km²", is the unit's) and percentages (an operand "40%" is 0.4; a
result "40%" matches either 40 or 0.4). Ranges ("2-3 million × 0.1 = ...", "= 200,000-300,000") are not single
computations and are skipped. `×`, `x` between numbers, `*`, `·`, `/`, `÷`, `+`, `−`, ` - ` (a hyphen with
spaces; "5-10" is a range, not a subtraction), parentheses and basic LaTeX (`\\times`, `\\cdot`, `\\approx`,
`\\frac{a}{b}`) are understood.

Each expression is evaluated by the calculator tool (the run's, else a local `Calculator`), with the usual
operator precedence and, when that disagrees and the expression mixes precedences without brackets, also
left to right (as people often write running totals). A stated result fails when it is off by more than
2% of the computed value, or 10% when the relation is approximate (≈, ~, ≃, ≅) or the result is hedged
("= about 30"); an approximate bare power of ten ("800,000 ≈ 10^6") is an order of magnitude and passes
within half an order (a factor of about 3.2). The check fails when any step is wrong (listing each with
the calculator's value) and when the answer contains no statement at all (a step-by-step estimate must
show its arithmetic), and when the line that gives the final answer or estimate holds no number within 35%
of a result the steps state (the local teacher worked out 800,000 cars and answered 8,000,000).

Knowingly missed: arithmetic written in words ("multiply 300 million by 0.3 to get 90 million"), number
words ("a dozen", "half"), statements spread over several lines (except one quantity worked out on
consecutive lines, "Total = (500 × 50 × 52) + (10 × 52)", "Total = 1,300,000 + 520", "Total ≈ 1,300,520",
which is read as one chain), results stated before the expression in words ("90 million, i.e. 300 million ×
0.3"; in brackets, "20,000 sessions (2000 lots × 100 sessions)", they are read, as approximate), and
expressions the calculator refuses (those are skipped).
"""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from agentinstruct.pairs import Check
from agentinstruct.quality.checks import Candidate, check
from agentinstruct.quality.units import conversion_factors, unit_name
from agentinstruct.tools.calculator import Calculator

EXACT_TOLERANCE = 0.02
APPROX_TOLERANCE = 0.10
MAX_LISTED = 5

SCALES = {
    "hundred": 100,
    "thousand": 10**3,
    "k": 10**3,
    "K": 10**3,
    "million": 10**6,
    "mn": 10**6,
    "M": 10**6,
    "billion": 10**9,
    "bn": 10**9,
    "B": 10**9,
    "trillion": 10**12,
}
HEDGES = {"about", "approximately", "approx", "roughly", "around", "nearly", "almost", "some", "circa", "ca"}
SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
NUMBER = re.compile(
    r"(?P<cur>[$€£¥])?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?P<exp>[eE][+-]?\d{1,3})?"
    r"(?:\s*[*xX]\s*10\s*\^\s*(?P<sci>-?\d{1,3}))?"
    r"(?P<pct>\s*(?:%|percent\b|per cent\b))?"
    r"(?:\s*(?P<scale>hundred|thousand|million|billion|trillion|mn|bn|[kKMB])\b)?"
)
TOKEN = re.compile(
    rf"(?P<number>{NUMBER.pattern})"
    r"|(?P<op>[*/+^]|(?<=\s)-(?=\s)|(?<=\s)[xX](?=\s)|(?<=\d)[xX](?=\s*[\d$€£]))"
    r"|(?P<lp>\()|(?P<rp>\))"
    r"|(?P<word>[A-Za-z][A-Za-z'’²³]*(?:[/-][A-Za-z][A-Za-z'’²³]*)*)"
    r"|(?P<other>\S)"
)
RELATION = re.compile(r"(?<![<>!=])==?(?!=)|≈|≃|≅|~=|(?<=\s)~(?=\s)")
APPROX = {"≈", "≃", "≅", "~=", "~"}
#: a line that works out a named quantity: "- Total cost per year = ..." (the name holds no digit)
LABELLED = re.compile(
    r"^(?P<lead>[ \t]*(?:[-*•][ \t]+)?)(?P<label>[A-Za-z][A-Za-z '’()/-]{0,60}?)"
    r"[ \t]*(?P<rel>=|≈)(?P<rest>.+)$"
)
SEGMENT = re.compile(r"\n+|(?<=[.!?;])\s+(?=[A-Z(*#\-])")
#: a result stated before its working in brackets: "20,000 mowing sessions (2000 lots × 100 sessions per lot)"
DERIVED = re.compile(
    rf"(?<![\w.,])(?P<result>{NUMBER.pattern})(?P<unit>(?:[ \t]+[A-Za-z][\w'’²³/-]*){{0,5}})[ \t]*"
    r"\((?P<working>[^()=≈~\n]+)\)"
)


@dataclass(frozen=True)
class Token:
    kind: str  # number, op, lp, rp, word, other
    text: str
    start: int = 0
    value: Decimal | None = None
    percent: bool = False


@dataclass(frozen=True)
class Statement:
    """One checkable step: an expression, its stated result and how exact the relation claims to be."""

    text: str
    expression: str
    left_to_right: str | None
    stated: Decimal
    stated_percent: bool
    approximate: bool
    magnitude: bool = False  # the result is a bare power of ten ("≈ 10^6"): an order of magnitude


def normalise(text: str) -> str:
    """Unify the ways answers write operators: Unicode signs, LaTeX, Markdown emphasis, superscripts."""
    text = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"(\1)/(\2)", text)
    # a LaTeX unit, "\text{m}^3", is a unit before its power is read
    text = re.sub(r"\\(?:text|mathrm|textrm)\{([^{}]*)\}", r" \1 ", text)
    # a unit's power stays with the unit ("600 m ^2 / 1 car space" is 600 square metres, not 600 squared)
    text = re.sub(r"(?<=[A-Za-z])[ \t]*\^[ \t]*([23])(?![\d.])", lambda m: "²³"[int(m.group(1)) - 2], text)
    text = re.sub(r"(\d)([⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+)", lambda m: f"{m.group(1)}^{m.group(2)}", text)
    text = re.sub(r"(?<![A-Za-z])[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+", lambda m: m.group(0).translate(SUPERSCRIPTS), text)
    for latex, plain in (("\\times", "*"), ("\\cdot", "*"), ("\\div", "/"), ("\\approx", "≈"), ("\\,", "")):
        text = text.replace(latex, f" {plain} " if plain else plain)
    text = re.sub(r"\\[()\[\]]", " ", text)
    text = re.sub(r"(?<=\d)[ \t]*\*\*[ \t]*(?=\d)", "^", text)
    text = text.replace("**", " ").replace("__", " ").replace("`", " ")
    for sign in ("×", "✕", "·", "⋅", "∙"):
        text = text.replace(sign, " * ")
    return text.replace("÷", " / ").replace("−", " - ").replace("–", "-").replace("\u2009", " ")


def number_value(match: re.Match) -> tuple[Decimal, bool]:
    """The value of a NUMBER match (scale, exponent and percent applied) and whether it was a percent."""
    value = Decimal(match.group("num").replace(",", ""))
    if match.group("exp"):
        value *= Decimal(10) ** int(match.group("exp")[1:])
    if match.group("sci"):
        value *= Decimal(10) ** int(match.group("sci"))
    if match.group("scale"):
        value *= SCALES[match.group("scale")]
    percent = bool(match.group("pct"))
    return value, percent


def tokenize(text: str) -> list[Token]:
    tokens = []
    for match in TOKEN.finditer(text):
        kind = match.lastgroup if match.lastgroup in ("op", "lp", "rp", "word", "other") else "number"
        if kind == "number":
            inner = NUMBER.fullmatch(match.group("number"))
            try:
                value, percent = number_value(inner)
            except (InvalidOperation, OverflowError, ValueError, TypeError):
                tokens.append(Token("other", match.group(0), match.start()))
                continue
            tokens.append(Token("number", match.group(0).strip(), match.start(), value, percent))
        else:
            tokens.append(Token(kind, match.group(0), match.start()))
    return tokens


def literal(token: Token) -> str:
    value = token.value / 100 if token.percent else token.value
    return format(value.normalize(), "f")


def tail_expression(tokens: list[Token]) -> tuple[list[Token], bool]:
    """The arithmetic expression ending a text piece, and whether it is the whole piece (bar units).

    Read backwards: operands (numbers, bracketed groups, followed by up to five unit words) alternate
    with operators; "of" (or "of the") after a percentage is a multiplication.
    """
    kept: list[Token] = []
    expect_operand = True
    i = len(tokens) - 1
    while i >= 0:
        token = tokens[i]
        if token.kind == "word":
            start = i
            while start > 0 and tokens[start - 1].kind == "word" and i - start < 4:
                start -= 1
            before = tokens[start - 1] if start > 0 else None
            if expect_operand and before is not None and before.kind in ("number", "rp"):
                i = start - 1  # unit words after an operand
                continue
            if not expect_operand and tokens[start].text.lower() == "of" and before and before.percent:
                kept.append(Token("op", "*"))
                expect_operand, i = True, start - 1
                continue
            break
        if expect_operand and token.kind in ("number", "rp"):
            expect_operand = token.kind == "rp"
        elif not expect_operand and token.kind in ("op", "lp"):
            expect_operand = token.kind == "op"
        else:
            break
        kept.append(token)
        i -= 1
    if i > 0 and _range_dash(tokens[i]) and tokens[i - 1].kind == "number":
        return [], False  # "2-3 million × 0.1 = ...": a range, not a single computation
    whole = i < 0
    kept.reverse()
    while kept and kept[0].kind in ("op", "rp"):
        kept.pop(0)
        whole = False
    while kept and kept[0].kind == "lp" and _depth(kept) > 0:
        kept.pop(0)
        whole = False
    if not kept or kept[-1].kind not in ("number", "rp") or _depth(kept) != 0:
        return [], False
    return kept, whole


def _range_dash(token: Token) -> bool:
    return (token.kind == "other" and token.text == "-") or (token.kind == "word" and token.text == "to")


def _depth(tokens: list[Token]) -> int:
    depth = 0
    for token in tokens:
        depth += (token.kind == "lp") - (token.kind == "rp")
        if depth < 0:
            return -1
    return depth


def leading_result(tokens: list[Token]) -> tuple[Token | None, bool]:
    """The stated result at the start of a piece (after hedge words), and whether it was hedged."""
    hedged = False
    for index, token in enumerate(tokens):
        if token.kind == "word" and token.text.lower().rstrip(".") in HEDGES:
            hedged = True
            continue
        if token.kind == "other" and token.text in "~≈":
            hedged = True
            continue
        if token.kind != "number":
            return None, hedged
        after = tokens[index + 1 : index + 3]
        if len(after) == 2 and _range_dash(after[0]) and after[1].kind == "number":
            return None, hedged  # "= 200,000-300,000": a range result
        power = tokens[index + 1 : index + 3]
        exponent = power[1].value if len(power) == 2 and power[0].text == "^" else None
        if (
            exponent is not None
            and power[1].kind == "number"
            and exponent == int(exponent)
            and abs(exponent) < 400
        ):
            try:  # "= 10^6" or "= 2^10"
                value = token.value ** int(exponent)
            except (InvalidOperation, OverflowError, ValueError):
                return None, hedged
            return Token("number", f"{token.text}^{power[1].text}", token.start, value, token.percent), hedged
        return token, hedged
    return None, hedged


def render(tokens: list[Token]) -> str:
    parts = []
    for token in tokens:
        if token.kind == "number":
            parts.append(literal(token))
        elif token.kind == "op":
            parts.append("*" if token.text in "xX" else token.text)
        else:
            parts.append(token.text)
    return " ".join(parts)


def left_to_right(tokens: list[Token]) -> str | None:
    """The same expression bracketed left to right, when it mixes + - with * / and has no brackets."""
    ops = [t.text.replace("x", "*").replace("X", "*") for t in tokens if t.kind == "op"]
    if any(t.kind in ("lp", "rp") for t in tokens) or "^" in ops:
        return None
    if not ({"+", "-"} & set(ops) and {"*", "/"} & set(ops)):
        return None
    text = literal(tokens[0])
    for op, operand in zip(tokens[1::2], tokens[2::2], strict=False):
        text = f"({text} {'*' if op.text in 'xX' else op.text} {literal(operand)})"
    return text


def find_statements(answer: str) -> list[Statement]:
    """Every arithmetic statement of the answer, in order (results stated before their bracketed working
    after those stated after it)."""
    statements = []
    answer_text = _label_chains(normalise(answer))
    for segment in SEGMENT.split(answer_text):
        relations = list(RELATION.finditer(segment))
        if not relations:
            continue
        bounds = [0, *(m.start() for m in relations), len(segment)]
        ends = [0, *(m.end() for m in relations)]
        pieces = [segment[ends[k] : bounds[k + 1]] for k in range(len(relations) + 1)]
        for k, relation in enumerate(relations, start=1):
            statement = _statement(pieces[k - 1], relation.group(0), pieces[k], chained=k > 1)
            if statement is not None:
                statements.append(statement)
    return statements + derived_statements(answer_text)


def _statement(before: str, relation: str, after: str, chained: bool) -> Statement | None:
    """The statement that `relation` makes between the text before and after it, if any: an expression
    and its result, a unit conversion ("75,000 minutes = 1,250 hours"), or a restatement inside a chain."""
    left_tokens, result_tokens = tokenize(before), tokenize(after)
    left, whole = tail_expression(left_tokens)
    result, hedged = leading_result(result_tokens)
    if not left or result is None:
        return None
    has_op = any(t.kind == "op" for t in left)
    approximate = relation in APPROX or hedged
    shown = f"{render_source(before, left)} {relation} {' '.join(result.text.split())}".strip()
    if not has_op:
        units = (_unit_after(left_tokens, left[-1]), _unit_after(result_tokens, result))
        factors = conversion_factors(*units) if len(left) == 1 and all(units) else []
        # "1 day = 8 hours" defines a unit (a working day): it is an assumption, no step
        if factors and 1 not in (left[0].value, result.value):
            return Statement(
                text=f"{shown} {units[1]}",
                expression=f"{render(left)} * {factors[0]}",
                left_to_right=f"{render(left)} * {factors[1]}" if len(factors) > 1 else None,
                stated=result.value,
                stated_percent=result.percent,
                # a month is 4 weeks or 30 days as often as 4.35 weeks or 30.44 days
                approximate=approximate or "month" in {unit_name(u) for u in units},
            )
        different = all(units) and unit_name(units[0]) != unit_name(units[1])
        if not (chained and whole) or different:
            return None  # "= 120 million households = 300 million people" restates nothing
    return Statement(
        text=shown,
        expression=render(left),
        left_to_right=left_to_right(left) if has_op else None,
        stated=result.value,
        stated_percent=result.percent,
        approximate=approximate,
        magnitude=bool(re.fullmatch(r"10\s*\^\s*-?\d+", result.text)),
    )


def _unit_after(tokens: list[Token], token: Token) -> str:
    """The unit word right after a number ("" when none; a rate, "15 minutes per shelf", is no unit)."""
    try:
        index = tokens.index(token)
    except ValueError:
        return ""  # a power worked out by leading_result ("10^6")
    words = [t for t in tokens[index + 1 : index + 3]]
    if not words or words[0].kind != "word" or "/" in words[0].text:
        return ""
    if len(words) > 1 and words[1].kind in ("word", "op") and words[1].text.lower() in ("per", "/"):
        return ""
    return words[0].text


def derived_statements(text: str) -> list[Statement]:
    """Results stated before their working in brackets, "20,000 sessions (2000 lots × 100 sessions per lot)",
    read as "2000 × 100 ≈ 20,000" (about: a bracket is rough working). The bracket must hold an operator and
    nothing but operands with units; the local fermi teacher's 20,000 for 2000 × 100 passed unread (s14)."""
    statements = []
    for found in DERIVED.finditer(text):
        tokens = tokenize(found["working"])
        working, whole = tail_expression(tokens)
        if not whole or not any(t.kind == "op" for t in working):
            continue
        units = {_unit(w) for w in found["unit"].split()}
        worked_units = {_unit(t.text) for t in tokens if t.kind == "word"} - {"of", "the", "per", "a", "an"}
        if units and worked_units and not units & worked_units:
            continue  # "1 building (100 m × 100 m)": the bracket gives its size, not how the count was found
        [result] = [t for t in tokenize(found["result"]) if t.kind == "number"] or [None]
        if result is None:
            continue
        stated = " ".join(f"{found['result']}{found['unit']}".split())
        statements.append(
            Statement(
                text=f"{stated} ({' '.join(found['working'].split())})",
                expression=render(working),
                left_to_right=left_to_right(working),
                stated=result.value,
                stated_percent=result.percent,
                approximate=True,
            )
        )
    return statements


def _unit(word: str) -> str:
    return word.casefold().removesuffix("s")


def _label_chains(text: str) -> str:
    """Consecutive lines that work out the same named quantity, joined into one chain: "Total = a × b" then
    "Total = c" is "Total = a × b = c" (the local fermi teacher wrote its sums so, and no line alone holds
    an expression with its result)."""
    lines: list[str] = []
    label = ""
    for line in text.split("\n"):
        found = LABELLED.match(line)
        name = " ".join(found["label"].lower().split()) if found else ""
        if found and name == label and lines:
            lines[-1] += f" {found['rel']}{found['rest']}"
            continue
        label = name
        lines.append(line)
    return "\n".join(lines)


def render_source(piece: str, left: list[Token]) -> str:
    """The statement's left side as the answer wrote it (from its first operand to the piece's end)."""
    return " ".join(piece[left[0].start :].split())


async def calculate(expression: str, tool: Any = None) -> dict[str, Any]:
    """The calculator's result for `expression` ({"numeric": "...", ...} or {"error": ...}): the run's
    calculator tool when given (its calls are recorded), else a local `Calculator` off the event loop."""
    if tool is not None:
        result = await tool.call(expression=expression)
    else:
        result = await asyncio.to_thread(Calculator().evaluate, expression)
    return result if isinstance(result, dict) else {}


async def compute(expression: str, candidate: Candidate) -> float | None:
    """The calculator's numeric value of `expression`, or None when it gives no real number."""
    numeric = (await calculate(expression, candidate.tools.get("calculator"))).get("numeric")
    try:
        return float(numeric) if isinstance(numeric, str) else None
    except ValueError:
        return None


def close(stated: float, computed: float, tolerance: float) -> bool:
    if computed == 0:
        return abs(stated) <= tolerance
    return abs(stated - computed) <= tolerance * abs(computed)


def matches(statement: Statement, computed: float) -> bool:
    if statement.magnitude and statement.approximate and computed > 0:
        return abs(math.log10(computed) - math.log10(float(statement.stated))) <= 0.5
    tolerance = APPROX_TOLERANCE if statement.approximate else EXACT_TOLERANCE
    stated = float(statement.stated)
    candidates = [stated, stated / 100] if statement.stated_percent else [stated]
    return any(close(value, computed, tolerance) for value in candidates)


#: the line that gives the estimate: "3. Final answer: ...", "Final estimate: about 3 million households"
FINAL_LINE = re.compile(r"^[\s#*>\d.)-]*final\s+(?:answer|estimate)\b[^:\n]*:?(?P<rest>.*)$", re.I | re.M)
#: how far a final estimate may round the result its steps work out (3.2 million given as "about 3 million")
FINAL_TOLERANCE = 0.35


def unworked_final(answer: str, statements: list[Statement]) -> str:
    """Why the final estimate is none of the results the steps state ("" when it is one, rounded, or when
    the answer has no final line with a number): the local teacher worked out 800,000 cars and gave
    8,000,000 as its final answer (run s14)."""
    found = FINAL_LINE.search(normalise(answer))
    if not found or not statements:
        return ""
    after = normalise(answer)[found.start("rest") :].split("\n")
    line = next((ln for ln in after if tokenize(ln) and any(t.kind == "number" for t in tokenize(ln))), "")
    numbers = [t for t in tokenize(line) if t.kind == "number" and not re.fullmatch(r"10\s*\^.*", t.text)]
    if not numbers:
        return ""
    results = [float(s.stated) for s in statements]
    # any number of the line: it may restate the question's figures first ("a group of 20 to 40 ... 80 hours")
    if any(close(float(n.value), r, FINAL_TOLERANCE) for n in numbers for r in results):
        return ""
    final, worked = float(numbers[-1].value), ", ".join(_short(r) for r in dict.fromkeys(results[-3:]))
    return f"the final estimate {_short(final)} is none of the results the steps work out (last: {worked})"


def _short(value: float) -> str:
    return f"{value:,.6g}" if abs(value) < 1e15 else f"{value:.6g}"


@check("arithmetic_verified")
async def arithmetic_verified(candidate: Candidate) -> Check:
    """Re-do every arithmetic step of the answer with the calculator; fail on wrong or absent steps."""
    statements = find_statements(candidate.answer)
    if not statements:
        return Check(
            name="arithmetic_verified",
            ok=False,
            detail="no arithmetic step found: write each calculation of the estimate as an equation "
            "such as '300 million × 0.25 = 75 million', with its result",
        )
    wrong, verified, skipped = [], 0, 0
    for statement in statements:
        computed = await compute(statement.expression, candidate)
        if computed is None:
            skipped += 1
            continue
        verified += 1
        if matches(statement, computed):
            continue
        alternative = await compute(statement.left_to_right, candidate) if statement.left_to_right else None
        if alternative is not None and matches(statement, alternative):
            continue
        kind = "about" if statement.approximate else "exactly"
        wrong.append(f"'{statement.text}' ({kind} {_short(computed)} by the calculator)")
    unworked = unworked_final(candidate.answer, statements)
    if wrong or unworked:
        listed = "; ".join(wrong[:MAX_LISTED]) + (
            f"; and {len(wrong) - MAX_LISTED} more" if len(wrong) > MAX_LISTED else ""
        )
        # the final estimate is no step: "2 of 1 arithmetic steps are wrong" counted it as one (s16)
        problems = [f"{len(wrong)} of {verified} arithmetic steps are wrong: {listed}"] if wrong else []
        detail = "; ".join([*problems, *([unworked] if unworked else [])])
        return Check(name="arithmetic_verified", ok=False, detail=detail)
    if not verified:
        detail = "no arithmetic step could be evaluated: write each calculation as digits and operators"
        return Check(name="arithmetic_verified", ok=False, detail=detail)
    note = f" ({skipped} could not be evaluated and were skipped)" if skipped else ""
    return Check(
        name="arithmetic_verified",
        ok=True,
        detail=f"{verified} arithmetic steps re-done with the calculator{note}",
    )
