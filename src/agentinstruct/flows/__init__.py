"""Flows: how a skill's agents run over one seed, and the registry that maps a skill's `flow:` to a class.

`SkillFlow` (in `skill_flow`, its teacher stage in `teaching`) is the shared AgentInstruct machinery:
transform → instruct → refine → answer → verify. Skills whose output has another shape (tool-call
traces, multi-turn conversations) subclass it in their own module and register under the name their
skill file gives in `flow:`.
Scheduling many seeds is `agentinstruct.pipeline`'s job.
"""

from __future__ import annotations

from agentinstruct.flows.skill_flow import SkillFlow
from agentinstruct.flows.state import FlowSettings, Sink, derive_seed

FLOWS: dict[str, type[SkillFlow]] = {"standard": SkillFlow}


def register_flow(name: str, flow: type[SkillFlow]) -> None:
    """Make a flow class available to skill files as `flow: NAME`."""
    FLOWS[name] = flow


def flow_class(name: str) -> type[SkillFlow]:
    """The flow class for a skill's `flow:` value; an unknown name names the known ones."""
    _load_bundled_flows()
    if name not in FLOWS:
        raise ValueError(f"unknown flow {name!r}; known flows: {sorted(FLOWS)}")
    return FLOWS[name]


def _load_bundled_flows() -> None:
    """Import the flow modules shipped with the package so that they register themselves."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        if module.name not in ("skill_flow", "teaching", "state", "resources", "records", "outputs"):
            importlib.import_module(f"{__name__}.{module.name}")


__all__ = ["FLOWS", "FlowSettings", "Sink", "SkillFlow", "derive_seed", "flow_class", "register_flow"]
