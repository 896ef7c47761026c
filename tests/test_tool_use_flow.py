"""The tool-use flow with a scripted model: every request variant yields a validated OpenAI tool-call trace,
invalid specs and traces are rejected with their reasons, a broken trace is repaired once, API lists grow
by corpus retrieval, and a whole `generate` run over real source files gives pairs that the OpenAI SDK
sends as request bodies."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import openai
import pytest

from agentinstruct.config import RunConfig
from agentinstruct.documents import Document, Seed
from agentinstruct.flows import FlowSettings, flow_class
from agentinstruct.flows.resources import FlowResources
from agentinstruct.flows.tool_use_apis import ApiDefinition, listed_apis
from agentinstruct.flows.tool_use_outputs import (
    ToolInstructionOutput,
    TraceOutput,
    convert_apis,
    refitted_variant,
    render_apis,
    request_problem,
    trace_to_messages,
)
from agentinstruct.models import ModelRequest, ScriptedModel
from agentinstruct.pipeline import run
from agentinstruct.quality.tool_calls import specs_by_name
from agentinstruct.quality.tool_traces import validate_trace
from agentinstruct.skills import load_skills
from agentinstruct.testing import OpenAIServer
from agentinstruct.tools.search import Bm25Search
from test_flows import ListSink

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parent.parent
CODE = '''def get_weather(city: str, days: int = 1) -> dict:
    """Forecast for a city: temperature in Celsius for the next `days` days."""
'''


def api(name: str, description: str, parameters: list[dict], returns: list[dict]) -> dict:
    return {
        "name": name,
        "description": description,
        "parameters": parameters,
        "returns": {"type": "object", "description": f"what {name} returns", "properties": returns},
    }


def field(name: str, kind: str, required: bool = True) -> dict:
    return {"name": name, "type": kind, "description": f"the {name}", "required": required}


WEATHER = api(
    "get_weather",
    "Forecast for a city",
    [field("city", "string"), field("days", "integer", False)],
    [field("temp_c", "number")],
)
ALERTS = api(
    "get_alerts", "Weather alerts for a city", [field("city", "string")], [field("count", "integer")]
)


def call(name: str, **arguments: object) -> dict:
    return {"kind": "call", "name": name, "arguments": arguments, "result": None, "content": ""}


def result(name: str, value: object) -> dict:
    return {"kind": "result", "name": name, "arguments": {}, "result": value, "content": ""}


def say(text: str) -> dict:
    return {"kind": "say", "name": "", "arguments": {}, "result": None, "content": text}


TRACES = {
    "single_api_all_params": [
        call("get_weather", city="Oslo", days=2),
        result("get_weather", {"temp_c": 4.5}),
        say("Oslo: 4.5 °C."),
    ],
    "single_api_extra_params": [
        call("get_weather", city="Oslo"),
        result("get_weather", {"temp_c": 4.5}),
        say("Oslo will be 4.5 °C; I cannot book the hotel you mentioned."),
    ],
    "single_api_missing_params": [say("Which city would you like the forecast for?")],
    "multi_api_all_params": [
        call("get_weather", city="Oslo"),
        call("get_alerts", city="Oslo"),
        result("get_weather", {"temp_c": 4.5}),
        result("get_alerts", {"count": 0}),
        say("Oslo: 4.5 °C and no alerts."),
    ],
    "multi_api_missing_params": [say("Which city do you mean, for the forecast and the alerts?")],
    "api_not_available": [say("I cannot book flights: none of the available tools can do that.")],
    "multi_api_some_missing": [
        call("get_weather", city="Oslo"),
        result("get_weather", {"temp_c": 4.5}),
        say("Oslo: 4.5 °C. I cannot book a flight with the available tools."),
    ],
}
#: what each variant's request needs, as its instruction agent reports it (consistent with the variant)
NEEDED = {
    "multi_api_all_params": ["get_weather", "get_alerts"],
    "multi_api_missing_params": ["get_weather", "get_alerts"],
    "api_not_available": [],
}
MISSING = {
    "single_api_missing_params": ["get_weather.city"],
    "multi_api_missing_params": ["get_weather.city"],
}


def tool_use_reply(broken_first_trace: bool = False, extra_apis: list | None = None):
    """Scripted tool-use agents keyed by the request tag; the teacher's trace depends on the variant."""
    seen_teacher: set[str] = set()

    def reply(request: ModelRequest) -> object:
        _, stage, *rest = request.tag.split("/")
        name = rest[-1] if stage != "teacher" else rest[0]
        if stage == "transform":
            apis = [WEATHER, *(extra_apis or [])] if name.startswith("api_from") else [ALERTS]
            return {"apis": apis, "suitable": True, "reason": ""}
        if stage == "instruct":
            return {
                "instruction": f"({name}) What is the weather in Oslo for two days?",
                "apis_needed": NEEDED.get(name, ["get_weather"]),
                "missing_information": MISSING.get(name, []),
                "suitable": True,
                "reason": "",
            }
        if stage == "refine" and rest[0] == "suggester":
            return {"suggestion": "add a second step", "suitable": True, "reason": ""}
        if stage == "refine":
            user = request.messages[-1]["content"]
            itype = next(t for t in TRACES if f"({t})" in user)
            return {
                "instruction": f"({itype}) Weather in Oslo, then alerts? {len(user)}",
                "apis_needed": ["get_weather", "get_alerts"],
                "missing_information": MISSING.get(itype, []),
                "suitable": True,
                "reason": "",
            }
        if stage == "teacher":
            if broken_first_trace and request.tag not in seen_teacher and not request.tag.endswith("/repair"):
                seen_teacher.add(request.tag)
                bad = [
                    call("get_weather", city="Oslo", days="two"),
                    result("get_weather", {"temp_c": 1.0}),
                    say("Cold."),
                ]
                return {"steps": bad, "suitable": True, "reason": ""}
            return {"steps": TRACES[name], "suitable": True, "reason": ""}
        raise AssertionError(f"unexpected tag {request.tag}")

    return reply


