"""Anagrams written as data: the model picks a word of the notes and a clue; code scrambles it and keys it.

An instruction type with `task_shape: anagram` (brain_teaser's wordplay) asks its instruction agent for a
structure rather than for the puzzle and its key: one word the notes use (5 to 12 letters, letters only)
and one sentence that defines or describes it without writing it. Asked for a wordplay puzzle and its key,
the local 1.5B model keyed "I am a garden where lots are printed..." as "lottery", and its riddles
"Councillor Pryce asks for reconsideration": the teacher could not reach such keys, and `answers_agree`
rejected almost every pair. Here the key is the word itself, and the letters the solver unscrambles are
that word's, so the key is right by construction. Code sends back, with how to fix it, a word that is
not one word of 5 to 12 letters, one the notes do not use, and a clue that is empty or gives the word (or
its first five letters) away, and one the notes only write with a capital (a name). It writes
"Unscramble the 10 letters E-S-U-O-H-T-H-G-I-L to find one word.
Clue: <clue> What is the word?", the letters mixed in an order drawn from the word (so runs reproduce)
that is neither the word, nor the word reversed, nor starts as the word does.
How a shaped task is asked for and read back is `flows.task_shapes`'; checking the teacher's answer is
`quality.agreement`'s. No program answers an anagram (`skills.UNAIDED_SHAPES`): its key is a word.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import Any

from agentinstruct.flows.setup_sentences import whole_sentences

MIN_LETTERS, MAX_LETTERS = 5, 12
#: the longest clue the grammar lets the model write
CLUE_LIMIT = 200
#: how many letters of the word the clue must not hold (the whole word, when it is shorter)
GIVEAWAY = 5
#: orders of the letters tried before a word whose letters cannot be mixed well is sent back
SHUFFLES = 200
#: endings a word of the notes may carry beyond the word asked for ("keepers" for "keeper")
ENDINGS = ("ing", "ed", "es", "s")

ANAGRAM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "word": {"type": "string", "pattern": f"^[A-Za-z]{{{MIN_LETTERS},{MAX_LETTERS}}}$"},
        "clue": {"type": "string", "minLength": 1, "maxLength": CLUE_LIMIT},
    },
    "required": ["word", "clue"],
    "additionalProperties": False,
}
ANAGRAM_DESCRIPTION = (
    f"the puzzle as data: word (one word the notes use, {MIN_LETTERS} to {MAX_LETTERS} letters, letters "
    "only; its letters are mixed up for the solver, and it is the answer) and clue (one sentence that "
    "defines or describes the word without writing it)"
)


@dataclass(frozen=True)
class Anagram:
    """A parsed anagram structure: the word (as the model wrote it) and its clue, ending with a stop."""

    word: str
    clue: str


def parse_anagram(data: Any, material: str = "") -> Anagram:
    """The structure, checked: one word of the notes, 5 to 12 letters, and a clue that does not give it."""
    if not isinstance(data, dict):
        raise TypeError("not an object")
    word = str(data.get("word") or "").strip()
    if not re.fullmatch(r"[A-Za-z]+", word):
        raise ValueError(
            f"the word {word!r} is not one word of letters only: give one word from the notes, "
            f"{MIN_LETTERS} to {MAX_LETTERS} letters, without spaces, digits or hyphens"
        )
    if not MIN_LETTERS <= len(word) <= MAX_LETTERS:
        raise ValueError(
            f"the word {word!r} has {len(word)} letters: pick a word of {MIN_LETTERS} to {MAX_LETTERS} "
            "letters from the notes"
        )
    if material.strip() and not in_material(word, material):
        raise ValueError(f"the notes do not use the word {word!r}: pick a word that stands in the notes")
    if material.strip() and not in_material(word, material, common=True):
        raise ValueError(
            f"the notes use {word!r} only with a capital, as a name: pick a common word (a noun, verb or "
            "adjective) that the notes write in lower case, one a solver can know"
        )
    clue = whole_sentences(data.get("clue"), CLUE_LIMIT, "clue")
    if not clue:
        raise ValueError("the clue is empty: write one sentence that describes the word without writing it")
    if word.casefold() in clue.casefold():
        raise ValueError(
            f"the clue holds the word {word!r}, the answer: describe the word without writing it"
        )
    if word[:GIVEAWAY].casefold() in clue.casefold():
        raise ValueError(
            f"the clue holds {word[:GIVEAWAY]!r}, the start of the word {word!r}, which gives the answer "
            "away: describe the word without those letters"
        )
    return Anagram(word, clue)


def in_material(word: str, material: str, common: bool = False) -> bool:
    """Whether the notes use the word, case aside: as it is, or either of them with an ending ("keepers"
    for "keeper", "lighthouse" for "lighthouses"); with `common`, written in lower case at least once
    (s30 keyed an anagram "inver", which the notes held only in a place name, and no solver could know)."""
    words = re.findall(r"[A-Za-z]+", material)
    used = set().union(*(_forms(w.casefold()) for w in words if not common or w[0].islower()))
    return bool(_forms(word.casefold()) & used)


def _forms(word: str) -> set[str]:
    """The word, and the word without each ending it carries that leaves four letters or more."""
    cut = {word[: -len(e)] for e in ENDINGS if word.endswith(e) and len(word) - len(e) >= 4}
    return {word, *cut}


def scramble(word: str) -> str:
    """The word's letters in upper case, mixed in an order drawn from the word itself (so runs reproduce):
    not the word, not the word reversed, not starting with its first two letters; joined by hyphens.

    A ValueError when no such order turns up (letters all alike: "aaaaa")."""
    letters = word.upper()
    rng = random.Random(int(hashlib.sha256(letters.encode()).hexdigest(), 16))
    for _ in range(SHUFFLES):
        mixed = rng.sample(letters, len(letters))
        candidate = "".join(mixed)
        if candidate not in (letters, letters[::-1]) and not candidate.startswith(letters[:2]):
            return "-".join(mixed)
    raise ValueError(
        f"the letters of {word!r} cannot be mixed into a puzzle: pick a word with more varied letters"
    )


def anagram_puzzle(anagram: Anagram) -> tuple[str, str]:
    """(the task text, its key: the word in lower case)."""
    shown = scramble(anagram.word)
    task = (
        f"Unscramble the {len(anagram.word)} letters {shown} to find one word. Clue: {anagram.clue} "
        "What is the word?"
    )
    return task, anagram.word.lower()


def anagram_fields(data: Any, material: str = "") -> dict[str, str]:
    """The task shape's fields from an anagram structure: the task text (under "task") and its key.

    The notes (`material`) are what the word must come from; without them (a test, an engine that passes
    none) that check is skipped."""
    task, key = anagram_puzzle(parse_anagram(data, material))
    return {"task": task, "answer_key": key}
