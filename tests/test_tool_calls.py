"""Tool-use validation (quality.tool_calls) and the tool_use agents' output models and converters."""

from __future__ import annotations

import json
import typing
from typing import Any

import openai
import openai.types.chat as chat_types
import pytest

from agentinstruct.flows.tool_use_outputs import (
    ApiDefinition,
    ApiField,
    ApiListOutput,
    ApiParameter,
    ApiReturns,
    ToolInstructionOutput,
    TraceOutput,
    TraceStep,
    convert_apis,
    render_apis,
    tools_of,
    trace_to_messages,
)
from agentinstruct.pairs import Lineage, Pair
from agentinstruct.quality.tool_calls import (
    ApiSpec,
    closed_schema,
    specs_by_name,
    validate_function_spec,
    validate_tool_call,
    validate_tool_result,
)
from agentinstruct.quality.tool_traces import VARIANTS, offered_by, validate_trace
from agentinstruct.testing import OpenAIServer

WEATHER = ApiSpec(
    name="get_weather",
    description="Current weather and a short forecast for a city.",
    parameters={
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "city name, e.g. Paris"},
            "days": {"type": "integer", "description": "days of forecast, 1-7"},
            "units": {"type": "string", "enum": ["metric", "imperial"], "description": "unit system"},
        },
        "required": ["city"],
    },
    returns={
        "type": "object",
        "description": "the current conditions",
        "properties": {
            "temperature": {"type": "number", "description": "degrees"},
            "conditions": {"type": "string", "description": "e.g. sunny"},
        },
        "required": ["temperature", "conditions"],
    },
)
BOOKING = ApiSpec(
    name="book_table",
    description="Reserve a table at a restaurant.",
    parameters={
        "type": "object",
        "properties": {
            "restaurant": {"type": "string", "description": "restaurant name"},
            "time": {"type": "string", "description": "ISO 8601 date and time"},
            "people": {"type": "integer", "description": "number of guests"},
        },
        "required": ["restaurant", "time", "people"],
    },
    returns={
        "type": "object",
        "properties": {"booking_id": {"type": "string", "description": "reference"}},
        "required": ["booking_id"],
    },
)
SPECS = specs_by_name([WEATHER, BOOKING])
SUNNY = {"temperature": 21.5, "conditions": "sunny"}
SUNNY_TEXT = json.dumps(SUNNY)
USER = "What's the weather in Paris (and in Lyon), and book Chez Léon at 8 pm tonight for 2?"


# -- definitions ----------------------------------------------------------------------------------------


def test_valid_specs_pass_as_api_spec_and_as_openai_tool():
    for spec in (WEATHER, BOOKING):
        assert validate_function_spec(spec) == []
        assert validate_function_spec(spec.to_tool()) == []
    no_parameters = ApiSpec(name="list_cities", description="All known cities.", returns={"type": "array"})
    assert validate_function_spec(no_parameters) == []


def _broken(**changes: Any) -> dict:
    tool = WEATHER.to_tool()
    tool["function"].update(changes)
    return tool


@pytest.mark.parametrize(
    ("tool", "expected"),
    [
        (_broken(name="get weather"), "invalid function name 'get weather'"),
        (_broken(name="1st_weather"), "invalid function name '1st_weather'"),
        (_broken(name="weather.get"), "invalid function name 'weather.get'"),  # OpenAI rejects dots
        (_broken(description="  "), "get_weather: the description is empty"),
        (_broken(parameters={"type": "objekt"}), "get_weather: parameters is not a valid JSON schema"),
        (_broken(parameters={"type": "string"}), "parameters must be a schema of type object"),
        (_broken(parameters={"type": "object"}), "parameters has no properties mapping"),
        (
            _broken(parameters={"type": "object", "properties": {}, "required": ["city"]}),
            "get_weather: required parameter 'city' is not among the properties",
        ),
        (
            _broken(parameters={"type": "object", "properties": {"city": {"description": "a city"}}}),
            "get_weather: parameter 'city' has no type",
        ),
        (
            _broken(parameters={"type": "object", "properties": {"city": {"type": "string"}}}),
            "get_weather: parameter 'city' has no description",
        ),
        (
            _broken(
                parameters={
                    "type": "object",
                    "properties": {"days": {"type": "integer", "enum": [1, "two"], "description": "d"}},
                }
            ),
            "get_weather: parameter 'days': enum value 'two' is not of type integer",
        ),
        (_broken(returns={"type": "object"}), "unknown keys ['returns'] in the function object"),
        ({"type": "tool", "function": {}}, 'needs "type": "function"'),
        ({"type": "function"}, 'needs a "function" object'),
    ],
)
def test_invalid_tool_definitions_name_the_reason(tool, expected):
    problems = validate_function_spec(tool)
    assert any(expected in p for p in problems), problems


