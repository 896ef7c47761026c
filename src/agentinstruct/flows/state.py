"""What a flow carries between its steps: run settings, the per-seed context and one instruction's chain.

Plain data and the small helpers that derive from it (sampling seeds, the document reference of a seed);
the steps themselves are in `skill_flow` and the skill-specific flow modules.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from agentinstruct.documents import Seed
from agentinstruct.pairs import Pair, RefinementStep, Rejection
from agentinstruct.quality.constraints import Constraint
from agentinstruct.skills import InstructionType, Skill, Transformation


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
    skill_weights: Mapping[str, float] = field(default_factory=dict)

    def instructions_for(self, skill: Skill, seed_id: str) -> int:
        """How many instructions a seed gives a skill: the skill's per-seed count times its weight.

        A fractional product is rounded up or down at random, reproducibly per (run seed, skill, seed), so
        the expectation is exact: weight 0.25 on a one-instruction skill gives about one seed in four an
        instruction and the others none (no unit at all), weight 3 gives every seed three.
        """
        per_seed = self.instructions_per_seed or skill.instructions_per_seed
        expected = per_seed * self.skill_weights.get(skill.name, 1.0)
        count = int(expected)
        fraction = expected - count
        if fraction > 0:
            draw = random.Random(derive_seed(self.run_seed, skill.name, seed_id, "fan-out")).random()
            count += int(draw < fraction)
        return count


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
    constraints: tuple[Constraint, ...] = ()
    #: any further fields the instruction or editor agent returned (e.g. the APIs a request needs)
    details: dict[str, Any] = field(default_factory=dict)
    #: code computed `details["answer_key"]` from the task's structure (`skills.KEY_COMPUTING_SHAPES`)
    key_by_code: bool = False


@dataclass(frozen=True)
class SeedContext:
    """What every step of one seed's flow shares."""

    seed: Seed
    transformation: Transformation
    transformed: str
    call_ids: tuple[str, ...]


def output_details(output: Any) -> dict[str, Any]:
    """The fields of an instruction or edit output beyond the ones every flow reads."""
    common = {"suitable", "reason", "instruction", "content", "constraints"}
    return output.model_dump(exclude=common) if output is not None else {}


def document_ref(seed: Seed) -> dict:
    """The lineage reference of the document a seed came from."""
    document = seed.document
    return {"id": document.id, "source": document.source, "sha256": document.sha256, "span": list(seed.span)}
