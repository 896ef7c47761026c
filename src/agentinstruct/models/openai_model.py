"""`OpenAIModel`: any OpenAI-compatible chat-completions server through the official async SDK.

Covers api.openai.com and local servers (vLLM, llama.cpp, Ollama, LM Studio, the embedded engine's HTTP
port). It maps SDK exceptions to `ModelError` (with the HTTP status, the server's `Retry-After`, and the
kind of transport failure), degrades gracefully when a server rejects structured output, and keeps the
API key out of messages and descriptions. Used alone it lets the SDK retry `max_retries` times; under
`StoredModel` the SDK sends each request once and the middleware retries. The embedded engine itself
lives in `local`.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import logging
import math
import os
import re
import time
import weakref
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import openai

from agentinstruct.models.base import Model, ModelError, ModelRequest, ModelResponse, Usage

logger = logging.getLogger(__name__)

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
PLACEHOLDER_API_KEY = "not-needed"
_RETRYABLE_STATUSES = frozenset({408, 409, 429})
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-*]{6,}")
_MAX_ADAPTATIONS = 3
#: frequency_penalty for a request retried after a reply that went into a loop (`discourage_repeats`)
REPEAT_PENALTY = 0.5
#: transport exceptions (httpx) that mean the endpoint could not be reached at all
_CONNECT_FAILURES = frozenset({"ConnectError", "ConnectTimeout"})


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date), None if absent/bad.

    `headers` must be case-insensitive (httpx headers) or use lower-case names. Dates in the past give 0.
    """
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            value = float(milliseconds) / 1000
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(raw.strip())
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if moment.tzinfo is None:  # HTTP dates are GMT
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        value = moment.timestamp() - (time.time() if now is None else now)
        return max(0.0, value)
    return value if math.isfinite(value) and value >= 0 else None


