"""Validation of tool-use data (SPEC §2 row 3, §3): API definitions, single calls, results and whole traces.

An API is carried as an `ApiSpec`: name, description, a JSON schema of its parameters and a JSON schema of
what it returns. OpenAI's tool format has no place for the return shape, so the pair's `tools` field holds
the pure OpenAI entries (`ApiSpec.to_tool()`) while the return schema stays on the `ApiSpec`.

Every validator returns a list of problems (empty means valid), each one specific enough to send back to a
model as the reason for a retry: "get_weather: missing required argument 'city'". Argument and result
objects are closed by default: an object schema that declares `properties` and says nothing about
`additionalProperties` rejects keys it does not declare. Only JSON types are checked, not `format`
("date", "email"), which models write too loosely to be worth rejecting for. The flow that generates
tool-use pairs calls these functions; they are not registered as named checks. Whole traces are checked
by `quality.tool_traces`, which builds on the call and result validators here.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from pydantic import BaseModel, ConfigDict, Field

#: OpenAI accepts `^[a-zA-Z0-9_-]{1,64}$` for function names (no dots); we also require a leading letter or _
FUNCTION_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$")

_TYPED_KEYWORDS = ("type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref")
_FUNCTION_KEYS = {"name", "description", "parameters", "strict"}
_SHOWN_CHARS = 60
#: keywords whose value is a schema or a list of schemas that `closed_schema` closes too (not allOf)
_SUBSCHEMA_KEYS = frozenset(
    {
        "items",
        "additionalProperties",
        "not",
        "if",
        "then",
        "else",
        "contains",
        "anyOf",
        "oneOf",
        "prefixItems",
    }
)


class ApiSpec(BaseModel):
    """One API: what the model sees as a tool (`to_tool`) plus the JSON schema of its result (`returns`)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON schema of the arguments object",
    )
    returns: dict[str, Any] = Field(default_factory=dict, description="JSON schema of the result")

    def to_tool(self) -> dict[str, Any]:
        """The OpenAI `tools` entry: {"type": "function", "function": {name, description, parameters}}."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": copy.deepcopy(self.parameters),
            },
        }

    @classmethod
    def from_tool(cls, tool: Mapping[str, Any], returns: Mapping[str, Any] | None = None) -> ApiSpec:
        """Build from an OpenAI tools entry (or its bare `function` object) and a return schema.

        Raises ValueError when the entry lacks a name; run `validate_function_spec` for the full check.
        """
        function = tool.get("function", tool) if tool.get("type") == "function" else tool
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise ValueError("a tools entry needs {'type': 'function', 'function': {'name': ...}}")
        return cls(
            name=function["name"],
            description=str(function.get("description") or ""),
            parameters=copy.deepcopy(
                dict(function.get("parameters") or {"type": "object", "properties": {}})
            ),
            returns=copy.deepcopy(dict(returns or {})),
        )


def specs_by_name(specs: Iterable[ApiSpec]) -> dict[str, ApiSpec]:
    """Index specs by name, the shape every validator here takes (the first of a duplicated name wins)."""
    indexed: dict[str, ApiSpec] = {}
    for spec in specs:
        indexed.setdefault(spec.name, spec)
    return indexed


# -- definitions ------------------------------------------------------------------------------------


def validate_function_spec(spec: Mapping[str, Any] | ApiSpec) -> list[str]:
    """Problems with one tool definition: an OpenAI tools entry, or an `ApiSpec` (then `returns` too).

    Checked: the entry shape; the name (`FUNCTION_NAME`); a non-empty description; `parameters` is a valid
    JSON schema (draft 2020-12) of `type: object` with a `properties` mapping, every `required` name is a
    property, and every property has a type (or enum/const/anyOf/oneOf/allOf/$ref) and a description, with
    enum values of that type. For an `ApiSpec`, `returns` must be a non-empty valid JSON schema with a type.
    """
    if isinstance(spec, ApiSpec):
        tool: Any = spec.to_tool()
        returns: Any = spec.returns
    else:
        tool, returns = spec, None
    if not isinstance(tool, Mapping):
        return [f"a tool definition must be a JSON object, got {show_value(tool)}"]
    if tool.get("type") != "function":
        return [f'a tool definition needs "type": "function", got {show_value(tool.get("type"))}']
    function = tool.get("function")
    if not isinstance(function, Mapping):
        return ['a tool definition needs a "function" object with name, description and parameters']
    name = function.get("name")
    label = name if isinstance(name, str) and name else "<unnamed function>"
    problems: list[str] = []
    if not isinstance(name, str) or not FUNCTION_NAME.match(name):
        problems.append(
            f"{label}: invalid function name {show_value(name)}; use 1-64 letters, digits, _ or -, "
            "starting with a letter or _"
        )
    unknown = sorted(set(function) - _FUNCTION_KEYS)
    if unknown:
        problems.append(
            f"{label}: unknown keys {unknown} in the function object; keep only name, description, parameters"
        )
    description = function.get("description")
    if not isinstance(description, str) or not description.strip():
        problems.append(f"{label}: the description is empty; say what the function does")
    problems += _parameter_problems(label, function.get("parameters"))
    if returns is not None:
        problems += _returns_problems(label, returns)
    return problems


def _schema_problem(schema: Any) -> str:
    """Why `schema` is not a valid draft 2020-12 JSON schema ('' when it is)."""
    if not isinstance(schema, Mapping):
        return f"a JSON schema must be an object, got {show_value(schema)}"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        where = "/".join(str(p) for p in error.absolute_path)
        return f"{error.message}" + (f" (at {where})" if where else "")
    return ""


def _parameter_problems(label: str, parameters: Any) -> list[str]:
    if parameters is None:
        return [f'{label}: no parameters schema; use {{"type": "object", "properties": {{}}}} for none']
    problem = _schema_problem(parameters)
    if problem:
        return [f"{label}: parameters is not a valid JSON schema: {problem}"]
    problems: list[str] = []
    if parameters.get("type") != "object":
        problems.append(
            f"{label}: parameters must be a schema of type object, "
            f"got type {show_value(parameters.get('type'))}"
        )
    properties = parameters.get("properties")
    if not isinstance(properties, Mapping):
        return [
            *problems,
            f"{label}: parameters has no properties mapping; list the arguments under properties",
        ]
    required = parameters.get("required", [])
    for missing in [r for r in required if r not in properties]:
        problems.append(f"{label}: required parameter '{missing}' is not among the properties")
    for key, schema in properties.items():
        if not isinstance(schema, Mapping):
            problems.append(f"{label}: parameter '{key}' must be described by a schema object")
            continue
        if not any(k in schema for k in _TYPED_KEYWORDS):
            problems.append(f"{label}: parameter '{key}' has no type")
        description = schema.get("description")
        if not isinstance(description, str) or not description.strip():
            problems.append(f"{label}: parameter '{key}' has no description")
        problems += _enum_problems(f"{label}: parameter '{key}'", schema)
    return problems


def _enum_problems(where: str, schema: Mapping[str, Any]) -> list[str]:
    """Enum values that the schema's own type rejects (a schema nothing can satisfy)."""
    values, kind = schema.get("enum"), schema.get("type")
    if not isinstance(values, list) or not isinstance(kind, (str, list)):
        return []
    checker = Draft202012Validator({"type": kind})
    wrong = [v for v in values if not checker.is_valid(v)]
    return [f"{where}: enum value {show_value(v)} is not of type {_type_text(kind)}" for v in wrong]


