"""Token accounting and prices: what a run (and its whole output directory) spent, per model, skill and stage.

The call store is the ledger: every call it holds was paid for once, so what an output directory has
spent is the sum of its stored calls' tokens priced per model (`RunStore.usage_by_model`); a run adds
the calls it makes to that baseline as they complete. Budget ceilings (`--budget-usd`,
`--max-total-tokens`) compare against these totals, so they hold across resumes: re-running with the same
ceiling stops at once, a higher one continues. Cached answers cost nothing. A shard has its own call
store, so a ceiling applies to each shard: split a total budget across the shards.

A ceiling stops new calls once what was spent plus the expected cost of the calls already in flight (their
number times the average call so far) reaches it; those calls finish and are kept, so the final spend
lands close to the ceiling, within about one call's cost per slot.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field


class ModelPrice(BaseModel):
    """USD per million tokens for one model (`prices: {model: {input_per_mtok, output_per_mtok}}`)."""

    model_config = {"extra": "forbid"}

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok) / 1e6


def stage_of(tag: str) -> tuple[str, str]:
    """(skill, stage) from a call tag "skill/stage/agent..." ("untagged" when missing)."""
    parts = tag.split("/")
    skill = parts[0] or "untagged"
    stage = parts[1] if len(parts) > 1 and parts[1] else "untagged"
    return skill, stage


@dataclass
class Usage:
    """Calls, tokens and cost of one bucket (a model, a skill, a stage...)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, prompt_tokens: int, completion_tokens: int, cost: float, calls: int = 1) -> None:
        self.calls += calls
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.cost_usd += cost

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self, priced: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }
        data["cost_usd"] = round(self.cost_usd, 6) if priced else None
        return data


@dataclass
class Ledger:
    """What the output directory spent before this run (from the call store) plus what this run spends."""

    prices: dict[str, ModelPrice] = field(default_factory=dict)
    #: per model: calls already in the call store when the run started
    baseline: dict[str, Usage] = field(default_factory=dict)
    #: per model: calls this run sent (cache hits excluded)
    fresh: dict[str, Usage] = field(default_factory=lambda: defaultdict(Usage))
    #: per (skill, stage): calls this run sent
    fresh_by_stage: dict[tuple[str, str], Usage] = field(default_factory=lambda: defaultdict(Usage))

    @classmethod
    def from_store(cls, store: Any, prices: dict[str, ModelPrice]) -> Ledger:
        ledger = cls(prices=dict(prices))
        for model, (calls, prompt, completion) in store.usage_by_model().items():
            usage = Usage()
            usage.add(prompt, completion, ledger.cost(model, prompt, completion), calls)
            ledger.baseline[model] = usage
        return ledger

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        price = self.prices.get(model)
        return price.cost(prompt_tokens, completion_tokens) if price is not None else 0.0

    def record(self, model: str, tag: str, prompt_tokens: int, completion_tokens: int) -> None:
        """Account one call this run sent and got an answer to."""
        cost = self.cost(model, prompt_tokens, completion_tokens)
        self.fresh[model].add(prompt_tokens, completion_tokens, cost)
        self.fresh_by_stage[stage_of(tag)].add(prompt_tokens, completion_tokens, cost)

    def unpriced(self, models: list[str]) -> list[str]:
        return sorted({m for m in models if m not in self.prices})

    # -- totals ------------------------------------------------------------------------------------------
    def this_run(self) -> Usage:
        total = Usage()
        for usage in self.fresh.values():
            total.add(usage.prompt_tokens, usage.completion_tokens, usage.cost_usd, usage.calls)
        return total

    def total(self) -> Usage:
        """Everything the output directory has spent: the store's calls before this run plus this run's."""
        total = self.this_run()
        for usage in self.baseline.values():
            total.add(usage.prompt_tokens, usage.completion_tokens, usage.cost_usd, usage.calls)
        return total

    def average_call(self) -> Usage:
        """Tokens and cost of an average paid call (this run's, else the store's); zero when none yet."""
        for usage in (self.this_run(), self.total()):
            if usage.calls:
                average = Usage()
                average.add(
                    usage.prompt_tokens // usage.calls,
                    usage.completion_tokens // usage.calls,
                    usage.cost_usd / usage.calls,
                    1,
                )
                return average
        return Usage()

    def report(self, stats: list[tuple[str, Any]] | None = None) -> dict[str, Any]:
        """The `accounting` section of run.json.

        `stats` lists (model name, `CallStats`) of the run's models, for cache hits per model and stage.
        """
        stats = stats or []
        cached_by_model: dict[str, int] = defaultdict(int)
        for name, model_stats in stats:
            cached_by_model[name] += model_stats.cached
        names = sorted({*self.baseline, *self.fresh, *cached_by_model})
        priced = all(name in self.prices for name in names) if names else bool(self.prices)
        models = {}
        for name in names:
            fresh = self.fresh.get(name, Usage())
            before = self.baseline.get(name, Usage())
            models[name] = {
                **fresh.as_dict(name in self.prices),
                "cached_calls": cached_by_model.get(name, 0),
                "price": self.prices[name].model_dump() if name in self.prices else None,
                "store_total": _plus(before, fresh).as_dict(name in self.prices),
            }
        cached_by_stage: dict[tuple[str, str], int] = defaultdict(int)
        for _, model_stats in stats:
            for key, entry in model_stats.by_stage.items():
                cached_by_stage[stage_of(key)] += entry["calls"]
        for key, usage in self.fresh_by_stage.items():
            cached_by_stage[key] -= usage.calls
        by_skill: dict[str, Usage] = defaultdict(Usage)
        by_stage: dict[str, Usage] = defaultdict(Usage)
        by_skill_stage: dict[str, dict[str, Any]] = {}
        for (skill, stage), usage in sorted(self.fresh_by_stage.items()):
            for bucket in (by_skill[skill], by_stage[stage]):
                bucket.add(usage.prompt_tokens, usage.completion_tokens, usage.cost_usd, usage.calls)
            by_skill_stage[f"{skill}/{stage}"] = {
                **usage.as_dict(priced),
                "cached_calls": max(0, cached_by_stage.get((skill, stage), 0)),
            }
        for (skill, stage), cached in sorted(cached_by_stage.items()):
            if f"{skill}/{stage}" not in by_skill_stage and cached > 0:
                by_skill_stage[f"{skill}/{stage}"] = {**Usage().as_dict(priced), "cached_calls": cached}
        return {
            "priced": priced,
            "this_run": self.this_run().as_dict(priced),
            "total": self.total().as_dict(priced),
            "models": models,
            "by_skill": {k: v.as_dict(priced) for k, v in sorted(by_skill.items())},
            "by_stage": {k: v.as_dict(priced) for k, v in sorted(by_stage.items())},
            "by_skill_stage": by_skill_stage,
        }


def _plus(a: Usage, b: Usage) -> Usage:
    total = Usage()
    total.add(a.prompt_tokens, a.completion_tokens, a.cost_usd, a.calls)
    total.add(b.prompt_tokens, b.completion_tokens, b.cost_usd, b.calls)
    return total
