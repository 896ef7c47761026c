"""Knights-and-knaves puzzles as data (`task_shape: truth_tellers`): code writes the puzzle, key and program.

Each claim form evaluated on worked assignments and worded as the prompt shows it; structures with no
fitting assignment or several sent back with how to fix them (the statement code offers does fix it);
the puzzle, its options, key and solver program agree, verified by `unique_solution` in the real sandbox
for each kind of question; the request asks for the structure alone under the grammar's bounds; and the
flow, with a scripted model, keeps the verified puzzle and rejects a teacher who picks another option,
without any program-aided second answer.
"""

from __future__ import annotations

import asyncio
import json
import random
import re

import pytest

from agentinstruct.agent_outputs import InstructionOutput
from agentinstruct.flows import FlowSettings, SkillFlow
from agentinstruct.flows.outputs import with_skill_fields
from agentinstruct.flows.resources import FlowResources, build_tools
from agentinstruct.flows.shaped_content import NAME_PATTERN
from agentinstruct.flows.task_shapes import task_shaped
from agentinstruct.flows.truth_tellers import (
    FORMS,
    QUESTIONS,
    Claim,
    _group,
    mended,
    parse_truth_tellers,
    the_assignment,
    truth_tellers_fields,
)
from agentinstruct.models import ScriptedModel
from agentinstruct.quality.checks import Candidate
from agentinstruct.quality.execution import unique_solution
from agentinstruct.reply_problems import copied_scaffold
from agentinstruct.skills import load_skills
from keyed_skills_support import environment, load
from test_arrangements import arranged_reply, run_ordering
from test_flows import ListSink

pytestmark = pytest.mark.timeout(180)

SETTING = "On the pier at Carrick Point, three keepers talk about the night watch."


def said(speaker: str, form: str, about: str = "", n: int = 0) -> dict:
    return {"speaker": speaker, "form": form, "about": about or speaker, "n": n}


#: Ana is a knight, Ben and Cal knaves: Ana's claim is true, Ben's false, Cal's "same kind as Ana" false
PUZZLE = {
    "setting": SETTING,
    "people": ["Ana", "Ben", "Cal"],
    "statements": [
        said("Ana", "is_liar", "Ben"),
        said("Ben", "exactly_n_liars", n=1),
        said("Cal", "same_type", "Ana"),
    ],
    "question": "who_lies",
}
KNAVES = ["Ben", "Cal"]


@pytest.fixture(scope="module")
def tools():
    return build_tools(["python"], None)  # the process-wide default sandbox: shared, never closed here


def verified(fields: dict[str, str], answer: str, tools):
    details = {"answer_key": fields["answer_key"], "solver_program": fields["solver_program"]}
    item = Candidate(
        "analytical_reasoning",
        "truth_tellers",
        "",
        fields["task"],
        answer,
        False,
        details=details,
        tools=tools,
    )
    return asyncio.run(unique_solution(item))


#: (form, speaker, about, n, holds) with Ana a knight and Ben and Cal knaves, worked out by hand
CLAIMS = [
    ("is_liar", "Ana", "Ben", 0, True),
    ("is_liar", "Ben", "Ana", 0, False),
    ("is_truthful", "Cal", "Ana", 0, True),
    ("is_truthful", "Ana", "Cal", 0, False),
    ("same_type", "Ben", "Cal", 0, True),
    ("same_type", "Ana", "Ben", 0, False),
    ("different_type", "Ana", "Cal", 0, True),
    ("different_type", "Cal", "Ben", 0, False),
    ("exactly_n_liars", "Ana", "", 2, True),
    ("exactly_n_liars", "Ben", "", 1, False),
    ("at_least_n_liars", "Cal", "", 2, True),
    ("at_least_n_liars", "Ana", "", 3, False),
]
KNIGHT = {"Ana": True, "Ben": False, "Cal": False}


def test_every_form_is_worked_out_here() -> None:
    assert {form for form, *_ in CLAIMS} == set(FORMS)


