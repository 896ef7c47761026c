"""The AgentInstruct flow for one seed and one skill: transform → instruct → refine → answer → verify.

`SkillFlow` drives a skill's agents (built from its YAML file and templates) over one seed and hands
every pair and every rejection to a `Sink` as soon as it exists. Randomness (which transformation,
which instruction types, which refinement goals) comes from a generator seeded by the run seed, skill
and seed id, so a run is reproducible with `--seed` whatever order the scheduler happens to use.
The teacher's answer and its verification (the last two steps) are the base class `TeachingStage`, in
`flows.teaching`. Scheduling many seeds is `agentinstruct.pipeline`'s job; writing files is
`agentinstruct.writers`'.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from typing import Any

from agentinstruct.agent_outputs import (
    ComputedAnswerOutput,
    ConstrainedEditOutput,
    ConstrainedInstructionOutput,
    EditOutput,
    InstructionOutput,
    KeyRecheckOutput,
    RuleChecksOutput,
    RuleFunctionOutput,
    SuggestionOutput,
)
from agentinstruct.agents import PROMPTS_DIR, Agent, AgentResult
from agentinstruct.documents import Seed
from agentinstruct.field_formats import shown_in_task
from agentinstruct.flows.estimates import ESTIMATE_CHECK, estimate_agent
from agentinstruct.flows.outputs import (
    length_growth,
    with_content_rules,
    with_length_floors,
    with_skill_fields,
    with_task_rules,
    with_type_rules,
)
from agentinstruct.flows.resources import FlowResources
from agentinstruct.flows.shaped_content import shaped_output
from agentinstruct.flows.state import (
    Chain,
    FlowSettings,
    SeedContext,
    Sink,
    derive_seed,
    output_details,
)
from agentinstruct.flows.task_shapes import task_shaped
from agentinstruct.flows.teaching import TeachingStage
from agentinstruct.flows.verbatim import seed_words
from agentinstruct.models.base import Model
from agentinstruct.pairs import RefinementStep
from agentinstruct.quality.checks import resolve_checks
from agentinstruct.quality.constraints import describe
from agentinstruct.skills import (
    PROGRAM_AIDED_PROMPTS,
    SHAPE_FIELDS,
    UNAIDED_SHAPES,
    InstructionType,
    RefinementGoal,
    Skill,
    Transformation,
)

__all__ = ["Chain", "FlowSettings", "SeedContext", "Sink", "SkillFlow", "derive_seed"]


class SkillFlow(TeachingStage):
    """Runs one skill's agents over seeds; stateless between seeds, safe to run concurrently."""

    def __init__(
        self,
        skill: Skill,
        model: Model,
        sink: Sink,
        settings: FlowSettings,
        teacher: Model | None = None,
        resources: FlowResources | None = None,
    ):
        self.skill = skill
        self.resources = resources or FlowResources()
        self.model = model
        self.teacher_model = teacher or model
        self.sink = sink
        self.settings = settings
        self.rounds = (
            skill.refinement.rounds if settings.refinement_rounds is None else settings.refinement_rounds
        )
        share = (
            skill.unanswerable_share if settings.unanswerable_share is None else settings.unanswerable_share
        )
        self.unanswerable_share = share
        self.checks = resolve_checks(skill.checks)
        self.teacher_tools = self.resources.tool_loop(skill.teacher_tools)
        if (
            self.teacher_tools is not None
            and skill.tools_without_function_calling == "skip"
            and not self.teacher_tools.native_for(self.teacher_model)
        ):
            # a small model answering through emulated JSON actions squeezes its reply into one line;
            # the skill's checks redo the tools' work (fermi's arithmetic), so free text loses nothing
            self.teacher_tools = None
        self._teacher_systems: dict[str, str] = {}
        self._agents(skill, settings)

    def agent(
        self,
        name: str,
        template: str,
        output: type | None,
        *,
        teacher: bool = False,
        reconsider_declines: bool = False,
        fallback: tuple[str, str, str] | None = None,
    ) -> Agent:
        """An agent of this skill with the run's sampling settings (the teacher's when `teacher`)."""
        settings = self.settings
        return Agent(
            name,
            template,
            self.skill.directory,
            output,
            temperature=settings.teacher_temperature if teacher else settings.temperature,
            max_tokens=settings.teacher_max_tokens if teacher else settings.max_tokens,
            reconsider_declines=reconsider_declines,
            fallback=fallback,
        )

    def _agents(self, skill: Skill, settings: FlowSettings) -> None:
        agent = self.agent
        self.transformers = {
            t.name: agent(
                t.name, skill.transformation_prompt(t), with_content_rules(shaped_output(t.content_shape), t)
            )
            for t in skill.transformations
            if not t.verbatim
        }
        instruction_outputs = {
            shape: with_task_rules(
                with_skill_fields(
                    ConstrainedInstructionOutput if skill.constraints else InstructionOutput,
                    _fields_of(skill, shape),
                    key=skill.instruction_key,
                    description=skill.instruction_description,
                    formats=skill.field_formats,
                ),
                skill,
            )
            for shape in {t.task_shape for t in skill.instruction_types}
        }
        # an instruction agent's decline is reconsidered once: small models decline material that fits
        self.instructors = {
            t.name: agent(
                t.name,
                t.prompt or skill.prompts.instruction,
                with_length_floors(
                    with_type_rules(
                        task_shaped(instruction_outputs[t.task_shape], t.task_shape, skill.instruction_key), t
                    ),
                    length_growth(skill, t),
                ),
                reconsider_declines=True,
                fallback=(skill.instruction_key, t.fallback_task, t.intent) if t.fallback_task else None,
            )
            for t in skill.instruction_types
        }
        self.suggester = agent("suggester", skill.prompts.suggester, SuggestionOutput)
        edit_output = with_skill_fields(
            ConstrainedEditOutput if skill.constraints else EditOutput,
            _fields_of(skill, "text", for_editor=True),  # the editor rewrites the task as text
            key=skill.instruction_key,
            formats=skill.field_formats,
        )
        edit_output = with_length_floors(with_task_rules(edit_output, skill), length_growth(skill))
        self.editor = agent("editor", skill.prompts.editor, edit_output)
        self.teacher = agent("teacher", skill.prompts.user_turn, None, teacher=True)
        self.aiders = self._aiders(skill, settings)
        self.key_checker = None
        if skill.key_recheck:
            self.key_checker = Agent(
                "key_recheck",
                "key_recheck.j2",
                PROMPTS_DIR,
                KeyRecheckOutput,
                temperature=settings.temperature,
                max_tokens=settings.max_tokens,
            )

    def _aiders(self, skill: Skill, settings: FlowSettings) -> dict[str, Agent]:
        """Per task shape, the teacher writing a program for a program-aided answer (none without
        program_aided or for UNAIDED_SHAPES): a shape's own prompt (PROGRAM_AIDED_PROMPTS), else two programs
        printing a numeric key from one shared prompt (text and sequence tasks; `flows.program_aided` asks
        nothing of it when the key is not a number), or for a skill checked step by step (fermi) the
        estimate written as named steps (`flows.estimates`)."""
        aiders: dict[str, Agent] = {}
        shapes = {t.task_shape for t in skill.instruction_types} if skill.program_aided else set()
        outputs = {"arrangement": RuleChecksOutput, "held_out": RuleFunctionOutput}
        for shape in sorted(shapes & set(PROGRAM_AIDED_PROMPTS)):
            asked = PROGRAM_AIDED_PROMPTS[shape][0]
            aiders[shape] = self.agent(asked, skill.prompts.extra[asked], outputs[shape], teacher=True)
        numeric = sorted(shapes - set(PROGRAM_AIDED_PROMPTS) - UNAIDED_SHAPES)
        if numeric and ESTIMATE_CHECK in skill.checks:  # no key to compute: named steps code computes
            estimate = estimate_agent(settings.teacher_temperature, settings.teacher_max_tokens)
            aiders.update(dict.fromkeys(numeric, estimate))
        elif numeric:
            computed = Agent(
                "computed_answer",
                "computed_answer.j2",
                PROMPTS_DIR,
                ComputedAnswerOutput,
                temperature=settings.teacher_temperature,
                max_tokens=settings.teacher_max_tokens,
            )
            aiders.update(dict.fromkeys(numeric, computed))
        return aiders

    # -- one seed ----------------------------------------------------------------------------------
    async def run_seed(self, seed: Seed, ordinal: int | None = None) -> int:
        """Run the whole flow on one seed; returns the number of pairs accepted.

        `ordinal` is the seed's position among the seeds this skill gets in the run: with it, the
        transformation and instruction types rotate through the taxonomy so a run covers it evenly;
        without it (a lone seed) they are drawn at random.
        """
        rng = random.Random(derive_seed(self.settings.run_seed, self.skill.name, seed.id))
        count = self.settings.instructions_for(self.skill, seed.id)
        if count == 0:  # the skill's weight gave this seed no instruction (the planner makes no such unit)
            return 0
        transformation, chosen = self._choose(rng, ordinal, count, seed.kind)
        stand_in = self._stand_in(transformation, chosen, seed.kind)
        context = await self._transform(seed, transformation, stand_in=stand_in)
        if context is None:
            return 0
        chosen = self._fitting(chosen, context.transformed, context.transformation)
        chain_seeds = [rng.getrandbits(32) for _ in chosen]
        counts = await asyncio.gather(
            *(self._run_chain(context, itype, cs) for itype, cs in zip(chosen, chain_seeds, strict=True))
        )
        return sum(counts)

    async def _transform(
        self, seed: Seed, transformation: Transformation, stand_in: Transformation | None = None
    ) -> SeedContext | None:
        """The transformed seed: the agent's rewrite, or the seed's own words if verbatim (None: rejected).

        When the agent fails to write valid output (not when it finds the seed unsuitable), the failure is
        recorded and `stand_in`, a transformation that suits the same instruction types, is tried instead.
        """
        if transformation.verbatim:  # the seed's own words: no model call, so no call ids
            kept = seed_words(seed, transformation, self.settings.run_seed)
            if kept.text is None:
                unsuitable = AgentResult("not_suitable", reason=kept.reason)
                self._reject_agent(seed, "transformation", transformation.name, unsuitable)
                return None
            return SeedContext(seed, transformation, kept.text, ())
        result = await self.transformers[transformation.name].run(
            self.model,
            {"seed": seed.text, "transformation": transformation, "skill": self.skill},
            tag=f"{self.skill.name}/transform/{transformation.name}",
            seed=derive_seed(self.settings.run_seed, seed.id, "transform"),
        )
        if not result.ok:
            self._reject_agent(seed, "transformation", transformation.name, result)
            if stand_in is None or result.status == "not_suitable":
                return None
            return await self._transform(seed, stand_in)
        return SeedContext(seed, transformation, result.output.content, tuple(result.call_ids))

    def _stand_in(
        self, transformation: Transformation, chosen: list[InstructionType], kind: str | None
    ) -> Transformation | None:
        """Another transformation for the seed's kind that suits every chosen type (None if there is none).

        s31 and s37 each lost a few_shot_reasoning unit at term_pattern, whose types pattern_builder also
        takes; a skill with one transformation per seed kind has no stand-in.
        """
        names = {t.name for t in chosen}
        for other in self._transformations_for(kind):
            if other.name != transformation.name and names <= {t.name for t in self.skill.types_for(other)}:
                return other
        return None

    def _transformations_for(self, kind: str | None) -> list[Transformation]:
        """The skill's transformations that take a seed kind (all, if none declares it)."""
        return [
            t for t in self.skill.transformations if kind is None or not t.seed_kinds or kind in t.seed_kinds
        ] or self.skill.transformations

    def _choose(
        self, rng: random.Random, ordinal: int | None, count: int, kind: str | None = None
    ) -> tuple[Transformation, list[InstructionType]]:
        """The seed's transformation and `count` instruction types: rotated by ordinal, or random without one.

        Only transformations that take the seed's `kind` are candidates (all, if none declares it).
        """
        transformations = self._transformations_for(kind)
        if ordinal is None:
            transformation = rng.choice(transformations)
            candidates = self.skill.types_for(transformation)
            return transformation, rng.sample(candidates, k=min(count, len(candidates)))
        run_rng = random.Random(derive_seed(self.settings.run_seed, self.skill.name, "rotation"))
        order = run_rng.sample(transformations, k=len(transformations))
        position = ordinal % len(order)
        transformation = order[position]
        candidates = self.skill.types_for(transformation)
        # how many earlier seeds drew from the same list of types: they continue one rotation together
        names = {t.name for t in candidates}
        sharing = [i for i, t in enumerate(order) if {c.name for c in self.skill.types_for(t)} == names]
        turn = (ordinal // len(order)) * len(sharing) + sharing.index(position)
        types = run_rng.sample(candidates, k=len(candidates))
        count = min(count, len(types))
        return transformation, [types[(turn * count + i) % len(types)] for i in range(count)]

    def _fitting(
        self, chosen: list[InstructionType], material: str, transformation: Transformation
    ) -> list[InstructionType]:
        """The chosen types, each one the material cannot carry replaced by the first unchosen one it can.

        The local model wrote quote_extraction tasks on texts without a quotation, and the teacher then
        "quoted" a whole paragraph (runs s10b, s11a); a type's material_must_match says what it needs.
        """
        spare = [t for t in self.skill.types_for(transformation) if t.fits(material) and t not in chosen]
        fitting = [t for t in chosen if t.fits(material)]
        return fitting + spare[: len(chosen) - len(fitting)]

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
        text = self._whole_task(result.output)
        details = self._details(result.output)
        written_for, itype = itype, self._type_of_request(context, itype, result.output)
        if itype.name != written_for.name:
            details["written_for"] = written_for.name
        chain = Chain(
            itype,
            context.transformed,
            text,
            text,
            call_ids=list(result.call_ids),
            constraints=tuple(getattr(result.output, "constraints", ())),
            details=details,
            key_by_code=getattr(result.output, "key_by_code", False),
        )
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

    def _type_of_request(self, context: SeedContext, itype: InstructionType, output: Any) -> InstructionType:
        """The instruction type a written task is recorded under: the one asked for, unless a flow finds
        that the task fits another of the skill's types (tool_use: `refitted_variant`)."""
        return itype

    def _whole_task(self, output: Any) -> str:
        """The task an instruction or editor agent wrote, with the skill's appended fields (options...)."""
        task = output.instruction.rstrip()
        for name in self.skill.appended_fields:
            part = str(getattr(output, name, "")).strip()
            if part and part not in task:  # an editor may already have written them into the task
                task += "\n" + part
        for name, format_name in self.skill.field_formats.items():
            task = shown_in_task(format_name, task, str(getattr(output, name, "")))
        return task

    def _details(self, output: Any) -> dict[str, Any]:
        details = output_details(output)
        return {k: v for k, v in details.items() if k not in self.skill.appended_fields}

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
            "constraints": [describe(c) for c in chain.constraints],
            "details": chain.details,
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
        edited = self._whole_task(edit.output)
        details = self._details(edit.output)  # none: the edit keeps the chain's fields and their key
        step = RefinementStep(
            round=round_number,
            goal=goal.name,
            suggestion=suggestion.output.suggestion,
            edited=edited,
            content_edited=goal.edits_content and content != chain.content,
        )
        return replace(
            chain,
            content=content,
            instruction=edited,
            refinement=[*chain.refinement, step],
            call_ids=[*chain.call_ids, *suggestion.call_ids, *edit.call_ids],
            unanswerable=chain.unanswerable or goal.marks_unanswerable,
            constraints=tuple(getattr(edit.output, "constraints", chain.constraints)),
            details=details or chain.details,
            key_by_code=getattr(edit.output, "key_by_code", False) if details else chain.key_by_code,
        )


def _fields_of(skill: Skill, shape: str, *, for_editor: bool = False) -> dict[str, str]:
    """The instruction_fields of a task of this shape: the skill's shape-only fields only where the shape
    writes them (a riddle's author asked for a solver program writes one; a sequence has none), and its
    editor-only fields only for the editor (asked for a plain question's false premise, a small instruction
    agent writes junk that a check then holds the answer to)."""
    written = SHAPE_FIELDS.get(shape, ())
    return {
        name: description
        for name, description in skill.instruction_fields.items()
        if (name not in skill.shape_only_fields or name in written)
        and (for_editor or name not in skill.editor_only_fields)
    }
