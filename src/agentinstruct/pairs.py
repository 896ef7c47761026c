"""The data contract of SPEC §3: an accepted pair, its lineage and verification, and a rejection.

These pydantic models are what `pairs.jsonl` and `rejected.jsonl` hold, line by line. Producing them is
`agentinstruct.flows`' job; writing them is `agentinstruct.writers`'.
"""

from __future__ import annotations

import hashlib
import json
from itertools import pairwise
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator


class DocumentRef(BaseModel):
    id: str
    source: str
    sha256: str
    span: tuple[int, int]


class TransformationRef(BaseModel):
    agent: str
    content: str


class SeedInstructionRef(BaseModel):
    agent: str
    text: str
    #: the skill's extra instruction fields (answer key, schema, solver program...) in their final state
    fields: dict[str, Any] = Field(default_factory=dict)


class RefinementStep(BaseModel):
    round: int
    goal: str
    suggestion: str
    edited: str
    content_edited: bool = False


class TeacherRef(BaseModel):
    model: str
    params: dict[str, Any] = Field(default_factory=dict)


class Lineage(BaseModel):
    document: DocumentRef
    transformation: TransformationRef | None = None
    seed_instruction: SeedInstructionRef | None = None
    refinement: list[RefinementStep] = Field(default_factory=list)
    teacher: TeacherRef | None = None
    call_ids: list[str] = Field(default_factory=list)
    #: tools the teacher ran on the way to its answer: {id, name, arguments, ok, result (cut)}
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)


class Check(BaseModel):
    name: str
    ok: bool
    detail: str = ""


class Verification(BaseModel):
    status: Literal["passed", "failed", "not_applicable"] = "not_applicable"
    checks: list[Check] = Field(default_factory=list)

    @classmethod
    def from_checks(cls, checks: list[Check]) -> Verification:
        """Passed when every check passed, failed when any failed, not_applicable when none ran."""
        if not checks:
            return cls()
        return cls(status="passed" if all(c.ok for c in checks) else "failed", checks=checks)


class Quality(BaseModel):
    judge_score: float | None = None


ROLES_IN_ORDER = ("system", "user", "assistant")


def pair_id(messages: list[dict[str, Any]]) -> str:
    """sha256 of the canonical messages, first 16 hex."""
    canonical = json.dumps(messages, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


class Pair(BaseModel):
    """One accepted training example with everything needed to trace and filter it."""

    id: str
    skill: str
    instruction_type: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    lineage: Lineage
    verification: Verification = Field(default_factory=Verification)
    quality: Quality = Field(default_factory=Quality)
    unanswerable: bool = False

    @model_validator(mode="after")
    def _roles_alternate(self) -> Pair:
        roles = [m.get("role") for m in self.messages]
        body = roles[1:] if roles and roles[0] == "system" else roles
        if not body or body[0] != "user" or body[-1] != "assistant":
            raise ValueError(f"messages must run (system) user ... assistant, got {roles}")
        for previous, current in pairwise(body):
            if previous == current and current in ("user", "assistant") and not self.tools:
                raise ValueError(f"roles must alternate, got {roles}")
        if any(not isinstance(m.get("content"), str) for m in self.messages if m.get("role") != "assistant"):
            raise ValueError("every non-assistant message needs string content")
        if self.id != pair_id(self.messages):
            raise ValueError("id must be pair_id(messages)")
        return self

    @classmethod
    def build(cls, **fields: Any) -> Pair:
        """Create a pair, deriving its id from its messages."""
        return cls(id=pair_id(fields["messages"]), **fields)


class Rejection(BaseModel):
    """Something dropped: a document, a seed unit, an agent exit or a pair that failed a check."""

    id: str
    skill: str | None = None
    instruction_type: str | None = None
    stage: str
    reason: str
    detail: str = ""
    messages: list[dict[str, Any]] = Field(default_factory=list)
    lineage: dict[str, Any] = Field(default_factory=dict)
    verification: Verification | None = None

    @staticmethod
    def make_id(*parts: Any) -> str:
        """A stable id from what identifies the dropped item, so a resumed run does not repeat it."""
        return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]
