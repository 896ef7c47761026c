"""The multiple_choice skill (SPEC §2 row 7): taxonomy, templates, the flow with a scripted model, and the
`answer_matches_key` check (the teacher, who never sees the key, commits to the key's option letters)."""

from __future__ import annotations

import pytest

from agentinstruct.field_formats import normalised
from agentinstruct.flows.outputs import contains_phrase
from agentinstruct.models import ModelRequest
from agentinstruct.quality.agreement import answer_matches_key, chosen_letters, key_letters, options_in
from agentinstruct.quality.checks import Candidate
from agentinstruct.skills import InstructionType
from keyed_skills_support import (
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
    "factual_recall",
    "conceptual_understanding",
    "application",
    "analysis",
    "best_answer",
    "except_question",
    "multi_select",
]
QUESTION = (
    "For how many years did keepers light the Alder Creek lamp before a beacon replaced them?\n"
    "A) 52 years\nB) 90 years\nC) 120 years\nD) None of the above"
)
MULTI = (
    "Which of these were part of a keeper's nightly work? Select all that apply.\n"
    "A) Trimming wicks\nB) Repainting the tower\nC) Climbing to the lamp room\nD) Building boats\n"
    "E) Writing the town charter"
)
RIGHT = (
    "The lamp was lit from 1852 to 1942, which is 90 years. A is the founding gap, C the steps.\nAnswer: B"
)
WRONG = "The tower has 120 steps, so it must be C.\nAnswer: C"


@pytest.fixture(scope="module")
def skill():
    return load("multiple_choice")


def test_taxonomy_matches_the_spec_row(skill) -> None:
    assert [t.name for t in skill.transformations] == ["identity", "summary"]
    bounds = {t.name: (t.verbatim, t.min_words, t.max_words) for t in skill.transformations}
    assert bounds == {"identity": (True, 30, None), "summary": (False, None, None)}
    assert [t.name for t in skill.instruction_types] == TYPES
    assert [g.name for g in skill.refinement.goals] == ["harder_distractors", "none_of_the_above"]
    assert skill.checks == ["answer_matches_key"] and skill.repair_rounds == 0
    assert list(skill.instruction_fields) == ["options", "answer_key"] and skill.appended_fields == [
        "options"
    ]
    assert all(not t.instruction_types for t in skill.transformations)  # every type after both
    for itype in skill.instruction_types:
        assert itype.intent.strip() and "\n" not in itype.intent.strip(), itype.name
        assert "option" in itype.guidance.lower(), itype.name


def test_every_template_renders_strictly(skill) -> None:
    rendered = render_every_template(skill, variables_for(skill, SEED, QUESTION, {"answer_key": "B"}))
    assert rendered[skill.prompts.user_turn].strip() == QUESTION  # closed book: the question alone
    assert "Correct option(s): B" in rendered[skill.prompts.editor]
    assert "Correct option(s): B" in rendered[skill.prompts.suggester]
    assert '"Answer: A, C"' in rendered[skill.prompts.teacher]
    assert (
        "answer_key" not in rendered[skill.prompts.teacher] and "key" not in rendered[skill.prompts.user_turn]
    )
    values = variables_for(skill, SEED, QUESTION, {"answer_key": "B"})[skill.prompts.instruction]
    template = environment(skill).get_template(skill.prompts.instruction)
    for itype in skill.instruction_types:
        shown = template.render(**{**values, "instruction_type": itype})
        assert itype.guidance in shown and "the first is option A, the second B" in shown


def item(question: str, key: str) -> dict[str, str]:
    """The instruction agent's reply for a question: the stem, the options in their own field, the key."""
    stem, options = question.split("\nA)", 1)
    return {"instruction": stem, "options": "A)" + options, "answer_key": key}


#: the words a stem of these types must hold (each type's task_must_contain_any)
WORDED = {
    "best_answer": "What is the best figure for how many years keepers lit the Alder Creek lamp?",
    "except_question": "All of these describe the keepers' years at Alder Creek EXCEPT:",
    "multi_select": "Which of these were part of a keeper's nightly work? Select all that apply.",
}


