"""The one model interface every backend implements, and the request/response types it speaks.

Backends (OpenAI-compatible servers, the embedded llama.cpp engine, scripted test models) live in
sibling modules; caching, accounting and concurrency limits live in `agentinstruct.models.stored`.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from typing import Any

from pydantic import BaseModel, Field


class ModelError(Exception):
    """A model call failed; `retryable` says whether trying again may help.

    `status` is the HTTP status when there was one; `retry_after` the seconds the server asked to wait
    (its `Retry-After` header); `kind` classifies transport failures: "timeout" (no answer in time),
    "connect" (the endpoint could not be reached), "connection" (the connection dropped mid-request),
    "malformed" (an answer that is not a usable completion), or "" for anything else.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
        kind: str = "",
    ):
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        self.kind = kind

    @property
    def overloaded(self) -> bool:
        """The endpoint is saturated (429, 503 or a timeout): concurrency limiters back off on it."""
        return self.status in (429, 503) or self.kind == "timeout"


class ModelRequest(BaseModel):
    """One chat-completion request, backend-neutral."""

    messages: list[dict[str, Any]]
    temperature: float = 0.7
    max_tokens: int = 1024
    seed: int | None = None
    json_schema: dict[str, Any] | None = Field(
        default=None, description="{'name': ..., 'schema': {...}} for structured output"
    )
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | None = Field(default=None, description="'none' forces a text answer")
    discourage_repeats: bool | None = Field(
        default=None,
        description="the last reply went into a loop: sample so that passages are not repeated "
        "(llama.cpp's DRY sampler locally, frequency_penalty on an OpenAI-compatible server)",
    )
    tag: str = Field(default="", description="which skill/stage/agent made the call; not sent")

    def payload(self) -> dict[str, Any]:
        """Everything that determines the answer (the tag is bookkeeping and is left out).

        The fields as they are, None left out: the same as `model_dump(exclude={"tag"}, exclude_none=True)`
        without deep-copying the messages and the schema on every call.
        """
        return {
            name: value
            for name in type(self).model_fields
            if name != "tag" and (value := getattr(self, name)) is not None
        }

    def canonical(self, model_name: str) -> str:
        """This request against a given model as canonical JSON (sorted keys): what `key` hashes.

        The call store keeps this very text as the stored request, so a call is serialised once.
        """
        return json.dumps({"model": model_name, **self.payload()}, sort_keys=True, ensure_ascii=False)

    def key(self, model_name: str) -> str:
        """Content address of this request against a given model: the call-store key."""
        return canonical_key(self.canonical(model_name))


def canonical_key(canonical: str) -> str:
    """The call-store key of a request's canonical JSON (`ModelRequest.canonical`)."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ModelResponse(BaseModel):
    """What a backend returns; `call_id` and `cached` are filled in by the call store."""

    text: str
    finish_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    tool_calls: list[dict[str, Any]] | None = None
    duration_s: float = 0.0
    call_id: str = ""
    cached: bool = False


class Model(ABC):
    """An async chat model. Implementations must be safe to call concurrently."""

    name: str = "model"
    #: whether the backend enforces `json_schema` itself (otherwise agents fall back to lenient parsing)
    enforces_json_schema: bool = False
    #: retries of a failed call this backend was configured with (`create_model(max_retries=...)`), or
    #: None for no preference; the middleware (`StoredModel`) makes them itself
    max_retries: int | None = None
    #: whether the backend speaks OpenAI function calling (otherwise tool loops emulate it with json_schema)
    native_tool_calls: bool = False

    @abstractmethod
    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Answer one request or raise `ModelError`."""

    def disable_internal_retries(self) -> None:  # noqa: B027 - optional hook, a no-op unless overridden
        """Stop retrying inside the backend (e.g. the SDK's own retries): the middleware retries instead."""

    def set_concurrency(self, ceiling: int, *, initial: int | None = None) -> bool:
        """Let the backend limit concurrency per endpoint itself, up to `ceiling` calls per endpoint.

        Returns True when it does (several endpoints, each with its own adaptive limiter); the middleware
        then adds no limit of its own. The default returns False: the middleware limits the calls.
        """
        return False

    async def prepare(self) -> None:  # noqa: B027 - optional hook, a no-op unless overridden
        """Load weights or check the connection before a run starts, so setup errors fail fast."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, a no-op unless overridden
        """Release connections, threads or loaded weights."""

    def describe(self) -> dict[str, Any]:
        """Secret-free description of this model for run.json and lineage."""
        return {"name": self.name}
