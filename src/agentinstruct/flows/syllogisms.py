"""Syllogisms written as data: the model gives categories, premises and conclusions; code writes the rest.

An instruction type with `task_shape: syllogism` (analytical_reasoning's syllogism) asks its instruction
agent for a structure rather than for the puzzle, key and solver program: a setting, 3 or 4 categories
(plural nouns of the scenario's world), 2 or 3 premises and 4 or 5 candidate conclusions, each a
quantifier from a closed list (`QUANTIFIERS`: all, no, some, some_not) over two of the categories. Asked
for the whole puzzle, its key and a program, the local 1.5B model gave no usable syllogism in any recent
run (invalid or unusable output, or declined as not suitable).

Which conclusions must follow is decided on every possible world, and the method is exact: a world is the
set of regions of the categories' Venn diagram that have members (2 ** (2 ** k) worlds for k categories:
256 for 3, 65,536 for 4). Each of the four forms only says that a region is empty ("all S are P": no S
outside P; "no S are P": no S inside P) or that one is not ("some S are (not) P"), so its truth in any
world of individuals depends only on which regions have members; and every set of regions is such a world
(one individual in each). A conclusion true in every region set the premises allow therefore follows in
every world, and one false in some region set has a counterexample. "All" does not assume its subject has
members (no existential import); so that a reader who does assume it reads the puzzle the same way, code
makes exactly one conclusion follow without that assumption and every other one fail even in the worlds
where each category has members: it leaves out repeated conclusions, a second one that follows and one that
follows only with the assumption, adds one that follows when none does and tops the options up with
statements that need not be true (`mended`, marked in the solver program); when nothing follows from
the premises it adds one that chains with them (`_bridged`). Premises that contradict each other, leave a
category empty or still let nothing follow are sent back saying how to fix them.
It writes the puzzle, its lettered options (the conclusions, in an order drawn from the structure), the
key and the solver program that `unique_solution` runs in the sandbox (`quality.execution`). Asking for
and reading back a shaped task is `flows.task_shapes`'.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from dataclasses import astuple, dataclass, replace
from functools import cache
from typing import Any

from agentinstruct.flows.arrangements import OPTION_LETTERS, json_list
from agentinstruct.flows.setup_sentences import whole_sentences

#: the longest setting the grammar lets the model write
SETTING_LIMIT = 300
#: quantifier -> (the sentence; whether it says a region has members (else: that it is empty); whether
#: that region is the subject's members inside the predicate (else: outside it))
QUANTIFIERS: dict[str, tuple[str, bool, bool]] = {
    "all": ("All {s} are {p}.", False, False),
    "no": ("No {s} are {p}.", False, True),
    "some": ("Some {s} are {p}.", True, True),
    "some_not": ("Some {s} are not {p}.", True, False),
}
MIN_CATEGORIES, MAX_CATEGORIES = 3, 4
MIN_PREMISES, MAX_PREMISES = 2, 3
MIN_CONCLUSIONS, MAX_CONCLUSIONS = 4, len(OPTION_LETTERS)
#: a category: one to three words ("keepers", "lighthouse keepers"); plain groups, which every JSON-schema
#: grammar converter reads
CATEGORY_PATTERN = "^[A-Za-z][a-z]{1,19}( [A-Za-z][a-z]{1,19}){0,2}$"

_CATEGORY = {"type": "string", "pattern": CATEGORY_PATTERN}
_STATEMENT = {
    "type": "object",
    "properties": {
        "quantifier": {"type": "string", "enum": list(QUANTIFIERS)},
        "subject": _CATEGORY,
        "predicate": _CATEGORY,
    },
    "required": ["quantifier", "subject", "predicate"],
    "additionalProperties": False,
}
SYLLOGISM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "setting": {"type": "string", "minLength": 1, "maxLength": SETTING_LIMIT},
        "categories": {
            "type": "array",
            "minItems": MIN_CATEGORIES,
            "maxItems": MAX_CATEGORIES,
            "items": _CATEGORY,
        },
        "premises": {
            "type": "array",
            "minItems": MIN_PREMISES,
            "maxItems": MAX_PREMISES,
            "items": _STATEMENT,
        },
        "conclusions": {
            "type": "array",
            "minItems": MIN_CONCLUSIONS,
            "maxItems": MAX_CONCLUSIONS,
            "items": _STATEMENT,
        },
    },
    "required": ["setting", "categories", "premises", "conclusions"],
    "additionalProperties": False,
}
SYLLOGISM_DESCRIPTION = (
    "the puzzle as data: setting (one sentence, in the scenario's world), categories (3 or 4 plural nouns "
    "of that world), premises (2 or 3) and conclusions (4 or 5, exactly one of which must follow from the "
    "premises), each a quantifier ("
    + "; ".join(f"{q}: {words.format(s='S', p='P')}" for q, (words, _, _) in QUANTIFIERS.items())
    + ") with a subject and a predicate, two different categories"
)


@dataclass(frozen=True)
class Statement:
    """ "<quantifier> <subject> are <predicate>", over two different categories."""

    quantifier: str
    subject: str
    predicate: str

    def words(self) -> str:
        return QUANTIFIERS[self.quantifier][0].format(s=self.subject, p=self.predicate)


@dataclass(frozen=True)
class Syllogism:
    """A parsed structure: the categories, the premises and the candidate conclusions."""

    setting: str
    categories: tuple[str, ...]
    premises: tuple[Statement, ...]
    conclusions: tuple[Statement, ...]
    #: conclusions code added (`mended`), and why it left out some of the model's (shown in the program)
    by_code: tuple[Statement, ...] = ()
    left_out: tuple[str, ...] = ()

    def worlds(self) -> list[int]:
        """Every world the premises allow: a set of Venn regions that have members, as bits of an int."""
        return [
            w for w in range(1 << (1 << len(self.categories))) if all(self.holds(p, w) for p in self.premises)
        ]

    def holds(self, statement: Statement, world: int) -> bool:
        _, occupied, inside = QUANTIFIERS[statement.quantifier]
        return (
            bool(world & _mask(self.categories, statement.subject, statement.predicate, inside)) == occupied
        )

    def follows(self, statement: Statement, worlds: list[int]) -> bool:
        """Whether the statement is true in every one of the worlds (and there is one)."""
        return bool(worlds) and all(self.holds(statement, w) for w in worlds)

    def world(self, *individuals: set[str]) -> int:
        """The world in which these individuals live, each given as the set of categories it belongs to."""
        regions = list(itertools.product([True, False], repeat=len(self.categories)))
        occupied = 0
        for member in individuals:
            occupied |= 1 << regions.index(tuple(c in member for c in self.categories))
        return occupied

    def populated(self, worlds: list[int]) -> list[int]:
        """The worlds in which every category has members."""
        masks = [_mask(self.categories, c, c, True) for c in self.categories]
        return [w for w in worlds if all(w & m for m in masks)]


@cache
def _mask(categories: tuple[str, ...], subject: str, predicate: str, inside: bool) -> int:
    """The regions (bits) of `subject`'s members inside `predicate` (or outside it)."""
    regions = itertools.product([True, False], repeat=len(categories))
    s, p = categories.index(subject), categories.index(predicate)
    return sum(1 << i for i, region in enumerate(regions) if region[s] and region[p] == inside)


