"""The conversation skill (SPEC §2 row 16): taxonomy, templates (the user simulator's included), and the
`conversation` flow with a scripted model: 3–6 user turns alternating with the teacher's, the simulator's
messages as user turns, refinement reaching the simulated user's goal, and too-short talks rejected."""

from __future__ import annotations

import asyncio
import json
import re
from types import SimpleNamespace

import jinja2
import pytest

from agentinstruct.flows import FlowSettings, flow_class
from agentinstruct.flows.conversation import (
    MAX_USER_TURNS,
    MIN_USER_TURNS,
    ConversationFlow,
    UserTurnOutput,
    closing_turn,
)
from agentinstruct.models import ModelError, ModelRequest, ScriptedModel
from agentinstruct.pairs import Pair
from agentinstruct.skills import BUNDLED_DIR, Skill, load_skill_file, load_skills
from skill_templates import render as render_strictly
from skill_templates import strict_environment
from test_flows import PASSAGE, ListSink, make_seed

pytestmark = pytest.mark.timeout(120)

SKILL_FILE = BUNDLED_DIR / "conversation.yaml"
TYPES = [
    "follow_up_questions",
    "clarification",
    "topic_shift",
    "socratic_tutoring",
    "role_play",
    "misconception_correction",
    "debate_with_user",
]
GOALS = ["add_turns", "make_user_less_cooperative"]
GOAL = "You are a history student who thinks the keepers were volunteers; you push back once."
TRANSCRIPT = "USER: What did the keepers do?\n\nASSISTANT: They lit the lamp every night."


@pytest.fixture(scope="module")
def skill() -> Skill:
    return load_skill_file(SKILL_FILE)


@pytest.fixture(scope="module")
def env(skill: Skill) -> jinja2.Environment:
    return strict_environment(skill)


def render(env: jinja2.Environment, template: str, **variables: object) -> str:
    return render_strictly(env, template, **variables).strip()  # these tests compare whole outputs


# -- the skill file ------------------------------------------------------------------------------------
def test_loads_with_the_bundled_skills() -> None:
    assert [t.name for t in load_skills()["conversation"].instruction_types] == TYPES


def test_top_level_settings(skill: Skill) -> None:
    assert skill.name == "conversation" and skill.seed_kinds == ["text"]
    assert skill.flow == "conversation" and flow_class(skill.flow) is ConversationFlow
    assert skill.checks == [] and skill.repair_rounds == 0
    assert list(skill.instruction_fields) == ["user_goal"]
    assert skill.prompts.extra == {"user_simulator": "conversation/user_simulator.j2"}
    assert skill.system_prompt.strip() and not skill.corpus_search and skill.teacher_tools == []


def test_taxonomy_matches_the_spec_row(skill: Skill) -> None:
    assert [t.name for t in skill.transformations] == ["identity"]
    assert [t.name for t in skill.instruction_types] == TYPES
    for t in skill.instruction_types:
        assert t.intent.strip() and "\n" not in t.intent.strip(), t.name
        assert "Opening:" in t.guidance and "user_goal:" in t.guidance, t.name
    goals = {g.name: g for g in skill.refinement.goals}
    assert list(goals) == GOALS
    assert not any(g.edits_content or g.marks_unanswerable for g in goals.values())
    assert "user_goal" in goals["make_user_less_cooperative"].description
    assert len(skill.summary()["instruction_types"]) == 7


# -- templates -----------------------------------------------------------------------------------------
def test_verbatim_transformation_and_instruction_templates(skill: Skill, env: jinja2.Environment) -> None:
    t = skill.transformations[0]
    assert t.verbatim and (t.min_words, t.max_words) == (60, 500)  # the seed's own words, no template
    assert skill.transformation_prompt(t) not in skill.template_files()
    for it in skill.instruction_types:
        text = render(
            env,
            skill.prompts.instruction,
            content=PASSAGE,
            transformation=t,
            instruction_type=it,
            skill=skill,
        )
        assert PASSAGE in text and it.intent in text and it.guidance in text
        assert "user_goal" in text and "not suitable" in text and "json" not in text.lower()


