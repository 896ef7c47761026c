"""Output models and converters of the tool_use skill's agents (SPEC §2 row 3, §3).

The agents write flat structures that a llama.cpp grammar can enforce and a 1.5B model can fill:

- transformation agents (api_from_code, api_from_docs, api_retrieval, library_reconstruction) write
  `ApiListOutput`: API definitions whose parameters are a list of {name, type, description, required, enum,
  items} instead of raw JSON schema (scalars or arrays of scalars: stored data is passed by id), and whose
  result is {type, description, properties: [fields]}; `ApiDefinition.to_spec()` turns one into an
  `ApiSpec` (JSON schema), which `quality.tool_calls.validate_function_spec` then checks, and
  `convert_apis` does both for a list;
- instruction agents write `ToolInstructionOutput` (the user's request, the APIs it needs, what it leaves
  out), the editor `ToolEditOutput` (the same fields after the edit);
- the teacher writes `TraceOutput`, a list of call / result / say steps (works on servers without native
  tool calls), which `trace_to_messages` turns into OpenAI-format messages for `validate_trace` and the pair.

`render_apis` is the text form of a list of specs that the prompts show (`apis`, `content`). This module
registers no flow; the flow that drives these agents imports it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from agentinstruct.agents import AgentOutput
from agentinstruct.quality.tool_calls import ApiSpec, specs_by_name, validate_function_spec

JsonType = Literal["string", "integer", "number", "boolean", "array", "object"]
#: parameters are scalars or arrays of scalars: an object parameter without a declared shape would make the
#: teacher invent one (and small models pass whole collections around); stored data is referred to by id
ParameterType = Literal["string", "integer", "number", "boolean", "array"]
ScalarType = Literal["string", "integer", "number", "boolean"]

#: function names the agents may write: OpenAI's rule, snake_case-friendly, at most 64 characters
API_NAME_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$"
FIELD_NAME_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$"


# -- API definitions ---------------------------------------------------------------------------------


class ApiField(BaseModel):
    """One field of an API's result (and the base of `ApiParameter`)."""

    name: str = Field(pattern=FIELD_NAME_PATTERN, description="snake_case name")
    type: JsonType = Field(description="JSON type")
    description: str = Field(min_length=1, description="what it means, with unit or format")
    required: bool = Field(description="true if it must always be given (or is always present)")
    enum: list[str] = Field(default_factory=list, description="the allowed values, if fixed; else []")
    items: JsonType = Field(default="string", description="for an array: the type of its items")

    def to_schema(self) -> dict[str, Any]:
        """The JSON schema of this field (enum values converted to the field's type where they can be)."""
        schema: dict[str, Any] = {"type": self.type, "description": self.description}
        if self.type == "array":
            schema["items"] = {"type": self.items}
            if self.enum:  # for an array the allowed values are those of its items
                schema["items"]["enum"] = [_typed_value(value, self.items) for value in self.enum]
        elif self.enum:
            schema["enum"] = [_typed_value(value, self.type) for value in self.enum]
        return schema

    @classmethod
    def from_schema(cls, name: str, schema: dict[str, Any], required: bool) -> ApiField:
        """The flat form of a property schema (nested shapes are reduced to their top-level type)."""
        kind = _first_type(schema)
        item_schema = (schema.get("items") or {}) if kind == "array" else {}
        items = _first_type(item_schema) if kind == "array" else "string"
        values = item_schema.get("enum") if kind == "array" else schema.get("enum")
        return cls(
            name=name,
            type=kind,
            description=str(schema.get("description") or name.replace("_", " ")),
            required=required,
            enum=[v if isinstance(v, str) else json.dumps(v) for v in values or []],
            items=items,
        )


class ApiParameter(ApiField):
    """One parameter of an API: a scalar or an array of scalars."""

    type: ParameterType = Field(description="JSON type; no objects: refer to stored data by its id")
    items: ScalarType = Field(default="string", description="for an array: the type of its items")

    @classmethod
    def from_schema(cls, name: str, schema: dict[str, Any], required: bool) -> ApiParameter:
        """The flat form of a parameter schema; object parameters (and arrays of objects) become strings
        holding JSON, the closest a flat parameter gets."""
        flat = ApiField.from_schema(name, schema, required)
        data = flat.model_dump()
        if flat.type == "object":
            data.update(type="string", description=f"{flat.description} (a JSON object)")
        if flat.items == "object" or flat.items == "array":
            data.update(items="string")
        return cls.model_validate(data)


class ApiReturns(BaseModel):
    """What an API returns."""

    type: JsonType = Field(description="JSON type of the result")
    description: str = Field(min_length=1, description="what the result is")
    properties: list[ApiField] = Field(
        default_factory=list,
        description="for an object (or an array of objects): its fields; else []",
    )
    items: JsonType = Field(default="object", description="for an array: the type of its items")

    def to_schema(self) -> dict[str, Any]:
        """The JSON schema of the result."""
        if self.type == "array":
            item = _object_schema(self.properties) if self.properties else {"type": self.items}
            return {"type": "array", "description": self.description, "items": item}
        if self.type == "object":
            return {"description": self.description, **_object_schema(self.properties)}
        return {"type": self.type, "description": self.description}

    @classmethod
    def from_schema(cls, schema: dict[str, Any]) -> ApiReturns:
        """The flat form of a return schema (nested shapes below the first level are reduced)."""
        kind = _first_type(schema)
        shape = schema
        items = "object"
        if kind == "array":
            shape = schema.get("items") or {}
            items = _first_type(shape)
        properties = (shape.get("properties") or {}) if _first_type(shape) == "object" else {}
        required = set(shape.get("required") or [])
        return cls(
            type=kind,
            description=str(schema.get("description") or f"the {kind} result"),
            properties=[ApiField.from_schema(n, s, n in required) for n, s in properties.items()],
            items=items,
        )


