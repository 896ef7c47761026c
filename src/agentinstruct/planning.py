"""Planning: which (skill, seed) units a stream of seeds makes, for the whole run or one shard.

Skill routing lives here: a seed goes to every selected skill that takes its kind, as many times as the
skill's weight gives it instructions (`FlowSettings.instructions_for`). Running the units is
`agentinstruct.pipeline`; the flows are `agentinstruct.flows`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agentinstruct.documents import DocumentFailure, Seed
from agentinstruct.flows.state import FlowSettings
from agentinstruct.sharding import Shard
from agentinstruct.skills import Skill


@dataclass
class Planned:
    """What one item of the seed stream means for this shard."""

    owned: bool
    failure: DocumentFailure | None = None
    new_document: bool = False
    no_skill: bool = False
    units: list[tuple[Skill, int, str]] = field(default_factory=list)  # (skill, ordinal, unit key)


class Planner:
    """Turns the seed stream into (skill, seed, ordinal) units for one shard (or the whole run).

    Ordinals (the n-th seed a skill gets, which steers taxonomy coverage) are counted over the whole input,
    whichever shard owns the seed, so sharded runs make exactly the units of an unsharded one. A seed
    that a skill's weight gives no instruction (`FlowSettings.instructions_for`) makes no unit. `only`
    restricts the units to a set of keys (a dry run's sample) without changing ordinals.
    """

    def __init__(
        self,
        skills: list[Skill],
        shard: Shard | None = None,
        only: set[str] | None = None,
        settings: FlowSettings | None = None,
    ):
        self.skills = skills
        self.shard = shard
        self.only = only
        self.settings = settings or FlowSettings()
        self.ordinals = dict.fromkeys((s.name for s in skills), 0)
        self._last_document = ""

    def plan(self, item: Seed | DocumentFailure) -> Planned:
        if isinstance(item, DocumentFailure):
            return Planned(owned=self._owns(item.source), failure=item)
        new_document = item.document.id != self._last_document
        self._last_document = item.document.id
        owned = self._owns(item.document.id)
        matching = [s for s in self.skills if item.kind in s.seed_kinds]
        planned = Planned(owned=owned, new_document=new_document, no_skill=not matching and new_document)
        for skill in matching:
            if self.settings.instructions_for(skill, item.id) == 0:
                continue  # the skill's weight gives this seed nothing: no unit, and no ordinal used up
            ordinal = self.ordinals[skill.name]
            self.ordinals[skill.name] += 1
            key = unit_key(skill.name, item)
            if owned and (self.only is None or key in self.only):
                planned.units.append((skill, ordinal, key))
        return planned

    def _owns(self, key: str) -> bool:
        return self.shard is None or self.shard.owns(key)


def unit_key(skill: str, seed: Seed) -> str:
    """The unit table key of a (skill, seed) unit."""
    return f"{skill}:{seed.id}"
