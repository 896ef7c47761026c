"""Few-shot tasks written as data (`task_shape: held_out`): code writes the task, its key and second query.

The fields code writes from the pairs (a rule task and a class task), the choice it mends from the
mapping (pairs the mapping lacks, a held-out pair an example shows), the pairs it sends back without a
mapping to mend them from (a held-out input an example shows, two held-out pairs alike, an answer too long
to compare, a class no example shows, too few examples), and the flow: the instruction agent is asked for
the pairs alone, and a teacher who infers the rule passes both checks.
"""

from __future__ import annotations

import pytest

from agentinstruct.flows.held_out import held_out_fields
from agentinstruct.models import ModelRequest
from keyed_skills_support import load, run, scripted

pytestmark = pytest.mark.timeout(60)

MAPPING = (
    "Rule: the output is the number of years between the two years.\nExamples:\n"
    "Input: 1852-1942 -> Output: 90\nInput: 1900-1950 -> Output: 50\nInput: 1990-2001 -> Output: 11\n"
    "Input: 1800-1875 -> Output: 75\nInput: 2000-2024 -> Output: 24"
)
YEARS = {
    "examples": [["1852-1942", "90"], ["1900-1950", "50"], ["1990-2001", "11"]],
    "query": ["1800-1875", "75"],
    "second_query": ["2000-2024", "24"],
}
PLACES = {
    "examples": [
        ["Priya Ansel", "person"],
        ["Mill Lane", "street"],
        ["Gareth Pryce", "person"],
        ["Station Road", "street"],
        ["Deborah Mwangi", "person"],
        ["Weir Street", "street"],
    ],
    "query": ["Harbour Road", "street"],
    "second_query": ["Ada Lovelace", "person"],
}


def test_a_rule_task_ends_with_its_query_and_keeps_the_answers_apart() -> None:
    fields = held_out_fields(YEARS)
    task = fields["task"]
    assert task.startswith("Each input below is turned into its output by the same rule.")
    assert task.splitlines()[2:] == [
        "Input: 1852-1942 -> Output: 90",
        "Input: 1900-1950 -> Output: 50",
        "Input: 1990-2001 -> Output: 11",
        "Input: 1800-1875 -> Output: ?",
    ]
    assert (fields["answer_key"], fields["second_query"], fields["second_answer"]) == (
        "75",
        "Input: 2000-2024",
        "24",
    )
    assert "Output: 75" not in task and "2000-2024" not in task


def test_held_out_pairs_come_from_the_mapping_and_take_its_outputs() -> None:
    # the local model held out the prompt's own example, and invented a pair: the mapping's own replace them
    fields = held_out_fields(pairs(YEARS, query=["Peru", "Lima"]), MAPPING)
    assert fields["answer_key"] == "75" and fields["task"].endswith("Input: 1800-1875 -> Output: ?")
    invented = held_out_fields(pairs(YEARS, second_query=["a banana", "banana"]), MAPPING)
    assert invented == held_out_fields(YEARS, MAPPING)
    repeated = MAPPING + "\nInput: 1852-1942 -> Output: 91"  # a pair listed twice: the first one counts
    assert held_out_fields(pairs(YEARS, second_query=["a banana", "banana"]), repeated) == invented
    assert (
        held_out_fields(pairs(YEARS, query=["Peru", "Lima"]))["answer_key"] == "Lima"
    )  # no mapping to check
    miscopied = pairs(YEARS, query=["1800-1875", "57"], examples=[["1852-1942", "9"], *YEARS["examples"][1:]])
    fields = held_out_fields(miscopied, MAPPING)
    assert fields["answer_key"] == "75" and "Input: 1852-1942 -> Output: 90" in fields["task"]


def test_outputs_that_repeat_are_classes() -> None:
    fields = held_out_fields(PLACES)
    assert fields["task"].startswith("Each input below is labelled with its class.")
    assert fields["task"].endswith("Input: Harbour Road -> Output: ?") and fields["answer_key"] == "street"


def pairs(data: dict, **changes: object) -> dict:
    return {**data, **changes}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (pairs(YEARS, query=["1900-1950", "50"]), "the query input '1900-1950' is also an example"),
        (pairs(YEARS, second_query=["1852-1942", "90"]), "the second_query input '1852-1942' is also an"),
        (pairs(YEARS, second_query=["1800-1875", "75"]), "query and second_query have the same input"),
        (pairs(YEARS, query=["1800-1875", "seventy five years between the first and the second"]), "9 words"),
        (pairs(PLACES, query=["Thames", "river"]), "the query output 'river' is none of them"),
        (pairs(YEARS, examples=YEARS["examples"][:2]), "at least 3 examples"),
        (pairs(YEARS, examples=[*YEARS["examples"][:2], ["1852-1942", "90"]]), "at least 3 examples"),
        (pairs(YEARS, query=["1800-1875", " "]), "query has an empty input or output"),
    ],
)
def test_pairs_that_cannot_make_a_fair_task_are_sent_back(data, message) -> None:
    with pytest.raises(ValueError, match=message):
        held_out_fields(data)


