"""The open_domain_qa skill (SPEC §2 row 17): taxonomy, templates, the flow with a scripted teacher that
searches the corpus, and the `false_premise_addressed` check."""

from __future__ import annotations

import pytest

from agentinstruct.flows.resources import FlowResources, build_tools
from agentinstruct.models import ModelRequest
from agentinstruct.pairs import Pair
from agentinstruct.quality.checks import Candidate, resolve_checks
from agentinstruct.quality.grounding import fact_in_source, false_premise_addressed, no_unseen_source
from agentinstruct.skills import load_skills
from agentinstruct.tools.search import Bm25Search
from grounded_skills import SEED, load, render_every_template, render_template, run_flow, stage, variant
from test_flows import make_seed

pytestmark = pytest.mark.timeout(120)

TYPES = [
    "factoid",
    "explanatory",
    "comparison",
    "definition",
    "how_to",
    "balanced_opinion",
    "multi_hop",
    "complex_odqa",
]
GOALS = ["multi_hop", "add_false_premise"]
QUESTION = "When was the Alder Creek lighthouse automated?"
PREMISE = "The Alder Creek lighthouse was automated in 1950."
CORRECTING = (
    "Actually, the Alder Creek lighthouse was not automated in 1950: it was automated in 1942, "
    "ninety years after it opened in 1852."
)
ACCEPTING = "The Alder Creek lighthouse was automated in 1950 because its keepers had grown old."


def test_taxonomy_matches_the_spec_row() -> None:
    skill = load("open_domain_qa")
    assert skill.seed_kinds == ["text"]
    assert [t.name for t in skill.instruction_types] == TYPES
    assert [t.name for t in skill.transformations] == ["identity"]
    [identity] = skill.transformations  # the seed's own words, no model call
    assert identity.verbatim and (identity.min_words, identity.max_words) == (30, None)
    assert [g.name for g in skill.refinement.goals] == GOALS
    assert skill.teacher_tools == ["search"] and skill.corpus_search
    assert list(skill.instruction_fields) == ["false_premise"]
    assert '"none"' in skill.instruction_fields["false_premise"]
    assert skill.editor_only_fields == ["false_premise"]  # only the add_false_premise edit writes one
    assert skill.checks == ["false_premise_addressed", "fact_in_source", "no_unseen_source"]
    assert resolve_checks(skill.checks)
    assert skill.types_by_name["complex_odqa"].intent.startswith("Ask a hard")


def test_loads_with_the_bundled_skills() -> None:
    assert [t.name for t in load_skills()["open_domain_qa"].instruction_types] == TYPES


def test_every_template_renders() -> None:
    skill = load("open_domain_qa")
    texts = render_every_template(skill, SEED, QUESTION, {"false_premise": "none"})
    assert any("search tool" in t for t in texts)
    premise = render_every_template(skill, SEED, QUESTION, {"false_premise": PREMISE})
    assert any(f"False premise so far: {PREMISE}" in t for t in premise)
    # only the editor is told how to fill false_premise; the instruction agent is not asked for it
    goal = skill.refinement.goals[1]
    ask = render_template(
        skill, skill.prompts.instruction, content=SEED, instruction_type=skill.instruction_types[0]
    )
    assert "false_premise" not in ask and "false premise" not in ask.lower()
    edit = render_template(
        skill,
        skill.prompts.editor,
        content=SEED,
        instruction=QUESTION,
        instruction_type=skill.instruction_types[0],
        goal=goal,
        round=1,
        constraints=[],
        details={},
        suggestion="Assume it was automated in 1950.",
    )
    assert "Set false_premise to that claim" in edit and "False premise so far: none" in edit
    user = render_template(
        skill, skill.prompts.user_turn, content=SEED, instruction=QUESTION, instruction_type=goal
    )
    assert user == QUESTION, "the user never sees the text"


