"""Puzzles written as data (`task_shape: arrangement`): code writes the question, key and solver program.

The puzzle code writes is verified by `unique_solution` in the real sandbox (its program finds exactly the
key, and a teacher who gives another letter fails); a structure that cannot make a fair puzzle is sent back
with the reason (names that are not one word, too many arrangements), while a rule that cannot stand (it
never bites, contradicts the others, is not an expression over the entities) is left out and code adds
rules until there are three; the flow asks the local model for the structure alone, and a
larger model's text puzzle still passes through.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from agentinstruct.flows import FlowSettings, SkillFlow
from agentinstruct.flows.arrangements import (
    SETUP_LIMIT,
    arrangement_fields,
    arrangement_puzzle,
    parse_arrangement,
    with_split_names_renamed,
)
from agentinstruct.flows.resources import FlowResources, build_tools
from agentinstruct.models import ModelRequest, ScriptedModel
from agentinstruct.quality.checks import Candidate
from agentinstruct.quality.execution import unique_solution
from agentinstruct.skills import load_skills
from test_flows import ListSink, make_seed

pytestmark = pytest.mark.timeout(180)

ORDER = {
    "setup": "Five keepers each take one night of the watch at Carrick Point, nights 1 to 5.",
    "entities": ["Ada", "Bo", "Cy", "Di", "Ed"],
    "slots": ["1", "2", "3", "4", "5"],
    "one_each": True,
    "rules": [
        {"text": "Ada watches before Bo.", "check": "Ada < Bo"},
        {"text": "Cy does not watch on night 5.", "check": "Cy != 5"},
        {"text": "Di watches the night right after Ed.", "check": "Di == Ed + 1"},
        {"text": "Bo does not watch on night 1.", "check": "Bo != 1"},
    ],
}
GROUPS = {
    "setup": "Four volunteers join the North or the South team for the garden clean-up.",
    "entities": ["Ann", "Ben", "Cal", "Dee"],
    "slots": ["North", "South"],
    "one_each": False,
    "rules": [
        {"text": "Ann and Ben are on different teams.", "check": "Ann != Ben"},
        {"text": "Cal is on North.", "check": "Cal == 'North'"},
        {"text": "If Dee is on North, Ann is on South.", "check": "Dee != 'North' or Ann == 'South'"},
        {"text": "The South team has at most two members.", "check": "count('South') <= 2"},
    ],
}


@pytest.fixture(scope="module")
def tools():
    return build_tools(["python"], None)  # the process-wide default sandbox: shared, never closed here


def verified(puzzle: str, key: str, program: str, answer: str, tools):
    details = {"answer_key": key, "solver_program": program}
    item = Candidate(
        "analytical_reasoning", "ordering", "", puzzle, answer, False, details=details, tools=tools
    )
    return asyncio.run(unique_solution(item))


@pytest.mark.parametrize("data", [ORDER, GROUPS], ids=["ordering", "grouping"])
def test_the_written_puzzle_has_one_answer_the_key_and_its_program_says_so(data, tools) -> None:
    puzzle, key, program = arrangement_puzzle(parse_arrangement(data))
    assert (puzzle, key, program) == arrangement_puzzle(parse_arrangement(data)), "reproducible"
    assert puzzle.startswith(data["setup"]) and all(r["text"] in puzzle for r in data["rules"])
    options = [line for line in puzzle.splitlines() if line[:1] == "(" and line[2:4] == ") "]
    assert [o[:3] for o in options] == ["(A)", "(B)", "(C)", "(D)", "(E)"]
    good = verified(puzzle, key, program, f"Each other option breaks a rule.\nAnswer: {key}", tools)
    assert good.ok, good.detail
    assert f"exactly 1 solution ({key})" in good.detail
    other = "A" if key != "A" else "B"
    wrong = verified(puzzle, key, program, f"Answer: {other}", tools)
    assert not wrong.ok and f"the teacher answered {other}" in wrong.detail


def test_orders_read_as_sequences_and_groups_by_slot() -> None:
    order, _, _ = arrangement_puzzle(parse_arrangement(ORDER))
    assert "could be the order, from 1 to 5?" in order and "(no two of them the same)" in order
    assert all(o.count(",") == 4 for o in order.splitlines() if o.startswith("(") and o[2] == ")")
    groups, _, _ = arrangement_puzzle(parse_arrangement(GROUPS))
    assert "could be the complete arrangement?" in groups and "(several may share one)" in groups
    assert all("North: " in o and "; South: " in o for o in groups.splitlines() if o.startswith("(A)"))


def test_each_wrong_option_breaks_a_rule_and_they_break_different_ones() -> None:
    arrangement = parse_arrangement(ORDER)
    _, key, program = arrangement_puzzle(arrangement)
    options = json.loads(
        "{"
        + program.split("OPTIONS = {")[1]
        .split("}")[0]
        .replace("'", '"')
        .replace("(", "[")
        .replace(")", "]")
        .rstrip()
        .rstrip(",")
        + "}"
    )
    broken = {letter: arrangement.broken(tuple(o)) for letter, o in options.items()}
    assert broken.pop(key) == []
    assert all(broken.values()) and len({tuple(b) for b in broken.values()}) >= 3


def test_small_slips_are_read_as_meant() -> None:
    """Bare slot words ("Cal == North") are the slots; one_each with too few slots means sharing; a
    condition written "if ... then ..." (s44's teacher) is not (if-part) or (then-part)."""
    quoted, _, _ = arrangement_puzzle(parse_arrangement(GROUPS))
    bare = with_rules(GROUPS, *[(r["text"], r["check"].replace("'", "")) for r in GROUPS["rules"]])
    assert arrangement_puzzle(parse_arrangement(bare))[0] == quoted
    sentence = "If Bo is not on night 1, then Cy is not on night 2."
    worded = parse_arrangement(with_rules(ORDER, (sentence, "if Bo != 1, then Cy != 2")))
    assert [r.check for r in worded.rules] == ["not Bo != 1 or Cy != 2"]
    shared = {**ORDER, "slots": ["1", "2", "3", "4"]}
    assert not parse_arrangement(shared).one_each


def with_rules(data: dict, *rules: tuple[str, str], **changes: object) -> dict:
    return {**data, **changes, "rules": [{"text": t, "check": c} for t, c in rules] or data["rules"]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**ORDER, "entities": ["Ada", "Bo", "Cy", "Di", "Ed Smith"]}, "not one-word names"),
        ({**ORDER, "entities": ["Ada", "Ada", "Cy", "Di", "Ed"]}, "each named once"),
        ({**GROUPS, "slots": ["Ann", "Ben", "North"]}, "the slots repeat entity names"),
        ({**GROUPS, "slots": ["positions", "days", "groups"]}, "name kinds of slot"),
        # the local model's grouping cast (run s10a): words run together, and a number as an entity
        ({**ORDER, "entities": ["Ada", "Bo", "Cy", "Di", "MillLane"]}, "not one-word names"),
        ({**ORDER, "entities": ["Ada", "Bo", "Cy", "Di", "Five"]}, "entities ['Five'] are numbers"),
    ],
)
def test_a_structure_that_cannot_make_a_fair_puzzle_is_sent_back(data, message) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        arrangement_puzzle(parse_arrangement(data))


