"""The brain_teaser skill (SPEC §2 row 5): taxonomy, templates, the flow with a scripted model, and the
`answers_agree` check (the final answer agrees with the key and with a second, independent teacher answer)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re

import pytest

from agentinstruct.flows.anagrams import anagram_fields
from agentinstruct.flows.arrangements import arrangement_fields
from agentinstruct.flows.rule_checks import author_checks, read_puzzle
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


@pytest.fixture(scope="module")
def written(skill):
    """The skill with the types whose puzzle and key the instruction agent writes as text (the types code
    writes from a structure are tested with their structures below)."""
    types = [t for t in skill.instruction_types if t.task_shape == "text"]
    return skill.model_copy(update={"instruction_types": types})


def test_taxonomy_matches_the_spec_row(skill) -> None:
    assert [t.name for t in skill.transformations] == ["concept_extraction"]
    assert [t.name for t in skill.instruction_types] == TYPES
    assert [g.name for g in skill.refinement.goals] == ["add_red_herrings", "add_step"]
    assert skill.checks == ["answers_agree"] and skill.repair_rounds == 0
    assert list(skill.instruction_fields) == ["answer_key", "solver_program"]
    assert skill.shape_only_fields == ["solver_program"]  # no riddle's author is asked for a program
    shapes = {t.name: t.task_shape for t in skill.instruction_types if t.task_shape != "text"}
    assert shapes == {"logic_deduction": "arrangement", "wordplay": "anagram", "sequence_pattern": "sequence"}
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


def test_the_flow_yields_worked_solutions_confirmed_by_a_second_answer(written) -> None:
    skill = written
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


def test_a_puzzle_whose_only_number_is_its_key_is_asked_again(skill) -> None:
    """A local math puzzle asked the weight of a lot whose soil "has a weight of 400,000 pounds" (run s18)."""
    given = "The soil of the lot weighs 1,440 steps. What does the lot weigh?"
    asks, sink = math_puzzle_written_twice(skill, given)
    assert (
        len(asks) == 2 and "the only number in the task is its answer_key" in asks[1].messages[-1]["content"]
    )
    assert sink.pairs and sink.pairs[0].messages[1]["content"] == PUZZLE


def math_puzzle_written_twice(skill, first: str) -> tuple[list[ModelRequest], object]:
    """A math puzzle whose author writes `first`, then PUZZLE: the instruction requests and the sink."""
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["math_puzzle"]]})
    puzzles = iter([first, PUZZLE])
    model = scripted(
        single,
        lambda name: {"answer_key": KEY, "instruction": next(puzzles)},
        teacher_answers(SOLUTION, SOLUTION),
    )
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    return [r for r in model.requests if "/instruct/" in r.tag], sink


@pytest.mark.parametrize(
    ("task", "key", "only"),
    [
        ("If the soil has a weight of 400,000 pounds, what is the weight of the lot?", "400000", True),
        ("If you have three apples and take away 2, how many do you have?", "2", False),
        ("How many months have 28 days?", "12", False),
        ("What has keys but opens no locks?", "a piano", False),
    ],
)
def test_only_number_is_finds_a_key_that_the_task_gives(task, key, only) -> None:
    from agentinstruct.flows.outputs import only_number_is

    assert only_number_is(task, key) is only


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
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["trick_question"]]})
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


def test_the_flow_rejects_an_answer_a_second_sample_contradicts(written) -> None:
    model = scripted(written, {"instruction": PUZZLE, "answer_key": "1440"}, teacher_answers(SOLUTION, WRONG))
    sink = run(written, model, refinement_rounds=0)
    assert not sink.pairs and len(sink.rejections) == 2
    for rejection in sink.rejections:
        # and no program could answer it instead (the scripted teacher writes none: `program_aided`)
        assert rejection.reason == "verification_failed:answers_agree,program_aided"
        assert "a second independent answer ends '1680'" in rejection.detail
    assert not any(r.tag.endswith("/repair") for r in model.requests)


def test_the_flow_rejects_an_answer_that_contradicts_the_key(written) -> None:
    model = scripted(written, {"instruction": PUZZLE, "answer_key": KEY}, teacher_answers(WRONG, WRONG))
    sink = run(written, model, refinement_rounds=0)
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


def test_a_lettered_task_compares_the_options_each_answer_commits_to() -> None:
    """A logic deduction's key is an option letter: "Answer: (B)" states it, though as words "(B)" is an
    aside and would be dropped."""
    task = "Who keeps night 1?\n(A) Ada\n(B) Bram\n(C) Cora"
    agreed = check(
        dataclasses.replace(candidate("Answer: (B)", key="B", second="Answer: B) Bram"), instruction=task)
    )
    assert agreed.ok and "the key (same option)" in agreed.detail
    named = check(dataclasses.replace(candidate("So it is Bram.\nAnswer: Bram", key="B"), instruction=task))
    assert named.ok  # the text of an option is that option
    wrong = check(dataclasses.replace(candidate("Answer: (C)", key="B"), instruction=task))
    assert not wrong.ok and "(different options)" in wrong.detail
    second = check(
        dataclasses.replace(candidate("Answer: B", key="B", second="Answer: (A)"), instruction=task)
    )
    assert not second.ok and "a second independent answer ends '(A)'" in second.detail


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


# -- the types code writes from a structure (task shapes) -----------------------------------------------
#: 20, 35, 50, 65, 80, then 95
SEQUENCE = {
    "theme": "Each night the keeper climbs more steps, as the lamp room is raised a floor at a time.",
    "rule": "add",
    "start": 20,
    "step": 15,
    "step2": 0,
    "shown": 5,
    "ask": "next",
}
#: a word the notes (keyed_skills_support.NOTES) use, and a clue that does not give it away
ANAGRAM = {"word": "lighthouse", "clue": "A tall tower whose lamp warns ships away from the rocks at night."}
KEEPERS = {
    "setup": "Three keepers of the Alder Creek lighthouse each keep one of nights 1 to 3, one a night.",
    "entities": ["Ada", "Bram", "Cora"],
    "slots": ["1", "2", "3"],
    "one_each": True,
    "rules": [
        {"text": "Ada keeps an earlier night than Bram.", "check": "Ada < Bram"},
        {"text": "Cora does not keep night 1.", "check": "Cora != 1"},
        {"text": "Bram does not keep night 3.", "check": "Bram != 3"},
    ],
}


def only(skill, name: str):
    return skill.model_copy(update={"instruction_types": [skill.types_by_name[name]]})


def test_a_sequence_is_written_by_code_and_keyed_by_its_next_term(skill) -> None:
    """The local author keyed sequences "rainwater tank": the key is now the term the rule gives."""
    single = only(skill, "sequence_pattern")
    worked = "Each night adds 15 steps: 80 + 15 = 95.\nAnswer: 95 steps"
    model = scripted(single, {"puzzle": SEQUENCE}, teacher_answers(worked, "Answer: 95"))
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    [ask] = [r for r in model.requests if "/instruct/" in r.tag]
    properties = ask.json_schema["schema"]["properties"]
    assert list(properties) == ["puzzle", "suitable", "reason"]  # the terms and key are code's
    assert properties["puzzle"]["properties"]["rule"]["enum"][0] == "add"
    assert "answer_key" not in ask.messages[-1]["content"] and "solver_program" not in str(properties)
    [pair] = sink.pairs
    assert pair.messages[1]["content"] == (
        f"{SEQUENCE['theme']} The sequence begins 20, 35, 50, 65, 80. What number comes next?"
    )
    [result] = pair.verification.checks
    assert result.name == "answers_agree" and result.ok
    # the key code computed is the second independent answer: the teacher is asked once (run s15: its
    # right '27' failed against a second sample '26', and its programs then printed 23)
    assert "the key, which code computed from the puzzle" in result.detail
    assert not [r for r in model.requests if r.tag.endswith("/resample")]
    assert pair.lineage.seed_instruction.fields == {"answer_key": "95"}


def test_a_wrong_answer_to_a_sequence_is_rejected_and_its_code_key_never_re_derived(skill) -> None:
    single = only(skill, "sequence_pattern")
    rekeys: list[ModelRequest] = []

    def rekey(request: ModelRequest) -> dict:
        rekeys.append(request)
        return {"answer_key": "90"}  # would agree with the teacher

    model = scripted(single, {"puzzle": SEQUENCE}, teacher_answers("Answer: 90", "Answer: 90"), rekey=rekey)
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    [rejection] = sink.rejections
    assert not sink.pairs and not rekeys
    # the numeric key brings the two-program answer in (the scripted teacher writes no program)
    assert rejection.reason == "verification_failed:answers_agree,program_aided"
    assert "does not agree with the key '95'" in rejection.detail
    assert any(r.tag.endswith("/computed_answer") for r in model.requests)


def test_a_sequence_the_teachers_programs_work_out_is_kept(skill) -> None:
    single = only(skill, "sequence_pattern")

    def teacher(request: ModelRequest) -> object:
        if request.tag.endswith("/computed_answer"):
            assert (
                "first it prints, on one line separated by commas, the terms the task shows (20, 35, 50"
                in (request.messages[-1]["content"])
            )
            return {"reasoning": "The steps grow by 15 a night.", "program": RULE_PROGRAM, "unit": "steps"}
        return "The steps double.\nAnswer: 160"

    sink = run(single, scripted(single, {"puzzle": SEQUENCE}, teacher), refinement_rounds=0)
    [pair] = sink.pairs
    assert pair.messages[-1]["content"].endswith("Answer: 95 steps")
    assert [c.name for c in pair.verification.checks] == ["answers_agree", "program_aided"]


RULE_PROGRAM = (
    "start, step = 20, 15\nterms = [start + step * n for n in range(6)]\n"
    "print(', '.join(map(str, terms[:5])))\nprint(terms[5])"
)


@pytest.mark.parametrize(
    ("program", "problem"),
    [
        # s31: for 4, 7, 11, 16, 22, 29, 37 the local teacher's program printed 29 + 37
        ("print(65 + 80)", "the program's terms (none) do not reproduce the sequence the task shows"),
        (
            "terms = [20, 35, 50, 65, 80]\nprint(', '.join(map(str, terms)))\nprint(terms[-1] + 80)",
            "the program holds the shown terms 20, 35, 50, 65, 80 as numbers",
        ),
        (
            "terms = [20 * 2**n for n in range(6)]\nprint(', '.join(map(str, terms[:5])))\nprint(terms[5])",
            "the program's terms (20, 40, 80, 160, 320) do not reproduce",
        ),
    ],
)
def test_a_sequence_program_must_give_the_shown_terms_by_its_rule(skill, program, problem) -> None:
    single = only(skill, "sequence_pattern")

    def teacher(request: ModelRequest) -> object:
        if request.tag.endswith("/computed_answer"):
            return {"reasoning": "A rule.", "program": program, "unit": "steps"}
        return "The steps double.\nAnswer: 160"

    sink = run(single, scripted(single, {"puzzle": SEQUENCE}, teacher), refinement_rounds=0)
    assert not sink.pairs
    assert all(problem in r.detail for r in sink.rejections), sink.rejections[0].detail


def test_an_unfair_sequence_goes_back_before_any_teacher_call(skill) -> None:
    single = only(skill, "sequence_pattern")
    replies = iter([{**SEQUENCE, "step": 0}, SEQUENCE])
    model = scripted(single, lambda _: {"puzzle": next(replies)}, teacher_answers("Answer: 95", "Answer: 95"))
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    asks = [r for r in model.requests if "/instruct/" in r.tag]
    assert len(asks) == 2 and "every term is 20: choose a step" in asks[1].messages[-1]["content"]
    assert len(sink.pairs) == 1


def test_a_wordplay_is_an_anagram_code_writes_and_keys_with_the_word(skill) -> None:
    """The local author keyed "I am a garden where lots are printed..." as "lottery": the key is now the
    word whose letters the solver unscrambles."""
    single = only(skill, "wordplay")
    fields = anagram_fields(ANAGRAM, NOTES)
    worked = "The letters spell a tall tower with a lamp.\nAnswer: lighthouse"
    model = scripted(single, {"puzzle": ANAGRAM}, teacher_answers(worked, "Answer: Lighthouse"))
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    [ask] = [r for r in model.requests if "/instruct/" in r.tag]
    properties = ask.json_schema["schema"]["properties"]
    assert list(properties) == ["puzzle", "suitable", "reason"]  # the letters and key are code's
    assert list(properties["puzzle"]["properties"]) == ["word", "clue"]
    assert "answer_key" not in ask.messages[-1]["content"] and NOTES in ask.messages[-1]["content"]
    [pair] = sink.pairs
    assert pair.messages[1]["content"] == fields["task"] and fields["task"].startswith("Unscramble the 10")
    assert f"Clue: {ANAGRAM['clue']} What is the word?" in fields["task"]
    [result] = pair.verification.checks
    assert result.name == "answers_agree" and result.ok and "which code computed" in result.detail
    assert pair.lineage.seed_instruction.fields == {"answer_key": "lighthouse"}


def test_a_wrong_answer_to_an_anagram_is_rejected_without_programs_or_a_second_key(skill) -> None:
    """A word is no number: no program is asked for it (UNAIDED_SHAPES), and code's key stands."""
    single = only(skill, "wordplay")
    rekeys: list[ModelRequest] = []

    def rekey(request: ModelRequest) -> dict:
        rekeys.append(request)
        return {"answer_key": "hothouse"}  # would agree with the teacher

    model = scripted(
        single, {"puzzle": ANAGRAM}, teacher_answers("Answer: hothouse", "Answer: hothouse"), rekey=rekey
    )
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    [rejection] = sink.rejections
    assert not sink.pairs and not rekeys and rejection.reason == "verification_failed:answers_agree"
    assert "is not the word the letters T-S-G-L-H-H-I-U-O-E spell, 'lighthouse'" in rejection.detail
    assert not any(r.tag.endswith("/computed_answer") for r in model.requests)