def test_api_spec_return_schema_is_required_and_validated():
    missing = WEATHER.model_copy(update={"returns": {}})
    assert validate_function_spec(missing) == [
        "get_weather: no return schema (returns); declare the JSON schema of the result"
    ]
    broken = WEATHER.model_copy(update={"returns": {"type": "obj"}})
    assert validate_function_spec(broken)[0].startswith("get_weather: returns is not a valid JSON schema")
    untyped = WEATHER.model_copy(update={"returns": {"description": "something"}})
    assert validate_function_spec(untyped) == ["get_weather: the return schema has no type"]


def test_api_spec_round_trips_through_the_openai_tool_entry():
    tool = WEATHER.to_tool()
    assert tool == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": WEATHER.description,
            "parameters": WEATHER.parameters,
        },
    }
    assert ApiSpec.from_tool(tool, returns=WEATHER.returns) == WEATHER
    assert ApiSpec.from_tool(tool["function"], returns=WEATHER.returns) == WEATHER
    with pytest.raises(ValueError, match="needs"):
        ApiSpec.from_tool({"type": "function", "function": {}})


# -- calls and results ----------------------------------------------------------------------------------


def test_valid_calls_pass_as_json_string_or_object():
    assert validate_tool_call("get_weather", '{"city": "Paris", "days": 3, "units": "metric"}', SPECS) == []
    assert validate_tool_call("get_weather", {"city": "Paris"}, SPECS) == []
    assert validate_tool_call("get_weather", ' {"city": "Oslo"} ', SPECS) == []


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        (
            "get_weather",
            '{"city": "Paris", "days": "3"}',
            ["get_weather: argument 'days' must be integer, got '3'"],
        ),
        (
            "get_weather",
            '{"city": "Paris", "days": 2.5}',
            ["get_weather: argument 'days' must be integer, got 2.5"],
        ),
        ("get_weather", '{"days": 2}', ["get_weather: missing required argument 'city'"]),
        (
            "get_wether",
            '{"city": "Paris"}',
            ["unknown function 'get_wether'; available: book_table, get_weather"],
        ),
        (
            "get_weather",
            '{"city": "Paris", "country": "FR"}',
            ["get_weather: unknown argument 'country'; accepted: city, days, units"],
        ),
        (
            "get_weather",
            '{"city": "Paris", "units": "kelvin"}',
            ["get_weather: argument 'units' must be one of 'metric', 'imperial', got 'kelvin'"],
        ),
        ("get_weather", '["Paris"]', ['get_weather: arguments must be a JSON object, got ["Paris"]']),
        (
            "book_table",
            '{"restaurant": "Chez Léon"}',
            [
                "book_table: missing required argument 'time'",
                "book_table: missing required argument 'people'",
            ],
        ),
    ],
)
def test_invalid_calls_get_specific_messages(name, arguments, expected):
    assert validate_tool_call(name, arguments, SPECS) == expected


@pytest.mark.parametrize("arguments", ['{"city": Paris}', "", "city=Paris", '{"city": "Paris"'])
def test_arguments_that_are_not_json_are_reported(arguments):
    [problem] = validate_tool_call("get_weather", arguments, SPECS)
    assert problem.startswith("get_weather: arguments are not valid JSON (")


def test_extra_arguments_pass_only_where_the_schema_allows_them():
    open_spec = WEATHER.model_copy(
        update={"parameters": {**WEATHER.parameters, "additionalProperties": True}, "name": "open_weather"}
    )
    specs = specs_by_name([open_spec])
    assert validate_tool_call("open_weather", '{"city": "Paris", "country": "FR"}', specs) == []
    assert validate_tool_call("get_weather", '{"city": "Paris", "x": 1}', SPECS, closed=False) == []
    nested = {
        "type": "object",
        "properties": {"where": {"type": "object", "properties": {"city": {"type": "string"}}}},
        "allOf": [{"properties": {"a": {}}}],
    }
    closed = closed_schema(nested)
    assert closed["additionalProperties"] is False
    assert closed["properties"]["where"]["additionalProperties"] is False
    assert "additionalProperties" not in closed["allOf"][0]  # closing allOf branches would break them
    assert "additionalProperties" not in nested  # the input is not modified