def test_a_setup_cut_off_by_the_length_limit_ends_with_its_last_whole_sentence() -> None:
    # the grammar's limit cut the local model's setup off mid-sentence and the puzzle opened with it (s11c)
    whole = "Five keepers each take one night of the watch at Carrick Point, nights 1 to 5."
    cut = f"{whole} {'The keepers agreed on a rota that kept the lamp lit through the storms of the ' * 6}"
    cut = cut[:SETUP_LIMIT]
    puzzle, _, _ = arrangement_puzzle(parse_arrangement({**ORDER, "setup": cut}))
    assert puzzle.startswith(f"{whole}\n\n")
    # a short setup only lacking its full stop gets one; one cut off with no whole sentence is sent back
    assert parse_arrangement({**ORDER, "setup": "Five keepers share the watch"}).setup.endswith("watch.")
    with pytest.raises(ValueError, match="cut off"):
        parse_arrangement({**ORDER, "setup": "word " * (SETUP_LIMIT // 5)})


def test_too_many_arrangements_are_brought_within_reach() -> None:
    """The local model shared 7 slots among 7 entities (823,543 arrangements)."""
    seven = {
        **ORDER,
        "entities": [*ORDER["entities"], "Fay", "Gus"],
        "slots": [*"1234567"],
        "one_each": False,
    }
    own = parse_arrangement(seven)
    assert own.one_each and own.total() == 5040 and "each takes its own" in own.dropped[0]
    five_shared = with_rules(seven, ("Gus is not on night 1.", "Gus != 1"), slots=[*"12345"])
    fewer = parse_arrangement(five_shared)
    assert fewer.entities == ("Ada", "Bo", "Cy", "Di", "Ed", "Fay") and fewer.total() == 5**6
    assert "entity Gus" in fewer.dropped[0] and "'Gus'], which are not entities" in fewer.dropped[1]
    puzzle, _, program = arrangement_puzzle(fewer)
    assert "Gus" not in puzzle and program.count("(written by code)") == 3


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (("Ada is early.", "Ada < 9"), "holds in every arrangement"),
        (("Bo watches before Ada.", "Bo < Ada"), "no arrangement obeys it together with the rules before"),
        (("Bo is real.", "Bo.real > 1"), "cannot be used"),
        (("Bo imports.", "__import__('os')"), "cannot be used"),
        (("Zed is not first.", "Zed != 1"), "['Zed'], which are not entities"),
        (("Bo is before.", "Bo <"), "not a Python expression"),
        (("Bo is before x.", "Bo < 'x'"), "fails when evaluated"),
        (("Cy takes 2.", "Cy == '2'"), "holds in no arrangement"),
        (("Agnes writes training data.", "Ada == 1"), "uses an entity the sentence does not name"),
        (("Cy is on North.", "Cy == North or Cy == Wet"), "'Wet'], which are not entities"),
        # run s18: "The Growers can be on the 5th day." checked as `Growers == 5`
        (("Bo can be on night 2.", "Bo == 2"), "it says what may be, not what must be"),
        # run s18: "If Carrick is not in position 1, then Skerrach is not in position 2." checked with `and`
        (("If Bo is not on night 1, then Cy is not on night 2.", "Bo != 1 and Cy != 2"), "is no condition"),
    ],
)
def test_a_rule_that_cannot_stand_is_left_out_and_code_adds_one(bad, reason, tools) -> None:
    """The local model's unsound rules are dropped with the reason; code's rules make up the three."""
    data = with_rules(
        ORDER, ("Ada watches before Bo.", "Ada < Bo"), bad, ("Cy is not on night 5.", "Cy != 5")
    )
    puzzle, key, program = arrangement_puzzle(parse_arrangement(data))
    assert bad[0] not in puzzle and "Ada watches before Bo." in puzzle and "Cy is not on night 5." in puzzle
    assert "\n3. " in puzzle and "\n4. " not in puzzle  # two that stand and one written by code
    left_out = [line for line in program.splitlines() if line.startswith("# left out: ")]
    assert len(left_out) == 1 and reason in left_out[0], left_out
    assert program.count("(written by code)") == 1
    good = verified(puzzle, key, program, f"Answer: {key}", tools)
    assert good.ok, good.detail


def test_code_writes_every_rule_when_none_stands_and_the_puzzle_still_has_one_answer(tools) -> None:
    """A reply whose rules are all facts (the local model's s7e/p8b replies) still makes a sound puzzle."""
    facts = [("The light was lit in 1790.", "Ada == 'lit'"), ("Bo is a keeper.", "Bo == Bo")]
    for data in (with_rules(ORDER, *facts), with_rules(GROUPS, *facts, entities=["Ada", "Bo", "Cy", "Di"])):
        arrangement = parse_arrangement(data)
        puzzle, key, program = arrangement_puzzle(arrangement)
        assert puzzle == arrangement_puzzle(arrangement)[0], "reproducible"
        assert program.count("(written by code)") == 3 and program.count("# left out: ") == 2
        assert verified(puzzle, key, program, f"Answer: {key}", tools).ok


def test_rules_that_each_place_one_entity_get_a_rule_that_relates_two(tools) -> None:
    """The local model's four rules each fixed one entity's day (run s9b): code adds a relation."""
    placed = [
        (f"{name} watches on night {n}.", f"{name} == {n}") for n, name in ((1, "Ada"), (2, "Bo"), (4, "Di"))
    ]
    arrangement = parse_arrangement(with_rules(ORDER, *placed))
    puzzle, key, program = arrangement_puzzle(arrangement)
    assert program.count("(written by code)") == 1
    [added] = [line for line in program.splitlines() if "(written by code)" in line]
    assert sum(name in added for name in ORDER["entities"]) == 2, added
    assert verified(puzzle, key, program, f"Answer: {key}", tools).ok


def test_order_functions_read_as_written_and_the_program_defines_them(tools) -> None:
    worded = [
        ("Di watches the night right after Ed.", "immediately_after(Di, Ed)"),
        ("Ada watches before Bo.", "before(Ada, Bo)"),
        ("Cy and Ada are not next to each other.", "not next_to(Cy, Ada)"),
    ]
    arrangement = parse_arrangement(with_rules(ORDER, *worded))
    assert not arrangement.dropped
    puzzle, key, program = arrangement_puzzle(arrangement)
    assert "def immediately_after(a, b):" in program and "def after(a, b):" not in program
    assert verified(puzzle, key, program, f"Answer: {key}", tools).ok


def arranged_reply(puzzle: object, teacher_letter: str | None = None):
    """Scripted agents: the instruction agent writes `puzzle`; the teacher answers the key it reads."""

    def reply(request: ModelRequest) -> object:
        stage = request.tag.split("/")[1]
        if stage == "transform":
            return {"content": "Setting: a watch.\nEntities: Ada, Bo, Cy", "suitable": True, "reason": ""}
        if stage == "instruct":
            return {"puzzle": puzzle, "suitable": True, "reason": ""}
        assert stage == "teacher", request.tag
        if not any("Result of python" in str(m.get("content")) for m in request.messages):
            return {"action": "call", "tool": "python", "arguments": {"code": "print(5 * 4)"}}
        return {
            "action": "answer",
            "answer": f"Checking each option against the rules.\nAnswer: {teacher_letter}",
        }

    return reply


def run_ordering(model: ScriptedModel, tools, kind: str = "ordering") -> ListSink:
    """One seed through analytical_reasoning with a single instruction type (ordering by default)."""
    skill = load_skills()["analytical_reasoning"]
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name[kind]]})
    sink = ListSink()
    flow = SkillFlow(
        single, model, sink, FlowSettings(refinement_rounds=0), resources=FlowResources(tools=tools)
    )
    asyncio.run(flow.run_seed(make_seed(0, "Five keepers share the watch at Carrick Point."), 0))
    return sink


