"""Output models of the tool_use skill's instruction agents and teacher, and the trace converter (§3).

- instruction agents write `ToolInstructionOutput` (the user's request, the APIs it needs, what it leaves
  out), the editor `ToolEditOutput` (the same fields after the edit);
- the teacher writes `TraceOutput`, a list of call / result / say steps (works on servers without native
  tool calls), which `trace_to_messages` turns into OpenAI-format messages for `validate_trace` and the pair.

The API definitions the transformation agents write are in `flows.tool_use_apis` (re-exported here). This
module registers no flow; the flow that drives these agents imports it.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from agentinstruct.agent_outputs import AgentOutput
from agentinstruct.flows.tool_use_apis import (
    API_NAME_PATTERN,
    ApiDefinition,
    ApiField,
    ApiListOutput,
    ApiParameter,
    ApiReturns,
    convert_apis,
    render_apis,
)
from agentinstruct.quality.tool_calls import ApiSpec, specs_by_name

# -- instructions ------------------------------------------------------------------------------------


class ToolInstructionOutput(AgentOutput):
    """An instruction agent's reply: the user's request and what it needs."""

    instruction: str = Field(default="", description="the user's message to the assistant, and nothing else")
    apis_needed: list[str] = Field(
        default_factory=list,
        description="names of the listed APIs the request needs, in call order ([] if none fits)",
    )
    missing_information: list[str] = Field(
        default_factory=list,
        description='required parameters the request leaves out, as "function.parameter" ([] if none)',
    )


#: a value a user types into a request: a number, a quoted text, or a name in capitals inside a sentence
TYPED_VALUE = re.compile(r"\d|(?<!\w)[\"“'‘][^\"“”'‘’\n]{1,60}[\"”'’](?!\w)|(?<=[a-z,;:] )[A-Z][\w-]+")
#: what a request of each bundled variant needs: (fewest APIs, most APIs or None, leaves a required value
#: out). 7 of 8 requests the local model wrote in s15-s18 contradicted their own variant here (a
#: multi-API request needing one API, an extra-params request missing two values, an unavailable-API
#: request needing update_stock), and the teacher then refused the task or wrote a trace that failed.
REQUEST_SHAPES: dict[str, tuple[int, int | None, bool]] = {
    "single_api_all_params": (1, 1, False),
    "single_api_extra_params": (1, 1, False),
    "single_api_missing_params": (1, 1, True),
    "multi_api_all_params": (2, None, False),
    "multi_api_missing_params": (2, None, True),
    "api_not_available": (0, 0, False),
    "multi_api_some_missing": (1, None, False),
}


def request_problem(reply: ToolInstructionOutput, apis: dict[str, list[str]], variant: str) -> str:
    """Why a request's own apis_needed and missing_information contradict its variant ("" when they agree)."""
    shape = REQUEST_SHAPES.get(variant)
    if shape is None or not apis:
        return ""
    fewest, most, leaves_out = shape
    needed = list(dict.fromkeys(reply.apis_needed))
    unknown = [name for name in needed if name not in apis]
    if unknown:
        return f"apis_needed names {', '.join(unknown)}, which the list does not hold: name listed APIs only"
    if len(needed) < fewest or (most is not None and len(needed) > most):
        wanted = {0: "no listed API", 1: "exactly one API"}.get(fewest, "two or more different APIs")
        if fewest == 1 and most is None:
            wanted = "one or more APIs for its supported part"
        return (
            f"a request of this type ({variant}) needs {wanted}, and apis_needed lists {len(needed)}: "
            "write a request that fits the type"
        )
    missing = [entry.strip() for entry in reply.missing_information if entry.strip()]
    if not leaves_out and missing:
        return (
            f"a request of this type ({variant}) gives every required value, and missing_information lists "
            f"{', '.join(missing)}: give those values in the request, and missing_information []"
        )
    if leaves_out and not missing:
        return (
            f"a request of this type ({variant}) leaves out a required value: leave one out and name it in "
            'missing_information as "function.parameter"'
        )
    required = {(name, parameter) for name in needed for parameter in apis[name]}
    if not leaves_out and required and not TYPED_VALUE.search(reply.instruction):
        # s31: "Add a new item to the inventory, specifying its name, price, and initial quantity." gave no
        # value, and the teacher called add_item with "name1" and 5
        wanted = ", ".join(sorted(f"{n}.{p}" for n, p in required))
        return (
            f"a request of this type ({variant}) gives every required value, and this one gives none (no "
            f"number, name or quoted text): write the values for {wanted} into the request as the user "
            "types them (not 'specifying its name and price' but 'add \"Blue Pens\" at 2.50 each')"
        )
    for entry in missing:
        function, _, parameter = entry.rpartition(".")
        if not any(p == parameter and function in ("", n) for n, p in required):
            return (
                f"missing_information names {entry!r}, which is no required parameter of "
                f'{", ".join(needed)}: name each left-out value as "function.parameter"'
            )
    return ""


