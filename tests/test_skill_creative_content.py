"""The creative_content skill (SPEC §2 row 14): taxonomy, templates, and the flow with a scripted model, in
which the checkable constraints of a creative request are checked (`constraints`, one repair round)."""

from __future__ import annotations

import pytest

from agentinstruct.quality.checks import Candidate
from agentinstruct.quality.constraints import KINDS, Constraint, constraints_check
from keyed_skills_support import (
    SEED,
    assert_pair_shape,
    environment,
    load,
    render_every_template,
    run,
    scripted,
    variables_for,
)

pytestmark = pytest.mark.timeout(60)

TYPES = [
    "story",
    "poem",
    "screenplay_scene",
    "song_lyrics",
    "advertisement",
    "blog_post",
    "speech",
    "letter",
    "dialogue",
    "worldbuilding",
]
REQUEST = (
    "Write a poem about the last night of the Alder Creek lighthouse keepers in 1942, in exactly three "
    "stanzas, starting with the words 'The lamp'."
)
CONSTRAINTS = [
    {"kind": "paragraph_count", "relation": "exactly", "number": 3},
    {"kind": "starts_with", "text": "The lamp"},
]
POEM = (
    "The lamp burns low on the final night,\nsix wicks trimmed, one hundred twenty stairs.\n\n"
    "Ninety years of keepers' light\nhand the sea to a beacon's cares.\n\n"
    "Dawn comes; the tower keeps its height,\nbut no one climbs, and no one stares."
)
TWO_STANZAS = "The lamp burns low on the final night.\n\nDawn comes; no one climbs the stairs."


@pytest.fixture(scope="module")
def skill():
    return load("creative_content")


def test_taxonomy_matches_the_spec_row(skill) -> None:
    assert [t.name for t in skill.transformations] == ["identity"]
    [identity] = skill.transformations  # the seed's own words, no model call
    assert identity.verbatim and (identity.min_words, identity.max_words) == (30, None)
    assert [t.name for t in skill.instruction_types] == TYPES
    assert [g.name for g in skill.refinement.goals] == ["form", "meter", "point_of_view", "length"]
    assert skill.constraints is True and skill.repair_rounds == 1
    assert skill.checks == ["constraints", "in_verse"]
    assert skill.instruction_fields == {}
    for itype in skill.instruction_types:
        assert "constraints" in itype.guidance.lower(), itype.name


def test_every_template_renders_strictly(skill) -> None:
    variables = variables_for(skill, SEED, REQUEST, {})
    rendered = render_every_template(skill, variables)
    assert rendered[skill.prompts.user_turn].strip() == REQUEST
    assert "1. The answer must contain at most 120 words." in rendered[skill.prompts.suggester]
    for kind in (
        "word_count",
        "paragraph_count",
        "starts_with",
        "ends_with",
        "banned_words",
        "required_words",
    ):
        assert kind in rendered[skill.prompts.instruction] and kind in rendered[skill.prompts.editor], kind
    assert all(k in KINDS for k in ("every_sentence_starts_with", "case"))
    env = environment(skill)
    suggestions = set()
    for goal in skill.refinement.goals:
        text = env.get_template(skill.prompts.suggester).render(
            **{**variables[skill.prompts.suggester], "goal": goal}
        )
        suggestions.add(text)
    assert len(suggestions) == len(skill.refinement.goals), "each goal gets its own suggestions"
    without = env.get_template(skill.prompts.instruction).render(
        **{**variables[skill.prompts.instruction], "skill": skill.model_copy(update={"constraints": False})}
    )
    assert "paragraph_count" not in without and "not suitable" in without


def test_the_flow_checks_the_constraints_of_each_piece(skill) -> None:
    model = scripted(skill, {"instruction": REQUEST, "constraints": CONSTRAINTS}, lambda request: POEM)
    sink = run(skill, model, seeds=len(TYPES))
    assert {p.instruction_type for p in sink.pairs} == set(TYPES)
    assert len(sink.pairs) == len(TYPES) * 3 and not sink.rejections
    for pair in sink.pairs:
        assert_pair_shape(pair, skill, REQUEST)
        result, *verse = pair.verification.checks
        assert result.name == "constraints" and result.ok and result.detail == "all 2 met"
        verse_type = pair.instruction_type in ("poem", "song_lyrics")
        assert [c.name for c in verse if c.ok] == (["in_verse"] if verse_type else [])
    assert {s.goal for p in sink.pairs for s in p.lineage.refinement} == {
        "form",
        "meter",
        "point_of_view",
        "length",
    }