def test_the_flow_asks_for_the_structure_and_keeps_the_verified_puzzle(tools) -> None:
    _, key, _ = arrangement_puzzle(parse_arrangement(ORDER))
    model = ScriptedModel(arranged_reply(ORDER, key))
    sink = run_ordering(model, tools)
    [ask] = [r for r in model.requests if "/instruct/" in r.tag]
    properties = ask.json_schema["schema"]["properties"]
    assert list(properties) == ["puzzle", "suitable", "reason"]  # the key and program are code's
    assert properties["puzzle"]["properties"]["rules"]["items"]["required"] == ["text", "check"]
    assert "solver_program" not in ask.messages[-1]["content"]
    [pair] = sink.pairs
    assert pair.messages[1]["content"].startswith(ORDER["setup"]) and "(E) " in pair.messages[1]["content"]
    assert pair.verification.status == "passed"
    fields = pair.lineage.seed_instruction.fields
    assert fields["answer_key"] == key and fields["solver_program"].startswith("import itertools")


def test_a_structure_without_a_fair_puzzle_goes_back_before_any_teacher_call(tools) -> None:
    unnamed = {**ORDER, "entities": ["Ada", "Bo", "Cy", "Di", "Ed Smith"]}
    replies = iter([unnamed, ORDER])
    _, key, _ = arrangement_puzzle(parse_arrangement(ORDER))
    base = arranged_reply(None, key)

    def reply(request: ModelRequest) -> object:
        if "/instruct/" in request.tag:
            return {"puzzle": next(replies), "suitable": True, "reason": ""}
        return base(request)

    model = ScriptedModel(reply)
    sink = run_ordering(model, tools)
    asks = [r for r in model.requests if "/instruct/" in r.tag]
    assert len(asks) == 2 and "not one-word names" in asks[1].messages[-1]["content"]
    assert len(sink.pairs) == 1