#: the bundled variant a request fits by its API count, for (more than one API, leaves a value out)
VARIANT_BY_COUNT = {
    (False, False): "single_api_all_params",
    (False, True): "single_api_missing_params",
    (True, False): "multi_api_all_params",
    (True, True): "multi_api_missing_params",
}


def refitted_variant(reply: ToolInstructionOutput, apis: dict[str, list[str]], variant: str) -> str:
    """The bundled variant a request fits when only its number of APIs contradicts its own ("" if none).

    s31 and s36 wrote 4 "single API" requests that needed two or three APIs, and sent the same request back
    when told (3 of 3 asks alike): the request is good, only its label is wrong. Whether it leaves a value
    out is kept as the agent wrote it, and a request for an API that is not available keeps its variant.
    """
    shape = REQUEST_SHAPES.get(variant)
    needed = list(dict.fromkeys(reply.apis_needed))
    if shape is None or shape[0] == 0 or not needed or not request_problem(reply, apis, variant):
        return ""
    leaves_out = shape[2]
    if leaves_out != any(entry.strip() for entry in reply.missing_information):
        return ""
    fitting = VARIANT_BY_COUNT[(len(needed) > 1, leaves_out)]
    return fitting if fitting != variant and not request_problem(reply, apis, fitting) else ""


class ToolEditOutput(ToolInstructionOutput):
    """The editor's reply: the request after the edit, with its updated needs."""


# -- teacher traces ----------------------------------------------------------------------------------


class TraceStep(BaseModel):
    """One step of the assistant's turn: call a function, its simulated result, or say something."""

    kind: Literal["call", "result", "say"] = Field(
        description='"call" a function, its simulated "result", or "say" something to the user'
    )
    name: str = Field(default="", description="the function's name for call and result steps, else empty")
    arguments: dict[str, Any] = Field(
        default_factory=dict, description="for a call: the arguments as a JSON object, else {}"
    )
    result: Any = Field(
        default=None, description="for a result: the value the function returns, in its declared shape"
    )
    content: str = Field(default="", description="for say: the message to the user, else empty")

    @field_validator("arguments", mode="before")
    @classmethod
    def _decode_arguments(cls, value: Any) -> Any:
        """Accept arguments sent as a JSON-encoded object (OpenAI style) as well as an object."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return {}
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return value  # fails validation with pydantic's own message
        return value

    @field_validator("result", mode="before")
    @classmethod
    def _decode_result(cls, value: Any) -> Any:
        """A result written as JSON text ('{"a": 1}') is taken as the value it encodes."""
        if isinstance(value, str) and value.strip()[:1] in ("{", "["):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return value
        return value


class TraceOutput(AgentOutput):
    """The teacher's reply: the assistant's whole turn as steps, ending with what it says to the user."""

    steps: list[TraceStep] = Field(
        default_factory=list,
        description="the assistant's turn in order: calls, then their results, ..., ending with one say step",
    )

    @model_validator(mode="after")
    def _ends_with_answer(self) -> TraceOutput:
        if not self.suitable:
            return self
        self.steps = _unfolded(self.steps)
        if not self.steps:
            raise ValueError("steps must not be empty when suitable is true")
        for number, step in enumerate(self.steps):
            if step.kind in ("call", "result") and not step.name.strip():
                raise ValueError(f"steps[{number}] is a {step.kind} step without the function's name")
        last = self.steps[-1]
        if last.kind != "say" or not last.content.strip():
            raise ValueError('the last step must be a "say" step whose content is the answer to the user')
        return self

    @classmethod
    def request_schema(cls) -> dict[str, Any]:
        """Every field of a step is required in the schema sent, so a grammar fixes the step's shape."""
        schema = super().request_schema()
        step = schema.get("$defs", {}).get(TraceStep.__name__)
        if step:
            step["required"] = list(step["properties"])
            step["additionalProperties"] = False
        return schema


