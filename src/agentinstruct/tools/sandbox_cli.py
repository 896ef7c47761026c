"""`agentinstruct sandbox ...`: check the code sandbox on this host, or run a file in it.

The Typer app is mounted by `agentinstruct.cli`; the sandbox itself lives in `agentinstruct.tools.sandbox`.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from agentinstruct.tools.sandbox import BubblewrapSandbox, SandboxConfig, SandboxUnavailable

sandbox_app = typer.Typer(
    name="sandbox",
    help="Check or use the code-interpreter sandbox (bubblewrap + seccomp + rlimits).",
    no_args_is_help=True,
)


def _sandbox(bwrap: str | None) -> BubblewrapSandbox:
    return BubblewrapSandbox(SandboxConfig(bwrap=bwrap))


@sandbox_app.command("check")
def check(
    bwrap: str = typer.Option(None, help="Path of the bwrap binary (default: found on the system PATH)."),
) -> None:
    """Run the self-test and print what works and what does not; exit 1 if isolation is unavailable."""
    sandbox = _sandbox(bwrap)
    checks = sandbox.check()
    for item in checks:
        mark = "ok " if item.ok else "FAIL"
        typer.echo(f"[{mark}] {item.name}: {item.detail}")
    try:
        sandbox.ensure_ready()
    except SandboxUnavailable as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    finally:
        sandbox.close()
    typer.echo("sandbox ready: model-written code can be run on this host")


@sandbox_app.command("run")
def run(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="Python file to run."),
    stdin: Path = typer.Option(None, "--stdin", exists=True, dir_okay=False, help="File fed to stdin."),
    timeout: float = typer.Option(10.0, "--timeout", help="Wall-clock limit in seconds."),
    bwrap: str = typer.Option(None, help="Path of the bwrap binary (default: found on the system PATH)."),
) -> None:
    """Run FILE in the sandbox and print the result as JSON (exit 0 whenever the sandbox worked)."""
    sandbox = _sandbox(bwrap)
    code = file.read_text(encoding="utf-8", errors="replace")
    stdin_text = stdin.read_text(encoding="utf-8", errors="replace") if stdin else ""
    try:
        result = sandbox.run(code, stdin=stdin_text, timeout_s=timeout)
    except SandboxUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        sandbox.close()
    typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