def parse_syllogism(data: Any) -> Syllogism:
    """The structure, checked: distinct categories, statements over two of them, conclusions that are new."""
    if not isinstance(data, dict):
        raise TypeError("not an object")
    categories = tuple(" ".join(str(c).split()) for c in json_list(data.get("categories")))
    spelt = {c.lower(): c for c in categories}
    if not MIN_CATEGORIES <= len(spelt) == len(categories) <= MAX_CATEGORIES or "" in spelt:
        raise ValueError(f"give {MIN_CATEGORIES} or {MAX_CATEGORIES} categories, each named once")
    given = json_list(data.get("premises"))
    premises = [_statement(f"premise {n}", s, spelt) for n, s in enumerate(given, 1)]
    if len(set(premises)) != len(premises) or len(premises) < MIN_PREMISES:
        raise ValueError(f"give {MIN_PREMISES} or {MAX_PREMISES} premises, each different")
    conclusions = [
        _statement(f"conclusion {n}", s, spelt) for n, s in enumerate(json_list(data.get("conclusions")), 1)
    ]
    if not MIN_CONCLUSIONS <= len(conclusions) <= MAX_CONCLUSIONS:
        raise ValueError(f"give {MIN_CONCLUSIONS} or {MAX_CONCLUSIONS} conclusions")
    kept: list[Statement] = []
    left_out: list[str] = []
    for number, conclusion in enumerate(conclusions, 1):
        # s37: "conclusions 1 and 3 are the same" lost the unit; `mended` tops the options up again
        if conclusion in premises:
            left_out.append(
                f"conclusion {number} ({conclusion.words()}) repeats premise {premises.index(conclusion) + 1}"
            )
        elif conclusion in kept:
            left_out.append(
                f"conclusion {number} ({conclusion.words()}) repeats conclusion {kept.index(conclusion) + 1}"
            )
        else:
            kept.append(conclusion)
    setting = whole_sentences(data.get("setting"), SETTING_LIMIT, "setting")
    if not setting:
        raise ValueError("the setting is empty: write one sentence on where the statements are made")
    return Syllogism(setting, categories, tuple(premises), tuple(kept), left_out=tuple(left_out))


