"""The code-interpreter tool: agents run Python through it, always inside the sandbox.

The isolation itself lives in `agentinstruct.tools.sandbox`; this module only adapts it to `Tool`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from agentinstruct.tools import Tool
from agentinstruct.tools.sandbox import Sandbox, default_sandbox


class CodeInterpreterTool(Tool):
    """Runs model-written Python in the sandbox and returns its exit code and output.

    A program that fails is a normal result (exit_code != 0, traceback in stderr); a sandbox that
    cannot guarantee isolation raises `SandboxUnavailable` instead, since that is not the model's doing.
    """

    name: ClassVar[str] = "python"
    description: ClassVar[str] = (
        "Run a self-contained Python 3 program in an isolated sandbox and get its exit code, stdout and "
        "stderr. numpy and sympy are available; there is no network and files do not persist between "
        "calls. Print whatever you need to see."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "code": {"type": "string", "description": "The complete Python program to run."},
            "stdin": {"type": "string", "description": "Text given to the program on standard input."},
            "timeout_s": {"type": "number", "description": "Wall-clock limit in seconds (default 10)."},
        },
        "required": ["code"],
        "additionalProperties": False,
    }

    def __init__(self, sandbox: Sandbox | None = None, *, default_timeout_s: float = 10.0):
        self.sandbox = sandbox or default_sandbox()
        self.default_timeout_s = default_timeout_s

    async def call(self, **arguments: Any) -> dict[str, Any]:
        """Run `code` (with optional `stdin`, `timeout_s`); returns SandboxResult.to_dict()."""
        code = arguments.get("code")
        if not isinstance(code, str):
            return {"error": "the 'code' argument must be a string holding a Python program"}
        stdin = str(arguments.get("stdin") or "")
        try:
            timeout_s = float(arguments.get("timeout_s") or self.default_timeout_s)
        except (TypeError, ValueError):
            return {"error": "the 'timeout_s' argument must be a number of seconds"}
        result = await self.sandbox.arun(code, stdin=stdin, timeout_s=timeout_s)
        return result.to_dict()