def test_an_anagram_that_gives_its_word_away_goes_back_before_any_teacher_call(skill) -> None:
    single = only(skill, "wordplay")
    replies = iter(
        [{**ANAGRAM, "clue": "The lighthouse stands tall."}, {**ANAGRAM, "word": "tower"}, ANAGRAM]
    )
    answers = teacher_answers("Answer: lighthouse", "Answer: lighthouse")
    model = scripted(single, lambda _: {"puzzle": next(replies)}, answers)
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    asks = [r for r in model.requests if "/instruct/" in r.tag]
    assert len(asks) == 3 and len(sink.pairs) == 1
    assert "the clue holds the word 'lighthouse', the answer" in asks[1].messages[-1]["content"]
    assert "the notes do not use the word 'tower'" in asks[2].messages[-1]["content"]


def test_every_type_yields_a_pair_keyed_as_its_shape_writes_it(skill) -> None:
    """The whole skill, each type once: the text types' key is the author's, the shaped ones' code's."""
    keys = {"logic_deduction": arrangement_fields(KEEPERS)["answer_key"], "sequence_pattern": "95"}
    keys["wordplay"] = "lighthouse"
    replies = {"logic_deduction": KEEPERS, "sequence_pattern": SEQUENCE, "wordplay": ANAGRAM}

    def instruction(name: str) -> dict:
        return {"puzzle": replies[name]} if name in replies else {"instruction": PUZZLE, "answer_key": KEY}

    def teacher(request: ModelRequest) -> str:
        task = request.messages[-1]["content"]
        if task.startswith("Unscramble"):
            return "Answer: lighthouse"
        if "The sequence begins" in task:
            return "Answer: 95"
        return f"Answer: {keys['logic_deduction']}" if "(E) " in task else SOLUTION

    sink = run(skill, scripted(skill, instruction, teacher), refinement_rounds=0, instructions_per_seed=7)
    assert not sink.rejections
    made = {pair.instruction_type: pair for pair in sink.pairs}
    assert sorted(made) == sorted(TYPES)
    for name, pair in made.items():
        assert pair.lineage.seed_instruction.fields["answer_key"] == keys.get(name, KEY), name
    assert made["wordplay"].messages[1]["content"] == anagram_fields(ANAGRAM, NOTES)["task"]


