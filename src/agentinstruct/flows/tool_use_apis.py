"""The API definitions the tool_use skill's transformation agents write, and their JSON-schema form.

Transformation agents (api_from_code, api_from_docs, api_retrieval, library_reconstruction) write
`ApiListOutput`: API definitions whose parameters are a list of {name, type, description, required, enum,
items} instead of raw JSON schema (scalars or arrays of scalars: stored data is passed by id), and whose
result is {type, description, properties: [fields]}, a flat shape a llama.cpp grammar can enforce and a
1.5B model can fill. `ApiDefinition.to_spec()` turns one into an `ApiSpec` (JSON schema), which
`quality.tool_calls.validate_function_spec` then checks; `convert_apis` does both for a list, and
`render_apis` is the text form of a list of specs that the prompts show. The instruction and trace outputs
are in `flows.tool_use_outputs`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from agentinstruct.agent_outputs import AgentOutput
from agentinstruct.quality.tool_calls import ApiSpec, validate_function_spec

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


#: the most APIs one transformation reply lists, and fields one parameter list or result lists, in the
#: grammar a local model is held to (the prompts ask for fewer)
MAX_APIS = 4
MAX_FIELDS = 8


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
        # Bounds for the grammar only (replies are not rejected for a longer list): a 1.5B model listed
        # APIs and fields until it hit the 2048-token limit, and the whole transformation was lost.
        for owner, field, most in (
            (schema, "apis", MAX_APIS),
            (definitions.get(ApiDefinition.__name__, {}), "parameters", MAX_FIELDS),
            (definitions.get(ApiReturns.__name__, {}), "properties", MAX_FIELDS),
        ):
            if field in owner.get("properties", {}):
                owner["properties"][field]["maxItems"] = most
        return schema


def convert_apis(
    apis: list[ApiDefinition], existing: list[ApiSpec] | None = None
) -> tuple[list[ApiSpec], list[str]]:
    """Turn definitions into valid specs: each is converted and validated; invalid ones and names used
    earlier in the list are dropped with a reason. Returns (specs, problems).

    An API of `existing` that the reply lists again is dropped without one: a growth agent is shown the
    APIs so far, and the local one often listed them again with its new ones (s14: 5 of its rejections).
    """
    shown = {spec.name for spec in existing or []}
    taken = set(shown)
    specs: list[ApiSpec] = []
    problems: list[str] = []
    for api in apis:
        spec = api.to_spec()
        if spec.name in shown:
            continue
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


def listed_apis(rendered: str) -> dict[str, list[str]]:
    """The APIs a `render_apis` text lists, each with its required parameters (its inverse, names only)."""
    apis: dict[str, list[str]] = {}
    candidate, current, in_parameters, previous = "", None, False, ""
    for line in rendered.splitlines():
        head = re.match(r"([A-Za-z_][\w.-]*): ", line) if not previous.strip() else None
        previous = line  # an API starts its block; a description's own "word: ..." line starts none
        if head:
            candidate, in_parameters = head.group(1), False
        elif line.startswith("  parameters:") and candidate:
            current, in_parameters = apis.setdefault(candidate, []), True
        elif line.startswith("  returns:"):
            in_parameters = False
        elif in_parameters and current is not None:
            parameter = re.match(r"    - ([\w.-]+) \(.*, required\)", line)
            if parameter:
                current.append(parameter.group(1))
    return apis


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
