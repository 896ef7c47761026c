"""The sandbox contract: the `Sandbox` interface, its `SandboxResult` and the `SandboxUnavailable` error.

Only types live here; the bubblewrap implementation is in `agentinstruct.tools.sandbox.bubblewrap`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any

from agentinstruct.tools import ToolUnavailable


class SandboxUnavailable(ToolUnavailable):
    """Isolation cannot be guaranteed on this host, so no code is run; the message says why and how to fix."""

    def __init__(self, cause: str):
        super().__init__(cause)
        self.cause = cause


@dataclass(frozen=True)
class SandboxResult:
    """What one sandboxed run produced.

    `exit_code` is the program's exit status (128+N when signal N ended it, as bubblewrap reports it),
    `killed` says the program was ended by a signal (wall clock, CPU limit, file-size limit...),
    `truncated` says stdout or stderr went over the output cap and the rest was dropped.
    """

    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool
    killed: bool
    truncated: bool
    duration_s: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form: exit_code, stdout, stderr, timed_out, killed, truncated, duration_s."""
        return asdict(self)


class Sandbox(ABC):
    """Runs untrusted Python source in isolation; never on the host."""

    @abstractmethod
    def run(self, code: str, *, stdin: str = "", timeout_s: float = 10.0) -> SandboxResult:
        """Run `code` with `stdin`, killing it after `timeout_s`; raises SandboxUnavailable if unsafe."""

    async def arun(self, code: str, *, stdin: str = "", timeout_s: float = 10.0) -> SandboxResult:
        """Asynchronous `run` (in a worker thread unless an implementation does better)."""
        return await asyncio.to_thread(self.run, code, stdin=stdin, timeout_s=timeout_s)
