"""A request must state the constraints checked against its answer (quality.constraint_wording)."""

from __future__ import annotations

import pytest

from agentinstruct.agent_outputs import ConstrainedEditOutput, ConstrainedInstructionOutput
from agentinstruct.quality.constraint_wording import is_stated, with_constraints_stated
from agentinstruct.quality.constraints import KINDS, Constraint

STATED = [
    ("Rewrite the text above in at most 80 words.", dict(kind="word_count", relation="at_most", number=80)),
    ("Keep it under fifty words.", dict(kind="word_count", relation="at_most", number=50)),
    ("Use exactly twenty-five words.", dict(kind="word_count", number=25)),
    ("Write it as a single paragraph.", dict(kind="paragraph_count", number=1)),
    ("A poem of four stanzas.", dict(kind="paragraph_count", number=4)),
    ("Summarise it in 3 sentences.", dict(kind="sentence_count", number=3)),
    ("No more than 1,200 characters.", dict(kind="char_count", relation="at_most", number=1200)),
    ("Write it all in capital letters.", dict(kind="case", text="upper")),
    ("Use lowercase only.", dict(kind="case", text="lower")),
    ("Every sentence must begin with the letter S.", dict(kind="every_sentence_starts_with", text="s")),
    ("Make every word start with 'p'.", dict(kind="every_word_starts_with", text="p")),
    ("Do not use the words very or really.", dict(kind="banned_words", words=["very", "really"])),
    ("Mention the Mill Lane lot.", dict(kind="required_words", words=["Mill  Lane"])),
    ("Give it as a bullet list of 5 points.", dict(kind="bullet_list", text="-", number=5)),
    ("Start with 'Dear neighbours'.", dict(kind="starts_with", text="Dear neighbours,")),
    ('End with the words "see you there".', dict(kind="ends_with", text="See you there!")),
    ("Begin the poem with The lot on Mill Lane.", dict(kind="starts_with", text="The lot on Mill Lane")),
    ("Sign off with Yours faithfully, Priya", dict(kind="ends_with", text="Yours faithfully, Priya")),
    ("Translate it into French.", dict(kind="language", text="fr")),
]

UNSTATED = [
    ("Make the text more neutral.", dict(kind="word_count", relation="at_least", number=80)),
    ("Rewrite it in 60 words.", dict(kind="word_count", relation="at_least", number=80)),
    ("Write 80 sentences... no, a short poem.", dict(kind="word_count", number=40)),
    ("Write a speech for the ceremony.", dict(kind="paragraph_count", number=2)),
    ("Write a speech.", dict(kind="every_sentence_starts_with", text="s")),
    ("Every sentence must be short.", dict(kind="every_sentence_starts_with", text="s")),
    ("Avoid the word very.", dict(kind="banned_words", words=["very", "really"])),
    ("Write a list.", dict(kind="bullet_list", number=4)),
    ("Write a letter.", dict(kind="starts_with", text="Dear friend")),
    # s31: the request's own "The answer must..." is no opening the answer must start with
    ("Write a song. The answer must contain at least 200 words.", dict(kind="starts_with", text="The")),
    ("Write a note and mention the end of the lease.", dict(kind="ends_with", text="lease")),
    ("Rewrite it formally.", dict(kind="language", text="de")),
    ("Rewrite it formally.", dict(kind="case", text="title")),
]


@pytest.mark.parametrize(("request_text", "fields"), STATED)
def test_a_constraint_the_request_states_is_recognised(request_text, fields):
    assert is_stated(request_text, Constraint(**fields))


@pytest.mark.parametrize(("request_text", "fields"), UNSTATED)
def test_a_constraint_the_request_does_not_state_is_not(request_text, fields):
    assert not is_stated(request_text, Constraint(**fields))


def test_every_kind_is_covered_by_the_examples():
    assert {fields["kind"] for _, fields in STATED} == set(KINDS)


def test_unstated_constraints_are_added_as_sentences_and_stated_ones_are_not():
    constraints = [
        Constraint(kind="word_count", relation="at_most", number=80),
        Constraint(kind="paragraph_count", number=2),
    ]
    text = with_constraints_stated("Rewrite the text above in at most 80 words.", constraints)
    assert text == (
        "Rewrite the text above in at most 80 words.\n\n"
        "The answer must contain exactly 2 paragraphs (separated by blank lines)."
    )
    assert with_constraints_stated(text, constraints) == text  # idempotent: the added sentence states it


