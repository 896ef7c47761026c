"""Shared helpers of the data_to_text, fermi, text_extraction and open_domain_qa skill tests: load one skill,
render its templates with StrictUndefined, and run its flow over seeds with a scripted model."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable

from agentinstruct.agents import render
from agentinstruct.flows import FlowSettings, SkillFlow
from agentinstruct.flows.resources import FlowResources
from agentinstruct.models import ModelRequest, ScriptedModel
from agentinstruct.skills import BUNDLED_DIR, Skill, load_skill_file
from test_flows import ListSink, make_seed

SEED = (
    "The Alder Creek lighthouse opened in 1852 and was automated in 1942. Its keeper, Hannah Reed, "
    "logged 12.5 thousand visitors in her last year, while the Birch Bay light, opened in 1871, "
    "had 8 thousand."
)


def load(name: str) -> Skill:
    return load_skill_file(BUNDLED_DIR / f"{name}.yaml")


def render_template(owner: Skill, template: str, **variables: object) -> str:
    """Render with the agents' own environment (StrictUndefined): any unknown variable fails."""
    text = render(owner.directory, template, **variables)
    assert text.strip(), f"{template} rendered empty"
    assert "{{" not in text and "{%" not in text, f"{template} left template syntax in its output"
    return text


def render_every_template(skill: Skill, content: str, instruction: str, details: dict) -> list[str]:
    """Render every template of a skill with exactly the variables the flow passes; return the texts."""
    texts = []
    for t in skill.transformations:
        if not t.verbatim:  # a verbatim transformation has no template: the seed's words go on as they are
            text = render_template(
                skill, skill.transformation_prompt(t), seed=SEED, transformation=t, skill=skill
            )
            assert SEED in text and "not suitable" in text, t.name
            texts.append(text)
        for it in skill.types_for(t):
            text = render_template(
                skill,
                skill.prompts.instruction,
                content=content,
                transformation=t,
                instruction_type=it,
                skill=skill,
            )
            assert content.strip() in text and it.guidance in text and it.intent in text, it.name
            assert "not suitable" in text
            texts.append(text)
    for it in skill.instruction_types:
        text = render_template(
            skill, skill.prompts.teacher, skill=skill, instruction_type=it, tools=skill.teacher_tools
        )
        assert it.intent in text
        texts.append(text)
        user = render_template(
            skill, skill.prompts.user_turn, content=content, instruction=instruction, instruction_type=it
        )
        assert instruction.strip() in user
        for round_ in (1, 2):
            for goal in skill.refinement.goals:
                common = {
                    "content": content,
                    "instruction": instruction,
                    "instruction_type": it,
                    "goal": goal,
                    "round": round_,
                    "constraints": [],
                    "details": details,
                }
                suggestion = render_template(skill, skill.prompts.suggester, **common)
                edit = render_template(skill, skill.prompts.editor, suggestion="Make it harder.", **common)
                for text in (suggestion, edit):
                    assert content.strip() in text and instruction in text and goal.description in text
                    assert "not suitable" in text
                assert ("refinement round 2" in suggestion) == (round_ == 2)
                assert "Make it harder." in edit
                texts += [suggestion, edit]
    return texts


def variant(request: ModelRequest) -> str:
    """A short hash of the request, so distinct inputs get distinct (deduplicable) edits."""
    return hashlib.sha256(request.messages[-1]["content"].encode()).hexdigest()[:6]


def run_flow(
    skill: Skill,
    reply: Callable[[ModelRequest], object],
    seeds: int,
    *,
    resources: FlowResources | None = None,
    seed_text: str = SEED,
    **settings: object,
) -> tuple[ListSink, ScriptedModel]:
    """Run `seeds` seeds of `seed_text` through the skill's flow with ordinals (so the taxonomy rotates).

    A verbatim transformation (identity) hands `seed_text` itself to the instruction agents.
    """
    model = ScriptedModel(reply)
    sink = ListSink()
    flow = SkillFlow(skill, model, sink, FlowSettings(**settings), resources=resources)

    async def go() -> None:
        for ordinal in range(seeds):
            await flow.run_seed(make_seed(ordinal, seed_text), ordinal)

    asyncio.run(go())
    return sink, model


def stage(request: ModelRequest) -> tuple[str, list[str]]:
    _, step, *rest = request.tag.split("/")
    return step, rest
