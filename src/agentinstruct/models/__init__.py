"""Chat models: the shared interface, the backends, and `create_model`, which picks a backend from options.

`LocalModel` is imported lazily so that `import agentinstruct.models` never loads xllamacpp. Caching and
accounting wrappers live in `agentinstruct.models.stored`; weights handling in `models.weights`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from agentinstruct.models.base import Model, ModelError, ModelRequest, ModelResponse, Usage
from agentinstruct.models.openai_model import OpenAIModel
from agentinstruct.models.scripted import ScriptedModel
from agentinstruct.models.weights import DEFAULT_LOCAL_MODEL, WeightsError

if TYPE_CHECKING:
    from agentinstruct.models.local import LocalModel

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"

__all__ = [
    "DEFAULT_LOCAL_MODEL",
    "DEFAULT_OPENAI_MODEL",
    "LocalModel",
    "Model",
    "ModelError",
    "ModelRequest",
    "ModelResponse",
    "OpenAIModel",
    "ScriptedModel",
    "Usage",
    "WeightsError",
    "create_model",
]


def __getattr__(name: str) -> Any:
    if name == "LocalModel":
        from agentinstruct.models.local import LocalModel

        return LocalModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def create_model(
    name: str | None = None,
    *,
    base_url: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    timeout: float = 120.0,
    max_retries: int = 2,
    **local_options: Any,
) -> Model:
    """Pick a backend: `local:*` names, else a base URL, else an API key, else the default local model.

    `local_options` (slots, ctx_per_slot, threads, cache_dir) apply only to local models.
    """
    from agentinstruct.models.local import LocalModel

    if name is not None and name.startswith("local:"):
        return LocalModel(name, **local_options)
    url = base_url or os.environ.get("OPENAI_BASE_URL")
    if url:
        if not name:
            raise ModelError(
                f"pass --model NAME for the server at {url} (the name the server knows the model by)"
            )
        return OpenAIModel(
            name, base_url=url, api_key_env=api_key_env, timeout=timeout, max_retries=max_retries
        )
    if os.environ.get(api_key_env) or name:
        # without a key OpenAIModel raises an error saying to set it or pass --base-url
        return OpenAIModel(
            name or DEFAULT_OPENAI_MODEL, api_key_env=api_key_env, timeout=timeout, max_retries=max_retries
        )
    return LocalModel(DEFAULT_LOCAL_MODEL, **local_options)