def test_a_puzzle_written_as_text_keeps_its_own_key_and_program(tools) -> None:
    from test_skill_analytical_reasoning import PROGRAM, PUZZLE

    def reply(request: ModelRequest) -> object:
        if "/instruct/" in request.tag:
            fields = {"answer_key": "A", "solver_program": PROGRAM}
            return {"puzzle": PUZZLE, **fields, "suitable": True, "reason": ""}
        return arranged_reply(None, "A")(request)

    sink = run_ordering(ScriptedModel(reply), tools)
    [pair] = sink.pairs
    assert pair.messages[1]["content"] == PUZZLE and pair.verification.status == "passed"


def test_entities_that_the_material_writes_as_one_name_are_renamed() -> None:
    # runs s16 and s32 arranged "Councillor", "Deborah" and "Mwangi", one councillor, as three entities, and
    # sent back the local model returned the same entities three times in a row
    material = "Setting: the council meeting\nEntities: Councillor Deborah Mwangi, Gareth Pryce, Priya Ansel"
    rules = [
        {"text": "Councillor watches before Gareth.", "check": "Councillor < Gareth"},
        {"text": "Deborah is not first.", "check": "Deborah != 1"},
    ]
    split = {**ORDER, "entities": ["Councillor", "Deborah", "Mwangi", "Gareth", "Priya"], "rules": rules}
    renamed = with_split_names_renamed(split, material)
    assert renamed["entities"] == ["Nora", "Owen", "Mwangi", "Gareth", "Priya"]
    assert renamed["rules"][0] == {"text": "Nora watches before Gareth.", "check": "Nora < Gareth"}
    assert renamed["rules"][1]["check"] == "Owen != 1" and split["rules"][0]["check"] == "Councillor < Gareth"
    fields = arrangement_fields(split, material)
    assert fields["answer_key"] and "Councillor" not in fields["task"] and "Nora" in fields["task"]
    # entities the material writes apart are left as they are
    apart = {**ORDER, "entities": ["Deborah", "Gareth", "Priya", "Ed", "Cy"], "rules": rules[1:]}
    assert with_split_names_renamed(apart, material)["entities"] == apart["entities"]


