"""The text_extraction skill (SPEC §2 row 11): taxonomy, templates, the flow with a scripted model, and the
`valid_json_for_schema` and `spans_in_source` checks."""

from __future__ import annotations

import json

import pytest

from agentinstruct.field_formats import normalised
from agentinstruct.models import ModelRequest
from agentinstruct.pairs import Pair
from agentinstruct.quality.checks import Candidate, resolve_checks
from agentinstruct.quality.extraction import (
    entities_are_names,
    extract_json_value,
    spans_in_source,
    valid_json_for_schema,
)
from agentinstruct.skills import InstructionType, Skill, load_skills
from grounded_skills import load, render_every_template, run_flow, stage, variant

pytestmark = pytest.mark.timeout(120)

TYPES = [
    "named_entities",
    "key_value_fields",
    "timeline",
    "relations",
    "table_from_text",
    "quote_extraction",
    "schema_guided_json",
]
GOALS = ["add_schema", "nested_fields"]
# the seed of the flow tests: the identity transformation passes it on word for word (no model call) and
# needs at least 40 words
TEXT = (
    "On 3 May 2021 the Harbour Trust hired Hannah Reed as keeper of the Alder Creek lighthouse.\n"
    '"The light must never go out," Reed told the Gazette. In 2022 the Trust opened a museum, where '
    "the keepers' logbooks from 1852 to 1942 are shown."
)
SCHEMA = {
    "type": "object",
    "properties": {
        "entities": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "type": {"type": "string", "enum": ["person", "organisation", "place", "date"]},
                },
                "required": ["text", "type"],
            },
        }
    },
    "required": ["entities"],
}
STRICT = json.loads(json.dumps(SCHEMA)) | {"additionalProperties": False}
#: SCHEMA as the flow stores and shows it: a free scalar property may be null (the text may not give it)
STORED = json.loads(json.dumps(SCHEMA))
STORED["properties"]["entities"]["items"]["properties"]["text"]["type"] = ["string", "null"]
ENTITIES = [
    {"text": "Hannah Reed", "type": "person"},
    {"text": "Harbour Trust", "type": "organisation"},
    {"text": "alder creek", "type": "place"},  # case and whitespace do not matter outside quotes
    {"text": "3 May  2021", "type": "date"},
]
GOOD = "```json\n" + json.dumps({"entities": ENTITIES}, indent=2) + "\n```"
MISSPELT = json.dumps({"entities": [{"text": "Hannah Reid", "type": "person"}, *ENTITIES[1:]]})
OFF_SCHEMA = json.dumps({"entities": [{"text": "Hannah Reed", "type": "human"}]})
REQUEST = (
    "List the people, organisations, places and dates in the text above, copied exactly.\n```json\n{}\n```"
)


def test_taxonomy_matches_the_spec_row() -> None:
    skill = load("text_extraction")
    assert skill.seed_kinds == ["text"]
    assert [t.name for t in skill.instruction_types] == TYPES
    assert [t.name for t in skill.transformations] == ["identity"]
    [identity] = skill.transformations  # the seed's own words, so extracted spans are the source's
    assert identity.verbatim and (identity.min_words, identity.max_words) == (40, None)
    assert [g.name for g in skill.refinement.goals] == GOALS
    assert list(skill.instruction_fields) == ["output_schema"]
    assert skill.checks == ["valid_json_for_schema", "spans_in_source", "entities_are_names"]
    assert resolve_checks(skill.checks)
    assert skill.repair_rounds == 1


def test_loads_with_the_bundled_skills() -> None:
    assert [t.name for t in load_skills()["text_extraction"].instruction_types] == TYPES


def test_every_template_renders() -> None:
    skill = load("text_extraction")
    schema = json.dumps(SCHEMA)
    texts = render_every_template(skill, TEXT, REQUEST.format(schema), {"output_schema": schema})
    refinement = [t for t in texts if "Current schema:" in t]
    assert refinement and all(schema in t for t in refinement)
    assert any("shown right after" in t and "output_schema" in t for t in texts)