def code_seed(text: str = CODE, source: str = "weather.py", index: int = 0) -> Seed:
    document = Document(id=f"code{index}", source=source, sha256="0" * 64, text=text, kind="code")
    return Seed(id=f"code{index}:0-{len(text)}", document=document, span=(0, len(text)), text=text)


def run_flow(model, seeds, resources=None, **settings) -> ListSink:
    skill = load_skills()["tool_use"]
    sink = ListSink()
    flow = flow_class(skill.flow)(skill, model, sink, FlowSettings(**settings), resources=resources)

    async def go() -> None:
        for ordinal, seed in enumerate(seeds):
            await flow.run_seed(seed, ordinal)

    asyncio.run(go())
    return sink


def test_every_variant_yields_a_valid_trace_with_tools():
    skill = load_skills()["tool_use"]
    sink = run_flow(
        ScriptedModel(tool_use_reply()), [code_seed(index=i) for i in range(8)], refinement_rounds=1
    )

    assert {p.instruction_type for p in sink.pairs} == {t.name for t in skill.instruction_types}
    assert not [r for r in sink.rejections if r.stage != "transformation"], sink.rejections
    for pair in sink.pairs:
        assert [t["function"]["name"] for t in pair.tools] == ["get_weather", "get_alerts"]
        assert pair.messages[0]["role"] == "system" and pair.messages[1]["role"] == "user"
        assert pair.messages[-1]["role"] == "assistant" and pair.messages[-1]["content"]
        assert pair.verification.status == "passed"
        assert pair.lineage.transformation.agent == "api_from_code+library_reconstruction"
        calls = [c for m in pair.messages for c in m.get("tool_calls") or []]
        if pair.instruction_type in ("api_not_available", "single_api_missing_params"):
            assert not calls
        for message in pair.messages:
            if message["role"] == "tool":
                assert any(c["id"] == message["tool_call_id"] for c in calls)


