"""The reading_comprehension skill file (SPEC §2 row 1): taxonomy, mapping and prompt templates."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from agentinstruct.skills import BUNDLED_DIR, Skill, load_skill_file, taxonomy_hash
from skill_templates import render, strict_environment

SKILL_FILE = BUNDLED_DIR / "reading_comprehension.yaml"

TRANSFORMATIONS = [
    "argument_passage",
    "debate_transcript",
    "conversation",
    "meeting_transcript",
    "poem",
    "satirical_passage",
    "instructional_passage",
    "long_text",
    "identity",
]
PAPER_TYPES = [
    "literal_comprehension",
    "numerical_discrete_reasoning",
    "critical_comprehension",
    "evaluative_comprehension",
    "vocabulary_in_context",
    "relationship_matching",
    "sequencing_events",
    "strengthen",
    "weaken",
    "necessary_assumption",
    "flaw",
    "inference_must_be_true",
    "identify_principle",
    "method_of_reasoning",
]
OUR_TYPES = [
    "main_point",
    "primary_purpose",
    "author_attitude",
    "paragraph_function",
    "role_of_claim",
    "point_at_issue",
    "point_of_agreement",
    "parallel_reasoning",
    "parallel_flaw",
    "resolve_paradox",
    "evaluate_argument",
    "sufficient_assumption",
    "most_strongly_supported",
    "cannot_be_true",
    "apply_principle",
    "passage_structure",
    "analogy",
    "cause_effect",
    "compare_contrast",
    "detail_except",
    "counterfactual",
    "title_selection",
    "summarization",
    "speaker_identification",
    "figurative_language",
    "satire_target",
    "procedural_reasoning",
    "author_would_agree",
    "definition_from_context",
]
GOALS = ["make_unanswerable", "change_answer", "harder_question_or_choices"]

SEED = "The city council voted 7 to 2 on Tuesday to extend the tram line by 4.5 km to the harbour district."
CONTENT = "Councillor Reyes argued that the extension would cut commuting times by a third. Therefore..."
INSTRUCTION = "Which one of the following, if true, most strengthens the argument?\n(A) ...\n(B) ..."


@pytest.fixture(scope="module")
def skill() -> Skill:
    return load_skill_file(SKILL_FILE)


@pytest.fixture(scope="module")
def env(skill: Skill) -> jinja2.Environment:
    return strict_environment(skill)


def test_top_level_settings(skill: Skill) -> None:
    assert skill.name == "reading_comprehension"
    assert skill.seed_kinds == ["text"]
    assert skill.description.strip()
    assert skill.unanswerable_share == pytest.approx(0.1)
    assert skill.instructions_per_seed == 2
    assert skill.checks == ["unanswerable_declined"]
    assert skill.prompts.instruction == "reading_comprehension/instruction.j2"
    assert skill.prompts.suggester == "reading_comprehension/suggester.j2"
    assert skill.prompts.editor == "reading_comprehension/editor.j2"
    assert skill.prompts.teacher == "reading_comprehension/teacher.j2"
    assert skill.prompts.user_turn == "reading_comprehension/user_turn.j2"


def test_transformations(skill: Skill) -> None:
    assert [t.name for t in skill.transformations] == TRANSFORMATIONS
    for t in skill.transformations:
        assert t.source == "paper"
        assert t.description.strip()
        assert len(t.instruction_types) >= 8, f"{t.name} lists only {len(t.instruction_types)} types"
        assert len(set(t.instruction_types)) == len(t.instruction_types), f"{t.name} repeats a type"
        # identity takes the seed's own words (no model call, no template); the others are agents
        assert t.verbatim == (t.name == "identity"), t.name
        prompt = skill.transformation_prompt(t)
        assert prompt == f"reading_comprehension/transformations/{t.name}.j2"
        assert (prompt in skill.template_files()) == (not t.verbatim), t.name
    identity = skill.transformations[TRANSFORMATIONS.index("identity")]
    assert (identity.min_words, identity.max_words) == (80, 500)


def test_instruction_types(skill: Skill) -> None:
    names = [t.name for t in skill.instruction_types]
    assert len(names) == 43
    assert sorted(names) == sorted(PAPER_TYPES + OUR_TYPES)
    assert sorted(t.name for t in skill.instruction_types if t.source == "paper") == sorted(PAPER_TYPES)
    assert sorted(t.name for t in skill.instruction_types if t.source == "ours") == sorted(OUR_TYPES)
    for t in skill.instruction_types:
        assert t.intent.strip() and "\n" not in t.intent.strip(), f"{t.name}: intent must be one line"
        lines = [line for line in t.guidance.splitlines() if line.strip()]
        assert 2 <= len(lines) <= 5, f"{t.name}: guidance has {len(lines)} lines"


def test_guidance_encodes_the_required_forms(skill: Skill) -> None:
    by_name = skill.types_by_name
    assert "Statement 1" in by_name["critical_comprehension"].guidance
    assert "essay" in by_name["evaluative_comprehension"].guidance
    assert "blank" in by_name["vocabulary_in_context"].guidance
    assert "two lists" in by_name["relationship_matching"].guidance.lower()
    assert "arithmetic" in by_name["numerical_discrete_reasoning"].guidance
    for name in ("strengthen", "weaken", "necessary_assumption", "flaw", "sufficient_assumption"):
        assert "(A)–(E)" in by_name[name].guidance, name


def test_every_type_reachable(skill: Skill) -> None:
    reachable = {name for t in skill.transformations for name in t.instruction_types}
    assert reachable == set(skill.types_by_name)


def test_mapping_follows_the_spec(skill: Skill) -> None:
    types = {t.name: set(t.instruction_types) for t in skill.transformations}
    assert {"strengthen", "weaken", "flaw", "parallel_flaw", "resolve_paradox"} <= types["argument_passage"]
    for name in ("debate_transcript", "conversation", "meeting_transcript"):
        assert {"point_at_issue", "point_of_agreement", "speaker_identification"} <= types[name]
    assert {"figurative_language", "author_attitude"} <= types["poem"]
    assert {"satire_target", "figurative_language"} <= types["satirical_passage"]
    assert {"sequencing_events", "procedural_reasoning", "detail_except"} <= types["instructional_passage"]
    assert len(types["long_text"]) >= 20 and len(types["identity"]) >= 20


def test_refinement(skill: Skill) -> None:
    assert skill.refinement.rounds == 2
    goals = {g.name: g for g in skill.refinement.goals}
    assert list(goals) == GOALS
    assert all(g.source == "paper" and g.description.strip() for g in goals.values())
    assert goals["make_unanswerable"].edits_content and goals["make_unanswerable"].marks_unanswerable
    assert goals["change_answer"].edits_content and not goals["change_answer"].marks_unanswerable
    assert not goals["harder_question_or_choices"].edits_content
    assert not goals["harder_question_or_choices"].marks_unanswerable


def test_transformation_templates_render(skill: Skill, env: jinja2.Environment) -> None:
    rendered = {}
    for t in (t for t in skill.transformations if not t.verbatim):
        text = render(env, skill.transformation_prompt(t), seed=SEED, transformation=t, skill=skill)
        assert SEED in text
        assert "not suitable" in text, t.name
        assert "json" not in text.lower(), t.name
        assert 2 <= len(text.splitlines()) <= 25, t.name
        rendered[t.name] = text
    assert len(set(rendered.values())) == len(rendered), "transformation prompts must be distinct"


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
            assert CONTENT in text
            assert it.guidance in text, it.name
            assert it.intent in text, it.name
            assert "not suitable" in text
            assert "json" not in text.lower()


@pytest.mark.parametrize("round_", [1, 2])
def test_refinement_templates_render(skill: Skill, env: jinja2.Environment, round_: int) -> None:
    it = skill.types_by_name["strengthen"]
    for goal in skill.refinement.goals:
        common = {"content": CONTENT, "instruction": INSTRUCTION, "instruction_type": it, "goal": goal}
        suggestion = render(env, skill.prompts.suggester, round=round_, **common)
        tip = "Remove the figure 'a third'."
        edit = render(env, skill.prompts.editor, suggestion=tip, round=round_, **common)
        for text in (suggestion, edit):
            assert CONTENT in text and INSTRUCTION in text
            assert goal.description in text
            assert "not suitable" in text
            assert "json" not in text.lower()
        assert tip in edit
        if not goal.edits_content:
            assert "Do not change the passage" in edit


def test_teacher_template(skill: Skill, env: jinja2.Environment) -> None:
    source = (skill.directory / skill.prompts.teacher).read_text(encoding="utf-8")
    assert "cannot be determined from the passage" in source
    for it in skill.instruction_types:
        text = render(env, skill.prompts.teacher, skill=skill, instruction_type=it)
        assert "cannot be determined from the passage" in text
        assert "step by step" in text


def test_user_turn_template(skill: Skill, env: jinja2.Environment) -> None:
    it = skill.types_by_name["strengthen"]
    text = render(
        env, skill.prompts.user_turn, content=CONTENT + "\n", instruction=INSTRUCTION, instruction_type=it
    )
    assert text == f"{CONTENT}\n\n{INSTRUCTION}"


def test_templates_are_packaged_files(skill: Skill) -> None:
    for rel in skill.template_files():
        path: Path = skill.template_path(rel)
        assert path.is_file() and path.suffix == ".j2", rel


def test_taxonomy_hash_is_stable(skill: Skill) -> None:
    first = taxonomy_hash([load_skill_file(SKILL_FILE)])
    second = taxonomy_hash([load_skill_file(SKILL_FILE)])
    assert first == second == taxonomy_hash([skill])
    assert len(first) == 16
