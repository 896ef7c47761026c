"""The few_shot_reasoning skill (SPEC §2 row 15): taxonomy, templates, the flow with a scripted model, and
its checks: `answer_matches_key` (the held-out query's answer matches the key, normalised exact or
numeric) and `second_query_agrees` (a second query checks the same rule)."""

from __future__ import annotations

import asyncio

import pytest

from agentinstruct.models import ModelRequest, ScriptedModel
from agentinstruct.quality.agreement import answer_matches_key, second_query_agrees
from agentinstruct.quality.checks import Candidate
from keyed_skills_support import (
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
    "pattern_induction",
    "analogy_completion",
    "rule_application",
    "classification_from_examples",
    "format_transformation",
    "chain_of_thought_exemplars",
]
MAPPING = (
    "Rule: the output is the number of years between the two years.\nExamples:\n"
    "Input: 1852-1942 -> Output: 90\nInput: 1900-1950 -> Output: 50\nInput: 1990-2001 -> Output: 11"
)
TASK = MAPPING.split("Examples:\n")[1] + "\nInput: 1800-1875 -> Output: ?"
FIELDS = {"instruction": TASK, "answer_key": "75", "second_query": "Input: 2000-2024", "second_answer": "24"}
RIGHT = "The output is the later year minus the earlier one. 1875 - 1800 = 75.\nAnswer: 75"


@pytest.fixture(scope="module")
def skill():
    return load("few_shot_reasoning")


def test_taxonomy_matches_the_spec_row(skill) -> None:
    assert [t.name for t in skill.transformations] == ["pattern_builder", "term_pattern"]
    assert [t.name for t in skill.instruction_types] == TYPES
    assert [g.name for g in skill.refinement.goals] == ["fewer_examples", "noisier_examples"]
    assert skill.checks == ["answer_matches_key", "second_query_agrees"] and skill.repair_rounds == 0
    assert list(skill.instruction_fields) == ["answer_key", "second_query", "second_answer"]


def test_every_template_renders_strictly(skill) -> None:
    details = {k: v for k, v in FIELDS.items() if k != "instruction"}
    variables = variables_for(skill, MAPPING, TASK, details)
    rendered = render_every_template(skill, variables)
    assert rendered[skill.prompts.user_turn].strip() == TASK  # the task carries its examples
    assert "Second query: Input: 2000-2024 -> 24" in rendered[skill.prompts.editor]
    assert "Expected answer: 75" in rendered[skill.prompts.suggester]
    assert '"Answer: <output>"' in rendered[skill.prompts.teacher]
    for itype in skill.instruction_types:
        template = environment(skill).get_template(itype.prompt or skill.prompts.instruction)
        shown = template.render(**{**variables[skill.prompts.instruction], "instruction_type": itype})
        assert itype.guidance in shown and "second_query" in shown and MAPPING in shown
        # a held-out task's key and second answer are the held-out pairs' outputs: code writes them
        assert ("answer_key" in shown) == (itype.task_shape == "text"), itype.name
    held_out = [t.name for t in skill.instruction_types if t.task_shape == "held_out"]
    assert held_out == ["pattern_induction", "classification_from_examples", "format_transformation"]


def teacher(request: ModelRequest) -> str:
    """A teacher that knows the rule: it answers the task's query and the second query right."""
    asked_second = "2000-2024" in request.messages[-1]["content"]
    return "2024 - 2000 = 24.\nAnswer: 24" if asked_second else RIGHT


def test_the_flow_yields_answers_that_match_the_key(skill) -> None:
    # pattern_builder alone, which every type follows (term_pattern is for the held-out types only)
    skill = skill.model_copy(update={"transformations": skill.transformations[:1]})
    model = scripted(skill, FIELDS, teacher, content=MAPPING)
    sink = run(skill, model, seeds=3)
    assert len(sink.pairs) == 3 * 2 * 3 and not sink.rejections
    # the years' mapping has no classes, so classification_from_examples gives way to another type
    assert {p.instruction_type for p in sink.pairs} == set(TYPES) - {"classification_from_examples"}
    for pair in sink.pairs:
        assert_pair_shape(pair, skill, TASK)
        assert [c.name for c in pair.verification.checks] == ["answer_matches_key", "second_query_agrees"]
        assert pair.verification.checks[0].detail == "final answer '75' matches the key"
    resampled = [r for r in model.requests if r.tag.endswith("/resample")]
    assert resampled and all("2000-2024" in r.messages[-1]["content"] for r in resampled)
    assert all(
        "-> Output: 75" not in m["content"]
        for r in model.requests
        if "/teacher/" in r.tag
        for m in r.messages
    )