def test_a_piece_that_breaks_a_constraint_is_repaired_or_rejected(skill) -> None:
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["poem"]]})
    answers = iter([TWO_STANZAS, POEM])
    model = scripted(
        single, {"instruction": REQUEST, "constraints": CONSTRAINTS}, lambda request: next(answers)
    )
    [pair] = run(single, model, refinement_rounds=0).pairs
    assert pair.messages[-1]["content"] == POEM
    assert "2 paragraphs, exactly 3 required" in pair.verification.checks[-1].detail  # the "repaired" note

    model = scripted(
        single, {"instruction": REQUEST, "constraints": CONSTRAINTS}, lambda request: TWO_STANZAS
    )
    sink = run(single, model, refinement_rounds=0)
    [rejection] = sink.rejections
    assert rejection.reason == "verification_failed:constraints,in_verse"  # two lines are no poem either
    assert "paragraph_count: 2 paragraphs, exactly 3 required" in rejection.detail


def test_the_constraints_check_on_a_candidate() -> None:
    constraints = tuple(Constraint(**c) for c in CONSTRAINTS)
    good = Candidate("creative_content", "poem", SEED, REQUEST, POEM, False, constraints)
    bad = Candidate("creative_content", "poem", SEED, REQUEST, "A lamp.\n\nNight.", False, constraints)
    assert constraints_check(good).ok
    result = constraints_check(bad)
    assert not result.ok and "starts with 'A lamp." in result.detail and "2 paragraphs" in result.detail


def test_a_request_that_is_the_piece_itself_is_asked_again(skill) -> None:
    """The local model wrote the letter itself as its request ("Dear Councilor Gareth Pryce, I hope this
    letter finds you well...", runs s10b and s11a): every type's request must ask for a piece."""
    assert all("write" in t.task_must_contain_any for t in skill.instruction_types)
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["letter"]]})
    piece = "Dear Councillor Pryce, I hope this letter finds you well. The garden plan worries me."
    requests = iter(
        [piece, "Write a letter to Councillor Pryce about the garden plan, starting with 'The lamp'."]
    )
    model = scripted(
        single,
        lambda type_name: {"instruction": next(requests), "constraints": CONSTRAINTS},
        lambda request: POEM,
    )
    sink = run(single, model, refinement_rounds=0)
    asks = [r for r in model.requests if "/instruct/" in r.tag]
    assert len(asks) == 2 and "must contain 'write' or 'compose'" in asks[1].messages[-1]["content"]
    [pair] = sink.pairs
    assert pair.messages[1]["content"].startswith("Write a letter to Councillor Pryce")


def continued_speech(skill, request: str, rules: list, opening: str, more: str):
    """A speech task whose teacher writes `opening`, and `more` when asked to continue: the model and sink."""
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["speech"]]})

    def teacher(request_: object) -> str:
        return more if request_.tag.endswith("/continue") else opening

    model = scripted(single, {"instruction": request, "constraints": rules}, teacher)
    return model, run(single, model, refinement_rounds=0)


def test_a_piece_short_of_its_word_minimum_is_continued_by_the_teacher(skill) -> None:
    """The local teacher wrote 198 words for "at least 300" (run s11c); asked to continue, it writes only what
    follows and code appends it, so the piece is still all the teacher's words."""
    request = "Write a speech for the lighthouse's last night, at least 60 words, starting with 'The lamp'."
    rules = [{"kind": "word_count", "relation": "at_least", "number": 60}, CONSTRAINTS[1]]
    opening = (  # 32 words
        "The lamp burns on the rock tonight. Its keeper climbs the stair one final time, counting "
        "steps worn smooth by boots of men long gone, and the glass turns above the harbour."
    )
    more = (  # 34 words
        "We keep the light for every ship at sea, for fishermen out past midnight, for ferries crossing "
        "in fog, and for those who never came home. Tomorrow machines will watch, but tonight we remain."
    )
    model, sink = continued_speech(skill, request, rules, opening, more)
    [pair] = sink.pairs
    assert pair.messages[-1]["content"] == f"{opening}\n\n{more}"
    [asked] = [r for r in model.requests if r.tag.endswith("/continue")]
    assert "has 32 words, and the request asks for at least 60" in asked.messages[-1]["content"]

    # a task that also fixes another count is left to the checks: more paragraphs could break it
    fixed = [*rules, {"kind": "paragraph_count", "relation": "exactly", "number": 1}]
    model, sink = continued_speech(skill, request, fixed, opening, more)
    assert not [r for r in model.requests if r.tag.endswith("/continue")]
    assert [r.reason for r in sink.rejections] == ["verification_failed:constraints"]


