"""Builders for quality, report and export tests: valid pairs with lineage, and a run directory on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentinstruct.pairs import Pair, Rejection

PASSAGE = (
    "The harbour commission met in 1998 to decide whether the old breakwater should be rebuilt. Engineers "
    "estimated the cost at 40 million and argued that storms had doubled since the last repair, while the "
    "fishermen wanted the money spent on dredging the channel first."
)


def make_pair(
    question: str,
    answer: str = "The engineers argued that storms had doubled, so the breakwater must be rebuilt.",
    *,
    skill: str = "reading_comprehension",
    instruction_type: str = "literal_comprehension",
    document: str = "doc-1",
    passage: str = PASSAGE,
    unanswerable: bool = False,
    judge_score: float | None = None,
    system: str = "You are a careful reader.",
    **extra: Any,
) -> Pair:
    """A reading-comprehension-shaped pair: user turn = passage + question, lineage naming the question."""
    user = f"{passage}\n\n{question}" if passage else question
    return Pair.build(
        skill=skill,
        instruction_type=instruction_type,
        messages=[
            {"role": "system", "content": system},
            {"role": "user", "content": user},
            {"role": "assistant", "content": answer},
        ],
        lineage={
            "document": {
                "id": document,
                "source": f"/data/{document}.md",
                "sha256": "0" * 64,
                "span": [0, 100],
            },
            "transformation": {"agent": "identity", "content": passage},
            "seed_instruction": {"agent": instruction_type, "text": question},
            "teacher": {"model": "teacher-model", "params": {"temperature": 0.7}},
            "call_ids": ["c1", "c2"],
        },
        unanswerable=unanswerable,
        quality={"judge_score": judge_score},
        **extra,
    )


def tool_pair(document: str = "doc-tools") -> Pair:
    """A tool-use pair: an assistant tool call, a tool result and a final answer."""
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
    }
    return Pair.build(
        skill="tool_use",
        instruction_type="single_api_all_params",
        messages=[
            {"role": "system", "content": ""},
            {"role": "user", "content": "What is the weather in Oslo right now?"},
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature_c": 4, "sky": "cloudy"}'},
            {"role": "assistant", "content": "It is 4 °C and cloudy in Oslo."},
        ],
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Current weather of a city.",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
        ],
        lineage={
            "document": {"id": document, "source": "/code/weather.py", "sha256": "1" * 64, "span": [0, 50]}
        },
    )


def write_run(
    out: Path, pairs: list[Pair], rejections: list[Rejection] = (), run: dict | None = None
) -> Path:
    """A run output directory as the pipeline leaves it."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "pairs.jsonl").open("w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps(pair.model_dump(mode="json"), ensure_ascii=False) + "\n")
    with (out / "rejected.jsonl").open("w", encoding="utf-8") as handle:
        for rejection in rejections:
            handle.write(json.dumps(rejection.model_dump(mode="json", exclude_none=True)) + "\n")
    if run is not None:
        (out / "run.json").write_text(json.dumps(run), encoding="utf-8")
    return out


def sample_run_json(skills: str = "reading_comprehension,text_modification,tool_use") -> dict:
    stage = {"calls": 3, "prompt_tokens": 900, "completion_tokens": 300}
    return {
        "version": "0.1.0",
        "status": "finished",
        "config": {"skills": skills, "skills_dirs": []},
        "taxonomy_hash": "abc123",
        "models": [{"name": "test-model", "backend": "openai"}],
        "llm": [
            {
                "calls": 9,
                "prompt_tokens": 2700,
                "completion_tokens": 900,
                "by_stage": {
                    "reading_comprehension/transform": stage,
                    "reading_comprehension/teacher": stage,
                    "reading_comprehension/judge": stage,
                },
            }
        ],
        "timings": {"duration_s": 12.5},
    }
