"""The report: dataset card front matter and prose, the HTML page and its plots, on full and empty runs."""

from __future__ import annotations

import re

import pytest
import yaml
from typer import Typer
from typer.testing import CliRunner

from agentinstruct.data_commands import report_command
from agentinstruct.pairs import Rejection
from agentinstruct.reporting import ReportError, write_report
from agentinstruct.reporting.card import size_category
from agentinstruct.reporting.stats import collect_stats, stage_usage
from quality_fixtures import make_pair, sample_run_json, tool_pair, write_run

PNG = b"\x89PNG\r\n\x1a\n"


def front_matter(text: str) -> dict:
    match = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
    assert match, text[:200]
    return yaml.safe_load(match.group(1))


@pytest.fixture
def run_dir(tmp_path):
    pairs = [
        make_pair(
            f"Question {i}: what did witness number {i} say about the storms and the cost of repairs?",
            instruction_type=["literal_comprehension", "strengthen", "weaken"][i % 3],
            document=f"doc-{i % 4}",
            judge_score=float(4 + i % 7),
            unanswerable=i == 5,
        )
        for i in range(24)
    ]
    pairs.append(tool_pair())
    rejections = [
        Rejection(id=f"r{i}", stage="quality", reason=reason)
        for i, reason in enumerate(["dedup:near", "dedup:near", "filter:truncated", "dedup:exact"])
    ]
    return write_run(tmp_path / "run", pairs, rejections, sample_run_json())


def test_report_writes_card_html_and_every_plot(run_dir):
    paths = write_report(run_dir, license="cc-by-4.0", prices={"test-model": (1.0, 2.0)})
    assert paths.card == run_dir / "README.md" and paths.html == run_dir / "report.html"
    names = {p.name for p in paths.images}
    assert names >= {
        "pairs_per_skill.png",
        "rejections.png",
        "tokens_per_stage.png",
        "lengths.png",
        "judge_scores.png",
        "diversity.png",
        "types_reading_comprehension.png",
        "types_text_modification.png",
        "types_tool_use.png",
    }
    for image in paths.images:
        assert image.read_bytes().startswith(PNG) and image.stat().st_size > 2000, image
    html = paths.html.read_text()
    for source in re.findall(r'<img src="([^"]+)"', html):
        assert (run_dir / source).is_file(), source
    assert "25</b>pairs" in html and "reading_comprehension/teacher" in html and "0.0015" in html


def test_card_front_matter_and_summary(run_dir):
    card = write_report(run_dir, license="cc-by-4.0").card.read_text()
    meta = front_matter(card)
    assert meta["license"] == "cc-by-4.0" and meta["language"] == ["en"]
    assert meta["task_categories"] == ["text-generation", "question-answering"]
    assert meta["size_categories"] == ["n<1K"]
    assert meta["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": ["pairs.jsonl"]}]}
    ]
    assert "**25** pairs over **3** skills, from **5** source documents" in card
    assert "| reading_comprehension | 24 | 3 / 43 |" in card and "| text_modification | 0 | 0 / 18 |" in card
    assert "Duplicates rejected during generation: 3" in card and "mean 6.75" in card
    assert "`dedup:near` (2)" in card and "**1** pairs are deliberately unanswerable" in card


def test_stats_line_up_with_the_taxonomy(run_dir):
    stats = collect_stats(run_dir)
    types = {name: (n, known) for name, n, known in stats.types_of("reading_comprehension")}
    assert types["strengthen"] == (8, True) and types["flaw"] == (0, True) and len(types) == 43
    assert stats.duplicate_rate_at_generation == pytest.approx(3 / 28)
    assert set(stats.distinct) == {"instructions", "answers"} and 0 < stats.distinct["instructions"][1] < 1
    usage = {u.stage: u for u in stage_usage(stats.run, {"*": (1.0, 1.0)})}
    assert usage["reading_comprehension/judge"].prompt_tokens == 900
    assert usage["reading_comprehension/judge"].cost == pytest.approx(0.0012)


def test_report_on_a_run_with_zero_pairs(tmp_path):
    out = write_run(tmp_path / "empty", [], [], {"status": "finished", "config": {"skills": "tool_use"}})
    paths = write_report(out, embed_images=True)
    meta = front_matter(paths.card.read_text())
    assert meta["size_categories"] == ["n<1K"] and meta["language"] == ["en"]
    assert all(p.read_bytes().startswith(PNG) for p in paths.images)
    assert {p.name for p in paths.images} >= {"types_tool_use.png", "lengths.png"}
    html = paths.html.read_text()
    assert html.count("data:image/png;base64,") == len(paths.images)


def test_not_a_run_directory(tmp_path):
    with pytest.raises(ReportError, match="not a run output directory"):
        write_report(tmp_path)


def test_size_categories():
    assert size_category(999) == "n<1K" and size_category(1000) == "1K<n<10K"
    assert size_category(250_000) == "100K<n<1M"


def test_report_command(run_dir, tmp_path):
    app = Typer()
    app.command(name="report")(report_command)
    app.command(name="noop")(lambda: None)
    runner = CliRunner()
    result = runner.invoke(app, ["report", str(run_dir), "--license", "mit", "--price-in", "0.5"])
    assert result.exit_code == 0, result.output
    assert front_matter((run_dir / "README.md").read_text())["license"] == "mit"
    failed = runner.invoke(app, ["report", str(tmp_path / "nothing")])
    assert failed.exit_code == 1 and "not a run output directory" in failed.output
