"""The brain_teaser skill (SPEC §2 row 5): taxonomy, templates, the flow with a scripted model, and the
`answers_agree` check (the final answer agrees with the key and with a second, independent teacher answer)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from agentinstruct.models import ModelRequest
from agentinstruct.quality.agreement import answers_agree
from agentinstruct.quality.checks import Candidate
from keyed_skills_support import (
    NOTES,
    SEED,
    assert_pair_shape,
    environment,
    load,
    render_every_template,
    run,
    scripted,
    variables_for,
)

pytestmark = pytest.mark.timeout(60)

TYPES = [
    "riddle",
    "lateral_thinking",
    "logic_deduction",
    "math_puzzle",
    "wordplay",
    "trick_question",
    "sequence_pattern",
]
PUZZLE = "A keeper climbs 120 steps each night, 6 nights a week. How many steps does he climb in 2 weeks?"
KEY = "1440 steps"
SOLUTION = "Each week: 120 x 6 = 720 steps. Two weeks: 2 x 720 = 1440.\nAnswer: 1440 steps"
WRONG = "He climbs 120 steps a night for 14 nights: 120 x 14 = 1680.\nAnswer: 1680"


@pytest.fixture(scope="module")
def skill():
    return load("brain_teaser")


def test_taxonomy_matches_the_spec_row(skill) -> None:
    assert [t.name for t in skill.transformations] == ["concept_extraction"]
    assert [t.name for t in skill.instruction_types] == TYPES
    assert [g.name for g in skill.refinement.goals] == ["add_red_herrings", "add_step"]
    assert skill.checks == ["answers_agree"] and skill.repair_rounds == 0
    assert list(skill.instruction_fields) == ["answer_key"]
    assert skill.seed_kinds == ["text"] and skill.flow == "standard"
    for itype in skill.instruction_types:
        assert itype.intent.strip() and "\n" not in itype.intent.strip(), itype.name
        assert len([line for line in itype.guidance.splitlines() if line.strip()]) >= 2, itype.name


def test_every_template_renders_strictly(skill) -> None:
    notes = "Thing: lighthouse, tall, has a lamp\nFact or quantity: 120 steps to the lamp room"
    rendered = render_every_template(skill, variables_for(skill, notes, PUZZLE, {"answer_key": KEY}))
    assert notes in rendered[skill.prompts.instruction]
    assert KEY in rendered[skill.prompts.suggester] and KEY in rendered[skill.prompts.editor]
    assert rendered[skill.prompts.user_turn].strip() == PUZZLE  # the notes are the writer's, not the user's
    assert '"Answer: <the final answer>"' in rendered[skill.prompts.teacher]
    values = variables_for(skill, notes, PUZZLE, {"answer_key": KEY})[skill.prompts.instruction]
    template = environment(skill).get_template(skill.prompts.instruction)
    for itype in skill.instruction_types:
        shown = template.render(**{**values, "instruction_type": itype})
        assert itype.guidance in shown and itype.intent in shown


def teacher_answers(first: str, second: str):
    def teacher(request: ModelRequest) -> str:
        return second if request.tag.endswith("/resample") else first

    return teacher


def test_the_flow_yields_worked_solutions_confirmed_by_a_second_answer(skill) -> None:
    model = scripted(
        skill, {"instruction": PUZZLE, "answer_key": KEY}, teacher_answers(SOLUTION, "Answer: 1,440")
    )
    sink = run(skill, model, seeds=2)
    assert len(sink.pairs) == 2 * 2 * 3 and not sink.rejections  # 2 seeds x 2 types x (seed + 2 rounds)
    for pair in sink.pairs:
        assert_pair_shape(pair, skill, PUZZLE)
        assert pair.messages[2]["content"] == SOLUTION
        [result] = pair.verification.checks
        assert result.name == "answers_agree" and result.ok
        assert "agrees with the key" in result.detail and "second independent answer" in result.detail
    assert {step.goal for p in sink.pairs for step in p.lineage.refinement} == {
        "add_red_herrings",
        "add_step",
    }
    resamples = [r for r in model.requests if r.tag.endswith("/resample")]
    assert len(resamples) == len(sink.pairs)
    # the second answer is independent: the same task, another sampling seed, never the key
    first = next(r for r in model.requests if r.tag == resamples[0].tag.removesuffix("/resample"))
    assert resamples[0].messages == first.messages and resamples[0].seed != first.seed
    assert all(KEY not in m["content"] for r in model.requests if "/teacher/" in r.tag for m in r.messages)


def test_a_puzzle_that_states_its_answer_is_asked_again(skill) -> None:
    """The local model ended a trick question with "The answer is 0."; the key was "0"."""
    assert skill.hidden_fields == ["answer_key"]
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["math_puzzle"]]})
    puzzles = iter([PUZZLE + " The answer is 1440 steps, since 120 x 12 = 1440.", PUZZLE])
    fields = {"answer_key": KEY}
    model = scripted(
        single, lambda name: fields | {"instruction": next(puzzles)}, teacher_answers(SOLUTION, SOLUTION)
    )
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    asks = [r for r in model.requests if "/instruct/" in r.tag]
    assert len(asks) == 2
    assert (
        "the task gives away its answer_key ('1440 steps') as the answer" in asks[1].messages[-1]["content"]
    )
    [pair] = sink.pairs
    assert pair.messages[1]["content"] == PUZZLE and not sink.rejections


@pytest.mark.parametrize(
    ("task", "key", "states"),
    [
        ("How many animals did Moses take? The answer is 0. Moses took none.", "0", True),
        ("Which is it?\nA) one\nB) two\nAnswer: B", "B", True),
        ("Pick one. The correct answer would be **Paris**.", "Paris", True),
        ("Pick all.\nSolution key = a, c", "A, C", True),
        ("Which answer is best? Think it through.", "best", False),
        ("The answer is 10 or more; how many exactly?", "1", False),
        ("What is the answer? Answer: ?", "B", False),
    ],
)
def test_states_answer_finds_a_key_given_as_the_answer(task, key, states) -> None:
    from agentinstruct.flows.outputs import states_answer

    assert states_answer(task, key) is states


def test_a_key_the_answers_dispute_is_solved_again_by_its_author(skill) -> None:
    """The local author wrote "25 hours" for 50 miles at 5 mph; the teacher's "10" was right."""
    assert skill.key_recheck
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["math_puzzle"]]})
    wrong_key = {"instruction": PUZZLE, "answer_key": "1680 steps"}
    rekeys: list[ModelRequest] = []

    def rekey(request: ModelRequest) -> dict:
        rekeys.append(request)
        return {"working": "120 x 6 = 720 a week, 1440 in two.", "answer_key": "1440 steps"}

    model = scripted(single, wrong_key, teacher_answers(SOLUTION, SOLUTION), rekey=rekey)
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    [asked] = rekeys
    assert PUZZLE in asked.messages[-1]["content"] and NOTES in asked.messages[-1]["content"]
    assert all("1680" not in m["content"] and "1440" not in m["content"] for m in asked.messages)
    names = [c.name for c in pair.verification.checks]
    assert names == ["answers_agree", "key_rechecked"] and pair.verification.status == "passed"
    assert "the first key '1680 steps' disagreed" in pair.verification.checks[1].detail
    fields = pair.lineage.seed_instruction.fields
    assert fields["answer_key"] == "1440 steps" and fields["first_answer_key"] == "1680 steps"


