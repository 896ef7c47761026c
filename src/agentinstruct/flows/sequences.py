"""Number sequences written as data: the model picks a rule and its numbers; code writes the terms and key.

An instruction type with `task_shape: sequence` (brain_teaser's sequence_pattern) asks its instruction
agent for a structure rather than for the puzzle and its key: a theme (one sentence on what the numbers
count, in the material's world), a rule from a closed list (`RULES`), the rule's numbers (start, step,
step2), how many terms the solver sees and whether it is asked for the next term or a hidden one between
them. Asked for the puzzle and its key, the local 1.5B model keyed sequences "rainwater tank" or
"Reflective roofs + Street trees" (brain_teaser: 0 accepted pairs in 17 units, every rejection
`answers_agree`); computed from the rule, the key is always the sequence's term. Code sends back, with how
to fix it, a structure that cannot make a fair puzzle: a constant sequence, terms beyond `MAX_TERM`, or
shown terms that another rule of the list continues differently (`readings`). It writes
"<theme> The sequence begins 3, 7, 11, 15, 19. What number comes next?" (or a "?" in place of a hidden
term). How a shaped task is asked for and read back is `flows.task_shapes`'; checking the teacher's answer
is `quality.agreement`'s, and answering through programs `flows.program_aided`'s.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from agentinstruct.flows.setup_sentences import whole_sentences

MIN_SHOWN, MAX_SHOWN = 5, 7
#: the longest theme the grammar lets the model write
THEME_LIMIT = 200
#: terms beyond this (either sign) are sent back: a puzzle is about the rule, not about long arithmetic
MAX_TERM = 100_000
MULTIPLY_STEPS = range(2, 6)
ASKS = ("next", "missing")


def _fibonacci(n: int) -> int:
    """F(n) for n >= -1, with F(-1) = 1 and F(0) = 0, so a term is start * F(n - 1) + step * F(n)."""
    previous, current = 1, 0
    for _ in range(n + 1):
        previous, current = current, previous + current
    return previous


def _triangular(n: int) -> int:
    return n * (n + 1) // 2


@dataclass(frozen=True)
class Sequence:
    """A parsed sequence structure: term n (from 0) is `RULES[rule]`'s function of start, step and step2."""

    theme: str
    rule: str
    start: int
    step: int
    step2: int
    shown: int
    ask: str

    def term(self, n: int) -> int:
        return RULES[self.rule][1](self, n)

    def terms(self) -> list[int]:
        """The shown terms and the one asked for: shown + 1 terms, from term 0."""
        return [self.term(n) for n in range(self.shown + 1)]


#: rule -> (what it means, in the words the agent reads; term n from 0 as a closed form)
RULES: dict[str, tuple[str, Callable[[Sequence, int], int]]] = {
    "add": ("start, then add step each time", lambda s, n: s.start + n * s.step),
    "multiply": ("start, then multiply by step (2 to 5) each time", lambda s, n: s.start * s.step**n),
    "add_growing": (
        "start, then add step, step + step2, step + 2 * step2, ... (the differences grow by step2)",
        lambda s, n: s.start + n * s.step + s.step2 * _triangular(n - 1),
    ),
    "alternate_add": (
        "start, then add step and step2 in turn",
        lambda s, n: s.start + (n + 1) // 2 * s.step + n // 2 * s.step2,
    ),
    "squares_plus": (
        "the squares of step, step + 1, step + 2, ..., each plus start",
        lambda s, n: (s.step + n) ** 2 + s.start,
    ),
    "triangular": (
        "the triangular numbers n(n + 1)/2 for n = step, step + 1, ..., each plus start",
        lambda s, n: _triangular(s.step + n) + s.start,
    ),
    "fibonacci_like": (
        "start, step, then each term the sum of the two before it",
        lambda s, n: s.start * _fibonacci(n - 1) + s.step * _fibonacci(n),
    ),
}
#: the rules that use step2; the others ignore it
USES_STEP2 = frozenset({"add_growing", "alternate_add"})