def reply_with(answers: list[str]):
    queue = list(answers)

    def reply(request: ModelRequest) -> object:
        step, rest = stage(request)
        if step == "instruct":
            schema = json.dumps(SCHEMA)
            return {
                "instruction": f"({rest[-1]}) " + REQUEST.format(schema),
                "output_schema": schema,
                "suitable": True,
            }
        if step == "refine" and rest[0] == "suggester":
            return {"suggestion": f"For {rest[-1]}: forbid extra top-level fields.", "suitable": True}
        if step == "refine" and rest[0] == "editor":
            schema = json.dumps(STRICT)
            instruction = f"({rest[-1]} {variant(request)}) " + REQUEST.format(schema)
            return {"content": TEXT, "instruction": instruction, "output_schema": schema, "suitable": True}
        if step == "teacher":
            return queue.pop(0) if len(queue) > 1 else queue[0]
        raise AssertionError(f"unexpected tag {request.tag}")

    return reply


def test_the_flow_covers_the_taxonomy_and_pairs_have_the_right_shape() -> None:
    skill = load("text_extraction")
    sink, _ = run_flow(skill, reply_with([GOOD]), 4, seed_text=TEXT)
    assert not sink.rejections
    assert {p.instruction_type for p in sink.pairs} == set(TYPES)
    assert {s.goal for p in sink.pairs for s in p.lineage.refinement} == set(GOALS)
    for pair in sink.pairs:
        Pair.model_validate(pair.model_dump(mode="json"))
        assert [m["role"] for m in pair.messages] == ["system", "user", "assistant"]
        user = pair.messages[1]["content"]
        assert user.startswith(TEXT) and '"entities"' in user  # the text, then the request with its schema
        assert pair.messages[2]["content"] == GOOD
        checks = ["valid_json_for_schema", "spans_in_source"]
        checks += ["entities_are_names"] if pair.instruction_type == "named_entities" else []
        assert [c.name for c in pair.verification.checks] == checks
        assert pair.verification.status == "passed"


def test_bad_answers_are_repaired_or_rejected() -> None:
    skill = load("text_extraction")
    settings = {"refinement_rounds": 0, "instructions_per_seed": 1}
    sink, model = run_flow(skill, reply_with([MISSPELT, GOOD]), 1, seed_text=TEXT, **settings)
    [pair] = sink.pairs
    assert (
        "'entities/0/text: Hannah Reid'"
        in next(c for c in pair.verification.checks if c.name == "repaired").detail
    )
    assert any(r.tag.endswith("/repair") for r in model.requests)

    sink, _ = run_flow(skill, reply_with([MISSPELT]), 1, seed_text=TEXT, **settings)
    [rejection] = sink.rejections
    assert rejection.reason == "verification_failed:spans_in_source"
    assert "Hannah Reid" in rejection.detail

    sink, _ = run_flow(skill, reply_with([OFF_SCHEMA]), 1, seed_text=TEXT, **settings)
    [rejection] = sink.rejections
    assert rejection.reason == "verification_failed:valid_json_for_schema"
    assert "at entities/0/type: 'human' is not one of" in rejection.detail


def test_the_teacher_is_held_to_the_tasks_schema_by_the_grammar() -> None:
    skill = load("text_extraction")
    assert skill.answer_schema_field == "output_schema"
    settings = {"refinement_rounds": 0, "instructions_per_seed": 1}
    _, model = run_flow(skill, reply_with([MISSPELT, GOOD]), 1, seed_text=TEXT, **settings)
    teacher = [r for r in model.requests if stage(r)[0] == "teacher"]
    assert [r.tag.endswith("/repair") for r in teacher] == [False, True]  # the repair is held to it too
    assert all(r.json_schema == {"name": "answer", "schema": STORED} for r in teacher)
    instruct = next(r for r in model.requests if stage(r)[0] == "instruct")
    assert instruct.json_schema["schema"] != SCHEMA  # the other agents still ask for their own outputs