def test_a_second_key_from_nowhere_does_not_replace_the_first(skill) -> None:
    """The local author re-solved a question as "Dublin", a city neither the task nor the material names,
    and the teacher had invented the same city."""
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["wordplay"]]})
    question = "What city did the lighthouse at Carrick Point serve?"
    model = scripted(
        single,
        {"instruction": question, "answer_key": "Carrickport"},
        teacher_answers("Answer: Dublin", "Answer: Dublin"),
        rekey=lambda request: {"answer_key": "Dublin"},
    )
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    [rejection] = sink.rejections
    assert not sink.pairs and "does not agree with the key 'Carrickport'" in rejection.detail
    # a second key in the material's own words does replace it
    model = scripted(
        single,
        {"instruction": question, "answer_key": "Carrickport"},
        teacher_answers("Answer: Alder Creek", "Answer: Alder Creek"),
        rekey=lambda request: {"answer_key": "Alder Creek"},
    )
    [pair] = run(single, model, refinement_rounds=0, instructions_per_seed=1).pairs
    assert pair.verification.checks[-1].name == "key_rechecked"


def test_an_author_who_stands_by_a_disputed_key_leaves_the_rejection(skill) -> None:
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["math_puzzle"]]})
    model = scripted(
        single, {"instruction": PUZZLE, "answer_key": "1680 steps"}, teacher_answers(SOLUTION, SOLUTION)
    )
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    [rejection] = sink.rejections
    assert not sink.pairs and "does not agree with the key '1680 steps'" in rejection.detail
    assert sum("/key_recheck/" in r.tag for r in model.requests) == 1
    assert sum(r.tag.endswith("/resample") for r in model.requests) == 0  # the key failed first


