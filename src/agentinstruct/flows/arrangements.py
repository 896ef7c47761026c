"""Puzzles written as data: the model gives entities, slots and rules with checks; code writes the rest.

An instruction type with `task_shape: arrangement` (analytical_reasoning's ordering, grouping, assignment,
conditional_logic and scheduling) asks its instruction agent for a structure rather than for the puzzle,
key and solver program: a setup, one-word entity names, the slots they take (positions, groups, days,
"in"/"out"), whether each slot takes one entity, and rules, each a sentence plus a Python expression over
the entity names ("Ann < Ben"). The local 1.5B model, asked for a whole puzzle and a program that solves
it, copied the field description as its puzzle and wrote programs that counted strings in a permutation;
a program built from the rules always matches them. Code enumerates every arrangement, leaves out rules
that cannot stand and adds its own where too few do (`flows.arrangement_rules`), and writes a "which
arrangement obeys every rule?" question with one valid option and four that each break a rule, its key,
and the solver program that `unique_solution` runs in the sandbox. How a shaped task is asked for and
read back is `flows.task_shapes`'; puzzles written as text, and the check itself, are not here.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import keyword
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from agentinstruct.flows.arrangement_rules import MIN_RULES, Rule, added_rules, standing_rules
from agentinstruct.flows.setup_sentences import whole_sentences
from agentinstruct.flows.shaped_content import (
    ENTITY_NAMES_SCHEMA,
    MAX_ENTITIES,
    MIN_ENTITIES,
    NAME_PATTERN,
    NUMBER_NAMES,
    SLOT_KINDS,
)

#: arrangements enumerated at most: 7 entities in 7 slots one each (5040), or 6 in 4 shared (4096)
MAX_ARRANGEMENTS = 20_000
OPTION_LETTERS = "ABCDE"
#: the longest setup the grammar lets the model write
SETUP_LIMIT = 400
#: names a check may call besides the entities, and `count(slot)`: how many entities take that slot
#: ("count('North') == 2", a group's size)
CHECK_FUNCTIONS: dict[str, Any] = {"abs": abs, "min": min, "max": max}
#: order words as functions of two places, for readers who keep the rule's word order: the local teacher read
#: "Deborah is immediately after Councillor" as `Deborah + 1 == Councillor` in 4 of 4 tries, but writes
#: `immediately_after(Deborah, Councillor)` as it reads (each is defined in the solver program too)
ORDER_FUNCTIONS: dict[str, tuple[str, Callable[[Any, Any], bool]]] = {
    "before": ("a < b", lambda a, b: a < b),
    "after": ("a > b", lambda a, b: a > b),
    "immediately_before": ("a + 1 == b", lambda a, b: a + 1 == b),
    "immediately_after": ("a == b + 1", lambda a, b: a == b + 1),
    "next_to": ("abs(a - b) == 1", lambda a, b: abs(a - b) == 1),
}
CHECK_FUNCTIONS.update({name: function for name, (_, function) in ORDER_FUNCTIONS.items()})
COUNT = "count"

_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.BinOp, ast.Add,
    ast.Sub, ast.Mod, ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn,
    ast.Name, ast.Load, ast.Constant, ast.Tuple, ast.List, ast.Call, ast.IfExp,
)  # fmt: skip

ARRANGEMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "setup": {"type": "string", "minLength": 1, "maxLength": SETUP_LIMIT},
        # the grammar holds a small model to one-word names and short slots (it copied "36 raised beds"
        # and sentence-long slots from its scenario); code checks them again for engines without one
        "entities": ENTITY_NAMES_SCHEMA,
        "slots": {
            "type": "array",
            "minItems": 2,
            "maxItems": 7,
            "items": {"type": "string", "minLength": 1, "maxLength": 16},
        },
        "one_each": {"type": "boolean"},
        "rules": {
            "type": "array",
            "minItems": MIN_RULES,
            "maxItems": 8,
            "items": {
                "type": "object",
                "properties": {
                    "text": {"type": "string", "minLength": 1, "maxLength": 200},
                    "check": {"type": "string", "minLength": 1, "maxLength": 100},
                },
                "required": ["text", "check"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["setup", "entities", "slots", "one_each", "rules"],
    "additionalProperties": False,
}
ARRANGEMENT_DESCRIPTION = (
    "the puzzle as data: setup (the situation in 1-3 sentences, no rules), entities (one-word names), "
    "slots (the positions, groups, days or in/out values they take; numbers for positions and days), "
    "one_each (true when no two entities share a slot), and rules, each a sentence and its check, a "
    'Python expression over the entity names ("Ann < Ben", "Cal != 1", "Ann == \\"red\\"")'
)


@dataclass(frozen=True)
class Arrangement:
    """A parsed puzzle structure: entities take slots (each slot at most once when `one_each`)."""

    setup: str
    entities: tuple[str, ...]
    slots: tuple[Any, ...]
    one_each: bool
    rules: tuple[Rule, ...]
    #: why rules of the reply were left out (a check that is not an expression, one that never bites...)
    dropped: tuple[str, ...] = ()

    def total(self) -> int:
        """How many arrangements there are to check."""
        n, k = len(self.entities), len(self.slots)
        return math.perm(k, n) if self.one_each else k**n

    def all_arrangements(self) -> list[tuple[Any, ...]]:
        n = len(self.entities)
        if self.one_each:
            return list(itertools.permutations(self.slots, n))
        return list(itertools.product(self.slots, repeat=n))

    def holds(self, rule: Rule, arrangement: tuple[Any, ...]) -> bool:
        """Whether an arrangement obeys a rule."""
        names = {
            **CHECK_FUNCTIONS,
            COUNT: arrangement.count,
            **dict(zip(self.entities, arrangement, strict=True)),
        }
        # safe to eval: `_rule` let through only names, constants, operators and calls of CHECK_FUNCTIONS
        # and COUNT
        return bool(eval(rule.code, {"__builtins__": {}}, names))

    def broken(self, arrangement: tuple[Any, ...]) -> list[int]:
        """The numbers (from 1) of the rules this arrangement breaks."""
        return [i for i, rule in enumerate(self.rules, 1) if not self.holds(rule, arrangement)]


def parse_arrangement(data: Any) -> Arrangement:
    """The structure, checked: one-word distinct entities, distinct slots, rules whose checks parse."""
    if not isinstance(data, dict):
        raise TypeError("not an object")
    entities = tuple(str(e).strip() for e in json_list(data.get("entities")))
    reserved = {*CHECK_FUNCTIONS, COUNT}
    bad = [e for e in entities if not re.fullmatch(NAME_PATTERN, e) or keyword.iskeyword(e) or e in reserved]
    if bad:
        raise ValueError(
            f"entities {bad} are not one-word names: name each with one capitalised word (Ann, Mill, North)"
        )
    numbers = [e for e in entities if e.lower() in NUMBER_NAMES]
    if numbers:
        raise ValueError(
            f"entities {numbers} are numbers: an entity is who or what is arranged (a person, a team, a "
            "plot); numbers can be the slots they take"
        )
    if not MIN_ENTITIES <= len(set(entities)) == len(entities) <= MAX_ENTITIES:
        raise ValueError(f"give {MIN_ENTITIES}-{MAX_ENTITIES} entities, each named once")
    texts = [" ".join(str(s).split()) for s in json_list(data.get("slots"))]
    slots = tuple(int(s) if s.lstrip("-").isdigit() else s for s in texts)
    if len(set(slots)) != len(slots) or len(slots) < 2:
        raise ValueError("give at least 2 slots, each once")
    kinds = sorted({str(s).lower() for s in slots} & SLOT_KINDS)
    if kinds:
        raise ValueError(
            f"the slots {kinds} name kinds of slot: give the slots themselves (positions or days as numbers "
            "1, 2, 3, or the names of the groups, rooms or colours)"
        )
    if {str(s).lower() for s in slots} & {e.lower() for e in entities}:
        raise ValueError("the slots repeat entity names: slots are the positions, days or groups they take")
    # fewer slots than entities cannot give each its own: they share (the puzzle text says which)
    one_each = bool(data.get("one_each")) and len(slots) >= len(entities)
    entities, one_each, dropped = _countable(entities, slots, one_each)
    words = {s for s in slots if isinstance(s, str) and s.isidentifier()}
    rules = []
    for number, rule in enumerate(json_list(data.get("rules")), 1):
        try:
            rules.append(_rule(number, rule, set(entities), words))
        except (TypeError, ValueError) as exc:  # left out here; code adds rules where too few stand
            dropped.append(str(exc))
    return Arrangement(
        whole_sentences(data.get("setup"), SETUP_LIMIT, "setup"),
        entities,
        slots,
        one_each,
        tuple(rules),
        tuple(dropped),
    )


def _countable(
    entities: tuple[str, ...], slots: tuple[Any, ...], one_each: bool
) -> tuple[tuple[str, ...], bool, list[str]]:
    """Entities and one_each within `MAX_ARRANGEMENTS`, and what was changed to get there.

    The local model shared 7 slots among 7 entities (823,543 arrangements): with at least as many slots
    as entities, each takes its own (5,040); otherwise the last entities are left out, down to
    `MIN_ENTITIES` (a rule that names one of them is then left out too, and code adds rules).
    """
    changes: list[str] = []

    def total(names: tuple[str, ...], own: bool) -> int:
        return math.perm(len(slots), len(names)) if own else len(slots) ** len(names)

    if total(entities, one_each) > MAX_ARRANGEMENTS and not one_each and len(slots) >= len(entities):
        one_each = True
        changes.append(f"shared slots: {len(slots)} ** {len(entities)} arrangements; each takes its own")
    while total(entities, one_each) > MAX_ARRANGEMENTS and len(entities) > MIN_ENTITIES:
        changes.append(f"entity {entities[-1]}: too many arrangements to check with it")
        entities = entities[:-1]
    return entities, one_each, changes


def json_list(value: Any) -> list[Any]:
    """A structure's list field, or a TypeError (the reply is then not the structure asked for)."""
    if not isinstance(value, list):
        raise TypeError("not a list")
    return value


