"""User-defined skills from `--skills-dir`: the worked example in docs/ loads, renders and runs end to end
through the CLI against a real loopback server; malformed skill files are refused with file, field and fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agentinstruct.agents import render
from agentinstruct.cli import app
from agentinstruct.skills import load_skills
from agentinstruct.testing import OpenAIServer

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_SKILLS = REPO / "docs" / "example_skills"
SEEDS = REPO / "examples" / "seeds" / "urban_heat_islands.md"
runner = CliRunner()


def test_the_documented_example_loads_and_every_template_renders():
    skill = load_skills([EXAMPLE_SKILLS])["study_cards"]
    assert [t.name for t in skill.instruction_types] == ["definition_card", "cloze_card", "why_card"]
    assert skill.instruction_fields == {
        "expected_answer": "the short answer the card expects (a term, a number, a phrase)"
    }
    itype, goal = skill.instruction_types[0], skill.refinement.goals[0]
    variables = {
        "seed": "s",
        "content": "c",
        "instruction": "i",
        "instruction_type": itype,
        "transformation": skill.transformations[0],
        "skill": skill,
        "goal": goal,
        "round": 1,
        "constraints": [],
        "details": {"expected_answer": "e"},
        "suggestion": "g",
    }
    for template in skill.template_files():
        assert render(skill.directory, template, **variables)
    documented = (REPO / "docs" / "skills.md").read_text()
    assert (EXAMPLE_SKILLS / "study_cards" / "instruction.j2").read_text().strip() in documented


def test_the_example_runs_end_to_end_from_the_cli(tmp_path: Path, openai_server: OpenAIServer):
    out = tmp_path / "out"
    args = ["generate", str(SEEDS), "--out", str(out), "--base-url", openai_server.base_url]
    args += ["--model", "m", "--no-progress", "--skills-dir", str(EXAMPLE_SKILLS), "--skills", "study_cards"]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output

    pairs = [json.loads(line) for line in (out / "pairs.jsonl").read_text().splitlines()]
    assert pairs and {p["skill"] for p in pairs} == {"study_cards"}
    assert {p["instruction_type"] for p in pairs} <= {"definition_card", "cloze_card", "why_card"}
    assert all(p["lineage"]["transformation"]["agent"] == "key_facts" for p in pairs)
    instruct = next(r for r in openai_server.requests if "Write one study flashcard" in str(r["messages"]))
    schema = instruct["response_format"]["json_schema"]["schema"]
    assert list(schema["properties"])[:2] == ["card", "expected_answer"]
    shown = runner.invoke(app, ["skills", "--skills-dir", str(EXAMPLE_SKILLS), "study_cards"])
    assert shown.exit_code == 0 and "cloze_card" in shown.output


def test_a_malformed_user_skill_is_refused_with_file_field_and_fix(tmp_path: Path):
    skills_dir = tmp_path / "skills"
    shutil.copytree(EXAMPLE_SKILLS, skills_dir)
    path = skills_dir / "study_cards.yaml"
    data = yaml.safe_load(path.read_text())
    del data["instruction_types"][1]["intent"]
    path.write_text(yaml.safe_dump(data))

    result = runner.invoke(app, ["skills", "--skills-dir", str(skills_dir)])
    assert result.exit_code != 0
    message = " ".join(result.output.split())
    assert "study_cards.yaml" in message and "instruction_types.1.intent" in message