def test_a_mapping_without_its_rule_and_examples_is_asked_again(skill) -> None:
    builder = skill.transformations[0]
    assert builder.content_must_contain_all == ["Rule:", "Input:", "Output:"]
    assert builder.content_shape == "mapping"  # under a grammar the model writes {rule, examples}
    # the local model summed the seed up in one line instead of writing a mapping
    summary = "Alder Creek's lighthouse was lit by keepers from 1852 until a beacon replaced them in 1942."
    model = scripted(skill, FIELDS, teacher, content=[summary, MAPPING])
    sink = run(skill, model, refinement_rounds=0, instructions_per_seed=1)
    asks = [r for r in model.requests if "/transform/" in r.tag]
    assert len(asks) == 2
    assert (
        "the content lacks 'Rule:', 'Input:', 'Output:', which this transformation (pattern_builder)"
        in (asks[1].messages[-1]["content"])
    )
    [pair] = sink.pairs
    assert pair.lineage.transformation.content == MAPPING


def test_terms_that_stay_unusable_hand_the_unit_to_pattern_builder(skill) -> None:
    """s31 and s37 lost a unit each at term_pattern; pattern_builder takes every type term_pattern does."""
    builder = scripted(skill, FIELDS, teacher, content=MAPPING)

    def reply(request: ModelRequest) -> object:
        if request.tag.endswith("/transform/term_pattern"):  # one distinct term: no rule fits
            return {"content": {"terms": ["Mill Lane"] * 8}, "suitable": True, "reason": ""}
        return builder._function(request)

    model = ScriptedModel(reply)
    sink = run(skill, model, seeds=2, refinement_rounds=0, instructions_per_seed=1)
    asked = [r.tag.rsplit("/", 1)[1] for r in model.requests if "/transform/" in r.tag]
    assert (
        asked.count("term_pattern") == 3 and asked.count("pattern_builder") == 2
    )  # one unit each, one stand-in
    [rejection] = sink.rejections
    assert rejection.reason == "agent_failed:transformation" and "fit no pattern" in rejection.detail
    assert len(sink.pairs) == 2
    assert {p.lineage.transformation.agent for p in sink.pairs} == {"pattern_builder"}


def test_a_mapping_written_as_a_structure_reaches_the_instruction_agent_as_rule_and_examples(skill) -> None:
    structure = {
        "rule": "the output is the number of years between the two years.",
        "examples": [["1852-1942", "90"], ["1900-1950", "50"], ["1990-2001", "11"], ["1800-1810", "10"]],
    }
    model = scripted(skill, FIELDS, teacher, content=[structure])
    [pair] = run(skill, model, refinement_rounds=0, instructions_per_seed=1).pairs
    assert pair.lineage.transformation.content == MAPPING + "\nInput: 1800-1810 -> Output: 10"
    ask = next(r for r in model.requests if "/instruct/" in r.tag)
    assert "Input: 1852-1942 -> Output: 90" in ask.messages[-1]["content"]


def test_the_flow_rejects_an_answer_that_misses_the_key(skill) -> None:
    model = scripted(skill, FIELDS, lambda request: "Add the digits.\nAnswer: 21", content=MAPPING)
    sink = run(skill, model, refinement_rounds=0)
    assert not sink.pairs and len(sink.rejections) == 2
    for rejection in sink.rejections:
        assert rejection.reason.startswith("verification_failed:answer_matches_key")
        assert rejection.detail.startswith("answered '21', the key is '75'")


