"""Program-aided answers to arrangement puzzles: the teacher reads each rule as a check, code tests options.

The local 1.5B teacher, reasoning in words about "Alice is immediately after Bob", picked the wrong option
or wrote working that contradicted its own answer (1 right of 9 in a probe over the puzzles of runs
p8c and s8d, and that one by luck: its working was wrong). Asked instead to translate each rule into a
check (`Alice == Bob + 1`), it got 8 of 14 puzzles exactly right, in a quarter of the time. So when the
teacher's own answer to an arrangement puzzle fails its checks, the flow (`flows.teaching`) asks the
teacher for these checks. Code reads the entities, slots and options back from the puzzle text that
`flows.arrangements` wrote, accepts the checks only when each one means what its author's check means
(the same verdict on every arrangement), tests every option against them and writes the worked answer
from the results, naming for each wrong option the rule it breaks and the places that break it. The
teacher never sees the key or the author's checks; a misread rule makes the answer unusable, never right.
Truth-teller and syllogism puzzles (`flows.truth_tellers`, `flows.syllogisms`: no places to check) and
puzzles written as text have no checks to compare and are not answered here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from agentinstruct.flows.arrangements import OPTION_LETTERS, Arrangement, parse_arrangement

_CAST = re.compile(
    r"^Each of (?P<entities>.+?) takes exactly one of: (?P<slots>.+?) "
    r"\((?P<share>no two of them the same|several may share one)\)\.$",
    re.MULTILINE,
)
_RULE = re.compile(r"^(\d+)\. (.+)$", re.MULTILINE)
_OPTION = re.compile(r"^\(([A-E])\) (.+)$", re.MULTILINE)
#: a rule's check in the solver program `flows.arrangements` writes
_PROGRAM_CHECK = re.compile(r"^    if not \((.+)\):$", re.MULTILINE)


@dataclass(frozen=True)
class PuzzleView:
    """What an arrangement puzzle's text states: its cast, rules (sentences) and lettered options."""

    entities: tuple[str, ...]
    slots: tuple[Any, ...]
    one_each: bool
    rules: tuple[str, ...]
    #: letter -> (the option as the puzzle writes it, the slot of each entity in `entities` order)
    options: dict[str, tuple[str, tuple[Any, ...]]]


def read_puzzle(text: str) -> PuzzleView | None:
    """The puzzle's parts, read back from the text `flows.arrangements` writes; None for any other text
    (a puzzle written as text, or one an editor rewrote beyond that form)."""
    cast = _CAST.search(text)
    if cast is None or "Rules:" not in text:
        return None
    entities = tuple(e.strip() for e in cast["entities"].split(","))
    slots = tuple(int(s) if s.strip().isdigit() else s.strip() for s in cast["slots"].split(", "))
    one_each = cast["share"].startswith("no two")
    rules_part = text.split("Rules:", 1)[1].split("\n\n", 1)[0]
    rules = tuple(sentence for _, sentence in _RULE.findall(rules_part))
    sequence = one_each and len(slots) == len(entities) and all(isinstance(s, int) for s in slots)
    options = {}
    for letter, written in _OPTION.findall(text):
        places = _sequence_places(written, entities) if sequence else _slot_places(written, entities, slots)
        if places is None:
            return None
        options[letter] = (written.strip(), places)
    if not rules or sorted(options) != list(OPTION_LETTERS):
        return None
    return PuzzleView(entities, slots, one_each, rules, options)


def _sequence_places(written: str, entities: tuple[str, ...]) -> tuple[Any, ...] | None:
    """ "David, Alice, Bob, Charlie" -> each entity's position (from 1)."""
    order = [name.strip() for name in written.split(",")]
    if sorted(order) != sorted(entities):
        return None
    return tuple(order.index(e) + 1 for e in entities)