#: a condition written in words around Python: s44's teacher checked "If the Association takes 'of', then
#: Fenwick takes 'on'" as 'if Association == "of" then Fenwick == "on"', read as not (if-part) or (then-part)
IF_THEN = re.compile(r"^\s*if\s+(.+?)\s*,?\s+then\s+(.+?)\s*$", re.IGNORECASE | re.DOTALL)


def _rule(number: int, rule: Any, entities: set[str], slot_words: set[str]) -> Rule:
    """A rule whose check parses and uses only entities, slot values, constants and allowed operations.

    A bare slot word is read as that slot ("Owner == Crofters": the local model left out the quotes).
    """
    if not isinstance(rule, dict):
        raise TypeError("a rule is not an object")
    text, check = " ".join(str(rule.get("text", "")).split()), str(rule.get("check", "")).strip()
    check = IF_THEN.sub(r"not (\1) or (\2)", check)
    try:
        tree = ast.parse(check, mode="eval")
    except SyntaxError:
        raise ValueError(f"rule {number}'s check {check!r} is not a Python expression") from None
    tree = ast.fix_missing_locations(_SlotWords(slot_words - entities).visit(tree))
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    strange = sorted(names - entities - {*CHECK_FUNCTIONS, COUNT})
    foreign = [type(node).__name__ for node in ast.walk(tree) if not isinstance(node, _ALLOWED_NODES)]
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and not isinstance(n.func, ast.Name)]
    if strange or foreign or calls or not names & {*entities, COUNT} or not text:
        detail = f"it uses {strange}, which are not entities" if strange else "write it with entity names"
        raise ValueError(
            f"rule {number}'s check {check!r} cannot be used ({detail}): a check is an expression over "
            "the entity names with comparisons, and, or, not, abs, + and -, and count(slot)"
        )
    return Rule(text, ast.unparse(tree), compile(tree, f"<rule {number}>", "eval"))


