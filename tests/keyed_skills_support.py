"""Helpers for the tests of the answer-keyed and creative skills (brain_teaser, multiple_choice,
text_classification, creative_content, few_shot_reasoning): strict template rendering with each
template's documented variables, and a scripted model that plays every agent of a skill by request tag."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable

import jinja2
import jinja2.meta

from agentinstruct.flows import FlowSettings, SkillFlow
from agentinstruct.flows.resources import FlowResources, build_tools
from agentinstruct.models import ModelRequest, ScriptedModel
from agentinstruct.pairs import Pair
from agentinstruct.quality.constraints import Constraint, describe
from agentinstruct.skills import BUNDLED_DIR, PROGRAM_AIDED_PROMPTS, Skill, load_skill_file
from skill_templates import strict_environment
from test_flows import ListSink, make_seed

SEED = (
    "The town of Alder Creek built its first lighthouse in 1852. Keepers lit the lamp every night for "
    "ninety years, until an automated beacon replaced them in 1942. Each keeper trimmed six wicks a night "
    "and climbed 120 steps to the lamp room."
)

#: what a model transformation writes by default: the seed's facts in its own words (a transformation
#: that gave the seed back word for word would be asked again, see reply_problems.echoed_seed)
NOTES = (
    "Notes on Alder Creek: lighthouse built 1852; lamp lit nightly by keepers for ninety years; replaced "
    "by an automated beacon in 1942; six wicks trimmed per night; 120 steps up to the lamp room."
)


def load(name: str) -> Skill:
    """One bundled skill file (loaded on its own, so a broken file of another skill does not matter)."""
    return load_skill_file(BUNDLED_DIR / f"{name}.yaml")


def variables_for(
    skill: Skill, content: str, instruction: str, details: dict[str, str], suggestion: str = "Change X."
) -> dict[str, dict]:
    """Every template of a skill with the variables the flow passes it (SkillFlow)."""
    itype, goal = skill.instruction_types[0], skill.refinement.goals[0]
    constraints = [describe(Constraint(kind="word_count", relation="at_most", number=120))]
    refine = {
        "content": content,
        "instruction": instruction,
        "instruction_type": itype,
        "goal": goal,
        "round": 2,
        "constraints": constraints if skill.constraints else [],
        "details": details,
    }
    result: dict[str, dict] = {
        skill.transformation_prompt(t): {"seed": SEED, "transformation": t, "skill": skill}
        for t in skill.transformations
        if not t.verbatim  # no template: the seed's own words are the transformed text
    }
    result[skill.prompts.instruction] = {
        "content": content,
        "transformation": skill.transformations[0],
        "instruction_type": itype,
        "skill": skill,
    }
    for own in skill.instruction_types:  # a type with a prompt of its own (a task shape's) renders too
        if own.prompt:
            result[own.prompt] = {**result[skill.prompts.instruction], "instruction_type": own}
    result[skill.prompts.suggester] = refine
    result[skill.prompts.editor] = {**refine, "suggestion": suggestion}
    result[skill.prompts.teacher] = {"skill": skill, "instruction_type": itype, "tools": skill.teacher_tools}
    result[skill.prompts.user_turn] = {
        "content": content,
        "instruction": instruction,
        "instruction_type": itype,
    }
    if "rule_function" in skill.prompts.extra:  # a held-out task's program-aided answer (flows.program_aided)
        result[skill.prompts.extra["rule_function"]] = {"task": instruction}
        result[skill.prompts.extra["rule_function_answer"]] = {
            "rule": "The number of years between the two years.",
            "function": "def rule(text): return str(int(text[5:]) - int(text[:4]))",
            "examples": [("1990-2000", "10")],
            "query": "1900-1975",
            "answer": "75",
        }
    if "rule_checks" in skill.prompts.extra:  # an arrangement's program-aided answer (flows.rule_checks)
        rules = [(1, "Ann is before Ben.", "before(Ann, Ben)")]
        result[skill.prompts.extra["rule_checks"]] = {
            "puzzle": instruction,
            "entities": ("Ann", "Ben"),
            "slots": (1, 2),
            "one_each": True,
            "rules": ("Ann is before Ben.",),
            "options": {"A": ("Ann, Ben", (1, 2)), "B": ("Ben, Ann", (2, 1))},
        }
        result[skill.prompts.extra["rule_checks_answer"]] = {
            "rules": rules,
            "options": [
                ("A", "Ann, Ben", []),
                ("B", "Ben, Ann", [(1, "Ann is before Ben.", "Ann: 2, Ben: 1")]),
            ],
            "answer": "A",
        }
    return result


def environment(skill: Skill) -> jinja2.Environment:
    return strict_environment(skill)


def render_every_template(skill: Skill, variables: dict[str, dict]) -> dict[str, str]:
    """Render each template strictly; it must use only its documented variables and show its material."""
    env = environment(skill)
    assert set(variables) == set(skill.template_files())
    rendered = {}
    for template, values in variables.items():
        text = env.get_template(template).render(**values)
        assert text.strip() and "{{" not in text and "{%" not in text, template
        source = env.loader.get_source(env, template)[0]
        assert jinja2.meta.find_undeclared_variables(env.parse(source)) <= set(values), template
        for material in ("seed", "suggestion", "instruction"):
            if material in values:
                assert values[material] in text, (template, material)
        extra = skill.prompts.extra
        answers = {extra[name] for _, name in PROGRAM_AIDED_PROMPTS.values() if name in extra}
        if template not in (skill.prompts.user_turn, skill.prompts.teacher, *answers):
            assert "not suitable" in text, template
            assert "json" not in text.lower(), template  # the shared footer explains the format
        rendered[template] = text
    return rendered


Teacher = Callable[[ModelRequest], str]


def scripted(
    skill: Skill,
    instruction: dict | Callable[[str], dict],
    teacher: Teacher,
    content: str | list[str] | None = None,
    edit: dict | None = None,
    rekey: Callable[[ModelRequest], dict] | None = None,
) -> ScriptedModel:
    """A model playing the skill's agents: `instruction` is the instruction agent's JSON (without the
    exit fields), or a function of the instruction type's name that gives it, `edit` the editor's extra
    fields, `teacher` answers the teacher (and resample/repair), `rekey` the author's second solve of a
    key the checks disputed (`key_recheck`),
    `content` is what a transformation agent writes (default NOTES; a verbatim transformation hands on
    SEED itself; a list is written in turn, its last text from then on) and an editor of the passage
    gives back (default SEED)."""
    contents = content if isinstance(content, list) else [content]

    def fields_for(type_name: str) -> dict:
        return instruction(type_name) if callable(instruction) else instruction

    def type_of(editor_request: ModelRequest) -> str:
        """The type an editor's task has: its template shows "type: <name in words> — <intent>"."""
        shown = editor_request.messages[-1]["content"]
        return next(t.name for t in skill.instruction_types if f"{t.name.replace('_', ' ')} — " in shown)

    def reply(request: ModelRequest) -> object:
        _, stage, *rest = request.tag.split("/")
        if stage == "transform":
            written = contents.pop(0) if len(contents) > 1 else contents[0]
            return {"content": written or NOTES, "suitable": True, "reason": ""}
        if stage == "instruct":
            return {**fields_for(rest[-1]), "suitable": True, "reason": ""}
        if stage == "refine" and rest[0] == "suggester":
            return {"suggestion": f"apply {rest[-1]}", "suitable": True, "reason": ""}
        if stage == "refine" and rest[0] == "editor":
            variant = hashlib.sha256(request.messages[-1]["content"].encode()).hexdigest()[:6]
            fields = {**fields_for(type_of(request)), **(edit or {})}
            text = f"{fields['instruction']}\n({rest[-1]} {variant})"
            passage = contents[-1] or SEED
            return {**fields, "instruction": text, "content": passage, "suitable": True, "reason": ""}
        if stage == "teacher":
            return teacher(request)
        if stage == "key_recheck":  # by default the author stands by its key
            again = rekey(request) if rekey else {"answer_key": fields_for(rest[-1]).get("answer_key", "-")}
            return {"working": "I solved it again.", **again, "suitable": True, "reason": ""}
        raise AssertionError(f"unexpected tag {request.tag}")

    return ScriptedModel(reply)


def run(skill: Skill, model: ScriptedModel, seeds: int = 1, **settings) -> ListSink:
    sink = ListSink()
    resources = FlowResources(tools=build_tools(skill.teacher_tools, None))  # the shared default sandbox
    flow = SkillFlow(skill, model, sink, FlowSettings(**settings), resources=resources)

    async def go() -> None:
        for ordinal in range(seeds):
            await flow.run_seed(make_seed(ordinal, SEED), ordinal)

    asyncio.run(go())
    return sink


def assert_pair_shape(pair: Pair, skill: Skill, user: str) -> None:
    """A standard single-turn pair: the skill's system prompt, the user turn, the teacher's answer."""
    assert [m["role"] for m in pair.messages] == ["system", "user", "assistant"]
    assert pair.messages[0]["content"] == skill.system_prompt
    assert pair.messages[1]["content"].startswith(user), pair.messages[1]["content"]
    assert pair.skill == skill.name and pair.instruction_type in skill.types_by_name
    Pair.model_validate(pair.model_dump(mode="json"))