def candidate(answer: str, key: str = "75", itype: str = "pattern_induction", resample=None) -> Candidate:
    details = {**{k: v for k, v in FIELDS.items() if k != "instruction"}, "answer_key": key}
    return Candidate("few_shot_reasoning", itype, "", TASK, answer, False, details=details, resample=resample)


def test_the_key_check_is_an_exact_or_numeric_match() -> None:
    assert answer_matches_key(candidate("Answer: 75.0")).ok
    assert answer_matches_key(candidate("**Answer:** `Output: 75`")).ok
    assert answer_matches_key(candidate("Answer: 1,000", key="1000")).ok
    assert answer_matches_key(
        candidate("Answer: Mammal.", key="mammal", itype="classification_from_examples")
    ).ok
    assert not answer_matches_key(candidate("Answer: 76")).ok
    assert not answer_matches_key(candidate("Answer: mammals", key="mammal")).ok
    # case is part of a format transformation's output
    fmt = "format_transformation"
    assert answer_matches_key(candidate("Answer: SMITH, John", key="SMITH, John", itype=fmt)).ok
    assert answer_matches_key(candidate("Answer: SMITH,John", key="SMITH, John", itype=fmt)).ok
    wrong_case = answer_matches_key(candidate("Answer: Smith, John", key="SMITH, John", itype=fmt))
    assert not wrong_case.ok and wrong_case.detail == "answered 'Smith, John', the key is 'SMITH, John'"
    # the local teacher wrote the query's line out, as the examples show it: the output is after the arrow
    restated = "Output: new water connection -> connection water new"
    assert answer_matches_key(candidate(restated, key="connection water new")).ok
    assert not answer_matches_key(candidate("Output: connection -> water new", key="connection water new")).ok


def test_the_second_query_checks_the_same_rule() -> None:
    asked: list[str] = []

    def teacher(reply: str):
        async def resample(instruction: str | None = None) -> str:
            asked.append(instruction or "")
            return reply

        return resample

    good = asyncio.run(
        second_query_agrees(candidate(RIGHT, resample=teacher("2024 - 2000 = 24.\nAnswer: 24")))
    )
    assert good.ok and "answered '24', as expected" in good.detail
    assert asked[-1].startswith(TASK) and asked[-1].endswith("Input: 2000-2024")
    bad = asyncio.run(second_query_agrees(candidate(RIGHT, resample=teacher("Answer: 4024"))))
    assert not bad.ok and bad.detail.endswith("the teacher answered '4024', expected '24'")

    async def plain() -> str:  # a resample that cannot take a variant: the check does not apply
        return "Answer: 24"

    assert asyncio.run(second_query_agrees(candidate(RIGHT, resample=plain))) is None
    assert asyncio.run(second_query_agrees(candidate(RIGHT))) is None


def test_teacher_prompt_never_sees_the_second_query(skill) -> None:
    model = scripted(skill, FIELDS, lambda request: RIGHT, content=MAPPING)
    run(skill, model, refinement_rounds=0)
    # only the check's own resample (a variant of the task) asks the second query
    teacher: list[ModelRequest] = [
        r for r in model.requests if "/teacher/" in r.tag and not r.tag.endswith("/resample")
    ]
    assert teacher and all("2000-2024" not in m["content"] for r in teacher for m in r.messages)


def test_a_query_that_repeats_an_example_is_sent_back(skill) -> None:
    """The local model copied an example into the query, so the answer stood in the task."""
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["pattern_induction"]]})
    leaked = MAPPING.split("Examples:\n")[1] + "\nInput: 1900-1950 -> Output: ?"
    tasks = iter([leaked, TASK])
    model = scripted(single, lambda name: FIELDS | {"instruction": next(tasks)}, teacher, content=MAPPING)
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    asks = [r for r in model.requests if "/instruct/" in r.tag]
    assert len(asks) == 2
    assert "the held-out query '1900-1950' repeats an example" in asks[1].messages[-1]["content"]
    [pair] = sink.pairs
    assert pair.messages[1]["content"].strip() == TASK and not sink.rejections