def test_invalid_specs_are_rejected_with_the_reason():
    duplicate = dict(WEATHER, description="the same name again")
    sink = run_flow(ScriptedModel(tool_use_reply(extra_apis=[duplicate])), [code_seed()], refinement_rounds=0)
    [rejection] = [r for r in sink.rejections if r.reason == "invalid_api_spec"]
    assert "get_weather: an API of that name is already listed" in rejection.detail
    assert sink.pairs  # the valid spec still made pairs


def test_a_trace_with_a_wrong_argument_type_is_repaired_once():
    model = ScriptedModel(tool_use_reply(broken_first_trace=True))
    sink = run_flow(model, [code_seed()], refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    checks = {c.name: c for c in pair.verification.checks}
    assert "days" in checks["repaired"].detail and "integer" in checks["repaired"].detail
    repair = next(r for r in model.requests if r.tag.endswith("/repair"))
    assert "days" in repair.messages[-1]["content"]


def test_api_retrieval_finds_similar_code_in_the_corpus():
    other = "def get_alerts(city):\n    '''Weather alerts for a city.'''\n    return fetch_alerts(city)\n"
    seeds = [code_seed(), code_seed(other, "alerts.py", 1)]
    index = Bm25Search.build((s.id, s.text, {"kind": "code", "source": s.document.source}) for s in seeds)
    model = ScriptedModel(tool_use_reply())
    run_flow(
        model,
        seeds[:1],
        FlowResources(search=index),
        refinement_rounds=0,
        instructions_per_seed=1,
        run_seed=0,
    )

    retrieval = [r for r in model.requests if r.tag.endswith("/transform/api_retrieval")]
    assert retrieval and "fetch_alerts" in retrieval[0].messages[-1]["content"]


def test_generate_on_real_source_files_gives_openai_request_bodies(
    tmp_path: Path, openai_server: OpenAIServer
):
    sources = [
        REPO / "examples" / "seeds" / "inventory.py",
        REPO / "src" / "agentinstruct" / "tools" / "calculator.py",
    ]
    config = RunConfig(
        inputs=[str(p) for p in sources],
        out=tmp_path / "out",
        skills="tool_use",
        refinement_rounds=1,
        progress=False,
        concurrency=2,
    )
    summary = run(config, model=ScriptedModel(tool_use_reply()))
    assert summary["status"] == "finished"
    assert (tmp_path / "out" / "search" / "search.json").is_file()  # the corpus index persisted with the run
    pairs = [json.loads(line) for line in (tmp_path / "out" / "pairs.jsonl").read_text().splitlines()]
    assert pairs and all(p["skill"] == "tool_use" and p["tools"] for p in pairs)

    async def send_all() -> None:
        client = openai.AsyncOpenAI(base_url=openai_server.base_url, api_key="unused")
        for pair in pairs:
            await client.chat.completions.create(model="m", messages=pair["messages"], tools=pair["tools"])
        await client.close()

    asyncio.run(send_all())
    assert [r["messages"] for r in openai_server.requests] == [p["messages"] for p in pairs]
    assert all(r["tools"] == p["tools"] for r, p in zip(openai_server.requests, pairs, strict=True))


def declining_teacher(
    reasons: dict[str, str],
    repaired: dict[str, list[dict]] | None = None,
    reconsidered: dict[str, list[dict]] | None = None,
):
    """The scripted agents, except that the teacher exits "not suitable" with `reasons[variant]`; its
    repair (if any) answers with the `repaired[variant]` steps, and asked again after a wrong exit with
    the `reconsidered[variant]` ones."""
    base = tool_use_reply()

    def reply(request: ModelRequest) -> object:
        _, stage, *rest = request.tag.split("/")
        if stage == "teacher" and rest[0] in reasons:
            if request.tag.endswith("/repair") and repaired and rest[0] in repaired:
                return {"steps": repaired[rest[0]], "suitable": True, "reason": ""}
            if request.tag.endswith("/suitable_again") and reconsidered and rest[0] in reconsidered:
                return {"steps": reconsidered[rest[0]], "suitable": True, "reason": ""}
            return {"steps": [], "suitable": False, "reason": reasons[rest[0]]}
        return base(request)

    return reply


def pairs_and_rejections_by_type(sink: ListSink) -> tuple[dict, dict]:
    pairs = {p.instruction_type: p for p in sink.pairs}
    rejections = {r.instruction_type: r for r in sink.rejections if r.stage in ("teacher", "verification")}
    return pairs, rejections


def test_a_decline_through_the_exit_is_the_answer_where_declining_is_expected():
    """A small teacher often refuses an unavailable API, or a request missing a value, through the "not
    suitable" exit; for those variants the refusal is the answer and is still validated as a trace."""
    reasons = {
        "api_not_available": "I cannot book flights: none of the available tools can do that.",
        "single_api_missing_params": "Which city would you like the forecast for?",
        "multi_api_missing_params": "The user does not say which city.",  # neither asks nor declines
        "single_api_all_params": "I would rather not.",  # a call was expected: stays a failure
    }
    seeds = [code_seed(index=i) for i in range(8)]
    sink = run_flow(ScriptedModel(declining_teacher(reasons)), seeds, refinement_rounds=0)
    pairs, rejections = pairs_and_rejections_by_type(sink)

    for variant in ("api_not_available", "single_api_missing_params"):
        pair = pairs[variant]
        assert pair.messages[-1] == {"role": "assistant", "content": reasons[variant]}
        assert not [m for m in pair.messages if m.get("tool_calls")]
        checks = {c.name: c for c in pair.verification.checks}
        assert checks["decline_from_exit"].ok and checks["tool_trace"].ok
    asked = rejections["multi_api_missing_params"]  # no question mark after its repair either
    assert asked.reason == "verification_failed:tool_trace" and "ask" in asked.detail.lower()
    assert rejections["single_api_all_params"].reason == "agent_failed:teacher"
    assert "single_api_all_params" not in pairs


def test_a_decline_that_does_not_ask_is_repaired_into_a_question():
    reasons = {"single_api_missing_params": "The user does not say which city."}
    repaired = {"single_api_missing_params": [say("Which city should I get the forecast for?")]}
    model = ScriptedModel(declining_teacher(reasons, repaired))
    sink = run_flow(model, [code_seed(index=i) for i in range(8)], refinement_rounds=0)
    pairs, _ = pairs_and_rejections_by_type(sink)

    pair = pairs["single_api_missing_params"]
    assert pair.messages[-1]["content"] == "Which city should I get the forecast for?"
    checks = {c.name for c in pair.verification.checks}
    assert {"decline_from_exit", "repaired", "tool_trace"} <= checks
    repair = next(r for r in model.requests if r.tag == "tool_use/teacher/single_api_missing_params/repair")
    assert "must ask" in repair.messages[-1]["content"]  # the validator's problem went back to the teacher


def test_the_api_list_grammar_is_bounded_but_longer_replies_still_parse() -> None:
    from agentinstruct.flows.tool_use_apis import MAX_APIS, MAX_FIELDS, ApiListOutput

    schema = ApiListOutput.request_schema()
    assert schema["properties"]["apis"]["maxItems"] == MAX_APIS
    definitions = schema["$defs"]
    assert definitions["ApiDefinition"]["properties"]["parameters"]["maxItems"] == MAX_FIELDS
    assert definitions["ApiReturns"]["properties"]["properties"]["maxItems"] == MAX_FIELDS
    api = {
        "name": "get_stock",
        "description": "Look up stock.",
        "parameters": [],
        "returns": {"type": "integer", "description": "units", "properties": []},
    }
    apis = [api | {"name": f"get_stock_{n}"} for n in range(MAX_APIS + 2)]
    assert len(ApiListOutput.model_validate({"apis": apis}).apis) == MAX_APIS + 2  # a big model's list


def test_with_one_api_multi_api_types_become_distinct_single_api_ones():
    base = tool_use_reply()

    def reply(request: ModelRequest) -> object:
        if "/transform/" in request.tag and not request.tag.endswith("api_from_code"):
            return {"apis": [WEATHER], "suitable": True, "reason": ""}  # only a name already listed
        return base(request)

    skill = load_skills()["tool_use"]
    sink = run_flow(ScriptedModel(reply), [code_seed()], refinement_rounds=0, instructions_per_seed=7)
    types = [p.instruction_type for p in sink.pairs]
    assert types and not any(t.startswith("multi_api") for t in types)
    assert not [r for r in sink.rejections if r.reason == "invalid_api_spec"]  # a shown API, listed again
    assert len(types) == len(set(types)) < len(skill.instruction_types)  # the replacements were deduplicated


def test_the_rendered_api_list_reads_back_with_required_parameters():
    specs = convert_apis([ApiDefinition.model_validate(a) for a in (WEATHER, ALERTS)])[0]
    shown = render_apis(specs)
    assert listed_apis(shown) == {"get_weather": ["city"], "get_alerts": ["city"]}
    noted = ApiDefinition.model_validate({**WEATHER, "description": "Forecast.\nnote: in Celsius"})
    described = convert_apis([noted])[0]
    assert listed_apis(render_apis(described)) == {"get_weather": ["city"]}  # a description's line is no API


APIS = {"add_item": ["sku", "name", "price"], "add_stock": ["sku", "quantity"], "update_stock": ["sku"]}


@pytest.mark.parametrize(
    ("variant", "needed", "missing", "problem"),
    [
        # the local model's requests of s16 and s18, as their instruction agents described them
        ("multi_api_all_params", ["add_item"], [], "two or more different APIs, and apis_needed lists 1"),
        ("single_api_extra_params", ["add_stock"], ["sku", "quantity"], "gives every required value"),
        ("api_not_available", ["update_stock"], [], "needs no listed API"),
        ("api_not_available", [], ["item"], "gives every required value"),
        ("multi_api_some_missing", ["add_item", "add_stock"], ["list_stock"], "gives every required value"),
        ("multi_api_missing_params", ["add_item", "add_stock"], ["list_stock"], "no required parameter"),
        ("single_api_all_params", ["add_item", "add_stock"], [], "exactly one API"),
        ("single_api_missing_params", ["add_stock"], [], "leaves out a required value"),
        ("single_api_all_params", ["create_item"], [], "names create_item, which the list does not hold"),
        # requests that fit their variant
        ("single_api_missing_params", ["add_stock"], ["add_stock.quantity"], ""),
        ("multi_api_missing_params", ["add_item", "add_stock"], ["quantity"], ""),
        ("multi_api_some_missing", ["add_stock"], [], ""),
        ("api_not_available", [], [], ""),
        ("a_user_defined_variant", ["anything"], ["at all"], ""),
    ],
)
def test_a_request_that_contradicts_its_variant_is_named(variant, needed, missing, problem):
    request = "Add 5 of SKU123 to the stock."
    reply = ToolInstructionOutput(instruction=request, apis_needed=needed, missing_information=missing)
    found = request_problem(reply, APIS, variant)
    assert (problem in found and found) if problem else found == ""


@pytest.mark.parametrize(
    ("request_text", "gives_values"),
    [
        # s31: the teacher then called add_item with "name1" and 5, values no one gave
        ("Add a new item to the inventory, specifying its name, price, and initial quantity.", False),
        ("I'd like to know what's in stock, and how much.", False),  # apostrophes are no quotes
        ("Add 5 of SKU123 to the stock.", True),
        ('Add "Blue Pens" to the catalogue.', True),
        ("Add blue pens from Acme to the catalogue.", True),
    ],
)
def test_a_request_that_must_give_every_value_gives_some(request_text, gives_values):
    reply = ToolInstructionOutput(instruction=request_text, apis_needed=["add_item"])
    found = request_problem(reply, APIS, "single_api_all_params")
    assert (found == "") == gives_values
    if not gives_values:
        assert "gives none (no number, name or quoted text)" in found and "add_item.price" in found
    # a request that rightly leaves a value out, or an API without required parameters, needs none
    leaves_out = reply.model_copy(update={"missing_information": ["add_item.price"]})
    assert request_problem(leaves_out, APIS, "single_api_missing_params") == ""
    assert request_problem(reply, {"add_item": []}, "single_api_all_params") == ""


def test_a_request_that_contradicts_its_variant_is_asked_for_again():
    """s18's multi_api_all_params request needed one API; its teacher refused it and the unit was lost."""
    replies = iter([["get_weather"], ["get_weather", "get_alerts"]])
    base = tool_use_reply()

    def reply(request: ModelRequest) -> object:
        if "/instruct/" in request.tag:
            asked = {**base(request), "apis_needed": next(replies), "missing_information": []}
            return {**asked, "instruction": "(multi_api_all_params) Weather in Oslo, then alerts?"}
        return base(request)

    skill = load_skills()["tool_use"]
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["multi_api_all_params"]]})
    model = ScriptedModel(reply)
    sink = ListSink()
    flow = flow_class(single.flow)(single, model, sink, FlowSettings(refinement_rounds=0))
    asyncio.run(flow.run_seed(code_seed(), 0))
    asked = [r for r in model.requests if "/instruct/" in r.tag]
    assert len(asked) == 2 and "apis_needed lists 1" in str(asked[1].messages)
    assert [p.instruction_type for p in sink.pairs] == ["multi_api_all_params"]