@pytest.mark.parametrize(("form", "speaker", "about", "n", "holds"), CLAIMS)
def test_each_claim_form_is_true_exactly_when_it_should_be(form, speaker, about, n, holds) -> None:
    claim = Claim(speaker, form, about, n)
    assert claim.holds(KNIGHT) is holds
    # a statement fits when a knight's claim is true or a knave's is false
    assert claim.fits(KNIGHT) is (holds == KNIGHT[speaker])


def test_claims_read_as_their_speakers_say_them() -> None:
    assert Claim("Ana", "is_liar", "Ben").words(3) == "Ben is a knave."
    assert Claim("Ana", "is_truthful", "Ana").words(3) == "I am a knight."
    assert Claim("Ana", "same_type", "Ben").words(3) == "Ben and I are of the same kind."
    assert Claim("Ana", "different_type", "Ben").words(4) == "Ben and I are of different kinds."
    assert Claim("Ana", "exactly_n_liars", n=1).words(3) == "Exactly one of the three of us is a knave."
    assert Claim("Ana", "exactly_n_liars", n=0).words(4) == "None of the four of us is a knave."
    assert Claim("Ana", "at_least_n_liars", n=2).words(5) == "At least two of the five of us are knaves."
    assert Claim("Ana", "at_least_n_liars", n=3).words(3) == "All three of us are knaves."


@pytest.mark.parametrize("question", list(QUESTIONS))
def test_the_written_puzzle_has_one_answer_the_key_and_its_program_says_so(question, tools) -> None:
    fields = truth_tellers_fields({**PUZZLE, "question": question})
    assert fields == truth_tellers_fields({**PUZZLE, "question": question}), "reproducible"
    task, key = fields["task"], fields["answer_key"]
    assert task.startswith(SETTING) and "either a knight, who always tells the truth, or a knave" in task
    assert 'Ben says: "Exactly one of the three of us is a knave."' in task and QUESTIONS[question] in task
    options = dict(re.findall(r"^\(([A-E])\) (.+)$", task, re.M))
    assert len(options) >= 4 and len(set(options.values())) == len(options)
    right = {"who_lies": "Ben and Cal", "who_tells_truth": "Ana only"}.get(question)
    if right:
        assert options[key] == right
    else:  # one true sentence about one person; each other option is false of the one assignment
        person, kind = re.fullmatch(r"(\w+) is a (knight|knave)\.", options[key]).groups()
        assert KNIGHT[person] == (kind == "knight")
        for letter, text in options.items():
            other, word = re.fullmatch(r"(\w+) is a (knight|knave)\.", text).groups()
            assert (KNIGHT[other] == (word == "knight")) == (letter == key), text
    good = verified(fields, f"Ben's claim is false, so...\nAnswer: {key}", tools)
    assert good.ok and f"exactly 1 solution ({key})" in good.detail, good.detail
    other = "A" if key != "A" else "B"
    wrong = verified(fields, f"Answer: {other}", tools)
    assert not wrong.ok and f"the teacher answered {other}" in wrong.detail


def test_wrong_options_break_statements_the_fewest_first() -> None:
    """Five people give 31 other assignments: the four options shown are among those that break fewest."""
    people = ["Ana", "Ben", "Cal", "Dee", "Eli"]
    statements = [
        said("Ana", "at_least_n_liars", n=4),
        said("Ben", "is_truthful", "Ana"),
        said("Cal", "different_type", "Ben"),
        said("Dee", "is_liar", "Eli"),
        said("Eli", "exactly_n_liars", n=3),
    ]
    data = {**PUZZLE, "people": people, "statements": statements}
    puzzle = parse_truth_tellers(data)
    [answer] = puzzle.fitting()
    task = truth_tellers_fields(data)["task"]
    shown = re.findall(r"^\([A-E]\) (.+)$", task, re.M)
    assert len(shown) == 5

    def broken(knight: dict[str, bool]) -> int:
        return sum(not c.fits(knight) for c in puzzle.statements)

    listed = {
        _group([p for p in people if not k[p]], tuple(people)): broken(k)
        for k in puzzle.assignments()
        if k != answer
    }
    worst_shown = max(
        listed[s] for s in shown if s != _group([p for p in people if not answer[p]], tuple(people))
    )
    assert worst_shown <= sorted(listed.values())[3]


