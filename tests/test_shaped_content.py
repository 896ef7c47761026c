"""Shaped transformation content (`content_shape`): the model writes a JSON structure that the grammar
enforces, code writes the notation; bad structures go back with what to fix; text replies are kept."""

from __future__ import annotations

import asyncio

import pytest

from agentinstruct.agents import Agent
from agentinstruct.flows.outputs import with_content_rules
from agentinstruct.flows.shaped_content import SHAPES, shaped_output
from agentinstruct.models import ScriptedModel
from agentinstruct.skills import BUNDLED_DIR, Transformation, load_skills

pytestmark = pytest.mark.timeout(60)

ROWS = [["Light", "Opened"], ["Alder Creek", "1852"], ["Birch | Bay", "1871", ""]]


def written(shape: str, content: object) -> str:
    output = shaped_output(shape).model_validate({"content": content, "suitable": True, "reason": ""})
    return output.content


def problem(shape: str, content: object) -> str:
    with pytest.raises(ValueError) as error:
        written(shape, content)
    return str(error.value)


def test_each_shape_is_written_in_its_notation() -> None:
    assert written("table", ROWS) == (
        "| Light | Opened |\n| --- | --- |\n| Alder Creek | 1852 |\n| Birch \\| Bay | 1871 |"
    )
    assert written("csv", [["name", "note"], ["a", "1,5"], ["b", 'say "hi"']]) == (
        'name,note\na,"1,5"\nb,"say ""hi"""'
    )
    assert written("json_record", {"name": "Alder Creek", "opened": 1852, "keepers": ["Ada"]}) == (
        '{\n  "name": "Alder Creek",\n  "opened": 1852,\n  "keepers": [\n    "Ada"\n  ]\n}'
    )
    pairs = [["Name", "Alder Creek"], ["Keeper", "Ada"], ["Keeper", "Bo"], ["Note", " "]]
    assert written("key_values", pairs) == "Name: Alder Creek\nKeeper: Ada\nKeeper: Bo"  # a key may repeat
    triples = [
        ["Alder Creek", "opened in", "1852"],
        ["Ada", "kept", "Alder  Creek"],
        ["Bo", "kept", "Birch Bay"],
    ]
    assert written("triples", triples) == (
        "(Alder Creek; opened in; 1852)\n(Ada; kept; Alder Creek)\n(Bo; kept; Birch Bay)"
    )
    mapping = {
        "rule": "A year maps to its century.",
        "examples": [["1852", "19th"], ["1942", "20th"], ["2001", "21st"], ["1700", "17th"]],
    }
    assert written("mapping", mapping) == (
        "Rule: A year maps to its century.\nExamples:\nInput: 1852 -> Output: 19th\n"
        "Input: 1942 -> Output: 20th\nInput: 2001 -> Output: 21st\nInput: 1700 -> Output: 17th"
    )
    scenario = {
        "setting": "Four plots  at Mill Lane go to four growers.",
        "entities": ["Ana", "Ben", "Cal", "Dee"],
        "slots": ["plot 1", "plot 2", "plot 3", "plot 4"],
        "rules": ["Ana is in a lower plot than Ben.", " ", "Cal is not in plot 1.", "Dee is next to Ana."],
    }
    assert written("scenario", scenario) == (
        "Setting: Four plots at Mill Lane go to four growers.\nEntities: Ana, Ben, Cal, Dee\n"
        "Slots: plot 1, plot 2, plot 3, plot 4"
    )  # the puzzle agents write the rules: a scenario's own are facts of the seed, not rules
    assert shaped_output("text").model_fields["content"].annotation is str


PROGRAMMING = {
    "problem": "Work out the rent owed for a lease of whole years at a yearly rate.",
    "functions": ["rent_owed(years: int, rate: float) -> float: the total rent"],
    "edge_cases": ["negative years raise ValueError", " "],
    "examples": [["rent_owed(5, 1.0)", "5.0"], ["rent_owed(0, 1.0)", "0.0"]],
    "reference_code": "```python\ndef rent_owed(years: int, rate: float) -> float:\n"
    "    if years < 0:\n        raise ValueError(years)\n    return years * rate\n```",
}


