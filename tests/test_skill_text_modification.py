"""The text_modification skill file (SPEC §2 row 2): taxonomy, settings, prompt templates and CLI listing."""

from __future__ import annotations

import json

import jinja2
import pytest
from typer.testing import CliRunner

from agentinstruct.cli import app
from agentinstruct.flows.verbatim import verbatim_text
from agentinstruct.quality.checks import resolve_checks
from agentinstruct.quality.constraints import KINDS, Constraint, describe
from agentinstruct.skills import BUNDLED_DIR, Skill, load_skill_file, load_skills, taxonomy_hash
from skill_templates import render, strict_environment

SKILL_FILE = BUNDLED_DIR / "text_modification.yaml"
TYPES = [
    "paraphrasing",
    "text_simplification",
    "text_expansion",
    "text_translation",
    "text_formatting",
    "sentiment_modification",
    "text_annotation",
    "keyword_replacement",
    "text_removal",
    "text_capitalization",
    "text_styling",
    "content_rewriting",
    "data_normalization",
    "plagiarism_rewording",
    "code_switching",
    "text_obfuscation",
    "textual_entailment",
    "vocabulary_limited_rewriting",
]
GOALS = ["add_narrative_frame", "change_form", "stack_constraints"]

SEED = "The city council voted 7 to 2 on Tuesday to extend the tram line by 4.5 km to the harbour district."
CONTENT = "The council voted 7 to 2 to extend the tram line.\n\nWork starts in May 2025 and costs €40m.\n"
INSTRUCTION = (
    "Rewrite the text below for a school newsletter in at most 40 words, without the word 'council'."
)
CONSTRAINTS = [
    describe(Constraint(kind="word_count", relation="at_most", number=40)),
    describe(Constraint(kind="banned_words", words=["council"])),
]


@pytest.fixture(scope="module")
def skill() -> Skill:
    return load_skill_file(SKILL_FILE)


@pytest.fixture(scope="module")
def env(skill: Skill) -> jinja2.Environment:
    return strict_environment(skill)


def test_loads_with_the_bundled_skills() -> None:
    skills = load_skills()
    assert "text_modification" in skills
    assert [t.name for t in skills["text_modification"].instruction_types] == TYPES


def test_top_level_settings(skill: Skill) -> None:
    assert skill.name == "text_modification"
    assert skill.seed_kinds == ["text"]
    assert skill.description.strip() and skill.system_prompt.strip()
    assert skill.flow == "standard"
    assert skill.constraints is True
    assert skill.repair_rounds == 1
    assert skill.checks == ["constraints", "kept_text"]
    assert resolve_checks(skill.checks)
    assert skill.instructions_per_seed == 1
    assert skill.unanswerable_share == 0.0
    for role in ("instruction", "suggester", "editor", "teacher", "user_turn"):
        assert getattr(skill.prompts, role) == f"text_modification/{role}.j2"


def test_transformations(skill: Skill) -> None:
    assert [t.name for t in skill.transformations] == ["identity", "excerpt"]
    by_name = {t.name: t for t in skill.transformations}
    assert by_name["identity"].source == "paper"
    assert (by_name["identity"].min_words, by_name["identity"].max_words) == (30, None)
    assert (by_name["excerpt"].min_words, by_name["excerpt"].max_words) == (40, 200)
    for t in skill.transformations:
        assert t.description.strip()
        assert t.instruction_types == [], "every type suits both transformations"
        # both take the seed's own words without a model call, so they have no template
        assert t.verbatim and t.prompt is None
        assert skill.transformation_prompt(t) not in skill.template_files()
        assert [x.name for x in skill.types_for(t)] == TYPES