def test_a_logic_deduction_is_written_by_code_from_its_clues(skill) -> None:
    """The local author copied the guidance's "The engineer is not Ana" and keyed an answer the clues did not
    force: code now writes the question, its options and the key from the clues' checks."""
    single = only(skill, "logic_deduction")
    fields = arrangement_fields(KEEPERS)
    key = fields["answer_key"]
    worked = f"Ada is before Bram, Bram is not last and Cora is not first.\nAnswer: {key}"
    model = scripted(single, {"puzzle": KEEPERS}, teacher_answers(worked, f"Answer: ({key})"))
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    [ask] = [r for r in model.requests if "/instruct/" in r.tag]
    assert list(ask.json_schema["schema"]["properties"]) == ["puzzle", "suitable", "reason"]
    assert "solver_program" not in ask.messages[-1]["content"] and "Ana" not in ask.messages[-1]["content"]
    [pair] = sink.pairs
    assert pair.messages[1]["content"] == fields["task"] and "(E) " in fields["task"]
    [result] = pair.verification.checks
    assert result.name == "answers_agree" and result.ok and "which code computed" in result.detail
    assert pair.lineage.seed_instruction.fields == {
        "answer_key": key,
        "solver_program": fields["solver_program"],
    }


def rule_reader(puzzle: dict, own_answer: str, checks: list[str] | None = None):
    """A teacher whose own answer is `own_answer` and who reads the clues as `checks` (by default the
    author's, as a teacher who reads them right)."""
    fields = arrangement_fields(puzzle)
    view = read_puzzle(fields["task"])
    read = checks or author_checks(fields["solver_program"])

    def teacher(request: ModelRequest) -> object:
        if request.tag.endswith("/rule_checks"):
            entries = [{"rule": r, "check": c} for r, c in zip(view.rules, read, strict=True)]
            return {"checks": entries, "suitable": True, "reason": ""}
        return own_answer

    return teacher, fields


