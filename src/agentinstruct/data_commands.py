"""The `report` and `export` commands (SPEC §4), ready to register on the CLI's Typer app:

    app.command(name="report")(report_command)
    app.command(name="export")(export_command)

They only parse flags and call `agentinstruct.reporting.write_report` and `agentinstruct.export.export`;
known errors become `error: <one line>` on stderr and exit status 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(1)


def report_command(
    out: Annotated[Path, typer.Argument(help="output directory of a run")],
    license: Annotated[str, typer.Option(help="license for the dataset card (an HF license id)")] = "other",
    language: Annotated[
        str | None, typer.Option(help="language code for the card (default: detected)")
    ] = None,
    price_in: Annotated[
        float | None, typer.Option(help="price per million prompt tokens, for cost per stage")
    ] = None,
    price_out: Annotated[float | None, typer.Option(help="price per million completion tokens")] = None,
    embed_images: Annotated[bool, typer.Option(help="embed the plots in report.html")] = False,
    skills_dir: Annotated[list[Path] | None, typer.Option(help="extra directory of skill files")] = None,
) -> None:
    """Write a dataset card (OUT/README.md) and an HTML report with plots (OUT/report.html)."""
    from agentinstruct.reporting import ReportError, write_report
    from agentinstruct.skills import SkillError

    prices = {"*": (price_in or 0.0, price_out or 0.0)} if price_in or price_out else None
    try:
        paths = write_report(
            out,
            license=license,
            language=language,
            skills_dirs=skills_dir,
            prices=prices,
            embed_images=embed_images,
        )
    except (ReportError, SkillError, OSError) as exc:
        _fail(str(exc))
    print(f"wrote {paths.card}, {paths.html} and {len(paths.images)} plots in {paths.html.parent / 'report'}")


def export_command(
    out: Annotated[Path, typer.Argument(help="output directory of a run")],
    format: Annotated[str, typer.Option("--format", "-f", help="jsonl|parquet|hf|sharegpt|orca")],
    to: Annotated[Path, typer.Option("--to", help="directory to write the export into")],
    validation_fraction: Annotated[
        float, typer.Option(help="share of pairs for a validation split, drawn by source document")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="seed of the document draw for the split")] = 0,
    license: Annotated[str, typer.Option(help="license for the export's dataset card")] = "other",
) -> None:
    """Export a run's pairs as jsonl, parquet, a Hugging Face dataset, ShareGPT or the orca layout."""
    from agentinstruct.export import ExportError, export

    try:
        result = export(out, format, to, validation_fraction=validation_fraction, seed=seed, license=license)
    except (ExportError, OSError) as exc:
        _fail(str(exc))
    rows = ", ".join(f"{split} {n}" for split, n in result.rows.items()) or "no pairs"
    print(f"exported {sum(result.rows.values())} pairs as {format} to {to} ({rows})")
