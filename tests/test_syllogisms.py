"""Syllogisms written as data (`task_shape: syllogism`): code decides what follows and writes the puzzle.

Each quantifier evaluated on worlds built from individuals (with no existential import for "all"); the
classic valid moods follow and the classic fallacies do not, on every Venn-region world; structures with
no conclusion that follows, several, or one that follows only if every category has members are sent back
with how to fix them (the conclusion code offers does fix it); the puzzle, its options, key and solver
program agree, verified by `unique_solution` in the real sandbox for 3 and 4 categories; the request asks
for the structure alone under the grammar's bounds; and the flow, with a scripted model, keeps the verified
puzzle and rejects a teacher who picks another option.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from agentinstruct.agent_outputs import InstructionOutput
from agentinstruct.flows.outputs import with_skill_fields
from agentinstruct.flows.resources import build_tools
from agentinstruct.flows.syllogisms import (
    CATEGORY_PATTERN,
    QUANTIFIERS,
    Statement,
    Syllogism,
    parse_syllogism,
    syllogism_fields,
)
from agentinstruct.flows.task_shapes import task_shaped
from agentinstruct.models import ScriptedModel
from agentinstruct.quality.checks import Candidate
from agentinstruct.quality.execution import unique_solution
from keyed_skills_support import environment, load
from test_arrangements import arranged_reply, run_ordering
from test_truth_tellers import shaped_reply_problem

pytestmark = pytest.mark.timeout(180)

SETTING = "At the Carrick Point fair, a guide describes the crowd on the quay."


def st(quantifier: str, subject: str, predicate: str) -> dict:
    return {"quantifier": quantifier, "subject": subject, "predicate": predicate}


#: all keepers are sailors, no sailors are farmers: no keepers are farmers follows, nothing else listed
PUZZLE = {
    "setting": SETTING,
    "categories": ["keepers", "sailors", "farmers"],
    "premises": [st("all", "keepers", "sailors"), st("no", "sailors", "farmers")],
    "conclusions": [
        st("some", "keepers", "farmers"),
        st("no", "keepers", "farmers"),
        st("all", "sailors", "keepers"),
        st("some", "farmers", "sailors"),
    ],
}
FOUR = {
    **PUZZLE,
    "categories": ["keepers", "sailors", "farmers", "singers"],
    "premises": [*PUZZLE["premises"], st("some", "singers", "keepers")],
    "conclusions": [
        st("some", "singers", "farmers"),
        st("all", "singers", "sailors"),
        st("some_not", "singers", "farmers"),
        st("no", "singers", "keepers"),
        st("all", "farmers", "singers"),
    ],
}


@pytest.fixture(scope="module")
def tools():
    return build_tools(["python"], None)  # the process-wide default sandbox: shared, never closed here


def verified(fields: dict[str, str], answer: str, tools):
    details = {"answer_key": fields["answer_key"], "solver_program": fields["solver_program"]}
    item = Candidate(
        "analytical_reasoning", "syllogism", "", fields["task"], answer, False, details=details, tools=tools
    )
    return asyncio.run(unique_solution(item))


def syllogism(*premises: dict) -> Syllogism:
    """A structure over the categories a, b and c with these premises (all a are b, all b are c if none)."""
    data = {
        "categories": ["a", "b", "c"],
        "premises": list(premises) or [st("all", "a", "b"), st("all", "b", "c")],
        "conclusions": [st(q, "c", "a") for q in QUANTIFIERS],
    }
    return parse_syllogism({**PUZZLE, **data})


#: (quantifier, the individuals of a world as their categories, holds), worked out by hand
WORLDS = [
    ("all", [{"a", "b"}, {"b"}], True),
    ("all", [{"a"}, {"a", "b"}], False),
    ("all", [{"b"}, {"c"}], True),  # no a at all: "all a are b" assumes none exist (no existential import)
    ("no", [{"a"}, {"b"}], True),
    ("no", [{"a", "b", "c"}], False),
    ("no", [], True),
    ("some", [{"a", "b"}, {"c"}], True),
    ("some", [{"a"}, {"b"}], False),
    ("some", [], False),
    ("some_not", [{"a", "c"}], True),
    ("some_not", [{"a", "b"}, {"b"}], False),
    ("some_not", [{"b"}], False),
]


def test_every_quantifier_is_worked_out_here() -> None:
    assert {q for q, *_ in WORLDS} == set(QUANTIFIERS)


@pytest.mark.parametrize(("quantifier", "individuals", "holds"), WORLDS)
def test_each_quantifier_is_true_exactly_when_it_should_be(quantifier, individuals, holds) -> None:
    puzzle = syllogism()
    world = puzzle.world(*individuals)
    assert puzzle.holds(Statement(quantifier, "a", "b"), world) is holds


def test_statements_read_as_sentences() -> None:
    words = [Statement(q, "keepers", "sailors").words() for q in QUANTIFIERS]
    assert words == [
        "All keepers are sailors.",
        "No keepers are sailors.",
        "Some keepers are sailors.",
        "Some keepers are not sailors.",
    ]


#: (premises, conclusion, follows): the classic moods and fallacies, with a, b, c for the terms
MOODS = [
    ([("all", "a", "b"), ("all", "b", "c")], ("all", "a", "c"), True),  # Barbara
    ([("no", "b", "c"), ("all", "a", "b")], ("no", "a", "c"), True),  # Celarent
    ([("all", "b", "c"), ("some", "a", "b")], ("some", "a", "c"), True),  # Darii
    ([("no", "b", "c"), ("some", "a", "b")], ("some_not", "a", "c"), True),  # Ferio
    ([("all", "c", "b"), ("some_not", "a", "b")], ("some_not", "a", "c"), True),  # Baroco
    ([("some", "a", "b"), ("all", "c", "b")], ("some", "b", "a"), True),  # conversion of "some"
    ([("all", "a", "b"), ("all", "c", "b")], ("all", "a", "c"), False),  # undistributed middle
    ([("all", "a", "b"), ("no", "b", "c")], ("all", "b", "a"), False),  # illicit conversion
    ([("some", "a", "b"), ("some", "b", "c")], ("some", "a", "c"), False),
    ([("all", "a", "b"), ("no", "a", "c")], ("no", "b", "c"), False),  # illicit major
    ([("all", "a", "b"), ("all", "b", "c")], ("some", "a", "c"), False),  # Barbari needs existential import
]


@pytest.mark.parametrize(("premises", "conclusion", "follows"), MOODS)
def test_a_conclusion_follows_exactly_when_no_world_of_the_premises_breaks_it(
    premises, conclusion, follows
) -> None:
    puzzle = syllogism(*(st(*p) for p in premises))
    assert puzzle.follows(Statement(*conclusion), puzzle.worlds()) is follows


def test_with_existential_import_barbari_follows_but_the_fallacies_still_do_not() -> None:
    barbara = syllogism(st("all", "a", "b"), st("all", "b", "c"))
    populated = barbara.populated(barbara.worlds())
    assert barbara.follows(Statement("some", "a", "c"), populated)
    middle = syllogism(st("all", "a", "b"), st("all", "c", "b"))
    assert not middle.follows(Statement("all", "a", "c"), middle.populated(middle.worlds()))


@pytest.mark.parametrize(
    ("data", "answer"),
    [(PUZZLE, "No keepers are farmers."), (FOUR, "Some singers are not farmers.")],
    ids=["three_categories", "four_categories"],
)
def test_the_written_puzzle_has_one_answer_the_key_and_its_program_says_so(data, answer, tools) -> None:
    fields = syllogism_fields(data)
    assert fields == syllogism_fields(data), "reproducible"
    task, key = fields["task"], fields["answer_key"]
    assert task.startswith(SETTING) and "\n1. All keepers are sailors.\n2. No sailors are farmers.\n" in task
    assert "If these statements are true, which one of the following must also be true?" in task
    options = dict(re.findall(r"^\(([A-E])\) (.+)$", task, re.M))
    assert sorted(options.values()) == sorted(Statement(**c).words() for c in data["conclusions"])
    assert options[key] == answer
    good = verified(fields, f"Every keeper is a sailor, and...\nAnswer: {key}", tools)
    assert good.ok and f"exactly 1 solution ({key})" in good.detail, good.detail
    other = "A" if key != "A" else "B"
    wrong = verified(fields, f"Answer: {other}", tools)
    assert not wrong.ok and f"the teacher answered {other}" in wrong.detail


def with_conclusions(*conclusions: dict) -> dict:
    return {**PUZZLE, "conclusions": list(conclusions)}


def fixed_by_suggestion(data: dict, message: str, replaced: int) -> dict:
    """The structure with conclusion `replaced` (from 1) swapped for the one the message offers."""
    offered = json.loads(re.findall(r"such as (\{[^}]*\})", message)[-1])
    conclusions = list(data["conclusions"])
    conclusions[replaced - 1] = offered
    return {**data, "conclusions": conclusions}


KEEPERS_ARE_SAILORS, NO_SAILORS_FARM = PUZZLE["premises"]
FIRST_THREE = PUZZLE["conclusions"][:3]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"premises": [KEEPERS_ARE_SAILORS, st("some_not", "keepers", "sailors")]},
            "the premises contradict each other",
        ),
        (
            {"premises": [KEEPERS_ARE_SAILORS, st("no", "keepers", "sailors")]},
            "leave no room for any keepers",
        ),
        (
            {"premises": [st("all", "keepers", "boats"), NO_SAILORS_FARM]},
            "premise 1 names 'boats', which is not one of the categories",
        ),
        (
            {"premises": [st("all", "keepers", "keepers"), NO_SAILORS_FARM]},
            "premise 1 is about keepers and keepers",
        ),
        (
            {"premises": [st("every", "keepers", "sailors"), NO_SAILORS_FARM]},
            "premise 1's quantifier 'every' is not one of all, no",
        ),
        ({"premises": [KEEPERS_ARE_SAILORS] * 2}, "give 2 or 3 premises, each different"),
        ({"categories": ["keepers", "sailors", "Keepers"]}, "give 3 or 4 categories, each named once"),
        (with_conclusions(*FIRST_THREE), "give 4 or 5 conclusions"),
        ({"setting": ""}, "the setting is empty"),
    ],
)
def test_a_structure_that_cannot_make_a_puzzle_is_sent_back_saying_how_to_fix_it(changes, message) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        syllogism_fields({**PUZZLE, **changes})


@pytest.mark.parametrize(
    ("conclusions", "left_out", "answer"),
    [
        # none follows: code adds one that does (a deduction: keepers and farmers, which no premise relates)
        ([FIRST_THREE[0], FIRST_THREE[2], PUZZLE["conclusions"][3], st("all", "farmers", "keepers")], [], ""),
        (
            [*PUZZLE["conclusions"], st("no", "farmers", "keepers")],
            ["No farmers are keepers. also follows from the premises"],
            "No keepers are farmers.",
        ),
        (
            [*FIRST_THREE, st("some_not", "farmers", "keepers")],
            ["Some farmers are not keepers. follows only if every category has members"],
            "No keepers are farmers.",
        ),
        # s37: "conclusions 1 and 3 are the same" lost the unit
        (
            [*FIRST_THREE, FIRST_THREE[0]],
            ["conclusion 4 (Some keepers are farmers.) repeats conclusion 1"],
            "No keepers are farmers.",
        ),
        (
            [*FIRST_THREE, KEEPERS_ARE_SAILORS],
            ["conclusion 4 (All keepers are sailors.) repeats premise 1"],
            "No keepers are farmers.",
        ),
    ],
    ids=["none_follows", "two_follow", "follows_with_import", "repeated", "repeats_a_premise"],
)
def test_conclusions_are_mended_until_exactly_one_follows(conclusions, left_out, answer, tools) -> None:
    fields = syllogism_fields(with_conclusions(*conclusions))
    task, key, program = fields["task"], fields["answer_key"], fields["solver_program"]
    options = dict(re.findall(r"^\(([A-E])\) (.+)$", task, re.M))
    assert len(options) >= 4 and len(set(options.values())) == len(options)
    assert options[key] == answer or (not answer and f"# {options[key]} (written by code)" in program)
    assert all(f"# left out: {reason}" in program for reason in left_out)
    written = program.count("(written by code)")
    assert written == len(options) - len(conclusions) + len(left_out)
    good = verified(fields, f"Answer: {key}", tools)
    assert good.ok and f"exactly 1 solution ({key})" in good.detail, good.detail


def test_premises_from_which_nothing_follows_get_one_that_chains_with_them(tools) -> None:
    """s37: nothing follows from "all young are sleep" and "all adults are study", sent back twice alike."""
    young = {
        "setting": "A group of young adults take part in a sleep study.",
        "categories": ["young", "adults", "sleep", "study"],
        "premises": [st("all", "young", "sleep"), st("all", "adults", "study")],
        "conclusions": [
            st("some", "young", "adults"),
            st("no", "sleep", "study"),
            st("all", "study", "young"),
            st("some_not", "adults", "sleep"),
        ],
    }
    fields = syllogism_fields(young)
    task, key, program = fields["task"], fields["answer_key"], fields["solver_program"]
    premises = re.findall(r"^\d\. (.+)$", task, re.M)
    assert premises[:2] == ["All young are sleep.", "All adults are study."] and len(premises) == 3
    assert f"# 3. {premises[2]} (written by code)" in program and premises[2].startswith("All ")
    good = verified(fields, f"Answer: {key}", tools)
    assert good.ok and f"exactly 1 solution ({key})" in good.detail, good.detail
    # with three premises already there is no room for one more: the structure goes back
    full = {**young, "premises": [*young["premises"], st("no", "young", "adults")]}
    with pytest.raises(ValueError, match="none of the conclusions must follow"):
        syllogism_fields(full)


def test_categories_are_matched_in_any_case_and_written_as_listed() -> None:
    data = {**PUZZLE, "premises": [st("all", "Keepers", "SAILORS"), st("no", "sailors", " farmers ")]}
    assert syllogism_fields(data) == syllogism_fields(PUZZLE)


def test_a_structure_that_is_not_an_object_is_not_a_puzzle() -> None:
    with pytest.raises(TypeError):
        syllogism_fields(["keepers", "sailors"])
    with pytest.raises(TypeError):
        syllogism_fields({**PUZZLE, "premises": "all keepers are sailors"})


def test_the_request_asks_for_the_structure_alone_under_the_grammars_bounds() -> None:
    fields = {"answer_key": "the answer", "solver_program": "the program"}
    output = task_shaped(with_skill_fields(InstructionOutput, fields, key="puzzle"), "syllogism", "puzzle")
    request = output.request_schema()
    assert list(request["properties"]) == ["puzzle", "suitable", "reason"]  # key and program are code's
    puzzle = request["properties"]["puzzle"]["properties"]
    bounds = {
        name: (puzzle[name]["minItems"], puzzle[name]["maxItems"])
        for name in ("categories", "premises", "conclusions")
    }
    assert bounds == {"categories": (3, 4), "premises": (2, 3), "conclusions": (4, 5)}
    statement = puzzle["premises"]["items"]["properties"]
    assert statement["quantifier"]["enum"] == list(QUANTIFIERS)
    assert statement["subject"]["pattern"] == puzzle["categories"]["items"]["pattern"] == CATEGORY_PATTERN
    assert all(re.fullmatch(CATEGORY_PATTERN, c) for c in ("keepers", "night guards", "Alder fishers"))
    assert not any(
        re.fullmatch(CATEGORY_PATTERN, c) for c in ("36 beds", "a, b", "x", "the very old keepers")
    )
    reply = output.model_validate({"puzzle": PUZZLE, "suitable": True, "reason": ""})
    assert reply.instruction.startswith(SETTING) and reply.solver_program.startswith("import itertools")


def test_the_prompts_example_is_a_puzzle_and_its_quantifiers_are_the_list() -> None:
    env = environment(load("analytical_reasoning"))
    source = env.loader.get_source(env, "analytical_reasoning/syllogism.j2")[0]
    for quantifier, (words, _, _) in QUANTIFIERS.items():
        assert f'- {quantifier}: "{words.format(s="keepers", p="sailors")}"' in source
    example = json.loads(source.split("puzzle field:\n")[1].splitlines()[0])
    assert syllogism_fields(example)["answer_key"]


def test_the_puzzle_code_writes_is_not_taken_for_a_copy_of_the_prompt(tools) -> None:
    """Code's sentences ("All keepers are sailors.") use the words of the prompt's examples."""
    for data in (PUZZLE, FOUR):
        assert shaped_reply_problem("syllogism", data, tools) == ""


def test_the_flow_keeps_the_verified_puzzle_and_rejects_a_wrong_teacher(tools) -> None:
    key = syllogism_fields(PUZZLE)["answer_key"]
    model = ScriptedModel(arranged_reply(PUZZLE, key))
    [pair] = run_ordering(model, tools, kind="syllogism").pairs
    assert pair.messages[1]["content"].startswith(SETTING) and pair.verification.status == "passed"
    assert pair.lineage.seed_instruction.fields["answer_key"] == key

    wrong = "A" if key != "A" else "B"
    model = ScriptedModel(arranged_reply(PUZZLE, wrong))
    sink = run_ordering(model, tools, kind="syllogism")
    [rejection] = sink.rejections
    assert not sink.pairs and rejection.reason == "verification_failed:unique_solution"
    assert f"the teacher answered {wrong}, the key is {key}" in rejection.detail
    assert not [r for r in model.requests if "rule_checks" in r.tag or "computed_answer" in r.tag]