def test_the_flow_rejects_an_answer_a_second_sample_contradicts(skill) -> None:
    model = scripted(skill, {"instruction": PUZZLE, "answer_key": "1440"}, teacher_answers(SOLUTION, WRONG))
    sink = run(skill, model, refinement_rounds=0)
    assert not sink.pairs and len(sink.rejections) == 2
    for rejection in sink.rejections:
        # and no program could answer it instead (the scripted teacher writes none: `program_aided`)
        assert rejection.reason == "verification_failed:answers_agree,program_aided"
        assert "a second independent answer ends '1680'" in rejection.detail
    assert not any(r.tag.endswith("/repair") for r in model.requests)


def test_the_flow_rejects_an_answer_that_contradicts_the_key(skill) -> None:
    model = scripted(skill, {"instruction": PUZZLE, "answer_key": KEY}, teacher_answers(WRONG, WRONG))
    sink = run(skill, model, refinement_rounds=0)
    assert not sink.pairs
    assert all("does not agree with the key '1440 steps'" in r.detail for r in sink.rejections)
    assert not any(r.tag.endswith("/resample") for r in model.requests), (
        "no second sample once the key disagrees"
    )


def candidate(answer: str, key: str = "", second: str | None = None) -> Candidate:
    async def resample() -> str:
        return second or ""

    return Candidate(
        "brain_teaser",
        "riddle",
        SEED,
        "I follow you all day but vanish at night. What am I?",
        answer,
        False,
        details={"answer_key": key} if key else {},
        resample=resample if second is not None else None,
    )


def check(c: Candidate):
    return asyncio.run(answers_agree(c))


def test_the_check_accepts_agreeing_answers_and_rejects_disagreeing_ones() -> None:
    good = "Light casts it behind you; at night there is none.\n**Final answer:** A shadow."
    assert check(candidate(good, key="shadow", second="It must be your shadow.\nAnswer: your shadow")).ok
    assert check(candidate(good, key="shadow")).ok  # outside a flow: the key alone
    assert check(candidate(good, second="Answer: the shadow")).ok  # no key: the second answer alone
    bad = check(candidate(good, key="a shadow", second="Answer: the sun"))
    assert not bad.ok and "'the sun'" in bad.detail and "'A shadow'" in bad.detail
    wrong_key = check(candidate("Answer: darkness", key="shadow", second="Answer: shadow"))
    assert not wrong_key.ok and "key 'shadow'" in wrong_key.detail
    assert check(candidate("So the answer is twelve.", key="12")).ok
    assert not check(candidate("Answer: 13", key="12")).ok
    assert not check(candidate("", key="12")).ok
    assert check(candidate("Answer: a shadow")) is None  # neither a key nor a second sample


def test_an_answer_that_repeats_the_task_is_no_answer() -> None:
    """A local "wordplay" puzzle was the pangram itself, with key "fox"; the teacher repeated the pangram."""
    pangram = "The quick brown fox jumps over the lazy dog."
    echo = candidate(f"Answer: {pangram}", key="fox", second=f"Answer: {pangram}")
    echo = dataclasses.replace(echo, instruction=pangram)
    result = check(echo)
    assert not result.ok and "only repeats words of the task" in result.detail
    # the answer may quote a short phrase of the task
    assert check(candidate("It says 'you all day', so: Answer: your shadow", key="shadow")).ok


def test_a_failed_second_sample_fails_the_check_with_the_reason() -> None:
    async def broken() -> str:
        raise RuntimeError("the second teacher answer failed: timeout")

    c = Candidate("brain_teaser", "riddle", "", "?", "Answer: shadow", False, resample=broken)
    result = check(c)
    assert not result.ok and "timeout" in result.detail
