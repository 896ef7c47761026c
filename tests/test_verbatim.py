"""Verbatim transformations (`verbatim: true`): the seed's own words without a model call.

The pure `verbatim_text` (too-short seeds, whole seeds, windows of whole paragraphs or sentences, never a
cut inside a word, reproducible starts), the skill-file fields and their validation, and the flow: no
transform request, and a too-short seed rejected as not suitable with the counts in the reason.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agentinstruct.cli import app
from agentinstruct.flows import FlowSettings, SkillFlow
from agentinstruct.flows.verbatim import verbatim_text
from agentinstruct.models import ModelRequest, ScriptedModel
from agentinstruct.skills import SkillError, Transformation, load_skill_file, load_skills
from test_flows import ListSink, make_seed

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_SKILLS = REPO / "docs" / "example_skills"
IDENTITY_SKILLS = {
    "conversation",
    "creative_content",
    "multiple_choice",
    "open_domain_qa",
    "reading_comprehension",
    "text_classification",
    "text_extraction",
    "text_modification",
}


def paragraph(label: str, sentences: int, words_per_sentence: int = 8) -> str:
    """A paragraph of `sentences` sentences; every word is unique (label, sentence, word), so a window's
    place in the seed is unambiguous."""
    return " ".join(
        " ".join(f"{label}s{s}w{w}" for w in range(words_per_sentence)) + "." for s in range(sentences)
    )


def words(text: str) -> list[str]:
    return text.split()


# -- the pure function -----------------------------------------------------------------------------
def test_a_seed_under_min_words_is_not_suitable_and_the_reason_gives_both_counts():
    kept = verbatim_text("Too short to use.", min_words=40)
    assert kept.text is None
    assert kept.reason == "the seed has 4 words; this transformation needs at least 40"
    assert verbatim_text("   \n", max_words=10).text is None


def test_a_seed_within_the_bounds_is_kept_whole_with_its_own_spacing():
    seed = "\n  First line,  spaced.\nSecond line.\n\n  Third paragraph ends here.  \n"
    kept = verbatim_text(seed, min_words=5, max_words=100, choice=7)
    assert kept.text == seed.strip() and kept.reason == ""
    assert verbatim_text(seed).text == seed.strip()  # no bounds at all: the whole seed


def test_a_long_seed_gives_a_window_of_whole_paragraphs_within_the_bounds():
    paragraphs = [paragraph(f"p{i}", 4) for i in range(12)]  # 32 words each
    seed = "\n\n".join(paragraphs)
    for choice in range(25):
        text = verbatim_text(seed, min_words=40, max_words=100, choice=choice).text
        assert text is not None and text in seed
        assert 40 <= len(words(text)) <= 100
        kept = text.split("\n\n")
        first = paragraphs.index(kept[0])  # starts and ends on paragraph boundaries
        assert kept == paragraphs[first : first + len(kept)]
        # as many whole paragraphs as fit: three, or what is left at the end of the seed
        assert len(kept) == min(3, len(paragraphs) - first)


def test_the_start_is_reproducible_and_varies_between_choices():
    seed = "\n\n".join(paragraph(f"p{i}", 4) for i in range(12))
    starts = set()
    for choice in range(40):
        first = verbatim_text(seed, min_words=40, max_words=100, choice=choice).text
        assert first == verbatim_text(seed, min_words=40, max_words=100, choice=choice).text
        starts.add(words(first)[0])
    assert len(starts) >= 5
    # the last paragraph alone (32 words) is under min_words, so no window starts there
    assert "p11s0w0" not in starts


def test_a_paragraph_longer_than_max_words_is_cut_at_a_sentence_end():
    seed = paragraph("a", 12)  # one paragraph of 96 words, sentences of 8
    text = verbatim_text(seed, min_words=20, max_words=50, choice=1).text
    assert seed.startswith(text) and text.endswith(".")
    assert len(words(text)) == 48  # six whole sentences; a seventh would pass 50


def test_a_short_opening_paragraph_goes_on_into_the_next_one_by_sentences():
    seed = "A title.\n\n" + paragraph("b", 12)
    for choice in range(20):
        text = verbatim_text(seed, min_words=20, max_words=50, choice=choice).text
        assert text in seed and text.endswith(".") and 40 <= len(words(text)) <= 50


def test_a_sentence_longer_than_max_words_is_cut_between_words():
    seed = " ".join(f"word{i}" for i in range(100))  # no sentence end at all
    text = verbatim_text(seed, min_words=10, max_words=30).text
    assert words(text) == words(seed)[:30] and seed.startswith(text + " ")


# -- the skill file ----------------------------------------------------------------------------------
def test_transformation_fields_are_validated_with_the_fix():
    base = {"name": "identity", "description": "the seed"}
    assert Transformation(**base, verbatim=True, min_words=5, max_words=5).max_words == 5
    with pytest.raises(ValueError, match="needs no prompt template; remove `prompt` or drop `verbatim`"):
        Transformation(**base, verbatim=True, prompt="x.j2")
    with pytest.raises(ValueError, match="remove `content_must_contain_all` or drop `verbatim`"):
        Transformation(**base, verbatim=True, content_must_contain_all=["Rule:"])
    with pytest.raises(ValueError, match="holds an empty marker"):
        Transformation(**base, content_must_contain_all=["Rule:", " "])
    with pytest.raises(ValueError, match=r"min_words \(60\) is more than max_words \(50\)"):
        Transformation(**base, verbatim=True, min_words=60, max_words=50)
    with pytest.raises(ValueError, match="apply only to verbatim transformations; set `verbatim: true`"):
        Transformation(**base, min_words=10)
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        Transformation(**base, verbatim=True, max_words=0)


def test_bundled_identity_and_excerpt_transformations_are_verbatim_without_templates():
    skills = load_skills()
    verbatim = {(s.name, t.name) for s in skills.values() for t in s.transformations if t.verbatim}
    assert {name for name, t in verbatim if t == "identity"} == IDENTITY_SKILLS
    assert {(name, t) for name, t in verbatim if t != "identity"} == {
        ("text_classification", "excerpt"),
        ("text_modification", "excerpt"),
    }
    for name, transformation in verbatim:
        assert f"{name}/transformations/{transformation}.j2" not in skills[name].template_files()


def user_skill(tmp_path: Path, **transformation: object) -> Path:
    """The documented study_cards skill with one verbatim transformation and no transformation template."""
    skills_dir = tmp_path / "skills"
    shutil.copytree(EXAMPLE_SKILLS, skills_dir)
    shutil.rmtree(skills_dir / "study_cards" / "transformations")
    path = skills_dir / "study_cards.yaml"
    data = yaml.safe_load(path.read_text())
    data["transformations"] = [{"name": "passage", "description": "the seed itself", **transformation}]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_verbatim_user_skill_needs_no_template_and_a_prompt_is_refused(tmp_path: Path):
    path = user_skill(tmp_path, verbatim=True, min_words=40)
    skill = load_skill_file(path)
    assert skill.transformations[0].verbatim and "transformations" not in " ".join(skill.template_files())
    shown = CliRunner().invoke(
        app, ["skills", "--skills-dir", str(path.parent), "study_cards"], env={"COLUMNS": "200"}
    )
    assert shown.exit_code == 0 and "passage (verbatim)" in shown.output
    path = user_skill(tmp_path / "second", verbatim=True, prompt="study_cards/transformations/passage.j2")
    with pytest.raises(SkillError, match="remove `prompt` or drop `verbatim`"):
        load_skill_file(path)


# -- the flow ----------------------------------------------------------------------------------------
def card_reply(request: ModelRequest) -> object:
    _, stage, *rest = request.tag.split("/")
    if stage == "instruct":
        return {
            "card": f"({rest[-1]}) Which year?",
            "expected_answer": "1852",
            "suitable": True,
            "reason": "",
        }
    if stage == "teacher":
        return "1852. The lighthouse opened then."
    raise AssertionError(f"no model call expected for {request.tag}")


def run_cards(tmp_path: Path, text: str, **transformation: object) -> tuple[ListSink, ScriptedModel]:
    skill = load_skill_file(user_skill(tmp_path, verbatim=True, **transformation))
    model, sink = ScriptedModel(card_reply), ListSink()
    settings = FlowSettings(run_seed=3, refinement_rounds=0, instructions_per_seed=1)
    asyncio.run(SkillFlow(skill, model, sink, settings).run_seed(make_seed(0, text), 0))
    return sink, model


def test_a_verbatim_transformation_makes_no_model_call_and_hands_on_the_seed(tmp_path: Path):
    text = "\n\n".join(paragraph(f"p{i}", 3) for i in range(10))  # 240 words
    sink, model = run_cards(tmp_path, text, min_words=40, max_words=60)
    assert not any("/transform/" in r.tag for r in model.requests)
    [pair] = sink.pairs
    content = pair.lineage.transformation.content
    assert content in text and 40 <= len(words(content)) <= 60
    assert pair.lineage.transformation.agent == "passage"
    assert len(pair.lineage.call_ids) == 2  # the instruction and the teacher; none for the transformation
    again, _ = run_cards(tmp_path / "again", text, min_words=40, max_words=60)
    assert again.pairs[0].lineage.transformation.content == content  # same run seed, same window


def test_a_seed_too_short_for_a_verbatim_transformation_is_rejected_as_not_suitable(tmp_path: Path):
    sink, model = run_cards(tmp_path, "The Alder Creek lighthouse opened in 1852.", min_words=40)
    assert not sink.pairs and not model.requests
    [rejection] = sink.rejections
    assert rejection.reason == "not_suitable:transformation" and rejection.stage == "transformation"
    assert rejection.detail == "passage: the seed has 7 words; this transformation needs at least 40"
    assert rejection.lineage["call_ids"] == [] and rejection.lineage["document"]["id"] == "doc0000"