def test_results_must_match_the_declared_return_shape():
    assert validate_tool_result("get_weather", json.dumps(SUNNY), SPECS) == []
    assert validate_tool_result("get_weather", SUNNY, SPECS) == []
    assert validate_tool_result("get_weather", '{"temperature": 20}', SPECS) == [
        "get_weather: missing required result field 'conditions'"
    ]
    assert validate_tool_result("get_weather", '{"temperature": "20C", "conditions": "rain"}', SPECS) == [
        "get_weather: result field 'temperature' must be number, got '20C'"
    ]
    assert validate_tool_result("get_weather", {**SUNNY, "humidity": 40}, SPECS) == [
        "get_weather: unknown result field 'humidity'; declared: temperature, conditions"
    ]
    assert validate_tool_result("get_weather", "sunny", SPECS) == [
        "get_weather: result must be object, got 'sunny'"
    ]
    assert validate_tool_result("get_weather", [1, 2], SPECS) == [
        "get_weather: result must be object, got [1, 2]"
    ]
    assert validate_tool_result("nope", "{}", SPECS)[0].startswith("unknown function 'nope'")


def test_a_broken_schema_is_reported_not_raised():
    broken = ApiSpec(
        name="broken",
        description="Refers to a schema that does not exist.",
        parameters={"type": "object", "properties": {"a": {"$ref": "#/$defs/Missing"}}},
    )
    [problem] = validate_tool_call("broken", '{"a": 1}', specs_by_name([broken]))
    assert problem.startswith("broken: cannot validate against its declared schema")


def test_plain_string_results_and_undeclared_returns():
    text = ApiSpec(
        name="summarise",
        description="Summarise a text.",
        parameters={"type": "object", "properties": {}},
        returns={"type": "string", "description": "the summary"},
    )
    untyped = ApiSpec(name="ping", description="Ping.")
    specs = specs_by_name([text, untyped])
    assert validate_tool_result("summarise", "A short summary.", specs) == []  # not JSON: the raw string
    assert validate_tool_result("summarise", '"A short summary."', specs) == []
    # for a function that returns a string, the text is the result, JSON-looking or not: the local teacher
    # was failed for giving "a JSON string of the updated inventory" as [{"sku": ...}]
    assert validate_tool_result("summarise", "42", specs) == []
    assert validate_tool_result("summarise", '[{"sku": "A1", "quantity": 5}]', specs) == []
    assert validate_tool_result("ping", "anything at all", specs) == []


# -- traces -----------------------------------------------------------------------------------------------


def call(name: str, **arguments: Any) -> dict:
    return {"kind": "call", "name": name, "arguments": arguments}


def result(name: str, value: Any) -> dict:
    return {"kind": "result", "name": name, "result": value}


def say(text: str) -> dict:
    return {"kind": "say", "content": text}


WEATHER_CALL = [call("get_weather", city="Paris"), result("get_weather", SUNNY)]
BOOKING_CALL = [
    call("book_table", restaurant="Chez Léon", time="2025-06-01T20:00", people=2),
    result("book_table", {"booking_id": "B-1042"}),
]


def messages_of(*steps: dict, system: str | None = "You can call functions.") -> list[dict]:
    return trace_to_messages(TraceOutput(steps=[TraceStep(**s) for s in steps]), USER, system)


GOOD_TRACES = {
    "single_api_all_params": ([*WEATHER_CALL, say("It is 21.5 °C and sunny in Paris.")], []),
    "single_api_extra_params": (
        [
            *WEATHER_CALL,
            call("get_weather", city="Lyon"),
            result("get_weather", SUNNY),
            say("Sunny in both."),
        ],
        [],
    ),
    "single_api_missing_params": ([say("Which city would you like the weather for?")], ["get_weather.city"]),
    "multi_api_all_params": ([*WEATHER_CALL, *BOOKING_CALL, say("Sunny; table booked, ref B-1042.")], []),
    "multi_api_missing_params": (
        [*WEATHER_CALL, say("It will be sunny. For how many people should I book the table?")],
        ["book_table.people"],
    ),
    "api_not_available": ([say("Sorry, I can't book flights: none of my tools can do that.")], []),
    "multi_api_some_missing": (
        [*WEATHER_CALL, say("It is sunny in Paris. I cannot send the email: no tool sends messages.")],
        [],
    ),
}

