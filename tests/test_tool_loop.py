"""The tool-calling loop: native OpenAI function calling over HTTP, the JSON-schema emulation, bounded
steps, error results the model can see, replay from the run store, and agents that use tools."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from agentinstruct.agent_outputs import TransformationOutput
from agentinstruct.agents import Agent
from agentinstruct.models.base import ModelRequest
from agentinstruct.models.openai_model import OpenAIModel
from agentinstruct.models.scripted import ScriptedModel
from agentinstruct.models.stored import StoredModel
from agentinstruct.store import RunStore
from agentinstruct.testing import OpenAIServer, ServerReply
from agentinstruct.tools import Tool, ToolUnavailable
from agentinstruct.tools.calculator import CalculatorTool
from agentinstruct.tools.code_interpreter import CodeInterpreterTool
from agentinstruct.tools.loop import ToolLoop

pytestmark = pytest.mark.timeout(60)

QUESTION = [{"role": "system", "content": "Be exact."}, {"role": "user", "content": "What is 2**64 - 1?"}]


class CountingTool(Tool):
    """Counts its executions, so replays from the store are visible."""

    name: ClassVar[str] = "counter"
    description: ClassVar[str] = "Returns how many times it has been called."
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"label": {"type": "string", "description": "any label"}},
        "required": ["label"],
        "additionalProperties": False,
    }

    def __init__(self, behaviour: str = "ok"):
        self.calls = 0
        self.behaviour = behaviour

    async def call(self, **arguments: Any) -> dict[str, Any]:
        self.calls += 1
        if self.behaviour == "raise":
            raise RuntimeError("the counter broke")
        if self.behaviour == "hang":
            await asyncio.sleep(30)
        if self.behaviour == "unavailable":
            raise ToolUnavailable("the counter service is down; start it")
        return {"label": arguments["label"], "count": self.calls}


def _step(action: str, **fields: Any) -> str:
    return json.dumps({"action": action, **fields})


def test_emulated_loop_calls_the_calculator_then_answers():
    replies = [
        _step("call", tool="calculator", arguments={"expression": "2**64 - 1"}),
        _step("answer", answer="2**64 - 1 = 18446744073709551615"),
    ]
    model = ScriptedModel(replies)
    result = asyncio.run(ToolLoop([CalculatorTool()]).run(model, ModelRequest(messages=QUESTION)))

    assert result.response.text == "2**64 - 1 = 18446744073709551615"
    [record] = result.tool_calls
    assert record.name == "calculator" and record.ok and "18446744073709551615" in json.dumps(record.result)
    first, second = model.requests
    schema = first.json_schema["schema"]
    assert [option["properties"]["action"]["const"] for option in schema["anyOf"]] == ["call", "answer"]
    assert first.messages[0]["role"] == "system" and "calculator" in first.messages[0]["content"]
    assert first.messages[0]["content"].startswith("Be exact.")
    assert second.messages[-1]["role"] == "user" and "18446744073709551615" in second.messages[-1]["content"]
    # the trace is OpenAI format whatever the transport
    assistant, tool = result.trace
    call = assistant["tool_calls"][0]
    assert call["function"]["name"] == "calculator"
    assert json.loads(call["function"]["arguments"]) == {"expression": "2**64 - 1"}
    assert tool == {"role": "tool", "tool_call_id": call["id"], "content": tool["content"]}
    assert "18446744073709551615" in tool["content"]


def test_emulated_loop_forces_an_answer_after_max_steps():
    def always_call(request: ModelRequest) -> str:
        if "anyOf" in request.json_schema["schema"]:
            return _step("call", tool="counter", arguments={"label": f"call {len(request.messages)}"})
        return _step("answer", answer="gave up counting")

    tool = CountingTool()
    model = ScriptedModel(always_call)
    result = asyncio.run(ToolLoop([tool], max_steps=3).run(model, ModelRequest(messages=QUESTION)))

    assert tool.calls == 3 and len(result.tool_calls) == 3 and len(model.requests) == 4
    assert "anyOf" not in model.requests[-1].json_schema["schema"]
    assert result.response.text == "gave up counting"
    assert len(result.call_ids) == 4


def test_a_call_that_only_repeats_an_earlier_one_forces_the_answer():
    """The local coding teacher sent one program four times over (run s18): the repeat gets its result, and
    the next turn may only answer."""

    def same_call(request: ModelRequest) -> str:
        if "anyOf" in request.json_schema["schema"]:
            return _step("call", tool="counter", arguments={"label": "again"})
        return _step("answer", answer="counted twice")

    tool = CountingTool()
    model = ScriptedModel(same_call)
    result = asyncio.run(ToolLoop([tool], max_steps=4).run(model, ModelRequest(messages=QUESTION)))
    assert len(result.tool_calls) == 2 and len(model.requests) == 3
    assert "anyOf" not in model.requests[-1].json_schema["schema"]
    assert result.response.text == "counted twice"


class WordyTool(Tool):
    """Returns a long text, as a search for 10 hits does."""

    name: ClassVar[str] = "wordy"
    description: ClassVar[str] = "Returns a long text."
    parameters: ClassVar[dict[str, Any]] = CountingTool.parameters

    async def call(self, **arguments: Any) -> dict[str, Any]:
        return {"text": f"{arguments['label']} " + "word " * 1200}


@pytest.mark.parametrize("max_shown", [6000, 3000])
def test_tool_results_stop_at_the_conversations_budget_and_the_answer_is_forced(max_shown):
    """s39: two searches for 10 hits, 4,031 characters each, overflowed the local model's 4,096-token slot
    on the third request; the results shown now stop at a budget, then the model must answer."""

    def keeps_calling(request: ModelRequest) -> str:
        if "anyOf" in request.json_schema["schema"]:
            return _step("call", tool="wordy", arguments={"label": f"call {len(request.messages)}"})
        return _step("answer", answer="enough read")

    model = ScriptedModel(keeps_calling)
    loop = ToolLoop([WordyTool()], max_steps=4, max_result_chars=4000, max_shown_chars=max_shown)
    result = asyncio.run(loop.run(model, ModelRequest(messages=QUESTION)))
    shown = [m["content"] for m in result.trace if m["role"] == "tool"]
    assert len(shown) == (2 if max_shown == 6000 else 1)
    assert sum(len(text) for text in shown) == max_shown
    assert all(text.endswith(" …[truncated]") for text in shown)
    assert "anyOf" not in model.requests[-1].json_schema["schema"] and len(model.requests) == len(shown) + 1
    assert result.response.text == "enough read"
    # what the model read is what the trace records
    assert model.requests[-1].messages[-1]["content"] == f"Result of wordy: {shown[-1]}"


def test_structured_answers_keep_the_agents_schema_inside_the_loop(tmp_path: Path):
    (tmp_path / "t.j2").write_text("Rewrite: {{ seed }}")
    replies = [
        _step("call", tool="calculator", arguments={"expression": "3*7"}),
        _step("answer", answer={"content": "three sevens are 21", "suitable": True, "reason": ""}),
    ]
    model = ScriptedModel(replies)
    agent = Agent("rewriter", "t.j2", tmp_path, TransformationOutput)
    result = asyncio.run(agent.run(model, {"seed": "3*7"}, tag="t", tools=ToolLoop([CalculatorTool()])))

    assert result.ok and result.output.content == "three sevens are 21"
    answer_schema = model.requests[0].json_schema["schema"]["anyOf"][-1]["properties"]["answer"]
    assert answer_schema == TransformationOutput.request_schema()
    assert [r.name for r in result.tool_calls] == ["calculator"] and len(result.trace) == 2


@pytest.mark.parametrize(
    ("tool_name", "arguments", "behaviour", "expected"),
    [
        ("nope", {"label": "x"}, "ok", "unknown tool 'nope'; available tools: counter"),
        ("counter", "{not json", "ok", "not valid JSON"),
        ("counter", {"wrong": 1}, "ok", "wrong arguments for counter"),
        ("counter", {"label": "x"}, "raise", "RuntimeError: the counter broke"),
        ("counter", {"label": "x"}, "hang", "did not finish within 0.2 s"),
    ],
)
def test_bad_calls_become_error_results_the_model_sees(tool_name, arguments, behaviour, expected):
    replies = [_step("call", tool=tool_name, arguments=arguments), _step("answer", answer="sorry")]
    model = ScriptedModel(replies)
    loop = ToolLoop([CountingTool(behaviour)], timeout_s=0.2)
    if isinstance(arguments, str):  # emulate a server that sends arguments as a broken JSON string
        record = asyncio.run(loop.execute(tool_name, arguments))
        assert not record.ok and expected in record.result["error"]
        return
    result = asyncio.run(loop.run(model, ModelRequest(messages=QUESTION)))
    [record] = result.tool_calls
    assert not record.ok and expected in record.result["error"]
    assert expected in model.requests[1].messages[-1]["content"]
    assert result.response.text == "sorry"


def test_an_unavailable_tool_fails_the_agent_with_the_cause(tmp_path: Path):
    (tmp_path / "t.j2").write_text("Count {{ seed }}")
    model = ScriptedModel([_step("call", tool="counter", arguments={"label": "x"})])
    agent = Agent("counter_agent", "t.j2", tmp_path)
    result = asyncio.run(
        agent.run(model, {"seed": "x"}, tag="t", tools=ToolLoop([CountingTool("unavailable")]))
    )
    assert result.status == "failed"
    assert result.reason == "tool_unavailable: the counter service is down; start it"


def _native_responder(body: dict[str, Any]) -> Any:
    if body["messages"][-1]["role"] == "tool":
        result = json.loads(body["messages"][-1]["content"])
        return ServerReply(content=f"The counter says {result['count']}.")
    return ServerReply(
        content=None,
        finish_reason="tool_calls",
        tool_calls=[
            {
                "id": "call_abc",
                "type": "function",
                "function": {"name": "counter", "arguments": json.dumps({"label": "first"})},
            }
        ],
    )


def test_native_tool_calls_over_http_are_recorded_and_replayed(openai_server: OpenAIServer, tmp_path: Path):
    openai_server.responder = _native_responder
    store = RunStore(tmp_path / "state.sqlite")
    tool = CountingTool()

    async def run_once() -> Any:
        backend = OpenAIModel("test-model", base_url=openai_server.base_url)
        model = StoredModel(backend, store)
        try:
            return await ToolLoop([tool], store=store).run(model, ModelRequest(messages=QUESTION))
        finally:
            await model.aclose()

    first = asyncio.run(run_once())
    assert first.response.text == "The counter says 1."
    sent = openai_server.requests[0]
    assert sent["tools"][0]["function"]["name"] == "counter" and "response_format" not in sent
    assistant, tool_message = openai_server.requests[1]["messages"][-2:]
    assert assistant["tool_calls"][0]["id"] == "call_abc"
    assert tool_message["tool_call_id"] == "call_abc" and json.loads(tool_message["content"])["count"] == 1
    assert first.trace == [assistant | {"content": None}, tool_message]
    assert store.get_tool_call(first.tool_calls[0].id) == ({"label": "first", "count": 1}, True)

    # a resumed run replays the tool and both model calls from the store: nothing reaches the server
    second = asyncio.run(run_once())
    assert len(openai_server.requests) == 2 and tool.calls == 1
    assert second.response.text == first.response.text and second.tool_calls[0].cached
    store.close()


def test_native_loop_asks_for_a_text_answer_on_the_last_step(openai_server: OpenAIServer):
    openai_server.responder = lambda body: _native_responder({"messages": [{"role": "user"}]})
    backend = OpenAIModel("test-model", base_url=openai_server.base_url)

    async def run() -> Any:
        try:
            return await ToolLoop([CountingTool()], max_steps=2).run(backend, ModelRequest(messages=QUESTION))
        finally:
            await backend.aclose()

    result = asyncio.run(run())
    assert [r.get("tool_choice") for r in openai_server.requests] == [None, None, "none"]
    assert len(result.tool_calls) == 2


def test_native_calls_that_only_repeat_earlier_ones_force_the_answer(openai_server: OpenAIServer):
    openai_server.responder = lambda body: _native_responder({"messages": [{"role": "user"}]})
    backend = OpenAIModel("test-model", base_url=openai_server.base_url)

    async def run() -> Any:
        try:
            return await ToolLoop([CountingTool()], max_steps=4).run(backend, ModelRequest(messages=QUESTION))
        finally:
            await backend.aclose()

    result = asyncio.run(run())
    assert [r.get("tool_choice") for r in openai_server.requests] == [None, None, "none"]
    assert len(result.tool_calls) == 2


def test_the_code_interpreter_runs_inside_the_loop():
    code = "import sympy\nprint(sympy.factorint(2**16 + 1))"
    model = ScriptedModel(
        [_step("call", tool="python", arguments={"code": code}), _step("answer", answer="65537 is prime")]
    )
    result = asyncio.run(ToolLoop([CodeInterpreterTool()]).run(model, ModelRequest(messages=QUESTION)))
    [record] = result.tool_calls
    assert record.ok and record.result["exit_code"] == 0 and "{65537: 1}" in record.result["stdout"]
