"""The `report` command: a dataset card (`OUT/README.md`) and an HTML report with plots (`OUT/report.html`).

`write_report(out)` gathers the numbers (`stats`), draws the figures into `OUT/report/*.png` (`plots`),
and renders the card (`card`) and the HTML page (templates in `templates/`). The HTML refers to the images
next to it, or embeds them (`embed_images=True`) for a single file to send around. It works on a run with
zero pairs: every figure then says there is no data.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from statistics import mean

import jinja2

from agentinstruct.reporting import plots
from agentinstruct.reporting.card import TEMPLATES, render_card
from agentinstruct.reporting.stats import Prices, ReportError, RunStats, collect_stats, stage_usage

__all__ = ["ReportError", "ReportPaths", "write_report"]


@dataclass
class ReportPaths:
    """What `write_report` wrote."""

    card: Path
    html: Path
    images: list[Path] = field(default_factory=list)


def write_report(
    out: Path,
    *,
    license: str = "other",
    language: str | None = None,
    skills_dirs: list[Path] | None = None,
    prices: Prices | None = None,
    embed_images: bool = False,
) -> ReportPaths:
    """Write OUT/README.md, OUT/report.html and OUT/report/*.png for a run's output directory.

    `language` defaults to the language detected in the answers; `prices` maps model names (or "*") to
    (input, output) prices per million tokens, for the cost per stage.
    """
    out = Path(out)
    stats = collect_stats(out, skills_dirs=skills_dirs)
    image_dir = out / "report"
    images = _draw(stats, image_dir, prices)
    card = out / "README.md"
    card.write_text(render_card(stats, license=license, language=language), encoding="utf-8")
    html = out / "report.html"
    html.write_text(_render_html(stats, images, prices, embed_images), encoding="utf-8")
    flat = [path for key, path in images.items() if key != "types"] + list(images["types"].values())
    return ReportPaths(card=card, html=html, images=flat)


def _draw(stats: RunStats, directory: Path, prices: Prices | None) -> dict:
    for old in directory.glob("*.png") if directory.is_dir() else []:
        old.unlink()  # figures of skills no longer in the run must not linger
    return {
        "pairs_per_skill": plots.pairs_per_skill(stats, directory / "pairs_per_skill.png"),
        "types": {s: plots.types_of_skill(stats, s, directory / f"types_{s}.png") for s in stats.skills},
        "rejections": plots.rejection_reasons(stats, directory / "rejections.png"),
        "tokens": plots.tokens_per_stage(stage_usage(stats.run, prices), directory / "tokens_per_stage.png"),
        "lengths": plots.length_distributions(stats, directory / "lengths.png"),
        "judge": plots.judge_scores(stats, directory / "judge_scores.png"),
        "diversity": plots.diversity(stats, directory / "diversity.png"),
    }


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=True,
    )


def _render_html(stats: RunStats, images: dict, prices: Prices | None, embed: bool) -> str:
    def source(path: Path) -> str:
        if embed:
            return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
        return path.relative_to(stats.out).as_posix()

    sources = {key: source(value) for key, value in images.items() if key != "types"}
    sources["types"] = {skill: source(path) for skill, path in images["types"].items()}
    scores = [s for values in stats.judge_scores.values() for s in values]
    distinct_sizes = sorted(next(iter(stats.distinct.values()), {}))
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=f"agentinstruct report: {stats.out.name}",
            out=str(stats.out),
            version=stats.run.get("version", ""),
            status=stats.run.get("status", "unknown"),
            duration=(stats.run.get("timings") or {}).get("duration_s"),
            pairs=stats.pairs,
            rejections=sum(stats.rejections.values()),
            documents=len(stats.documents),
            unanswerable=stats.unanswerable,
            duplicate_rate=f"{stats.duplicate_rate_at_generation:.1%}",
            residual=f"{stats.residual_near_duplicates:.1%}",
            judge_mean=f"{mean(scores):.2f}" if scores else "",
            images=sources,
            stages=stats.rejections_per_stage.most_common(),
            usage=stage_usage(stats.run, prices),
            distinct=stats.distinct,
            distinct_sizes=distinct_sizes,
            sample=len(stats.sample),
        )
    )