BAD_TRACES = {
    "single_api_all_params": ([say("It is sunny in Paris.")], [], "expected at least one tool call"),
    "single_api_extra_params": (
        [*WEATHER_CALL, *BOOKING_CALL, say("Done.")],
        [],
        "expected calls to exactly one function, got get_weather, book_table",
    ),
    "single_api_missing_params": (
        [*WEATHER_CALL, say("It is sunny in Paris. Anything else?")],
        ["get_weather.city"],
        "get_weather: argument 'city' was not given by the user; ask for it instead of inventing a value",
    ),
    "multi_api_all_params": (
        [*WEATHER_CALL, say("It is sunny.")],
        [],
        "expected calls to at least two different functions, got get_weather",
    ),
    "multi_api_missing_params": (
        [*WEATHER_CALL, say("It will be sunny.")],
        ["book_table.people"],
        "the final message must ask the user for the missing information",
    ),
    "api_not_available": (
        [*WEATHER_CALL, say("I cannot book flights, but it is sunny.")],
        [],
        "expected no tool calls (no listed API fits), got calls to get_weather",
    ),
    "multi_api_some_missing": (
        [say("I cannot send emails.")],
        [],
        "expected calls for the part the listed APIs can do, got none",
    ),
}


def test_every_variant_has_a_passing_and_a_failing_trace():
    assert set(GOOD_TRACES) == set(BAD_TRACES) == set(VARIANTS)


@pytest.mark.parametrize("variant", VARIANTS)
def test_good_traces_pass(variant):
    steps, missing = GOOD_TRACES[variant]
    assert validate_trace(messages_of(*steps), SPECS, variant, missing=missing) == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_bad_traces_fail_with_the_reason(variant):
    steps, missing, expected = BAD_TRACES[variant]
    problems = validate_trace(messages_of(*steps), SPECS, variant, missing=missing)
    assert any(expected in p for p in problems), problems


def test_variant_wording_rules():
    declines_nothing = messages_of(say("Here is your flight: BA 123."))
    assert "api_not_available: the final message must say that it cannot do this with its tools" in (
        validate_trace(declines_nothing, SPECS, "api_not_available")
    )
    no_question = messages_of(say("Tell me the city."))
    assert any("must ask" in p for p in validate_trace(no_question, SPECS, "single_api_missing_params"))
    # a type the validator does not know (a user skill's own) gets the structural checks only
    assert validate_trace(messages_of(say("Hello.")), SPECS, "my_own_type") == []


def test_missing_information_only_applies_to_calls_before_the_user_answers():
    first = messages_of(say("Which city?"), system=None)
    follow_up = [
        *first,
        {"role": "user", "content": "Paris."},
        *trace_to_messages(TraceOutput(steps=[TraceStep(**s) for s in [*WEATHER_CALL, say("Sunny.")]]), "x")[
            1:
        ],
    ]
    assert validate_trace(follow_up, SPECS, "my_own_type", missing=["city"]) == []
    assert validate_trace(messages_of(*WEATHER_CALL, say("Sunny?")), SPECS, "x", missing=["city"]) != []
    # variants that leave nothing out ignore a missing list an instruction agent filled in by mistake
    sunny = messages_of(*WEATHER_CALL, say("Sunny."))
    assert validate_trace(sunny, SPECS, "single_api_all_params", missing=["get_weather.city"]) == []


def test_calls_and_results_inside_a_trace_are_validated():
    wrong = messages_of(
        call("get_weather", city="Paris", days="3"),
        result("get_weather", {"temperature": "warm", "conditions": "sunny"}),
        call("get_wether", city="Paris"),
        result("get_wether", {}),
        say("Done."),
    )
    problems = validate_trace(wrong, SPECS, "single_api_all_params")
    assert (
        "message 2 (assistant) tool_calls[0]: get_weather: argument 'days' must be integer, got '3'"
        in problems
    )
    assert "message 3 (tool): get_weather: result field 'temperature' must be number, got 'warm'" in problems
    assert any("unknown function 'get_wether'; available: book_table, get_weather" in p for p in problems)


def _call_message(*ids: str, name: str = "get_weather", arguments: Any = '{"city": "Paris"}') -> dict:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": i, "type": "function", "function": {"name": name, "arguments": arguments}} for i in ids
        ],
    }