@pytest.mark.parametrize(
    ("text", "permits"),
    [
        ("The Growers can be on the 5th day.", True),
        ("If Ann is first, Ben may be second.", True),
        ("Cy could sit next to Di.", True),
        ("Ann can only be on the 5th day.", False),
        ("Only Ann may go first.", False),
        ("Ben cannot take 4.", False),
        ("Ben can't take 4.", False),
        ("Ann must sit before Ben.", False),
        ("Ann is before Ben.", False),
    ],
)
def test_a_sentence_that_only_permits_is_told_apart_from_a_rule(text: str, permits: bool) -> None:
    from agentinstruct.flows.arrangement_rules import permits_only

    assert permits_only(text) == permits


@pytest.mark.parametrize(
    ("check", "misread"),
    [
        ("Bo != 1 and Cy != 2", True),
        ("Cy != 2", True),
        ("Bo == 1 or Cy != 2", False),
        ("not (Bo != 1 and Cy == 2)", False),
        ("(Bo != 1) <= (Cy != 2)", False),
        ("(Cy != 2) if Bo != 1 else True", False),
    ],
)
def test_a_conditional_rule_needs_a_check_that_is_a_condition(check: str, misread: bool) -> None:
    from agentinstruct.flows.arrangement_rules import conditional_misread

    assert conditional_misread("If Bo is not on night 1, then Cy is not on night 2.", check) == misread
    assert not conditional_misread("Bo is not on night 1 and Cy is not on night 2.", check)


def test_a_repeated_rule_is_left_out() -> None:
    # s36 stated "Deborah should not be assigned to the same day as the 7th slot" as rules 1 and 3
    repeated = [*ORDER["rules"][:2], {"text": "Cy does not watch on night 5.", "check": "Cy  !=  5"}]
    repeated.append(
        {"text": "Ada watches before Bo.", "check": "Bo > Ada"}
    )  # the same sentence, reworded check
    fields = arrangement_fields({**ORDER, "rules": repeated})
    assert fields["task"].count("Cy does not watch on night 5.") == 1
    assert fields["task"].count("Ada watches before Bo.") == 1
    assert fields["solver_program"].count("it repeats a rule before it") == 2