@pytest.mark.parametrize(
    ("variant", "needed", "missing", "fitting"),
    [
        # s36: "single API" requests that needed two APIs, sent back alike three times
        ("single_api_extra_params", ["add_item", "add_stock"], [], "multi_api_all_params"),
        ("single_api_all_params", ["add_item", "add_stock"], [], "multi_api_all_params"),
        ("multi_api_all_params", ["add_stock"], [], "single_api_all_params"),
        ("multi_api_missing_params", ["add_stock"], ["add_stock.quantity"], "single_api_missing_params"),
        ("single_api_missing_params", ["add_item", "add_stock"], ["quantity"], "multi_api_missing_params"),
        # what the request leaves out contradicts its variant: it goes back, it is not relabelled
        ("multi_api_all_params", ["add_stock"], ["add_stock.quantity"], ""),
        ("single_api_missing_params", ["add_item", "add_stock"], [], ""),
        # a request for a missing API keeps its variant, and a request that fits is left alone
        ("api_not_available", ["add_stock"], [], ""),
        ("single_api_all_params", ["add_stock"], [], ""),
        ("single_api_all_params", ["add_item", "create_item"], [], ""),  # names an API that is not listed
    ],
)
def test_a_request_whose_api_count_fits_another_variant_is_relabelled(variant, needed, missing, fitting):
    reply = ToolInstructionOutput(
        instruction="Add 5 of SKU123 to the stock.", apis_needed=needed, missing_information=missing
    )
    assert refitted_variant(reply, APIS, variant) == fitting