def test_instruction_types(skill: Skill) -> None:
    assert [t.name for t in skill.instruction_types] == TYPES
    for t in skill.instruction_types:
        assert t.source == "paper", t.name
        assert t.intent.strip() and "\n" not in t.intent.strip(), f"{t.name}: intent must be one line"
        lines = [line for line in t.guidance.splitlines() if line.strip()]
        assert 2 <= len(lines) <= 5, f"{t.name}: guidance has {len(lines)} lines"
        assert t.prompt is None
    guidance = {t.name: t.guidance for t in skill.instruction_types}
    assert "language constraint" in guidance["text_translation"]
    assert "No language constraint" in guidance["code_switching"]
    assert "case constraint" in guidance["text_capitalization"]
    assert (
        "banned words" in guidance["keyword_replacement"]
        and "required words" in guidance["keyword_replacement"]
    )


def test_refinement(skill: Skill) -> None:
    assert skill.refinement.rounds == 2
    goals = {g.name: g for g in skill.refinement.goals}
    assert list(goals) == GOALS
    assert goals["add_narrative_frame"].source == goals["change_form"].source == "paper"
    assert goals["stack_constraints"].source == "ours"
    for goal in goals.values():
        assert goal.description.strip()
        assert not goal.edits_content and not goal.marks_unanswerable, goal.name


def test_transformations_take_the_seeds_own_words(skill: Skill) -> None:
    identity, excerpt = skill.transformations
    long_text = "\n\n".join(f"{SEED[:-1]}, said speaker {n}." for n in range(20))  # 20 x 24 words
    for t, seed in ((identity, long_text), (excerpt, long_text), (identity, SEED * 2)):
        kept = verbatim_text(seed, min_words=t.min_words, max_words=t.max_words, choice=3)
        assert kept.text is not None and kept.text in seed, t.name
    whole = verbatim_text(long_text, min_words=identity.min_words, max_words=identity.max_words)
    assert whole.text == long_text
    part = verbatim_text(long_text, min_words=excerpt.min_words, max_words=excerpt.max_words, choice=3)
    assert 40 <= len(part.text.split()) <= 200 and part.text.endswith(".")
    short = verbatim_text(SEED, min_words=identity.min_words, max_words=identity.max_words)
    assert short.text is None and "21 words" in short.reason and "at least 30" in short.reason


def test_instruction_template_renders_every_type(skill: Skill, env: jinja2.Environment) -> None:
    for t in skill.transformations:
        for it in skill.types_for(t):
            text = render(
                env,
                skill.prompts.instruction,
                content=CONTENT,
                transformation=t,
                instruction_type=it,
                skill=skill,
            )
            assert CONTENT.strip() in text
            assert it.guidance in text and it.intent in text, it.name
            assert "not suitable" in text
            assert '"the text above"' in text
            assert "json" not in text.lower()


def test_instruction_template_lists_every_constraint_kind(skill: Skill, env: jinja2.Environment) -> None:
    it = skill.types_by_name["paraphrasing"]
    variables = {"content": CONTENT, "transformation": skill.transformations[0], "instruction_type": it}
    text = render(env, skill.prompts.instruction, skill=skill, **variables)
    for kind in KINDS:
        assert f"{kind}" in text, kind
    for field in Constraint.model_fields:
        assert field in text, field
    without = render(
        env, skill.prompts.instruction, skill=skill.model_copy(update={"constraints": False}), **variables
    )
    assert "bullet_list" not in without and "not suitable" in without