def typed_item(type_name: str) -> dict[str, str]:
    """The reply to an instruction agent of this type: QUESTION, with the stem the type requires."""
    question = item(QUESTION, "B")
    return question | {"instruction": WORDED[type_name]} if type_name in WORDED else question


def by_type(request: ModelRequest) -> str:
    return (
        RIGHT if "multi_select" not in request.tag else "A is nightly, C too; the rest are not.\nAnswer: A, C"
    )


def test_the_flow_yields_answers_that_agree_with_the_hidden_key(skill) -> None:
    model = scripted(skill, typed_item, by_type)
    sink = run(skill, model, seeds=4, refinement_rounds=1)
    singles = [p for p in sink.pairs if p.instruction_type != "multi_select"]
    assert len(singles) >= 10 and not [r for r in sink.rejections if "multi_select" not in r.instruction_type]
    for pair in singles:
        stem = typed_item(pair.instruction_type)["instruction"]
        assert_pair_shape(pair, skill, stem)  # the stem (a refined one adds a line)
        assert pair.messages[1]["content"].endswith(QUESTION[QUESTION.index("A)") :])  # then the options
        [result] = pair.verification.checks
        assert result.ok and result.detail == "answered B ('90 years'), as the key"
    assert {p.lineage.transformation.agent for p in sink.pairs} == {"identity", "summary"}
    # identity is verbatim: the seed's own words, without a model call; only summary asks the model
    transformed = {r.tag.split("/")[-1] for r in model.requests if "/transform/" in r.tag}
    assert transformed == {"summary"}
    identity = [p for p in sink.pairs if p.lineage.transformation.agent == "identity"]
    assert all(p.lineage.transformation.content == SEED for p in identity)
    teacher_requests = [r for r in model.requests if "/teacher/" in r.tag]
    assert teacher_requests and not any(r.tag.endswith("/resample") for r in teacher_requests)


def test_multi_select_compares_every_letter(skill) -> None:
    skill = skill.model_copy(update={"instruction_types": [skill.types_by_name["multi_select"]]})
    answers = iter(["Trimming and climbing.\nAnswer: A and C", "Answer: A"])
    model = scripted(skill, item(MULTI, "A, C"), lambda request: next(answers))
    sink = run(skill, model, refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    assert pair.verification.checks[0].detail == "answered A, C, as the key"
    sink = run(skill, model, refinement_rounds=0, instructions_per_seed=1)
    [rejection] = sink.rejections
    assert rejection.reason == "verification_failed:answer_matches_key"
    assert rejection.detail == "answered A ('Trimming wicks'), the key is A, C"


def test_a_bare_answer_is_asked_once_for_its_working_without_the_key(skill) -> None:
    """The local teacher answered analytical puzzles with a bare letter: asked to work it out, it may."""
    skill = skill.model_copy(update={"instruction_types": [skill.types_by_name["multi_select"]]})
    answers = iter(["C", "Trimming wicks and climbing the tower are nightly work.\nAnswer: A and C"])
    model = scripted(skill, item(MULTI, "A, C"), lambda request: next(answers))
    sink = run(skill, model, refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    assert pair.messages[-1]["content"].endswith("Answer: A and C") and pair.verification.status == "passed"
    [asked] = [r for r in model.requests if r.tag.endswith("/worked")]
    request = asked.messages[-1]["content"]
    assert 'last line "Answer: " followed by your final answer' in request
    assert "A, C" not in request  # never the key


def test_a_question_without_the_words_its_type_needs_is_asked_again(skill) -> None:
    rules = {t.name: t.task_must_contain_any for t in skill.instruction_types if t.task_must_contain_any}
    assert rules == {
        "best_answer": ["best", "most", "main", "primary"],
        "except_question": ["EXCEPT", "NOT"],
        "multi_select": ["all that apply"],
    }
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["except_question"]]})
    # the local model wrote an "except question" that was a plain recall question; "except" in lower case
    # inside a word list is not the capitalised stem the type asks for
    stems = iter(["Which of these, except perhaps one, did keepers do?", WORDED["except_question"]])
    model = scripted(single, lambda type_name: item(QUESTION, "B") | {"instruction": next(stems)}, by_type)
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    asks = [r for r in model.requests if "/instruct/" in r.tag]
    assert len(asks) == 2
    assert (
        "a task of this type (except_question) must contain 'EXCEPT' or 'NOT', and this one does not"
        in asks[1].messages[-1]["content"]
    )
    [pair] = sink.pairs
    assert pair.messages[1]["content"].startswith(WORDED["except_question"])