def test_a_single_api_request_that_needs_two_apis_becomes_a_multi_api_pair():
    """s36's single_api_extra_params request needed two APIs three times over; the unit was lost."""
    base = tool_use_reply()

    def reply(request: ModelRequest) -> object:
        if "/instruct/" in request.tag:
            asked = {**base(request), "apis_needed": ["get_weather", "get_alerts"], "missing_information": []}
            return {**asked, "instruction": f"Weather in Oslo, then alerts? ({request.tag})"}
        if "/teacher/" in request.tag:
            return {"steps": TRACES["multi_api_all_params"], "suitable": True, "reason": ""}
        return base(request)

    skill = load_skills()["tool_use"]
    types = [skill.types_by_name["single_api_extra_params"], skill.types_by_name["multi_api_all_params"]]
    two = skill.model_copy(update={"instruction_types": types})
    model = ScriptedModel(reply)
    sink = ListSink()
    flow = flow_class(two.flow)(two, model, sink, FlowSettings(refinement_rounds=0, instructions_per_seed=2))
    asyncio.run(flow.run_seed(code_seed(), 0))
    assert len([r for r in model.requests if "/instruct/" in r.tag]) == 2  # neither was asked again
    assert [p.instruction_type for p in sink.pairs] == ["multi_api_all_params"] * 2
    refitted = next(p for p in sink.pairs if "single_api_extra_params" in p.messages[1]["content"])
    assert refitted.lineage.seed_instruction.agent == "multi_api_all_params"
    assert refitted.lineage.seed_instruction.fields["written_for"] == "single_api_extra_params"
    check = next(c for c in refitted.verification.checks if c.name == "variant_refitted")
    assert "written as single_api_extra_params" in check.detail


