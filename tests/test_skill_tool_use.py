"""The tool_use skill file (SPEC §2 row 3): taxonomy, settings and prompt templates."""

from __future__ import annotations

import jinja2
import jinja2.meta
import pytest

from agentinstruct.agent_outputs import SuggestionOutput
from agentinstruct.agents import Agent, render
from agentinstruct.flows.tool_use_outputs import (
    ApiListOutput,
    ToolEditOutput,
    ToolInstructionOutput,
    TraceOutput,
    render_apis,
)
from agentinstruct.quality.tool_calls import ApiSpec
from agentinstruct.quality.tool_traces import VARIANTS
from agentinstruct.skills import Skill, load_skills, taxonomy_hash

TRANSFORMATIONS = ["api_from_code", "api_retrieval", "library_reconstruction", "api_from_docs"]
GOALS = ["increase_steps", "add_dependency_between_calls"]

CODE = '''def remove_stock(inventory: dict, sku: str, amount: int) -> dict:
    """Take `amount` units of `sku` out of the inventory; raises if there is not enough stock."""
'''
APIS = render_apis(
    [
        ApiSpec(
            name="remove_stock",
            description="Take units of a product out of stock.",
            parameters={
                "type": "object",
                "properties": {
                    "sku": {"type": "string", "description": "product code"},
                    "amount": {"type": "integer", "description": "units to remove"},
                },
                "required": ["sku", "amount"],
            },
            returns={
                "type": "object",
                "properties": {"quantity": {"type": "integer", "description": "left"}},
            },
        )
    ]
)
INSTRUCTION = "We just sold 3 of the blue mugs (SKU MUG-BLUE). Please update the stock."


@pytest.fixture(scope="module")
def skill() -> Skill:
    return load_skills()["tool_use"]


def test_settings(skill: Skill) -> None:
    assert skill.seed_kinds == ["code", "api"]
    assert skill.flow == "tool_use"
    assert skill.corpus_search is True
    assert skill.repair_rounds == 1
    assert skill.instructions_per_seed == 2
    assert skill.system_prompt.strip() and skill.description.strip()
    assert (
        skill.prompts.teacher == "tool_use/teacher.j2" and skill.prompts.user_turn == "tool_use/user_turn.j2"
    )
    assert taxonomy_hash([skill])


def test_taxonomy(skill: Skill) -> None:
    assert [t.name for t in skill.transformations] == TRANSFORMATIONS
    assert [t.source for t in skill.transformations] == ["paper", "paper", "paper", "ours"]
    assert all(t.description.strip() and not t.instruction_types for t in skill.transformations)
    assert [t.name for t in skill.instruction_types] == list(VARIANTS)  # the validator knows every type
    assert len(skill.instruction_types) == 7
    for itype in skill.instruction_types:
        assert itype.source == "paper" and itype.intent.strip() and itype.guidance.strip()
        assert "apis_needed" in itype.guidance and "missing_information" in itype.guidance
    assert [g.name for g in skill.refinement.goals] == GOALS
    assert [g.source for g in skill.refinement.goals] == ["paper", "ours"]
    assert not any(g.edits_content or g.marks_unanswerable for g in skill.refinement.goals)
    summary = skill.summary()
    assert summary["seed_kinds"] == ["code", "api"] and len(summary["instruction_types"]) == 7


def _variables(skill: Skill) -> dict[str, dict]:
    """What the flow passes to each template (see the skill file and the brief of the tool_use flow)."""
    transformation = skill.transformations[0]
    itype = skill.types_by_name["single_api_missing_params"]
    goal = skill.refinement.goals[0]
    refine = {
        "content": APIS,
        "instruction": INSTRUCTION,
        "instruction_type": itype,
        "goal": goal,
        "round": 2,
    }
    return {
        "tool_use/transformations/api_from_code.j2": {
            "seed": CODE,
            "transformation": transformation,
            "skill": skill,
        },
        "tool_use/transformations/api_from_docs.j2": {
            "seed": "GET /books (operationId: searchBooks)",
            "transformation": skill.transformations[3],
            "skill": skill,
        },
        "tool_use/transformations/api_retrieval.j2": {
            "seed": CODE,
            "apis": APIS,
            "transformation": skill.transformations[1],
            "skill": skill,
        },
        "tool_use/transformations/library_reconstruction.j2": {
            "apis": APIS,
            "transformation": skill.transformations[2],
            "skill": skill,
        },
        "tool_use/instruction.j2": {
            "content": APIS,
            "instruction_type": itype,
            "transformation": transformation,
            "skill": skill,
        },
        "tool_use/suggester.j2": refine,
        "tool_use/editor.j2": {**refine, "suggestion": "Ask for 3 more mugs in a second colour."},
        "tool_use/teacher.j2": {"skill": skill, "instruction_type": itype},
        "tool_use/user_turn.j2": {"content": APIS, "instruction": INSTRUCTION, "instruction_type": itype},
        "tool_use/suitable_again.j2": {
            "reason": "One operation at a time.",
            "needed_apis": ["add_item"],
            "instruction_type": skill.types_by_name["single_api_extra_params"],
        },
    }


def test_every_template_renders_with_its_variables_and_strict_undefined(skill: Skill) -> None:
    variables = _variables(skill)
    assert set(variables) == set(skill.template_files())
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(skill.directory), undefined=jinja2.StrictUndefined, trim_blocks=True
    )
    for template, values in variables.items():
        text = env.get_template(template).render(**values)
        assert text.strip() and "{{" not in text and "{%" not in text, template
        for material in ("seed", "apis", "content", "instruction", "suggestion"):
            if material in values:
                assert values[material] in text, (template, material)
        if template != "tool_use/user_turn.j2":  # the user turn is the teacher's material, not a task
            assert "not suitable" in text, template
        # a template uses nothing beyond the variables documented for it
        source = env.loader.get_source(env, template)[0]
        assert jinja2.meta.find_undeclared_variables(env.parse(source)) <= set(values), template


@pytest.mark.parametrize("type_name", VARIANTS)
def test_instruction_template_carries_each_type(skill: Skill, type_name: str) -> None:
    itype = skill.types_by_name[type_name]
    text = render(
        skill.directory,
        skill.prompts.instruction,
        content=APIS,
        instruction_type=itype,
        transformation=skill.transformations[0],
        skill=skill,
    )
    assert itype.intent in text and itype.guidance in text


def test_agents_built_from_the_templates_ask_for_the_output_models(skill: Skill) -> None:
    variables = _variables(skill)
    cases = [
        ("tool_use/transformations/api_retrieval.j2", ApiListOutput, "apis"),
        ("tool_use/instruction.j2", ToolInstructionOutput, "missing_information"),
        ("tool_use/suggester.j2", SuggestionOutput, "suggestion"),
        ("tool_use/editor.j2", ToolEditOutput, "apis_needed"),
        ("tool_use/user_turn.j2", TraceOutput, "steps"),
    ]
    for template, output, field in cases:
        agent = Agent("agent", template, skill.directory, output)
        system = render(skill.directory, skill.prompts.teacher, **variables["tool_use/teacher.j2"])
        messages = agent.messages(variables[template], system=system if output is TraceOutput else None)
        assert f'"{field}"' in messages[-1]["content"]
        assert agent._schema()["schema"]["required"][-2:] == ["suitable", "reason"]
    teacher = render(skill.directory, skill.prompts.teacher, **variables["tool_use/teacher.j2"])
    assert "single api missing params" in teacher and '"kind": "call"' in teacher