def test_code_states_a_phrase_the_question_left_out_unless_it_asks_for_one_answer(skill) -> None:
    multi = skill.types_by_name["multi_select"]
    assert multi.task_closing == "Select all that apply."
    single = skill.model_copy(update={"instruction_types": [multi]})
    # the local model left "all that apply" out three times in a row (runs s9e, s10b); code appends it
    bare = "Which of these were part of a keeper's nightly work?"
    model = scripted(single, lambda type_name: item(QUESTION, "A, C") | {"instruction": bare}, by_type)
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    assert len([r for r in model.requests if "/instruct/" in r.tag]) == 1
    [pair] = sink.pairs
    assert pair.messages[1]["content"].startswith(f"{bare}\n\nSelect all that apply.\nA)")
    # a question that asks for exactly one answer is not turned into a multi-select one: it goes back
    stems = iter(["Which one of these was nightly work?", WORDED["multi_select"]])
    model = scripted(single, lambda type_name: item(QUESTION, "A, C") | {"instruction": next(stems)}, by_type)
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    asks = [r for r in model.requests if "/instruct/" in r.tag]
    assert len(asks) == 2 and "asks for exactly one" in asks[1].messages[-1]["content"]
    with pytest.raises(ValueError, match="task_closing must hold one of task_must_contain_any"):
        InstructionType(
            name="pick_many", intent="Pick.", task_must_contain_any=["all that apply"], task_closing="Pick."
        )


def test_the_flow_rejects_an_answer_that_differs_from_the_key(skill) -> None:
    model = scripted(skill, typed_item, lambda request: WRONG)
    sink = run(skill, model, refinement_rounds=0)
    assert not sink.pairs and len(sink.rejections) == 2
    for rejection in sink.rejections:
        assert rejection.reason == "verification_failed:answer_matches_key"
        assert rejection.detail == "answered C ('120 years'), the key is B ('90 years')"


def candidate(answer: str, key: str = "B", question: str = QUESTION) -> Candidate:
    return Candidate(
        "multiple_choice", "factual_recall", SEED, question, answer, False, details={"answer_key": key}
    )


@pytest.mark.parametrize(
    "answer",
    [
        "Answer: B",
        "The correct answer is (B).",
        "**Answer:** (B) 90 years",
        "Reasoning...\nB",
        "Reasoning...\n(B) 90 years",
        "Reasoning...\nB) 90 years",
        "Option A is wrong, option C is the steps.\nFinal answer: B",
        "I choose B.",
        "Answer: 90 years",
        "Final answer:\nB",
    ],
)
def test_the_parser_reads_the_committed_letter(answer: str) -> None:
    assert answer_matches_key(candidate(answer)).ok


def test_the_check_rejects_wrong_and_uncommitted_answers() -> None:
    wrong = answer_matches_key(candidate("Answer: C"))
    assert not wrong.ok and wrong.detail == "answered C ('120 years'), the key is B ('90 years')"
    vague = answer_matches_key(candidate("It could be several of these."))
    assert not vague.ok and "commits to no option letter" in vague.detail
    extra = answer_matches_key(candidate("Answer: B and D"))
    assert not extra.ok and "answered B, D" in extra.detail
    assert not answer_matches_key(candidate("Answer: B", key="F")).ok  # the key names no option
    assert answer_matches_key(candidate("Answer: None of the above", key="D")).ok
    assert answer_matches_key(candidate("Answer: B", key="")) is None


def test_letter_helpers() -> None:
    options = options_in(MULTI)
    assert list(options) == ["A", "B", "C", "D", "E"] and options["A"] == "Trimming wicks"
    assert key_letters("A, C", options) == ["A", "C"] and key_letters("C and A", options) == ["A", "C"]
    assert key_letters("(B) Repainting the tower", options) == ["B"] and key_letters("wicks", options) is None
    assert chosen_letters("Answer: (A) Trimming wicks and (C) Climbing", options) == ["A", "C"]
    assert chosen_letters("The answers are A, C and E.", options) == ["A", "C", "E"]
    assert chosen_letters("A tricky one; no letter given", options) == []