@pytest.mark.parametrize("round_", [1, 2])
@pytest.mark.parametrize("constraints", [CONSTRAINTS, []])
def test_refinement_templates_render(
    skill: Skill, env: jinja2.Environment, round_: int, constraints: list[str]
) -> None:
    it = skill.types_by_name["content_rewriting"]
    texts = []
    for goal in skill.refinement.goals:
        common = {
            "content": CONTENT,
            "instruction": INSTRUCTION,
            "instruction_type": it,
            "goal": goal,
            "round": round_,
            "constraints": constraints,
        }
        suggestion = render(env, skill.prompts.suggester, **common)
        tip = "Frame it as a request from a teacher preparing a school newsletter."
        edit = render(env, skill.prompts.editor, suggestion=tip, **common)
        for text in (suggestion, edit):
            assert CONTENT.strip() in text and INSTRUCTION in text
            assert goal.description in text
            assert "not suitable" in text
            assert "json" not in text.lower()
            for number, line in enumerate(constraints, 1):
                assert f"{number}. {line}" in text
            if not constraints:
                assert "- none" in text
        assert tip in edit
        assert "Do not change the text" in edit
        assert "full updated list of constraints" in edit
        assert ("refinement round 2" in suggestion) == (round_ == 2)
        texts.append(suggestion)
    assert len(set(texts)) == len(texts), "each goal gets its own suggestions"


def test_editor_lists_every_constraint_kind(skill: Skill, env: jinja2.Environment) -> None:
    goal = skill.refinement.goals[2]
    text = render(
        env,
        skill.prompts.editor,
        content=CONTENT,
        instruction=INSTRUCTION,
        instruction_type=skill.instruction_types[0],
        goal=goal,
        round=1,
        constraints=CONSTRAINTS,
        suggestion="Add: every sentence starts with 'T'.",
    )
    for kind in KINDS:
        assert kind in text, kind


def test_teacher_template(skill: Skill, env: jinja2.Environment) -> None:
    for it in skill.instruction_types:
        text = render(env, skill.prompts.teacher, skill=skill, instruction_type=it)
        assert it.intent in text
        assert "constraint" in text and "count" in text
        assert "Give only the result" in text


def test_user_turn_is_the_text_followed_by_the_request(skill: Skill, env: jinja2.Environment) -> None:
    it = skill.types_by_name["paraphrasing"]
    text = render(
        env, skill.prompts.user_turn, content=CONTENT, instruction=INSTRUCTION + "\n", instruction_type=it
    )
    assert text.strip() == f"{CONTENT.strip()}\n\n{INSTRUCTION}"
    # a request that already quotes the whole text is not followed by a second copy
    quoted = f'Rewrite this:\n"""\n{CONTENT.strip()}\n"""'
    text = render(env, skill.prompts.user_turn, content=CONTENT, instruction=quoted, instruction_type=it)
    assert text.strip() == quoted


def test_templates_are_packaged_files(skill: Skill) -> None:
    for rel in skill.template_files():
        path = skill.template_path(rel)
        assert path.is_file() and path.suffix == ".j2", rel
    assert len(skill.template_files()) == 5  # identity and excerpt are verbatim: no template


def test_taxonomy_hash_is_stable(skill: Skill) -> None:
    assert taxonomy_hash([load_skill_file(SKILL_FILE)]) == taxonomy_hash([skill])