class _SlotWords(ast.NodeTransformer):
    """Bare slot words in a check become the slot's text."""

    def __init__(self, words: set[str]):
        self.words = words

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.Constant(node.id) if node.id in self.words else node


def arrangement_puzzle(arrangement: Arrangement) -> tuple[str, str, str]:
    """(puzzle text, answer key, solver program) for a "which arrangement obeys every rule?" question."""
    if arrangement.total() > MAX_ARRANGEMENTS:
        raise ValueError(
            f"{arrangement.total()} arrangements are too many to check: use fewer entities or slots"
        )
    everything = arrangement.all_arrangements()
    # seeded by the structure, so the same reply always makes the same puzzle (runs are reproducible)
    rules = [(rule.text, rule.check) for rule in arrangement.rules]
    digest = hashlib.sha256(repr((arrangement.entities, arrangement.slots, rules)).encode())
    rng = random.Random(digest.digest())
    arrangement = _completed(arrangement, everything, rng)
    broken = {a: arrangement.broken(a) for a in everything}
    valid = [a for a, b in broken.items() if not b]
    answer = rng.choice(valid)
    wrong = _distractors(arrangement, answer, broken, rng)
    options = [*wrong, answer]
    rng.shuffle(options)
    key = OPTION_LETTERS[options.index(answer)]
    return _puzzle_text(arrangement, options), key, _solver_program(arrangement, options)