@pytest.mark.parametrize("output", [ConstrainedInstructionOutput, ConstrainedEditOutput])
def test_instruction_agents_state_what_they_constrain(output):
    reply = {
        "instruction": "Make the text above sound more hopeful, keeping every fact.",
        "content": "passage",
        "constraints": [
            {"kind": "word_count", "relation": "at_least", "number": 80},
            {"kind": "word_count", "relation": "at_least", "number": 80},
        ],
    }
    parsed = output.model_validate(reply)
    assert len(parsed.constraints) == 1  # the same constraint twice is one
    assert parsed.instruction.endswith("\n\nThe answer must contain at least 80 words.")


def test_a_declined_reply_is_left_alone():
    parsed = ConstrainedInstructionOutput.model_validate(
        {"suitable": False, "reason": "the text is a bare list", "constraints": []}
    )
    assert parsed.instruction == ""


def test_a_constraint_a_program_cannot_check_is_left_out_and_the_task_kept():
    reply = {
        "instruction": "Shorten the text above to at most 40 words.",
        "constraints": [
            {"kind": "required_words", "words": []},
            {"kind": "case", "text": "the text is in title case"},
            {"kind": "word_count", "relation": "at_most", "number": 40},
        ],
    }
    parsed = ConstrainedInstructionOutput.model_validate(reply)
    assert [c.kind for c in parsed.constraints] == ["word_count"]
    assert parsed.instruction == "Shorten the text above to at most 40 words."


def test_constraints_that_read_the_same_are_one():
    # a local request got "The answer must contain at least 600 words." four times (run s12b): its
    # constraints differed only in fields a word count does not use
    same = [
        {"kind": "word_count", "relation": "at_least", "number": 60, "text": t} for t in ("", "words", "x")
    ]
    parsed = ConstrainedInstructionOutput.model_validate(
        {"instruction": "Paraphrase the text above.", "constraints": same}
    )
    assert len(parsed.constraints) == 1
    assert parsed.instruction.count("at least 60 words") == 1


def test_a_count_beyond_one_answer_only_the_list_asks_for_is_left_out():
    # a local screenplay request listed "100 sentences" that its words never asked for, and was sent back
    # three times (run s14); where the request's words ask for it, it is still sent back to be fixed
    too_many = {"kind": "sentence_count", "relation": "at_least", "number": 100}
    fair = {"kind": "paragraph_count", "relation": "at_most", "number": 3}
    parsed = ConstrainedInstructionOutput.model_validate(
        {"instruction": "Write the scene where the council votes.", "constraints": [too_many, fair]}
    )
    assert [c.kind for c in parsed.constraints] == ["paragraph_count"]
    assert "100" not in parsed.instruction and "at most 3 paragraphs" in parsed.instruction
    with pytest.raises(ValueError, match="100 sentences is more than one answer holds"):
        ConstrainedInstructionOutput.model_validate(
            {"instruction": "Write the scene in at least 100 sentences.", "constraints": [too_many]}
        )
    exact = {"kind": "word_count", "relation": "exactly", "number": 150}
    assert not ConstrainedInstructionOutput.model_validate(
        {"instruction": "Write the scene.", "constraints": [exact]}
    ).constraints


def test_a_translation_request_gets_the_language_it_names_as_a_constraint():
    """s31: "Translate the text into Spanish" listed only an upper-case constraint, and an English answer in
    upper case passed every check."""
    from agentinstruct.quality.constraint_wording import asked_language

    [spanish] = asked_language("Translate the text into Spanish, in title case.", [])
    assert (spanish.kind, spanish.text) == ("language", "es")
    assert asked_language("Give a translation of the second paragraph to German.", [])[0].text == "de"
    listed = [Constraint(kind="language", text="fr")]
    assert asked_language("Translate the text into Spanish.", listed) == []
    assert asked_language("Turn the text into Bullet points.", []) == []
    assert asked_language("Rewrite it into a formal letter.", []) == []