def test_a_text_without_a_quotation_gets_another_type_than_quote_extraction() -> None:
    skill = load("text_extraction")
    unquoted = TEXT.replace('"The light must never go out," Reed told the Gazette. ', "") + (
        " The museum is open on weekends from April to October, and entry is free for children."
    )
    settings = {"refinement_rounds": 0, "instructions_per_seed": 2}
    _, model = run_flow(skill, reply_with([GOOD]), 7, seed_text=unquoted, **settings)
    asked = [stage(r)[1][-1] for r in model.requests if stage(r)[0] == "instruct"]
    assert len(asked) == 14 and "quote_extraction" not in asked  # every seed still gets two types
    assert set(asked) == set(TYPES) - {"quote_extraction"}
    _, model = run_flow(skill, reply_with([GOOD]), 7, seed_text=TEXT, **settings)
    assert "quote_extraction" in [stage(r)[1][-1] for r in model.requests if stage(r)[0] == "instruct"]
    with pytest.raises(ValueError, match="material_must_match is not a regular expression"):
        InstructionType(name="quotes", intent="Quotes.", material_must_match="[unclosed")


def test_answer_schema_field_needs_a_json_schema_field() -> None:
    data = load("text_extraction").model_dump(mode="json") | {"field_formats": {}}
    with pytest.raises(ValueError, match="answer_schema_field: 'output_schema' needs field_formats"):
        Skill.model_validate(data)