def _completed(
    arrangement: Arrangement, everything: list[tuple[Any, ...]], rng: random.Random
) -> Arrangement:
    """The arrangement with the rules that stand together, and code's rules added where they are too few
    or leave too many arrangements (`flows.arrangement_rules`)."""
    kept, dropped, valid = standing_rules(
        arrangement.rules, arrangement.entities, everything, arrangement.holds
    )
    words = {s for s in arrangement.slots if isinstance(s, str) and s.isidentifier()}

    def make(text: str, check: str) -> Rule:
        rule = _rule(0, {"text": text, "check": check}, set(arrangement.entities), words)
        return replace(rule, by_code=True)

    added = added_rules(
        arrangement.entities, arrangement.slots, arrangement.one_each, valid, kept, rng, make,
        arrangement.holds,
    )  # fmt: skip
    if len(kept) + len(added) < MIN_RULES:
        raise ValueError(
            f"the entities and slots allow too few rules for a puzzle (rules left out: {'; '.join(dropped)})"
            ": use more entities or slots"
        )
    return replace(arrangement, rules=(*kept, *added), dropped=(*arrangement.dropped, *dropped))


def _distractors(
    arrangement: Arrangement,
    answer: tuple[Any, ...],
    broken: dict[tuple[Any, ...], list[int]],
    rng: random.Random,
) -> list[tuple[Any, ...]]:
    """Four invalid arrangements, near the answer first (one swap or one move away): each breaks a rule."""
    near = []
    for i, j in itertools.combinations(range(len(answer)), 2):
        swapped = list(answer)
        swapped[i], swapped[j] = swapped[j], swapped[i]
        near.append(tuple(swapped))
    for i, slot in itertools.product(range(len(answer)), arrangement.slots):
        near.append((*answer[:i], slot, *answer[i + 1 :]))
    near = list(dict.fromkeys(a for a in near if broken.get(a)))
    rng.shuffle(near)
    far = [a for a, b in broken.items() if b and a not in near]
    rng.shuffle(far)
    # options that break different rules teach more than four that break the same one
    chosen: list[tuple[Any, ...]] = []
    for candidate in [*near, *far]:
        if len(chosen) == len(OPTION_LETTERS) - 1:
            break
        if tuple(broken[candidate]) not in {tuple(broken[c]) for c in chosen}:
            chosen.append(candidate)
    for candidate in [*near, *far]:  # not enough distinct ones: fill up with any
        if len(chosen) < len(OPTION_LETTERS) - 1 and candidate not in chosen:
            chosen.append(candidate)
    if len(chosen) < len(OPTION_LETTERS) - 1:
        raise ValueError("the rules leave too few broken arrangements for four wrong options: add a rule")
    return chosen


def _sequence(arrangement: Arrangement) -> bool:
    """Whether options read as orders: numbered slots, one entity each, every slot taken."""
    return (
        arrangement.one_each
        and len(arrangement.slots) == len(arrangement.entities)
        and all(isinstance(s, int) for s in arrangement.slots)
    )


def _option_text(arrangement: Arrangement, option: tuple[Any, ...]) -> str:
    by_slot = {
        slot: [e for e, s in zip(arrangement.entities, option, strict=True) if s == slot]
        for slot in arrangement.slots
    }
    if _sequence(arrangement):
        return ", ".join(by_slot[slot][0] for slot in sorted(arrangement.slots))
    return "; ".join(f"{slot}: {', '.join(names) or 'none'}" for slot, names in by_slot.items())


def _puzzle_text(arrangement: Arrangement, options: list[tuple[Any, ...]]) -> str:
    entities, slots = ", ".join(arrangement.entities), ", ".join(map(str, arrangement.slots))
    share = "no two of them the same" if arrangement.one_each else "several may share one"
    lines = [arrangement.setup, "", f"Each of {entities} takes exactly one of: {slots} ({share}).", "Rules:"]
    lines += [f"{n}. {rule.text}" for n, rule in enumerate(arrangement.rules, 1)]
    if _sequence(arrangement):
        first, last = min(arrangement.slots), max(arrangement.slots)
        question = f"Which one of the following could be the order, from {first} to {last}?"
    else:
        question = "Which one of the following could be the complete arrangement?"
    lines += ["", question]
    lines += [
        f"({letter}) {_option_text(arrangement, o)}"
        for letter, o in zip(OPTION_LETTERS, options, strict=True)
    ]
    return "\n".join(lines)