def test_two_fitting_assignments_get_a_deciding_statement_of_codes_own() -> None:
    """Only is_liar and is_truthful: turning every knight into a knave keeps them fitting. Sent back with a
    statement that would settle it, the local model returned the same structure (s31), so code adds it."""
    flippable = [
        said("Ana", "is_liar", "Ben"),
        said("Ben", "is_liar", "Cal"),
        said("Cal", "is_truthful", "Ana"),
    ]
    data = {**PUZZLE, "statements": flippable}
    fields = truth_tellers_fields(data)
    assert fields["answer_key"] in "ABCDE" and fields["solver_program"].count("(written by code)") >= 1
    mended_puzzle = mended(parse_truth_tellers(data), random.Random(1))
    assert (
        len(mended_puzzle.fitting()) == 1
        and mended_puzzle.statements[:3] == parse_truth_tellers(data).statements
    )
    # the message that explains it stays for a puzzle code cannot mend (its statements at their most)
    with pytest.raises(
        ValueError, match=r"^2 assignments fit the statements \(Ana knight, Ben knave, Cal knight; "
    ) as err:
        the_assignment(parse_truth_tellers(data), random.Random(1))
    message = str(err.value)
    assert "which differ on Ana, Ben, Cal: add or change a statement so that only one fits" in message
    assert "turning every knight into a knave" in message
    suggested = json.loads(message.split(", such as ")[1])
    fixed = truth_tellers_fields({**data, "statements": [*flippable, suggested]})
    assert fixed["answer_key"] in "ABCDE" and "(written by code)" not in fixed["solver_program"]


def test_statements_no_one_can_make_or_that_decide_nothing_are_left_out() -> None:
    # s31: Inver said "Inver is a knave" (no one can) and Agnes "Agnes is a knight" (anyone can)
    statements = [
        said("Ana", "is_liar", "Ana"),
        said("Ben", "is_truthful", "Ben"),
        said("Cal", "is_liar", "Ben"),
    ]
    fields = truth_tellers_fields({**PUZZLE, "statements": statements})
    program = fields["solver_program"]
    assert '# left out: Ana: "I am a knave." can be made by no one' in program
    assert '# left out: Ben: "I am a knight." fits every assignment' in program
    assert "I am a knave" not in fields["task"] and "Ben is a knave" in fields["task"]


def test_no_fitting_assignment_is_sent_back_naming_the_statements_to_change() -> None:
    # an odd ring of "is a knave": no one statement is impossible, and dropping any one leaves some fitting
    ring = [said("Ana", "is_liar", "Ben"), said("Ben", "is_liar", "Cal"), said("Cal", "is_liar", "Ana")]
    with pytest.raises(ValueError, match=r"^no assignment of knights and knaves fits every statement") as err:
        truth_tellers_fields({**PUZZLE, "statements": ring})
    assert 'without statement 1 (Ana: "Ben is a knave.") or statement 2' in str(err.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"people": ["Ana", "Ben", "Cal Smith"]},
            "are not names: name each person with one capitalised word",
        ),
        ({"people": ["Ana", "Ben", "Knight"]}, "['Knight'] are not names"),
        ({"people": ["Ana", "Ben", "Five"]}, "['Five'] are not names"),
        ({"people": ["Ana", "Ben", "Ana"]}, "give 3 to 5 people, each named once"),
        (
            {"statements": [said("Zed", "is_liar", "Ben"), *PUZZLE["statements"]]},
            "speaker 'Zed' is not one of",
        ),
        ({"statements": [said("Ana", "is_liar", "Zed")]}, "statement 1 is about 'Zed', who is not one of"),
        ({"statements": [said("Ana", "same_type", "Ana")]}, "compares Ana with Ana: same_type compares the"),
        (
            {"statements": [said("Ana", "exactly_n_liars", n=4)]},
            "n is 4: exactly_n_liars needs a whole number",
        ),
        ({"statements": [said("Ana", "at_least_n_liars", n=0)]}, "needs a whole number from 1 to 3"),
        ({"statements": [said("Ana", "lies_about", "Ben")]}, "form 'lies_about' is not one of is_liar"),
        ({"statements": [said("Ana", "is_liar", "Ben")] * 2}, "give at least 2 different statements"),
        ({"question": "who_is_tallest"}, "the question 'who_is_tallest' is not one of who_lies"),
        ({"setting": " "}, "the setting is empty"),
    ],
)
def test_a_structure_that_cannot_make_a_puzzle_is_sent_back_saying_how_to_fix_it(changes, message) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        truth_tellers_fields({**PUZZLE, **changes})


