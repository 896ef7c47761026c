"""The AgentInstruct flow for one seed and one skill: transform → instruct → refine → answer → verify.

`SkillFlow` drives a skill's agents (built from its YAML file and templates) over one seed and hands
every pair and every rejection to a `Sink` as soon as it exists. Randomness (which transformation,
which instruction types, which refinement goals) comes from a generator seeded by the run seed, skill
and seed id, so a run is reproducible with `--seed` whatever order the scheduler happens to use.
Scheduling many seeds is `agentinstruct.pipeline`'s job; writing files is `agentinstruct.writers`'.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from dataclasses import dataclass, field, replace
from typing import Protocol

from agentinstruct.agents import (
    Agent,
    AgentResult,
    EditOutput,
    InstructionOutput,
    SuggestionOutput,
    TransformationOutput,
    render,
)
from agentinstruct.documents import Seed
from agentinstruct.models.base import Model
from agentinstruct.pairs import (
    DocumentRef,
    Lineage,
    Pair,
    RefinementStep,
    Rejection,
    SeedInstructionRef,
    TeacherRef,
    TransformationRef,
    Verification,
)
from agentinstruct.quality.checks import Candidate, resolve_checks, run_checks
from agentinstruct.skills import InstructionType, RefinementGoal, Skill, Transformation


class Sink(Protocol):
    """Where a flow delivers its results (the output writer in a run, a list in tests)."""

    @property
    def full(self) -> bool: ...

    def accept(self, pair: Pair) -> bool: ...

    def reject(self, rejection: Rejection) -> None: ...


@dataclass(frozen=True)
class FlowSettings:
    """Run-level knobs a flow needs; None means "use the skill file's value"."""

    run_seed: int = 0
    temperature: float = 0.7
    max_tokens: int = 1024
    teacher_temperature: float = 0.7
    teacher_max_tokens: int = 1024
    refinement_rounds: int | None = None
    instructions_per_seed: int | None = None
    unanswerable_share: float | None = None


def derive_seed(*parts: object) -> int:
    """A stable 32-bit integer from any parts (for RNGs and per-request sampling seeds)."""
    return int(hashlib.sha256(repr(parts).encode()).hexdigest()[:8], 16)


@dataclass
class Chain:
    """The state of one instruction as it moves through refinement rounds."""

    instruction_type: InstructionType
    content: str
    instruction: str
    seed_instruction: str
    refinement: list[RefinementStep] = field(default_factory=list)
    call_ids: list[str] = field(default_factory=list)
    unanswerable: bool = False


@dataclass(frozen=True)
class SeedContext:
    """What every step of one seed's flow shares."""

    seed: Seed
    transformation: Transformation
    transformed: str
    call_ids: tuple[str, ...]


