"""The data_to_text skill (SPEC §2 row 8): taxonomy, templates, the flow with a scripted model, and the
`grounded_in_data` check rejecting numbers and names that are not in the data."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from agentinstruct.models import ModelRequest
from agentinstruct.pairs import Pair
from agentinstruct.quality.checks import Candidate, resolve_checks
from agentinstruct.quality.grounding import (
    grounded_in_data,
    miscounted,
    ungrounded_currencies,
    ungrounded_names,
    ungrounded_numbers,
)
from agentinstruct.skills import load_skills
from grounded_skills import load, render_every_template, run_flow, stage, variant

pytestmark = pytest.mark.timeout(120)

TYPES = [
    "table_summary",
    "record_to_prose",
    "triples_to_text",
    "chart_description",
    "report_generation",
    "comparison_from_table",
    "record_to_biography",
]
TRANSFORMATIONS = ["table", "csv", "json_record", "key_value_list", "knowledge_triples"]
GOALS = ["add_format_constraint", "add_audience_constraint"]
#: what each transformation agent writes under the JSON grammar (its `content_shape`) ...
STRUCTURES = {
    "table": [
        ["Light", "Opened", "Visitors (thousands)"],
        ["Alder Creek", "1852", "12.5"],
        ["Birch Bay", "1871", "8"],
    ],
    "csv": [
        ["light", "opened", "visitors_thousands"],
        ["Alder Creek", "1852", "12.5"],
        ["Birch Bay", "1871", "8"],
    ],
    "json_record": {
        "name": "Alder Creek",
        "opened": 1852,
        "visitors_thousands": 12.5,
        "neighbour": {"name": "Birch Bay", "opened": 1871, "visitors_thousands": 8},
    },
    "key_value_list": [
        ["Name", "Alder Creek"],
        ["Opened", "1852"],
        ["Visitors (thousands)", "12.5"],
        ["Neighbour", "Birch Bay"],
        ["Neighbour opened", "1871"],
        ["Neighbour visitors (thousands)", "8"],
    ],
    "knowledge_triples": [
        ["Alder Creek", "opened in", "1852"],
        ["Alder Creek", "visitors in thousands", "12.5"],
        ["Birch Bay", "opened in", "1871"],
        ["Birch Bay", "visitors in thousands", "8"],
    ],
}
#: ... and the notation code writes from it, which every later agent sees
DATA = {
    "table": "| Light | Opened | Visitors (thousands) |\n| --- | --- | --- |\n| Alder Creek | 1852 | 12.5 |\n"
    "| Birch Bay | 1871 | 8 |",
    "csv": "light,opened,visitors_thousands\nAlder Creek,1852,12.5\nBirch Bay,1871,8",
    "json_record": json.dumps(STRUCTURES["json_record"], indent=2),
    "key_value_list": "Name: Alder Creek\nOpened: 1852\nVisitors (thousands): 12.5\nNeighbour: Birch Bay\n"
    "Neighbour opened: 1871\nNeighbour visitors (thousands): 8",
    "knowledge_triples": "(Alder Creek; opened in; 1852)\n(Alder Creek; visitors in thousands; 12.5)\n"
    "(Birch Bay; opened in; 1871)\n(Birch Bay; visitors in thousands; 8)",
}
GOOD = (
    "Alder Creek opened in 1852 and drew 12.5 thousand visitors. It was busier than Birch Bay, which "
    "opened in 1871 and had 8 thousand."
)
BAD = "Alder Creek drew 20.5 thousand visitors in 1852, as Mayor Hannah Jones told the Herald."


def test_taxonomy_matches_the_spec_row() -> None:
    skill = load("data_to_text")
    assert skill.seed_kinds == ["text"]
    assert [t.name for t in skill.instruction_types] == TYPES
    assert [t.name for t in skill.transformations] == TRANSFORMATIONS
    assert [g.name for g in skill.refinement.goals] == GOALS
    assert skill.checks == ["grounded_in_data"] and resolve_checks(skill.checks)
    assert skill.repair_rounds == 1 and skill.system_prompt.strip()
    covered = {it.name for t in skill.transformations for it in skill.types_for(t)}
    assert covered == set(TYPES), "every type is reachable from some transformation"
    for t in skill.transformations:
        assert t.description.startswith("Structure extraction"), t.name
    for it in skill.instruction_types:
        assert it.intent.strip() and len([line for line in it.guidance.splitlines() if line.strip()]) >= 2


def test_loads_with_the_bundled_skills() -> None:
    assert [t.name for t in load_skills()["data_to_text"].instruction_types] == TYPES


def test_every_template_renders() -> None:
    skill = load("data_to_text")
    texts = render_every_template(skill, DATA["table"], "Summarise the data above in three sentences.", {})
    assert any("Copy every number exactly" in text for text in texts)  # the teacher's rules
    assert all("json" not in text.lower() for text in texts if "Data:" in text)  # no format leaks


def reply_with(answers: list[str]):
    """Scripted agents; the teacher gives `answers` in turn (the last one repeats)."""
    queue = list(answers)

    def reply(request: ModelRequest) -> object:
        step, rest = stage(request)
        if step == "transform":
            return {"content": STRUCTURES[rest[-1]], "suitable": True, "reason": ""}
        if step == "instruct":
            return {
                "instruction": f"({rest[-1]}) Describe the data above in two sentences.",
                "suitable": True,
            }
        if step == "refine" and rest[0] == "suggester":
            return {"suggestion": f"Ask for it as {rest[-1]} would need.", "suitable": True}
        if step == "refine" and rest[0] == "editor":
            user = request.messages[-1]["content"]
            content = next(d for d in DATA.values() if d in user)
            text = f"For a ten-year-old ({rest[-1]} {variant(request)}), describe the data above briefly."
            return {"content": content, "instruction": text, "suitable": True}
        if step == "teacher":
            return queue.pop(0) if len(queue) > 1 else queue[0]
        raise AssertionError(f"unexpected tag {request.tag}")

    return reply


def test_the_flow_covers_the_taxonomy_and_pairs_have_the_right_shape() -> None:
    skill = load("data_to_text")
    sink, model = run_flow(skill, reply_with([GOOD]), 20)
    assert not sink.rejections
    assert {p.instruction_type for p in sink.pairs} == set(TYPES)
    assert {p.lineage.transformation.agent for p in sink.pairs} == set(TRANSFORMATIONS)
    assert {s.goal for p in sink.pairs for s in p.lineage.refinement} == set(GOALS)
    for pair in sink.pairs:
        Pair.model_validate(pair.model_dump(mode="json"))
        assert [m["role"] for m in pair.messages] == ["system", "user", "assistant"]
        assert pair.messages[0]["content"] == skill.system_prompt
        data = pair.lineage.transformation.content
        assert data == DATA[pair.lineage.transformation.agent]  # the structure, written as its notation
        assert pair.messages[1]["content"].startswith(data.strip())  # the data, then the request
        assert pair.messages[2]["content"] == GOOD
        assert pair.verification.status == "passed"
        assert [c.name for c in pair.verification.checks] == ["grounded_in_data"]
    per_type = Counter(r.tag.split("/")[-1] for r in model.requests if "/instruct/" in r.tag)
    assert set(per_type) == set(TYPES)


def test_an_ungrounded_answer_is_repaired_or_rejected() -> None:
    skill = load("data_to_text")
    sink, model = run_flow(skill, reply_with([BAD, GOOD]), 1, refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    checks = {c.name: c for c in pair.verification.checks}
    assert checks["grounded_in_data"].ok and "'20.5 thousand'" in checks["repaired"].detail
    repair = next(r for r in model.requests if r.tag.endswith("/repair"))
    assert "Mayor Hannah Jones" in repair.messages[-1]["content"]

    sink, _ = run_flow(skill, reply_with([BAD]), 1, refinement_rounds=0, instructions_per_seed=1)
    assert not sink.pairs
    [rejection] = sink.rejections
    assert rejection.reason == "verification_failed:grounded_in_data"
    assert "'20.5 thousand'" in rejection.detail and "'Herald'" in rejection.detail


def test_a_line_that_introduces_or_grades_the_answer_is_taken_out() -> None:
    # run s16 delivered a rewrite after "the following text would be more suitable for ...:" and before
    # "This version adheres to the request ..."
    skill = load("data_to_text")
    framed = f"Here is the summary you asked for:\n\n{GOOD}\n\nThis summary follows the requested format."
    sink, _ = run_flow(skill, reply_with([framed]), 1, refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    assert pair.messages[-1]["content"] == GOOD.strip()


def candidate(answer: str, data: str = DATA["table"]) -> Candidate:
    return Candidate("data_to_text", "table_summary", data, "Summarise the data above.", answer, False)


@pytest.mark.parametrize("kind", TRANSFORMATIONS)
def test_check_accepts_a_grounded_answer_for_every_data_format(kind: str) -> None:
    result = grounded_in_data(candidate(GOOD, DATA[kind]))
    assert result.ok, result.detail


def test_check_rejects_numbers_and_names_missing_from_the_data() -> None:
    result = grounded_in_data(candidate(BAD))
    assert not result.ok
    assert "numbers not in the data: '20.5 thousand'" in result.detail
    assert "'Mayor Hannah Jones'" in result.detail and "'Herald'" in result.detail
    assert "1852" not in result.detail


def test_a_currency_the_data_does_not_use_is_rejected() -> None:
    # the local model wrote "$6, 500" for a water connection "estimated at 6,500 pounds"
    data = (
        "(The council; will pay for a soil test; estimated at 6,500 pounds)\n"
        "(The association; must raise; 9,000 pounds)"
    )
    wrong = grounded_in_data(
        candidate("The soil test costs $6,500 and the association raises 9,000 pounds.", data)
    )
    assert not wrong.ok and "currencies the data does not use: '$'" in wrong.detail
    assert grounded_in_data(candidate("The soil test costs £6,500; 9,000 pounds remain to raise.", data)).ok
    assert ungrounded_currencies("It sells for 12 euros, or 14 USD.", "price_usd: 14\nprice_eur: 12") == []
    assert ungrounded_currencies("It sells for 12 euros.", "Price (GBP): 12") == ["euro"]


def test_number_rules() -> None:
    data = "Revenue: $1,200,000\nGrowth: 42%\nPrice: 3.50\nSeason: 2023-24\nRank: Q2\nStaff: 1.2k"
    # separators, trailing zeros, percentages, scale words and currency signs are normalised
    ok = "Revenue was 1200000 dollars, or 1.2 million; growth of 42 percent; a price of $3.5; 1,200 staff."
    assert ungrounded_numbers(ok, data) == []
    # ordinals, list markers and digits inside names are exempt; derived numbers are not
    assert ungrounded_numbers("1. In the 19th year, the A380 flew.\n2. Then growth hit 84%.", data) == ["84%"]
    assert ungrounded_numbers("Sales rose by 1,300 to 2.4 million.", data) == ["1,300", "2.4 million"]


def test_name_rules() -> None:
    data = "name: Marie Curie\nbirth_place: Warsaw\nfield: physics"
    # sentence starts, headings, months and titles are not taken for names; snake_case keys count as words
    text = (
        "## Early Life Summary\nMarie Curie was born in Warsaw in March. Dr Curie's birth place was Warsaw."
    )
    assert ungrounded_names(text, data) == []
    assert ungrounded_names("Her teacher was Pierre Curie, in Paris.", data) == ["Pierre Curie", "Paris"]
    # known miss: a name that starts a sentence is not checked
    assert ungrounded_names("Paris was far away.", data) == []
    # a list item's label is structure (the local model wrote "1. **Group Size**: ..."); its text is checked
    report = (
        "1. **Birth Place**: Warsaw, in Poland.\n- Field Of Work: physics\n"
        "- **Teacher**: a man named Pierre Curie"
    )
    assert ungrounded_names(report, data) == ["Poland", "Pierre Curie"]
    # a sentence with a colon is not a label
    assert ungrounded_names("Her teacher in Paris: Marie Curie.", data) == ["Paris"]


def test_check_runs_in_the_flow_through_candidate() -> None:
    result = asyncio.run(_run_registered(candidate(BAD)))
    assert result is not None and not result.ok


async def _run_registered(c: Candidate):
    from agentinstruct.quality.checks import run_checks

    [result] = await run_checks(resolve_checks(["grounded_in_data"]), c)
    return result


def test_a_chart_or_comparison_needs_rows_with_figures() -> None:
    types = {t.name: t for t in load("data_to_text").instruction_types}
    names_only = "| Keeper | Duty |\n| --- | --- |\n| Ada | lamp |\n| Bo | log |\n| Cy | bell |"
    for name in ("chart_description", "comparison_from_table"):
        assert types[name].fits(DATA["table"]) and types[name].fits(DATA["csv"])
        assert not types[name].fits(names_only)
    assert types["table_summary"].fits(names_only)  # the seed gets a type its table can carry


def test_a_size_the_answer_states_must_be_the_tables() -> None:
    # the local teacher said "five rows" and "four columns" of a CSV of six rows and five columns (run s13)
    csv_data = "year,place,product,group,event\n" + "\n".join(
        f"2023,Mill Lane {i},lease,None,None" for i in range(6)
    )
    wrong = "There are five rows in the table, and it has four columns: year, place, product and event."
    assert miscounted(wrong, csv_data) == ["five rows (it has 6)", "four columns (it has 5)"]
    right = "The table has 6 rows and five columns; the first two rows show Mill Lane 0 and Mill Lane 1."
    assert miscounted(right, csv_data) == []
    # a Markdown table whose first header cell is blank has a label column a reader may leave out
    markdown = (
        "|  | Item | Fact |\n| --- | --- | --- |\n| Association | Builds | 36 beds |\n| Council | Pays | 65 |"
    )
    assert miscounted("It lists two rows with three columns.", markdown) == []
    assert miscounted("It lists two rows with two columns.", markdown) == []
    assert miscounted("It shows 3 rows.", markdown) == ["3 rows (it has 2)"]
    assert miscounted("There are five rows.", "a: 1\nb: 2") == []  # not a table: no claim is judged
    check = grounded_in_data(Candidate("data_to_text", "table_summary", csv_data, "Summarise.", wrong, False))
    assert not check.ok and "sizes the table does not have: five rows (it has 6), four" in check.detail


def test_a_third_copy_of_the_intent_gets_the_types_fallback_task() -> None:
    """s15-s18 and s30: report_generation, record_to_biography and chart_description requests were the
    type's intent line, copied three times; the type's fallback task takes the third copy's place."""
    skill = load("data_to_text")
    report = skill.types_by_name["report_generation"]
    single = skill.model_copy(update={"instruction_types": [report]})
    base = reply_with([GOOD])

    def reply(request: ModelRequest) -> object:
        if stage(request)[0] == "instruct":
            return {"user_request": f"Kind of request: report generation — {report.intent}", "suitable": True}
        return base(request)

    sink, model = run_flow(single, reply, 1, refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    assert pair.messages[1]["content"].endswith(report.fallback_task)
    assert sum("/instruct/" in r.tag for r in model.requests) == 3
    for name in ("report_generation", "record_to_biography", "chart_description"):
        assert "the data above" in skill.types_by_name[name].fallback_task