def _returns_problems(label: str, returns: Any) -> list[str]:
    if not returns:
        return [f"{label}: no return schema (returns); declare the JSON schema of the result"]
    problem = _schema_problem(returns)
    if problem:
        return [f"{label}: returns is not a valid JSON schema: {problem}"]
    if not any(k in returns for k in _TYPED_KEYWORDS):
        return [f"{label}: the return schema has no type"]
    return _enum_problems(f"{label}: returns", returns)


# -- calls and results ------------------------------------------------------------------------------


def closed_schema(schema: Any) -> Any:
    """A copy of `schema` in which object schemas that declare properties reject undeclared keys.

    Objects that already say anything about extra keys (additionalProperties, patternProperties,
    unevaluatedProperties) are left alone, and so are the branches of `allOf`, which closing would break.
    """
    if isinstance(schema, list):
        return [closed_schema(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    closed = {}
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas"):
            closed[key] = (
                {k: closed_schema(v) for k, v in value.items()} if isinstance(value, Mapping) else value
            )
        elif key in _SUBSCHEMA_KEYS:
            closed[key] = closed_schema(value)
        else:
            closed[key] = copy.deepcopy(value)
    open_keys = ("additionalProperties", "patternProperties", "unevaluatedProperties")
    if isinstance(closed.get("properties"), Mapping) and not any(k in closed for k in open_keys):
        closed["additionalProperties"] = False
    return closed


def validate_tool_call(
    name: str, arguments: str | Mapping[str, Any], specs: Mapping[str, ApiSpec], *, closed: bool = True
) -> list[str]:
    """Problems with one call: the function exists, the arguments are a JSON object (OpenAI sends a JSON
    string) that has every required argument, only declared arguments (unless the schema allows more, or
    `closed` is False) and values of the declared types and enums."""
    spec = specs.get(name)
    if spec is None:
        available = ", ".join(sorted(specs)) or "none"
        return [f"unknown function {_quote(name)}; available: {available}"]
    if isinstance(arguments, str):
        text = arguments.strip()
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as error:
            return [
                f"{name}: arguments are not valid JSON ({error.msg} at character {error.pos}); "
                "send one JSON object, e.g. {} when there are none"
            ]
    else:
        parsed = arguments
    if not isinstance(parsed, Mapping):
        return [f"{name}: arguments must be a JSON object, got {show_value(parsed)}"]
    schema = closed_schema(spec.parameters) if closed else spec.parameters
    return _instance_problems(name, dict(parsed), schema, "argument")


def validate_tool_result(
    name: str,
    content: str | Mapping[str, Any] | list[Any],
    specs: Mapping[str, ApiSpec],
    *,
    closed: bool = True,
) -> list[str]:
    """Problems with one simulated result: it must match the function's declared `returns` schema.

    A string is parsed as JSON first (tool messages carry JSON text); a string that is not JSON is taken as
    a plain string result, and so is any string when the function returns a string (an API returning "a
    JSON string of the updated inventory" was failed for the list inside that string). A function without a
    declared return schema accepts any result.
    """
    spec = specs.get(name)
    if spec is None:
        available = ", ".join(sorted(specs)) or "none"
        return [f"unknown function {_quote(name)}; available: {available}"]
    if not spec.returns:
        return []
    value: Any = content
    if isinstance(content, str) and spec.returns.get("type") == "string":
        value = content  # the text is the string: a JSON string result ("[{...}]") is not decoded again
    elif isinstance(content, str):
        try:
            value = json.loads(content)
        except json.JSONDecodeError:
            value = content
    schema = closed_schema(spec.returns) if closed else spec.returns
    return _instance_problems(name, value, schema, "result field")


def _instance_problems(function: str, instance: Any, schema: Mapping[str, Any], noun: str) -> list[str]:
    validator = Draft202012Validator(schema)
    problems: list[str] = []
    try:
        for error in validator.iter_errors(instance):
            for problem in _describe(function, error, noun):
                if problem not in problems:
                    problems.append(problem)
    except Exception as error:  # an unchecked, broken spec (bad $ref...) must not crash the caller
        return [f"{function}: cannot validate against its declared schema ({type(error).__name__}: {error})"]
    return problems


def _describe(function: str, error: ValidationError, noun: str) -> list[str]:
    path = _path_text(error.absolute_path)
    instance, rule = error.instance, error.validator
    if rule == "required" and isinstance(instance, Mapping):
        return [
            f"{function}: missing required {noun} '{_join(path, key)}'"
            for key in error.validator_value
            if key not in instance
        ]
    if rule == "additionalProperties" and isinstance(instance, Mapping):
        declared = list((error.schema.get("properties") or {}) if isinstance(error.schema, Mapping) else [])
        extras = [key for key in instance if key not in declared]
        accepted = ", ".join(declared) or "none"
        word = "accepted" if noun == "argument" else "declared"
        return [f"{function}: unknown {noun} '{_join(path, key)}'; {word}: {accepted}" for key in extras]
    if rule == "type":
        expected = _type_text(error.validator_value)
        if not path:
            what = "arguments" if noun == "argument" else "result"
            return [f"{function}: {what} must be {expected}, got {show_value(instance)}"]
        return [f"{function}: {noun} '{path}' must be {expected}, got {show_value(instance)}"]
    if rule == "enum":
        allowed = ", ".join(show_value(v) for v in error.validator_value)
        subject = f"{noun} '{path}'" if path else ("arguments" if noun == "argument" else "result")
        return [f"{function}: {subject} must be one of {allowed}, got {show_value(instance)}"]
    subject = f"{noun} '{path}'" if path else ("arguments" if noun == "argument" else "result")
    return [f"{function}: {subject}: {error.message}"]


def _path_text(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_text(kind: Any) -> str:
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


def _quote(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else show_value(value)


def show_value(value: Any) -> str:
    """A short rendering of a value for messages: strings in single quotes, other values as JSON."""
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."
