"""What a flow records besides pairs: a pair's lineage and the rejections of failed or unsuitable steps.

`FlowRecords` is a mixin of `SkillFlow` (it needs the flow's `skill`, `sink`, `teacher` and
`teacher_model`); it holds no state of its own.
"""

from __future__ import annotations

from typing import Any

from agentinstruct.agents import AgentResult
from agentinstruct.documents import Seed
from agentinstruct.flows.state import Chain, SeedContext, document_ref
from agentinstruct.pairs import (
    DocumentRef,
    Lineage,
    Rejection,
    SeedInstructionRef,
    TeacherRef,
    TransformationRef,
    Verification,
)


class FlowRecords:
    """Builds lineage and rejection records for a flow."""

    skill: Any
    sink: Any
    teacher: Any
    teacher_model: Any

    def _lineage(self, context: SeedContext, chain: Chain, teacher: AgentResult) -> Lineage:
        document = context.seed.document
        return Lineage(
            document=DocumentRef(
                id=document.id, source=document.source, sha256=document.sha256, span=context.seed.span
            ),
            transformation=TransformationRef(agent=context.transformation.name, content=context.transformed),
            seed_instruction=SeedInstructionRef(
                agent=chain.instruction_type.name, text=chain.seed_instruction, fields=dict(chain.details)
            ),
            refinement=list(chain.refinement),
            teacher=TeacherRef(
                model=self.teacher_model.name,
                params={"temperature": self.teacher.temperature, "max_tokens": self.teacher.max_tokens},
            ),
            tool_calls=[record.summary() for record in teacher.tool_calls],
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
                lineage={"document": document_ref(seed), "call_ids": result.call_ids},
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
