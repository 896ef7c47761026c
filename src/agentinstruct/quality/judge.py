"""The optional LLM judge: scores a pair's final answer 0-10 against a per-skill rubric (SPEC §7).

Rubrics are package data (`quality/rubrics/<skill>.yaml`, `default.yaml` for skills without one; a
`rubrics_dir` of the same files overrides them) and the prompt is `quality/rubrics/judge.j2`. The judge
asks for JSON-schema structured output `{"score": int 0..10, "rationale": str}`, parses leniently (JSON
inside chatter or code fences, "8" or 8.0 for 8), and re-asks once with the problem when the reply is not
usable. A pair the judge could not score (twice malformed, or a `ModelError`) keeps `judge_score` None
and is not rejected for it: the judge is a filter on quality, not a reason to lose data. Judge calls are
tagged `<skill>/judge`, so run.json's `llm[*].by_stage` counts their tokens, and their call ids are
appended to the pair's `lineage.call_ids`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from agentinstruct.agents import PROMPTS_DIR, extract_json, render
from agentinstruct.models.base import Model, ModelError, ModelRequest
from agentinstruct.pairs import Pair, Quality
from agentinstruct.quality.settings import JudgeSettings
from agentinstruct.quality.text import content_of, stable_hash64

RUBRICS_DIR = Path(__file__).parent / "rubrics"
TURN_CHARS = 12_000


class Rubric(BaseModel):
    """What a good answer of one skill does, and what each band of the 0-10 scale means."""

    model_config = {"extra": "forbid"}
    skill: str
    criteria: list[str] = Field(min_length=1)
    scale: dict[str, str] = Field(min_length=1)


class JudgeVerdict(BaseModel):
    """The judge's reply: an integer score 0..10 and a short rationale."""

    score: int = Field(ge=0, le=10, description="0 (unusable) to 10 (excellent)")
    rationale: str = Field(description="one to three sentences naming the main strengths and problems")

    @field_validator("score", mode="before")
    @classmethod
    def _lenient_number(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().split("/")[0].strip()  # "8", "8/10"
        try:
            return round(float(value))
        except (TypeError, ValueError):
            return value


@dataclass
class JudgeResult:
    """A score (None when the judge could not give one), its rationale and the calls made."""

    score: int | None
    rationale: str = ""
    call_ids: list[str] = field(default_factory=list)
    error: str = ""


@cache
def _load_rubric(path: Path) -> Rubric:
    return Rubric.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def load_rubric(skill: str, rubrics_dir: Path | None = None) -> Rubric:
    """The rubric of a skill: the user's directory first, then the bundled file, then the default."""
    for directory in [rubrics_dir, RUBRICS_DIR]:
        if directory is not None and (Path(directory) / f"{skill}.yaml").is_file():
            return _load_rubric(Path(directory) / f"{skill}.yaml")
    if rubrics_dir is not None and (Path(rubrics_dir) / "default.yaml").is_file():
        return _load_rubric(Path(rubrics_dir) / "default.yaml")
    return _load_rubric(RUBRICS_DIR / "default.yaml")


def _schema() -> dict[str, Any]:
    schema = JudgeVerdict.model_json_schema()
    schema["required"] = ["score", "rationale"]
    schema["additionalProperties"] = False
    return {"name": "JudgeVerdict", "schema": schema}


class JudgeScorer:
    """Scores pairs 0-10 with a model and a rubric per skill; `min_score` says which pairs pass."""

    def __init__(
        self,
        model: Model,
        rubrics: Mapping[str, Rubric] | None = None,
        *,
        rubrics_dir: Path | None = None,
        min_score: float | None = None,
        temperature: float = 0.0,
        max_tokens: int = 400,
    ):
        self.model = model
        self.rubrics = dict(rubrics or {})
        self.rubrics_dir = rubrics_dir
        self.min_score = min_score
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.scored = 0
        self.unscored = 0

    @classmethod
    def from_settings(cls, model: Model, settings: JudgeSettings) -> JudgeScorer:
        return cls(
            model,
            rubrics_dir=settings.rubrics_dir,
            min_score=settings.min_score,
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
        )

    def rubric_for(self, skill: str) -> Rubric:
        return self.rubrics.get(skill) or load_rubric(skill, self.rubrics_dir)

    def passes(self, score: int | None) -> bool:
        """Whether a score clears `min_score` (an unscored pair passes)."""
        return self.min_score is None or score is None or score >= self.min_score

    def messages(self, pair: Pair) -> list[dict[str, Any]]:
        rubric = self.rubric_for(pair.skill)
        prompt = _render_prompt(
            skill=pair.skill,
            instruction_type=pair.instruction_type,
            unanswerable=pair.unanswerable,
            criteria=rubric.criteria,
            scale=rubric.scale,
            tools=json.dumps(pair.tools, ensure_ascii=False, indent=1) if pair.tools else "",
            conversation=[_turn(m) for m in pair.messages if m.get("role") != "system"],
        )
        system = "You are a strict, fair grader of instruction-tuning data. You reply with JSON only."
        return [{"role": "system", "content": system}, {"role": "user", "content": prompt}]

    async def score(self, pair: Pair) -> JudgeResult:
        """Ask the model for a verdict, re-asking once when the reply is unusable."""
        messages = self.messages(pair)
        result = JudgeResult(None)
        for attempt in (1, 2):
            request = ModelRequest(
                messages=messages,
                temperature=self.temperature,
                max_tokens=self.max_tokens,
                seed=stable_hash64(f"judge/{pair.id}/{attempt}") & 0xFFFFFFFF,
                json_schema=_schema(),
                tag=f"{pair.skill}/judge",
            )
            try:
                response = await self.model.complete(request)
            except ModelError as exc:
                result.error = f"model_error: {exc}"
                break
            if response.call_id:
                result.call_ids.append(response.call_id)
            verdict, result.error = parse_verdict(response.text)
            if verdict is not None:
                result.score, result.rationale = verdict.score, verdict.rationale
                break
            reask = render(PROMPTS_DIR, "reask.j2", error=result.error, structured=True)
            messages = [
                *messages,
                {"role": "assistant", "content": response.text},
                {"role": "user", "content": reask},
            ]
        self.scored += result.score is not None
        self.unscored += result.score is None
        return result

    async def judge(self, pair: Pair) -> tuple[Pair, JudgeResult]:
        """The pair with `quality.judge_score` set (judge call ids added to its lineage), and the result."""
        result = await self.score(pair)
        if result.score is None:
            return pair, result
        quality = Quality(judge_score=float(result.score))
        lineage = pair.lineage.model_copy(update={"call_ids": [*pair.lineage.call_ids, *result.call_ids]})
        return pair.model_copy(update={"quality": quality, "lineage": lineage}), result

    def counters(self) -> dict[str, int]:
        return {"judge_scored": self.scored, "judge_unscored": self.unscored}


def parse_verdict(text: str) -> tuple[JudgeVerdict | None, str]:
    """A verdict from a reply, leniently, or None and what was wrong with it."""
    try:
        return JudgeVerdict.model_validate(extract_json(text)), ""
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'object'}: {e['msg']}" for e in exc.errors())
        return None, f"invalid fields ({problems})"
    except ValueError as exc:
        return None, str(exc)


def _turn(message: Mapping[str, Any]) -> dict[str, str]:
    text = content_of(message)
    if message.get("tool_calls"):
        text = (
            (text + "\n" if text else "") + "calls: " + json.dumps(message["tool_calls"], ensure_ascii=False)
        )
    if len(text) > TURN_CHARS:
        text = text[:TURN_CHARS] + f"\n[… {len(text) - TURN_CHARS} more characters]"
    return {"role": str(message.get("role")), "text": text}


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(RUBRICS_DIR)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def _render_prompt(**variables: Any) -> str:
    return _environment().get_template("judge.j2").render(**variables).strip()