#: what a solver may read a sequence as: each reading is linear in its unknowns (its basis at term n), so
#: whether it fits the shown terms, and what it gives for the term asked, is worked out exactly
READINGS: dict[str, Callable[[int], tuple[int, ...]]] = {
    "differences that grow evenly (add, add_growing, squares_plus, triangular)": lambda n: (1, n, n * n),
    "two steps in turn (alternate_add)": lambda n: (1, (n + 1) // 2, n // 2),
    "each term the sum of the two before (fibonacci_like)": lambda n: (_fibonacci(n - 1), _fibonacci(n)),
    **{f"multiply by {r} (multiply)": (lambda n, r=r: (r**n,)) for r in MULTIPLY_STEPS},
}

_NUMBER_BOUNDS = {"start": (-50, 200), "step": (-50, 200), "step2": (-50, 50)}
SEQUENCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "theme": {"type": "string", "minLength": 1, "maxLength": THEME_LIMIT},
        "rule": {"type": "string", "enum": list(RULES)},
        # small numbers keep the terms small under a grammar; code checks the terms for engines without one
        **{
            name: {"type": "integer", "minimum": low, "maximum": high}
            for name, (low, high) in _NUMBER_BOUNDS.items()
        },
        "shown": {"type": "integer", "minimum": MIN_SHOWN, "maximum": MAX_SHOWN},
        "ask": {"type": "string", "enum": list(ASKS)},
    },
    "required": ["theme", "rule", "start", "step", "step2", "shown", "ask"],
    "additionalProperties": False,
}
SEQUENCE_DESCRIPTION = (
    "the puzzle as data: theme (one sentence saying what the numbers count, in the notes' world, with no "
    "numbers in it), rule (one of: "
    + "; ".join(f"{name}: {meaning}" for name, (meaning, _) in RULES.items())
    + f"), start, step and step2 (whole numbers; step2 only for {' and '.join(sorted(USES_STEP2))}), "
    f"shown ({MIN_SHOWN} to {MAX_SHOWN}: how many terms the solver sees) and ask (next: the term after "
    "them; missing: one more term, hidden among them)"
)


def parse_sequence(data: Any) -> Sequence:
    """The structure, checked field by field: a rule from the list, whole numbers, a theme."""
    if not isinstance(data, dict):
        raise TypeError("not an object")
    rule = str(data.get("rule", "")).strip().lower()
    if rule not in RULES:
        raise ValueError(f"the rule {rule!r} is not one of {', '.join(RULES)}: pick one of them")
    numbers = {name: _whole(data.get(name, 0), name) for name in ("start", "step", "step2", "shown")}
    if not MIN_SHOWN <= numbers["shown"] <= MAX_SHOWN:
        raise ValueError(f"shown is {numbers['shown']}: show {MIN_SHOWN} to {MAX_SHOWN} terms")
    ask = str(data.get("ask", "next")).strip().lower()
    if ask not in ASKS:
        raise ValueError(f"ask is {ask!r}: ask for the 'next' term or a 'missing' one")
    theme = whole_sentences(data.get("theme"), THEME_LIMIT, "theme")
    if not theme:
        raise ValueError("the theme is empty: write one sentence saying what the numbers count")
    return Sequence(theme, rule, ask=ask, **numbers)


def _whole(value: Any, name: str) -> int:
    """A whole number given as a number or its digits ("3"); anything else is sent back."""
    try:
        number = Fraction(str(value).strip()) if not isinstance(value, bool) else None
    except (ValueError, ZeroDivisionError):
        number = None
    if number is None or number.denominator != 1:
        raise ValueError(f"{name} is {value!r}: give a whole number")
    return int(number)


def readings(known: dict[int, int], asked: int) -> Iterator[tuple[str, Fraction]]:
    """(reading, what it gives for term `asked`) for each reading of `READINGS` the known terms fit."""
    for name, basis in READINGS.items():
        positions = sorted(known)
        unknowns = _solve([basis(n) for n in positions], [known[n] for n in positions])
        if unknowns is not None:
            yield name, sum((u * b for u, b in zip(unknowns, basis(asked), strict=True)), Fraction(0))


def _solve(rows: list[tuple[int, ...]], values: list[int]) -> list[Fraction] | None:
    """The one solution of `rows` x = `values`, exactly; None when there is none or more than one."""
    width = len(rows[0])
    matrix = [[Fraction(x) for x in (*row, value)] for row, value in zip(rows, values, strict=True)]
    for column in range(width):
        pivot = next((r for r in range(column, len(matrix)) if matrix[r][column] != 0), None)
        if pivot is None:
            return None  # the known terms cannot tell this unknown apart: the reading gives nothing sure
        matrix[column], matrix[pivot] = matrix[pivot], matrix[column]
        lead = matrix[column]
        lead[:] = [x / lead[column] for x in lead]
        for row in matrix:
            if row is not lead and row[column] != 0:
                row[:] = [a - row[column] * b for a, b in zip(row, lead, strict=True)]
    if any(row[-1] != 0 for row in matrix[width:]):
        return None  # the known terms do not fit this reading
    return [matrix[i][-1] for i in range(width)]