def _statement(what: str, data: Any, spelt: dict[str, str]) -> Statement:
    """A statement whose quantifier is on the list and whose categories are two different ones of the list."""
    if not isinstance(data, dict):
        raise TypeError(f"{what} is not an object")
    quantifier = str(data.get("quantifier", "")).strip().lower()
    if quantifier not in QUANTIFIERS:
        raise ValueError(
            f"{what}'s quantifier {quantifier!r} is not one of {', '.join(QUANTIFIERS)}: pick one"
        )
    subject, predicate = (" ".join(str(data.get(part, "")).split()) for part in ("subject", "predicate"))
    for name in (subject, predicate):
        if name.lower() not in spelt:
            raise ValueError(
                f"{what} names {name!r}, which is not one of the categories ({', '.join(spelt.values())}): "
                "use one of them, spelt the same"
            )
    if subject.lower() == predicate.lower():
        raise ValueError(f"{what} is about {subject} and {subject}: relate two different categories")
    return Statement(quantifier, spelt[subject.lower()], spelt[predicate.lower()])


def _statements(syllogism: Syllogism, rng: random.Random) -> list[Statement]:
    """Every statement over two of the categories that is neither a premise nor a conclusion, shuffled."""
    pairs = itertools.permutations(syllogism.categories, 2)
    others = [Statement(q, s, p) for q, (s, p) in itertools.product(QUANTIFIERS, pairs)]
    others = [c for c in others if c not in syllogism.premises + syllogism.conclusions]
    rng.shuffle(others)
    return others


def mended(syllogism: Syllogism, rng: random.Random) -> Syllogism:
    """The structure with its conclusions mended so that exactly one follows and every other one fails even
    where each category has members, or unchanged when the premises leave nothing to mend it with.

    Of several conclusions that follow the first is kept; one that follows only if every category has
    members is left out; when none follows, code adds one that does (`_following`), and it tops the options
    up to `MIN_CONCLUSIONS` with statements that need not be true. The local model's structures failed on
    their conclusions alone (s37: two the same), and sent back they came back alike (as truth-tellers' did).
    """
    worlds = syllogism.worlds()
    populated = syllogism.populated(worlds)
    if not populated:
        return syllogism  # the premises' problem: `the_conclusion` sends it back
    kept: list[Statement] = []
    left_out = list(syllogism.left_out)
    for conclusion in syllogism.conclusions:
        if syllogism.follows(conclusion, worlds) and any(syllogism.follows(k, worlds) for k in kept):
            left_out.append(f"{conclusion.words()} also follows from the premises")
        elif not syllogism.follows(conclusion, worlds) and syllogism.follows(conclusion, populated):
            left_out.append(f"{conclusion.words()} follows only if every category has members")
        else:
            kept.append(conclusion)
    others = _statements(syllogism, rng)
    added: list[Statement] = []
    if not any(syllogism.follows(k, worlds) for k in kept):
        right = _deduction(syllogism, others, worlds)
        if right is None:  # nothing follows: a premise that chains with the others, if one does
            bridged = _bridged(syllogism, rng)
            return mended(bridged, rng) if bridged else syllogism
        added.append(right)
    wrong = (c for c in others if not syllogism.follows(c, populated))
    while len(kept) + len(added) < MIN_CONCLUSIONS:
        added.append(next(wrong))
    conclusions = kept + added
    rng.shuffle(conclusions)
    by_code = (*syllogism.by_code, *added)
    return replace(syllogism, conclusions=tuple(conclusions), by_code=by_code, left_out=tuple(left_out))