def _tool(call_id: str, content: Any = SUNNY_TEXT) -> dict:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


USER_MESSAGE = {"role": "user", "content": USER}
ANSWER = {"role": "assistant", "content": "It is sunny."}


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([], "the trace is empty"),
        ([USER_MESSAGE, _call_message("a"), ANSWER], "tool calls a (get_weather) have no tool message"),
        (
            [USER_MESSAGE, _call_message("a"), _tool("a"), _tool("a"), ANSWER],
            "'a' answers no pending tool call",
        ),
        (
            [USER_MESSAGE, _call_message("a"), _tool("b"), ANSWER],
            "'b' answers no pending tool call (expected 'a')",
        ),
        ([USER_MESSAGE, _call_message("a", "b"), _tool("b"), _tool("a"), ANSWER], "answer calls in order"),
        ([USER_MESSAGE, _call_message("a", "a"), _tool("a"), ANSWER], "duplicate tool call id 'a'"),
        ([USER_MESSAGE, _call_message("a"), _tool("a")], "must end with an assistant message that has text"),
        (
            [USER_MESSAGE, _call_message("a", arguments={"city": "Paris"}), _tool("a"), ANSWER],
            "JSON-encoded string",
        ),
        (
            [USER_MESSAGE, _call_message("a"), _tool("a", content=SUNNY), ANSWER],
            "tool content must be a string",
        ),
        ([ANSWER, USER_MESSAGE, ANSWER], "must start with a user message"),
        ([USER_MESSAGE, {"role": "system", "content": "x"}, ANSWER], "a system message may only come first"),
        ([USER_MESSAGE, {"role": "assistant", "content": ""}], "neither text nor tool calls"),
        ([USER_MESSAGE, {"role": "assistant", "content": None, "tool_calls": []}], "non-empty list"),
        ([USER_MESSAGE, {"role": "robot", "content": "beep"}, ANSWER], "unknown role"),
    ],
)
def test_structural_problems_are_found(messages, expected):
    problems = validate_trace(messages, SPECS, "single_api_all_params")
    assert any(expected in p for p in problems), problems


# -- converters and output models -----------------------------------------------------------------------


def _weather_definition() -> ApiDefinition:
    return ApiDefinition(
        name="get_weather",
        description="Current weather and a short forecast for a city.",
        parameters=[
            ApiParameter(name="city", type="string", description="city name, e.g. Paris", required=True),
            ApiParameter(name="days", type="integer", description="days of forecast, 1-7", required=False),
            ApiParameter(
                name="units",
                type="string",
                description="unit system",
                required=False,
                enum=["metric", "imperial"],
            ),
            ApiParameter(name="tags", type="array", items="string", description="labels", required=False),
        ],
        returns=ApiReturns(
            type="object",
            description="the current conditions",
            properties=[
                ApiField(name="temperature", type="number", description="degrees", required=True),
                ApiField(name="conditions", type="string", description="e.g. sunny", required=True),
            ],
        ),
    )


def test_flat_definitions_convert_to_valid_specs_and_back():
    definition = _weather_definition()
    spec = definition.to_spec()
    assert validate_function_spec(spec) == []
    assert spec.parameters["required"] == ["city"]
    assert spec.parameters["properties"]["units"]["enum"] == ["metric", "imperial"]
    assert spec.parameters["properties"]["tags"] == {
        "type": "array",
        "description": "labels",
        "items": {"type": "string"},
    }
    assert spec.returns["required"] == ["temperature", "conditions"]
    assert ApiDefinition.from_spec(spec) == definition
    assert ApiDefinition.from_spec(spec).to_spec() == spec
    # the converted spec drives call validation
    specs = specs_by_name([spec])
    assert validate_tool_call("get_weather", '{"city": "Rome", "days": 2}', specs) == []
    assert validate_tool_call("get_weather", '{"days": "2"}', specs) == [
        "get_weather: argument 'days' must be integer, got '2'",
        "get_weather: missing required argument 'city'",
    ]