def reply_with(answer: str):
    def reply(request: ModelRequest) -> object:
        step, rest = stage(request)
        if step == "instruct":  # identity is verbatim: SEED itself, no transform request
            return {"instruction": f"({rest[-1]}) {QUESTION}", "suitable": True}  # no false_premise asked
        if step == "refine" and rest[0] == "suggester":
            return {"suggestion": f"For {rest[-1]}: change the year the question assumes.", "suitable": True}
        if step == "refine" and rest[0] == "editor":
            # as the editor prompt says: set the new premise, or keep the one shown as "so far"
            shown = request.messages[-1]["content"].split("False premise so far: ")[1].split("\n")[0]
            premise = PREMISE if rest[-1] == "add_false_premise" else shown
            text = f"Why was the Alder Creek lighthouse automated in 1950? ({rest[-1]} {variant(request)})"
            return {"content": SEED, "instruction": text, "false_premise": premise, "suitable": True}
        if step == "teacher":
            searched = any("Result of search" in str(m["content"]) for m in request.messages)
            if not searched and rest[-1] != "repair":
                return {"action": "call", "tool": "search", "arguments": {"query": "Alder Creek automated"}}
            return {"action": "answer", "answer": answer}
        raise AssertionError(f"unexpected tag {request.tag}")

    return reply


def resources(count: int) -> FlowResources:
    index = Bm25Search.build((s.id, s.text, {}) for s in (make_seed(i, SEED) for i in range(count)))
    return FlowResources(search=index, tools=build_tools(["search"], index))


def test_the_flow_covers_the_taxonomy_searches_and_checks_false_premises() -> None:
    skill = load("open_domain_qa")
    sink, _ = run_flow(skill, reply_with(CORRECTING), 6, resources=resources(6))
    assert not sink.rejections
    assert {p.instruction_type for p in sink.pairs} == set(TYPES)
    assert {s.goal for p in sink.pairs for s in p.lineage.refinement} == set(GOALS)
    checked = 0
    for pair in sink.pairs:
        Pair.model_validate(pair.model_dump(mode="json"))
        assert [m["role"] for m in pair.messages] == ["system", "user", "assistant"]
        assert SEED not in pair.messages[1]["content"]
        [call] = pair.lineage.tool_calls
        assert call["name"] == "search" and call["ok"] and "Alder Creek" in call["result"]
        premised = any(s.goal == "add_false_premise" for s in pair.lineage.refinement)
        results = {c.name: c for c in pair.verification.checks}
        assert all(c.ok for c in results.values())
        # every question names the seed's Alder Creek: its answer must name only what the sources name
        assert "fact_in_source" in results and pair.verification.status == "passed"
        if premised:
            assert "false_premise_addressed" in results
            checked += 1
    assert checked


def test_only_the_editor_is_asked_for_a_false_premise() -> None:
    """Asked for one, the local instruction agent wrote "not mentioned in the text" as the premise of a
    plain question, and the answer was then rejected for not correcting it."""
    skill = load("open_domain_qa")
    sink, model = run_flow(skill, reply_with(CORRECTING), 2, resources=resources(2))
    instruct = [r for r in model.requests if stage(r)[0] == "instruct"]
    edit = [r for r in model.requests if stage(r)[0] == "refine" and stage(r)[1][0] == "editor"]
    assert instruct and edit and sink.pairs and not sink.rejections
    for request in instruct:
        assert "false_premise" not in str(request.json_schema), request.tag
        assert "false_premise" not in request.messages[-1]["content"], request.tag
    assert all("false_premise" in str(r.json_schema) for r in edit)
    fresh = [p for p in sink.pairs if not p.lineage.refinement]
    assert fresh and all(p.lineage.seed_instruction.fields == {} for p in fresh)  # read as "none"


def test_an_editor_only_field_must_be_declared_and_asked_of_the_editor() -> None:
    from agentinstruct.skills import Skill

    raw = load("open_domain_qa").model_dump()
    with pytest.raises(ValueError, match=r"editor_only_fields: \['premise'\] are not instruction_fields"):
        Skill.model_validate({**raw, "editor_only_fields": ["premise"]})
    with pytest.raises(ValueError, match=r"\['false_premise'\] are also in appended_fields"):
        Skill.model_validate({**raw, "appended_fields": ["false_premise"]})