def _bridged(syllogism: Syllogism, rng: random.Random) -> Syllogism | None:
    """The structure with one premise more, after which a statement follows that no single premise gives
    (a deduction), every category still able to have members; None with no room for a premise or none fits.

    s37's premises were "all young are sleep" and "all adults are study": nothing follows from them, and
    sent back they came back the same. Premises with "all" are tried first, so the added one chains.
    """
    if len(syllogism.premises) >= MAX_PREMISES:
        return None
    candidates = sorted(_statements(syllogism, rng), key=lambda c: list(QUANTIFIERS).index(c.quantifier))
    worlds = syllogism.worlds()
    for premise in candidates:
        premises = (*syllogism.premises, premise)
        bridged = replace(syllogism, premises=premises, by_code=(*syllogism.by_code, premise))
        narrowed = [w for w in worlds if syllogism.holds(premise, w)]
        if bridged.populated(narrowed) and _deduction(bridged, _statements(bridged, rng), narrowed):
            return bridged
    return None


def the_conclusion(syllogism: Syllogism, rng: random.Random) -> int:
    """The index of the one conclusion that follows; a ValueError says how to get to exactly one."""
    worlds = syllogism.worlds()
    populated = syllogism.populated(worlds)
    if not populated:
        cats = syllogism.categories
        empty = [c for c in cats if not any(w & _mask(cats, c, c, True) for w in worlds)]
        raise ValueError(
            f"the premises leave no room for any {' or '.join(empty)}: change one, so that every category "
            "can have members"
            if worlds
            else "the premises contradict each other: change one"
        )
    conclusions = syllogism.conclusions
    follow = [i for i, c in enumerate(conclusions) if syllogism.follows(c, worlds)]
    loose = [i for i, c in enumerate(conclusions) if i not in follow and syllogism.follows(c, populated)]
    if len(follow) == 1 and not loose:
        return follow[0]
    others = _statements(syllogism, rng)
    wrong = next((c for c in others if not syllogism.follows(c, populated)), None)
    such_as = f", such as {json.dumps(vars(wrong))}" if wrong else ""

    def quoted(indices: list[int]) -> str:
        return " and ".join(f"{i + 1} ({conclusions[i].words()})" for i in indices)

    problems = []
    if len(follow) > 1:
        problems.append(
            f"conclusions {quoted(follow)} all must follow from the premises: keep one and replace the "
            f"others with conclusions that need not be true{such_as}"
        )
    if loose:
        which, it = ("conclusion", "it") if len(loose) == 1 else ("conclusions", "them")
        problems.append(
            f"{which} {quoted(loose)}: true if every category has members, which the premises do not say, so "
            f"readers would disagree on {it}: replace {it} with one that need not be true even then{such_as}"
        )
    if not follow:
        fix = _one_that_follows(syllogism, others, worlds)
        problems.append(f"none of the conclusions must follow from the premises: {fix}")
    raise ValueError("; ".join(problems))


def _following(syllogism: Syllogism, others: list[Statement], worlds: list[int]) -> Statement | None:
    """A statement that follows from the premises, one relating two categories no premise relates first
    (a deduction, not a restatement); None when nothing new follows."""
    pairs = {frozenset((p.subject, p.predicate)) for p in syllogism.premises}
    ranked = sorted(others, key=lambda c: frozenset((c.subject, c.predicate)) in pairs)
    return next((c for c in ranked if syllogism.follows(c, worlds)), None)


def _deduction(syllogism: Syllogism, others: list[Statement], worlds: list[int]) -> Statement | None:
    """A statement that follows from the premises together and from no single one of them (a conversion
    such as "no B are A" from "no A are B" is no deduction); None when there is none."""
    for statement in others:
        if syllogism.follows(statement, worlds) and not any(
            syllogism.follows(statement, _worlds_of(syllogism.categories, p)) for p in syllogism.premises
        ):
            return statement
    return None


@cache
def _worlds_of(categories: tuple[str, ...], premise: Statement) -> list[int]:
    """Every world in which one premise holds."""
    alone = Syllogism("", categories, (premise,), ())
    return alone.worlds()