def test_programming_material_is_written_with_its_reference_code_fenced_once() -> None:
    assert written("programming", PROGRAMMING) == (
        "Problem: Work out the rent owed for a lease of whole years at a yearly rate.\nFunctions:\n"
        "- rent_owed(years: int, rate: float) -> float: the total rent\nRules and edge cases:\n"
        "- negative years raise ValueError\nExamples:\n- rent_owed(5, 1.0) -> 5.0\n"
        "- rent_owed(0, 1.0) -> 0.0\n"
        "Reference code:\n```python\ndef rent_owed(years: int, rate: float) -> float:\n    if years < 0:\n"
        "        raise ValueError(years)\n    return years * rate\n```"
    )
    shapes = {t.name: t.content_shape for t in load_skills()["coding"].transformations}
    # both: asked as text, problem_from_code described its code in prose without any (3 of 3 in run s31)
    assert shapes == {"problem_from_code": "programming", "task_from_docs": "programming"}


@pytest.mark.parametrize(
    ("change", "needs"),
    [
        # the local task_from_docs wrote a summary of the seed where the code should be
        ({"reference_code": "The rent is the years times the rate."}, "valid Python (line 1"),
        ({"reference_code": "total = 5 * 1.0"}, "defines the function(s)"),
        ({"functions": [], "examples": [["rent_owed(1, 2.0)", "2.0"]]}, "signature of each function"),
    ],
)
def test_programming_material_without_working_code_says_what_it_lacks(change, needs) -> None:
    assert needs in problem("programming", PROGRAMMING | change)


def test_examples_whose_call_does_not_parse_are_left_out() -> None:
    # s36: one of six calls lost its closing quote, and the whole material was sent back twice; others
    # wrote assignments ("wait = 4") or a name alone; a call the grammar's length cap cut off (run s12a)
    cut = ["rent_owed('five years", "5.0"]
    text = written("programming", PROGRAMMING | {"examples": [*PROGRAMMING["examples"], cut]})
    assert "rent_owed('five years" not in text and "- rent_owed(0, 1.0) -> 0.0" in text
    broken = [["wait = 4", "num = 140"], ["avg({'1791': 1, '1792': 2, '17", "1.5"]]
    text = written("programming", PROGRAMMING | {"examples": broken})
    assert "Examples:" not in text and text.endswith("return years * rate\n```")


def test_a_scenario_without_a_cast_to_arrange_says_what_it_lacks() -> None:
    """The local scenario_builder gave back the seed's prose, then its own description, as the scenario."""
    scenario = {"setting": "A council lease.", "entities": ["Ana", "ana", "Ben"], "slots": ["x"], "rules": []}
    message = problem("scenario", scenario)
    assert "3 to 7 distinct entity names (it has 2)" in message and "at least 2 slot values" in message
    # mended: names listed twice count once, slots that repeat the names go, and positions stand in
    twice = {**scenario, "entities": ["Ana", "Ben", "Ana", "Cal"], "slots": ["Ana", "Ben", "North"]}
    assert written("scenario", twice).splitlines()[1:] == ["Entities: Ana, Ben, Cal", "Slots: 1, 2, 3"]
    kinds = {**twice, "slots": ["positions", "days", "Groups"]}  # the request's words, copied (run s9e)
    assert written("scenario", kinds).endswith("Slots: 1, 2, 3")
    kept = {**twice, "slots": ["North", "Ben", "South", "North"]}
    assert written("scenario", kept).endswith("Slots: North, South")
    numbered = {**kept, "entities": ["Ana", "Five", "Ben", "Cal", "Third"]}  # run s10a's "Five"
    assert written("scenario", numbered).splitlines()[1] == "Entities: Ana, Ben, Cal"
    sentence = ["The council voted 7 to 4 to lease the lot", "Ben", "Cal"]
    assert "short entity names" in problem("scenario", {**scenario, "entities": sentence})
    shapes = {t.name: t.content_shape for t in load_skills()["analytical_reasoning"].transformations}
    assert shapes == {"scenario_builder": "scenario"}


