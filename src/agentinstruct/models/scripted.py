"""`ScriptedModel`: a model whose answers are written in advance, for testing skills and pipelines.

It ships in the package so users can test their own skills offline. It records every request and reports
rough token usage so accounting code paths run. Real backends live in `openai_model` and `local`.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

from agentinstruct.models.base import Model, ModelError, ModelRequest, ModelResponse, Usage

#: one scripted answer: text, a JSON value (dumped as the text), a full response, or an exception to raise
Reply = str | dict | list | ModelResponse | BaseException
ReplyFunction = Callable[[ModelRequest], Reply | Awaitable[Reply]]


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def default_reply(request: ModelRequest) -> Reply:
    """'ok', or a minimal object valid for the requested json_schema."""
    if request.json_schema:
        from agentinstruct.testing.openai_server import example_for_schema

        return example_for_schema(request.json_schema.get("schema", {}))
    return "ok"


class ScriptedModel(Model):
    """Answers from a queue of replies or from a (sync or async) function of the request."""

    enforces_json_schema = False

    def __init__(
        self,
        replies: ReplyFunction | Iterable[Reply] | None = None,
        *,
        name: str = "scripted",
        native_tool_calls: bool = False,
    ):
        self.name = name
        self.native_tool_calls = native_tool_calls
        self.requests: list[ModelRequest] = []
        self._function: ReplyFunction | None = None
        self._queue: Iterator[Reply] | None = None
        if replies is None:
            self._function = default_reply
        elif callable(replies):
            self._function = replies
        elif isinstance(replies, (str, bytes, dict)):
            raise TypeError("ScriptedModel takes a list of replies or a function; wrap one reply in [...]")
        else:
            self._queue = iter(replies)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Record the request and return (or raise) the next scripted reply."""
        started = time.perf_counter()
        self.requests.append(request)
        reply = await self._next_reply(request)
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, ModelResponse):
            return reply.model_copy(deep=True)
        text = reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)
        prompt_text = " ".join(str(message.get("content") or "") for message in request.messages)
        return ModelResponse(
            text=text,
            finish_reason="stop",
            usage=Usage(prompt_tokens=_approx_tokens(prompt_text), completion_tokens=_approx_tokens(text)),
            model=self.name,
            duration_s=time.perf_counter() - started,
        )

    async def _next_reply(self, request: ModelRequest) -> Any:
        if self._function is not None:
            reply = self._function(request)
            return await reply if inspect.isawaitable(reply) else reply
        assert self._queue is not None
        try:
            return next(self._queue)
        except StopIteration:
            raise ModelError(
                f"ScriptedModel ran out of replies after {len(self.requests) - 1} requests; "
                "script more replies or pass a function",
                retryable=False,
            ) from None

    def describe(self) -> dict[str, Any]:
        """Name and backend; scripted models hold no secrets."""
        return {"name": self.name, "backend": "scripted"}