def test_options_run_together_on_one_line_are_read() -> None:
    inline = "Which gas makes up most of the air? A) Carbon dioxide B) Nitrogen C) Helium D) Argon"
    assert options_in(inline) == {"A": "Carbon dioxide", "B": "Nitrogen", "C": "Helium", "D": "Argon"}
    assert options_in("Plan B) came before plan A) in the report.") == {}  # letters out of order: prose
    assert answer_matches_key(candidate("Answer: B", question=inline)).ok


def test_a_letter_key_for_a_question_without_options_is_rejected() -> None:
    bare = answer_matches_key(candidate("Answer: A", question="Why do roofs reflect sunlight?", key="A"))
    assert not bare.ok and "lists no lettered options" in bare.detail


def test_phrases_match_whole_words_and_capitals_stand_in_capitals() -> None:
    assert contains_phrase("All of these are causes EXCEPT:", "EXCEPT")
    assert not contains_phrase("All of these, except one, are causes.", "EXCEPT")
    assert not contains_phrase("Which is NOTHING like the others?", "NOT")
    assert contains_phrase("Which option is the BEST reason?", "best")
    assert contains_phrase("Select all\nthat apply.", "all that apply")
    with pytest.raises(ValueError, match="task_must_contain_any holds an empty phrase"):
        InstructionType(name="odd_one_out", intent="Find the odd one.", task_must_contain_any=["EXCEPT", " "])


def test_a_disputed_letter_key_is_solved_again_and_checked_as_letters(skill) -> None:
    """The local author's key was wrong 2 of 2 times while the options were fine."""
    assert skill.key_recheck
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["factual_recall"]]})
    rekeyed = {"working": "1852 to 1942 is 90 years, option B.", "answer_key": "B"}
    model = scripted(single, item(QUESTION, "C"), by_type, rekey=lambda request: rekeyed)
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    first, rechecked = pair.verification.checks
    assert first.name == "answer_matches_key" and first.detail == "answered B ('90 years'), as the key"
    assert rechecked.name == "key_rechecked" and "the first key 'C' disagreed" in rechecked.detail
    # a second solve that still disagrees with the answer leaves the pair rejected
    model = scripted(
        single, item(QUESTION, "C"), by_type, rekey=lambda request: rekeyed | {"answer_key": "D"}
    )
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    [rejection] = sink.rejections
    assert rejection.detail.startswith("answered B ('90 years'), the key is D")


def test_key_recheck_needs_an_answer_key(skill) -> None:
    from agentinstruct.skills import Skill

    raw = load("text_classification").model_dump() | {"key_recheck": True}
    with pytest.raises(ValueError, match=r"key_recheck: \['answer_key'\] are not instruction_fields"):
        Skill.model_validate(raw)


def test_options_are_asked_for_as_a_list_that_code_letters(skill) -> None:
    """As text, the local model wrote a single option three times in a row (run s11c)."""
    assert skill.field_formats == {"options": "option_list"}
    assert normalised("option_list", ["90 years", "B) 120 years", "(c) 60 years", "30 years"]) == (
        "A) 90 years\nB) 120 years\nC) 60 years\nD) 30 years",
        "",
    )
    assert normalised("option_list", "A) 90 years\nB) 120 years\nC) 60 years")[0].count("\n") == 2
    value, problem = normalised("option_list", ["90 years", "90 years", "-"])
    assert not value and "at least 3 different answer options" in problem
    stem, options = QUESTION.split("\nA)", 1)
    listed = [line.split(") ", 1)[1] for line in ("A)" + options).splitlines()]
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["factual_recall"]]})
    reply = {"instruction": stem, "options": listed, "answer_key": "B"}
    model = scripted(single, lambda type_name: reply, by_type)
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    asks = [r for r in model.requests if "/instruct/" in r.tag]
    [ask] = asks
    assert ask.json_schema["schema"]["properties"]["options"]["type"] == "array"
    [pair] = sink.pairs
    assert pair.messages[1]["content"] == QUESTION