def test_a_missed_logic_deduction_is_answered_through_the_teachers_reading_of_its_clues(skill) -> None:
    """Locally the teacher was right in words on 1 of 9 such puzzles and through its checks on 8 of 14. The
    checks mean what the author's mean, so the answer code writes from them is the key: no second answer."""
    single = only(skill, "logic_deduction")
    teacher, fields = rule_reader(KEEPERS, "Cora must come first.\nAnswer: the order Cora, Ada, Bram")
    model = scripted(single, {"puzzle": KEEPERS}, teacher)
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    answer = pair.messages[-1]["content"]
    assert answer.endswith(f"Answer: {fields['answer_key']}") and "breaks rule" in answer
    checks = {c.name: c for c in pair.verification.checks}
    assert list(checks) == ["answers_agree", "program_aided"] and pair.verification.status == "passed"
    assert "agrees with the key" in checks["answers_agree"].detail
    assert "second independent answer" not in checks["answers_agree"].detail
    assert not any(r.tag.endswith("/resample") for r in model.requests)
    [reading] = [r for r in model.requests if r.tag.endswith("/rule_checks")]
    asked = str(reading.messages)  # the clues and options, never the author's checks or the key
    assert "Cora does not keep night 1." in asked and "Cora != 1" not in asked and "answer_key" not in asked


