"""Which of a puzzle's rules can stand, and the rules code adds so that a puzzle has enough.

The instruction agent writes an arrangement's rules as sentences with checks (`flows.arrangements`). The
local 1.5B model writes usable casts but unsound rules: facts as rules ("Agnes writes training data",
`Agnes == "Agnes"`, false everywhere), checks that never bite, rules that contradict the others. Sent
back, it wrote the same kind again (0 usable puzzles in 6 units of run s7e). So a rule that cannot stand
is dropped here, with the reason, and when fewer than `MIN_RULES` stand, code adds rules of the kinds
analytical-reasoning tests use (before, immediately after, not next to, not in a slot, same or different
group, if-then, group sizes), each checked against every arrangement so that it bites and leaves at
least one valid, and one that relates two entities when none of the rules does. The question, options,
key and program are written from the rules that result, so the `unique_solution` check is unchanged.
"""

from __future__ import annotations

import ast
import itertools
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MIN_RULES = 3


@dataclass(frozen=True)
class Rule:
    text: str
    check: str
    code: Any  # the compiled check
    by_code: bool = False  # written by `added_rules`, not by the model


#: a sentence that permits without requiring: "The Growers can be on the 5th day" was checked as
#: `Growers == 5` by the local model (run s18), a puzzle whose rule says one thing and its check another
PERMITS = re.compile(r"\b(?:can|may|could|might)\b(?!['’]t)(?!\s+(?:not|never|only)\b)", re.IGNORECASE)
#: ...unless it restricts all the same ("Ann can only sit first", "Only Ben may go on Monday")
RESTRICTS = re.compile(r"\b(?:only|must|always|never|cannot|not)\b|n['’]t\b", re.IGNORECASE)


def permits_only(text: str) -> bool:
    """Whether a rule's sentence only says what may be: a permission is no rule for a check to test."""
    return bool(PERMITS.search(text)) and not RESTRICTS.search(text)


#: a sentence that states a condition: "If Carrick is not in position 1, then Skerrach is not in position 2"
CONDITIONAL = re.compile(r"^\W*(?:if|unless|only\s+if|whenever)\b", re.IGNORECASE)


def conditional_misread(text: str, check: str) -> bool:
    """Whether a conditional sentence's check is no condition: its top level is not an `or` (not A or B),
    `not (A and not B)`, an if-expression or a comparison of truth values. The local model checked the
    sentence above as `Carrick != 1 and Skerrach != 2` (run s18): both parts always, which the sentence
    never says."""
    if not CONDITIONAL.match(text):
        return False
    try:
        tree = ast.parse(check, mode="eval").body
    except SyntaxError:
        return False  # reported as a check that cannot be used
    if isinstance(tree, ast.BoolOp):
        return not isinstance(tree.op, ast.Or)
    if isinstance(tree, ast.UnaryOp) and isinstance(tree.op, ast.Not):  # not (A and not B)
        return not (isinstance(tree.operand, ast.BoolOp) and isinstance(tree.operand.op, ast.And))
    if isinstance(tree, ast.Compare):  # (A == 1) <= (B == 2): truth values compared
        return not any(isinstance(part, ast.Compare | ast.BoolOp) for part in (tree.left, *tree.comparators))
    return not isinstance(tree, ast.IfExp)


def _mentions(rule: Rule, entities: tuple[str, ...]) -> bool:
    """Whether the rule's sentence names every entity its check uses (else they say different things)."""
    used = [e for e in entities if re.search(rf"\b{re.escape(e)}\b", rule.check)]
    return all(re.search(rf"\b{re.escape(e)}\b", rule.text, re.IGNORECASE) for e in used)