def test_a_short_row_is_padded_and_bad_structures_say_what_to_fix() -> None:
    assert written("table", [["a", "b"], ["1"], ["2", "3"]]).endswith("| 1 | - |\n| 2 | 3 |")
    assert "row(s) [2] have more: give every row one cell per header column" in problem(
        "table", [["a", "b"], ["1", "2", "3"], ["4", "5"]]
    )
    assert "has 1 data rows: give the header row, then at least 2" in problem("csv", [["a", "b"], ["1", "2"]])
    assert "one column" in problem("table", [["a"], ["1"], ["2"]])
    # the local model's "CSV": one record as key,value lines with no header (run s12a); a chart of it was
    # described as a "steady increase"
    record = [["date", "2022-09-15"], ["place", "Fenwick"], ["year", "2022"], ["amount", "1 pound"]]
    assert "first row holds values (2022-09-15), not column names" in problem("csv", record)
    assert "first row holds values ($300, 12.5%)" in problem(
        "table", [["k", "$300", "12.5%"], ["a", "b", "c"]] * 2
    )
    # a table with one column per year is a table
    assert written("csv", [["Item", "2020", "2021"], ["A", "12", "13"], ["B", "15", "16"]]).startswith(
        "Item,2020"
    )
    assert "it is not the facts as a list of [key, value] pairs" in problem("key_values", {"Name": "x"})
    assert "it is not the facts as a list of [subject, relation, object]" in problem(
        "triples", [["a", "b"]] * 3
    )
    assert "there are 2 distinct complete triples" in problem(
        "triples", [["a", "b", "c"], ["d", "e", "f"], ["g", "", "i"]]
    )
    # a fact given twice counts once: the local model repeated one triple 13 times (run s16)
    lamps = ["The Lighthouse", "features", "oil lamps"]
    assert "there are 2 distinct complete triples" in problem("triples", [lamps] * 13 + [["a", "b", "c"]])
    assert written("triples", [lamps, ["a", "b", "c"], [x.upper() for x in lamps], ["d", "e", "f"]]) == (
        "(The Lighthouse; features; oil lamps)\n(a; b; c)\n(d; e; f)"
    )
    assert written("key_values", [["Name", "x"], ["k", "v"], ["k", "v"], ["k", "w"]]) == "Name: x\nk: v\nk: w"
    assert "the record has 0 facts besides its name and type" in problem("json_record", {"name": "x"})
    # the local model's record: a name and a type, and no fact to write prose from
    bare = {"name": "Lighthouse at Carrick Point", "type": "place", "Opened": "1852"}
    assert "the record has 1 facts besides" in problem("json_record", bare)
    assert "it is not the record" in problem("json_record", [["a", "b"]])
    assert (
        "the mapping has no rule and 1 complete, distinct examples: give the rule in one sentence and at "
        "least 4" in problem("mapping", {"rule": " ", "examples": [["a", "b"], ["c", ""]]})
    )
    # the local model listed three examples twice over (run s13): repeats count once, and an input with two
    # outputs is no rule
    thrice = [["garden", "a nice thing"], ["home", "a necessary one"], ["solvents", "a contaminant"]]
    assert "3 complete, distinct examples" in problem("mapping", {"rule": "r", "examples": thrice * 2})
    clash = [*thrice, ["Garden", "a place"], ["tank", "a container"]]
    assert "the input 'Garden' has two outputs" in problem("mapping", {"rule": "r", "examples": clash})
    # the local model paired sentences of the seed with themselves
    echoes = [["Keepers lit the lamp.", "keepers lit  the lamp."], ["The lot is empty.", "The lot is empty."]]
    examples = [*echoes, ["Ada", "Ada"], ["1852", "19th century"]]
    assert "3 of the 4 examples give their input back as the output, so there is no rule" in problem(
        "mapping", {"rule": "r", "examples": examples}
    )
    assert written("mapping", {"rule": "r", "examples": [*echoes, ["1852", "19th"], ["1942", "20th"]]})
    # the local model mapped terms to whole sentences, which no answer matches word for word
    sentences = [["flats", "the parts of the town where people live and sleep at night"], *examples[2:]]
    assert "the outputs of examples [1] are longer than 8 words" in problem(
        "mapping", {"rule": "r", "examples": [*sentences, ["1942", "20th"], ["1900", "19th"]]}
    )