def test_a_misread_clue_leaves_the_logic_deduction_rejected(skill) -> None:
    single = only(skill, "logic_deduction")
    misread = ["Ada > Bram", "Cora != 1", "Bram != 3"]
    teacher, _ = rule_reader(KEEPERS, "Answer: none of them", misread)
    sink = run(single, scripted(single, {"puzzle": KEEPERS}, teacher), refinement_rounds=0)
    [rejection] = sink.rejections
    assert not sink.pairs and rejection.reason == "verification_failed:answers_agree,program_aided"
    assert "does not say what it says" in rejection.detail


def test_the_arrangement_prompts_example_is_a_fair_puzzle(skill) -> None:
    """The instruction prompt's example reply is itself a structure code can write a puzzle from."""
    source = environment(skill).loader.get_source(environment(skill), "brain_teaser/arrangement.j2")[0]
    example = json.loads(next(line for line in source.splitlines() if line.startswith('{"setup"')))
    fields = arrangement_fields(example)
    assert fields["answer_key"] in "ABCDE" and "Mira" in fields["task"]


def test_a_shape_only_field_must_be_one_a_shape_of_the_skill_writes(skill) -> None:
    from agentinstruct.skills import Skill

    raw = skill.model_dump()
    raw["instruction_types"] = [t for t in raw["instruction_types"] if t["task_shape"] != "arrangement"]
    with pytest.raises(ValueError, match=r"shape_only_fields: no task_shape .* writes \['solver_program'\]"):
        Skill.model_validate(raw)


def test_only_the_arrangement_type_is_asked_for_or_carries_a_solver_program(written) -> None:
    """A small model asked for a riddle's solver program writes one; the editor rewrites text: it has none."""
    single = only(written, "riddle")
    model = scripted(single, {"instruction": PUZZLE, "answer_key": KEY}, teacher_answers(SOLUTION, SOLUTION))
    sink = run(single, model, refinement_rounds=1, instructions_per_seed=1)
    asked = [r for r in model.requests if "/instruct/" in r.tag or "/refine/editor/" in r.tag]
    assert len(asked) == 2
    for request in asked:
        assert "solver_program" not in str(request.json_schema), request.tag
        assert "solver_program" not in request.messages[-1]["content"], request.tag
    assert all(pair.lineage.seed_instruction.fields == {"answer_key": KEY} for pair in sink.pairs)