def test_a_structure_that_is_not_an_object_is_not_a_puzzle() -> None:
    with pytest.raises(TypeError):
        truth_tellers_fields(["Ana", "Ben"])
    with pytest.raises(TypeError):
        truth_tellers_fields({**PUZZLE, "statements": "Ana lies"})


def test_the_request_asks_for_the_structure_alone_under_the_grammars_bounds() -> None:
    fields = {"answer_key": "the answer", "solver_program": "the program"}
    output = task_shaped(
        with_skill_fields(InstructionOutput, fields, key="puzzle"), "truth_tellers", "puzzle"
    )
    request = output.request_schema()
    assert list(request["properties"]) == ["puzzle", "suitable", "reason"]  # key and program are code's
    puzzle = request["properties"]["puzzle"]["properties"]
    assert puzzle["people"]["items"]["pattern"] == NAME_PATTERN
    assert (puzzle["people"]["minItems"], puzzle["people"]["maxItems"]) == (3, 5)
    assert (puzzle["statements"]["minItems"], puzzle["statements"]["maxItems"]) == (2, 6)
    statement = puzzle["statements"]["items"]["properties"]
    assert statement["form"]["enum"] == list(FORMS) and statement["speaker"]["pattern"] == NAME_PATTERN
    assert puzzle["question"]["enum"] == list(QUESTIONS)
    reply = output.model_validate({"puzzle": PUZZLE, "suitable": True, "reason": ""})
    assert reply.instruction.startswith(SETTING) and reply.solver_program.startswith("import itertools")


def test_the_prompts_example_is_a_puzzle_and_its_forms_are_the_lists() -> None:
    skill = load("analytical_reasoning")
    env = environment(skill)
    source = env.loader.get_source(env, "analytical_reasoning/truth_tellers.j2")[0]
    assert sorted(re.findall(r"^- (\w+), (?:about Ben|n \d):", source, re.M)) == sorted(FORMS)
    assert truth_tellers_fields(json.loads(_example()))["answer_key"]


#: every form, with the names of the prompt's own examples (the closest a puzzle comes to its wording)
EVERY_FORM = {
    "setting": "On the quay at Carrick Point, four keepers argue over who left the lamp unlit.",
    "people": ["Ann", "Ben", "Cal", "Dee"],
    "statements": [
        said("Ann", "is_liar", "Dee"),
        said("Ben", "is_truthful", "Dee"),
        said("Cal", "same_type", "Ann"),
        said("Dee", "different_type", "Ben"),
        said("Ann", "exactly_n_liars", n=2),
        said("Ben", "at_least_n_liars", n=3),
    ],
    "question": "who_lies",
}


