"""The dataset card: `README.md` with Hugging Face dataset-card YAML front matter and a prose summary.

The front matter (license, language, task_categories, size_categories, pretty_name, tags, configs) is
built as data and dumped with PyYAML; the prose comes from `templates/dataset_card.md.j2`. A run's own
card (OUT/README.md) points its default config at pairs.jsonl; an export's card lists the splits the
export wrote (one per skill for the orca layout), so `datasets.load_dataset(DIR)` finds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from statistics import mean
from typing import Any

import jinja2
import yaml

from agentinstruct.reporting.stats import RunStats

TEMPLATES = Path(__file__).parent / "templates"

#: Hugging Face task categories per skill (every skill also gets text-generation)
TASK_CATEGORIES = {
    "reading_comprehension": ["question-answering"],
    "rag": ["question-answering"],
    "open_domain_qa": ["question-answering"],
    "multiple_choice": ["multiple-choice", "question-answering"],
    "text_classification": ["text-classification"],
    "data_to_text": ["table-to-text"],
    "text_modification": ["text2text-generation"],
}
SIZE_CATEGORIES = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
]


def size_category(count: int) -> str:
    for bound, name in SIZE_CATEGORIES:
        if count < bound:
            return name
    return "100M<n<1B"


def task_categories(skills: list[str]) -> list[str]:
    found = ["text-generation"]
    for skill in skills:
        found += [c for c in TASK_CATEGORIES.get(skill, []) if c not in found]
    return found


def front_matter(
    stats: RunStats,
    *,
    license: str,
    language: str,
    splits: Mapping[str, list[str]],
    pretty_name: str,
) -> dict[str, Any]:
    """The dataset card's YAML metadata as a dict."""
    return {
        "license": license,
        "language": [language],
        "task_categories": task_categories([s for s in stats.skills if stats.per_skill[s]] or stats.skills),
        "size_categories": [size_category(stats.pairs)],
        "pretty_name": pretty_name,
        "tags": ["synthetic", "agentinstruct", "instruction-tuning"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": split, "path": files} for split, files in splits.items()],
            }
        ],
    }


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render_card(
    stats: RunStats,
    *,
    license: str = "other",
    language: str | None = None,
    splits: Mapping[str, list[str]] | None = None,
    split_names: Mapping[str, str] | None = None,
    loading: str | None = None,
    pretty_name: str | None = None,
) -> str:
    """The whole README.md text. `splits` maps split names to data files relative to the card.

    `split_names` names each skill's split when the splits are per skill (the orca layout).
    """
    splits = dict(splits or {"train": ["pairs.jsonl"]})
    language = language or stats.language
    title = pretty_name or f"agentinstruct synthetic instructions ({stats.out.name})"
    metadata = front_matter(stats, license=license, language=language, splits=splits, pretty_name=title)
    scores = [s for values in stats.judge_scores.values() for s in values]
    config = stats.run.get("config") or {}
    benchmarks = ((config.get("quality") or {}).get("decontamination") or {}).get("files") or []
    context = {
        "front_matter": yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True),
        "title": title,
        "version": stats.run.get("version", ""),
        "pairs": stats.pairs,
        "documents": len(stats.documents),
        "rejections": sum(stats.rejections.values()),
        "unanswerable": stats.unanswerable,
        "language": language,
        "license": license,
        "split_header": "skill (split)" if split_names else "skill",
        "skills": [_skill_row(stats, skill, split_names) for skill in stats.skills],
        "splits": splits if split_names or len(splits) > 1 else {},
        "duplicate_rejections": stats.duplicate_rejections,
        "duplicate_rate": f"{stats.duplicate_rate_at_generation:.1%}",
        "residual": f"{stats.residual_near_duplicates:.1%}",
        "sample": len(stats.sample),
        "distinct_instructions": _distinct(stats.distinct.get("instructions", {})),
        "distinct_answers": _distinct(stats.distinct.get("answers", {})),
        "judge_count": len(scores),
        "judge_mean": f"{mean(scores):.2f}" if scores else "",
        "benchmarks": [Path(b).name for b in benchmarks],
        "top_rejections": stats.rejections.most_common(5),
        "loading": loading or _default_loading(stats.out),
        "models": stats.run.get("models") or [],
        "taxonomy_hash": stats.run.get("taxonomy_hash", "unknown"),
        "duration": (stats.run.get("timings") or {}).get("duration_s"),
    }
    return _environment().get_template("dataset_card.md.j2").render(**context)


def _skill_row(stats: RunStats, skill: str, split_names: Mapping[str, str] | None) -> dict[str, Any]:
    rows = stats.types_of(skill)
    name = f"{skill} (`{split_names[skill]}`)" if split_names and skill in split_names else skill
    return {
        "name": name,
        "pairs": stats.per_skill[skill],
        "covered": sum(1 for _, n, known in rows if known and n),
        "total": sum(1 for *_, known in rows if known),
    }


def _distinct(ratios: Mapping[int, float]) -> str:
    return ", ".join(f"distinct-{n} {value:.3f}" for n, value in sorted(ratios.items())) or "n/a"


def _default_loading(out: Path) -> str:
    return (
        "from datasets import load_dataset\n\n"
        f'pairs = load_dataset("json", data_files="{out.name}/pairs.jsonl", split="train")\n'
        "# one split per skill, Parquet or the orca-agentinstruct layout:\n"
        f"#   agentinstruct export {out.name} --format parquet|orca --to DIR"
    )
