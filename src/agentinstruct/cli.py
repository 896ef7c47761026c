"""The `agentinstruct` command line (SPEC §4): generate, skills, inspect, merge, sandbox.

Thin on purpose: it parses flags into a `RunConfig`, calls the synchronous library entry points, and
turns known errors into a one-line reason and a non-zero exit. Rendering of `inspect` lives in
`agentinstruct.inspection`.

Exit status of `generate`: 0 finished (or dry run done), 1 failed (the reason names the fix), 3 stopped
at a ceiling the user set (--budget-usd, --max-total-tokens; re-run with a higher one to continue), 130
interrupted (re-run to resume).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agentinstruct.data_commands import export_command, report_command
from agentinstruct.tools.sandbox_cli import sandbox_app
from agentinstruct.version import __version__

app = typer.Typer(
    name="agentinstruct",
    help="Turn raw documents and code into diverse, verified instruction-tuning data (AgentInstruct).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()


def _fail(message: str, code: int = 1) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def _known_errors() -> tuple[type[BaseException], ...]:
    from agentinstruct.config import ConfigError
    from agentinstruct.models.base import ModelError
    from agentinstruct.models.weights import WeightsError
    from agentinstruct.pipeline import RunError
    from agentinstruct.sharding import ShardError
    from agentinstruct.skills import SkillError

    return (ConfigError, ModelError, WeightsError, RunError, SkillError, ShardError, OSError)


#: exit status when a run stopped at a ceiling the user set (budget, tokens)
EXIT_STOPPED = 3
EXIT_INTERRUPTED = 130


@app.command()
def generate(
    seeds: Annotated[list[str], typer.Argument(help="files, directories (recursed) or glob patterns")],
    out: Annotated[Path, typer.Option("--out", "-o", help="output directory (re-run to resume)")],
    skills: Annotated[str | None, typer.Option(help="comma-separated skill names, or 'all'")] = None,
    model: Annotated[str | None, typer.Option(help="model name, or local:qwen2.5-1.5b|...")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible server URL", envvar="OPENAI_BASE_URL")
    ] = None,
    api_key_env: Annotated[str | None, typer.Option(help="name of the env var holding the API key")] = None,
    teacher_model: Annotated[str | None, typer.Option(help="a different model for teacher answers")] = None,
    concurrency: Annotated[int | None, typer.Option(help="LLM calls in flight at once")] = None,
    max_documents: Annotated[int | None, typer.Option(help="stop after this many documents")] = None,
    max_pairs: Annotated[int | None, typer.Option(help="stop after this many accepted pairs")] = None,
    config: Annotated[Path | None, typer.Option(help="run.yaml with any of these options")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed for reproducible choices")] = None,
    skills_dir: Annotated[list[Path] | None, typer.Option(help="extra directory of skill files")] = None,
    refinement_rounds: Annotated[int | None, typer.Option(help="Suggester/Editor rounds per item")] = None,
    instructions_per_seed: Annotated[int | None, typer.Option(help="instruction types per seed")] = None,
    skill_weight: Annotated[
        list[str] | None,
        typer.Option(help="NAME=W: multiply a skill's instructions per seed by W (0.25: one seed in four)"),
    ] = None,
    chunk_chars: Annotated[int | None, typer.Option(help="maximum characters per seed chunk")] = None,
    text_field: Annotated[str | None, typer.Option(help="text column of .jsonl/.parquet inputs")] = None,
    local_threads: Annotated[int | None, typer.Option(help="CPU threads for the embedded model")] = None,
    progress: Annotated[bool, typer.Option(help="show live progress")] = True,
    budget_usd: Annotated[
        float | None,
        typer.Option(help="stop once OUT has spent this many USD (needs `prices:` in the config)"),
    ] = None,
    max_total_tokens: Annotated[
        int | None, typer.Option(help="stop once OUT has used this many tokens (in + out, all calls)")
    ] = None,
    max_error_rate: Annotated[
        float | None, typer.Option(help="stop when this share of the last 200 calls failed (default 0.5)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="run a few units into OUT/dry-run and estimate the whole run")
    ] = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="answer only from OUT's call store; never call a model")
    ] = False,
    shard: Annotated[
        str | None, typer.Option(help="RANK/WORLD: run only this shard of the documents (into OUT/shards/)")
    ] = None,
    dedup_against: Annotated[
        list[Path] | None,
        typer.Option(help="existing dataset (JSONL/Parquet/CSV) whose instructions count as already seen"),
    ] = None,
    decontaminate: Annotated[
        list[Path] | None,
        typer.Option(help="benchmark file (JSONL/Parquet/CSV): reject pairs sharing 13-grams with it"),
    ] = None,
    judge_model: Annotated[
        str | None, typer.Option(help="score every pair 0-10 with this model (quality.judge_score)")
    ] = None,
    min_judge_score: Annotated[
        float | None, typer.Option(help="reject pairs the judge scores below this")
    ] = None,
) -> None:
    """Generate instruction pairs from SEEDS into OUT."""
    from agentinstruct.config import load_config, parse_skill_weights, with_quality_flags
    from agentinstruct.pipeline import run

    try:
        overrides = {
            "inputs": seeds,
            "out": out,
            "skills": skills,
            "model": model,
            "base_url": base_url,
            "api_key_env": api_key_env,
            "teacher_model": teacher_model,
            "concurrency": concurrency,
            "max_documents": max_documents,
            "max_pairs": max_pairs,
            "seed": seed,
            "skills_dirs": skills_dir or None,
            "refinement_rounds": refinement_rounds,
            "instructions_per_seed": instructions_per_seed,
            "skill_weights": parse_skill_weights(skill_weight),
            "chunk_chars": chunk_chars,
            "text_field": text_field,
            "local_threads": local_threads,
            "progress": None if progress else False,
            "budget_usd": budget_usd,
            "max_total_tokens": max_total_tokens,
            "max_error_rate": max_error_rate,
            "dry_run": dry_run or None,
            "offline": offline or None,
            "shard": shard,
        }
        settings = load_config(config, overrides)
        flags = {
            "dedup_against": dedup_against,
            "decontaminate": decontaminate,
            "judge_model": judge_model,
            "min_judge_score": min_judge_score,
        }
        summary = run(with_quality_flags(settings, **flags))
    except _known_errors() as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail(f"interrupted; re-run the same command to resume into {out}", EXIT_INTERRUPTED)
    if summary.get("status") == "dry_run":
        _print_estimate(summary)
        return
    counters = summary["counters"]
    spent = summary.get("accounting", {}).get("this_run", {})
    cost = f", ${spent['cost_usd']:.4f}" if spent.get("cost_usd") is not None else ""
    where = out if not summary.get("shard") else f"{out} (shard {summary['shard']})"
    console.print(
        f"[bold]{counters['pairs']}[/] pairs ({counters['pairs_this_run']} new), "
        f"{counters['rejections']} rejected, {counters['documents']} documents, "
        f"{spent.get('calls', 0)} calls{cost} -> {where}"
    )
    stop = summary.get("stop")
    if summary.get("status") == "stopped" and stop:
        print(f"stopped: {stop['message']}", file=sys.stderr)
        raise typer.Exit(EXIT_INTERRUPTED if stop["kind"] == "interrupted" else EXIT_STOPPED)


def _print_estimate(result: dict) -> None:
    """The dry run's sample and estimate as a table (the JSON is in OUT/dry-run/estimate.json)."""
    sample, estimate, plan = result["sample"], result["estimate"], result["plan"]

    def money(value: float | None) -> str:
        return "n/a (no prices)" if value is None else f"${value:,.4f}"

    table = Table("", "sample", "whole run (estimate)", title="dry run")
    table.add_row("units", str(sample["units"]), f"{estimate['units_remaining']:,} of {estimate['units']:,}")
    table.add_row("LLM calls", f"{sample['calls']:,}", f"{estimate['calls']:,}")
    table.add_row("tokens in", f"{sample['prompt_tokens']:,}", f"{estimate['prompt_tokens']:,}")
    table.add_row("tokens out", f"{sample['completion_tokens']:,}", f"{estimate['completion_tokens']:,}")
    table.add_row("cost", money(sample["cost_usd"]), money(estimate["cost_usd"]))
    table.add_row("pairs", f"{sample['pairs']:,}", f"{estimate['pairs']:,}")
    table.add_row("wall time", f"{sample['wall_s']:.1f} s", _human_seconds(estimate["wall_s"]))
    console.print(table)
    console.print(
        f"{plan['documents']:,} documents, {plan['seeds']:,} seeds; mean call latency "
        f"{sample['mean_call_latency_s']:.2f} s at {estimate['parallel_calls']} calls in parallel. "
        f"Sample output and estimate.json in {result['directory']}"
    )


