"""The bounded tool-calling loop: a model may call tools, see their results, and then answer.

Two ways to speak it. Servers with native function calling get OpenAI `tools=[...]`, answer with assistant
`tool_calls` and read `tool` messages. Servers without it (the embedded llama.cpp model) get the same loop
through JSON-schema structured output: each turn the model returns `{"action": "call", "tool", "arguments"}`
or `{"action": "answer", "answer"}`, the schema enforced by the server. Both ways yield the same record: an
OpenAI-format trace and one `ToolCallRecord` per execution. Executions are stored in the run's store under a
content key, so a resumed run replays a tool's result instead of running it again (and the model calls
that follow hash the same and are answered from the call store too).

The tools live in sibling modules; which agent gets which tools is decided by the flows.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import jsonschema

from agentinstruct.models.base import Model, ModelRequest, ModelResponse
from agentinstruct.store import RunStore
from agentinstruct.tools import Tool, ToolUnavailable

ToolMode = Literal["auto", "native", "emulated"]


@dataclass
class ToolCallRecord:
    """One tool execution: what was asked, what came back, and whether it was replayed from the store."""

    id: str
    name: str
    arguments: dict[str, Any]
    result: dict[str, Any]
    ok: bool
    cached: bool = False

    def summary(self, max_chars: int = 2000) -> dict[str, Any]:
        """A lineage-sized view: the result as JSON text cut to `max_chars`."""
        text = json.dumps(self.result, ensure_ascii=False)
        return {
            "id": self.id,
            "name": self.name,
            "arguments": self.arguments,
            "ok": self.ok,
            "result": text if len(text) <= max_chars else text[:max_chars] + "…",
        }


@dataclass
class ToolLoopResult:
    """The final answer, the OpenAI-format turns that led to it, the executions and the model call ids."""

    response: ModelResponse
    trace: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    call_ids: list[str] = field(default_factory=list)


def tool_call_key(name: str, arguments: dict[str, Any]) -> str:
    """Content address of one tool execution."""
    canonical = json.dumps({"tool": name, "arguments": arguments}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


#: how much tool output a conversation shows in all: s39's open-domain teacher searched twice for 10 hits,
#: 4,031 characters each, and its third request (4,364 tokens) overflowed the local model's 4,096-token slot
MAX_SHOWN_RESULT_CHARS = 6000
TRUNCATED = " …[truncated]"


class ToolLoop:
    """Runs requests with tools for at most `max_steps` tool rounds, then forces an answer; a round that only
    repeats earlier calls, or one after which the results shown reach `max_shown_chars`, forces it at once.
    """

    def __init__(
        self,
        tools: Sequence[Tool],
        *,
        max_steps: int = 4,
        store: RunStore | None = None,
        mode: ToolMode = "auto",
        timeout_s: float = 60.0,
        max_result_chars: int = 4000,
        max_shown_chars: int = MAX_SHOWN_RESULT_CHARS,
    ):
        if not tools:
            raise ValueError("a ToolLoop needs at least one tool")
        self.tools = {tool.name: tool for tool in tools}
        self.max_steps = max_steps
        self.store = store
        self.mode = mode
        self.timeout_s = timeout_s
        self.max_result_chars = max_result_chars
        self.max_shown_chars = max_shown_chars

    def native_for(self, model: Model) -> bool:
        """Whether to use the model's own function calling (else the JSON-schema emulation)."""
        if self.mode == "auto":
            return model.native_tool_calls
        return self.mode == "native"

    async def run(self, model: Model, request: ModelRequest) -> ToolLoopResult:
        """Answer `request`, letting the model call tools on the way; `ModelError` if a call fails."""
        if self.native_for(model):
            return await self._run_native(model, request)
        return await self._run_emulated(model, request)

    # -- execution --------------------------------------------------------------------------------
    async def execute(self, name: str, arguments: Any) -> ToolCallRecord:
        """Run one tool call (or replay it from the store); bad calls become error results the model sees."""
        parsed, problem = _parse_arguments(arguments)
        key = tool_call_key(name, parsed if problem is None else {"raw": str(arguments)})
        if self.store is not None and (hit := self.store.get_tool_call(key)) is not None:
            return ToolCallRecord(key, name, parsed, hit[0], hit[1], cached=True)
        tool = self.tools.get(name)
        if tool is None:
            problem = f"unknown tool {name!r}; available tools: {', '.join(sorted(self.tools))}"
        elif problem is None:
            problem = _argument_problem(tool, parsed)
        if problem is not None:
            return ToolCallRecord(key, name, parsed, {"error": problem}, False)
        started = asyncio.get_running_loop().time()
        try:
            result = await asyncio.wait_for(tool.call(**parsed), self.timeout_s)
            ok = "error" not in result
        except ToolUnavailable:
            raise
        except TimeoutError:
            result, ok = {"error": f"the tool did not finish within {self.timeout_s:g} s"}, False
        except TypeError as error:
            result, ok = {"error": f"wrong arguments for {name}: {error}"}, False
        except Exception as error:  # a tool bug must not end the run; the model sees what went wrong
            result, ok = {"error": f"{type(error).__name__}: {error}"}, False
        if self.store is not None:
            duration = asyncio.get_running_loop().time() - started
            self.store.put_tool_call(key, name, parsed, result, ok, duration)
        return ToolCallRecord(key, name, parsed, result, ok)

    def _result_text(self, record: ToolCallRecord, shown: int = 0) -> str:
        """The result as the model sees it, cut to what is left of the conversation's budget (`shown`:
        the characters of results shown before it)."""
        text = json.dumps(record.result, ensure_ascii=False)
        limit = max(min(self.max_result_chars, self.max_shown_chars - shown), 200)
        if len(text) > limit:
            text = text[: limit - len(TRUNCATED)] + TRUNCATED
        return text

    def _spent(self, trace: list[dict[str, Any]]) -> int:
        """The characters of tool results the conversation shows so far."""
        return sum(len(m["content"] or "") for m in trace if m["role"] == "tool")

    # -- native function calling --------------------------------------------------------------------
    async def _run_native(self, model: Model, request: ModelRequest) -> ToolLoopResult:
        specs = [tool.spec() for tool in self.tools.values()]
        messages = list(request.messages)
        result = ToolLoopResult(response=ModelResponse(text=""))
        repeated = False
        for step in range(self.max_steps + 1):
            final = step == self.max_steps or repeated or self._spent(result.trace) >= self.max_shown_chars
            response = await model.complete(
                request.model_copy(
                    update={"messages": messages, "tools": specs, "tool_choice": "none" if final else None}
                )
            )
            result.call_ids.append(response.call_id)
            if not response.tool_calls or final:
                result.response = response
                return result
            calls = [_normalise_call(call, step, index) for index, call in enumerate(response.tool_calls)]
            records = await asyncio.gather(
                *(self.execute(c["function"]["name"], c["function"]["arguments"]) for c in calls)
            )
            repeated = _repeats(result.tool_calls, records)
            turns = [{"role": "assistant", "content": response.text or None, "tool_calls": calls}]
            for call, record in zip(calls, records, strict=True):
                shown = self._spent(result.trace + turns)
                turns.append(
                    {"role": "tool", "tool_call_id": call["id"], "content": self._result_text(record, shown)}
                )
            messages += turns
            result.trace += turns
            result.tool_calls += records
        raise AssertionError("unreachable")

    # -- emulation through structured output ----------------------------------------------------------
    async def _run_emulated(self, model: Model, request: ModelRequest) -> ToolLoopResult:
        answer_schema = (request.json_schema or {}).get("schema") or {"type": "string", "minLength": 1}
        messages = self._with_tool_note(request.messages)
        result = ToolLoopResult(response=ModelResponse(text=""))
        repeated = False
        for step in range(self.max_steps + 1):
            final = step == self.max_steps or repeated or self._spent(result.trace) >= self.max_shown_chars
            schema = self._step_schema(answer_schema, allow_calls=not final)
            response = await model.complete(
                request.model_copy(
                    update={"messages": messages, "json_schema": {"name": "tool_step", "schema": schema}}
                )
            )
            result.call_ids.append(response.call_id)
            reply = _parse_step(response.text)
            if reply is None or reply.get("action") != "call" or final:
                result.response = response.model_copy(update={"text": _answer_text(reply, response.text)})
                return result
            name, arguments = str(reply.get("tool", "")), reply.get("arguments") or {}
            record = await self.execute(name, arguments)
            repeated = _repeats(result.tool_calls, [record])
            call_id = f"call_{step + 1}"
            shown = self._result_text(record, self._spent(result.trace))
            result.trace += [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [_openai_call(call_id, name, record.arguments or arguments)],
                },
                {"role": "tool", "tool_call_id": call_id, "content": shown},
            ]
            result.tool_calls.append(record)
            messages = [
                *messages,
                {"role": "assistant", "content": response.text},
                {"role": "user", "content": f"Result of {name}: {shown}"},
            ]
        raise AssertionError("unreachable")

    def _with_tool_note(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from agentinstruct.agents import PROMPTS_DIR, render  # agents imports this module

        note = render(PROMPTS_DIR, "tool_emulation.j2", steps=self.max_steps, tools=list(self.tools.values()))
        if messages and messages[0].get("role") == "system":
            return [{**messages[0], "content": f"{messages[0]['content']}\n\n{note}"}, *messages[1:]]
        return [{"role": "system", "content": note}, *messages]

    def _step_schema(self, answer_schema: dict[str, Any], *, allow_calls: bool) -> dict[str, Any]:
        answer = {
            "type": "object",
            "properties": {"action": {"const": "answer"}, "answer": answer_schema},
            "required": ["action", "answer"],
            "additionalProperties": False,
        }
        if not allow_calls:
            return answer
        calls = [
            {
                "type": "object",
                "properties": {
                    "action": {"const": "call"},
                    "tool": {"const": tool.name},
                    "arguments": tool.parameters,
                },
                "required": ["action", "tool", "arguments"],
                "additionalProperties": False,
            }
            for tool in self.tools.values()
        ]
        return {"anyOf": [*calls, answer]}


def _repeats(earlier: list[ToolCallRecord], latest: Sequence[ToolCallRecord]) -> bool:
    """Whether the latest calls only repeat calls made before: the model is going round in circles (the local
    coding teacher sent one program four times over, run s18), so the next turn must answer."""
    seen = {record.id for record in earlier}
    return bool(latest) and all(record.id in seen for record in latest)


def _parse_arguments(arguments: Any) -> tuple[dict[str, Any], str | None]:
    """Arguments as a dict, or ({}, problem) when they are not a JSON object."""
    if isinstance(arguments, dict):
        return arguments, None
    if isinstance(arguments, str):
        try:
            value = json.loads(arguments or "{}")
        except json.JSONDecodeError as error:
            return {}, f"the arguments are not valid JSON ({error}); send a JSON object"
        if isinstance(value, dict):
            return value, None
    return {}, "the arguments must be a JSON object of named parameters"


def _argument_problem(tool: Tool, arguments: dict[str, Any]) -> str | None:
    """Why `arguments` do not fit the tool's JSON schema (all reasons), or None when they do."""
    validator = jsonschema.Draft202012Validator(tool.parameters)
    errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))
    if not errors:
        return None
    reasons = "; ".join(f"{'.'.join(map(str, e.path))}: {e.message}" if e.path else e.message for e in errors)
    return f"wrong arguments for {tool.name}: {reasons}"


def _normalise_call(call: dict[str, Any], step: int, index: int) -> dict[str, Any]:
    """An OpenAI tool call with an id and string arguments, whatever the server sent."""
    function = call.get("function") or {}
    arguments = function.get("arguments", "{}")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False)
    call_id = call.get("id") or f"call_{step + 1}_{index + 1}"
    return _openai_call(call_id, str(function.get("name", "")), arguments)


def _openai_call(call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _parse_step(text: str) -> dict[str, Any] | None:
    from agentinstruct.agents import extract_json  # agents imports this module

    try:
        value = extract_json(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _answer_text(reply: dict[str, Any] | None, raw: str) -> str:
    """The final answer as text: a string answer as is, a structured one as JSON, else the raw reply."""
    if reply is None or "answer" not in reply:
        return raw
    answer = reply["answer"]
    return answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)


__all__ = ["ToolCallRecord", "ToolLoop", "ToolLoopResult", "tool_call_key"]