def _slot_places(written: str, entities: tuple[str, ...], slots: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """ "North: Ann, Ben; South: none" -> each entity's slot."""
    by_text = {str(s): s for s in slots}
    where: dict[str, Any] = {}
    for part in written.split("; "):
        slot, _, names = part.partition(": ")
        if slot.strip() not in by_text:
            return None
        for name in names.split(","):
            if name.strip() and name.strip() != "none":
                where[name.strip()] = by_text[slot.strip()]
    if sorted(where) != sorted(entities):
        return None
    return tuple(where[e] for e in entities)


def author_checks(program: str) -> list[str]:
    """The rules' checks in the solver program `flows.arrangements` writes, in rule order."""
    return _PROGRAM_CHECK.findall(program)


@dataclass(frozen=True)
class CheckedAnswer:
    """The options tested against the teacher's checks: what the worked answer is written from."""

    #: (number, sentence, the teacher's check) per rule
    rules: list[tuple[int, str, str]]
    #: (letter, option text, [(rule number, rule sentence, the places the check looked at)]) per option
    options: list[tuple[str, str, list[tuple[int, str, str]]]]
    answer: str


def checked_answer(view: PuzzleView, checks: list[str], authors: list[str]) -> CheckedAnswer | str:
    """The options tested against the teacher's checks, or why the checks cannot answer the puzzle."""
    count = len(view.rules)
    if len(checks) != count or len(authors) != count:
        return f"{len(checks)} checks for {count} rules"
    teacher, problem = _arrangement(view, checks)
    author, _ = _arrangement(view, authors)
    if teacher is None or author is None:
        return problem or "the author's checks cannot be read"
    everything = teacher.all_arrangements()
    for number, (mine, theirs) in enumerate(zip(teacher.rules, author.rules, strict=True), 1):
        try:
            differs = any(teacher.holds(mine, a) != author.holds(theirs, a) for a in everything)
        except Exception as exc:  # a number compared with a word, a division by zero...
            return f"rule {number}'s check {mine.check!r} fails when evaluated ({exc})"
        if differs:
            return f"rule {number} ({mine.text}) was read as {mine.check!r}, which does not say what it says"
    tested = []
    for letter, (written, places) in sorted(view.options.items()):
        broken = [
            (n, teacher.rules[n - 1].text, _places(teacher, teacher.rules[n - 1].check, places))
            for n in teacher.broken(places)
        ]
        tested.append((letter, written, broken))
    valid = [letter for letter, _, broken in tested if not broken]
    if len(valid) != 1:
        return f"the checks leave {len(valid)} options standing"
    rules = [(n, rule.text, rule.check) for n, rule in enumerate(teacher.rules, 1)]
    return CheckedAnswer(rules, tested, valid[0])


def _arrangement(view: PuzzleView, checks: list[str]) -> tuple[Arrangement | None, str]:
    """The puzzle with these checks for its rules, or why a check cannot be used."""
    data = {
        "setup": "-",
        "entities": list(view.entities),
        "slots": [str(s) for s in view.slots],
        "one_each": view.one_each,
        "rules": [
            {"text": text, "check": _quoted(check, view.slots)}
            for text, check in zip(view.rules, checks, strict=True)
        ],
    }
    try:
        arrangement = parse_arrangement(data)
    except (TypeError, ValueError) as exc:
        return None, str(exc)
    if arrangement.dropped or len(arrangement.rules) != len(view.rules):
        return None, "; ".join(arrangement.dropped) or "a check cannot be used"
    return arrangement, ""


def _quoted(check: str, slots: tuple[Any, ...]) -> str:
    """The check with slots of several words quoted (the local teacher wrote `Lawn == average wait`) and
    numbered slots unquoted (it wrote `count('4') == 1` for the group numbered 4)."""
    for slot in sorted((s for s in slots if isinstance(s, str) and " " in s), key=len, reverse=True):
        check = re.sub(rf"(?<![\w\"']){re.escape(slot)}(?![\w\"'])", repr(slot), check)
    numbers = {str(s) for s in slots if isinstance(s, int)}
    return re.sub(r"(['\"])(-?\d+)\1", lambda m: m[2] if m[2] in numbers else m[0], check)


def _places(arrangement: Arrangement, check: str, places: tuple[Any, ...]) -> str:
    """Where the entities a check names are in one option ("Alice: 2, Bob: 3"), and how many take each slot
    it counts ("3 in North")."""
    where = dict(zip(arrangement.entities, places, strict=True))
    said = [f"{e}: {where[e]}" for e in arrangement.entities if re.search(rf"\b{re.escape(e)}\b", check)]
    for slot in dict.fromkeys(re.findall(r"count\(\s*['\"]?([^'\")]+?)['\"]?\s*\)", check)):
        taken = sum(1 for p in places if str(p) == slot)
        said.append(f"{taken} in {slot}")
    return ", ".join(said)