def test_a_result_and_a_message_written_into_a_call_step_become_steps_of_their_own():
    """s39's teacher put add_item's simulated result, and then what it told the user, into the call step
    (every field of a step is in the grammar), three times over: no tool message answered the call."""
    written = {
        **call("get_weather", city="Oslo", days=2),
        "result": {"temp_c": 4.5},
        "content": "Oslo: 4.5 °C.",
    }
    trace = TraceOutput.model_validate({"steps": [written], "suitable": True, "reason": ""})
    assert [s.kind for s in trace.steps] == ["call", "result", "say"]
    assert trace.steps[1].result == {"temp_c": 4.5} and trace.steps[2].content == "Oslo: 4.5 °C."
    messages = trace_to_messages(trace, "Weather in Oslo for two days?")
    specs = specs_by_name(convert_apis([ApiDefinition.model_validate(WEATHER)])[0])
    assert validate_trace(messages, specs, "single_api_all_params") == []
    # a result step that follows anyway is not doubled, and a say step that follows is the answer
    steps = [{**call("get_weather", city="Oslo"), "result": "sunny"}, *TRACES["single_api_all_params"][1:]]
    kept = TraceOutput.model_validate({"steps": steps, "suitable": True, "reason": ""})
    assert [s.kind for s in kept.steps] == ["call", "result", "say"] and kept.steps[1].result == {
        "temp_c": 4.5
    }


