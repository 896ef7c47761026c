"""Skill weights (`skill_weights`, `--skill-weight NAME=W`): how many instructions a seed gives a skill."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from agentinstruct.config import ConfigError, RunConfig, load_config, parse_skill_weights
from agentinstruct.documents import Document, Seed
from agentinstruct.flows import FlowSettings
from agentinstruct.planning import Planner
from agentinstruct.skills import SkillError, load_skills, select_skills
from test_cli import generate, read_jsonl, server  # noqa: F401  (server is a fixture)

SKILLS = load_skills()


def text_seeds(count: int) -> list[Seed]:
    document = Document(id="doc", source="doc.txt", sha256="0" * 64, text="x" * count, kind="text")
    return [Seed(id=f"doc#{i}", document=document, span=(i, i + 1), text="x") for i in range(count)]


def test_a_weight_multiplies_the_instructions_per_seed():
    rag = SKILLS["rag"]  # two instructions per seed in its skill file
    assert FlowSettings().instructions_for(rag, "s") == rag.instructions_per_seed == 2
    assert FlowSettings(skill_weights={"rag": 3}).instructions_for(rag, "s") == 6
    assert FlowSettings(skill_weights={"rag": 0}).instructions_for(rag, "s") == 0
    assert FlowSettings(instructions_per_seed=1, skill_weights={"rag": 2}).instructions_for(rag, "s") == 2
    assert FlowSettings(skill_weights={"fermi": 0}).instructions_for(rag, "s") == 2  # others keep theirs


def test_a_fractional_weight_is_exact_in_expectation_and_reproducible():
    rag = SKILLS["rag"]
    settings = FlowSettings(instructions_per_seed=1, skill_weights={"rag": 0.25})
    counts = [settings.instructions_for(rag, f"seed-{i}") for i in range(2000)]
    assert set(counts) == {0, 1} and 430 <= sum(counts) <= 570  # 500 expected; sd ~19
    assert counts == [settings.instructions_for(rag, f"seed-{i}") for i in range(2000)]
    other_run = FlowSettings(run_seed=1, instructions_per_seed=1, skill_weights={"rag": 0.25})
    assert counts != [other_run.instructions_for(rag, f"seed-{i}") for i in range(2000)]
    rounded = FlowSettings(skill_weights={"rag": 0.75})  # 2 x 0.75 = 1.5: one or two, half and half
    assert {rounded.instructions_for(rag, f"seed-{i}") for i in range(50)} == {1, 2}


def test_the_planner_makes_no_unit_for_a_seed_weighted_out_and_keeps_ordinals_dense():
    skills = [SKILLS["rag"], SKILLS["fermi"]]
    settings = FlowSettings(skill_weights={"rag": 0.3, "fermi": 0})
    planner = Planner(skills, settings=settings)
    units = [unit for seed in text_seeds(300) for unit in planner.plan(seed).units]
    assert {skill.name for skill, _, _ in units} == {"rag"}
    ordinals = [ordinal for _, ordinal, _ in units]
    assert ordinals == list(range(len(ordinals))) and 150 <= len(ordinals) <= 210  # 2 x 0.3 x 300 = 180
    kept = {key.split(":", 1)[1] for _, _, key in units}
    assert kept == {s.id for s in text_seeds(300) if settings.instructions_for(SKILLS["rag"], s.id)}


def test_weights_are_checked_and_flags_merge_into_the_file(tmp_path):
    with pytest.raises(SkillError, match=r"unknown skill 'raag'.*rag"):
        select_skills(SKILLS, "all", {"raag": 1})
    with pytest.raises(ConfigError, match=r"skill_weights.*finite number >= 0"):
        load_config(None, {"skill_weights": {"rag": -1}})
    with pytest.raises(ConfigError, match="NAME=WEIGHT"):
        parse_skill_weights(["rag"])
    with pytest.raises(ConfigError, match="NAME=WEIGHT"):
        parse_skill_weights(["rag=lots"])
    config = tmp_path / "run.yaml"
    config.write_text("skill_weights: {rag: 0.5, fermi: 2}\n")
    merged = load_config(config, {"skill_weights": parse_skill_weights(["fermi=0", "coding=1.5"])})
    assert merged.skill_weights == {"rag": 0.5, "fermi": 0.0, "coding": 1.5}
    assert load_config(config, {"skill_weights": None}).skill_weights == {"rag": 0.5, "fermi": 2}


def test_weights_enter_the_fingerprint_only_when_they_change_something():
    assert "skill_weights" not in RunConfig().fingerprint()
    assert "skill_weights" not in RunConfig(skill_weights={"rag": 1}).fingerprint()
    assert RunConfig(skill_weights={"rag": 0.5}).fingerprint()["skill_weights"] == {"rag": 0.5}


def test_generate_follows_the_weights_and_refuses_to_resume_with_others(server, tmp_path):  # noqa: F811
    out = tmp_path / "out"
    args = [
        "--skills",
        "reading_comprehension,rag",
        "--refinement-rounds",
        "0",
        "--instructions-per-seed",
        "1",
    ]
    weights = ["--skill-weight", "rag=0", "--skill-weight", "reading_comprehension=2"]
    result = generate(out, server, *args, *weights)
    assert result.exit_code == 0, result.output
    schemas = [(r.get("response_format") or {}).get("json_schema", {}).get("name") for r in server.requests]
    transforms, instructions = schemas.count("TransformationOutput"), schemas.count("InstructionOutput")
    summary = json.loads((out / "run.json").read_text())
    units = summary["counters"]["units_done"]  # one unit per seed, all reading_comprehension
    # identity (one of the 9 rotated transformations) takes the seed's own words without a model call,
    # and a seed too short for it stops there
    rejected = read_jsonl(out / "rejected.jsonl")
    short = sum(r.get("reason") == "not_suitable:transformation" for r in rejected)

    # the server's "x x x" turns are one speaker saying one thing: no transcript (content_shape: turns)
    # (a failed transcript's stand-in, another transformation with the same types, may carry the seed on)
    def seed_of(record: dict) -> tuple:
        document = record["lineage"]["document"]
        return document["id"], tuple(document["span"])

    failed = {seed_of(r) for r in rejected if r.get("reason") == "agent_failed:transformation"}
    produced = [*read_jsonl(out / "pairs.jsonl"), *rejected]
    went_on = {seed_of(r) for r in produced if r.get("skill") and r.get("stage") != "transformation"}
    no_transcript = len(failed - went_on)
    assert 0 < transforms < units
    assert instructions == 2 * (units - short - no_transcript)  # weight 2 x one instruction per seed
    produced = read_jsonl(out / "pairs.jsonl") + read_jsonl(out / "rejected.jsonl")
    assert {p.get("skill") for p in produced} == {"reading_comprehension", None}  # None: the .py seed file
    assert summary["config"]["skill_weights"] == {"rag": 0.0, "reading_comprehension": 2.0}
    counters = summary["counters"]
    assert counters["units_planned_per_skill"] == {"reading_comprehension": units}
    assert counters["units_finished_per_skill"] == {"reading_comprehension": units}
    rejected = Counter(p.get("skill") or "(document)" for p in read_jsonl(out / "rejected.jsonl"))
    assert counters["rejections_per_skill"] == dict(rejected) and rejected["(document)"] == 1
    changed = generate(out, server, *args, "--skill-weight", "rag=0.5")
    assert changed.exit_code == 1 and "skill_weights" in changed.output