def _one_that_follows(syllogism: Syllogism, others: list[Statement], worlds: list[int]) -> str:
    """How to give the puzzle a conclusion that follows, with one when the premises allow it."""
    right = _following(syllogism, others, worlds)
    if right is None:
        return "change a premise so that something new follows (chain them: all A are B, all B are C)"
    return f"replace one with one that does, such as {json.dumps(vars(right))}"


def _puzzle_text(syllogism: Syllogism, options: list[Statement]) -> str:
    premises = [f"{n}. {p.words()}" for n, p in enumerate(syllogism.premises, 1)]
    question = "If these statements are true, which one of the following must also be true?"
    lettered = [f"({OPTION_LETTERS[i]}) {o.words()}" for i, o in enumerate(options)]
    return "\n".join([syllogism.setting, "", *premises, "", question, *lettered])


def _solver_program(syllogism: Syllogism, options: list[Statement]) -> str:
    """A program that enumerates every world, keeps those the premises allow and tests each option."""
    premises = [
        f"    {astuple(p)!r},  # {n}. {p.words()}" + (" (written by code)" if p in syllogism.by_code else "")
        for n, p in enumerate(syllogism.premises, 1)
    ]
    lettered = [
        f"    {OPTION_LETTERS[i]!r}: {astuple(o)!r},  # {o.words()}"
        + (" (written by code)" if o in syllogism.by_code else "")
        for i, o in enumerate(options)
    ]
    return "\n".join(
        [
            PROGRAM_HEAD.format(categories=list(syllogism.categories)),
            "PREMISES = [",
            *premises,
            "]",
            *(f"# left out: {reason}" for reason in syllogism.left_out),
            "# every world: which regions have members (these statements only ask whether a region is empty)",
            "worlds = [w for w in range(1 << len(REGIONS)) if all(holds(w, *p) for p in PREMISES)]",
            "OPTIONS = {",
            *lettered,
            "}",
            "# an option must be true when it holds in every world the premises allow",
            "good = [k for k, o in OPTIONS.items() if worlds and all(holds(w, *o) for w in worlds)]",
            'print(json.dumps({"solutions": len(good), "answer": ",".join(good)}))',
        ]
    )


PROGRAM_HEAD = '''import itertools
import json
from functools import cache

CATEGORIES = {categories!r}
# a region of the Venn diagram: whether its members are in each category, in CATEGORIES' order
REGIONS = list(itertools.product([True, False], repeat=len(CATEGORIES)))


@cache
def region_mask(subject, predicate, inside):
    """The regions (bits) of the subject's members inside the predicate (or outside it)."""
    s, p = CATEGORIES.index(subject), CATEGORIES.index(predicate)
    return sum(1 << i for i, region in enumerate(REGIONS) if region[s] and region[p] == inside)


def holds(world, quantifier, subject, predicate):
    """Whether a statement is true in a world: the set of regions that have members, as bits of an int."""
    if quantifier == "all":  # no subject outside the predicate
        return world & region_mask(subject, predicate, False) == 0
    if quantifier == "no":  # no subject inside the predicate
        return world & region_mask(subject, predicate, True) == 0
    if quantifier == "some":
        return world & region_mask(subject, predicate, True) != 0
    return world & region_mask(subject, predicate, False) != 0  # some ... are not

'''


def syllogism_puzzle(syllogism: Syllogism) -> tuple[str, str, str]:
    """(puzzle text, answer key, solver program); a ValueError says how to leave exactly one conclusion."""
    # seeded by the structure, so the same reply always makes the same puzzle (runs are reproducible)
    rng = random.Random(hashlib.sha256(repr(syllogism).encode()).digest())
    syllogism = mended(syllogism, rng)
    right = syllogism.conclusions[the_conclusion(syllogism, rng)]
    options = list(syllogism.conclusions)
    rng.shuffle(options)
    key = OPTION_LETTERS[options.index(right)]
    return _puzzle_text(syllogism, options), key, _solver_program(syllogism, options)


def syllogism_fields(data: Any, material: str = "") -> dict[str, str]:
    """The task shape's fields from a structure: the puzzle text (under "task"), its key and program.

    The scenario (`material`) is not needed: the setting and categories tie the puzzle to it."""
    puzzle, answer_key, program = syllogism_puzzle(parse_syllogism(data))
    return {"task": puzzle, "answer_key": answer_key, "solver_program": program}