def test_array_returns_and_typed_enums_convert():
    listing = ApiDefinition(
        name="search_books",
        description="Search the catalogue.",
        parameters=[
            ApiParameter(
                name="limit", type="integer", description="at most", required=False, enum=["10", "20"]
            ),
        ],
        returns=ApiReturns(
            type="array",
            description="matching books",
            properties=[ApiField(name="isbn", type="string", description="ISBN-13", required=True)],
        ),
    )
    spec = listing.to_spec()
    assert spec.parameters["properties"]["limit"]["enum"] == [10, 20]
    assert spec.returns["items"]["properties"]["isbn"]["type"] == "string"
    assert validate_function_spec(spec) == []
    assert ApiDefinition.from_spec(spec) == listing
    assert validate_tool_result("search_books", '[{"isbn": "978-0"}]', specs_by_name([spec])) == []
    names = ApiReturns(type="array", description="names", items="string").to_schema()
    assert names == {"type": "array", "description": "names", "items": {"type": "string"}}


def test_parameters_are_scalars_or_arrays_of_scalars():
    with pytest.raises(ValueError, match="type"):
        ApiParameter(name="inventory", type="object", description="everything", required=True)
    with pytest.raises(ValueError, match="items"):
        ApiParameter(name="lines", type="array", items="object", description="order lines", required=True)
    sizes = ApiParameter(
        name="sizes", type="array", items="integer", description="s", required=False, enum=["1", "2"]
    )
    assert sizes.to_schema() == {
        "type": "array",
        "description": "s",
        "items": {"type": "integer", "enum": [1, 2]},
    }
    assert ApiParameter.from_schema("sizes", sizes.to_schema(), False) == sizes
    # an external spec's object parameter is flattened to a JSON string (from_spec is lossy for such specs)
    nested = ApiSpec(
        name="create_order",
        description="Create an order.",
        parameters={
            "type": "object",
            "properties": {
                "address": {
                    "type": "object",
                    "description": "where",
                    "properties": {"city": {"type": "string"}},
                },
                "lines": {"type": "array", "items": {"type": "object"}, "description": "order lines"},
            },
            "required": ["address"],
        },
        returns={"type": "object"},
    )
    address, lines = ApiDefinition.from_spec(nested).parameters
    assert (address.type, address.description, address.required) == ("string", "where (a JSON object)", True)
    assert (lines.type, lines.items) == ("array", "string")


def test_convert_apis_drops_invalid_and_duplicate_definitions():
    good = _weather_definition()
    enum_clash = good.model_copy(
        update={
            "name": "get_days",
            "parameters": [
                ApiParameter(name="days", type="integer", description="d", required=True, enum=["one"]),
            ],
        }
    )
    existing = ApiDefinition.from_spec(BOOKING)
    specs, problems = convert_apis([good, good, enum_clash, existing], existing=[BOOKING])
    assert [s.name for s in specs] == ["get_weather"]
    assert problems == [
        "get_weather: an API of that name is already listed",
        "get_days: parameter 'days': enum value 'one' is not of type integer",
    ]  # book_table, already shown, is listed again without a problem


def test_api_list_output_parses_replies_and_requires_apis_when_suitable():
    reply = {"apis": [_weather_definition().model_dump()], "suitable": True, "reason": ""}
    assert ApiListOutput.model_validate(reply).apis[0].name == "get_weather"
    with pytest.raises(ValueError, match="at least one API"):
        ApiListOutput.model_validate({"apis": [], "suitable": True, "reason": ""})
    assert ApiListOutput.model_validate({"apis": [], "suitable": False, "reason": "only constants"})
    with pytest.raises(ValueError, match="pattern"):
        ApiListOutput.model_validate({"apis": [{**reply["apis"][0], "name": "get weather"}]})
    schema = ApiListOutput.request_schema()
    assert schema["required"] == ["apis", "suitable", "reason"]
    assert schema["$defs"]["ApiReturns"]["required"] == ["type", "description", "properties"]


def test_instruction_output_fields():
    output = ToolInstructionOutput.model_validate(
        {
            "instruction": "Book me a table at Chez Léon tonight at 8.",
            "apis_needed": ["book_table"],
            "missing_information": ["book_table.people"],
        }
    )
    assert output.missing_information == ["book_table.people"]
    assert list(ToolInstructionOutput.request_schema()["properties"]) == [
        "instruction",
        "apis_needed",
        "missing_information",
        "suitable",
        "reason",
    ]


def test_render_apis_shows_types_requirements_and_return_fields():
    text = render_apis([WEATHER, BOOKING])
    assert "get_weather: Current weather and a short forecast for a city." in text
    assert "    - city (string, required): city name, e.g. Paris" in text
    assert '    - units (string, one of "metric", "imperial", optional): unit system' in text
    assert "  returns: object: the current conditions" in text
    assert "    - temperature (number): degrees" in text
    assert "book_table: Reserve a table" in text
    assert render_apis([ApiSpec(name="ping", description="Ping.")]).endswith("returns: any")