def test_a_value_the_text_does_not_give_may_be_null_but_something_must_be_extracted() -> None:
    schema = {
        "type": "object",
        "properties": {
            "keeper": {"type": "string"},
            "salary": {"type": "number"},
            "role": {"type": "string", "enum": ["keeper", "clerk"]},
            "logbooks": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["keeper", "salary", "role"],
    }
    stored, problem = normalised("json_schema", schema)
    fields = json.loads(stored)["properties"]
    assert not problem and fields["keeper"]["type"] == ["string", "null"]
    assert fields["salary"]["type"] == ["number", "null"] and fields["role"]["type"] == "string"
    assert fields["logbooks"] == {"type": "array", "items": {"type": "string"}}  # list items stay values
    given = {"keeper": "Hannah Reed", "salary": None, "role": "keeper"}
    assert spans_in_source(candidate(json.dumps(given), json.loads(stored))).ok
    nothing = {"keeper": None, "salary": None, "role": None, "logbooks": [""]}
    result = spans_in_source(candidate(json.dumps(nothing), json.loads(stored)))
    assert not result.ok and "extracts nothing" in result.detail


def test_a_label_key_holds_a_label_not_a_span() -> None:
    schema = {"type": "object", "properties": {"entities": {"type": "array", "items": {"type": "object"}}}}
    labelled = {"entities": [{"text": "Hannah Reed", "type": "person", "category": "keeper staff"}]}
    assert spans_in_source(candidate(json.dumps(labelled), schema)).ok  # no enum given, still a label
    misspelt = {"entities": [{"text": "Hannah Reid", "type": "person"}]}
    assert not spans_in_source(candidate(json.dumps(misspelt), schema)).ok


def test_a_values_closing_punctuation_is_not_part_of_it() -> None:
    clause = {"entities": [{"text": "the Harbour Trust hired Hannah Reed.", "type": "person"}]}
    assert spans_in_source(candidate(json.dumps(clause))).ok  # the text goes on "... Reed as keeper"
    inside = {"entities": [{"text": "Reed as keeper, of", "type": "person"}]}
    assert not spans_in_source(candidate(json.dumps(inside))).ok  # only the end is forgiven


def candidate(
    answer: str, schema: object = SCHEMA, content: str = TEXT, itype: str = "named_entities"
) -> Candidate:
    details = {"output_schema": schema if isinstance(schema, str) else json.dumps(schema)}
    return Candidate("text_extraction", itype, content, "Extract.", answer, False, details=details)


def test_valid_json_for_schema() -> None:
    assert valid_json_for_schema(candidate(GOOD)).ok
    assert valid_json_for_schema(candidate(f"Here it is:\n{json.dumps({'entities': ENTITIES})}\nDone.")).ok
    result = valid_json_for_schema(candidate(OFF_SCHEMA))
    assert not result.ok and "'human' is not one of" in result.detail
    result = valid_json_for_schema(candidate('{"entities": []}', STRICT))
    assert not result.ok and "should be non-empty" in result.detail
    result = valid_json_for_schema(
        candidate('{"entities": [{"text": "Hannah Reed", "type": "person"}], "x": 1}', STRICT)
    )
    assert not result.ok and "Additional properties are not allowed" in result.detail
    result = valid_json_for_schema(candidate("Hannah Reed is a person."))
    assert not result.ok and "holds no single JSON value" in result.detail
    # the local teacher wrote one object per entity in its ```json block: the first is not the answer
    entity = {"type": "object", "properties": {"entity_type": {"type": "string"}}}
    objects = '{"entity_type": "event"}\n{"entity_type": "place"}'
    for answer in (f"```json\n{objects}\n```", objects, f"Found: {objects}"):
        result = valid_json_for_schema(candidate(answer, entity))
        assert not result.ok and "several values run together" in result.detail, answer
    assert valid_json_for_schema(
        candidate('Found {"entity_type": "event"}, and {"x": 1} is not it.', entity)
    ).ok
    # a schema in a ```json fence is read too; formats are checked
    dated = {"type": "object", "properties": {"hired": {"type": "string", "format": "date"}}}
    assert valid_json_for_schema(
        candidate('{"hired": "2021-05-03"}', f"```json\n{json.dumps(dated)}\n```")
    ).ok
    assert not valid_json_for_schema(candidate('{"hired": "3 May 2021"}', dated)).ok


def test_an_invalid_schema_is_blamed_on_the_instruction_agent() -> None:
    result = valid_json_for_schema(candidate(GOOD, '{"type": "objekt"}'))
    assert not result.ok and "output_schema is not a valid JSON Schema" in result.detail
    result = valid_json_for_schema(candidate(GOOD, "the schema from the request"))
    assert not result.ok and "output_schema is neither a JSON object nor a YAML mapping" in result.detail
    assert valid_json_for_schema(Candidate("other", "x", TEXT, "", GOOD, False)) is None


def test_spans_in_source() -> None:
    assert spans_in_source(candidate(GOOD)).ok
    result = spans_in_source(candidate(MISSPELT))
    assert (
        not result.ok
        and "1 extracted values" in result.detail
        and "'entities/0/text: Hannah Reid'" in result.detail
    )
    assert spans_in_source(candidate("no json here")) is None  # valid_json_for_schema reports it


def test_quotes_must_match_exactly_and_normalised_values_are_skipped() -> None:
    schema = {
        "type": "object",
        "properties": {
            "quotes": {"type": "array", "items": {"$ref": "#/$defs/quote"}},
            "hired": {"type": "string", "format": "date"},
            "tone": {"type": "string", "enum": ["hopeful", "grim"]},
        },
        "$defs": {"quote": {"type": "object", "properties": {"quote": {"type": "string"}, "speaker": {}}}},
    }
    exact = {
        "quotes": [{"quote": "“The light must never  go out,”", "speaker": "reed"}],
        "hired": "2021-05-03",
    }
    assert spans_in_source(
        candidate(json.dumps(exact | {"tone": "grim"}), schema, itype="quote_extraction")
    ).ok
    changed = {"quotes": [{"quote": "the light must never go out", "speaker": "Reed"}]}
    result = spans_in_source(candidate(json.dumps(changed), schema, itype="quote_extraction"))
    assert not result.ok and "quotes/0/quote: the light must never go out" in result.detail
    # short values (under 3 characters), numbers and booleans are not spans
    assert spans_in_source(candidate(json.dumps({"n": 12, "ok": True, "id": "B7"}), {})).ok


def test_extract_json_value_prefers_a_json_fence() -> None:
    text = 'Notes [1]\n```python\nprint(1)\n```\n```json\n{"a": 1}\n```'
    assert extract_json_value(text) == (True, {"a": 1})
    assert extract_json_value("[1, 2]") == (True, [1, 2])
    assert extract_json_value("nothing") == (False, None)


YAML_SCHEMA = """type: object
properties:
  entities:
    type: array
    minItems: 1
    items:
      type: object
      properties:
        text: {type: string}
        type: {type: string, enum: [person, organisation, place, date]}
      required: [text, type]
required: [entities]
"""


def schema_replies(schemas: list[str], request: str) -> object:
    """A scripted model whose instruction agent writes the given schemas in turn (re-asks get the next)."""
    queue = list(schemas)
    other = reply_with([GOOD])

    def reply(model_request: ModelRequest) -> object:
        step, _ = stage(model_request)
        if step == "instruct":
            return {"user_request": request, "output_schema": queue.pop(0), "suitable": True}
        return other(model_request)

    return reply


def test_a_schema_written_as_yaml_is_stored_as_json_and_shown_in_the_request() -> None:
    skill = load("text_extraction")
    assert skill.field_formats == {"output_schema": "json_schema"}
    request = "List the people, organisations, places and dates in the text above, using the schema below."
    settings = {"refinement_rounds": 0, "instructions_per_seed": 1}
    sink, _ = run_flow(skill, schema_replies([YAML_SCHEMA], request), 1, seed_text=TEXT, **settings)
    [pair] = sink.pairs
    user = pair.messages[1]["content"]
    shown = user.split("```json\n", 1)[1].split("\n```", 1)[0]
    assert user.count("```json") == 1 and json.loads(shown) == STORED
    assert pair.verification.status == "passed"


def test_a_yaml_schema_block_in_the_request_is_replaced_by_the_fields_schema() -> None:
    skill = load("text_extraction")
    request = f"List the entities in the text above.\n```yaml\n{YAML_SCHEMA}```\nCopy values exactly."
    settings = {"refinement_rounds": 0, "instructions_per_seed": 1}
    sink, _ = run_flow(skill, schema_replies([json.dumps(SCHEMA)], request), 1, seed_text=TEXT, **settings)
    [pair] = sink.pairs
    user = pair.messages[1]["content"]
    assert "```yaml" not in user and user.count("```json") == 1
    assert user.rstrip().endswith("Copy values exactly.")


def test_an_unusable_schema_is_sent_back_before_the_teacher_answers() -> None:
    skill = load("text_extraction")
    request = "List the people and places in the text above, using the schema below."
    settings = {"refinement_rounds": 0, "instructions_per_seed": 1}
    # "name: string" is a YAML mapping that describes no value; the re-ask gets a real schema
    sink, model = run_flow(
        skill, schema_replies(["name: string", YAML_SCHEMA], request), 1, seed_text=TEXT, **settings
    )
    [pair] = sink.pairs
    instruct = [r for r in model.requests if "/instruct/" in r.tag]
    assert len(instruct) == 2
    assert "'output_schema': the schema describes no value" in str(instruct[1].messages[-1]["content"])
    assert not any("/teacher/" in r.tag for r in model.requests[: model.requests.index(instruct[1])])
    assert pair.verification.status == "passed"

    sink, model = run_flow(skill, schema_replies(["", "", ""], request), 1, seed_text=TEXT, **settings)
    [rejection] = sink.rejections
    assert rejection.reason == "agent_failed:seed_instruction" and "output_schema" in rejection.detail
    assert not any("/teacher/" in r.tag for r in model.requests)


def test_field_formats_name_instruction_fields() -> None:
    raw = load("text_extraction").model_dump() | {"field_formats": {"schema": "json_schema"}}
    with pytest.raises(ValueError, match=r"field_formats: \['schema'\] are not instruction_fields"):
        Skill.model_validate(raw)
    with pytest.raises(ValueError, match="json_schema"):
        Skill.model_validate(raw | {"field_formats": {"output_schema": "xml"}})


def test_the_schema_is_asked_for_as_structure_a_grammar_can_enforce() -> None:
    """As text, the local model wrote "string", a list of types or a "null" type with an enum as the
    schema (runs s9e, s10a); asked for as structure, a schema-enforcing engine makes it write a usable one."""
    import jsonschema

    from agentinstruct.agent_outputs import InstructionOutput
    from agentinstruct.field_formats import ANSWER_SCHEMA_SHAPE
    from agentinstruct.flows.outputs import with_skill_fields

    skill = load("text_extraction")
    output = with_skill_fields(
        InstructionOutput, skill.instruction_fields, key=skill.instruction_key, formats=skill.field_formats
    )
    asked = output.request_schema()["properties"]["output_schema"]
    assert asked["type"] == "object" and asked["properties"]["type"] == {"const": "object"}
    jsonschema.validate(SCHEMA, ANSWER_SCHEMA_SHAPE)  # entities: a list of flat objects with an enum
    flat = {"type": "object", "properties": {"keeper": {"type": "string"}, "year": {"type": "integer"}}}
    jsonschema.validate(flat | {"required": ["keeper"]}, ANSWER_SCHEMA_SHAPE)
    nullable = {"keeper": {"type": ["string", "null"]}}  # the instruction prompt's optional value
    jsonschema.validate(STRICT | {"properties": nullable, "required": []}, ANSWER_SCHEMA_SHAPE)
    for unusable in ("string", ["string", "null"], {"type": "null", "enum": ["empty lot"]}, flat):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(unusable, ANSWER_SCHEMA_SHAPE)
    # a reply holding the schema as structure is stored as JSON text; as text (an API model) it still is
    for given in (SCHEMA, json.dumps(SCHEMA), YAML_SCHEMA):
        reply = output.model_validate({"user_request": "List the entities.", "output_schema": given})
        assert json.loads(reply.output_schema) == STORED


def test_a_schema_given_as_structure_is_shown_in_the_request() -> None:
    skill = load("text_extraction")
    request = "List the people, organisations, places and dates in the text above."
    settings = {"refinement_rounds": 0, "instructions_per_seed": 1}
    sink, _ = run_flow(skill, schema_replies([SCHEMA], request), 1, seed_text=TEXT, **settings)
    [pair] = sink.pairs
    shown = pair.messages[1]["content"].split("```json\n", 1)[1].split("\n```", 1)[0]
    assert json.loads(shown) == STORED and pair.verification.status == "passed"


def test_enums_of_values_are_dropped_and_enums_of_labels_kept() -> None:
    """The local model filled every enum with the text's values or invented years (run s10a's probe)."""
    from agentinstruct.field_formats import normalised

    timeline = {
        "type": "object",
        "properties": {
            "events": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "date": {"type": "string", "enum": ["1760", "1761", "1762"]},
                        "event": {"type": "string", "enum": ["the grain ship Margaret Ellis sank"]},
                        "kind": {"type": "string", "enum": ["wreck", "building", "works for"]},
                        "enum": {"type": "string"},  # a property may be called "enum"
                    },
                    "required": ["date", "event"],
                },
            }
        },
        "required": ["events"],
    }
    written, problem = normalised("json_schema", timeline)
    fields = json.loads(written)["properties"]["events"]["items"]["properties"]
    assert not problem and "enum" not in fields["date"] and "enum" not in fields["event"]
    assert fields["kind"]["enum"] == ["wreck", "building", "works for"]
    assert fields["enum"] == {"type": ["string", "null"]}
    assert json.loads(normalised("json_schema", SCHEMA)[0]) == STORED  # entity types are labels


