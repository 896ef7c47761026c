"""The tool-use flow (SPEC §2 row 3): API specs from a code or API-documentation seed, user requests of
seven variants against them, and teacher traces in OpenAI tool-call format validated call by call.

The API list starts from the seed (`api_from_code` or `api_from_docs`) and grows once, with
`api_retrieval` (similar code found by searching the run's corpus) or `library_reconstruction` (sibling
APIs proposed by the model), rotating between the two across a run. Specs that are not valid JSON schema
are rejected with the reason. The teacher writes its whole turn as structured steps (works on servers
without native tool calls); the steps become OpenAI messages and go through `validate_trace`; a failing
trace goes back to the teacher once with the problems, then is rejected. On the variants whose answer is a
refusal or a question (`DECLINED_VARIANTS`), a teacher's "not suitable" exit is taken as that answer; on
the others it is asked once more with the APIs the request needs (`prompts.extra.suitable_again`).
Output models and converters live in `flows.tool_use_apis` and `flows.tool_use_outputs`, the
validators in `quality.tool_calls` and `quality.tool_traces`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from dataclasses import dataclass
from typing import Any

from agentinstruct.agent_outputs import SuggestionOutput
from agentinstruct.agents import PROMPTS_DIR, AgentResult, render
from agentinstruct.documents import Seed
from agentinstruct.flows import register_flow
from agentinstruct.flows.outputs import with_validator
from agentinstruct.flows.skill_flow import SkillFlow
from agentinstruct.flows.state import Chain, FlowSettings, SeedContext, derive_seed, document_ref
from agentinstruct.flows.tool_use_apis import listed_apis
from agentinstruct.flows.tool_use_outputs import (
    ApiListOutput,
    ToolEditOutput,
    ToolInstructionOutput,
    TraceOutput,
    TraceStep,
    convert_apis,
    refitted_variant,
    render_apis,
    request_problem,
    tools_of,
    trace_to_messages,
)
from agentinstruct.pairs import Check, Pair, Rejection, Verification
from agentinstruct.quality.gate import deliver
from agentinstruct.quality.tool_calls import ApiSpec, specs_by_name
from agentinstruct.quality.tool_traces import validate_trace
from agentinstruct.skills import InstructionType, Skill

#: how the API list grows after the first transformation, rotated across the run's seeds
GROWTH = ("api_retrieval", "library_reconstruction")
#: request variants whose right answer is a refusal or a question and no call: a teacher that exits "not
#: suitable" with a reason has answered, only in the wrong field, so the reason becomes its say step
DECLINED_VARIANTS = frozenset({"api_not_available", "single_api_missing_params", "multi_api_missing_params"})
#: the first transformation per seed kind
FIRST = {"api": "api_from_docs", "code": "api_from_code"}


@dataclass(frozen=True)
class ApiContext(SeedContext):
    """A seed's context plus the validated API specs its requests are written against."""

    specs: tuple[ApiSpec, ...] = ()


