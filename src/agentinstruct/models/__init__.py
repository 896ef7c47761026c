"""Chat models: the shared interface, the backends, and `create_model`, which picks a backend from options.

`LocalModel` is imported lazily so that `import agentinstruct.models` never loads xllamacpp. Caching,
retries and accounting live in `agentinstruct.models.stored`; adaptive concurrency in `models.limiter`;
balancing over several endpoints in `models.endpoints`; weights handling in `models.weights`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agentinstruct.models.base import Model, ModelError, ModelRequest, ModelResponse, Usage
from agentinstruct.models.endpoints import EndpointPoolModel
from agentinstruct.models.limiter import AdaptiveLimiter
from agentinstruct.models.openai_model import OpenAIModel
from agentinstruct.models.scripted import ScriptedModel
from agentinstruct.models.weights import DEFAULT_LOCAL_MODEL, WeightsError

if TYPE_CHECKING:
    from agentinstruct.models.local import LocalModel

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"

__all__ = [
    "DEFAULT_LOCAL_MODEL",
    "DEFAULT_OPENAI_MODEL",
    "AdaptiveLimiter",
    "EndpointPoolModel",
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
    "split_base_urls",
]


def __getattr__(name: str) -> Any:
    if name == "LocalModel":
        from agentinstruct.models.local import LocalModel

        return LocalModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def split_base_urls(base_url: str | Sequence[str] | None) -> list[str]:
    """Server URLs from one URL, a comma-separated list, or a sequence of them (blanks dropped)."""
    if base_url is None:
        return []
    parts = base_url.split(",") if isinstance(base_url, str) else [p for u in base_url for p in u.split(",")]
    return [part.strip() for part in parts if part.strip()]


def create_model(
    name: str | None = None,
    *,
    base_url: str | Sequence[str] | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    timeout: float = 120.0,
    max_retries: int = 2,
    **local_options: Any,
) -> Model:
    """Pick a backend: `local:*` names, else base URL(s), else an API key, else the default local model.

    `base_url` (or `$OPENAI_BASE_URL`) may list several servers of the same model, as a sequence or
    comma-separated ("http://a:8000/v1,http://b:8000/v1"): the result is then an `EndpointPoolModel`
    balancing over one `OpenAIModel` per URL. `max_retries` is the number of retries of a failed call:
    the SDK makes them when the model is used on its own, `StoredModel` when it wraps the model.
    `local_options` (slots, ctx_per_slot, threads, cache_dir) apply only to local models.
    """
    from agentinstruct.models.local import LocalModel

    if name is not None and name.startswith("local:"):
        return LocalModel(name, **local_options)
    urls = split_base_urls(base_url) or split_base_urls(os.environ.get("OPENAI_BASE_URL"))
    if urls:
        if not name:
            raise ModelError(
                f"pass --model NAME for the server at {','.join(urls)} "
                "(the name the server knows the model by)"
            )
        backends = [
            OpenAIModel(name, base_url=url, api_key_env=api_key_env, timeout=timeout, max_retries=max_retries)
            for url in urls
        ]
        return backends[0] if len(backends) == 1 else EndpointPoolModel(backends)
    if os.environ.get(api_key_env) or name:
        # without a key OpenAIModel raises an error saying to set it or pass --base-url
        return OpenAIModel(
            name or DEFAULT_OPENAI_MODEL, api_key_env=api_key_env, timeout=timeout, max_retries=max_retries
        )
    return LocalModel(DEFAULT_LOCAL_MODEL, **local_options)
