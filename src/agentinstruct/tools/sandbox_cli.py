"""`agentinstruct sandbox ...`: check the code sandbox on this host, or run a file in it.

The Typer app is mounted by `agentinstruct.cli`; the sandbox itself lives in `agentinstruct.tools.sandbox`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from agentinstruct.tools.sandbox import BubblewrapSandbox, SandboxConfig, SandboxUnavailable

sandbox_app = typer.Typer(
    name="sandbox",
    help="Check or use the code-interpreter sandbox (bubblewrap + seccomp + rlimits).",
    no_args_is_help=True,
)

BwrapOption = Annotated[
    str | None,
    typer.Option("--bwrap", help="Path of the bwrap binary (default: found on the system PATH)."),
]


@sandbox_app.command("check")
def check(bwrap: BwrapOption = None) -> None:
    """Run the self-test and print what works and what does not; exit 1 if isolation is unavailable."""
    sandbox = BubblewrapSandbox(SandboxConfig(bwrap=bwrap))
    try:
        for item in sandbox.check():
            typer.echo(f"[{'ok ' if item.ok else 'FAIL'}] {item.name}: {item.detail}")
        sandbox.ensure_ready()
    except SandboxUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        sandbox.close()
    typer.echo("sandbox ready: model-written code can be run on this host")


@sandbox_app.command("run")
def run(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="Python file to run.")
    ],
    stdin: Annotated[
        Path | None,
        typer.Option(
            "--stdin", exists=True, dir_okay=False, readable=True, help="File fed to the program's stdin."
        ),
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Wall-clock limit in seconds.")] = 10.0,
    bwrap: BwrapOption = None,
) -> None:
    """Run FILE in the sandbox and print the result as JSON (exit 0 whenever the sandbox worked)."""
    code = file.read_text(encoding="utf-8", errors="replace")
    stdin_text = stdin.read_text(encoding="utf-8", errors="replace") if stdin else ""
    sandbox = BubblewrapSandbox(SandboxConfig(bwrap=bwrap))
    try:
        result = sandbox.run(code, stdin=stdin_text, timeout_s=timeout)
    except SandboxUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        sandbox.close()
    typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