def test_a_named_entity_must_be_a_name_a_date_or_a_figure() -> None:
    # run s15 delivered "The association" and "residents who use wheelchairs" as people, "tool shed" as a
    # product: capitalised only where a sentence begins, or not at all
    text = (
        "The association will build a tool shed. Twelve beds are for residents who use wheelchairs. "
        "Fenwick council backs it, said Councillor Deborah Mwangi of Station Road."
    )

    def entities(*spans: str) -> Candidate:
        answer = json.dumps({"entities": [{"text": span, "type": "person"} for span in spans]})
        return Candidate("text_extraction", "named_entities", text, REQUEST, answer, False)

    bad = entities_are_names(entities("The association", "residents who use wheelchairs", "tool shed"))
    assert not bad.ok
    assert "'The association', 'residents who use wheelchairs', 'tool shed' are no named entity" in bad.detail
    assert not entities_are_names(entities("Twelve")).ok  # a number word opening a sentence
    good = entities(
        "Councillor Deborah Mwangi", "Fenwick", "station road", "12 beds", "the shed on Station Road"
    )
    assert entities_are_names(good).ok  # a sentence's first word never written in lower case is a name
    other = Candidate("text_extraction", "key_value_fields", text, REQUEST, '{"a": "tool shed"}', False)
    assert entities_are_names(other) is None


def test_a_schema_of_yes_no_properties_is_sent_back() -> None:
    # run s18: "soil_test_due_in_february": boolean and the like extracted nothing the text says
    flags = {
        "type": "object",
        "properties": {"due": {"type": "boolean"}, "held": {"type": ["boolean", "null"]}},
    }
    stored, problem = normalised("json_schema", json.dumps({**flags, "required": ["due"]}))
    assert not stored and "asks only true/false questions" in problem
    dated = {**flags["properties"], "date": {"type": "string"}}
    stored, problem = normalised(
        "json_schema", json.dumps({"type": "object", "properties": dated, "required": []})
    )
    assert stored and not problem