def _solver_program(arrangement: Arrangement, options: list[tuple[Any, ...]]) -> str:
    """A program that enumerates every arrangement, keeps those obeying the rules and tests each option."""
    params = ", ".join(arrangement.entities)
    body = []
    for n, rule in enumerate(arrangement.rules, 1):
        origin = "  (written by code)" if rule.by_code else ""
        body += [f"    # {n}. {rule.text}{origin}", f"    if not ({rule.check}):", "        return False"]
    # what was left out of the reply, so that the lineage shows how the puzzle came about
    left_out = [f"# left out: {' '.join(reason.split())}" for reason in arrangement.dropped]
    generator = (
        f"itertools.permutations(SLOTS, {len(arrangement.entities)})"
        if arrangement.one_each
        else f"itertools.product(SLOTS, repeat={len(arrangement.entities)})"
    )
    option_lines = [f"    {letter!r}: {o!r}," for letter, o in zip(OPTION_LETTERS, options, strict=True)]
    checks = " ".join(rule.check for rule in arrangement.rules)
    helpers = [
        f"def {name}(a, b):\n    return {body}\n\n"
        for name, (body, _) in ORDER_FUNCTIONS.items()
        if re.search(rf"\b{name}\(", checks)
    ]
    return "\n".join(
        [
            *left_out,
            "import itertools",
            "import json",
            "",
            f"SLOTS = {list(arrangement.slots)!r}",
            "",
            "",
            *helpers,
            f"def obeys({params}):",
            f"    {COUNT} = ({params},).count  # how many entities take a slot",
            *body,
            "    return True",
            "",
            "",
            f"valid = {{a for a in {generator} if obeys(*a)}}",
            "OPTIONS = {",
            *option_lines,
            "}",
            "good = [letter for letter, option in OPTIONS.items() if option in valid]",
            'print(json.dumps({"solutions": len(good), "answer": ",".join(good)}))',
        ]
    )


def split_name(entities: tuple[str, ...], material: str) -> tuple[str, str] | None:
    """Two entities that the material writes one after the other as one name, or None: s16's puzzle
    arranged "Councillor", "Deborah" and "Mwangi", one councillor, as three entities."""
    for first in entities:
        for second in entities:
            if first != second and re.search(rf"\b{re.escape(first)}[ \t]+{re.escape(second)}\b", material):
                return first, second
    return None


#: names given to an entity that was one word of a longer name in the material (not the guidance's examples)
FRESH_NAMES = ("Nora", "Owen", "Rita", "Sam", "Tess", "Vic", "Wade", "Zoe", "Lars", "Mei")


def arrangement_fields(data: Any, material: str = "") -> dict[str, str]:
    """The task shape's fields from an arrangement: the puzzle text (under "task"), its key and program.

    The scenario (`material`) is not needed: the puzzle may invent what the scenario lacks; but two entities
    that stand together in it as one name are told apart first (`with_split_names_renamed`)."""
    arrangement = parse_arrangement(with_split_names_renamed(data, material))
    puzzle, answer_key, program = arrangement_puzzle(arrangement)
    return {"task": puzzle, "answer_key": answer_key, "solver_program": program}


def with_split_names_renamed(data: Any, material: str) -> Any:
    """The reply with each entity that the material writes just before another one, as one name, renamed
    to a fresh name in the entities and in every rule's text and check.

    s16 and s32 arranged "Councillor", "Deborah" and "Mwangi", one councillor, as three entities; sent back,
    the local model returned the same entities three times in a row. The first word of such a name goes
    ("Councillor", then "Deborah" of "Deborah Mwangi"), so the last one stays as the person's name.
    """
    if not isinstance(data, dict) or not isinstance(data.get("entities"), list):
        return data  # parse_arrangement says what is wrong
    entities = [str(e).strip() for e in data["entities"]]
    rules = [dict(r) if isinstance(r, dict) else r for r in data.get("rules") or []]
    free = [n for n in FRESH_NAMES if n not in entities and not re.search(rf"\b{n}\b", material)]
    while free and (split := split_name(tuple(entities), material)):
        old, new = split[0], free.pop(0)
        entities = [new if e == old else e for e in entities]
        for rule in rules:
            if isinstance(rule, dict):
                for key in ("text", "check"):
                    rule[key] = re.sub(rf"\b{re.escape(old)}\b", new, str(rule.get(key, "")))
    return {**data, "entities": entities, "rules": rules}