class ToolUseFlow(SkillFlow):
    """API specs → requests of the seven variants → refined requests → validated tool-call traces."""

    def _agents(self, skill: Skill, settings: FlowSettings) -> None:
        super()._agents(skill, settings)
        self.transformers = {
            t.name: self.agent(t.name, skill.transformation_prompt(t), ApiListOutput)
            for t in skill.transformations
        }
        names = frozenset(t.name for t in skill.instruction_types)
        self.instructors = {
            t.name: self.agent(t.name, t.prompt or skill.prompts.instruction, request_output(t.name, names))
            for t in skill.instruction_types
        }
        self.suggester = self.agent("suggester", skill.prompts.suggester, SuggestionOutput)
        self.editor = self.agent("editor", skill.prompts.editor, ToolEditOutput)
        self.teacher = self.agent("teacher", skill.prompts.user_turn, TraceOutput, teacher=True)

    async def run_seed(self, seed: Seed, ordinal: int | None = None) -> int:
        """Build the seed's API list, then run one chain per chosen request variant."""
        rng = random.Random(derive_seed(self.settings.run_seed, self.skill.name, seed.id))
        count = self.settings.instructions_for(self.skill, seed.id)
        if count == 0:  # the skill's weight gave this seed no instruction
            return 0
        _, chosen = self._choose(rng, ordinal, count)
        context = await self._build_apis(seed, ordinal, rng)
        if context is None:
            return 0
        if len(context.specs) < 2:  # a multi-API request needs two APIs; use single-API variants instead
            singles = [t for t in self.skill.instruction_types if not t.name.startswith("multi_api")]
            chosen = [t if not t.name.startswith("multi_api") else rng.choice(singles) for t in chosen]
            chosen = list({t.name: t for t in chosen}.values())  # types are not hashable: dedup by name
        chain_seeds = [rng.getrandbits(32) for _ in chosen]
        counts = await asyncio.gather(
            *(self._run_chain(context, itype, cs) for itype, cs in zip(chosen, chain_seeds, strict=True))
        )
        return sum(counts)

    # -- API list ----------------------------------------------------------------------------------
    async def _build_apis(self, seed: Seed, ordinal: int | None, rng: random.Random) -> ApiContext | None:
        first = FIRST.get(seed.kind, "api_from_code")
        result = await self._transform(seed, first, {"seed": seed.text})
        if result is None:
            return None
        specs = self._accept_specs(seed, first, result, [])
        if not specs:
            return None
        call_ids = list(result.call_ids)
        growth = GROWTH[ordinal % len(GROWTH)] if ordinal is not None else rng.choice(GROWTH)
        variables = {"apis": render_apis(specs)}
        if growth == "api_retrieval":
            similar = await self._similar_code(seed)
            if similar is None:
                growth = "library_reconstruction"
            else:
                variables["seed"] = similar
        grown = await self._transform(seed, growth, variables)
        if grown is not None:
            specs += self._accept_specs(seed, growth, grown, specs)
            call_ids += grown.call_ids
        else:
            growth = ""
        name = f"{first}+{growth}" if growth else first
        transformation = self.skill.transformations[0].model_copy(update={"name": name})
        return ApiContext(seed, transformation, render_apis(specs), tuple(call_ids), tuple(specs))

    async def _transform(self, seed: Seed, name: str, variables: dict) -> AgentResult | None:
        transformation = next(t for t in self.skill.transformations if t.name == name)
        result = await self.transformers[name].run(
            self.model,
            {**variables, "transformation": transformation, "skill": self.skill},
            tag=f"{self.skill.name}/transform/{name}",
            seed=derive_seed(self.settings.run_seed, seed.id, "transform", name),
        )
        if not result.ok:
            self._reject_agent(seed, "transformation", name, result)
            return None
        return result

    def _accept_specs(
        self, seed: Seed, agent: str, result: AgentResult, existing: list[ApiSpec]
    ) -> list[ApiSpec]:
        """The valid new specs of an agent's reply; each invalid one is recorded as a rejection."""
        specs, problems = convert_apis(result.output.apis, existing)
        for problem in problems:
            self.sink.reject(
                Rejection(
                    id=Rejection.make_id(self.skill.name, seed.id, "invalid_api_spec", agent, problem),
                    skill=self.skill.name,
                    stage="transformation",
                    reason="invalid_api_spec",
                    detail=f"{agent}: {problem}",
                    lineage={"document": document_ref(seed), "call_ids": result.call_ids},
                )
            )
        return specs

    async def _similar_code(self, seed: Seed) -> str | None:
        """The best other code or API seed in the run's corpus, or None without an index or a match."""
        search = self.resources.search
        if search is None:
            return None
        hits = await search.asearch(seed.text[:2000], k=5, exclude_ids=[seed.id])
        for hit in hits:
            same_document = hit.metadata.get("source") == seed.document.source
            if hit.metadata.get("kind") in ("code", "api") and not same_document and hit.score > 0:
                return hit.text
        return None

    def _type_of_request(self, context: SeedContext, itype: InstructionType, output: Any) -> InstructionType:
        refitted = refitted_variant(output, listed_apis(context.transformed), itype.name)
        return self.skill.types_by_name.get(refitted, itype)

    # -- teacher traces ------------------------------------------------------------------------------
    async def _answer(self, context: SeedContext, chain: Chain, sample_seed: int) -> bool:
        if self.sink.full or not isinstance(context, ApiContext):
            return False
        result, messages, problems, notes = await self._trace(context, chain, sample_seed)
        lineage = self._lineage(context, chain, result)
        if not result.ok:
            user = [{"role": "user", "content": chain.instruction}]
            self._reject(context.seed, "teacher", "agent_failed:teacher", result.reason, chain, lineage, user)
            return False
        if problems:
            checks = [Check(name="tool_trace", ok=False, detail=p) for p in problems]
            verification = Verification.from_checks(checks)
            self._reject(
                context.seed,
                "verification",
                "verification_failed:tool_trace",
                "; ".join(problems),
                chain,
                lineage,
                messages,
                verification,
            )
            return False
        calls = sum(len(m.get("tool_calls") or []) for m in messages)
        checks = [Check(name="tool_trace", ok=True, detail=f"{calls} call(s) valid against their schemas")]
        checks += notes
        if written_for := chain.details.get("written_for"):
            detail = f"written as {written_for}; its number of APIs fits {chain.instruction_type.name}"
            checks.append(Check(name="variant_refitted", ok=True, detail=detail))
        pair = Pair.build(
            skill=self.skill.name,
            instruction_type=chain.instruction_type.name,
            messages=messages,
            tools=tools_of(list(context.specs)),
            lineage=lineage,
            verification=Verification.from_checks(checks),
        )
        return await deliver(self.sink, pair)

    async def _trace(
        self, context: ApiContext, chain: Chain, sample_seed: int
    ) -> tuple[AgentResult, list[dict], list[str], list[Check]]:
        """The teacher's trace as OpenAI messages, its problems and notes on how it was obtained (a
        repair, a decline taken from the exit), after up to `repair_rounds` repairs."""
        itype = chain.instruction_type
        variables = {"content": chain.content, "instruction": chain.instruction, "instruction_type": itype}
        system = render(
            self.skill.directory, self.skill.prompts.teacher, skill=self.skill, instruction_type=itype
        )
        tag = f"{self.skill.name}/teacher/{itype.name}"
        result = await self.teacher.run(
            self.teacher_model, variables, system=system, tag=tag, seed=sample_seed
        )
        specs = specs_by_name(context.specs)
        missing = chain.details.get("missing_information") or []
        messages: list[dict] = []
        problems: list[str] = []
        first_problems = ""
        notes: list[Check] = []
        result = await self._past_wrong_exit(result, chain, variables, sample_seed, notes)
        for repair in range(self.skill.repair_rounds + 1):
            result, declined = decline_as_answer(result, itype.name)
            if declined:
                detail = "the teacher exited as not suitable; its reason became the final say step"
                notes.append(Check(name="decline_from_exit", ok=True, detail=detail))
            if not result.ok:
                return result, messages, problems, []
            messages = trace_to_messages(result.output, chain.instruction, self.skill.system_prompt)
            problems = validate_trace(messages, specs, itype.name, missing=missing)
            if not problems or repair == self.skill.repair_rounds:
                break
            first_problems = first_problems or "; ".join(problems)
            failures = [Check(name="tool_trace", ok=False, detail=p) for p in problems]
            feedback = render(PROMPTS_DIR, "repair.j2", failures=failures)
            result = await self.teacher.revise(
                self.teacher_model, result, feedback, variables, tag=f"{tag}/repair", seed=sample_seed
            )
        if first_problems and not problems:
            detail = f"passed after {repair} repair round(s); the first trace failed: {first_problems}"
            notes.append(Check(name="repaired", ok=True, detail=detail))
        return result, messages, problems, notes

    async def _past_wrong_exit(
        self, result: AgentResult, chain: Chain, variables: dict, sample_seed: int, notes: list[Check]
    ) -> AgentResult:
        """A "not suitable" exit on a request whose answer makes calls, asked once more with the APIs it
        needs (`prompts.extra.suitable_again`); the first exit stands when the second reply is no trace.

        s39: the 1.5B teacher exited on a single_api_extra_params request ("the assistant only performs
        one operation at a time") and on a multi_api_some_missing one ("you need to use get_inventory
        before adding"), and both units were lost.
        """
        itype = chain.instruction_type
        template = self.skill.prompts.extra.get("suitable_again")
        if result.status != "not_suitable" or itype.name in DECLINED_VARIANTS or template is None:
            return result
        apis = [str(name) for name in chain.details.get("apis_needed") or []]
        feedback = render(
            self.skill.directory, template, reason=result.reason, needed_apis=apis, instruction_type=itype
        )
        tag = f"{self.skill.name}/teacher/{itype.name}/suitable_again"
        again = await self.teacher.revise(
            self.teacher_model, result, feedback, variables, tag=tag, seed=sample_seed
        )
        if not again.ok:
            result.call_ids = again.call_ids
            return result
        detail = (
            f"the teacher first exited as not suitable ({result.reason.strip()}); asked again, it answered"
        )
        notes.append(Check(name="exit_reconsidered", ok=True, detail=detail))
        return again