def _human_seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@app.command(name="skills")
def skills_command(
    skill: Annotated[str | None, typer.Argument(help="show one skill's taxonomy")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    skills_dir: Annotated[list[Path] | None, typer.Option(help="extra directory of skill files")] = None,
) -> None:
    """List the skills, or show one skill's transformations, instruction types, goals and checks."""
    from agentinstruct.skills import SkillError, load_skills, select_skills

    try:
        loaded = load_skills(skills_dir or [])
        chosen = select_skills(loaded, skill) if skill else list(loaded.values())
    except SkillError as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps([s.summary() for s in chosen], indent=2, ensure_ascii=False))
        return
    if skill is None:
        table = Table("skill", "seeds", "transformations", "instruction types", "refinement goals")
        for s in chosen:
            table.add_row(
                s.name,
                ",".join(s.seed_kinds),
                str(len(s.transformations)),
                str(len(s.instruction_types)),
                str(len(s.refinement.goals)),
            )
        console.print(table)
        total = sum(len(s.instruction_types) for s in chosen)
        console.print(f"{len(chosen)} skills, {total} instruction types")
        return
    from agentinstruct.inspection import print_skill

    print_skill(console, chosen[0])


@app.command()
def inspect(
    out: Annotated[Path, typer.Argument(help="output directory of a run")],
    pair_id: Annotated[str | None, typer.Argument(metavar="ID", help="a pair or rejection id")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print raw JSON")] = False,
) -> None:
    """Show a run's counts, or one pair with its full lineage."""
    from agentinstruct.inspection import InspectionError, print_counts, print_record

    try:
        if pair_id is None:
            print_counts(console, out, as_json=as_json)
        else:
            print_record(console, out, pair_id, as_json=as_json)
    except InspectionError as exc:
        _fail(str(exc))


@app.command()
def merge(
    out: Annotated[Path, typer.Argument(help="output directory of a sharded run")],
    allow_unfinished: Annotated[
        bool, typer.Option("--allow-unfinished", help="merge even if some shards are missing or unfinished")
    ] = False,
) -> None:
    """Merge the shards of OUT (OUT/shards/RANK-of-WORLD) into OUT/pairs.jsonl, rejected.jsonl, run.json."""
    from agentinstruct.merging import merge as merge_shards
    from agentinstruct.sharding import ShardError

    try:
        merged = merge_shards(out, allow_unfinished=allow_unfinished)
    except (ShardError, OSError) as exc:
        _fail(str(exc))
    console.print(
        f"[bold]{merged['pairs']}[/] pairs, {merged['rejections']} rejections from "
        f"{len(merged['merged_from'])} shards -> {out}"
    )


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="print the version and exit")] = False,
) -> None:
    if version:
        print(__version__)
        raise typer.Exit()


app.add_typer(sandbox_app, name="sandbox")
app.command(name="report")(report_command)
app.command(name="export")(export_command)


def main() -> None:
    """Console-script entry point."""
    app()
