"""The teacher and verification stage of a flow: the teacher answers a task, the skill's checks verify it.

`TeachingStage` is the base of `SkillFlow`: `_answer` turns a finished chain into a delivered pair or a
rejection, `_teach` gets the teacher's answer and sends a failing one back `repair_rounds` times, `_verify`
runs the skill's checks (with a second teacher answer when a check asks for one). Flows with answers of
another shape (conversations, tool-call traces) override `_answer` and reuse the rest. Building the agents
and running transform → instruct → refine is `flows.skill_flow`'s job; the checks live in
`agentinstruct.quality`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from agentinstruct.agents import PROMPTS_DIR, Agent, AgentResult, render
from agentinstruct.flows.answer_keys import key_is_derivable, set_aside_reason
from agentinstruct.flows.program_aided import AidRequest, aid
from agentinstruct.flows.records import FlowRecords
from agentinstruct.flows.state import Chain, SeedContext, Sink, derive_seed
from agentinstruct.pairs import Check, Lineage, Pair, Verification
from agentinstruct.quality.agreement import several_for_one, stated_answer
from agentinstruct.quality.checks import Candidate, run_checks
from agentinstruct.quality.constraints import length_capped, sentences, words
from agentinstruct.quality.filters import Answer, phantom_letter, repetition, truncated, without_framing
from agentinstruct.quality.gate import deliver
from agentinstruct.quality.settings import DEFAULT_FRAMING_SKILLS, FilterSettings
from agentinstruct.reply_problems import without_repair_preamble

#: checks that compare the teacher's answer with the instruction agent's `answer_key`
KEY_CHECKS = frozenset({"answer_matches_key", "answers_agree"})

if TYPE_CHECKING:
    from agentinstruct.flows.resources import FlowResources
    from agentinstruct.models.base import Model
    from agentinstruct.quality.checks import CheckFunction
    from agentinstruct.skills import InstructionType, Skill
    from agentinstruct.tools.loop import ToolLoop


#: the counts an answer short of its minimum is continued for: the noun, how it is counted, and how many
#: more than the shortfall to ask for (a writer asked for exactly the missing words falls short again)
CONTINUED = {"word_count": ("words", words, 40), "sentence_count": ("sentences", sentences, 1)}


class TeachingStage(FlowRecords):
    """Answers and verifies a flow's tasks; `SkillFlow` sets the attributes declared here."""

    skill: Skill
    sink: Sink
    resources: FlowResources
    teacher: Agent
    teacher_model: Model
    #: the model of the other agents, and the instruction agent's second solve (None without key_recheck)
    model: Model
    key_checker: Agent | None
    #: per task shape, the teacher writing a program for a program-aided answer (none without program_aided)
    aiders: dict[str, Agent]
    #: the teacher's tools (None when it has none, or when the skill skips emulating them)
    teacher_tools: ToolLoop | None
    checks: list[CheckFunction]
    #: the teacher's system prompt per instruction type name, rendered once
    _teacher_systems: dict[str, str]

    async def _answer(self, context: SeedContext, chain: Chain, sample_seed: int) -> bool:
        if self.sink.full:
            return False
        result, verification = await self._teach(chain, sample_seed)
        messages = [
            {"role": "system", "content": self.skill.system_prompt},
            {"role": "user", "content": result.prompt},  # the teacher saw exactly this user turn
        ]
        lineage = self._lineage(context, chain, result)
        if not result.ok:
            self._reject(
                context.seed, "teacher", "agent_failed:teacher", result.reason, chain, lineage, messages
            )
            return False
        messages.append({"role": "assistant", "content": result.output})
        return await self._deliver_verified(context, chain, lineage, messages, verification)

    async def _deliver_verified(
        self,
        context: SeedContext,
        chain: Chain,
        lineage: Lineage,
        messages: list[dict[str, Any]],
        verification: Verification,
    ) -> bool:
        """The pair delivered to the sink, or when a check failed a rejection naming the failed checks."""
        if verification.status == "failed":
            failed = ",".join(c.name for c in verification.checks if not c.ok)
            detail = "; ".join(c.detail for c in verification.checks if not c.ok)
            self._reject(
                context.seed,
                "verification",
                f"verification_failed:{failed}",
                detail,
                chain,
                lineage,
                messages,
                verification,
            )
            return False
        pair = Pair.build(
            skill=self.skill.name,
            instruction_type=chain.instruction_type.name,
            messages=messages,
            lineage=lineage,
            verification=verification,
            unanswerable=chain.unanswerable,
        )
        return await deliver(self.sink, pair)

    async def _teach(self, chain: Chain, sample_seed: int) -> tuple[AgentResult, Verification]:
        """The teacher's answer and its verification; a failing answer goes back `repair_rounds` times."""
        variables = {
            "content": chain.content,
            "instruction": chain.instruction,
            "instruction_type": chain.instruction_type,
        }
        system = self._teacher_system(chain.instruction_type)
        tag = f"{self.skill.name}/teacher/{chain.instruction_type.name}"
        options = {
            "seed": sample_seed,
            "tools": self.teacher_tools,
            "answer_schema": self._answer_schema(chain),
        }
        result = await self.teacher.run(self.teacher_model, variables, system=system, tag=tag, **options)
        result = self._unframed(result)
        result = await self._finish_answer(result, variables, tag, options)
        result = await self._lengthened(result, chain, variables, tag, options)
        result = await self._unlooped(result, variables, system, tag, options)
        verification, first_failures = Verification(), ""
        for repair in range(self.skill.repair_rounds + 1):
            if not result.ok:
                return result, verification
            verification = await self._verify(chain, result.output, variables, system, sample_seed)
            if verification.status != "failed" or repair == self.skill.repair_rounds:
                break
            failures = [c for c in verification.checks if not c.ok]
            first_failures = first_failures or "; ".join(c.detail for c in failures)
            result = await self._repaired(result, failures, variables, system, tag, options)
            if result.ok and isinstance(result.output, str):  # the pair's user never saw the feedback
                result = self._unframed(replace(result, output=without_repair_preamble(result.output)))
            result = await self._finish_answer(result, variables, tag, options)
            result = await self._lengthened(result, chain, variables, tag, options)
        second: dict[str, Any] = {}  # how the verified answer gets its second answer (program-aided)
        if result.ok and verification.status == "failed" and self.aiders:
            result, verification, second = await self._program_aided(
                chain, result, verification, (variables, system, sample_seed)
            )
        if result.ok and verification.status == "failed":
            answer = str(result.output)
            verification = await self._recheck_key(
                chain, answer, verification, (variables, system, sample_seed), second
            )
        if first_failures and verification.status == "passed":
            detail = f"passed after {repair} repair round(s); the first answer failed: {first_failures}"
            verification.checks.append(Check(name="repaired", ok=True, detail=detail))
        return result, verification

    async def _repaired(
        self,
        result: AgentResult,
        failures: list[Check],
        variables: dict[str, Any],
        system: str,
        tag: str,
        options: dict[str, Any],
    ) -> AgentResult:
        """The teacher's answer again after the checks named what failed; a repair that only repeats the
        answer is asked once more afresh, at another seed, with the failures in the system prompt.

        Shown its answer and the failures, the local teacher sent the same answer back in 8 of 17 repairs
        (runs s30-s33: "The sources do not contain..." twice, a coding answer's tests block unchanged).
        """
        feedback = render(PROMPTS_DIR, "repair.j2", failures=failures)
        repaired = await self.teacher.revise(
            self.teacher_model, result, feedback, variables, tag=f"{tag}/repair", **options
        )
        if not (repaired.ok and _same_answer(repaired.output, result.output)):
            return repaired
        note = render(PROMPTS_DIR, "repair_fresh.j2", failures=failures)
        fresh = await self.teacher.run(
            self.teacher_model,
            variables,
            system=f"{system}\n\n{note}",
            tag=f"{tag}/repair_fresh",
            **{**options, "seed": _other_seed(options.get("seed"))},
        )
        call_ids = [*repaired.call_ids, *fresh.call_ids]  # the repair's hold the first answer's
        return replace(fresh if fresh.ok else repaired, call_ids=call_ids)

    async def _recheck_key(
        self,
        chain: Chain,
        answer: str,
        verification: Verification,
        verify_with: tuple[dict, str, int],
        second: dict[str, Any],
    ) -> Verification:
        """A failed key check gets one second solve by the key's author; a different key is checked again.

        The 1.5B author wrote "25 hours" for 50 miles at 5 miles an hour, and the teacher's "10" was
        rejected. The author sees the material and the task, never its first key or the teacher's answer,
        so a key that then agrees with the teacher is one more independent derivation, not a copy.
        A key code wrote (a task shape's: the held-out pair's output, the puzzle's valid option) is right by
        construction and never re-derived: the author's second solve could only replace it with a wrong one.
        A program-aided answer is checked again with its second program's answer (`second`), and keeps its
        `program_aided` record; when the author's two numeric keys disagree with each other and with two
        programs that agree, the programs decide (`flows.answer_keys.set_aside_reason`).
        """
        old = str(chain.details.get("answer_key", "")).strip()
        failed = {c.name for c in verification.checks if not c.ok}
        written_by_code = chain.instruction_type.task_shape != "text"
        if self.key_checker is None or not old or not failed & KEY_CHECKS or written_by_code:
            return verification
        asked = {
            "content": chain.content,
            "instruction": chain.instruction,
            "key_form": self.skill.instruction_fields.get("answer_key", ""),
        }
        tag = f"{self.skill.name}/key_recheck/{chain.instruction_type.name}"
        seed = derive_seed(verify_with[2], "key")  # reproducible with --seed, like every other call
        result = await self.key_checker.run(self.model, asked, tag=tag, seed=seed)
        chain.call_ids.extend(result.call_ids)
        new = str(getattr(result.output, "answer_key", "")).strip() if result.ok else ""
        if not new or " ".join(new.lower().split()) == " ".join(old.lower().split()):
            return verification  # the author stands by its key (or could not solve it): the failure stands
        if not chain.instruction_type.key_fits(new):
            return verification  # s39: a multi_select key re-derived as one letter
        if not key_is_derivable(new, chain):
            return verification  # a name or fact from nowhere: teacher and author may share the invention
        chain.details = {**chain.details, "answer_key": new, "first_answer_key": old}
        rechecked = await self._verify(chain, answer, *verify_with, **second)
        detail = f"the first key '{old}' disagreed with the answer; its author solved the task again: '{new}'"
        notes = [c for c in verification.checks if c.name == "program_aided" and c.ok]
        notes.append(Check(name="key_rechecked", ok=True, detail=detail))
        failed = {c.name for c in rechecked.checks if not c.ok}
        reason = set_aside_reason(self.skill.checks, failed, (old, new), answer, second.get("second_answer"))
        if reason:
            without_key = {k: v for k, v in chain.details.items() if k != "answer_key"}
            decided = await self._verify(replace(chain, details=without_key), answer, *verify_with, **second)
            if decided.status == "passed":
                rechecked = decided
                notes.append(Check(name="key_set_aside", ok=True, detail=reason))
        rechecked.checks.extend(notes)
        return rechecked

    async def _program_aided(
        self,
        chain: Chain,
        result: AgentResult,
        verification: Verification,
        verify_with: tuple[dict, str, int],
    ) -> tuple[AgentResult, Verification, dict[str, Any]]:
        """A task whose teacher answer failed, answered through a program the teacher writes (a task code
        wrote, or one whose key is a number: `flows.program_aided`); the failed answer and its
        verification stand when no program works. The third item is how the program-aided answer gets
        its second answer, for `_verify` (empty without one)."""
        agent = self.aiders.get(chain.instruction_type.task_shape)
        if agent is None:
            return result, verification, {}
        request = AidRequest(
            agent, self.teacher_model, self.skill, chain, result.prompt, verify_with[2], self.resources.tools
        )
        aided = await aid(request)
        if aided is None:
            return result, verification, {}
        if isinstance(aided, list):
            detail = f"the teacher's programs could not answer it: {'; '.join(aided)}"
            verification.checks.append(Check(name="program_aided", ok=False, detail=detail))
            return result, verification, {}
        call_ids = [*result.call_ids, *aided.call_ids]
        answer = AgentResult("ok", aided.text, call_ids=call_ids, prompt=result.prompt)
        second = {"second_answer": aided.second_answer, "resample": aided.second_needed}
        checked = await self._verify(chain, aided.text, *verify_with, **second)
        first = "; ".join(c.detail for c in verification.checks if not c.ok)
        detail = f"the teacher's own answer failed ({first}); {aided.how}"
        checked.checks.append(Check(name="program_aided", ok=True, detail=detail))
        return answer, checked, second

    def _unframed(self, result: AgentResult) -> AgentResult:
        """A text answer without a first line that introduces it or a last one that grades it, for the
        skills whose answer is the requested text alone (the default `FilterSettings.framing_skills`: the
        flow does not see the quality settings, and a configured list only changes what is rejected)."""
        if (
            not result.ok
            or not isinstance(result.output, str)
            or self.skill.name not in DEFAULT_FRAMING_SKILLS
        ):
            return result
        return replace(result, output=without_framing(result.output))

    async def _finish_answer(
        self, result: AgentResult, variables: dict[str, Any], tag: str, options: dict[str, Any]
    ) -> AgentResult:
        """The teacher's answer made whole before it is verified; a flow whose answers a small model leaves
        unfinished in another known way (web_agent's missing stop) overrides this.

        For a skill with `worked_answer`, an answer without its "Answer:" line (a bare "E", as the local
        teacher gave 2 of 2 analytical puzzles) is asked once to be worked out. The request names what is
        missing, never the key, so the checks still judge the teacher's own answer. It is asked in words,
        without tools or the earlier tool turns: given python again, the local teacher's program failed and
        its whole answer became the error ("There was an error in the Python code...", s13). An answer that
        ends by picking an option letter its task never lists is asked once for the answer itself, and one
        that picks several options of a task that asks for one, once for one.
        """
        if not result.ok:
            return result
        # the answer line the checks read (quality.agreement), so a worked answer is one they accept
        if self.skill.worked_answer and stated_answer(str(result.output)) is None:
            feedback, step = render(PROMPTS_DIR, "worked_answer.j2"), "worked"
        elif letter := phantom_letter(str(result.output), result.prompt):
            # s37, s38: reading-comprehension answers to open questions ended "Answer: (B)", and the
            # `phantom_option` filter rejected them
            feedback, step = render(PROMPTS_DIR, "phantom_option.j2", letter=letter), "unlettered"
        elif letters := several_for_one(str(result.output), result.prompt):
            # s37, s39: "Answer: A, C" to one-answer questions, rejected against their one-letter keys
            feedback, step = render(PROMPTS_DIR, "one_option.j2", letters=letters), "one_option"
        else:
            return result
        traced = {id(turn) for turn in result.trace}  # tool calls and results, native or emulated
        turns = [m for m in result.messages if id(m) not in traced]
        worked = await self.teacher.revise(
            self.teacher_model,
            replace(result, messages=turns),
            feedback,
            variables,
            tag=f"{tag}/{step}",
            **{**options, "tools": None},
        )
        return worked if worked.ok else result

    def _answer_schema(self, chain: Chain) -> dict[str, Any] | None:
        """The JSON Schema the task gives for its answer, which the grammar then holds the teacher to.

        Without it the local teacher answered a named-entities task with the schema itself (28 "values" such
        as 'type: object') and left out required keys (run s10b); a schema that cannot be read is left to
        the checks, which report it.
        """
        name = self.skill.answer_schema_field
        text = chain.details.get(name) if name else None
        if not text:
            return None
        try:
            schema = json.loads(text) if isinstance(text, str) else text
        except ValueError:
            return None
        return schema if isinstance(schema, dict) else None

    async def _lengthened(
        self, result: AgentResult, chain: Chain, variables: dict[str, Any], tag: str, options: dict[str, Any]
    ) -> AgentResult:
        """An answer short of its task's word or sentence minimum, continued once by the teacher, who writes
        only what follows; code appends it, so every word is still the teacher's.

        The local teacher wrote 198 words for "at least 300" and 446 for "at least 500" (run s11c), and 5
        sentences of an advertisement for "at least 6" (run s12b); a repair that named the count gave a
        piece as short again. Not for a task that also caps or fixes a count (more paragraphs or sentences
        could break it): those are left to the checks.
        """
        capped = length_capped(chain.constraints)
        if not result.ok or capped:
            return result
        short = []
        for c in chain.constraints:
            if c.kind in CONTINUED and c.relation == "at_least":
                noun, measure, margin = CONTINUED[c.kind]
                have = len(measure(str(result.output)))
                if have < c.number:
                    short.append(
                        {"noun": noun, "have": have, "wanted": c.number, "more": c.number - have + margin}
                    )
        if not short:
            return result
        feedback = render(PROMPTS_DIR, "continue_piece.j2", short=short)
        more = await self.teacher.revise(
            self.teacher_model, result, feedback, variables, tag=f"{tag}/continue", **options
        )
        if not more.ok:
            return replace(result, call_ids=more.call_ids)
        first, added = str(result.output).rstrip(), str(more.output).strip()
        # a reply that starts the piece over is a new whole piece, not a continuation
        whole = added if added[:80] and added[:80] in first else f"{first}\n\n{added}"
        messages = [*result.messages[:-1], {"role": "assistant", "content": whole}]
        return replace(more, output=whole, messages=messages)

    async def _unlooped(
        self, result: AgentResult, variables: dict[str, Any], system: str, tag: str, options: dict[str, Any]
    ) -> AgentResult:
        """An answer that goes round in circles or stops mid-sentence, written once more afresh.

        s18's poem sang one pair of stanzas six times and its song one verse as verse, bridge and chorus:
        62% of their 4-grams repeated an earlier one, and the repetition filter rejected both after the
        checks. The engine's loop detector ends a loop of a few tokens, not one of whole stanzas, so the
        answer is measured here as the filter measures it (its default bound: the flow does not see the
        quality settings); it is asked again with repeats discouraged. s32's open-domain answer closed its
        JSON string at "...often referred to as a" (finish reason "stop"): it is asked again with another
        sampling seed. The second answer stands whatever it holds, and the filters still judge it.
        """
        text = result.output if result.ok and isinstance(result.output, str) else None
        looping = text is not None and _goes_round(self.skill.name, text)
        if text is None or not (looping or _cut_short(self.skill.name, text)):
            return result
        seed = options.get("seed")
        again = await self.teacher.run(
            self.teacher_model,
            variables,
            system=system,
            tag=f"{tag}/{'unlooped' if looping else 'whole'}",
            discourage_repeats=looping,
            **{**options, "seed": seed if looping else _other_seed(seed)},
        )
        if not again.ok:
            return replace(result, call_ids=[*result.call_ids, *again.call_ids])
        again = await self._finish_answer(self._unframed(again), variables, tag, options)
        return replace(again, call_ids=[*result.call_ids, *again.call_ids])

    def _teacher_system(self, itype: InstructionType) -> str:
        """The teacher's system prompt for an instruction type, rendered once per type (not per call)."""
        system = self._teacher_systems.get(itype.name)
        if system is None:
            tools = sorted(self.teacher_tools.tools) if self.teacher_tools else []
            system = render(
                self.skill.directory,
                self.skill.prompts.teacher,
                skill=self.skill,
                instruction_type=itype,
                tools=tools,  # the tools the teacher really has (none when the skill skips emulating them)
            )
            self._teacher_systems[itype.name] = system
        return system

    async def _verify(
        self,
        chain: Chain,
        answer: str,
        variables: dict,
        system: str,
        sample_seed: int,
        *,
        second_answer: str | None = None,
        resample: bool = True,
    ) -> Verification:
        """The skill's checks on an answer (`second_answer`: what a second run of the teacher's program
        answers: a few-shot task's second query, or the same task through a second program; without
        `resample`, no check gets a second answer: the answer is the key by construction)."""

        async def another_answer(instruction: str | None = None) -> str:
            """An independent teacher answer (another sampling seed), to the same task or a variant of it."""
            if second_answer is not None:
                return f"Answer: {second_answer}"  # the teacher's program, run again
            tag = f"{self.skill.name}/teacher/{chain.instruction_type.name}/resample"
            asked = variables if instruction is None else {**variables, "instruction": instruction}
            second = await self.teacher.run(
                self.teacher_model, asked, system=system, tag=tag, seed=derive_seed(sample_seed, "again")
            )
            if not second.ok:
                raise RuntimeError(f"the second teacher answer failed: {second.reason}")
            return str(second.output)

        candidate = Candidate(
            self.skill.name,
            chain.instruction_type.name,
            chain.content,
            chain.instruction,
            answer,
            chain.unanswerable,
            chain.constraints,
            details=chain.details,
            tools=self.resources.tools,
            # a key code computed is the second independent answer: the teacher is not asked for another
            resample=another_answer if resample and not chain.key_by_code else None,
            key_by_code=chain.key_by_code,
        )
        return Verification.from_checks(await run_checks(self.checks, candidate))


def _goes_round(skill: str, answer: str) -> bool:
    """Whether a text answer fails the repetition filter at its default settings."""
    return repetition(Answer(skill, False, "", answer), FilterSettings()) is not None


def _other_seed(seed: int | None) -> int | None:
    """A sampling seed next to `seed`, for an answer asked afresh (None stays None)."""
    return None if seed is None else seed + 1


def _same_answer(first: Any, second: Any) -> bool:
    """Whether two answers are the same text but for whitespace."""
    return " ".join(str(first).split()) == " ".join(str(second).split())


def _cut_short(skill: str, answer: str) -> bool:
    """Whether a text answer fails the truncation filter at its default settings."""
    return truncated(Answer(skill, False, "", answer), FilterSettings()) is not None
