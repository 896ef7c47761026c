"""A text_modification task may not ask for far more text than it rewrites (flows.outputs length floors)."""

from __future__ import annotations

import asyncio

import pytest

from agentinstruct.flows import FlowSettings, SkillFlow
from agentinstruct.flows.outputs import length_growth
from agentinstruct.models import ScriptedModel
from agentinstruct.skills import load_skills
from test_flows import ListSink

# 70 words, 5 sentences, 2 paragraphs
TEXT = (
    "Two trends push in the same direction. Cities are adding people, and new housing often replaces "
    "gardens and yards with paving. At the same time, heatwaves are becoming longer and more frequent.\n\n"
    "Marrowby's health department counted 312 heat-related emergency visits in 2018 and 545 in 2022, even "
    "though the city's population grew by only 6 percent over those four years. Most visits came from "
    "the districts with the least shade."
)


@pytest.fixture(scope="module")
def flow() -> SkillFlow:
    return SkillFlow(
        load_skills()["text_modification"], ScriptedModel(lambda r: "ok"), ListSink(), FlowSettings()
    )


def reply(request: str, *constraints: dict) -> dict:
    return {"suitable": True, "reason": "", "user_request": request, "constraints": list(constraints)}


def words(relation: str, number: int) -> dict:
    return {"kind": "word_count", "relation": relation, "number": number}


def test_growth_per_type_and_for_the_editor() -> None:
    skills = load_skills()
    skill = skills["text_modification"]
    types = {t.name: t for t in skill.instruction_types}
    assert length_growth(skill, types["paraphrasing"]) == 1.5
    assert length_growth(skill, types["text_expansion"]) == 3.0
    assert length_growth(skill) == 3.0  # the editor edits every type
    # no limit where the user turn does not show the material (creative writing inspired by a text)
    assert length_growth(skills["creative_content"]) == 0.0


def test_a_word_floor_far_beyond_the_text_is_sent_back(flow: SkillFlow) -> None:
    # the local model asked for "at least 600 words" of a 147-word paraphrase (run s12b)
    output = flow.instructors["paraphrasing"].output
    with pytest.raises(ValueError, match=r"has 70 word\(s\).*at most about 105"):
        output.model_validate(
            reply("Paraphrase the text above in at least 600 words.", words("at_least", 600)),
            context={"content": TEXT},
        )
    for fair in (words("at_least", 100), words("at_most", 600)):
        assert output.model_validate(reply("Paraphrase the text above.", fair), context={"content": TEXT})


def test_a_floor_only_the_constraints_ask_for_is_dropped_with_its_sentence(flow: SkillFlow) -> None:
    # sent back, local agents declined such tasks instead (s13: "The text contains 68 words, which is less
    # than the required 102"); the request's own words do not ask for the number, so code drops it
    output = flow.instructors["paraphrasing"].output
    bullets = {"kind": "bullet_list", "text": "-", "number": 0}
    mended = output.model_validate(
        reply("Paraphrase the text above as a list.", words("at_least", 600), bullets),
        context={"content": TEXT},
    )
    [kept] = mended.constraints
    assert kept.kind == "bullet_list" and "600" not in mended.instruction
    # "as a list" states the bullet list already, so only the word floor's sentence was there to drop
    assert mended.instruction == "Paraphrase the text above as a list."
    # a limit within reach stays, beside the floor dropped
    sentences_at_most = {"kind": "sentence_count", "relation": "at_most", "number": 4}
    mended = output.model_validate(
        reply("Paraphrase the text above.", words("at_least", 600), sentences_at_most),
        context={"content": TEXT},
    )
    assert [(c.kind, c.number) for c in mended.constraints] == [("sentence_count", 4)]
    assert mended.instruction == "Paraphrase the text above.\n\nThe answer must contain at most 4 sentences."


def test_an_expansion_may_ask_for_more(flow: SkillFlow) -> None:
    output = flow.instructors["text_expansion"].output
    assert output.model_validate(
        reply("Expand the text above.", words("at_least", 200)), context={"content": TEXT}
    )
    with pytest.raises(ValueError, match="at most about 210"):
        output.model_validate(
            reply("Expand the text above to at least 220 words.", words("at_least", 220)),
            context={"content": TEXT},
        )


def test_sentence_and_paragraph_floors_allow_splitting(flow: SkillFlow) -> None:
    # 5 sentences may become 15 (1.5 times, twice over for splits); 2 paragraphs may become 6
    output = flow.instructors["text_styling"].output
    ok = {"kind": "sentence_count", "relation": "at_least", "number": 15}
    assert output.model_validate(reply("Restyle the text above.", ok), context={"content": TEXT})
    for kind, number in (("sentence_count", 16), ("paragraph_count", 7)):
        floor = {"kind": kind, "relation": "exactly", "number": number}
        with pytest.raises(ValueError, match=f"remove the {kind.removesuffix('_count')} count"):
            request = f"Restyle the text above in exactly {number} {kind.removesuffix('_count')}s."
            output.model_validate(reply(request, floor), context={"content": TEXT})


def test_the_editor_measures_the_text_it_sends(flow: SkillFlow) -> None:
    output = flow.editor.output
    edit = {
        "suitable": True,
        "reason": "",
        "user_request": "Expand the text above to at least 50 words.",
        "content": "Short text here.",
    }
    with pytest.raises(ValueError, match="has 3 word"):
        output.model_validate({**edit, "constraints": [words("at_least", 50)]}, context={"content": TEXT})
    assert output.model_validate({**edit, "content": TEXT, "constraints": [words("at_least", 50)]})


def ask(flow: SkillFlow, *replies: dict) -> tuple[object, ScriptedModel]:
    """The paraphrasing instruction agent run on TEXT, the scripted model giving `replies` in turn (then
    the last one again)."""
    given = iter(replies)
    model = ScriptedModel(lambda request: next(given, replies[-1]))
    itype = flow.skill.types_by_name["paraphrasing"]
    variables = {"content": TEXT, "transformation": None, "instruction_type": itype, "skill": flow.skill}
    agent = flow.instructors["paraphrasing"]
    return asyncio.run(agent.run(model, variables, tag="text_modification/instruct/paraphrasing")), model


def test_a_decline_that_comes_with_the_fix_asked_for_is_the_fixed_task(flow: SkillFlow) -> None:
    # s13: told to lower its floor, the local agent lowered it and declined in the same reply
    prose = reply("Paraphrase the text above in at least 600 words.", words("at_least", 600))
    fixed = reply("Paraphrase the text above in at least 80 words.", words("at_least", 80))
    declined = {**fixed, "suitable": False, "reason": "The text has 70 words, less than the required 600."}
    result, model = ask(flow, prose, declined)
    assert result.ok and result.output.instruction == "Paraphrase the text above in at least 80 words."
    assert len(model.requests) == 2 and "lower the number" in model.requests[1].messages[-1]["content"]
    # a decline whose fields still break a rule, or that follows no task of the agent's, stands
    result, _ = ask(flow, prose, {**declined, **{k: prose[k] for k in ("user_request", "constraints")}})
    assert result.status == "not_suitable"
    first = {"suitable": False, "reason": "The text is a list of figures, nothing to paraphrase."}
    result, _ = ask(flow, first)
    assert result.status == "not_suitable" and "list of figures" in result.reason