def _strip_credentials(url: str) -> str:
    """The URL without any user:password@ part, safe to log."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit(parts._replace(netloc=netloc))
    return url


class OpenAIModel(Model):
    """A chat model behind an OpenAI-compatible HTTP API."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
        max_retries: int = 2,
        extra_body: dict[str, Any] | None = None,
    ):
        self.name = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_retries = max_retries
        #: retries the SDK makes itself: `max_retries` when used alone, 0 under the middleware
        self._sdk_max_retries = max_retries
        self.extra_body = dict(extra_body) if extra_body else None
        self.enforces_json_schema = True
        self.native_tool_calls = True
        self._use_max_completion_tokens = False
        key = os.environ.get(api_key_env)
        if not key and not self.base_url:
            raise ModelError(
                f"no API key for {model!r}: set the environment variable {api_key_env}, or pass "
                "--base-url URL to use a local OpenAI-compatible server"
            )
        self._api_key = key or PLACEHOLDER_API_KEY
        self._client: openai.AsyncOpenAI | None = None
        self._client_loop: weakref.ref[asyncio.AbstractEventLoop] | None = None

    @property
    def display_url(self) -> str:
        """The endpoint this model talks to, without credentials."""
        return _strip_credentials(self.base_url or OPENAI_DEFAULT_BASE_URL)

    def describe(self) -> dict[str, Any]:
        """Name, backend and endpoint; never the key."""
        return {"name": self.name, "backend": "openai", "base_url": self.display_url}

    def disable_internal_retries(self) -> None:
        """Make the SDK send each request once: `StoredModel` retries, honouring Retry-After, instead."""
        if self._sdk_max_retries:
            self._sdk_max_retries = 0
            self._client = None  # rebuilt with max_retries=0 on the next call

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Send one chat completion; failures become `ModelError`."""
        started = time.perf_counter()
        completion = await self._create(self._arguments(request))
        return self._to_response(completion, time.perf_counter() - started)

    async def prepare(self) -> None:
        """Fail fast when the server is unreachable or rejects the key; other answers are let through."""
        client = self._client_for_running_loop().with_options(max_retries=0, timeout=min(self.timeout, 30.0))
        try:
            await client.models.list()
        except (openai.AuthenticationError, openai.APIConnectionError) as error:
            raise self._model_error(error) from None
        except (openai.OpenAIError, ValueError):
            pass  # some OpenAI-compatible servers have no /models; the first call will tell

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        client, self._client = self._client, None
        loop = self._client_loop() if self._client_loop else None
        if client is not None and loop is asyncio.get_running_loop():
            await client.close()

    def _client_for_running_loop(self) -> openai.AsyncOpenAI:
        """One SDK client per event loop: its connection pool cannot move between loops."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is None or self._client_loop() is not loop:
            self._client = openai.AsyncOpenAI(
                api_key=self._api_key,
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self._sdk_max_retries,
            )
            self._client_loop = weakref.ref(loop)
        return self._client

    def _arguments(self, request: ModelRequest) -> dict[str, Any]:
        """SDK keyword arguments for a request, honouring what this server was found to reject."""
        arguments: dict[str, Any] = {
            "model": self.name,
            "messages": request.messages,
            "temperature": request.temperature,
        }
        tokens_field = "max_completion_tokens" if self._use_max_completion_tokens else "max_tokens"
        arguments[tokens_field] = request.max_tokens
        if request.seed is not None:
            arguments["seed"] = request.seed
        if request.discourage_repeats:
            arguments["frequency_penalty"] = REPEAT_PENALTY
        if request.tools:
            arguments["tools"] = request.tools
        if request.tool_choice:
            arguments["tool_choice"] = request.tool_choice
        if request.json_schema and self.enforces_json_schema:
            arguments["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": request.json_schema.get("name", "output"),
                    "schema": request.json_schema.get("schema", {}),
                    "strict": False,
                },
            }
        if self.extra_body:
            arguments["extra_body"] = self.extra_body
        return arguments

    async def _create(self, arguments: dict[str, Any]) -> Any:
        """Call the SDK, adapting once per rejected optional parameter."""
        for _ in range(_MAX_ADAPTATIONS):
            try:
                return await self._client_for_running_loop().chat.completions.create(**arguments)
            except openai.BadRequestError as error:
                if not self._adapt_to_rejection(arguments, error):
                    raise self._model_error(error) from None
            except openai.OpenAIError as error:
                raise self._model_error(error) from None
            except ValueError as error:  # the SDK lets a non-JSON 200 body escape as JSONDecodeError
                raise ModelError(
                    f"{self.name} at {self.display_url}: malformed response ({error}); retrying may help",
                    retryable=True,
                    kind="malformed",
                ) from None
        raise ModelError(f"{self.name}: the server kept rejecting the request at {self.display_url}")

    def _adapt_to_rejection(self, arguments: dict[str, Any], error: openai.BadRequestError) -> bool:
        """Drop or rename a parameter the server rejected; False when the 400 is about something else."""
        text = f"{error.message} {error.body}".lower()
        if "response_format" in arguments and ("response_format" in text or "json_schema" in text):
            logger.warning("%s rejects response_format; continuing without schema enforcement", self.name)
            del arguments["response_format"]
            self.enforces_json_schema = False
            return True
        if "frequency_penalty" in arguments and "frequency_penalty" in text:
            logger.warning("%s rejects frequency_penalty; a looping reply is retried without it", self.name)
            del arguments["frequency_penalty"]
            return True
        if "max_tokens" in arguments and "max_completion_tokens" in text:
            arguments["max_completion_tokens"] = arguments.pop("max_tokens")
            self._use_max_completion_tokens = True
            return True
        return False

    def _model_error(self, error: openai.OpenAIError) -> ModelError:
        """Translate an SDK exception into a secret-free `ModelError` that says what to do."""
        where = f"{self.name} at {self.display_url}"
        cause = type(error.__cause__).__name__
        if isinstance(error, openai.APITimeoutError):
            if cause == "ConnectTimeout":
                message = f"{where}: cannot connect (timed out); is the server running and the URL right?"
                return ModelError(self._redact(message), retryable=True, kind="connect")
            message = f"{where}: timed out after {self.timeout:g}s; raise the timeout or lower concurrency"
            return ModelError(self._redact(message), retryable=True, kind="timeout")
        if isinstance(error, openai.APIConnectionError):
            if cause in _CONNECT_FAILURES:
                message = f"{where}: cannot connect ({error}); is the server running and the URL right?"
                return ModelError(self._redact(message), retryable=True, kind="connect")
            detail = f"{error.__cause__}" if error.__cause__ is not None else f"{error}"
            message = f"{where}: the connection failed before an answer came ({detail or cause})"
            return ModelError(self._redact(message), retryable=True, kind="connection")
        if isinstance(error, (openai.APIStatusError, openai.APIResponseValidationError)):
            status = error.status_code
            headers = error.response.headers
            retryable = status in _RETRYABLE_STATUSES or status >= 500
            should_retry = headers.get("x-should-retry")
            if should_retry in ("true", "false"):  # the server's explicit word overrides the status
                retryable = should_retry == "true"
            retry_after = parse_retry_after(headers) if status in (429, 503) else None
            message = f"{where}: HTTP {status}: {_error_detail(error)}{self._status_hint(status)}"
            kind = "malformed" if isinstance(error, openai.APIResponseValidationError) else ""
            return ModelError(
                self._redact(message), retryable=retryable, status=status, retry_after=retry_after, kind=kind
            )
        return ModelError(self._redact(f"{where}: {type(error).__name__}: {error}"), retryable=True)

    def _status_hint(self, status: int) -> str:
        hints = {
            401: f"; check the API key in ${self.api_key_env}",
            403: f"; the key in ${self.api_key_env} may lack access to this model",
            404: "; check the model name and the base URL (it usually ends in /v1)",
            429: "; rate limited: lower --concurrency or wait",
        }
        return hints.get(status, "")

    def _redact(self, text: str) -> str:
        """Remove the API key (and anything shaped like an OpenAI key) from a message."""
        if self._api_key and self._api_key != PLACEHOLDER_API_KEY:
            text = text.replace(self._api_key, "***")
        return _KEY_LIKE.sub("***", text)

    def _to_response(self, completion: Any, duration_s: float) -> ModelResponse:
        """Turn an SDK ChatCompletion into a `ModelResponse`, rejecting empty or malformed answers."""
        choices = getattr(completion, "choices", None)
        message = getattr(choices[0], "message", None) if choices else None
        if message is None:
            raise ModelError(
                f"{self.name}: the server returned no choices; retrying may help",
                retryable=True,
                kind="malformed",
            )
        content = getattr(message, "content", None)
        tool_calls = [call.model_dump(exclude_none=True) for call in (message.tool_calls or [])] or None
        if content is None and tool_calls is None:
            refusal = getattr(message, "refusal", None)
            if refusal:
                raise ModelError(f"{self.name} refused: {refusal}", retryable=False)
            raise ModelError(
                f"{self.name}: the answer has no content; retrying may help", retryable=True, kind="malformed"
            )
        usage = getattr(completion, "usage", None)
        return ModelResponse(
            text=content or "",
            finish_reason=getattr(choices[0], "finish_reason", None),
            usage=Usage(
                prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            ),
            model=getattr(completion, "model", None) or self.name,
            tool_calls=tool_calls,
            duration_s=duration_s,
        )


def _error_detail(error: openai.APIError) -> str:
    """The server's own error message when it sent one, else the SDK's summary."""
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return str(error.message)
