"""The LLM judge with ScriptedModel: structured request, lenient parsing, re-ask, rubrics, failures."""

from __future__ import annotations

import asyncio

from agentinstruct.models.base import ModelError
from agentinstruct.models.scripted import ScriptedModel
from agentinstruct.quality.judge import JudgeScorer, load_rubric, parse_verdict
from quality_fixtures import make_pair, tool_pair

PAIR = make_pair("Which one of the following most strengthens the engineers' argument?")


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_valid_verdict_sets_the_judge_score():
    model = ScriptedModel([{"score": 8, "rationale": "Right answer, sound reasoning."}])
    judged, result = run(JudgeScorer(model).judge(PAIR))
    assert result.score == 8 and result.rationale == "Right answer, sound reasoning."
    assert judged.quality.judge_score == 8.0 and judged.id == PAIR.id
    [request] = model.requests
    assert request.json_schema["name"] == "JudgeVerdict"
    schema = request.json_schema["schema"]
    assert schema["required"] == ["score", "rationale"]
    assert (
        schema["properties"]["score"]["type"] == "integer" and schema["properties"]["score"]["maximum"] == 10
    )
    assert request.tag == "reading_comprehension/judge" and request.temperature == 0.0
    prompt = request.messages[-1]["content"]
    assert "cannot be determined from the passage" in prompt  # the reading-comprehension rubric
    assert PAIR.messages[1]["content"] in prompt and PAIR.messages[2]["content"] in prompt


def test_lenient_parsing_of_chatty_replies():
    verdict, _ = parse_verdict('Sure!\n```json\n{"score": "7/10", "rationale": "ok"}\n```')
    assert verdict.score == 7
    verdict, _ = parse_verdict('{"score": 6.0, "rationale": "fine"} hope that helps')
    assert verdict.score == 6
    assert parse_verdict('{"score": 14, "rationale": "x"}')[0] is None
    assert parse_verdict("eight out of ten")[0] is None


def test_a_malformed_reply_is_reasked_once():
    model = ScriptedModel(["I would give it an eight.", {"score": 9, "rationale": "Good."}])
    judged, result = run(JudgeScorer(model).judge(PAIR))
    assert result.score == 9 and judged.quality.judge_score == 9.0
    assert len(model.requests) == 2
    reask = model.requests[1].messages
    assert reask[-2] == {"role": "assistant", "content": "I would give it an eight."}
    assert "could not be used" in reask[-1]["content"] and "no JSON object" in reask[-1]["content"]


def test_twice_malformed_or_a_model_error_leaves_the_pair_unscored():
    scorer = JudgeScorer(ScriptedModel(["no idea", '{"score": "high"}']), min_score=5)
    judged, result = run(scorer.judge(PAIR))
    assert result.score is None and "score" in result.error
    assert judged.quality.judge_score is None and scorer.passes(result.score)
    failing = JudgeScorer(ScriptedModel([ModelError("HTTP 500: boom")]))
    judged, result = run(failing.judge(PAIR))
    assert result.score is None and "boom" in result.error
    assert failing.counters() == {"judge_scored": 0, "judge_unscored": 1}


def test_min_score():
    scorer = JudgeScorer(ScriptedModel(), min_score=6)
    assert scorer.passes(6) and not scorer.passes(5) and scorer.passes(None)
    assert JudgeScorer(ScriptedModel()).passes(0)


def test_rubrics_per_skill_default_and_user_directory(tmp_path):
    assert load_rubric("tool_use").skill == "tool_use"
    assert load_rubric("fermi").skill == "default"
    (tmp_path / "fermi.yaml").write_text(
        "skill: fermi\ncriteria: [Assumptions are stated and plausible.]\nscale: {'10': perfect, '0': none}\n"
    )
    model = ScriptedModel([{"score": 3, "rationale": "weak"}])
    pair = make_pair(
        "How many piano tuners work in Chicago?", skill="fermi", instruction_type="quantity_estimate"
    )
    run(JudgeScorer(model, rubrics_dir=tmp_path).judge(pair))
    assert "Assumptions are stated and plausible." in model.requests[0].messages[-1]["content"]


def test_tool_traces_are_shown_to_the_judge():
    model = ScriptedModel([{"score": 10, "rationale": "correct call"}])
    run(JudgeScorer(model).judge(tool_pair()))
    prompt = model.requests[0].messages[-1]["content"]
    assert "get_weather" in prompt and '"temperature_c": 4' in prompt and "Functions available" in prompt
