"""The numbers behind the dataset card and the HTML report, gathered from a run's output files.

`collect_stats(out)` streams pairs.jsonl and rejected.jsonl once (memory grows with the number of skills
and instruction types, plus one length per pair, not with the text), reads run.json when present, and
lines the counts up against the taxonomy of the run's skills so that instruction types with no pair
show as zero. Text-based measures (distinct n-grams, residual near duplicates, language) use a fixed-size
random sample of pairs, so they compare across runs of different sizes.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agentinstruct.quality.dedup import DedupItem, Deduplicator
from agentinstruct.quality.text import answer_text, ngram_hashes, task_text, token_hashes, user_text, words

SAMPLE_SIZE = 5000
LANGUAGE_SAMPLE = 200


class ReportError(ValueError):
    """The directory is not a run's output directory; the message names the fix."""


@dataclass
class Sampled:
    """One pair kept in the text sample."""

    id: str
    skill: str
    instruction: str
    task: str
    answer: str


@dataclass
class RunStats:
    """Counts, distributions and diversity measures of one run's output."""

    out: Path
    run: dict[str, Any] = field(default_factory=dict)
    pairs: int = 0
    per_skill: Counter[str] = field(default_factory=Counter)
    per_type: Counter[tuple[str, str]] = field(default_factory=Counter)
    unanswerable: int = 0
    documents: set[str] = field(default_factory=set)
    rejections: Counter[str] = field(default_factory=Counter)
    rejections_per_stage: Counter[str] = field(default_factory=Counter)
    instruction_words: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    answer_words: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    judge_scores: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    taxonomy: dict[str, list[str]] = field(default_factory=dict)
    sample: list[Sampled] = field(default_factory=list)
    distinct: dict[str, dict[int, float]] = field(default_factory=dict)
    residual_near_duplicates: float = 0.0
    languages: Counter[str] = field(default_factory=Counter)

    @property
    def skills(self) -> list[str]:
        """The run's skills (from the taxonomy) and any other skill seen in the output, in order."""
        seen = [
            s for s in sorted({*self.per_skill, *(s for s, _ in self.per_type)}) if s not in self.taxonomy
        ]
        return [*self.taxonomy, *seen]

    def types_of(self, skill: str) -> list[tuple[str, int, bool]]:
        """(instruction type, pairs, in the taxonomy) for every type of a skill, zero counts included."""
        known = self.taxonomy.get(skill, [])
        extra = sorted({t for s, t in self.per_type if s == skill} - set(known))
        return [(t, self.per_type[(skill, t)], True) for t in known] + [
            (t, self.per_type[(skill, t)], False) for t in extra
        ]

    @property
    def duplicate_rejections(self) -> int:
        return sum(n for reason, n in self.rejections.items() if reason.startswith("dedup:"))

    @property
    def duplicate_rate_at_generation(self) -> float:
        """Share of screened candidates the gate dropped as duplicates."""
        total = self.pairs + self.duplicate_rejections
        return self.duplicate_rejections / total if total else 0.0

    @property
    def judge_score_count(self) -> int:
        return sum(len(v) for v in self.judge_scores.values())

    @property
    def language(self) -> str:
        return self.languages.most_common(1)[0][0] if self.languages else "en"


