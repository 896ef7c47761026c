"""Shared flow machinery beyond reading comprehension: taxonomy coverage by seed ordinal, verifiable
constraints with a repair round, teachers that call real tools (recorded in lineage), and the run's
corpus index built once and reused."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest

from agentinstruct.flows import FlowSettings, SkillFlow
from agentinstruct.flows.resources import FlowResources, build_tools, load_or_build_search
from agentinstruct.models import ModelRequest, ScriptedModel
from agentinstruct.skills import load_skills
from test_flows import ListSink, make_seed, rc_reply

pytestmark = pytest.mark.timeout(120)

# text_modification's transformations (identity, excerpt) take the seed word for word: 40 words at least
TEXT = (
    "Grandma's apple pie needs six apples, a cup of sugar and a pinch of cinnamon. Bake it for an hour.\n\n"
    "Peel and slice the apples thinly, toss them with the sugar and cinnamon, and pile them into a "
    "buttered dish lined with pastry. Cover it with a second sheet, cut three slits in the top and "
    "brush it with milk."
)
SHORT_LIMIT = {"kind": "word_count", "relation": "at_most", "number": 6}


def run_seeds(flow: SkillFlow, count: int) -> None:
    async def go() -> None:
        for ordinal in range(count):
            await flow.run_seed(make_seed(ordinal, TEXT), ordinal)

    asyncio.run(go())


def modification_reply(teacher_answers: list[str]):
    """Scripted text_modification agents; the teacher gives `teacher_answers` in turn (last one repeats)."""
    answers = iter(teacher_answers)
    last: list[str] = []

    def reply(request: ModelRequest) -> object:
        _, stage, *rest = request.tag.split("/")
        if stage == "instruct":
            return {
                # the recipe itself is shown above the request (a copy of it here would be sent back)
                "instruction": f"({rest[-1]}) Rewrite the recipe above in at most 6 words.",
                "constraints": [SHORT_LIMIT],
                "suitable": True,
                "reason": "",
            }
        if stage == "teacher":
            last[:] = [next(answers, last[0] if last else "")]
            return last[0]
        raise AssertionError(f"unexpected tag {request.tag}")

    return reply


def test_ordinals_cover_the_taxonomy_evenly():
    skill = load_skills()["text_modification"]
    model = ScriptedModel(modification_reply(["Apples, sugar, cinnamon; bake."]))
    sink = ListSink()
    flow = SkillFlow(skill, model, sink, FlowSettings(refinement_rounds=0))
    run_seeds(flow, 2 * len(skill.instruction_types) * len(skill.transformations))

    instructed = Counter(r.tag.split("/")[-1] for r in model.requests if "/instruct/" in r.tag)
    # both transformations are verbatim (no model call), so the pairs' lineage shows which one ran
    transformed = Counter(p.lineage.transformation.agent for p in sink.pairs)
    assert set(instructed) == {t.name for t in skill.instruction_types}
    assert set(instructed.values()) == {2 * len(skill.transformations)}
    assert set(transformed) == {t.name for t in skill.transformations}
    assert len(set(transformed.values())) == 1
    assert not any("/transform/" in r.tag for r in model.requests)


def test_a_failing_answer_is_repaired_once_and_the_repair_is_recorded():
    skill = load_skills()["text_modification"]
    long_answer = "Take six apples, one cup of sugar and cinnamon, then bake the pie for an hour."
    model = ScriptedModel(modification_reply([long_answer, "Six apples, sugar, cinnamon: bake."]))
    sink = ListSink()
    run_seeds(SkillFlow(skill, model, sink, FlowSettings(refinement_rounds=0)), 1)

    [pair] = sink.pairs
    assert pair.messages[-1]["content"] == "Six apples, sugar, cinnamon: bake."
    checks = {c.name: c for c in pair.verification.checks}
    assert pair.verification.status == "passed" and checks["constraints"].ok
    assert "passed after 1 repair round" in checks["repaired"].detail
    assert "at most 6 allowed" in checks["repaired"].detail
    repair_request = next(r for r in model.requests if r.tag.endswith("/repair"))
    assert repair_request.messages[-2] == {"role": "assistant", "content": long_answer}
    assert "at most 6 allowed" in repair_request.messages[-1]["content"]
    # the training pair shows the original task, not the repair conversation
    assert pair.messages[1]["content"] == repair_request.messages[1]["content"]


def test_an_answer_that_stays_wrong_is_rejected_with_the_failed_constraint():
    skill = load_skills()["text_modification"]
    long_answer = "Take six apples, one cup of sugar and cinnamon, then bake the pie for an hour."
    model = ScriptedModel(modification_reply([long_answer]))
    sink = ListSink()
    run_seeds(SkillFlow(skill, model, sink, FlowSettings(refinement_rounds=0)), 1)

    assert not sink.pairs
    [rejection] = sink.rejections
    assert rejection.reason == "verification_failed:constraints"
    assert "at most 6 allowed" in rejection.detail
    assert sum(r.tag.endswith("/repair") for r in model.requests) == 1


def test_a_teacher_with_the_calculator_records_its_calls_in_lineage():
    skill = load_skills()["reading_comprehension"].model_copy(update={"teacher_tools": ["calculator"]})
    resources = FlowResources(tools=build_tools(["calculator"], None))

    def reply(request: ModelRequest) -> object:
        if "/teacher/" not in request.tag:
            return rc_reply(request)
        schema = request.json_schema["schema"]
        if "anyOf" in schema and not any(
            m["role"] == "user" and "Result of" in m["content"] for m in request.messages
        ):
            return {"action": "call", "tool": "calculator", "arguments": {"expression": "1942 - 1852"}}
        return {"action": "answer", "answer": "The keepers served 1942 - 1852 = 90 years."}

    sink = ListSink()
    flow = SkillFlow(
        skill, ScriptedModel(reply), sink, FlowSettings(refinement_rounds=0), resources=resources
    )
    asyncio.run(flow.run_seed(make_seed(0)))

    assert sink.pairs
    for pair in sink.pairs:
        assert pair.messages[-1]["content"] == "The keepers served 1942 - 1852 = 90 years."
        [call] = pair.lineage.tool_calls
        assert call["name"] == "calculator" and call["ok"] and '"90"' in call["result"]


def test_the_corpus_index_is_built_once_and_reloaded(tmp_path: Path):
    built: list[int] = []

    def seeds():
        built.append(1)
        return [make_seed(i, f"Seed number {i} talks about lighthouse keeper {i}.") for i in range(5)]

    first = load_or_build_search(tmp_path / "search", seeds)
    second = load_or_build_search(tmp_path / "search", seeds)
    assert built == [1] and len(second) == 5
    assert [h.id for h in first.search("keeper 3", k=1)] == [h.id for h in second.search("keeper 3", k=1)]
    assert json.loads((tmp_path / "search" / "search.json").read_text())
    assert not (tmp_path / "search.partial").exists()