def shaped_reply_problem(kind: str, structure: dict, tools) -> str:
    """What the instruction agent's reply checks say of the puzzle code writes from `structure` ("" if
    nothing): code's sentences must not read as copies of the prompt's examples."""
    skill = load_skills()["analytical_reasoning"]
    resources = FlowResources(tools=tools)
    flow = SkillFlow(
        skill, ScriptedModel(lambda request: {}), ListSink(), FlowSettings(), resources=resources
    )
    agent = flow.instructors[kind]
    variables = {
        "content": "Setting: a harbour market.\nEntities: Ann, Ben, Cal, Dee\nSlots: 1, 2",
        "transformation": skill.transformations[0],
        "instruction_type": skill.types_by_name[kind],
        "skill": skill,
    }
    prompt = agent.messages(variables)[-1]["content"]
    output = agent.output.model_validate(
        {"puzzle": structure, "suitable": True, "reason": ""}, context=variables
    )
    return copied_scaffold(output, prompt, variables)


@pytest.mark.parametrize("question", list(QUESTIONS))
def test_the_puzzle_code_writes_is_not_taken_for_a_copy_of_the_prompt(question, tools) -> None:
    """The prompt's quoted form examples ("Ben and I are of the same kind.") read as copied by any name."""
    assert shaped_reply_problem("truth_tellers", {**EVERY_FORM, "question": question}, tools) == ""
    copied = {**EVERY_FORM, "setting": json.loads(_example())["setting"]}
    assert "copies my request" in shaped_reply_problem("truth_tellers", copied, tools), (
        "the example's own words"
    )


def _example() -> str:
    env = environment(load("analytical_reasoning"))
    source = env.loader.get_source(env, "analytical_reasoning/truth_tellers.j2")[0]
    return source.split("puzzle field:\n")[1].splitlines()[0]


def test_the_flow_keeps_the_verified_puzzle_and_rejects_a_wrong_teacher(tools) -> None:
    key = truth_tellers_fields(PUZZLE)["answer_key"]
    model = ScriptedModel(arranged_reply(PUZZLE, key))
    [pair] = run_ordering(model, tools, kind="truth_tellers").pairs
    assert pair.messages[1]["content"].startswith(SETTING) and pair.verification.status == "passed"
    assert pair.lineage.seed_instruction.fields["answer_key"] == key
    [ask] = [r for r in model.requests if "/instruct/" in r.tag]
    assert list(ask.json_schema["schema"]["properties"]) == ["puzzle", "suitable", "reason"]

    wrong = "A" if key != "A" else "B"
    model = ScriptedModel(arranged_reply(PUZZLE, wrong))
    sink = run_ordering(model, tools, kind="truth_tellers")
    [rejection] = sink.rejections
    assert not sink.pairs and rejection.reason == "verification_failed:unique_solution"
    assert f"the teacher answered {wrong}, the key is {key}" in rejection.detail
    # no program-aided second answer: the key is a letter, and the statements are no rules over places
    assert not [r for r in model.requests if "rule_checks" in r.tag or "computed_answer" in r.tag]


@pytest.mark.parametrize("question", list(QUESTIONS))
def test_a_working_that_concludes_other_kinds_than_its_answer_is_rejected(question, tools) -> None:
    """s14: the teacher concluded Ann a knave and Ben, Cal knights, then answered "(A) Ben and Cal"."""
    from agentinstruct.quality.stated_kinds import option_kinds

    fields = truth_tellers_fields({**PUZZLE, "question": question})
    key = fields["answer_key"]
    settled = option_kinds(fields["task"], key)
    assert settled and all(KNIGHT[person] == knight for person, knight in settled.items())
    person = next(iter(settled))
    truth = f"{person} is a {'knight' if KNIGHT[person] else 'knave'}"
    lie = f"{person} is a {'knave' if KNIGHT[person] else 'knight'}"
    good = verified(fields, f"Suppose {lie}; that breaks a claim. So {truth}.\nAnswer: {key}", tools)
    assert good.ok, good.detail
    wrong = verified(fields, f"{truth} at first sight. Therefore {lie}.\nAnswer: {key}", tools)
    assert not wrong.ok and "which the chosen option" in wrong.detail