def _unfolded(steps: list[TraceStep]) -> list[TraceStep]:
    """The steps with what the teacher wrote into a call step's other fields moved into steps of their own.

    Every field of a step is required in the grammar, and s37's and s39's teachers filled a call step's
    `result` ("ABC123") and `content` (what it then told the user) instead of writing result and say steps;
    the trace failed as calls without tool messages (twice after its repair) or as ending on a call. A
    result comes right after its call, unless a result step of that function follows anyway; the content
    of a last call step becomes the closing say step.
    """
    unfolded: list[TraceStep] = []
    for number, step in enumerate(steps):
        unfolded.append(step)
        if step.kind != "call":
            continue
        later = steps[number + 1 :]
        answered = any(s.kind == "result" and s.name == step.name for s in later)
        if step.result not in (None, "", {}, []) and not answered:
            unfolded.append(TraceStep(kind="result", name=step.name, result=step.result))
        if not later and step.content.strip():
            unfolded.append(TraceStep(kind="say", content=step.content))
    return unfolded


def call_id(number: int) -> str:
    """The id of the `number`-th call (1-based) in a trace: call_1, call_2, ..."""
    return f"call_{number}"


def trace_to_messages(trace: TraceOutput, user_turn: str, system: str | None = None) -> list[dict[str, Any]]:
    """The OpenAI-format conversation of a teacher trace: (system,) user, assistant turns, tool messages.

    Consecutive call steps become one assistant message with several `tool_calls` (ids call_1, call_2...
    in trace order, arguments JSON-encoded); a say step directly before calls becomes that message's
    content, otherwise content is null. A result step becomes a `tool` message answering the earliest
    unanswered call of the same function (else the earliest unanswered call), its content the result as
    JSON text. Say steps elsewhere become text messages (consecutive ones joined by a blank line). This
    never fails: a result with no call to answer gets an unmatched id, which `validate_trace` reports.
    """
    messages: list[dict[str, Any]] = []
    if system is not None:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": user_turn})
    pending: list[tuple[str, str]] = []
    said: list[str] = []
    count = orphans = 0
    for step in trace.steps:
        if step.kind == "say":
            if step.content.strip():
                said.append(step.content.strip())
            continue
        if step.kind == "call":
            count += 1
            call = {
                "id": call_id(count),
                "type": "function",
                "function": {"name": step.name, "arguments": json.dumps(step.arguments, ensure_ascii=False)},
            }
            last = messages[-1]
            if last["role"] == "assistant" and last.get("tool_calls") and not said:
                last["tool_calls"].append(call)
            else:
                content = "\n\n".join(said) if said else None
                messages.append({"role": "assistant", "content": content, "tool_calls": [call]})
                said = []
            pending.append((call["id"], step.name))
            continue
        _flush_said(messages, said)
        said = []
        match = next((i for i, (_, name) in enumerate(pending) if name == step.name), 0 if pending else None)
        if match is None:
            orphans += 1
            answered = f"unmatched_{orphans}"
        else:
            answered, _ = pending.pop(match)
        messages.append(
            {"role": "tool", "tool_call_id": answered, "content": json.dumps(step.result, ensure_ascii=False)}
        )
    _flush_said(messages, said)
    return messages


def _flush_said(messages: list[dict[str, Any]], said: list[str]) -> None:
    if said:
        messages.append({"role": "assistant", "content": "\n\n".join(said)})


def tools_of(specs: list[ApiSpec]) -> list[dict[str, Any]]:
    """The pair's `tools` field: the OpenAI tools entries of the specs."""
    return [spec.to_tool() for spec in specs]


__all__ = [
    "API_NAME_PATTERN",
    "ApiDefinition",
    "ApiField",
    "ApiListOutput",
    "ApiParameter",
    "ApiReturns",
    "ApiSpec",
    "ToolEditOutput",
    "ToolInstructionOutput",
    "TraceOutput",
    "TraceStep",
    "call_id",
    "convert_apis",
    "render_apis",
    "specs_by_name",
    "tools_of",
    "trace_to_messages",
]
