"""Tools that agents can call: the uniform `Tool` interface every tool implements.

The tools themselves live in submodules so that importing this package stays cheap:
`agentinstruct.tools.code_interpreter` (sandboxed Python, built on `agentinstruct.tools.sandbox`),
`agentinstruct.tools.calculator` (exact maths with sympy) and `agentinstruct.tools.search` (BM25 over
the run's corpus). The tool-calling loop (turning model tool calls into `Tool.call`) is `tools.loop`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar


class ToolUnavailable(Exception):
    """The tool itself cannot run (not the caller's mistake), e.g. the sandbox cannot isolate code.

    A tool loop stops on it instead of showing the model an error it cannot fix.
    """


class Tool(ABC):
    """A callable tool: a name, a description and JSON-schema parameters in OpenAI function format."""

    name: ClassVar[str]
    description: ClassVar[str]
    parameters: ClassVar[dict[str, Any]]

    @abstractmethod
    async def call(self, **arguments: Any) -> dict[str, Any]:
        """Run the tool with keyword arguments matching `parameters`; return a JSON-able dict."""

    def spec(self) -> dict[str, Any]:
        """The OpenAI `tools=[...]` entry for this tool."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


__all__ = ["Tool", "ToolUnavailable"]