def test_a_text_reply_is_kept_and_a_decline_needs_no_structure() -> None:
    # a larger model, or an API without a grammar, may write the notation itself
    assert written("table", "| a | b |\n|---|---|\n| 1 | 2 |") == "| a | b |\n|---|---|\n| 1 | 2 |"
    declined = shaped_output("triples").model_validate(
        {"content": "-", "suitable": False, "reason": "no facts"}
    )
    assert declined.content == "-" and not declined.suitable
    with pytest.raises(ValueError, match="'content' is empty"):
        written("csv", "  ")


def test_the_request_asks_for_the_structure_only() -> None:
    schema = shaped_output("triples").request_schema()
    content = schema["properties"]["content"]
    assert content["type"] == "array" and content["minItems"] == 3
    assert content["items"] == {"type": "array", "minItems": 3, "maxItems": 3, "items": {"type": "string"}}
    assert list(schema["properties"]) == ["content", "suitable", "reason"]
    assert shaped_output("json_record").request_schema()["properties"]["content"]["type"] == "object"
    schema["properties"]["content"]["items"]["maxItems"] = 1  # a caller's own bounds stay its own
    assert shaped_output("triples").request_schema()["properties"]["content"]["items"]["maxItems"] == 3
    # the markers of content_must_contain_all are checked on the notation, after it is written
    rules = Transformation(
        name="table", description="a table", content_shape="table", content_must_contain_all=["Light"]
    )
    output = with_content_rules(shaped_output("table"), rules)
    assert output.request_schema()["properties"]["content"]["type"] == "array"
    assert "| Light |" in output.model_validate({"content": ROWS, "suitable": True}).content


def test_an_agent_asks_again_with_the_fix_and_the_skill_files_declare_their_shapes() -> None:
    replies = iter([{"content": [["a"], ["1"], ["2"]], "suitable": True, "reason": ""}, {"content": ROWS}])
    model = ScriptedModel(lambda request: next(replies))
    agent = Agent("table", "data_to_text/transformations/table.j2", BUNDLED_DIR, shaped_output("table"))
    result = asyncio.run(agent.run(model, {"seed": "Alder Creek opened in 1852."}, tag="t"))
    assert result.ok and result.output.content.startswith("| Light | Opened |")
    assert "the table has one column" in model.requests[1].messages[-1]["content"]
    assert model.requests[0].json_schema["schema"]["properties"]["content"]["type"] == "array"
    shapes = {t.name: t.content_shape for t in load_skills()["data_to_text"].transformations}
    assert shapes == {
        "table": "table",
        "csv": "csv",
        "json_record": "json_record",
        "key_value_list": "key_values",
        "knowledge_triples": "triples",
    }
    with pytest.raises(ValueError, match="remove `content_shape` or drop `verbatim`"):
        Transformation(name="identity", description="the seed", verbatim=True, content_shape="table")


def test_the_grammar_names_each_entity_with_one_capitalised_word() -> None:
    """The local model ran words together as entities ("MillLaneGrow", run s10a) while the grammar let it."""
    import jsonschema

    from agentinstruct.flows.shaped_content import ENTITY_NAMES_SCHEMA

    jsonschema.validate(["Ann", "Mill", "North"], ENTITY_NAMES_SCHEMA)
    for bad in (["Ann", "Mill", "MillLaneGrow"], ["Ann", "Mill", "north"], ["Ann", "Mill", "Ed Smith"]):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, ENTITY_NAMES_SCHEMA)