def _records(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield record


def collect_stats(
    out: Path, *, skills_dirs: list[Path] | None = None, sample_size: int = SAMPLE_SIZE, seed: int = 0
) -> RunStats:
    """Read a run's output directory into `RunStats`."""
    out = Path(out)
    if not (out / "pairs.jsonl").exists() and not (out / "run.json").exists():
        raise ReportError(
            f"{out} is not a run output directory (no pairs.jsonl or run.json); pass a run's --out"
        )
    stats = RunStats(out=out)
    if (out / "run.json").exists():
        stats.run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    stats.taxonomy = _taxonomy(stats.run, skills_dirs)
    rng = random.Random(seed)
    for record in _records(out / "pairs.jsonl"):
        _count_pair(stats, record, rng, sample_size)
    for record in _records(out / "rejected.jsonl"):
        stats.rejections[str(record.get("reason"))] += 1
        stats.rejections_per_stage[str(record.get("stage"))] += 1
    stats.distinct = {
        "instructions": distinct_ngrams([s.instruction for s in stats.sample]),
        "answers": distinct_ngrams([s.answer for s in stats.sample]),
    }
    stats.residual_near_duplicates = residual_duplicate_rate(stats.sample)
    stats.languages = detect_languages([s.answer or s.instruction for s in stats.sample[:LANGUAGE_SAMPLE]])
    return stats


def _count_pair(stats: RunStats, record: dict[str, Any], rng: random.Random, sample_size: int) -> None:
    skill, itype = str(record.get("skill")), str(record.get("instruction_type"))
    messages = record.get("messages") or []
    stats.pairs += 1
    stats.per_skill[skill] += 1
    stats.per_type[(skill, itype)] += 1
    stats.unanswerable += bool(record.get("unanswerable"))
    document = ((record.get("lineage") or {}).get("document") or {}).get("id")
    if document:
        stats.documents.add(str(document))
    instruction, answer = user_text(messages), answer_text(messages)
    stats.instruction_words[skill].append(len(words(instruction)))
    stats.answer_words[skill].append(len(words(answer)))
    score = (record.get("quality") or {}).get("judge_score")
    if score is not None:
        stats.judge_scores[skill].append(float(score))
    sampled = Sampled(
        str(record.get("id")), skill, instruction, task_text(messages, record.get("lineage")), answer
    )
    if len(stats.sample) < sample_size:  # reservoir sampling: every pair equally likely to be kept
        stats.sample.append(sampled)
    else:
        slot = rng.randrange(stats.pairs)
        if slot < sample_size:
            stats.sample[slot] = sampled


def _taxonomy(run: dict[str, Any], skills_dirs: list[Path] | None) -> dict[str, list[str]]:
    """Instruction types of the run's skills (all bundled skills when run.json does not say)."""
    from agentinstruct.skills import SkillError, load_skills, select_skills

    config = run.get("config") or {}
    dirs = [Path(d) for d in (skills_dirs or config.get("skills_dirs") or [])]
    try:
        loaded = load_skills([d for d in dirs if d.is_dir()])
        chosen = select_skills(loaded, str(config.get("skills") or "all"))
    except SkillError:
        chosen = list(load_skills().values())
    return {skill.name: [t.name for t in skill.instruction_types] for skill in chosen}


def distinct_ngrams(texts: list[str], sizes: tuple[int, ...] = (1, 2, 3)) -> dict[int, float]:
    """Distinct-n: unique word n-grams over all n-grams of the texts, for each n."""
    ratios = {}
    hashed = [token_hashes(words(text)) for text in texts]
    for n in sizes:
        grams = [ngram_hashes(h, n) for h in hashed]
        joined = np.concatenate(grams) if grams else np.empty(0, dtype=np.uint64)
        ratios[n] = round(len(np.unique(joined)) / len(joined), 4) if len(joined) else 0.0
    return ratios


def residual_duplicate_rate(sample: list[Sampled]) -> float:
    """Share of sampled pairs that are exact or near duplicates of an earlier sampled pair."""
    if not sample:
        return 0.0
    deduplicator = Deduplicator()
    duplicates = 0
    for entry in sample:
        item = DedupItem(entry.id, entry.skill, entry.instruction, entry.task)
        if deduplicator.check_item(item) is not None:
            duplicates += 1
        else:
            deduplicator.add_item(item)
    return round(duplicates / len(sample), 4)


def detect_languages(texts: list[str]) -> Counter[str]:
    """Languages of a few texts (langdetect, seeded so the answer is stable)."""
    from langdetect import DetectorFactory, LangDetectException, detect

    DetectorFactory.seed = 0
    found: Counter[str] = Counter()
    for text in texts:
        if len(text.strip()) < 20:
            continue
        try:
            found[detect(text[:2000]).split("-")[0]] += 1
        except LangDetectException:
            continue
    return found


@dataclass(frozen=True)
class StageUsage:
    """Tokens (and cost, when prices are known) of one stage, summed over the run's models."""

    stage: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None


Prices = dict[str, tuple[float, float]]


def stage_usage(run: dict[str, Any], prices: Prices | None = None) -> list[StageUsage]:
    """Per-stage tokens from run.json's `llm[*].by_stage`; cost from prices per million tokens (in, out).

    `prices` maps a model name to its (input, output) price per million tokens; the key "*" applies to
    models not named. Stages are `<skill>/<stage>` as tagged by the flows (`reading_comprehension/teacher`).
    """
    models = run.get("models") or []
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
    priced: set[str] = set()
    for position, usage in enumerate(run.get("llm") or []):
        name = str((models[position] if position < len(models) else {}).get("name", ""))
        price = (prices or {}).get(name) or (prices or {}).get("*")
        for stage, entry in (usage.get("by_stage") or {}).items():
            row = totals[stage]
            row[0] += entry.get("calls", 0)
            row[1] += entry.get("prompt_tokens", 0)
            row[2] += entry.get("completion_tokens", 0)
            if price is not None:
                row[3] += (
                    entry.get("prompt_tokens", 0) * price[0] + entry.get("completion_tokens", 0) * price[1]
                ) / 1e6
                priced.add(stage)
    return [
        StageUsage(stage, int(c), int(p), int(o), round(cost, 6) if stage in priced else None)
        for stage, (c, p, o, cost) in sorted(totals.items())
    ]