@pytest.mark.parametrize(
    ("task", "sent_back"),
    [
        # run s16: a question sent alone, answered "the text states that the Town Council is responsible"
        ("According to the text, which department mows the grass?\nA) Parks\nB) Council\nC) Roads", True),
        ("Based on the passage, who proposed the lease?\nA) Ann\nB) Bo\nC) Cy", True),
        ("Which council in Fenwick voted to lease the Mill Lane lot?\nA) Town\nB) County\nC) Parish", False),
        # s39: the seed named by its genre
        ("What is the main point of the explainer?\nA) Sleep\nB) Memory\nC) Both", True),
        ("Which claim does the essay argue?\nA) Sleep\nB) Memory\nC) Both", True),
        ("What does the passage suggest about the keepers?\nA) Paid\nB) Unpaid\nC) Both", True),
        ("What is the main point of the lease vote?\nA) Housing\nB) Gardens\nC) Rent", False),
    ],
)
def test_a_question_sent_alone_names_no_text_its_user_cannot_see(task: str, sent_back: bool) -> None:
    from pydantic import ValidationError

    from agentinstruct.agent_outputs import InstructionOutput
    from agentinstruct.flows.outputs import with_task_rules
    from agentinstruct.skills import load_skills

    skills = load_skills()
    output = with_task_rules(InstructionOutput, skills["multiple_choice"])
    if sent_back:
        with pytest.raises(ValidationError, match="its user sees the task alone"):
            output.model_validate({"instruction": task})
    else:
        output.model_validate({"instruction": task})
    # where the user turn shows the text, "according to the text" is how a question reads
    with_task_rules(InstructionOutput, skills["reading_comprehension"]).model_validate({"instruction": task})


def test_a_multi_select_key_of_one_letter_sends_the_question_back(skill) -> None:
    """s39: "What is the size of the lot? Select all that apply." had one right option, keyed "B" and then
    re-derived as "A"; the teacher answered "A, C"."""
    multi = skill.types_by_name["multi_select"]
    assert [k for k in ("B", "A, C", "A and C", "a,c,e", "AC", "A, C.") if multi.key_fits(k)] == [
        "A, C",
        "A and C",
        "a,c,e",
        "AC",
        "A, C.",
    ]
    single = skill.model_copy(update={"instruction_types": [multi]})
    keys = iter(["B", "A, C"])
    model = scripted(single, lambda type_name: item(MULTI, next(keys)), by_type)
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    asks = [r for r in model.requests if "/instruct/" in r.tag]
    assert len(asks) == 2
    sent_back = asks[1].messages[-1]["content"]
    assert "the answer_key 'B' does not fit a task of this type (multi_select" in sent_back
    [pair] = sink.pairs
    assert pair.verification.checks[0].detail == "answered A, C, as the key"
    # the author's second solve of a disputed key is not taken when it names one letter
    rekeyed = {"working": "Trimming is nightly.", "answer_key": "A"}
    model = scripted(single, item(MULTI, "A, E"), by_type, rekey=lambda request: rekeyed)
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    [rejection] = sink.rejections
    assert rejection.detail == "answered A, C, the key is A, E"
    assert any("/key_recheck/" in r.tag for r in model.requests)


def test_several_letters_for_a_one_answer_question_are_asked_once_for_one(skill) -> None:
    """s37, s39: "Answer: A, C" to one-answer questions, rejected against one-letter keys. The request
    names the letters the answer picked, never the key; a select-all question is never asked."""
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["factual_recall"]]})

    def teacher(request: ModelRequest) -> str:
        return RIGHT if request.tag.endswith("/one_option") else "B and C both fit.\nAnswer: B, C"

    model = scripted(single, item(QUESTION, "B"), teacher)
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    assert pair.messages[-1]["content"] == RIGHT and pair.verification.status == "passed"
    [asked] = [r for r in model.requests if r.tag.endswith("/one_option")]
    request = asked.messages[-1]["content"]
    assert "Your answer picks B, C, but the question has exactly one correct option" in request
    multi = skill.model_copy(update={"instruction_types": [skill.types_by_name["multi_select"]]})
    model = scripted(multi, item(MULTI, "A, C"), by_type)
    [pair] = run(multi, model, refinement_rounds=0, instructions_per_seed=1).pairs
    assert not [r for r in model.requests if r.tag.endswith("/one_option")]
