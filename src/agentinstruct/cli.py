"""The `agentinstruct` command line (SPEC §4): generate, skills, inspect, sandbox.

Thin on purpose: it parses flags into a `RunConfig`, calls the synchronous library entry points, and
turns known errors into a one-line reason and a non-zero exit. Rendering of `inspect` lives in
`agentinstruct.inspection`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

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
    from agentinstruct.skills import SkillError

    return (ConfigError, ModelError, WeightsError, RunError, SkillError, OSError)


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
    chunk_chars: Annotated[int | None, typer.Option(help="maximum characters per seed chunk")] = None,
    text_field: Annotated[str | None, typer.Option(help="text column of .jsonl/.parquet inputs")] = None,
    local_threads: Annotated[int | None, typer.Option(help="CPU threads for the embedded model")] = None,
    progress: Annotated[bool, typer.Option(help="show live progress")] = True,
) -> None:
    """Generate instruction pairs from SEEDS into OUT."""
    from agentinstruct.config import load_config
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
            "chunk_chars": chunk_chars,
            "text_field": text_field,
            "local_threads": local_threads,
            "progress": None if progress else False,
        }
        summary = run(load_config(config, overrides))
    except _known_errors() as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail(f"interrupted; re-run the same command to resume into {out}", 130)
    counters = summary["counters"]
    console.print(
        f"[bold]{counters['pairs']}[/] pairs ({counters['pairs_this_run']} new), "
        f"{counters['rejections']} rejected, {counters['documents']} documents -> {out}"
    )


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


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="print the version and exit")] = False,
) -> None:
    if version:
        print(__version__)
        raise typer.Exit()


app.add_typer(sandbox_app, name="sandbox")


def main() -> None:
    """Console-script entry point."""
    app()