class ApiDefinition(BaseModel):
    """One API as the transformation agents write it."""

    name: str = Field(pattern=API_NAME_PATTERN, description="snake_case function name")
    description: str = Field(min_length=1, description="what it does and when to use it")
    parameters: list[ApiParameter] = Field(description="its inputs ([] if none)")
    returns: ApiReturns = Field(description="what it returns")

    def to_spec(self) -> ApiSpec:
        """The `ApiSpec` (JSON schemas) of this definition."""
        return ApiSpec(
            name=self.name,
            description=self.description,
            parameters=_object_schema(self.parameters),
            returns=self.returns.to_schema(),
        )

    @classmethod
    def from_spec(cls, spec: ApiSpec) -> ApiDefinition:
        """The flat form of a spec; exact for specs made by `to_spec`, lossy for deeper JSON schemas."""
        properties = spec.parameters.get("properties") or {}
        required = set(spec.parameters.get("required") or [])
        return cls(
            name=spec.name,
            description=spec.description or spec.name.replace("_", " "),
            parameters=[ApiParameter.from_schema(n, s, n in required) for n, s in properties.items()],
            returns=ApiReturns.from_schema(spec.returns),
        )


def _object_schema(fields: Sequence[ApiField]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {f.name: f.to_schema() for f in fields},
        "required": [f.name for f in fields if f.required],
    }


def _first_type(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind in ("string", "integer", "number", "boolean", "array", "object"):
        return kind
    return "object" if "properties" in schema else "string"


def _typed_value(value: str, kind: str) -> Any:
    """An enum value written as a string, converted to `kind` when it reads as one."""
    if kind in ("integer", "number", "boolean"):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return value
        if kind == "boolean" and isinstance(parsed, bool):
            return parsed
        if (
            kind in ("integer", "number")
            and isinstance(parsed, (int, float))
            and not isinstance(parsed, bool)
        ):
            return parsed
    return value


class ApiListOutput(AgentOutput):
    """The transformation agents' reply: API definitions (only the new ones for retrieval/reconstruction)."""

    apis: list[ApiDefinition] = Field(default_factory=list, description="the API definitions")

    @model_validator(mode="after")
    def _some_when_suitable(self) -> ApiListOutput:
        if self.suitable and not self.apis:
            raise ValueError("apis must hold at least one API definition when suitable is true")
        return self

    @classmethod
    def request_schema(cls) -> dict[str, Any]:
        """Parameters and result fields must state name, type, description and required; a result must
        list its fields ([] for a scalar), so a grammar leads a small model through the whole shape."""
        schema = super().request_schema()
        definitions = schema.get("$defs", {})
        for model, required in (
            (ApiField, ["name", "type", "description", "required"]),
            (ApiParameter, ["name", "type", "description", "required"]),
            (ApiReturns, ["type", "description", "properties"]),
            (ApiDefinition, ["name", "description", "parameters", "returns"]),
        ):
            if model.__name__ in definitions:
                definitions[model.__name__]["required"] = required
        return schema


def convert_apis(
    apis: list[ApiDefinition], existing: list[ApiSpec] | None = None
) -> tuple[list[ApiSpec], list[str]]:
    """Turn definitions into valid specs: each is converted and validated; invalid ones and names already
    used (in `existing` or earlier in the list) are dropped with a reason. Returns (specs, problems)."""
    taken = {spec.name for spec in existing or []}
    specs: list[ApiSpec] = []
    problems: list[str] = []
    for api in apis:
        spec = api.to_spec()
        if spec.name in taken:
            problems.append(f"{spec.name}: an API of that name is already listed")
            continue
        found = validate_function_spec(spec)
        if found:
            problems += found
            continue
        taken.add(spec.name)
        specs.append(spec)
    return specs, problems


def render_apis(specs: list[ApiSpec]) -> str:
    """The text form of a list of APIs shown in prompts: name, description, parameters, return shape."""
    blocks = []
    for spec in specs:
        lines = [f"{spec.name}: {spec.description.strip()}"]
        properties = spec.parameters.get("properties") or {}
        required = set(spec.parameters.get("required") or [])
        if properties:
            lines.append("  parameters:")
            for name, schema in properties.items():
                need = "required" if name in required else "optional"
                lines.append(f"    - {name} ({_type_label(schema)}, {need}){_described(schema)}")
        else:
            lines.append("  parameters: none")
        lines.append(f"  returns: {_type_label(spec.returns)}{_described(spec.returns)}")
        shape = spec.returns.get("items") if _first_type(spec.returns) == "array" else spec.returns
        fields = (shape or {}).get("properties") or {}
        shape_required = set((shape or {}).get("required") or [])
        for name, schema in fields.items():
            optional = "" if name in shape_required else ", optional"
            lines.append(f"    - {name} ({_type_label(schema)}{optional}){_described(schema)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _type_label(schema: Any) -> str:
    if not isinstance(schema, dict) or not schema:
        return "any"
    kind = schema.get("type")
    if isinstance(kind, list):
        label = " or ".join(kind)
    elif kind == "array":
        label = f"array of {_type_label(schema.get('items') or {})}"
    elif kind:
        label = str(kind)
    elif schema.get("anyOf") or schema.get("oneOf"):
        label = " or ".join(_type_label(s) for s in schema.get("anyOf") or schema.get("oneOf"))
    else:
        label = "object" if "properties" in schema else "any"
    if schema.get("enum"):
        label += ", one of " + ", ".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"])
    return label


def _described(schema: Any) -> str:
    description = schema.get("description") if isinstance(schema, dict) else None
    return f": {description.strip()}" if isinstance(description, str) and description.strip() else ""


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