def sequence_puzzle(sequence: Sequence) -> tuple[str, int]:
    """(the task text, its answer) for a fair puzzle; a ValueError says how to make an unfair one fair."""
    _check_rule_numbers(sequence)
    terms = sequence.terms()
    largest = max(terms, key=abs)
    if abs(largest) > MAX_TERM:
        raise ValueError(
            f"the terms reach {largest}, beyond {MAX_TERM}: choose a smaller start or step, or show fewer "
            "terms"
        )
    if len(set(terms)) == 1:
        raise ValueError(f"every term is {terms[0]}: choose a step that changes the terms")
    # the hidden term stands between shown ones; which one follows from the structure, so runs reproduce
    digest = int(hashlib.sha256(repr(sequence).encode()).hexdigest(), 16)
    asked = len(terms) - 1 if sequence.ask == "next" else 1 + digest % (len(terms) - 2)
    answer = terms[asked]
    known = {n: t for n, t in enumerate(terms) if n != asked}
    for reading, value in readings(known, asked):
        if value != answer:
            raise ValueError(
                f"the terms shown also fit another rule ({reading}), which gives {value} instead of "
                f"{answer}: choose other numbers, or show more terms"
            )
    if re.search(rf"(?<![\d.]){answer}(?!\.?\d)", sequence.theme):
        raise ValueError(f"the theme holds {answer}, the answer: leave the sequence's numbers out of it")
    return _task_text(sequence, terms, asked), answer


def _check_rule_numbers(sequence: Sequence) -> None:
    """The numbers each rule needs: a multiplier from 2 to 5, a first square or triangle not below 0."""
    if sequence.rule == "multiply" and sequence.step not in MULTIPLY_STEPS:
        raise ValueError(
            f"multiply's step is {sequence.step}: multiply by {MULTIPLY_STEPS.start} to "
            f"{MULTIPLY_STEPS.stop - 1}"
        )
    first = {"squares_plus": "the first number squared", "triangular": "the first triangle's number"}
    if sequence.rule in first and sequence.step < 0:
        raise ValueError(f"{sequence.rule}'s step is {first[sequence.rule]}: give 0 or more")


def _task_text(sequence: Sequence, terms: list[int], asked: int) -> str:
    if sequence.ask == "next":
        shown = ", ".join(map(str, terms[:-1]))
        return f"{sequence.theme} The sequence begins {shown}. What number comes next?"
    shown = ", ".join("?" if n == asked else str(t) for n, t in enumerate(terms))
    return f"{sequence.theme} The sequence is {shown}. Which number stands in place of the question mark?"


def sequence_fields(data: Any, material: str = "") -> dict[str, str]:
    """The task shape's fields from a sequence structure: the task text (under "task") and its key.

    The notes (`material`) are not needed: the theme ties the numbers to them."""
    task, answer = sequence_puzzle(parse_sequence(data))
    return {"task": task, "answer_key": str(answer)}


#: the terms a sequence task shows, as `_task_text` writes them ("?" for the hidden one)
SHOWN_TERMS = re.compile(r"The sequence (?:begins|is) ((?:-?\d+|\?)(?:, (?:-?\d+|\?))+)\.")


def shown_terms(task: str) -> list[str] | None:
    """The terms a sequence task shows, in order ("?" where one is hidden), or None for another task."""
    found = SHOWN_TERMS.search(task)
    return found.group(1).split(", ") if found else None


#: shown terms a program may hold as numbers of its own: a rule needs its first term or two
GIVEN_TERMS = 2


def terms_problem(shown: list[str], program: str, printed: str) -> str:
    """Why a program is no evidence for a sequence's next or hidden term ("" when it is): it holds more of
    the shown terms than a rule's first two, or the terms it prints are not the ones the task shows. The
    local teacher's program for 4, 7, 11, 16, 22, 29, 37 printed 29 + 37 (s31), a rule none of them obeys."""
    try:
        literals = {node.value for node in ast.walk(ast.parse(program)) if isinstance(node, ast.Constant)}
    except SyntaxError:
        literals = set()
    held = [t for t in dict.fromkeys(shown) if t != "?" and int(t) in literals]
    if len(held) > GIVEN_TERMS:
        return (
            f"the program holds the shown terms {', '.join(held)} as numbers: compute every term from the "
            "first one or two and the rule, so the printed terms show that the rule is the sequence's"
        )
    terms = [t.strip() for t in printed.replace(" ", ",").split(",") if t.strip()]
    given = [(n, t) for n, t in enumerate(shown) if t != "?"]
    if len(terms) < len(shown) or any(terms[n] != t for n, t in given):
        return (
            f"the program's terms ({', '.join(terms[: len(shown) + 1]) or 'none'}) do not reproduce the "
            f"sequence the task shows ({', '.join(shown)}): its rule is not the sequence's rule"
        )
    return ""
