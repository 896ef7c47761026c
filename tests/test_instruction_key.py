"""The instruction agent's JSON key is named by the skill (question, puzzle, user_request) so that a small
model writes its task there instead of copying its own instructions; copies are still caught and re-asked,
including near copies and copies of a template's quoted example."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from agentinstruct.flows import FlowSettings, SkillFlow
from agentinstruct.models import ModelRequest, ScriptedModel
from agentinstruct.reply_problems import copied_scaffold, without_scaffold
from agentinstruct.skills import SkillError, load_skill_file, load_skills
from test_flows import PASSAGE, ListSink, make_seed, rc_reply

pytestmark = pytest.mark.timeout(60)


def test_every_bundled_skill_but_tool_use_names_its_task_key():
    keys = {name: skill.instruction_key for name, skill in load_skills().items()}
    assert keys["multiple_choice"] == "question" and keys["brain_teaser"] == "puzzle"
    assert [name for name, key in keys.items() if key == "instruction"] == ["tool_use"]  # its own output


def test_the_request_schema_asks_for_the_key_and_the_flow_reads_it_as_the_instruction():
    def reply(request: ModelRequest):
        if "/instruct/" in request.tag:
            properties = list(request.json_schema["schema"]["properties"])
            assert properties[0] == "question" and "instruction" not in properties
            assert '- "question": the question or task about the passage' in request.messages[-1]["content"]
            return {"question": "Who lit the lamp?", "suitable": True, "reason": ""}
        return rc_reply(request)

    skill = load_skills()["reading_comprehension"]
    sink = ListSink()
    asyncio.run(
        SkillFlow(skill, ScriptedModel(reply), sink, FlowSettings(refinement_rounds=0)).run_seed(make_seed())
    )
    assert sink.pairs and all(p.lineage.seed_instruction.text == "Who lit the lamp?" for p in sink.pairs)
    # a reply under the generic name is accepted too
    sink = ListSink()
    asyncio.run(
        SkillFlow(skill, ScriptedModel(rc_reply), sink, FlowSettings(refinement_rounds=0)).run_seed(
            make_seed()
        )
    )
    assert sink.pairs


class Question(BaseModel):
    question: str


PROMPT = (
    "Write one brain teaser for an AI assistant to solve, using the notes below as its material.\n"
    'Ask about one fact, answerable without the text ("Which gas makes up most of the atmosphere?").\n'
    "Notes:\nThe lighthouse keepers of Alder Creek lit the lamp every night for ninety years."
)
MATERIAL = {"content": "The lighthouse keepers of Alder Creek lit the lamp every night for ninety years."}


@pytest.mark.parametrize(
    "copy",
    [
        "Write one brain teaser for an AI assistant to solve, using the notes below as its material.",
        "Write a brain teaser for an AI assistant to solve, using the notes below as its material.",
        "Which gas makes up most of the atmosphere? A) Oxygen B) Nitrogen",
    ],
)
def test_copies_and_near_copies_of_the_prompt_are_caught(copy):
    error = copied_scaffold(Question(question=copy), PROMPT, MATERIAL)
    assert error.startswith("the field 'question' copies my request")


@pytest.mark.parametrize(
    "own",
    [
        "Keepers lit a lamp for ninety years, one night at a time. How many nights is that, roughly?",
        "The lighthouse keepers of Alder Creek lit the lamp every night for ninety years. Why stop?",
    ],
)
def test_own_work_and_quoted_material_pass(own):
    assert copied_scaffold(Question(question=own), PROMPT, MATERIAL) == ""


def test_a_malformed_instruction_key_names_the_field(tmp_path):
    source = load_skills()["open_domain_qa"].directory / "open_domain_qa.yaml"
    text = source.read_text().replace("instruction_key: question", "instruction_key: The Question")
    bad = tmp_path / "open_domain_qa.yaml"
    bad.write_text(text)
    with pytest.raises(SkillError, match="instruction_key"):
        load_skill_file(bad)


@pytest.mark.parametrize(
    ("second", "pairs", "reason"),
    [
        ({"question": "Who lit the lamp?", "suitable": True, "reason": ""}, 1, None),
        ({"question": "-", "suitable": False, "reason": "still nothing to ask"}, 0, "still nothing to ask"),
        ("no JSON at all", 0, "no story in it"),  # an unusable second reply: the first decline stands
    ],
)
def test_a_declining_instruction_agent_reconsiders_once(second, pairs, reason):
    def reply(request: ModelRequest):
        if "/instruct/" in request.tag:
            if len(request.messages) == 2:
                return {"question": "-", "suitable": False, "reason": "no story in it"}
            assert 'You said the material is not suitable: "no story in it"' in request.messages[3]["content"]
            return second
        return rc_reply(request)

    skill = load_skills()["reading_comprehension"]
    sink, model = ListSink(), ScriptedModel(reply)
    settings = FlowSettings(refinement_rounds=0, instructions_per_seed=1)
    asyncio.run(SkillFlow(skill, model, sink, settings).run_seed(make_seed()))
    assert len(sink.pairs) == pairs
    instruct_calls = [r for r in model.requests if "/instruct/" in r.tag]
    assert len(instruct_calls) in (2, 4)  # the decline, its reconsideration (re-asked twice if unusable)
    if reason is not None:
        [rejection] = sink.rejections
        assert rejection.reason == "not_suitable:seed_instruction" and reason in rejection.detail


@pytest.mark.parametrize(
    ("first", "error"),
    [
        ({"classification_task": "topic", "labels": "Politics, Business"}, "'topic' is not a whole task"),
        (
            {
                "question": "Why do pale roofs cool a street?",
                "options": "sunlight or rain",
                "answer_key": "B",
            },
            "names option letters, but the reply lists no options",
        ),
    ],
)
def test_a_fragment_or_a_letter_key_without_options_is_sent_back_before_the_teacher(first, error):
    skill_name = "text_classification" if "labels" in first else "multiple_choice"
    fixed = {
        "text_classification": {
            "classification_task": "Classify the text above by topic: Politics or Business?",
            "labels": "Politics, Business",
        },
        "multiple_choice": {
            "question": "Why do pale roofs cool a street?",
            "options": "A) They reflect sunlight\nB) They are wet\nC) They are cold",
            "answer_key": "A",
        },
    }[skill_name]

    def reply(request: ModelRequest):
        if "/instruct/" in request.tag:
            if len(request.messages) == 2:
                return {**first, "suitable": True, "reason": ""}
            assert error in request.messages[-1]["content"]
            return {**fixed, "suitable": True, "reason": ""}
        if "/transform/" in request.tag:
            return {
                "content": "Pale roofs reflect sunlight. Councils debate budgets.",
                "suitable": True,
                "reason": "",
            }
        return "They reflect sunlight.\nAnswer: A" if skill_name == "multiple_choice" else "Label: Politics"

    skill = load_skills()[skill_name]
    plain = [t for t in skill.instruction_types if not t.task_must_contain_any]  # no wording asked for
    skill = skill.model_copy(update={"instruction_types": plain})
    sink, model = ListSink(), ScriptedModel(reply)
    settings = FlowSettings(refinement_rounds=0, instructions_per_seed=1)
    asyncio.run(SkillFlow(skill, model, sink, settings).run_seed(make_seed()))
    teacher_tasks = [r.messages[-1]["content"] for r in model.requests if "/teacher/" in r.tag]
    assert teacher_tasks and all(fixed[skill.instruction_key] in task for task in teacher_tasks)
    assert all("C) They are cold" in task for task in teacher_tasks if skill_name == "multiple_choice")
    assert len([r for r in model.requests if "/instruct/" in r.tag]) == 2


def test_a_reply_repeated_word_for_word_after_the_error_gets_one_fresh_start():
    bare = {"question": "Why do pale roofs cool a street?", "options": "sunlight or rain", "answer_key": "B"}
    bare |= {"suitable": True, "reason": ""}
    good = {**bare, "options": "A) They are wet\nB) They reflect sunlight\nC) They are cold"}

    def reply(request: ModelRequest):
        if "/transform/" in request.tag:
            return {"content": "Pale roofs reflect sunlight.", "suitable": True, "reason": ""}
        if "/instruct/" in request.tag:
            task = request.messages[-1]["content"]
            if len(request.messages) == 2 and "an earlier reply to this request could not be used" in task:
                assert "lists no options" in task and request.seed is not None
                return good
            return bare  # the first reply, and the same again after the error in the conversation
        return "Pale surfaces reflect it.\nAnswer: B"

    model, sink = ScriptedModel(reply), ListSink()
    skill = load_skills()["multiple_choice"]
    plain = [t for t in skill.instruction_types if not t.task_must_contain_any]  # no wording asked for
    skill = skill.model_copy(update={"instruction_types": plain})
    settings = FlowSettings(refinement_rounds=0, instructions_per_seed=1)
    asyncio.run(SkillFlow(skill, model, sink, settings).run_seed(make_seed()))
    instructs = [r for r in model.requests if "/instruct/" in r.tag]
    assert [len(r.messages) for r in instructs] == [2, 4, 2]
    assert instructs[2].seed == instructs[0].seed + 1  # a different sample, not the same one again
    assert len(sink.pairs) == 1 and "B) They reflect sunlight" in sink.pairs[0].messages[1]["content"]


def test_a_second_unusable_reply_of_another_kind_gets_one_fresh_start_too():
    # the local instruction agents copied one prompt line, then another, when shown their first copy (run
    # s12a: 4 of 12 rejections); two replies in the conversation invite a third
    bare = {"question": "Why do pale roofs cool a street?", "options": "sunlight or rain", "answer_key": "B"}
    bare |= {"suitable": True, "reason": ""}
    other = {**bare, "options": "wet or dry"}
    good = {**bare, "options": "A) They are wet\nB) They reflect sunlight\nC) They are cold"}

    def reply(request: ModelRequest):
        if "/transform/" in request.tag:
            return {"content": "Pale roofs reflect sunlight.", "suitable": True, "reason": ""}
        if "/instruct/" in request.tag:
            if len(request.messages) == 4:
                return other
            noted = "an earlier reply to this request could not be used" in request.messages[-1]["content"]
            return good if noted else bare
        return "Pale surfaces reflect it.\nAnswer: B"

    model, sink = ScriptedModel(reply), ListSink()
    skill = load_skills()["multiple_choice"]
    plain = [t for t in skill.instruction_types if not t.task_must_contain_any]
    skill = skill.model_copy(update={"instruction_types": plain})
    settings = FlowSettings(refinement_rounds=0, instructions_per_seed=1)
    asyncio.run(SkillFlow(skill, model, sink, settings).run_seed(make_seed()))
    instructs = [r for r in model.requests if "/instruct/" in r.tag]
    assert [len(r.messages) for r in instructs] == [2, 4, 2]
    assert "wet or dry" not in instructs[2].messages[-1]["content"]  # neither earlier reply is shown
    assert len(sink.pairs) == 1


def test_appended_fields_must_be_instruction_fields(tmp_path):
    source = load_skills()["multiple_choice"].directory / "multiple_choice.yaml"
    bad = tmp_path / "multiple_choice.yaml"
    bad.write_text(source.read_text().replace("appended_fields: [options]", "appended_fields: [choices]"))
    with pytest.raises(SkillError, match=r"appended_fields: \['choices'\] are not instruction_fields"):
        load_skill_file(bad)


def test_a_prompt_line_an_earlier_reply_copied_is_still_not_the_agents_own_words():
    """Run s11b: the local instruction agent copied its prompt's first line into two replies, and a third
    copy was taken because the earlier replies counted as material on the reconsidering turn."""

    def reply(request: ModelRequest):
        if "/instruct/" not in request.tag:
            return rc_reply(request)
        first_line = request.messages[1]["content"].splitlines()[0]
        copied = f"{first_line} Who?"  # too little of its own to keep without the copy
        if len(request.messages) == 2 and "could not be used" not in request.messages[1]["content"]:
            return {"question": copied, "suitable": False, "reason": "no story in it"}
        return {"question": copied, "suitable": True, "reason": ""}

    skill = load_skills()["reading_comprehension"]
    sink, model = ListSink(), ScriptedModel(reply)
    settings = FlowSettings(refinement_rounds=0, instructions_per_seed=1)
    asyncio.run(SkillFlow(skill, model, sink, settings).run_seed(make_seed()))
    assert not sink.pairs  # every copy was sent back, so the first decline stands
    [rejection] = sink.rejections
    assert rejection.reason == "not_suitable:seed_instruction"
    assert len([r for r in model.requests if "/instruct/" in r.tag]) == 4


OWN = "Rewrite the second sentence in the past perfect."
REQUEST_PROMPT = (
    "Write a request that a user sends to an AI assistant right after the text above, asking it to change "
    "that text.\nKeep it small: at most about ten properties in all.\n"
    "Text:\nThe lighthouse keepers of Alder Creek lit the lamp every night for ninety years."
)


@pytest.mark.parametrize(
    "copied",
    [
        # a line of the prompt after the request of its own, on its own line and on the request's line
        f"{OWN}\nKeep it small: at most about ten properties in all.",
        f"{OWN} Keep it small: at most about ten properties in all.",
        # the request line before it, and a near copy of it
        "Write a request that a user sends to an AI assistant right after the text above, asking it to "
        f"change that text.\n\n{OWN}",
        "- Write a request a user sends to an AI assistant right after the text above, asking it to change "
        f"that text\n{OWN}",
    ],
)
def test_copied_prompt_lines_are_taken_out_of_a_request_of_its_own(copied):
    reply = {"user_request": copied, "suitable": True, "reason": "-"}
    mended = without_scaffold(reply, REQUEST_PROMPT, MATERIAL)
    assert mended == {**reply, "user_request": OWN}


@pytest.mark.parametrize(
    "copied",
    [
        "Keep it small: at most about ten properties in all.",  # nothing of its own
        "Keep it small: at most about ten properties in all. Why?",  # too little of its own
        # a near copy holding words of its own on the same line cannot be taken apart
        "Write a request a user sends to an AI assistant right after the text above, asking it to change "
        "that text, namely to rewrite the keepers' sentence in the past perfect tense for a school reader",
    ],
)
def test_a_reply_with_too_little_of_its_own_is_not_mended(copied):
    reply = {"user_request": copied, "suitable": True, "reason": "-"}
    assert without_scaffold(reply, REQUEST_PROMPT, MATERIAL) is None


def test_a_copy_of_the_whole_prompt_or_of_a_wrapped_paragraph_is_not_mended():
    # the local creative agent copied its whole prompt, material included, as its request (run s13): taken
    # line by line, what was left was the material and fragments of lines wrapped otherwise in the prompt
    prompt = (
        f"{REQUEST_PROMPT}\nName the blog's theme, the writer's persona and the angle (a lesson learned, a\n"
        "how-I, a top-five list). Good constraints: a word range, a paragraph count, required keywords."
    )
    whole = {"user_request": prompt, "suitable": True}
    assert without_scaffold(whole, prompt, MATERIAL) is None
    material_left = {"user_request": f"{REQUEST_PROMPT.splitlines()[0]}\n{MATERIAL['content']}"}
    assert without_scaffold(material_left, prompt, MATERIAL) is None
    joined = " ".join(prompt.splitlines()[-2:])
    assert without_scaffold({"user_request": f"{OWN}\n{joined}"}, prompt, MATERIAL) is None


def test_a_reply_without_copies_is_not_mended():
    own = {"user_request": "Rewrite the keepers' sentence in the past perfect.", "suitable": True}
    assert without_scaffold(own, REQUEST_PROMPT, MATERIAL) is None


def test_the_agent_keeps_the_request_of_its_own_without_asking_again():
    # the local instruction agents wrote a request and then copied a prompt line (6 of 26 rejections in run
    # s12a): the request is used without the copy, and no call is spent re-asking
    def reply(request: ModelRequest):
        if "/instruct/" in request.tag:
            prompt_line = request.messages[-1]["content"].split("Rules for the request:")[0].splitlines()[-3]
            task = f"Rewrite the lighthouse paragraph in the future tense.\n{prompt_line}"
            return {"user_request": task, "constraints": [], "suitable": True, "reason": ""}
        if "/teacher/" in request.tag:  # the passage, as its rewrite (kept_text wants all of it)
            return PASSAGE
        return {"suitable": True, "reason": ""}

    skill = load_skills()["text_modification"]
    model, sink = ScriptedModel(reply), ListSink()
    settings = FlowSettings(refinement_rounds=0, instructions_per_seed=1)
    asyncio.run(SkillFlow(skill, model, sink, settings).run_seed(make_seed()))
    instructs = [r for r in model.requests if "/instruct/" in r.tag]
    assert len(instructs) == 1
    assert [p.lineage.seed_instruction.text for p in sink.pairs] == [
        "Rewrite the lighthouse paragraph in the future tense."
    ]


def test_a_reworded_type_intent_is_a_copy():
    # the local stance agent's task was its type's intent, reworded (run s13): 10 of its 14 word pairs
    prompt = (
        "Write one text-classification task about the text below.\n"
        "Task type: stance — Classify the text's position towards a named target (a claim, policy, product "
        "or person).\nText:\nThe council will review the lease after three years."
    )
    reworded = "Classify the text's stance towards the named target (a claim, policy, product or person)."
    error = copied_scaffold(
        Question(question=reworded), prompt, {"content": "The council will review the lease."}
    )
    assert error.startswith("the field 'question' copies my request")
    own = "Classify the text above by its stance towards the lease review: favor, against or neutral."
    assert (
        copied_scaffold(Question(question=own), prompt, {"content": "The council will review the lease."})
        == ""
    )


def test_a_numbered_prompt_line_copied_without_its_number_is_a_copy():
    # the local coding teacher ended an answer with its prompt's third format line, number left off (s14)
    prompt = (
        "Answer with:\n1. A short explanation of your approach.\n"
        "3. One ```python block of tests: plain assert statements that call the solution.\n"
        "Task:\nWrite median(xs)."
    )
    copied = "One ```python block of tests: plain assert statements that call the solution."
    answer = f"Median sorts the list.\n\n{copied}"
    assert "copies my request" in copied_scaffold(answer, prompt, {"content": "Write median(xs)."})
    assert (
        copied_scaffold("Median sorts the list.\n\n```python\nassert median([3, 1, 2]) == 2\n```", prompt, {})
        == ""
    )


def test_a_sentence_that_is_a_fragment_of_a_prompt_line_is_a_copy_and_taken_off():
    # run s14: a classification task ended with 13 of its 14 word pairs from one line of its prompt
    prompt = (
        "Write a classification task.\nA finished task is one or two sentences: what to classify in the text "
        "above, the allowed labels, how many to choose, and a request for a short reason.\n"
    )
    material = {"content": "The explainer."}
    reply = (
        "What is the main purpose of the entire text? Provide the allowed labels, how many to choose, and a "
        "request for a short reason."
    )
    assert "copies my request" in copied_scaffold(Question(question=reply), prompt, material)
    mended = without_scaffold({"question": reply}, prompt, material)
    assert mended == {"question": "What is the main purpose of the entire text?"}
    own = "Classify the text above as inform, persuade or request: choose one label and give a short reason."
    assert copied_scaffold(Question(question=own), prompt, material) == ""


def test_a_task_that_asks_for_a_request_is_not_one():
    from agentinstruct.reply_problems import task_problem

    # run s14: a creative task began with the instruction agent's own job
    task = (
        "Write a creative-writing request inspired by the text provided, where the speakers are two adults."
    )
    assert "asks for a request" in task_problem(task, "")
    assert "asks for a request" in task_problem("Draft a request that a user sends about the lease.", "")
    # a letter that makes a request is a task of its own
    assert task_problem("Write a formal request to the council asking it to keep the garden.", "") == ""


def test_a_task_that_speaks_of_the_pipeline_is_sent_back():
    from agentinstruct.reply_problems import task_problem

    # run s16 probe: a screenplay request was to focus "on one agent in a pipeline that writes high-quality
    # training data for language models", the agents' own system prompt
    task = (
        "Write a screenplay scene inspired by the given text, focusing on one agent in a pipeline that "
        "writes high-quality training data for language models."
    )
    assert "speaks of the pipeline" in task_problem(task, "")
    assert task_problem("Write a screenplay scene about the council's vote on the Mill Lane lease.", "") == ""
    assert task_problem("Explain how a data pipeline for the council's budget could work.", "") == ""


@pytest.mark.parametrize(
    ("task", "sent_back"),
    [
        # run s16: a reading-comprehension task was the stem alone, and the teacher invented its own list
        ("Which of the following questions would be most useful in evaluating the argument?", True),
        ("Select the best title from the options below.", True),
        ("Which of the following is true?\nA) The lease is free\nB) The list is long\nC) Both", False),
        ("Which of the following claims does the debate support? A) x B) y C) z", False),
        ("Which of the following speakers agrees with the motion?\n- Ann\n- Bo", False),
        ("Which one of the following came first: the vote, the lease or the petition?", False),
        ("Summarize the following passage in two sentences.", False),
    ],
)
def test_a_question_that_chooses_among_the_following_must_list_them(task: str, sent_back: bool) -> None:
    from agentinstruct.reply_problems import task_problem

    assert ("lists no choices" in task_problem(task, "")) == sent_back


FERMI_PROMPT = (
    'Scenario:\n"""\nA community garden on Mill Lane in Fenwick was leased for five years.\n"""\n'
    "Kind of question: population estimate — Estimate how many people, animals or organisations of some kind "
    "there are somewhere.\nAsk how many of a specific kind of person, animal or organisation that the "
    "scenario "
    "is about exist\nin the place or group it names (the households in its town that grow their own "
    "vegetables, the\nvolunteers its project needs each week), the kind of count that no one looks up."
)
FERMI_MATERIAL = {"content": "A community garden on Mill Lane in Fenwick was leased for five years."}


def test_a_field_pieced_together_from_the_prompts_phrases_is_sent_back() -> None:
    # run s18: no prompt line copied whole, 23 of 26 word pairs from the intent and the guidance's examples
    stitched = (
        "How many people, animals or organisations of some kind (households in its town that grow their own "
        "vegetables, volunteers its project needs each week) exist in Fenwick?"
    )
    error = copied_scaffold(Question(question=stitched), FERMI_PROMPT, FERMI_MATERIAL)
    assert error.startswith("the field 'question' is pieced together from my request's own phrases")
    own = "How many households in Fenwick grow some of their own vegetables? Show your assumptions."
    assert copied_scaffold(Question(question=own), FERMI_PROMPT, FERMI_MATERIAL) == ""
    # the seed's own words are the material's, not the request's
    seeded = "A community garden on Mill Lane in Fenwick was leased for five years: how many visit it a week?"
    assert copied_scaffold(Question(question=seeded), FERMI_PROMPT, FERMI_MATERIAL) == ""


def test_no_guidance_asks_for_a_quoted_phrase_the_copy_check_would_flag():
    """A quoted phrase of 30 characters or more is the prompt's own example to the copy check, so a guidance
    that says to write one sends every obedient task back (s30: multi_label's "choose all labels that apply,
    at least one", three times in a row)."""
    import re

    from agentinstruct.reply_problems import QUOTED_EXAMPLE

    asked = re.compile(r"\b(?:say|write|include|use|state)\s+$", re.IGNORECASE)
    for skill in load_skills().values():
        for itype in skill.instruction_types:
            for found in QUOTED_EXAMPLE.finditer(itype.guidance):
                before = itype.guidance[: found.start()]
                assert not asked.search(before), (skill.name, itype.name, found.group(1))


def test_every_fallback_task_is_a_task_about_the_material_the_user_shows():
    """A fallback task stands in for an agent's copied one (`InstructionType.fallback_task`): it must
    speak of the material the user turn shows above it and obey its type's phrase rule."""
    from agentinstruct.flows.outputs import contains_phrase, user_turn_shows_material

    with_fallback = 0
    for skill in load_skills().values():
        for itype in skill.instruction_types:
            if not itype.fallback_task:
                continue
            with_fallback += 1
            assert user_turn_shows_material(skill), skill.name
            assert " above" in itype.fallback_task, (skill.name, itype.name)
            phrases = itype.task_must_contain_any
            assert not phrases or any(contains_phrase(itype.fallback_task, p) for p in phrases), itype.name
    assert with_fallback == 25


def test_a_task_sent_alone_that_speaks_of_code_it_does_not_show_is_sent_back():
    """s31: "Implement the `reorder_quantity` function as described in the given code." with code "-"."""
    from types import SimpleNamespace

    from agentinstruct.flows.outputs import check_no_unseen_material

    task = "Implement the `reorder_quantity` function as described in the given code."
    with pytest.raises(ValueError, match='the task says "the given code", but shows no code'):
        check_no_unseen_material(SimpleNamespace(instruction=task, code="-"))
    check_no_unseen_material(SimpleNamespace(instruction=task, code="def reorder_quantity(items): ..."))
    check_no_unseen_material(SimpleNamespace(instruction=f"{task}\n```python\ndef f(): ...\n```"))
    check_no_unseen_material(SimpleNamespace(instruction="Write a function that sorts products by quantity."))