def test_cli_lists_the_taxonomy() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["skills", "text_modification", "--json"])
    assert result.exit_code == 0, result.output
    [summary] = json.loads(result.output)
    assert summary["name"] == "text_modification"
    assert [t["name"] for t in summary["instruction_types"]] == TYPES
    assert all(t["intent"] and t["source"] == "paper" for t in summary["instruction_types"])
    assert [t["name"] for t in summary["transformations"]] == ["identity", "excerpt"]
    assert [g["name"] for g in summary["refinement_goals"]] == GOALS
    assert summary["checks"] == ["constraints", "kept_text"]
    shown = runner.invoke(app, ["skills", "text_modification"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    for name in ("18 instruction types", "vocabulary_limited_rewriting", "stack_constraints", "excerpt"):
        assert name in shown.output, name
    assert "checks: constraints" in shown.output
    listing = runner.invoke(app, ["skills"], env={"COLUMNS": "200"})
    assert listing.exit_code == 0 and "text_modification" in listing.output


def test_a_third_copy_of_the_intent_line_gets_the_fallback_task_with_its_constraints_stated(skill) -> None:
    """s31: the local agent sent its "Kind of request: text simplification — ..." line three times; the
    type's fallback task takes its place, and the reply's constraints are still stated in the request."""
    from keyed_skills_support import SEED as TEXT
    from keyed_skills_support import run, scripted

    simple = skill.types_by_name["text_simplification"]
    single = skill.model_copy(update={"instruction_types": [simple]})
    copy = f"Kind of request: text simplification — {simple.intent}"
    constraints = [{"kind": "sentence_count", "relation": "at_most", "number": 6}]
    model = scripted(
        single,
        {"user_request": copy, "constraints": constraints},
        lambda request: "The keepers lit the lamp each night. They climbed many steps.",
    )
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    request = pair.messages[1]["content"].removeprefix(TEXT).strip()
    assert request.startswith(simple.fallback_task) and "at most 6 sentences" in request
    assert sum("/instruct/" in r.tag for r in model.requests) == 3


def kept(itype: str, task: str, answer: str, constraints: tuple = ()):
    from agentinstruct.quality.checks import Candidate
    from agentinstruct.quality.forms import kept_text

    text = "The keepers lit the lamp at dusk and trimmed its wicks at midnight. " * 4  # 52 words
    return kept_text(Candidate("text_modification", itype, text, task, answer, False, constraints))


def test_a_rewrite_of_the_whole_text_keeps_most_of_it() -> None:
    """s31: a "translation into Spanish" of a passage was its last line in English capitals."""
    short = kept("text_translation", "Translate the text above into Spanish.", "FENWICK WEEKLY GAZETTE.")
    assert not short.ok
    assert "holds 3 words, and the text it works on 52" in short.detail and "at least 26" in short.detail
    whole = "Los fareros encendían la lámpara al anochecer y recortaban sus mechas a medianoche. " * 4
    assert kept("text_translation", "Translate the text above into Spanish.", whole).ok
    chinese = "守灯人黄昏时点亮灯，午夜修剪灯芯。" * 4
    assert kept("text_translation", "Translate the text above into Chinese.", chinese).ok
    # an expansion holds more than its text; a simplification may hold much less
    assert not kept("text_expansion", "Expand the text above.", whole[: len(whole) // 2]).ok
    assert kept("text_simplification", "Simplify the text above.", "The keepers lit the lamp. " * 4).ok


def test_kept_text_leaves_parts_caps_and_other_types_alone() -> None:
    one_line = "The keepers lit the lamp."
    assert kept("paraphrasing", "Paraphrase the first sentence of the text above.", one_line) is None
    assert kept("text_capitalization", "Put only the heading in capitals.", one_line) is None
    assert (
        kept("text_styling", 'Rewrite "The keepers lit the lamp at dusk and trimmed it" as a poet.', "x")
        is None
    )
    cap = (Constraint(kind="word_count", relation="at_most", number=10),)
    assert kept("paraphrasing", "Paraphrase the text above in at most 10 words.", one_line, cap) is None
    floor = (Constraint(kind="word_count", relation="at_least", number=5),)
    assert not kept("paraphrasing", "Paraphrase the text above in at least 5 words.", one_line, floor).ok
    for itype in ("text_removal", "textual_entailment", "content_rewriting"):
        assert kept(itype, "Remove the dates from the text above.", one_line) is None


def test_a_short_rewrite_goes_back_to_the_teacher_once(skill) -> None:
    from keyed_skills_support import SEED as TEXT
    from keyed_skills_support import run, scripted

    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["paraphrasing"]]})
    answers = iter(["The lamp was lit.", f"In other words: {TEXT}"])
    model = scripted(
        single, {"user_request": "Paraphrase the text above.", "constraints": []}, lambda r: next(answers)
    )
    [pair] = run(single, model, refinement_rounds=0, instructions_per_seed=1).pairs
    checks = {c.name: c for c in pair.verification.checks}
    assert (
        checks["kept_text"].ok
        and "the first answer failed: the answer holds 4 words" in checks["repaired"].detail
    )