def test_trace_output_parses_lenient_replies_and_checks_its_shape():
    reply = {
        "steps": [
            {"kind": "call", "name": "get_weather", "arguments": '{"city": "Paris"}'},  # OpenAI-style string
            {"kind": "result", "name": "get_weather", "result": json.dumps(SUNNY)},  # JSON text
            {"kind": "say", "content": "Sunny."},
        ]
    }
    trace = TraceOutput.model_validate(reply)
    assert trace.steps[0].arguments == {"city": "Paris"} and trace.steps[1].result == SUNNY
    with pytest.raises(ValueError, match='last step must be a "say" step'):
        TraceOutput.model_validate({"steps": reply["steps"][:2]})
    with pytest.raises(ValueError, match="without the function's name"):
        TraceOutput.model_validate({"steps": [{"kind": "call", "arguments": {}}, reply["steps"][2]]})
    with pytest.raises(ValueError, match="must not be empty"):
        TraceOutput.model_validate({"steps": []})
    assert (
        TraceOutput.model_validate({"steps": [], "suitable": False, "reason": "garbled"}).reason == "garbled"
    )
    step = TraceOutput.request_schema()["$defs"]["TraceStep"]
    assert step["required"] == ["kind", "name", "arguments", "result", "content"]
    assert step["additionalProperties"] is False


def test_trace_to_messages_builds_openai_messages():
    messages = messages_of(
        say("Let me check both."),
        call("get_weather", city="Paris"),
        call("get_weather", city="Lyon"),
        result("get_weather", SUNNY),
        result("get_weather", {"temperature": 18, "conditions": "cloudy"}),
        *BOOKING_CALL,
        say("Paris is sunny, Lyon cloudy; your table is booked (B-1042)."),
    )
    assert [m["role"] for m in messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
        "tool",
        "assistant",
    ]
    parallel = messages[2]
    assert parallel["content"] == "Let me check both."
    assert [c["id"] for c in parallel["tool_calls"]] == ["call_1", "call_2"]
    assert parallel["tool_calls"][1] == {
        "id": "call_2",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Lyon"}'},
    }
    assert messages[3] == {"role": "tool", "tool_call_id": "call_1", "content": json.dumps(SUNNY)}
    assert (
        messages[4]["tool_call_id"] == "call_2"
        and json.loads(messages[4]["content"])["conditions"] == "cloudy"
    )
    assert messages[5]["content"] is None and messages[5]["tool_calls"][0]["id"] == "call_3"
    assert messages[6]["tool_call_id"] == "call_3"
    assert messages[-1] == {
        "role": "assistant",
        "content": "Paris is sunny, Lyon cloudy; your table is booked (B-1042).",
    }
    assert validate_trace(messages, SPECS, "multi_api_all_params") == []
    assert trace_to_messages(TraceOutput(steps=[TraceStep(**say("Hi."))]), "Hello")[0] == {
        "role": "user",
        "content": "Hello",
    }


def test_trace_to_messages_never_fails_and_leaves_problems_to_the_validator():
    orphan = messages_of(result("get_weather", SUNNY), say("Sunny."))
    assert orphan[2]["tool_call_id"] == "unmatched_1"
    assert any("answers no pending tool call" in p for p in validate_trace(orphan, SPECS, "x"))
    unanswered = messages_of(call("get_weather", city="Paris"), say("Sunny."))
    assert any("have no tool message" in p for p in validate_trace(unanswered, SPECS, "x"))


def _typed_dict_problems(value: dict, typed_dict: Any) -> list[str]:
    hints = typing.get_type_hints(typed_dict, include_extras=True)
    required = {k for k, v in hints.items() if typing.get_origin(v) is typing.Required}
    return [f"missing {k}" for k in required - set(value)] + [f"unknown {k}" for k in set(value) - set(hints)]