def test_no_guidance_quotes_a_whole_puzzle_the_author_could_copy() -> None:
    """The local author wrote the guidance's Moses question back as its trick question (run s11c)."""
    skill = load("brain_teaser")
    for itype in skill.instruction_types:
        quoted = re.findall(r'"([^"]+)"', itype.guidance)
        assert not [q for q in quoted if len(q.split()) > 4], itype.name  # "How is this possible?" is a form


def test_a_second_key_that_reads_back_the_tasks_only_number_is_no_solution() -> None:
    """s18: keyed 8,000,000 pounds, the author re-keyed "400,000 pounds", the one number the puzzle gave."""
    from types import SimpleNamespace

    from agentinstruct.flows.answer_keys import key_is_derivable

    chain = SimpleNamespace(
        instruction="If the soil has a weight of 400,000 pounds, what is the weight of the lot?",
        content="notes",
    )
    assert not key_is_derivable("400,000 pounds", chain)
    assert key_is_derivable("8,000,000 pounds", chain)


def test_a_puzzle_that_asks_nothing_is_asked_again(skill) -> None:
    """s30: a riddle that was one sentence of facts, keyed with a name in it."""
    assert skill.task_asks
    statement = "A keeper climbs 120 steps each night, 6 nights a week, for 2 weeks in a row."
    asks, sink = math_puzzle_written_twice(skill, statement)
    assert len(asks) == 2 and "the task states facts but asks nothing" in asks[1].messages[-1]["content"]
    assert sink.pairs and sink.pairs[0].messages[1]["content"] == PUZZLE


@pytest.mark.parametrize(
    ("task", "asks"),
    [
        ("I have keys but open no locks. What am I?", True),
        ("Unscramble the 5 letters T-R-A-E-W to find one word.", True),
        ("Name the river that the bridge crosses, given the clues below.", True),
        ("Fill in the blank: 2, 4, 8, ___", True),
        ("Lot on Mill Lane is a village with 0.3 hectares of land, resulting in a vote of 7 to 4.", False),
    ],
)
def test_check_task_asks_tells_a_question_from_a_statement(task, asks) -> None:
    from types import SimpleNamespace

    from agentinstruct.flows.outputs import check_task_asks

    if asks:
        check_task_asks(SimpleNamespace(instruction=task))
    else:
        with pytest.raises(ValueError, match="asks nothing"):
            check_task_asks(SimpleNamespace(instruction=task))


def test_a_second_key_that_restates_the_task_is_no_solution() -> None:
    """s30: the riddle's author re-keyed "Lot on Mill Lane" with the riddle's whole sentence."""
    from types import SimpleNamespace

    from agentinstruct.flows.answer_keys import key_is_derivable

    task = (
        "Lot on Mill Lane is a village with 0.3 hectares of land, where Fenwick town council and Mill Lane "
        "Growers Association debated on Tuesday night. Which body voted 7 to 4?"
    )
    chain = SimpleNamespace(instruction=task, content="notes")
    assert not key_is_derivable(task.split(" Which")[0], chain)
    assert key_is_derivable("Fenwick town council", chain)


def test_a_riddle_keyed_with_a_name_or_a_list_goes_back(skill) -> None:
    """s38 keyed a riddle "Concrete, steel, wood structure" (the teacher answered "A farm"), s39 "Agnes Rowe"
    (the teacher: "Statue"); a riddle describes one thing, in one or two words."""
    riddle = skill.types_by_name["riddle"]
    fits = ["lighthouse", "A farm", "the keeper's lamp", "Storm lamp", "Agnes Rowe", "Concrete, steel, wood"]
    assert [k for k in fits if riddle.key_fits(k)] == fits[:4]
    single = skill.model_copy(update={"instruction_types": [riddle]})
    question = "I stand on the point and never sleep; my eye turns all night. What am I?"
    keys = iter(["Agnes Rowe", "lighthouse"])
    model = scripted(
        single,
        lambda name: {"instruction": question, "answer_key": next(keys)},
        teacher_answers("Answer: lighthouse", "Answer: a lighthouse"),
    )
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    asks = [r for r in model.requests if "/instruct/" in r.tag]
    assert len(asks) == 2
    sent_back = asks[1].messages[-1]["content"]
    assert (
        "the answer_key 'Agnes Rowe' does not fit a task of this type (riddle: its key is the one"
        in sent_back
    )
    assert "not a person's name" in sent_back
    [pair] = sink.pairs
    assert pair.verification.status == "passed"