class SkillFlow:
    """Runs one skill's agents over seeds; stateless between seeds, safe to run concurrently."""

    def __init__(
        self, skill: Skill, model: Model, sink: Sink, settings: FlowSettings, teacher: Model | None = None
    ):
        self.skill = skill
        self.model = model
        self.teacher_model = teacher or model
        self.sink = sink
        self.settings = settings
        self.rounds = (
            skill.refinement.rounds if settings.refinement_rounds is None else settings.refinement_rounds
        )
        self.per_seed = settings.instructions_per_seed or skill.instructions_per_seed
        share = (
            skill.unanswerable_share if settings.unanswerable_share is None else settings.unanswerable_share
        )
        self.unanswerable_share = share
        self.checks = resolve_checks(skill.checks)
        self._agents(skill, settings)

    def _agents(self, skill: Skill, settings: FlowSettings) -> None:
        def agent(name: str, template: str, output: type | None, teacher: bool = False) -> Agent:
            return Agent(
                name,
                template,
                skill.directory,
                output,
                temperature=settings.teacher_temperature if teacher else settings.temperature,
                max_tokens=settings.teacher_max_tokens if teacher else settings.max_tokens,
            )

        self.transformers = {
            t.name: agent(t.name, skill.transformation_prompt(t), TransformationOutput)
            for t in skill.transformations
        }
        self.instructors = {
            t.name: agent(t.name, t.prompt or skill.prompts.instruction, InstructionOutput)
            for t in skill.instruction_types
        }
        self.suggester = agent("suggester", skill.prompts.suggester, SuggestionOutput)
        self.editor = agent("editor", skill.prompts.editor, EditOutput)
        self.teacher = agent("teacher", skill.prompts.user_turn, None, teacher=True)

    # -- one seed ----------------------------------------------------------------------------------
    async def run_seed(self, seed: Seed) -> int:
        """Run the whole flow on one seed; returns the number of pairs accepted."""
        rng = random.Random(derive_seed(self.settings.run_seed, self.skill.name, seed.id))
        transformation = rng.choice(self.skill.transformations)
        result = await self.transformers[transformation.name].run(
            self.model,
            {"seed": seed.text, "transformation": transformation, "skill": self.skill},
            tag=f"{self.skill.name}/transform/{transformation.name}",
            seed=derive_seed(self.settings.run_seed, seed.id, "transform"),
        )
        if not result.ok:
            self._reject_agent(seed, "transformation", transformation.name, result)
            return 0
        context = SeedContext(seed, transformation, result.output.content, tuple(result.call_ids))
        candidates = self.skill.types_for(transformation)
        chosen = rng.sample(candidates, k=min(self.per_seed, len(candidates)))
        chain_seeds = [rng.getrandbits(32) for _ in chosen]
        counts = await asyncio.gather(
            *(self._run_chain(context, itype, cs) for itype, cs in zip(chosen, chain_seeds, strict=True))
        )
        return sum(counts)

    async def _run_chain(self, context: SeedContext, itype: InstructionType, chain_seed: int) -> int:
        if self.sink.full:
            return 0
        rng = random.Random(chain_seed)
        result = await self.instructors[itype.name].run(
            self.model,
            {
                "content": context.transformed,
                "transformation": context.transformation,
                "instruction_type": itype,
                "skill": self.skill,
            },
            tag=f"{self.skill.name}/instruct/{itype.name}",
            seed=derive_seed(chain_seed, "instruct"),
        )
        if not result.ok:
            self._reject_agent(context.seed, "seed_instruction", itype.name, result, itype.name)
            return 0
        text = result.output.instruction
        chain = Chain(itype, context.transformed, text, text, call_ids=list(result.call_ids))
        accepted = int(await self._answer(context, chain, chain_seed))
        for round_number in range(1, self.rounds + 1):
            if self.sink.full:
                break
            refined = await self._refine(context, chain, round_number, rng)
            if refined is None:
                break
            chain = refined
            accepted += int(await self._answer(context, chain, derive_seed(chain_seed, round_number)))
            if chain.unanswerable:
                break  # refining an item that was made unanswerable would only blur it further
        return accepted

    # -- refinement --------------------------------------------------------------------------------
    def _pick_goal(self, rng: random.Random) -> RefinementGoal:
        goals = self.skill.refinement.goals
        unanswerable = [g for g in goals if g.marks_unanswerable]
        others = [g for g in goals if not g.marks_unanswerable]
        # A chain yields 1 + rounds pairs; picking "unanswerable" with this probability per round keeps
        # the expected share of unanswerable pairs near the configured one.
        probability = min(1.0, self.unanswerable_share * (self.rounds + 1) / max(self.rounds, 1))
        if unanswerable and (not others or rng.random() < probability):
            return rng.choice(unanswerable)
        return rng.choice(others) if others else rng.choice(goals)

    async def _refine(
        self, context: SeedContext, chain: Chain, round_number: int, rng: random.Random
    ) -> Chain | None:
        goal = self._pick_goal(rng)
        variables = {
            "content": chain.content,
            "instruction": chain.instruction,
            "instruction_type": chain.instruction_type,
            "goal": goal,
            "round": round_number,
        }
        tag_base = f"{self.skill.name}/refine"
        sample_seed = derive_seed(
            self.settings.run_seed, context.seed.id, chain.seed_instruction, round_number
        )
        suggestion = await self.suggester.run(
            self.model, variables, tag=f"{tag_base}/suggester/{goal.name}", seed=sample_seed
        )
        if not suggestion.ok:
            self._reject_agent(
                context.seed,
                f"refinement_{round_number}",
                "suggester",
                suggestion,
                chain.instruction_type.name,
            )
            return None
        variables["suggestion"] = suggestion.output.suggestion
        edit = await self.editor.run(
            self.model, variables, tag=f"{tag_base}/editor/{goal.name}", seed=sample_seed
        )
        if not edit.ok:
            self._reject_agent(
                context.seed, f"refinement_{round_number}", "editor", edit, chain.instruction_type.name
            )
            return None
        content = edit.output.content if goal.edits_content else chain.content
        step = RefinementStep(
            round=round_number,
            goal=goal.name,
            suggestion=suggestion.output.suggestion,
            edited=edit.output.instruction,
            content_edited=goal.edits_content and content != chain.content,
        )
        return replace(
            chain,
            content=content,
            instruction=edit.output.instruction,
            refinement=[*chain.refinement, step],
            call_ids=[*chain.call_ids, *suggestion.call_ids, *edit.call_ids],
            unanswerable=chain.unanswerable or goal.marks_unanswerable,
        )

    # -- teacher and verification -------------------------------------------------------------------
    async def _answer(self, context: SeedContext, chain: Chain, sample_seed: int) -> bool:
        if self.sink.full:
            return False
        variables = {
            "content": chain.content,
            "instruction": chain.instruction,
            "instruction_type": chain.instruction_type,
        }
        teacher_system = render(
            self.skill.directory,
            self.skill.prompts.teacher,
            skill=self.skill,
            instruction_type=chain.instruction_type,
        )
        result = await self.teacher.run(
            self.teacher_model,
            variables,
            system=teacher_system,
            tag=f"{self.skill.name}/teacher/{chain.instruction_type.name}",
            seed=sample_seed,
        )
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
        candidate = Candidate(
            self.skill.name,
            chain.instruction_type.name,
            chain.content,
            chain.instruction,
            result.output,
            chain.unanswerable,
        )
        verification = Verification.from_checks(run_checks(self.checks, candidate))
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
        return self.sink.accept(pair)

    def _lineage(self, context: SeedContext, chain: Chain, teacher: AgentResult) -> Lineage:
        document = context.seed.document
        return Lineage(
            document=DocumentRef(
                id=document.id, source=document.source, sha256=document.sha256, span=context.seed.span
            ),
            transformation=TransformationRef(agent=context.transformation.name, content=context.transformed),
            seed_instruction=SeedInstructionRef(
                agent=chain.instruction_type.name, text=chain.seed_instruction
            ),
            refinement=list(chain.refinement),
            teacher=TeacherRef(
                model=self.teacher_model.name,
                params={"temperature": self.teacher.temperature, "max_tokens": self.teacher.max_tokens},
            ),
            call_ids=[*context.call_ids, *chain.call_ids, *teacher.call_ids],
        )

    # -- rejections --------------------------------------------------------------------------------
    def _reject_agent(
        self, seed: Seed, stage: str, agent: str, result: AgentResult, instruction_type: str | None = None
    ) -> None:
        kind = "not_suitable" if result.status == "not_suitable" else "agent_failed"
        self.sink.reject(
            Rejection(
                id=Rejection.make_id(self.skill.name, seed.id, stage, agent, instruction_type),
                skill=self.skill.name,
                instruction_type=instruction_type,
                stage=stage,
                reason=f"{kind}:{stage}",
                detail=f"{agent}: {result.reason}",
                lineage={"document": _document_ref(seed), "call_ids": result.call_ids},
            )
        )

    def _reject(
        self,
        seed: Seed,
        stage: str,
        reason: str,
        detail: str,
        chain: Chain,
        lineage: Lineage,
        messages: list[dict],
        verification: Verification | None = None,
    ) -> None:
        self.sink.reject(
            Rejection(
                id=Rejection.make_id(self.skill.name, seed.id, stage, chain.instruction, chain.content),
                skill=self.skill.name,
                instruction_type=chain.instruction_type.name,
                stage=stage,
                reason=reason,
                detail=detail,
                messages=messages,
                lineage=lineage.model_dump(mode="json"),
                verification=verification,
            )
        )


def _document_ref(seed: Seed) -> dict:
    document = seed.document
    return {"id": document.id, "source": document.source, "sha256": document.sha256, "span": list(seed.span)}
