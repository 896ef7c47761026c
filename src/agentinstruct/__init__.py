"""agentinstruct: AgentInstruct-style synthetic instruction data from raw documents and code.

The public entry points are `run()` (synchronous, used by the CLI) and the building blocks re-exported
here. Everything that talks to an LLM is asynchronous inside; only the edges are synchronous.
"""

from agentinstruct.version import __version__

__all__ = ["__version__", "run"]


def run(*args, **kwargs):
    """Run a generation job; see `agentinstruct.pipeline.run` for the parameters."""
    from agentinstruct.pipeline import run as _run

    return _run(*args, **kwargs)