def test_an_answer_that_accepts_the_false_premise_is_rejected() -> None:
    skill = load("open_domain_qa")
    sink, model = run_flow(skill, reply_with(ACCEPTING), 6, resources=resources(6))
    assert sink.rejections and sink.pairs
    for rejection in sink.rejections:
        assert rejection.reason == "verification_failed:false_premise_addressed"
        assert PREMISE in rejection.detail
    assert all(not any(s.goal == "add_false_premise" for s in p.lineage.refinement) for p in sink.pairs)
    assert any(r.tag.endswith("/repair") for r in model.requests)


def candidate(answer: str, premise: str = PREMISE) -> Candidate:
    return Candidate(
        "open_domain_qa", "factoid", SEED, QUESTION, answer, False, details={"false_premise": premise}
    )


def test_false_premise_addressed() -> None:
    assert false_premise_addressed(candidate(CORRECTING)).ok
    assert false_premise_addressed(
        candidate("In fact it happened in 1942; automation came earlier than 1950.")
    ).ok
    result = false_premise_addressed(candidate(ACCEPTING))
    assert not result.ok and "does not correct it" in result.detail and PREMISE in result.detail
    # a correction cue about something else does not count
    assert not false_premise_addressed(
        candidate("It was not a quiet place. Keepers lit the lamp every night.")
    ).ok
    for none in ("none", "None.", "", "-"):
        assert false_premise_addressed(candidate(ACCEPTING, none)) is None
    assert false_premise_addressed(Candidate("other", "x", SEED, QUESTION, ACCEPTING, False)) is None


def test_a_factoid_answer_names_only_what_its_source_names() -> None:
    # run s15: "What is the name of the person who proposed the lease?" was answered "John Smith proposed
    # the lease." where the seed named Councillor Deborah Mwangi
    invented = fact_in_source(candidate("John Smith automated the Alder Creek lighthouse in 1942."))
    assert not invented.ok and "'John Smith'" in invented.detail and "search the corpus" in invented.detail
    assert fact_in_source(candidate("The Alder Creek lighthouse was automated in 1942.")).ok
    assert fact_in_source(candidate("It was automated in 1942, as the Alder Creek records say.")).ok
    inside = fact_in_source(candidate("In 1942 the lighthouse went to Harbour Lights Ltd of Alder Creek."))
    assert not inside.ok and "'Harbour Lights Ltd'" in inside.detail
    # run s18: a question about the seed's own place ("the Mill Lane lot") was answered with an invented
    # "Greenfield Farm": any question that names the seed's names is held to them
    about = fact_in_source(
        Candidate("open_domain_qa", "explanatory", SEED, QUESTION, "John Smith did.", False)
    )
    assert not about.ok and "(the question asks about 'Alder Creek')" in about.detail
    general = "Why were lighthouses automated in the twentieth century?"
    other = Candidate(
        "open_domain_qa", "explanatory", SEED, general, "John Smith's lamp changer did it.", False
    )
    assert fact_in_source(other) is None  # other questions may draw on general knowledge


def test_an_invented_name_in_a_factoid_goes_back_once_and_is_then_rejected() -> None:
    skill = load("open_domain_qa")
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["factoid"]]})
    sink, model = run_flow(single, reply_with("John Smith automated it in 1942."), 1, resources=resources(1))
    assert sink.rejections and not sink.pairs
    assert all(r.reason == "verification_failed:fact_in_source" for r in sink.rejections)
    assert any(r.tag.endswith("/repair") for r in model.requests)


@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        # run s18: the question came alone, and the answer cited a report
        ("The total cost can be found in the report provided. The report states it is $400,000.", False),
        ("According to the passage above, the lamp was automated in 1942.", False),
        ("Based on the information you shared, it was 1942.", False),
        ("The information given in your question is not right: it was automated in 1942.", True),
        ("The document found by the search says 1942, and the search results agree.", True),
        ("It was automated in 1942.", True),
    ],
)
def test_an_answer_to_a_question_that_came_alone_cites_no_text_the_user_gave(answer: str, ok: bool) -> None:
    result = no_unseen_source(Candidate("open_domain_qa", "explanatory", SEED, QUESTION, answer, False))
    assert result.ok == ok, result.detail
