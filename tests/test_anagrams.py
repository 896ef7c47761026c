"""Anagrams written as data (`task_shape: anagram`): code mixes the word's letters and keys the word.

The task code writes (the mixed-up letters, the clue, the question), the key, the order of the letters
(reproducible, and never the word, the word reversed or the word's start), the structures sent back with
how to fix them (not one word, too short or long, not in the notes, a clue that gives the word away), and
the request: the instruction agent is asked for the word and the clue alone.
"""

from __future__ import annotations

import re

import pytest

from agentinstruct.agent_outputs import InstructionOutput
from agentinstruct.flows.anagrams import Anagram, anagram_fields, in_material, parse_anagram, scramble
from agentinstruct.flows.outputs import with_skill_fields
from agentinstruct.flows.task_shapes import TASK_SHAPES, task_shaped
from agentinstruct.skills import SHAPE_FIELDS, UNAIDED_SHAPES
from keyed_skills_support import NOTES

CLUE = "A tall tower whose lamp warns ships away from the rocks at night."


def structure(**changes: object) -> dict:
    return {"word": "lighthouse", "clue": CLUE, **changes}


def test_the_task_holds_the_mixed_up_letters_and_the_clue_and_the_key_is_the_word() -> None:
    fields = anagram_fields(structure(), NOTES)
    assert set(fields) == {"task", *SHAPE_FIELDS["anagram"]}
    assert fields["answer_key"] == "lighthouse"
    shown = re.fullmatch(
        r"Unscramble the 10 letters ((?:[A-Z]-){9}[A-Z]) to find one word\. Clue: (.+) What is the word\?",
        fields["task"],
    )
    assert shown is not None and shown.group(2) == CLUE
    assert sorted(shown.group(1).replace("-", "")) == sorted("LIGHTHOUSE")
    assert "lighthouse" not in fields["task"].casefold()
    assert anagram_fields(structure(), NOTES) == fields, "reproducible"


@pytest.mark.parametrize("word", ["lighthouse", "beacon", "keeper", "Alder", "nightly", "automated", "lamps"])
def test_the_letters_are_mixed_the_same_way_each_time_and_never_give_the_word(word) -> None:
    mixed = scramble(word)
    assert mixed == scramble(word) and mixed == mixed.upper()
    letters = mixed.replace("-", "")
    assert sorted(letters) == sorted(word.upper()) and mixed == "-".join(letters)
    assert letters not in (word.upper(), word.upper()[::-1]) and not letters.startswith(word.upper()[:2])


def test_the_key_is_the_word_in_lower_case_and_a_clue_without_a_stop_gets_one() -> None:
    read = parse_anagram(structure(word=" Keeper ", clue="  The one who tends  the lamp"), NOTES)
    assert read == Anagram("Keeper", "The one who tends the lamp.")
    assert (
        anagram_fields(structure(word="Keeper", clue="The one who tends the lamp"))["answer_key"] == "keeper"
    )


def test_a_word_of_the_notes_may_carry_an_ending_either_way() -> None:
    assert in_material("keeper", NOTES) and in_material("Keepers", NOTES)  # the notes say "keepers"
    assert in_material("lighthouses", NOTES) and in_material("BEACON", NOTES)
    assert not in_material("tower", NOTES) and not in_material("house", NOTES)  # not inside another word


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"word": "lamp room"}, "the word 'lamp room' is not one word of letters only: give one word"),
        ({"word": "wick-trimmer"}, "is not one word of letters only"),
        ({"word": "1852"}, "the word '1852' is not one word of letters only"),
        ({"word": ""}, "the word '' is not one word of letters only"),
        ({"word": "lamp"}, "the word 'lamp' has 4 letters: pick a word of 5 to 12 letters from the notes"),
        ({"word": "lighthousekeeper"}, "has 16 letters: pick a word of 5 to 12 letters"),
        ({"word": "tower"}, "the notes do not use the word 'tower': pick a word that stands in the notes"),
        ({"word": "Alder"}, "the notes use 'Alder' only with a capital, as a name: pick a common word"),
        ({"clue": "  "}, "the clue is empty: write one sentence that describes the word without writing it"),
        ({"clue": "A Lighthouse warns ships."}, "the clue holds the word 'lighthouse', the answer: describe"),
        (
            {"clue": "It shines a light at night."},
            "the clue holds 'light', the start of the word 'lighthouse'",
        ),
        ({"word": "beacon", "clue": "Beacons guide ships."}, "the clue holds the word 'beacon', the answer"),
    ],
)
def test_a_structure_that_cannot_make_a_fair_anagram_is_sent_back_saying_how_to_fix_it(
    changes, message
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        anagram_fields(structure(**changes), NOTES)


def test_without_notes_the_word_is_not_looked_for_in_them() -> None:
    assert anagram_fields(structure(word="tower", clue="It stands tall by the sea."))["answer_key"] == "tower"


def test_letters_that_cannot_be_mixed_are_sent_back() -> None:
    with pytest.raises(
        ValueError, match="cannot be mixed into a puzzle: pick a word with more varied letters"
    ):
        scramble("aaaaa")


def test_a_structure_that_is_not_an_object_is_not_an_anagram() -> None:
    with pytest.raises(TypeError):
        anagram_fields(["lighthouse", CLUE])


def test_the_request_asks_for_the_word_and_the_clue_alone() -> None:
    assert "anagram" in TASK_SHAPES and "anagram" in UNAIDED_SHAPES  # a word: no program computes it
    fields = {"answer_key": "the answer"}
    output = task_shaped(with_skill_fields(InstructionOutput, fields, key="puzzle"), "anagram", "puzzle")
    request = output.request_schema()
    assert list(request["properties"]) == ["puzzle", "suitable", "reason"]  # the key is code's
    puzzle = request["properties"]["puzzle"]
    assert list(puzzle["properties"]) == ["word", "clue"] and puzzle["required"] == ["word", "clue"]
    assert puzzle["properties"]["word"]["pattern"] == "^[A-Za-z]{5,12}$"
    assert puzzle["properties"]["clue"]["maxLength"] == 200 and puzzle["additionalProperties"] is False
    reply = output.model_validate({"puzzle": structure(), "suitable": True, "reason": ""})
    assert reply.instruction.endswith(f"Clue: {CLUE} What is the word?") and reply.answer_key == "lighthouse"