def test_the_flow_asks_for_the_pairs_and_both_checks_pass_for_a_teacher_who_infers_the_rule() -> None:
    skill = load("few_shot_reasoning")
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["pattern_induction"]]})

    def teacher(request: ModelRequest) -> str:
        asked_second = "2000-2024" in request.messages[-1]["content"]
        return "2024 - 2000 = 24.\nAnswer: 24" if asked_second else "1875 - 1800 = 75.\nAnswer: 75"

    model = scripted(single, {"few_shot_task": YEARS}, teacher, content=MAPPING)
    sink = run(single, model, refinement_rounds=0)
    [ask] = [r for r in model.requests if "/instruct/" in r.tag]
    assert list(ask.json_schema["schema"]["properties"]) == ["few_shot_task", "suitable", "reason"]
    assert "answer_key" not in ask.messages[-1]["content"]
    [pair] = sink.pairs
    assert pair.messages[1]["content"] == held_out_fields(YEARS)["task"]
    assert [c.name for c in pair.verification.checks] == ["answer_matches_key", "second_query_agrees"]
    assert pair.verification.status == "passed"
    fields = pair.lineage.seed_instruction.fields
    assert fields == {"answer_key": "75", "second_query": "Input: 2000-2024", "second_answer": "24"}


def test_the_mapping_mends_the_agents_choice_of_pairs() -> None:
    """The local model listed every pair as an example and held out one of them, or an invented one."""
    every = [list(line.split(" -> Output: ")) for line in MAPPING.replace("Input: ", "").splitlines()[2:]]
    shown_too = pairs(YEARS, examples=every, query=["1900-1950", "50"], second_query=["a banana", "banana"])
    fields = held_out_fields(shown_too, MAPPING)
    task_lines = fields["task"].splitlines()
    assert task_lines[-1] == "Input: 1900-1950 -> Output: ?" and fields["answer_key"] == "50"
    assert "Input: 1900-1950 -> Output: 50" not in fields["task"]  # taken out of the examples
    second = fields["second_query"].removeprefix("Input: ")
    assert second not in fields["task"] and fields["second_answer"] == dict(every)[second]
    assert len([line for line in task_lines if "-> Output: " in line and "?" not in line]) == 3
    places = "Rule: names.\n" + "\n".join(f"Input: {i} -> Output: {o}" for i, o in PLACES["examples"])
    mended = held_out_fields(
        pairs(PLACES, examples=PLACES["examples"][:4], query=["Thames", "river"]), places
    )
    assert mended["answer_key"] in {"person", "street"}  # a class an example shows


def test_a_held_out_pair_an_example_shows_goes_back_before_any_teacher_call() -> None:
    """Without a mapping to mend it from, the agent is asked again, before any teacher call."""
    skill = load("few_shot_reasoning")
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["pattern_induction"]]})
    replies = iter([pairs(YEARS, query=["1900-1950", "50"]), YEARS])
    model = scripted(
        single,
        lambda _: {"few_shot_task": next(replies)},
        lambda r: "Answer: 75",
        content=MAPPING.split("\nInput: 1900")[0],
    )
    run(single, model, refinement_rounds=0)
    asks = [r for r in model.requests if "/instruct/" in r.tag]
    assert len(asks) == 2 and "'1900-1950' is also an example" in asks[1].messages[-1]["content"]
    first_teacher = next(i for i, r in enumerate(model.requests) if "/teacher/" in r.tag)
    assert model.requests.index(asks[1]) < first_teacher


def test_a_skill_with_a_task_shape_must_declare_the_fields_code_writes() -> None:
    from agentinstruct.skills import Skill

    raw = load("few_shot_reasoning").model_dump()
    raw["instruction_fields"] = {"answer_key": raw["instruction_fields"]["answer_key"]}
    raw["new_queries"], raw["key_recheck"] = [], False
    with pytest.raises(
        ValueError,
        match=r"instruction_types.pattern_induction.task_shape: \['second_answer', 'second_query'\] are not",
    ):
        Skill.model_validate(raw)


def test_a_key_code_wrote_is_never_re_derived_by_its_author() -> None:
    """Code's key is the held-out pair's output: an author's second solve could only make it wrong."""
    skill = load("few_shot_reasoning")
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["pattern_induction"]]})
    wrong = {"working": "1875 - 1800 = 57.", "answer_key": "57"}  # would agree with the teacher
    model = scripted(
        single, {"few_shot_task": YEARS}, lambda r: "Answer: 57", content=MAPPING, rekey=lambda r: wrong
    )
    sink = run(single, model, refinement_rounds=0)
    assert not sink.pairs and sink.rejections
    assert all(r.reason.startswith("verification_failed:answer_matches_key") for r in sink.rejections)
    assert not [r for r in model.requests if "/key_recheck/" in r.tag]