def standing_rules(
    rules: tuple[Rule, ...],
    entities: tuple[str, ...],
    everything: list[tuple[Any, ...]],
    evaluate: Callable[[Rule, tuple[Any, ...]], bool],
) -> tuple[list[Rule], list[str], list[tuple[Any, ...]]]:
    """The rules that can stand together, in order, why each other one was dropped, and the arrangements
    that obey every rule kept.

    A rule is dropped when its sentence only permits (`permits_only`), states a condition its check does not
    (`conditional_misread`), its check fails to evaluate, holds
    everywhere, holds nowhere, uses an entity its sentence does not name, leaves no arrangement together
    with the rules kept before it, or repeats one of them (its sentence or its check).
    """
    kept: list[Rule] = []
    dropped: list[str] = []
    valid = everything
    for number, rule in enumerate(rules, 1):
        label = f"rule {number} ({rule.text})"
        if permits_only(rule.text):
            dropped.append(
                f"{label}: it says what may be, not what must be; its check {rule.check!r} requires it"
            )
            continue
        if conditional_misread(rule.text, rule.check):
            dropped.append(
                f"{label}: its check {rule.check!r} is no condition (write 'not (if-part) or (then-part)')"
            )
            continue
        if not _mentions(rule, entities):
            dropped.append(f"{label}: its check {rule.check!r} uses an entity the sentence does not name")
            continue
        try:
            holds = {a for a in everything if evaluate(rule, a)}
        except Exception as exc:  # a number compared with a text, a division by zero...
            dropped.append(f"{label}: its check {rule.check!r} fails when evaluated ({exc})")
            continue
        if len(holds) == len(everything):
            dropped.append(f"{label}: its check {rule.check!r} holds in every arrangement")
        elif not holds:
            dropped.append(f"{label}: its check {rule.check!r} holds in no arrangement")
        elif not (remaining := [a for a in valid if a in holds]):
            dropped.append(f"{label}: no arrangement obeys it together with the rules before it")
        elif any(_same_rule(rule, earlier) for earlier in kept):
            # s36 stated "Deborah should not be ... the 7th slot" twice, as rules 1 and 3
            dropped.append(f"{label}: it repeats a rule before it")
        else:
            kept.append(rule)
            valid = remaining
    return kept, dropped, valid


def added_rules(
    entities: tuple[str, ...],
    slots: tuple[Any, ...],
    one_each: bool,
    valid: list[tuple[Any, ...]],
    have: list[Rule],
    rng: random.Random,
    make: Callable[[str, str], Rule],
    evaluate: Callable[[Rule, tuple[Any, ...]], bool],
) -> list[Rule]:
    """Rules that each exclude some of the `valid` arrangements and keep at least one, added until there
    are `MIN_RULES` in all with the rules that stand (`have`; a "could be" question needs no more), and
    until one rule relates two entities or counts a slot.

    The local model's rules each fixed one entity ("The farmer works on day 1", four such in run s9b):
    each option is then checked one place at a time, with no deduction that combines rules.
    """
    candidates = _candidates(entities, slots, one_each)
    rng.shuffle(candidates)
    added: list[Rule] = []
    related = any(relates(rule.check, entities) for rule in have)
    for text, check in candidates:
        enough = len(have) + len(added) >= MIN_RULES
        if enough and related:
            break
        if enough and not relates(check, entities):
            continue
        rule = make(text, check)
        holds = [a for a in valid if evaluate(rule, a)]
        if 0 < len(holds) < len(valid):
            added.append(rule)
            valid = holds
            related = related or relates(check, entities)
    return added


def relates(check: str, entities: tuple[str, ...]) -> bool:
    """Whether a check relates two entities or counts a slot (rather than placing one entity)."""
    named = sum(1 for e in entities if re.search(rf"\b{re.escape(e)}\b", check))
    return named >= 2 or "count(" in check


def _candidates(entities: tuple[str, ...], slots: tuple[Any, ...], one_each: bool) -> list[tuple[str, str]]:
    """Every rule of the templates' kinds over these entities and slots: (sentence, check)."""
    numbered = all(isinstance(s, int) for s in slots)
    pairs = list(itertools.permutations(entities, 2))
    rules: list[tuple[str, str]] = []
    for a, b in pairs:
        if numbered:
            rules.append((f"{a} comes before {b}.", f"{a} < {b}"))
            rules.append((f"{b} comes immediately after {a}.", f"{b} == {a} + 1"))
            if a < b:
                rules.append((f"{a} and {b} are not next to each other.", f"abs({a} - {b}) != 1"))
        elif a < b:
            rules.append((f"{a} and {b} take different ones.", f"{a} != {b}"))
            if not one_each:
                rules.append((f"{a} takes the same one as {b}.", f"{a} == {b}"))
    for a, slot in itertools.product(entities, slots):
        rules.append((f"{a} does not take {slot}.", f"{a} != {slot!r}"))
    if not numbered:
        for (a, b), s, t in itertools.product(pairs, slots, slots):
            if s != t or not one_each:
                rules.append((f"If {a} takes {s}, then {b} takes {t}.", f"{a} != {s!r} or {b} == {t!r}"))
    if not one_each:
        for slot, n in itertools.product(slots, range(1, len(entities))):
            noun = "of them takes" if n == 1 else "of them take"
            rules.append((f"Exactly {n} {noun} {slot}.", f"count({slot!r}) == {n}"))
    return rules


def _same_rule(rule: Rule, other: Rule) -> bool:
    """Whether two rules say the same: one sentence, or one check (spacing aside)."""
    text = " ".join(rule.text.lower().split()) == " ".join(other.text.lower().split())
    return text or "".join(rule.check.split()) == "".join(other.check.split())