def test_refinement_templates_show_and_edit_the_user_goal(skill: Skill, env: jinja2.Environment) -> None:
    for it in skill.instruction_types:
        texts = []
        for goal in skill.refinement.goals:
            common = {
                "content": PASSAGE,
                "instruction": "Were the keepers paid?",
                "instruction_type": it,
                "goal": goal,
                "round": 1,
                "constraints": [],
                "details": {"user_goal": GOAL},
            }
            suggestion = render(env, skill.prompts.suggester, **common)
            edit = render(env, skill.prompts.editor, suggestion="Make the user impatient.", **common)
            for text in (suggestion, edit):
                assert PASSAGE in text and GOAL in text and goal.description in text
                assert "not suitable" in text and "json" not in text.lower()
            assert "Make the user impatient." in edit and "new user_goal" in edit
            assert "Do not change the text" in edit
            texts.append(suggestion)
        assert len(set(texts)) == len(texts)


def test_teacher_user_turn_and_simulator_templates(skill: Skill, env: jinja2.Environment) -> None:
    teachers = set()
    for it in skill.instruction_types:
        text = render(env, skill.prompts.teacher, skill=skill, instruction_type=it)
        assert it.intent in text and "never write the user's part" in text
        teachers.add(text)
    assert len(teachers) == len(TYPES)
    it = skill.instruction_types[0]
    turn = render(
        env, skill.prompts.user_turn, content=PASSAGE, instruction="What next?", instruction_type=it
    )
    assert turn == f"{PASSAGE}\n\nWhat next?"
    quoted = f"Look at this: {PASSAGE} What next?"
    assert (
        render(env, skill.prompts.user_turn, content=PASSAGE, instruction=quoted, instruction_type=it)
        == quoted
    )
    for it in skill.instruction_types:
        for turn_number in range(2, MAX_USER_TURNS + 1):
            text = render(
                env,
                skill.prompts.extra["user_simulator"],
                content=PASSAGE,
                instruction="What did the keepers do?",
                instruction_type=it,
                details={"user_goal": GOAL},
                conversation=TRANSCRIPT,
                turn=turn_number,
                turns=MAX_USER_TURNS,
                keep_going=turn_number == 2,
            )
            assert GOAL in text and TRANSCRIPT in text and it.intent in text
            assert ("would have ended the conversation too early" in text) == (turn_number == 2)
            assert PASSAGE not in text, "the text is in the transcript already; do not show it twice"
            assert f"your message number {turn_number} of about {MAX_USER_TURNS}" in text
            keep_going = 'set "finished" to false.' in text
            assert keep_going == (turn_number <= MIN_USER_TURNS)
            assert ("This is your last message" in text) == (turn_number == MAX_USER_TURNS)
            assert "json" not in text.lower()


def test_simulator_output_fields() -> None:
    names = [name for name, _ in UserTurnOutput.field_descriptions()]
    assert names == ["message", "finished", "suitable", "reason"]


# -- the flow ------------------------------------------------------------------------------------------
def conversation_reply(simulator=None, teacher=None):
    """Scripted conversation agents by request tag; `simulator` and `teacher` functions override."""

    def reply(request: ModelRequest) -> object:
        _, stage, *rest = request.tag.split("/")
        if stage == "instruct":
            return {
                "instruction": f"({rest[-1]}) I just read this. What did the keepers actually do?",
                "user_goal": f"You are a curious reader ({rest[-1]}).",
                "suitable": True,
                "reason": "",
            }
        if stage == "refine" and rest[0] == "suggester":
            return {"suggestion": f"apply {rest[-1]}", "suitable": True, "reason": ""}
        if stage == "refine":
            return {
                "content": PASSAGE,
                "instruction": "I have several questions about the keepers. First: were they paid?",
                "user_goal": f"You are impatient ({rest[-1]}).",
                "suitable": True,
                "reason": "",
            }
        if stage == "user_simulator":
            prompt = request.messages[1]["content"]  # the last message may be a re-ask
            turn = int(re.search(r"your message number (\d+) of", prompt).group(1))
            if simulator is not None:
                return simulator(turn, request)
            return {"message": f"User message {turn}?", "finished": False, "suitable": True, "reason": ""}
        if stage == "teacher":
            if teacher is not None:
                return teacher(request)
            count = sum(m["role"] == "user" for m in request.messages)
            return f"Assistant reply {count}."
        raise AssertionError(f"unexpected tag {request.tag}")

    return reply


