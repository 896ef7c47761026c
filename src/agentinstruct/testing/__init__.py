"""Test support that ships with the package: a real local OpenAI-compatible server (with fault injection)
and a scripted model.

Use these to test your own skills without a network or a GPU. Nothing here is used by the pipeline itself.
"""

from agentinstruct.models.scripted import ScriptedModel
from agentinstruct.testing.openai_server import (
    FAULTS,
    FaultPlan,
    OpenAIServer,
    ServerReply,
    default_responder,
    example_for_schema,
)

__all__ = [
    "FAULTS",
    "FaultPlan",
    "OpenAIServer",
    "ScriptedModel",
    "ServerReply",
    "default_responder",
    "example_for_schema",
]