@pytest.mark.parametrize(
    ("task", "second", "problem"),
    [
        ("Input: France -> Output: Paris\nInput: Peru -> Output: ?", "Input: Japan", None),
        ("Input: France\nOutput: Paris\nInput: France\nOutput: ?", "Japan", "held-out query 'france'"),
        ("Item: oak -> Class: tree; Item: rose -> Class: flower; Item: Oak. -> Class: ___", "fir", "'oak'"),
        ("Input: France -> Output: Paris\nInput: Peru -> Output: ?", 'Input: "France"', "'second_query'"),
        ("Input: France -> Output: Paris\nInput: Peru -> Output: ?", "peru", "'second_query'"),
        ("Rule: add one. 3 becomes 4. What does 3 become?", "Input: 3", None),
        ("Input: France -> Output: Paris\nInput: Japan -> Output: Tokyo", "Peru", "never asks"),
        (
            "Input: France -> Output: Paris\nInput: Peru -> Output: ?",
            "Input: Japan -> Output: Tokyo",
            "output too",
        ),
    ],
)
def test_new_queries_compares_inputs_without_labels_case_or_quotes(task, second, problem) -> None:
    from pydantic import ValidationError

    from agentinstruct.agent_outputs import InstructionOutput
    from agentinstruct.flows.outputs import with_new_queries, with_skill_fields

    output = with_new_queries(with_skill_fields(InstructionOutput, {"second_query": "q"}), ["second_query"])
    reply = {"instruction": task, "second_query": second, "suitable": True}
    if problem is None:
        assert output.model_validate(reply).instruction == task
    else:
        with pytest.raises(ValidationError, match=problem):
            output.model_validate(reply)


def test_new_queries_name_instruction_fields(skill) -> None:
    from agentinstruct.skills import Skill

    assert skill.new_queries == ["second_query"]
    raw = skill.model_dump() | {"new_queries": ["third_query"]}
    with pytest.raises(ValueError, match=r"new_queries: \['third_query'\] are not instruction_fields"):
        Skill.model_validate(raw)


def test_classification_needs_a_mapping_whose_outputs_are_classes(skill) -> None:
    # run s15 delivered a word reversal ("Weir Street -> Street Weir") as classification_from_examples
    classify = skill.types_by_name["classification_from_examples"]
    classes = (
        "Rule: even or odd.\nExamples:\nInput: 4 -> Output: even\nInput: 7 -> Output: odd\n"
        "Input: 10 -> Output: even\nInput: 3 -> Output: odd\nInput: 8 -> Output: even"
    )
    assert classify.fits(classes)
    assert not classify.fits(MAPPING)  # every output once: no classes
    one_class = classes.replace("Output: odd\nInput: 10", "Output: prime\nInput: 10")
    assert not classify.fits(one_class.replace("Input: 3 -> Output: odd", "Input: 3 -> Output: three"))
    assert not classify.fits(classes.replace("-> Output: odd", "-> Output: even"))  # one class only


@pytest.mark.parametrize("name", ["pattern_induction", "format_transformation"])
def test_held_out_rule_types_need_outputs_a_rule_can_decide(skill, name: str) -> None:
    # runs s37-s39: "Mill Lane -> property", "five years -> period": a lookup of meanings, answered
    # 'currency' for 'cost' and 'area' for 'size', every such task rejected
    itype = skill.types_by_name[name]
    lookup = (
        "Rule: each input is mapped to what it is.\nExamples:\n"
        "Input: Fenwick council voted 7 to 4 -> Output: vote\nInput: five years -> Output: period\n"
        "Input: a rent of one pound -> Output: cost"
    )
    assert not itype.fits(lookup)
    assert itype.fits(MAPPING)  # numbers
    kept = {"Mill Lane": "mill-lane", "the Harlow works": "works", "Weir Street": "WEIR STREET"}
    for given, output in kept.items():  # part of the input kept, in any case
        assert itype.fits(f"Rule: r\nInput: {given} -> Output: {output}\nInput: five years -> Output: span")
    assert itype.fits("Rule: initials\nInput: Mill Lane -> Output: ML\nInput: Weir Street -> Output: WS")
    classes = "Rule: r\nInput: Mill Lane -> Output: place\nInput: 1914 -> Output: time\n"
    classes += "Input: Weir -> Output: place"
    assert itype.fits(classes)