def request_output(variant: str, variants: frozenset[str] = frozenset()) -> type[ToolInstructionOutput]:
    """The instruction output of a variant: a request whose own needs contradict the variant goes back,
    unless only its number of APIs does and it fits another of the skill's `variants` (`refitted_variant`)."""

    def check_shape(reply: ToolInstructionOutput, material: str) -> None:
        apis = listed_apis(material)
        problem = request_problem(reply, apis, variant)
        if problem and refitted_variant(reply, apis, variant) not in variants:
            raise ValueError(problem)

    return with_validator(ToolInstructionOutput, "_request_shape", check_shape, with_material=True)


def decline_as_answer(result: AgentResult, variant: str) -> tuple[AgentResult, bool]:
    """A "not suitable" exit on a variant whose answer is a decline or a question, as a one-step trace.

    The small models decline such requests through the exit (the API is missing, the user left out a
    value) instead of in the say step. The trace still goes through `validate_trace`, so a reason that
    neither declines nor asks is repaired or rejected like any other trace.
    """
    if result.status != "not_suitable" or variant not in DECLINED_VARIANTS or not result.reason.strip():
        return result, False
    trace = TraceOutput(steps=[TraceStep(kind="say", content=result.reason.strip())])
    return dataclasses.replace(result, status="ok", output=trace, reason=""), True


register_flow("tool_use", ToolUseFlow)
