"""The report's figures, drawn with matplotlib's object API on the Agg canvas (no display, no pyplot state).

Each function draws one figure from `RunStats` into a PNG file and returns its path; a figure with no
data says so in its middle instead of failing, so a run with zero pairs still gets a full report.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from agentinstruct.reporting.stats import RunStats, StageUsage

DPI = 100
BAR = "#4c72b0"
ZERO = "#d62728"
EXTRA = "#8c8c8c"


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def _empty(path: Path, title: str, message: str) -> Path:
    figure = _figure(6, 2)
    axes = figure.add_subplot()
    axes.set_title(title)
    axes.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="#555555")
    axes.set_axis_off()
    return _save(figure, path)


def _barh(
    path: Path, title: str, labels: list[str], values: list[float], colors: list[str] | None = None
) -> Path:
    figure = _figure(8, max(2.0, 0.28 * len(labels) + 1.2))
    axes = figure.add_subplot()
    positions = range(len(labels))
    axes.barh(positions, values, color=colors or BAR)
    axes.set_yticks(list(positions), labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_title(title)
    for y, value in zip(positions, values, strict=True):
        axes.text(value, y, f" {value:g}", va="center", fontsize=7)
    axes.margins(x=0.12)
    return _save(figure, path)


def pairs_per_skill(stats: RunStats, path: Path) -> Path:
    skills = stats.skills
    if not skills:
        return _empty(path, "Pairs per skill", "no skills")
    counts = [stats.per_skill[s] for s in skills]
    colors = [ZERO if n == 0 else BAR for n in counts]
    return _barh(path, f"Pairs per skill ({stats.pairs} in total)", skills, counts, colors)


def types_of_skill(stats: RunStats, skill: str, path: Path) -> Path:
    """Pairs per instruction type of one skill, against its taxonomy (zero in red, off-taxonomy in grey)."""
    rows = stats.types_of(skill)
    if not rows:
        return _empty(path, f"{skill}: instruction types", "no instruction types")
    labels = [name if known else f"{name} (not in taxonomy)" for name, _, known in rows]
    colors = [EXTRA if not known else ZERO if n == 0 else BAR for _, n, known in rows]
    covered = sum(1 for _, n, known in rows if known and n)
    total = sum(1 for *_, known in rows if known)
    title = f"{skill}: pairs per instruction type ({covered}/{total} types covered)"
    return _barh(path, title, labels, [n for _, n, _ in rows], colors)


def rejection_reasons(stats: RunStats, path: Path, top: int = 30) -> Path:
    if not stats.rejections:
        return _empty(path, "Rejections per reason", "nothing was rejected")
    common = stats.rejections.most_common(top)
    title = f"Rejections per reason ({sum(stats.rejections.values())} in total)"
    return _barh(path, title, [r for r, _ in common], [n for _, n in common])


def tokens_per_stage(usage: list[StageUsage], path: Path) -> Path:
    if not usage:
        return _empty(path, "Tokens per stage", "run.json has no per-stage LLM usage")
    priced = any(u.cost is not None for u in usage)
    figure = _figure(11 if priced else 8, max(2.0, 0.3 * len(usage) + 1.2))
    axes = figure.add_subplot(1, 2 if priced else 1, 1)
    positions = list(range(len(usage)))
    prompt = [u.prompt_tokens for u in usage]
    axes.barh(positions, prompt, color=BAR, label="prompt")
    axes.barh(
        positions, [u.completion_tokens for u in usage], left=prompt, color="#dd8452", label="completion"
    )
    axes.set_yticks(positions, [u.stage for u in usage], fontsize=8)
    axes.invert_yaxis()
    axes.set_title("Tokens per stage")
    axes.legend(fontsize=8)
    if priced:
        cost_axes = figure.add_subplot(1, 2, 2, sharey=axes)
        cost_axes.barh(positions, [u.cost or 0.0 for u in usage], color="#55a868")
        cost_axes.set_title("Cost per stage")
        cost_axes.tick_params(labelleft=False)
    return _save(figure, path)


def length_distributions(stats: RunStats, path: Path) -> Path:
    if not stats.pairs:
        return _empty(path, "Length distributions", "no pairs yet")
    figure = _figure(11, 3.8)
    for column, (title, data) in enumerate(
        [
            ("Instruction length (words)", stats.instruction_words),
            ("Answer length (words)", stats.answer_words),
        ]
    ):
        axes = figure.add_subplot(1, 2, column + 1)
        for skill, values in sorted(data.items()):
            if values:
                axes.hist(values, bins=30, histtype="step", linewidth=1.5, label=f"{skill} ({len(values)})")
        axes.set_title(title)
        axes.set_ylabel("pairs")
        axes.legend(fontsize=7)
    return _save(figure, path)


def judge_scores(stats: RunStats, path: Path) -> Path:
    if not stats.judge_score_count:
        return _empty(path, "Judge scores", "no pair has a judge score")
    figure = _figure(8, 3.5)
    axes = figure.add_subplot()
    skills = sorted(s for s, v in stats.judge_scores.items() if v)
    axes.hist(
        [stats.judge_scores[s] for s in skills],
        bins=[x - 0.5 for x in range(12)],
        stacked=True,
        label=skills,
    )
    axes.set_xticks(range(11))
    axes.set_xlabel("score")
    axes.set_ylabel("pairs")
    axes.set_title(f"Judge scores ({stats.judge_score_count} scored pairs)")
    axes.legend(fontsize=7)
    return _save(figure, path)


def diversity(stats: RunStats, path: Path) -> Path:
    if not stats.sample:
        return _empty(path, "Diversity", "no pairs yet")
    figure = _figure(8, 3.5)
    axes = figure.add_subplot()
    sizes = sorted(next(iter(stats.distinct.values())))
    width = 0.38
    for offset, (name, ratios) in enumerate(stats.distinct.items()):
        xs = [n + (offset - 0.5) * width for n in sizes]
        axes.bar(xs, [ratios[n] for n in sizes], width=width, label=name)
    axes.set_xticks(sizes, [f"distinct-{n}" for n in sizes])
    axes.set_ylim(0, 1.05)
    rejected, residual = stats.duplicate_rate_at_generation, stats.residual_near_duplicates
    axes.set_title(
        f"Diversity over {len(stats.sample)} sampled pairs; duplicates rejected at generation "
        f"{rejected:.1%}, residual near duplicates {residual:.1%}",
        fontsize=9,
    )
    axes.legend(fontsize=8)
    return _save(figure, path)