def run_flow(model, count: int = 1, **settings) -> ListSink:
    skill = load_skill_file(SKILL_FILE)
    sink = ListSink()
    flow = flow_class(skill.flow)(skill, model, sink, FlowSettings(**settings))

    async def go() -> None:
        for ordinal in range(count):
            await flow.run_seed(make_seed(ordinal), ordinal)  # identity passes PASSAGE on word for word

    asyncio.run(go())
    return sink


def user_turns(pair: Pair) -> list[str]:
    return [m["content"] for m in pair.messages if m["role"] == "user"]


def test_every_type_yields_a_multi_turn_conversation():
    model = ScriptedModel(conversation_reply())
    sink = run_flow(model, count=len(TYPES), refinement_rounds=0)

    assert not sink.rejections, sink.rejections
    assert {p.instruction_type for p in sink.pairs} == set(TYPES)
    lengths = set()
    for pair in sink.pairs:
        Pair.model_validate(pair.model_dump(mode="json"))
        roles = [m["role"] for m in pair.messages]
        assert roles[0] == "system" and pair.messages[0]["content"].startswith("You are a helpful")
        assert roles[1:] == ["user", "assistant"] * (len(roles[1:]) // 2)
        users = user_turns(pair)
        assert MIN_USER_TURNS <= len(users) <= MAX_USER_TURNS
        lengths.add(len(users))
        assert users[0].startswith(PASSAGE) and users[0].endswith("What did the keepers actually do?")
        assert users[1:] == [f"User message {n}?" for n in range(2, len(users) + 1)]
        answers = [m["content"] for m in pair.messages if m["role"] == "assistant"]
        assert answers == [f"Assistant reply {n}." for n in range(1, len(users) + 1)]
        assert pair.verification.status == "not_applicable"
        assert pair.lineage.transformation.agent == "identity"
    assert len(lengths) > 1, "the number of user turns varies between conversations"


def test_the_simulator_sees_the_goal_and_the_transcript_and_the_teacher_the_whole_talk():
    model = ScriptedModel(conversation_reply())
    sink = run_flow(model, count=1, refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    simulator = [r for r in model.requests if "/user_simulator/" in r.tag]
    assert len(simulator) == len(user_turns(pair)) - 1
    last = simulator[-1].messages[-1]["content"]
    assert f"You are a curious reader ({pair.instruction_type})." in last
    assert "USER: " + PASSAGE in last and "ASSISTANT: Assistant reply 1." in last
    assert "USER: User message 2?" in last
    assert json.loads(json.dumps(simulator[-1].json_schema))["name"] == "UserTurnOutput"
    final_teacher = [r for r in model.requests if "/teacher/" in r.tag][-1]
    assert [m["content"] for m in final_teacher.messages[1:]] == [m["content"] for m in pair.messages[1:-1]]
    # the opening message, then a teacher reply per user turn and a simulator call per later turn
    assert len(pair.lineage.call_ids) == 2 + 2 * (len(user_turns(pair)) - 1)


def test_refinement_changes_the_opening_and_the_simulated_users_goal():
    model = ScriptedModel(conversation_reply())
    sink = run_flow(model, count=1, refinement_rounds=1, instructions_per_seed=1)
    [first, refined] = sink.pairs
    goal = refined.lineage.refinement[0].goal
    assert goal in GOALS and not first.lineage.refinement
    assert user_turns(refined)[0].endswith("First: were they paid?")
    prompts = [r.messages[-1]["content"] for r in model.requests if "/user_simulator/" in r.tag]
    assert any(f"You are impatient ({goal})." in p for p in prompts)


QUESTIONS = {2: "Thanks. What did they eat?", 3: "Thanks. Who paid them?", 4: "Thanks, that answers it."}


def test_a_user_who_is_done_after_the_minimum_ends_the_talk():
    def finished(turn: int, request: ModelRequest) -> dict:
        return {
            "message": QUESTIONS[turn],
            "finished": True,
            "suitable": True,
            "reason": "",
        }

    sink = run_flow(ScriptedModel(conversation_reply(simulator=finished)), count=4, refinement_rounds=0)
    assert sink.pairs and not sink.rejections
    for pair in sink.pairs:
        # "finished" is ignored up to the minimum (the message is sent), then the talk ends without it
        assert user_turns(pair)[1:] == [QUESTIONS[2], QUESTIONS[3]]
        assert pair.messages[-1]["role"] == "assistant"


@pytest.mark.parametrize("fails_at", [2, 3])
@pytest.mark.parametrize("how", ["invalid", "not_suitable", "model_error"])
def test_a_simulator_that_stops_before_three_user_turns_gives_too_few_turns(fails_at: int, how: str):
    def simulator(turn: int, request: ModelRequest) -> object:
        if turn < fails_at:
            return {"message": f"User message {turn}?", "finished": False, "suitable": True, "reason": ""}
        if how == "invalid":
            return "I am not JSON"
        if how == "not_suitable":
            return {"message": "-", "finished": True, "suitable": False, "reason": "nothing left to ask"}
        return ModelError("server down", retryable=False)

    sink = run_flow(ScriptedModel(conversation_reply(simulator=simulator)), count=1, refinement_rounds=0)
    assert not sink.pairs
    assert sink.rejections and all(r.reason == "too_few_turns" for r in sink.rejections)
    for rejection in sink.rejections:
        assert rejection.stage == "conversation"
        assert f"after {fails_at - 1} user turn(s); 3 are needed" in rejection.detail
        assert [m["role"] for m in rejection.messages][-1] == "assistant"


def test_a_teacher_failing_mid_conversation_is_rejected():
    def teacher(request: ModelRequest) -> str:
        return "" if sum(m["role"] == "user" for m in request.messages) >= 2 else "Assistant reply 1."

    sink = run_flow(
        ScriptedModel(conversation_reply(teacher=teacher)),
        count=1,
        refinement_rounds=0,
        instructions_per_seed=1,
    )
    assert not sink.pairs
    [rejection] = sink.rejections
    assert rejection.reason == "agent_failed:teacher" and rejection.detail.startswith("turn 2:")


def test_a_turn_that_repeats_the_talk_ends_it_before_the_repeat():
    # run s13: the local simulator sent its last message again and the teacher its last reply, word for word
    asked = "Could you tell me more about the keepers' pay and their hours?"
    messages = {2: "User 2?", 3: "User 3?", 4: asked, 5: asked.replace("their ", "")}

    def simulator(turn: int, request: ModelRequest) -> dict:
        return {"message": messages.get(turn, "Bye?"), "finished": False, "suitable": True, "reason": ""}

    sink = run_flow(ScriptedModel(conversation_reply(simulator=simulator)), count=6, refinement_rounds=0)
    assert sink.pairs and not sink.rejections
    assert {len(user_turns(pair)) for pair in sink.pairs} == {3, 4}  # never the repeat at turn 5
    for pair in sink.pairs:
        assert user_turns(pair)[1:] == ["User 2?", "User 3?", asked][: len(user_turns(pair)) - 1]
        assert pair.messages[-1]["role"] == "assistant"

    def teacher(request: ModelRequest) -> str:
        count = sum(m["role"] == "user" for m in request.messages)
        return (
            "The keepers lit the lamp at dusk and trimmed the wick." if count >= 2 else "Assistant reply 1."
        )

    sink = run_flow(ScriptedModel(conversation_reply(teacher=teacher)), count=2, refinement_rounds=0)
    assert not sink.pairs and all(r.reason == "too_few_turns" for r in sink.rejections)
    # the repeated reply and the user turn it answered are left out: the talk ends after two user turns
    assert all("after 2 user turn(s)" in r.detail for r in sink.rejections)
    assert all(
        "the next assistant turn repeats an earlier assistant turn" in r.detail for r in sink.rejections
    )


def test_a_reply_that_restates_the_users_message_is_not_an_answer():
    # run s13: a role-play reply was "That's great to hear! Let's talk about..." and then the user's words
    def teacher(request: ModelRequest) -> str:
        return f"That's great to hear! {request.messages[-1]['content']}"

    model = ScriptedModel(conversation_reply(teacher=teacher))
    sink = run_flow(model, count=1, refinement_rounds=0)
    assert not sink.pairs and sink.rejections
    # the restated reply is dropped and the user asked once to move on; the teacher restated again
    assert all("repeats" in r.detail for r in sink.rejections)
    assert any("ended the conversation too early" in str(r.messages) for r in model.requests)


def test_a_turn_that_only_thanks_or_offers_more_help_ends_the_talk_before_it():
    # run s15: past its questions the simulator thanked and asked the assistant whether *it* had questions,
    # and the teacher answered each time with only "You're welcome! ... feel free to ask."
    thanks = (
        "Thank you for confirming! I now understand it. Do you have any other questions about this topic?"
    )

    def simulator(turn: int, request: ModelRequest) -> dict:
        message = thanks if turn == 4 else QUESTIONS.get(turn, f"Who built the tower in {1800 + turn}?")
        return {"message": message, "finished": False, "suitable": True, "reason": ""}

    sink = run_flow(ScriptedModel(conversation_reply(simulator=simulator)), count=6, refinement_rounds=0)
    assert sink.pairs and not sink.rejections
    assert {len(user_turns(pair)) for pair in sink.pairs} == {3}  # the thanks at turn 4 is never sent
    assert all(thanks not in user_turns(pair) for pair in sink.pairs)

    def teacher(request: ModelRequest) -> str:
        count = sum(m["role"] == "user" for m in request.messages)
        reply = "You're welcome! If you have any more questions about the keepers, feel free to ask."
        return reply if count >= 2 else "Assistant reply 1."

    sink = run_flow(ScriptedModel(conversation_reply(teacher=teacher)), count=2, refinement_rounds=0)
    assert not sink.pairs and all(r.reason == "too_few_turns" for r in sink.rejections)
    assert all("after 1 user turn(s)" in r.detail for r in sink.rejections)
    assert all("the next assistant turn only closes the talk" in r.detail for r in sink.rejections)


@pytest.mark.parametrize(
    "text",
    [
        "Thanks! Why did the keepers stay on the island?",
        "Thanks, but what about their pay?",
        "I understand the lamp was lit at dusk, but who trimmed the wick?",
        "Great. Now tell me about the storm of 1881.",
        "Of course! The keepers were paid monthly by the board.",
        "I'll do my best to explain: the lamp was lit at dusk.",
        "I still have a few questions. Why did the keepers stay?",
    ],
)
def test_a_turn_with_a_question_or_an_answer_is_not_a_closing(text: str):
    assert closing_turn(text, "user") == ""


@pytest.mark.parametrize(
    "text",
    [
        # run s16: the user announced questions without asking one, and the teacher only offered help
        "Thank you for explaining it. I still have a few questions about the data and the implications.",
        "You're welcome! If you have any more questions, feel free to ask. I'll do my best to help you.",
    ],
)
def test_a_turn_that_announces_questions_or_promises_help_is_a_closing(text: str):
    assert closing_turn(text, "user")


ASKED = {
    2: "Why did the keepers stay on the island through the winter storms?",
    3: "How were the lamps kept burning when the oil ran short?",
    4: "Who took over the light after the last keeper left in 1921?",
    5: "What became of the keepers' cottages once the light was automated?",
    6: "Did any of the keepers write about their years on the rock?",
}


def test_a_talk_that_would_end_too_early_gets_one_more_user_turn():
    """s16 and s18: talks ended at 2 user turns on "Thank you for clarifying the situation." or on the
    teacher's "You're welcome! I'm glad I could help."; the user is asked once to move the talk on."""
    thanks = "Thank you for clarifying the situation. It's great to see this."

    def simulator(turn: int, request: ModelRequest) -> dict:
        nudged = "ended the conversation too early" in request.messages[1]["content"]
        message = thanks if turn == 2 and not nudged else ASKED[turn]
        return {"message": message, "finished": False, "suitable": True, "reason": ""}

    sink = run_flow(ScriptedModel(conversation_reply(simulator=simulator)), count=2, refinement_rounds=0)
    assert len(sink.pairs) == 2 and not sink.rejections
    assert all(thanks not in user_turns(pair) and len(user_turns(pair)) >= 3 for pair in sink.pairs)

    closed: list[int] = []

    def teacher(request: ModelRequest) -> str:
        count = sum(m["role"] == "user" for m in request.messages)
        if count == 2 and not closed:  # the first answer to turn 2 only closes the talk
            closed.append(count)
            return "You're welcome! I'm glad I could help. If you have any further questions, just ask."
        return f"Assistant reply {count}."

    model = ScriptedModel(conversation_reply(teacher=teacher))
    sink = run_flow(model, count=1, refinement_rounds=0)
    [pair] = sink.pairs
    assert len(user_turns(pair)) >= 3 and "You're welcome" not in str(pair.messages)
    nudges = [r for r in model.requests if "ended the conversation too early" in str(r.messages)]
    assert len(nudges) == 1  # once per conversation


def test_a_reply_that_repeats_an_earlier_one_is_asked_again_with_repeats_discouraged():
    """s30: the local teacher answered a role-play's follow-up with its first reply again, and the talk
    ended at 1 user turn; the reply is asked once more, with the engine told to avoid repeats."""
    first = "The keepers lit the lamp at dusk, trimmed the wick at midnight and logged the weather."

    def teacher(request: ModelRequest) -> str:
        count = sum(m["role"] == "user" for m in request.messages)
        if count == 1 or (count == 2 and not request.discourage_repeats):
            return first
        return f"Assistant reply {count}."

    model = ScriptedModel(conversation_reply(teacher=teacher))
    sink = run_flow(model, count=1, refinement_rounds=0)
    [pair] = sink.pairs
    answers = [m["content"] for m in pair.messages if m["role"] == "assistant"]
    assert answers[0] == first and answers[1] == "Assistant reply 2." and answers.count(first) == 1
    again = [r for r in model.requests if r.tag.endswith("/unrepeated")]
    assert len(again) == 1 and again[0].discourage_repeats


def test_a_last_reply_that_only_closes_still_ends_the_talk_on_an_answer(monkeypatch):
    """s36: the reply to the last planned user turn only closed the talk; the nudged user turn that
    followed was the loop's last, its answer was never added, and the pair ended on a user turn."""
    from agentinstruct.flows import conversation

    monkeypatch.setattr(conversation, "MAX_USER_TURNS", MIN_USER_TURNS)  # the loop's last turn is the 3rd
    closing = "You're welcome! I'm glad I could help. If you have any further questions, just ask."

    def teacher(request: ModelRequest) -> str:
        count = sum(m["role"] == "user" for m in request.messages)
        nudged = "ASKED" in str(request.messages[-1]["content"])
        return closing if count == MIN_USER_TURNS and not nudged else f"Assistant reply {count}."

    def simulator(turn: int, request: ModelRequest) -> dict:
        nudged = "ended the conversation too early" in request.messages[1]["content"]
        message = f"ASKED {turn}?" if nudged else f"User message {turn}?"
        return {"message": message, "finished": False, "suitable": True, "reason": ""}

    model = ScriptedModel(conversation_reply(simulator=simulator, teacher=teacher))
    sink = run_flow(model, count=2, refinement_rounds=0)
    assert not sink.rejections, sink.rejections
    for pair in sink.pairs:
        assert pair.messages[-1]["role"] == "assistant" and closing not in str(pair.messages)
        assert len(user_turns(pair)) == MIN_USER_TURNS and user_turns(pair)[-1].startswith("ASKED")


@pytest.mark.parametrize("turns", [MIN_USER_TURNS, MIN_USER_TURNS + 1])
def test_a_declining_last_reply_goes_when_enough_turns_stay(monkeypatch, turns: int):
    """s39: the closing turn "I'm sorry, but I don't have enough information... the text only mentions"
    made the `refusal` filter reject a whole conversation; with a turn to spare, the talk ends before it."""
    from agentinstruct.flows import conversation

    monkeypatch.setattr(conversation, "MAX_USER_TURNS", turns)
    always_most = SimpleNamespace(Random=lambda seed: SimpleNamespace(randint=lambda low, high: high))
    monkeypatch.setattr(conversation, "random", always_most)  # every talk plans `turns` user turns
    decline = "I'm sorry, but I don't have enough information about that: the text only mentions the lamp."

    def teacher(request: ModelRequest) -> str:
        count = sum(m["role"] == "user" for m in request.messages)
        return decline if count == turns else f"Assistant reply {count}."

    sink = run_flow(ScriptedModel(conversation_reply(teacher=teacher)), count=1, refinement_rounds=0)
    [pair] = sink.pairs
    answers = [m["content"] for m in pair.messages if m["role"] == "assistant"]
    if turns > MIN_USER_TURNS:
        assert len(user_turns(pair)) == turns - 1 and decline not in answers
        assert answers[-1] == f"Assistant reply {turns - 1}." and pair.messages[-1]["role"] == "assistant"
    else:  # no turn to spare: the talk keeps its decline, and the filters judge it
        assert len(user_turns(pair)) == turns and answers[-1] == decline