def test_a_wrong_exit_on_a_request_that_needs_calls_is_asked_once_more():
    """s39: the 1.5B teacher exited "not suitable" on a single_api_extra_params request ("the assistant only
    performs one operation at a time") and on a multi_api_some_missing one; both units were lost."""
    reasons = {
        "single_api_extra_params": "The assistant only performs one operation at a time.",
        "multi_api_some_missing": "You need to use get_alerts before get_weather.",
        "api_not_available": "I cannot book flights: none of the available tools can do that.",
    }
    reconsidered = {"single_api_extra_params": TRACES["single_api_extra_params"]}  # the other exits again
    model = ScriptedModel(declining_teacher(reasons, reconsidered=reconsidered))
    sink = run_flow(model, [code_seed(index=i) for i in range(8)], refinement_rounds=0)
    pairs, rejections = pairs_and_rejections_by_type(sink)

    pair = pairs["single_api_extra_params"]
    assert [c["function"]["name"] for m in pair.messages for c in m.get("tool_calls") or []] == [
        "get_weather"
    ]
    checks = {c.name: c for c in pair.verification.checks}
    assert "one operation at a time" in checks["exit_reconsidered"].detail and checks["tool_trace"].ok
    tag = "tool_use/teacher/single_api_extra_params/suitable_again"
    feedback = next(r for r in model.requests if r.tag == tag).messages[-1]["content"]
    said = 'You said this request is not suitable: "The assistant only performs one operation at a time."'
    assert said in feedback
    assert "the listed APIs it needs are get_weather" in feedback and "several functions" in feedback
    # a second exit leaves the first standing; a variant whose answer is a decline is never asked again
    assert rejections["multi_api_some_missing"].reason == "agent_failed:teacher"
    assert "get_alerts before" in rejections["multi_api_some_missing"].detail
    assert "decline_from_exit" in {c.name for c in pairs["api_not_available"].verification.checks}
    assert not [r for r in model.requests if r.tag == "tool_use/teacher/api_not_available/suitable_again"]