def test_a_piece_short_of_its_sentence_minimum_is_continued_too(skill) -> None:
    """The local teacher wrote 5 sentences of an advertisement asked for at least 6 (run s12b)."""
    request = (
        "Write a speech for the lighthouse's last night, at least 6 sentences, starting with 'The lamp'."
    )
    rules = [{"kind": "sentence_count", "relation": "at_least", "number": 6}, CONSTRAINTS[1]]
    opening = "The lamp burns on. " + " ".join(["We keep the light."] * 4)  # 5 sentences
    more = "Every ship comes home. The sea is calm."
    model, sink = continued_speech(skill, request, rules, opening, more)
    [pair] = sink.pairs
    assert pair.messages[-1]["content"] == f"{opening}\n\n{more}"
    [asked] = [r for r in model.requests if r.tag.endswith("/continue")]
    prompt = asked.messages[-1]["content"]
    assert "has 5 sentences, and the request asks for at least 6 sentences" in prompt
    assert "write about 2 more sentences" in prompt


def speech_answered_again(skill, suffix: str, first: str, second: str):
    """A speech whose teacher answers `first`, and `second` when asked again under a tag ending `suffix`;
    the pair must end on `second`."""
    request = "Write a speech for the lighthouse's last night, starting with 'The lamp'."
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["speech"]]})
    model = scripted(
        single,
        {"instruction": request, "constraints": [CONSTRAINTS[1]]},
        lambda request_: second if request_.tag.endswith(suffix) else first,
    )
    [pair] = run(single, model, refinement_rounds=0).pairs
    assert pair.messages[-1]["content"] == second
    return pair, model


def test_a_piece_that_goes_round_in_circles_is_written_again_with_repeats_discouraged(skill) -> None:
    """s18's poem sang one pair of stanzas six times (62% of its 4-grams repeated) and was rejected."""
    request = "Write a speech for the lighthouse's last night, starting with 'The lamp'."
    stanza = "The lamp burns low and the keepers climb,\nthe council sits, ready to discuss the light.\n\n"
    looping = stanza * 6
    fresh = (
        "The lamp burns on the rock tonight. Its keeper climbs the stair one final time, counting "
        "steps worn smooth by boots of men long gone, and the glass turns above the harbour."
    )
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["speech"]]})
    pair, model = speech_answered_again(skill, "/unlooped", looping, fresh)
    [again] = [r for r in model.requests if r.tag.endswith("/unlooped")]
    assert again.discourage_repeats and looping not in str(again.messages)  # afresh: the loop is not shown
    assert len(pair.lineage.call_ids) == len(model.requests)  # the looping answer's call is in it too

    # an answer that repeats within bounds is kept as it is
    model = scripted(single, {"instruction": request, "constraints": [CONSTRAINTS[1]]}, lambda _: fresh)
    run(single, model, refinement_rounds=0)
    assert not [r for r in model.requests if r.tag.endswith("/unlooped")]


def test_a_poem_written_as_prose_paragraphs_is_not_in_verse() -> None:
    """s31: a "poem" of four prose paragraphs passed its word and paragraph constraints."""
    from agentinstruct.quality.forms import in_verse

    prose = "\n\n".join(
        [
            "Mill Lane, a vibrant green corner in the heart of Fenwick, is a place where families grow food "
            "and where the council, after two hours of debate, leased the lot for one pound a year."
        ]
        * 4
    )
    result = in_verse(
        Candidate("creative_content", "poem", SEED, REQUEST, f"Title: Mill Lane\n\n{prose}", False)
    )
    assert not result.ok and "only 0 of its 4 lines are" in result.detail
    song = "Verse 1:\nThe lamp burns low\nsix wicks trimmed\n\nChorus:\nLight the sea\nlight the reef"
    assert in_verse(Candidate("creative_content", "song_lyrics", SEED, REQUEST, song, False)).ok
    # s32: two short sentences a line (15 to 19 words) are still verse
    lines = [
        "Aardvark, we need to go to the garden, to get our allotment. Aardvark, you know the rules.",
        "Aardvark, let's take a look, to see if we're qualified. Aardvark, our soil is good, why wait?",
        "Aardvark, aardvark, why are you waiting? Aardvark, aardvark, we need your help!",
        "Aardvark, let's use the funds we've saved, to improve our garden. Aardvark, we need you!",
    ]
    assert in_verse(Candidate("creative_content", "song_lyrics", SEED, REQUEST, "\n".join(lines), False)).ok
    assert in_verse(Candidate("creative_content", "story", SEED, REQUEST, prose, False)) is None


def test_an_answer_cut_mid_sentence_is_written_again_with_another_seed(skill) -> None:
    """s32: an answer closed its JSON string at "...often referred to as a" and the truncation filter
    rejected the pair; one fresh answer (another sampling seed) is asked for first."""
    cut = "The lamp burns on the rock tonight, and its keeper climbs the stair to a"
    whole = "The lamp burns on the rock tonight. Its keeper climbs the stair one final time."
    _, model = speech_answered_again(skill, "/whole", cut, whole)
    [first] = [r for r in model.requests if r.tag.endswith("/teacher/speech")]
    [again] = [r for r in model.requests if r.tag.endswith("/whole")]
    assert again.seed == first.seed + 1 and not again.discourage_repeats
    assert cut not in str(again.messages)