def test_notes_are_kind_and_line_and_not_passages() -> None:
    """brain_teaser's concept notes: as text, the local model gave back the seed or its prompt's line."""
    notes = [
        {"kind": "Thing", "note": "the lighthouse at Carrick Point, squat, 18 metres high"},
        {"kind": "Fact or quantity:", "note": "twelve oil lamps in 1795"},
        {"kind": "Person or role", "note": "Agnes Rowe, who built it"},
        {"kind": "Thing", "note": "the lighthouse at Carrick Point, squat, 18 metres high"},  # twice
        {"kind": "Word", "note": "Skerrach, the reef"},
    ]
    assert written("notes", notes).splitlines() == [
        "Thing: the lighthouse at Carrick Point, squat, 18 metres high",
        "Fact or quantity: twelve oil lamps in 1795",
        "Person or role: Agnes Rowe, who built it",
        "Word: Skerrach, the reef",
    ]
    assert "there are 3 notes: give 4 to 12" in problem("notes", notes[:3])
    passage = {"kind": "Process", "note": " ".join(["word"] * 41)}
    assert "is a passage" in problem("notes", [*notes, passage])
    assert "it is not the notes as a list of {kind, note} objects" in problem("notes", {"kind": "Thing"})
    asked = shaped_output("notes").request_schema()["properties"]["content"]
    assert asked["type"] == "array" and asked["items"]["properties"]["note"]["maxLength"] == 240