def test_trace_messages_have_the_openai_sdk_shapes_and_reach_a_server():
    messages = messages_of(*WEATHER_CALL, *BOOKING_CALL, say("Sunny; booked."))
    tools = tools_of([WEATHER, BOOKING])
    by_role = {
        "system": chat_types.ChatCompletionSystemMessageParam,
        "user": chat_types.ChatCompletionUserMessageParam,
        "assistant": chat_types.ChatCompletionAssistantMessageParam,
        "tool": chat_types.ChatCompletionToolMessageParam,
    }
    call_param = getattr(chat_types, "ChatCompletionMessageFunctionToolCallParam", None) or (
        chat_types.ChatCompletionMessageToolCallParam
    )
    tool_param = (
        getattr(chat_types, "ChatCompletionFunctionToolParam", None) or chat_types.ChatCompletionToolParam
    )
    for message in messages:
        assert _typed_dict_problems(message, by_role[message["role"]]) == []
        for tool_call in message.get("tool_calls") or []:
            assert _typed_dict_problems(tool_call, call_param) == []
    for tool in tools:
        assert _typed_dict_problems(tool, tool_param) == []
    # the pair contract (SPEC §3) holds such a trace with its tools
    pair = Pair.build(
        skill="tool_use",
        instruction_type="multi_api_all_params",
        messages=messages,
        tools=tools,
        lineage=Lineage.model_validate(
            {"document": {"id": "d", "source": "s", "sha256": "h", "span": [0, 1]}}
        ),
    )
    assert pair.tools == tools
    # and the official client sends it as it is
    with OpenAIServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        client.chat.completions.create(model="test-model", messages=messages, tools=tools)
        client.close()
        [request] = server.requests
    assert request["messages"] == messages and request["tools"] == tools


def test_an_unavailable_request_that_a_listed_api_serves_is_rejected():
    """Seen from the local model: "create a new item" declined while create_item was listed."""
    decline = [say("I cannot do that with the available tools.")]
    served = trace_to_messages(
        TraceOutput(steps=[TraceStep(**s) for s in decline]), "Please book a table for two at Chez Léon."
    )
    problems = validate_trace(served, SPECS, "api_not_available")
    assert any("asks for what book_table does" in p for p in problems), problems
    unserved = trace_to_messages(TraceOutput(steps=[TraceStep(**s) for s in decline]), "Book me a flight.")
    assert validate_trace(unserved, SPECS, "api_not_available") == []
    assert (
        offered_by("I want to create a new item named Laptop", ["get_item", "create_item"]) == "create_item"
    )
    assert offered_by("Cancel my order", ["create_order", "getOrder"]) is None
    assert offered_by("Search everything", ["search"]) is None  # one-word names are too generic
    # a verb by its usual synonyms (s16: "increase the stock" is what update_stock does)
    assert offered_by("I want to increase the stock of SKU123 by 5.", ["update_stock"]) == "update_stock"
    assert offered_by("Please remove item 4 from my list.", ["delete_item"]) == "delete_item"
    assert offered_by("Email the stock report to my manager.", ["update_stock", "get_item"]) is None


def test_a_final_message_that_narrates_the_assistant_is_rejected():
    # s16: "The task is asking for a feature that cannot be implemented with the available tools, and the
    # assistant cannot provide a suitable response. The final message should indicate that ..."
    narrated = say(
        "The task is asking for a feature the tools lack, and the assistant cannot provide a suitable "
        "response. The final message should indicate that it cannot do this."
    )
    messages = trace_to_messages(TraceOutput(steps=[TraceStep(**narrated)]), "Book me a flight.")
    problems = validate_trace(messages, SPECS, "api_not_available")
    assert any("speaks of the assistant or the task in the third person" in p for p in problems), problems
    direct = say("I cannot book flights with these tools; I can only book restaurant tables.")
    messages = trace_to_messages(TraceOutput(steps=[TraceStep(**direct)]), "Book me a flight.")
    assert validate_trace(messages, SPECS, "api_not_available") == []


def test_an_argument_the_user_never_gave_is_invented_where_the_user_gives_everything():
    """s31: a single_api_all_params trace sent an inventory ["SKU123", "SKU456"], the second item made up."""
    made_up = messages_of(call("get_weather", city="Berlin"), result("get_weather", SUNNY), say("Sunny."))
    problems = validate_trace(made_up, SPECS, "single_api_all_params")
    assert problems == [
        "get_weather: argument 'city' holds 'Berlin', which neither the user nor a tool result gave: "
        "use only the values given"
    ]
    given = messages_of(call("get_weather", city="PARIS"), result("get_weather", SUNNY), say("Sunny."))
    assert validate_trace(given, SPECS, "single_api_all_params") == []
    # where values may be missing, asking for them is the rule (`missing`), not this one
    assert not [p for p in validate_trace(made_up, SPECS, "api_not_available") if "neither the user" in p]
