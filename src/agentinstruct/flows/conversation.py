"""The conversation flow (SPEC §2 row 16): multi-turn dialogues where a user-simulator agent writes the
user's turns and the teacher writes the assistant's.

The instruction agent writes the opening user message (and, through the skill's `instruction_fields`, the
simulated user's goal or persona); refinement works on that opening as usual. Then the teacher answers,
the simulator (`prompts.extra.user_simulator`, output `UserTurnOutput`) writes the next user message from
the conversation so far, and so on for 3–6 user turns (drawn per chain; the simulator may end the talk
after the minimum). A turn that repeats an earlier one, or only thanks and offers more help, ends the talk
before it; a talk that would end so short of 3 user turns gets, once, one more user turn asked to move the
talk on, and a talk still left with fewer than 3 user turns is rejected. A last assistant turn that
declines ("I'm sorry, but the text does not say") goes with the user turn it answers when more than 3 user
turns stay. The pair holds the whole conversation; checks run on the last assistant turn.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace

from pydantic import Field

from agentinstruct.agent_outputs import AgentOutput
from agentinstruct.agents import AgentResult, render
from agentinstruct.flows import register_flow
from agentinstruct.flows.skill_flow import SkillFlow
from agentinstruct.flows.state import Chain, FlowSettings, SeedContext, derive_seed
from agentinstruct.quality.filters import refusal_in
from agentinstruct.reply_problems import SENTENCE_BREAK, word_pairs
from agentinstruct.skills import Skill

MIN_USER_TURNS = 3
MAX_USER_TURNS = 6


class UserTurnOutput(AgentOutput):
    message: str = Field(default="", description="the user's next message, in the user's own voice")
    finished: bool = Field(
        default=False, description="true when the user has what they wanted and would stop"
    )


@dataclass(frozen=True)
class UserTurn:
    """A simulated user turn (None when the simulator failed) and whether it was asked to move on."""

    result: AgentResult | None
    nudged: bool = False


def _user_turns(messages: list[dict]) -> int:
    return sum(m["role"] == "user" for m in messages)


def _assistant_turns(messages: list[dict]) -> int:
    return sum(m["role"] == "assistant" for m in messages)


class ConversationFlow(SkillFlow):
    """Standard seed → opening-message steps, then a teacher/user-simulator dialogue per chain."""

    def _agents(self, skill: Skill, settings: FlowSettings) -> None:
        super()._agents(skill, settings)
        template = skill.prompts.extra.get("user_simulator")
        if template is None:
            raise ValueError(
                f"skill {skill.name}: the conversation flow needs prompts.extra.user_simulator, the template "
                "of the agent that writes the user's turns"
            )
        self.user_simulator = self.agent("user_simulator", template, UserTurnOutput)

    async def _answer(self, context: SeedContext, chain: Chain, sample_seed: int) -> bool:
        if self.sink.full:
            return False
        chain = replace(
            chain, call_ids=list(chain.call_ids)
        )  # the simulator's calls belong to this pair only
        itype = chain.instruction_type
        variables = {"content": chain.content, "instruction": chain.instruction, "instruction_type": itype}
        system = render(
            self.skill.directory, self.skill.prompts.teacher, skill=self.skill, instruction_type=itype
        )
        tag = f"{self.skill.name}/teacher/{itype.name}"
        result = await self.teacher.run(
            self.teacher_model, variables, system=system, tag=tag, seed=sample_seed
        )
        messages = [
            {"role": "system", "content": self.skill.system_prompt},
            {"role": "user", "content": result.prompt},
        ]
        turns = random.Random(sample_seed).randint(MIN_USER_TURNS, MAX_USER_TURNS)
        answered, ended, nudged = result, "", False
        answers: list[AgentResult] = []  # one per assistant turn kept
        for turn in range(2, turns + 2):
            if not result.ok:
                reason = f"turn {turn - 1}: {result.reason}"
                lineage = self._lineage(context, chain, result)
                self._reject(
                    context.seed, "teacher", "agent_failed:teacher", reason, chain, lineage, messages
                )
                return False
            if ended := repeated_turn(messages, str(result.output), "assistant") or closing_turn(
                str(result.output), "assistant"
            ):
                messages.pop()  # the user turn it answered goes too: the talk ends on the answer before
                result = answered
                if nudged or _user_turns(messages) >= MIN_USER_TURNS:
                    break
            else:
                messages.append({"role": "assistant", "content": result.output})
                answered = result
                answers.append(result)
                if turn > turns:
                    break
            user, ended = await self._user_turn(
                chain, messages, (turn, turns, sample_seed), nudge=bool(ended)
            )
            nudged = nudged or user.nudged
            if user.result is None or ended:
                break
            messages.append({"role": "user", "content": user.result.output.message})
            chain.call_ids.extend(user.result.call_ids)
            result = await self._reply(result, messages, variables, f"{tag}/turn{turn}", sample_seed)
        result = _last_answer(messages, result, answered)
        if len(answers) < _assistant_turns(messages):
            answers.append(result)
        result = _without_declined_ending(messages, answers, result)
        lineage = self._lineage(context, chain, result)
        user_turns = _user_turns(messages)
        if user_turns < MIN_USER_TURNS:
            detail = f"the conversation ended after {user_turns} user turn(s); {MIN_USER_TURNS} are needed"
            detail += f" ({ended})" if ended else ""
            self._reject(context.seed, "conversation", "too_few_turns", detail, chain, lineage, messages)
            return False
        verification = await self._verify(chain, result.output, variables, system, sample_seed)
        return await self._deliver_verified(context, chain, lineage, messages, verification)

    async def _reply(
        self, previous: AgentResult, messages: list[dict], variables: dict, tag: str, sample_seed: int
    ) -> AgentResult:
        """The teacher's reply to the user's last message; a reply that repeats an earlier assistant turn is
        asked once more with repeats discouraged (s30: the local teacher answered a role-play's follow-up
        with its first reply again, twice, and the talk ended at 1 user turn)."""
        message = messages[-1]["content"]
        result = await self.teacher.revise(
            self.teacher_model, previous, message, variables, tag=tag, seed=sample_seed
        )
        if not result.ok or not repeated_turn(messages, str(result.output), "assistant"):
            return result
        again = await self.teacher.revise(
            self.teacher_model,
            previous,
            message,
            variables,
            tag=f"{tag}/unrepeated",
            seed=derive_seed(sample_seed, tag, "unrepeated"),
            discourage_repeats=True,
        )
        return again if again.ok else result

    async def _user_turn(
        self, chain: Chain, messages: list[dict], at: tuple[int, int, int], nudge: bool
    ) -> tuple[UserTurn, str]:
        """The user's next turn and why it ends the talk ("" when it does not).

        A talk that would end short of MIN_USER_TURNS, on a user turn that only thanks or repeats (s16) or
        on an assistant reply that only closes (`nudge`, s16 and s18: "You're welcome! I'm glad I could
        help"), gets one more user turn per conversation, asked to move the talk on; 3 of 5 conversation
        rejections of s15-s18 were talks ended at 2 user turns.
        """
        turn, turns, sample_seed = at
        result = await self._next_user_turn(chain, messages, turn, turns, sample_seed, keep_going=nudge)
        ended = self._ending(messages, result, turn)
        if ended and not nudge and _user_turns(messages) < MIN_USER_TURNS:
            again = await self._next_user_turn(chain, messages, turn, turns, sample_seed, keep_going=True)
            return UserTurn(again, nudged=True), self._ending(messages, again, turn)
        return UserTurn(result, nudged=nudge), ended

    @staticmethod
    def _ending(messages: list[dict], user: AgentResult | None, turn: int) -> str:
        """Why a user turn ends the talk: the simulator failed or finished after the minimum, or the turn
        repeats an earlier one or only closes ("" when the talk goes on)."""
        if user is None:
            return "the user simulator failed"
        if user.output.finished and turn > MIN_USER_TURNS:
            return "the user finished"
        text = user.output.message
        return repeated_turn(messages, text, "user") or closing_turn(text, "user")

    async def _next_user_turn(
        self,
        chain: Chain,
        messages: list[dict],
        turn: int,
        turns: int,
        sample_seed: int,
        keep_going: bool = False,
    ) -> AgentResult | None:
        """The simulated user's next message, or None when the simulator fails (the talk ends there);
        `keep_going` asks it to move the talk on after a turn that would have ended it too early."""
        transcript = "\n\n".join(f"{m['role'].upper()}: {m['content']}" for m in messages[1:])
        variables = {
            "content": chain.content,
            "instruction": chain.instruction,
            "instruction_type": chain.instruction_type,
            "details": chain.details,
            "conversation": transcript,
            "turn": turn,
            "turns": turns,
            "keep_going": keep_going,
        }
        result = await self.user_simulator.run(
            self.model,
            variables,
            tag=f"{self.skill.name}/user_simulator/{chain.instruction_type.name}",
            seed=derive_seed(sample_seed, "user", turn, "again")
            if keep_going
            else derive_seed(sample_seed, "user", turn),
        )
        return result if result.ok else None


#: a turn holding this share of its word pairs from an earlier turn of its role, or an assistant turn from the
#: user message it answers, repeats it: the local simulator sent its last message again and the teacher its
#: last reply, word for word, and a role-play reply restated the user's message (run s13)
REPEAT_SHARE = 0.8


def repeated_turn(messages: list[dict], text: str, role: str) -> str:
    """Why a new turn of `role` only repeats the conversation so far ("" when it says something new)."""
    pairs = word_pairs(text)
    if not pairs:
        return ""
    earlier = [m["content"] for m in messages[1:] if m["role"] == role]
    if role == "assistant" and messages[-1]["role"] == "user":
        earlier.append(messages[-1]["content"])
    for other in earlier:
        if len(pairs & word_pairs(str(other))) >= REPEAT_SHARE * len(pairs):
            answered = role == "assistant" and other == messages[-1]["content"]
            whose = "the user's message" if answered else f"an earlier {role} turn"
            return f"the next {role} turn repeats {whose}: {' '.join(text.split())[:60]!r}"
    return ""


#: a sentence that only thanks, agrees or offers more help: the local simulator, past its questions, wrote
#: "Thank you for confirming! I now understand the correct information. Do you have any other questions
#: about this topic?" and the teacher "You're welcome! ... feel free to ask.", three times over (run s15);
#: s16's user announced "I still have a few questions about the data" and the teacher answered "You're
#: welcome! ... I'll do my best to provide information and support your understanding."
COURTESY = re.compile(
    r"^(?:thanks|thank you|many thanks|you're welcome|you are welcome|(?:i'm |i am )?(?:so )?glad"
    r"|happy to help|no problem|of course|great|perfect|wonderful|excellent|sure|got it|okay|ok"
    r"|i (?:now |really |fully )?(?:understand|see|appreciate)|it's (?:always )?(?:good|great|nice)"
    r"|that (?:makes sense|helps|was helpful|clears)|(?:please )?(?:feel free|don't hesitate|do not hesitate)"
    r"|if you have any|do you have any|is there anything else|have a (?:great|nice|good)"
    r"|i(?:'ll| will) do my best|i(?:'m| am) here to help|i(?:'d| would) be (?:happy|glad) to help"
    r"|i (?:still )?have (?:a few|some|a couple of|more|other|further) (?:more )?questions)\b",
    re.IGNORECASE,
)
#: a courtesy may ask only whether there is more to ask; a sentence that also turns to the subject is not one
COURTESY_QUESTION = re.compile(r"^(?:do you have any|is there anything else)\b", re.IGNORECASE)
SUBJECT_TURN = re.compile(r"\b(?:but|however|although|though)\b", re.IGNORECASE)
COURTESY_WORDS = 25


def closing_turn(text: str, role: str) -> str:
    """Why a turn of `role` only closes the talk ("" when it asks or answers something)."""
    sentences = [s for s in SENTENCE_BREAK.split(" ".join(text.split())) if s]
    if not sentences or not all(_courtesy(sentence) for sentence in sentences):
        return ""
    return f"the next {role} turn only closes the talk: {' '.join(text.split())[:60]!r}"


def _courtesy(sentence: str) -> bool:
    if not COURTESY.match(sentence) or SUBJECT_TURN.search(sentence) or ":" in sentence:
        return False
    if "?" in sentence and not COURTESY_QUESTION.match(sentence):
        return False
    return len(sentence.split()) <= COURTESY_WORDS


register_flow("conversation", ConversationFlow)


def _last_answer(messages: list[dict], result: AgentResult, answered: AgentResult) -> AgentResult:
    """The answer the talk ends on: when the loop ran out on a user turn (a nudged turn after a closing
    reply to the last planned one, s36), its reply is added if usable, else that user turn goes."""
    if messages[-1]["role"] != "user":
        return result
    text = str(result.output) if result.ok else ""
    if text and not (repeated_turn(messages, text, "assistant") or closing_turn(text, "assistant")):
        messages.append({"role": "assistant", "content": text})
        return result
    messages.pop()
    return answered


def _without_declined_ending(
    messages: list[dict], answers: list[AgentResult], result: AgentResult
) -> AgentResult:
    """The answer the talk ends on once a closing turn that declines is dropped with the user turn it
    answers, while the talk keeps MIN_USER_TURNS: in the middle of a talk "I'm sorry, but the text does not
    say" is an honest reply, at its end the `refusal` filter rejects the whole conversation (s39: "I'm sorry,
    but I don't have enough information about the council's reasoning... the text only mentions")."""
    if messages[-1]["role"] != "assistant" or _user_turns(messages) <= MIN_USER_TURNS:
        return result
    if len(answers) < 2 or not refusal_in(str(messages[-1]["content"])):
        return result
    del messages[-2:]
    answers.pop()
    return answers[-1]