def _arrays(schema: object, path: str = "") -> list[tuple[str, dict]]:
    """Every array schema inside a schema, with where it is."""
    found = []
    if isinstance(schema, dict):
        if schema.get("type") == "array":
            found.append((path, schema))
        for key, value in schema.items():
            found += _arrays(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            found += _arrays(value, f"{path}/{index}")
    return found


def test_every_list_of_a_shaped_content_has_a_cap_the_grammar_closes_it_at() -> None:
    # the local model repeated one example of a coding task until its 1,024 tokens ran out (run s12a)
    for shape, (schema, _, _) in SHAPES.items():
        uncapped = [path or "/" for path, array in _arrays(schema) if "maxItems" not in array]
        assert not uncapped, (shape, uncapped)


def test_a_transcript_is_written_as_speaker_lines_after_its_opening() -> None:
    # run s16: asked for a debate as text, the local model described one; as turns it must write them
    turns = [{"speaker": "Ann", "says": "The lease is cheap."}, {"speaker": "Bo", "says": "Not for long."}]
    more = [{"speaker": ["Ann", "Bo"][n % 2], "says": f"Point {n}."} for n in range(4)]
    text = written("turns", {"opening": "Motion: keep the garden", "turns": [*turns, *more]})
    assert text.splitlines()[:3] == [
        "Motion: keep the garden",
        "Ann: The lease is cheap.",
        "Bo: Not for long.",
    ]
    assert written("turns", {"opening": " -", "turns": [*turns, *more]}).count("\n") == 5
    # words said before are no new turn (a probe: one sentence given to both debaters five times over)
    repeated = [turns[0], turns[0], turns[1], {"speaker": "Ann", "says": "not for LONG."}, turns[0], turns[1]]
    assert "has 2 distinct turns by 2 speaker(s)" in problem("turns", {"opening": "", "turns": repeated})
    # ...nor a turn that mostly repeats one (a probe's meeting ended in eight such turns)
    echo = (
        "I agree with you as well. We should also look into the effects of different types of {} on recall."
    )
    echoes = [{"speaker": ["Ann", "Bo"][n % 2], "says": echo.format(kind)} for n, kind in enumerate("ab")]
    varied = [*turns, *more, *echoes, {"speaker": "Bo", "says": echo.format("sleep disturbance")}]
    assert written("turns", {"opening": "", "turns": varied}).count("\n") == 6
    alone = [{"speaker": "Ann", "says": f"Point {n}."} for n in range(6)] + [turns[1]]
    assert "at least two people each speak 2 times" in problem("turns", {"opening": "", "turns": alone})
    speech = {"speaker": "Ann", "says": "word " * 91}
    assert "turns [1] are longer than 90 words" in problem(
        "turns", {"opening": "", "turns": [speech, *turns, *more]}
    )
    assert "it is not the transcript: its opening line" in problem("turns", turns * 3)
    shapes = {t.name: t.content_shape for t in load_skills()["reading_comprehension"].transformations}
    assert [n for n, shape in shapes.items() if shape == "turns"] == [
        "debate_transcript",
        "conversation",
        "meeting_transcript",
    ]


def test_a_debate_agent_that_repeats_itself_is_asked_again_and_its_turns_become_lines() -> None:
    """A probe's debate gave one sentence to both debaters five times: the agent is told, and asked again."""
    said = "The soil test is needed in either case."
    looped = [{"speaker": ["Gareth", "Ana"][n % 2], "says": said} for n in range(7)]
    debate = [
        {"speaker": "Gareth", "says": "Sell the lot: it brings 400,000 pounds and eighteen homes."},
        {"speaker": "Ana", "says": "A garden costs the council less than mowing the lot."},
        {"speaker": "Gareth", "says": "Families in temporary accommodation need homes, not beds."},
        {"speaker": "Ana", "says": "A contaminated lot would sell for far less than that estimate."},
        {"speaker": "Gareth", "says": "Then test the soil before anything is decided."},
        {"speaker": "Ana", "says": "Agreed: the soil test is needed in either case."},
    ]
    replies = iter(
        [
            {"content": {"opening": "Motion: sell the lot", "turns": looped}, "suitable": True, "reason": ""},
            {"content": {"opening": "Motion: sell the lot", "turns": debate}, "suitable": True, "reason": ""},
        ]
    )
    model = ScriptedModel(lambda request: next(replies))
    skill = load_skills()["reading_comprehension"]
    [transformation] = [t for t in skill.transformations if t.name == "debate_transcript"]
    output = with_content_rules(shaped_output(transformation.content_shape), transformation)
    agent = Agent(transformation.name, skill.transformation_prompt(transformation), skill.directory, output)
    result = asyncio.run(agent.run(model, {"seed": "The Mill Lane lot may be sold."}, tag="t"))
    assert result.ok, result.reason
    lines = result.output.content.splitlines()
    assert (
        lines[0] == "Motion: sell the lot" and lines[1].startswith("Gareth: Sell the lot") and len(lines) == 7
    )
    assert "the transcript has 1 distinct turns by 1 speaker(s)" in model.requests[1].messages[-1]["content"]
    assert model.requests[0].json_schema["schema"]["properties"]["content"]["properties"]["turns"]["maxItems"]


def test_a_transcript_written_as_text_is_held_to_the_same_rules() -> None:
    # run s18: "The objections" alone was a local debate transcript, and a pair was built on it
    assert "has 0 distinct turns by 0 speaker(s)" in problem("turns", "The objections")
    text = "Motion: sell the lot\nAnn: The lease is cheap.\n(Applause)\n" + "\n".join(
        f"{['Bo', 'Ann'][n % 2]}: Point {n}." for n in range(5)
    )
    assert written("turns", text) == (
        "Motion: sell the lot\nAnn: The lease is cheap.\nBo: Point 0.\nAnn: Point 1.\nBo: Point 2.\n"
        "Ann: Point 3.\nBo: Point 4."
    )  # narration is left out
    assert written("turns", text.replace("Motion: sell the lot\n", "")).startswith("Ann: The lease")


def test_a_fact_the_text_does_not_give_is_left_out_of_the_data() -> None:
    # run s18: "Location: not specified" and "Award: not mentioned" became "an unspecified location" in prose
    facts = [["Name", "Councillor Pryce"], ["Location", "not specified"], ["Event", "Lease review"]]
    facts += [["Outcome", "site reconsidered"], ["Award", "Not mentioned."], ["Date", "n/a"]]
    assert (
        written("key_values", facts)
        == "Name: Councillor Pryce\nEvent: Lease review\nOutcome: site reconsidered"
    )
    record = {"name": "Alder Creek", "opened": 1852, "keeper": "unknown", "closed": None, "lamp": "oil"}
    assert '"keeper"' not in written("json_record", record) and '"closed"' not in written(
        "json_record", record
    )
    triples = [
        ["Ada", "kept", "the lamp"],
        ["Ada", "born in", "not stated"],
        ["Bo", "kept", "it"],
        ["C", "d", "e"],
    ]
    assert "not stated" not in written("triples", triples)
