"""Knights-and-knaves puzzles written as data: the model gives people and their claims; code writes the rest.

An instruction type with `task_shape: truth_tellers` (analytical_reasoning's truth_tellers) asks its
instruction agent for a structure rather than for the puzzle, key and solver program: a setting, 3 to 5
one-word names, statements each made by one of them in a claim form from a closed list (`FORMS`: "Ben is a
knave", "Ben and I are of the same kind", "exactly two of us are knaves"...) and the kind of question.
Asked for the whole puzzle, its key and a program, the local 1.5B model gave no usable truth-tellers
puzzle in any recent run (invalid or unusable output, or declined as not suitable). Code tries every
assignment of knights and knaves (a statement is true exactly when its speaker is a knight), keeps the
structure only when exactly one fits (mending it where code can, else saying how to fix it), and
writes the puzzle, lettered options of which exactly one is right (the others from other assignments,
those that break the fewest statements first), the key and the solver program `unique_solution` runs in
the sandbox (`quality.execution`). Asking for and reading back a shaped task is `flows.task_shapes`'.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from agentinstruct.flows.arrangements import OPTION_LETTERS, json_list
from agentinstruct.flows.setup_sentences import whole_sentences
from agentinstruct.flows.shaped_content import NAME_PATTERN, NUMBER_NAMES

MIN_PEOPLE, MAX_PEOPLE = 3, 5
MIN_STATEMENTS, MAX_STATEMENTS = 2, 6
#: the longest setting the grammar lets the model write
SETTING_LIMIT = 300
#: the question's kinds: the set of knaves, the set of knights, or which one sentence about one person holds
QUESTIONS = {
    "who_lies": "Which one of the following names exactly the knaves among them?",
    "who_tells_truth": "Which one of the following names exactly the knights among them?",
    "which_is_true": "Which one of the following must be true?",
}
#: words that name a kind, not a person ("Knight" among the people would make the statements unreadable)
_KIND_WORDS = frozenset({"knight", "knave", "knights", "knaves", "liar", "truth"})
_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five")

#: form -> (what it claims, in the words the agent reads; the claim as a Python expression over `knight`
#: (name -> True for a knight) and `knaves` (how many of the people are knaves), which both code and the
#: solver program evaluate, so the two cannot disagree)
FORMS: dict[str, tuple[str, str]] = {
    "is_liar": ("about is a knave", "not knight[{a!r}]"),
    "is_truthful": ("about is a knight", "knight[{a!r}]"),
    "same_type": ("the speaker and about are of the same kind", "knight[{s!r}] == knight[{a!r}]"),
    "different_type": ("the speaker and about are of different kinds", "knight[{s!r}] != knight[{a!r}]"),
    "exactly_n_liars": ("exactly n of all the people are knaves", "knaves == {n}"),
    "at_least_n_liars": ("at least n of all the people are knaves", "knaves >= {n}"),
}
#: forms about how many are knaves, which ignore `about`
COUNTING = frozenset({"exactly_n_liars", "at_least_n_liars"})
#: forms that only say whether two people are alike (the speaker's own kind decides what "is a knave"
#: means): with these alone, turning every knight into a knave and back keeps every statement fitting
FLIPPABLE = frozenset({"is_liar", "is_truthful"})
#: forms that compare the speaker with another person
PAIRED = frozenset({"same_type", "different_type"})

_NAME = {"type": "string", "pattern": NAME_PATTERN}
TRUTH_TELLERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "setting": {"type": "string", "minLength": 1, "maxLength": SETTING_LIMIT},
        "people": {"type": "array", "minItems": MIN_PEOPLE, "maxItems": MAX_PEOPLE, "items": _NAME},
        "statements": {
            "type": "array",
            "minItems": MIN_STATEMENTS,
            "maxItems": MAX_STATEMENTS,
            "items": {
                "type": "object",
                "properties": {
                    "speaker": _NAME,
                    "form": {"type": "string", "enum": list(FORMS)},
                    "about": _NAME,
                    "n": {"type": "integer", "minimum": 0, "maximum": MAX_PEOPLE},
                },
                "required": ["speaker", "form", "about", "n"],
                "additionalProperties": False,
            },
        },
        "question": {"type": "string", "enum": list(QUESTIONS)},
    },
    "required": ["setting", "people", "statements", "question"],
    "additionalProperties": False,
}
TRUTH_TELLERS_DESCRIPTION = (
    "the puzzle as data: setting (one sentence, in the scenario's world), people (3 to 5 one-word names; "
    "each is a knight, who always tells the truth, or a knave, who always lies), statements (each with "
    "speaker, one of the people; form, one of: "
    + "; ".join(f"{form}: {meaning}" for form, (meaning, _) in FORMS.items())
    + "; about, the person the claim is about; n, the number for exactly_n_liars and at_least_n_liars, "
    "0 for the others) and question (who_lies, who_tells_truth or which_is_true)"
)


@dataclass(frozen=True)
class Claim:
    """One statement: `speaker` claims `form` (about `about`, or with number `n`)."""

    speaker: str
    form: str
    about: str = ""
    n: int = 0

    def expression(self) -> str:
        return FORMS[self.form][1].format(s=self.speaker, a=self.about, n=self.n)

    def holds(self, knight: dict[str, bool]) -> bool:
        """Whether the claim is true when `knight` says who is a knight."""
        # safe to eval: code built the expression from the table and names that passed NAME_PATTERN
        scope = {"knight": knight, "knaves": list(knight.values()).count(False)}
        return bool(eval(_compiled(self.expression()), {"__builtins__": {}}, scope))

    def fits(self, knight: dict[str, bool]) -> bool:
        """A knight's claim is true and a knave's is false."""
        return self.holds(knight) == knight[self.speaker]

    def words(self, people: int) -> str:
        """The claim as its speaker says it, "us" being all `people` of the puzzle."""
        subject, verb = ("I", "am") if self.about == self.speaker else (self.about, "is")
        if self.form in ("is_liar", "is_truthful"):
            return f"{subject} {verb} a {'knave' if self.form == 'is_liar' else 'knight'}."
        if self.form in PAIRED:
            kind = "the same kind" if self.form == "same_type" else "different kinds"
            return f"{self.about} and I are of {kind}."
        group, count = _NUMBER_WORDS[people], _NUMBER_WORDS[self.n]
        if self.n == people:
            return f"All {group} of us are knaves."
        if self.n == 0:
            return f"None of the {group} of us is a knave."
        lead = "Exactly" if self.form == "exactly_n_liars" else "At least"
        return f"{lead} {count} of the {group} of us {'is a knave' if self.n == 1 else 'are knaves'}."


@cache
def _compiled(expression: str) -> Any:
    return compile(expression, "<claim>", "eval")


@dataclass(frozen=True)
class TruthTellers:
    """A parsed puzzle structure: who the people are, what each says, and what is asked."""

    setting: str
    people: tuple[str, ...]
    statements: tuple[Claim, ...]
    question: str
    #: statements code added so that one assignment fits, and why statements of the reply were left out
    by_code: tuple[Claim, ...] = ()
    dropped: tuple[str, ...] = ()

    def assignments(self) -> list[dict[str, bool]]:
        """Every assignment of knights (True) and knaves (False), as name -> bool."""
        values = itertools.product([True, False], repeat=len(self.people))
        return [dict(zip(self.people, v, strict=True)) for v in values]

    def fitting(self, statements: tuple[Claim, ...] | None = None) -> list[dict[str, bool]]:
        """The assignments that fit every statement (`statements`, when given, instead of the puzzle's)."""
        claims = self.statements if statements is None else statements
        return [k for k in self.assignments() if all(c.fits(k) for c in claims)]


def parse_truth_tellers(data: Any) -> TruthTellers:
    """The structure, checked: 3-5 distinct one-word names, statements by and about them, a question."""
    if not isinstance(data, dict):
        raise TypeError("not an object")
    people = tuple(str(p).strip() for p in json_list(data.get("people")))
    bad = [p for p in people if not re.fullmatch(NAME_PATTERN, p) or p.lower() in NUMBER_NAMES | _KIND_WORDS]
    if bad:
        raise ValueError(f"people {bad} are not names: name each person with one capitalised word (Ana, Ben)")
    if not MIN_PEOPLE <= len(set(people)) == len(people) <= MAX_PEOPLE:
        raise ValueError(f"give {MIN_PEOPLE} to {MAX_PEOPLE} people, each named once")
    claims = [_claim(number, s, people) for number, s in enumerate(json_list(data.get("statements")), 1)]
    claims = list(dict.fromkeys(claims))  # a statement given twice says nothing more
    if len(claims) < MIN_STATEMENTS:
        raise ValueError(f"give at least {MIN_STATEMENTS} different statements")
    question = str(data.get("question", "")).strip().lower()
    if question not in QUESTIONS:
        raise ValueError(f"the question {question!r} is not one of {', '.join(QUESTIONS)}: pick one of them")
    setting = whole_sentences(data.get("setting"), SETTING_LIMIT, "setting")
    if not setting:
        raise ValueError("the setting is empty: write one sentence on where and why the people speak")
    return TruthTellers(setting, people, tuple(claims), question)


def _claim(number: int, data: Any, people: tuple[str, ...]) -> Claim:
    """One statement, checked: a speaker and a person it is about among the people, a number in range."""
    if not isinstance(data, dict):
        raise TypeError("a statement is not an object")
    speaker, form = str(data.get("speaker", "")).strip(), str(data.get("form", "")).strip().lower()
    listed = f"the people ({', '.join(people)})"
    if speaker not in people:
        raise ValueError(f"statement {number}'s speaker {speaker!r} is not one of {listed}: use one of them")
    if form not in FORMS:
        raise ValueError(f"statement {number}'s form {form!r} is not one of {', '.join(FORMS)}: pick one")
    if form in COUNTING:
        n, low = data.get("n"), 0 if form == "exactly_n_liars" else 1
        if isinstance(n, bool) or not isinstance(n, int) or not low <= n <= len(people):
            raise ValueError(
                f"statement {number}'s n is {n!r}: {form} needs a whole number from {low} to {len(people)}, "
                "the number of people"
            )
        return Claim(speaker, form, n=n)
    about = str(data.get("about", "")).strip()
    if about not in people:
        raise ValueError(
            f"statement {number} is about {about!r}, who is not one of {listed}: use one of them"
        )
    if form in PAIRED and about == speaker:
        raise ValueError(
            f"statement {number} compares {speaker} with {speaker}: {form} compares the speaker with "
            "someone else, so set about to another person"
        )
    return Claim(speaker, form, about)


def _quoted(puzzle: TruthTellers, number: int) -> str:
    claim = puzzle.statements[number - 1]
    return f'statement {number} ({claim.speaker}: "{claim.words(len(puzzle.people))}")'


def the_assignment(puzzle: TruthTellers, rng: random.Random) -> dict[str, bool]:
    """The one assignment that fits every statement; a ValueError says how to get to one."""
    fitting = puzzle.fitting()
    if len(fitting) == 1:
        return fitting[0]
    if not fitting:
        raise ValueError(_none_fit(puzzle))
    shown = "; ".join(
        ", ".join(f"{p} {'knight' if k[p] else 'knave'}" for p in puzzle.people) for k in fitting[:3]
    )
    differ = [p for p in puzzle.people if len({k[p] for k in fitting}) > 1]
    problem = (
        f"{len(fitting)} assignments fit the statements ({shown}{'; ...' if len(fitting) > 3 else ''}), "
        f"which differ on {', '.join(differ)}: add or change a statement so that only one fits"
    )
    if all(c.form in FLIPPABLE for c in puzzle.statements):
        problem += (
            " (with is_liar and is_truthful alone, turning every knight into a knave and every knave into a "
            "knight keeps every statement fitting: a statement of another form tells them apart)"
        )
    suggestion = _deciding_claim(puzzle, fitting, rng)
    if suggestion is not None:
        problem += f", such as {_as_reply(suggestion)}"
    raise ValueError(problem)


def _none_fit(puzzle: TruthTellers) -> str:
    """Why no assignment fits: a statement no one can make, or statements without which some fits."""
    for number, claim in enumerate(puzzle.statements, 1):
        if not puzzle.fitting((claim,)):
            return (
                f"no assignment fits: {_quoted(puzzle, number)} can be made by no one (a knight would be "
                "lying and a knave telling the truth): drop or change it"
            )
    others = [puzzle.statements[:n] + puzzle.statements[n + 1 :] for n in range(len(puzzle.statements))]
    culprits = " or ".join(_quoted(puzzle, n) for n, rest in enumerate(others, 1) if puzzle.fitting(rest))
    return (
        "no assignment of knights and knaves fits every statement (each makes some statement a knight's lie "
        f"or a knave's truth){f'; without {culprits} some do: change one of those' if culprits else ''}"
    )


def _deciding_claim(puzzle: TruthTellers, fitting: list[dict[str, bool]], rng: random.Random) -> Claim | None:
    """A statement that, added, leaves exactly one of the fitting assignments (the fix offered)."""
    return next((c for c in _new_claims(puzzle, rng) if sum(c.fits(k) for k in fitting) == 1), None)


def _narrowing_claim(
    puzzle: TruthTellers, fitting: list[dict[str, bool]], rng: random.Random
) -> Claim | None:
    """A statement that, added, leaves as few of the fitting assignments as it can, one at least (None when
    every new statement leaves them all or none)."""
    counted = [(sum(c.fits(k) for k in fitting), c) for c in _new_claims(puzzle, rng)]
    useful = [(n, c) for n, c in counted if 0 < n < len(fitting)]
    return min(useful, key=lambda item: item[0])[1] if useful else None


def _new_claims(puzzle: TruthTellers, rng: random.Random) -> list[Claim]:
    """Every statement the puzzle does not hold yet, in an order drawn from `rng`."""
    n = len(puzzle.people)
    counted = [
        Claim(speaker, form, n=count)
        for speaker, form, count in itertools.product(puzzle.people, sorted(COUNTING), range(n + 1))
        if count > 0 or form == "exactly_n_liars"
    ]
    # a claim about oneself decides nothing ("I am a knight") or cannot be made ("I am a knave")
    pairs = itertools.permutations(puzzle.people, 2)
    about = [Claim(s, form, o) for (s, o), form in itertools.product(pairs, sorted(set(FORMS) - COUNTING))]
    candidates = [c for c in counted + about if c not in puzzle.statements]
    rng.shuffle(candidates)
    return candidates


def _as_reply(c: Claim) -> str:
    """A claim as the agent writes it (a counting claim names its speaker as `about`, which it ignores)."""
    return json.dumps({"speaker": c.speaker, "form": c.form, "about": c.about or c.speaker, "n": c.n})


def _group(names: list[str], people: tuple[str, ...]) -> str:
    """Names as an option reads them: "none of them", "Ben only", "Ana and Cal", "all of them"."""
    if not names:
        return "none of them"
    if len(names) == len(people):
        return "all of them"
    if len(names) == 1:
        return f"{names[0]} only"
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _options(puzzle: TruthTellers, answer: dict[str, bool], rng: random.Random) -> list[Any]:
    """The options, answer among them: knave or knight lists of other assignments (those that break the
    fewest statements first), or for which_is_true one true sentence about a person and false ones."""
    if puzzle.question == "which_is_true":
        person = rng.choice(puzzle.people)
        # the true sentence's own denial is the least telling wrong option: left out when there are enough
        few = len(puzzle.people) < len(OPTION_LETTERS)
        false = [(p, not answer[p]) for p in puzzle.people if few or p != person]
        rng.shuffle(false)
        options = [(person, answer[person]), *false[: len(OPTION_LETTERS) - 1]]
    else:
        kind = puzzle.question == "who_tells_truth"
        others = [k for k in puzzle.assignments() if k != answer]
        rng.shuffle(others)
        others.sort(key=lambda k: sum(not c.fits(k) for c in puzzle.statements))
        options = [[p for p in puzzle.people if k[p] == kind] for k in [answer, *others[:4]]]
    right = options[0]
    rng.shuffle(options)
    return [right, *options]


def _option_words(puzzle: TruthTellers, option: Any) -> str:
    if puzzle.question == "which_is_true":
        person, knight = option
        return f"{person} is a {'knight' if knight else 'knave'}."
    return _group(option, puzzle.people)


def _puzzle_text(puzzle: TruthTellers, options: list[Any]) -> str:
    people = puzzle.people
    listed = f"{', '.join(people[:-1])} and {people[-1]}"
    rule = f"Each of {listed} is either a knight, who always tells the truth, or a knave, who always lies."
    if any(c.form in COUNTING for c in puzzle.statements):
        rule += f' When one of them says "us", it means all {_NUMBER_WORDS[len(people)]} of them.'
    said = [f'{c.speaker} says: "{c.words(len(people))}"' for c in puzzle.statements]
    lettered = [f"({OPTION_LETTERS[i]}) {_option_words(puzzle, o)}" for i, o in enumerate(options)]
    return "\n".join([puzzle.setting, rule, "", *said, "", QUESTIONS[puzzle.question], *lettered])


def _solver_program(puzzle: TruthTellers, options: list[Any]) -> str:
    """A program that tries every assignment, keeps those every statement fits and tests each option."""
    body = []
    for number, claim in enumerate(puzzle.statements, 1):
        origin = "  (written by code)" if claim in puzzle.by_code else ""
        body += [
            f'    # {number}. {claim.speaker} says: "{claim.words(len(puzzle.people))}"{origin}',
            f"    if knight[{claim.speaker!r}] != ({claim.expression()}):",
            "        return False",
        ]
    if puzzle.question == "which_is_true":
        test = "all(s[name] == is_knight for s in solutions)"
        header, unpack = "# (person, True for a knight)", "(name, is_knight)"
    else:
        kind = "knights" if puzzle.question == "who_tells_truth" else "knaves"
        test = f"all([p for p in PEOPLE if s[p] == {kind == 'knights'}] == option for s in solutions)"
        header, unpack = f"# the {kind} each option names", "option"
    return "\n".join(
        [
            *[f"# left out: {reason}" for reason in puzzle.dropped],
            "import itertools",
            "import json",
            "",
            f"PEOPLE = {list(puzzle.people)!r}",
            "",
            "",
            "def fits(knight):",
            '    """Whether each statement is true exactly when its speaker is a knight (knight[name])."""',
            "    knaves = list(knight.values()).count(False)",
            *body,
            "    return True",
            "",
            "",
            "values = itertools.product([True, False], repeat=len(PEOPLE))",
            "solutions = [s for s in (dict(zip(PEOPLE, v)) for v in values) if fits(s)]",
            header,
            "OPTIONS = {",
            *[f"    {OPTION_LETTERS[i]!r}: {o!r}," for i, o in enumerate(options)],
            "}",
            f"good = [letter for letter, {unpack} in OPTIONS.items() if solutions and {test}]",
            'print(json.dumps({"solutions": len(good), "answer": ",".join(good)}))',
        ]
    )


def mended(puzzle: TruthTellers, rng: random.Random) -> TruthTellers:
    """The puzzle given one answer where code can: a statement no one can make ("I am a knave") or that
    decides nothing ("I am a knight") is left out, and while several assignments still fit, statements of
    code's own that narrow them are added (6 statements at most). Unchanged unless that leaves exactly one
    assignment (`the_assignment` then says what to fix).

    s31's structure had Inver say "Inver is a knave" and Agnes "Agnes is a knight"; sent back with the
    reason and a statement that would settle it, the local model returned the same structure three times.
    """
    every = len(puzzle.assignments())
    statements = tuple(c for c in puzzle.statements if 0 < len(puzzle.fitting((c,))) < every)
    fitting, added = puzzle.fitting(statements), ()
    while statements and len(fitting) > 1 and len(statements) < MAX_STATEMENTS:
        claim = _narrowing_claim(replace(puzzle, statements=statements), fitting, rng)
        if claim is None:
            break
        statements, added = (*statements, claim), (*added, claim)
        fitting = puzzle.fitting(statements)
    if len(fitting) != 1 or len(statements) < MIN_STATEMENTS:
        return puzzle
    people = len(puzzle.people)
    dropped = tuple(
        f'{c.speaker}: "{c.words(people)}" '
        + ("can be made by no one" if not puzzle.fitting((c,)) else "fits every assignment")
        for c in puzzle.statements
        if c not in statements
    )
    return replace(puzzle, statements=statements, by_code=added, dropped=dropped)


def truth_tellers_puzzle(puzzle: TruthTellers) -> tuple[str, str, str]:
    """(puzzle text, answer key, solver program); a ValueError says how to give the puzzle one answer."""
    # seeded by the structure, so the same reply always makes the same puzzle (runs are reproducible)
    rng = random.Random(hashlib.sha256(repr(puzzle).encode()).digest())
    puzzle = mended(puzzle, rng)
    answer = the_assignment(puzzle, rng)
    right, *options = _options(puzzle, answer, rng)
    key = OPTION_LETTERS[options.index(right)]
    return _puzzle_text(puzzle, options), key, _solver_program(puzzle, options)


def truth_tellers_fields(data: Any, material: str = "") -> dict[str, str]:
    """The task shape's fields from a structure: the puzzle text (under "task"), its key and program.

    The scenario (`material`) is not needed: the setting ties the puzzle to it."""
    puzzle, answer_key, program = truth_tellers_puzzle(parse_truth_tellers(data))
    return {"task": puzzle, "answer_key": answer_key, "solver_program": program}
