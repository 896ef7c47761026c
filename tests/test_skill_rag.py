"""The rag skill (SPEC §2 row 13): taxonomy, templates, the numbered-source layout and the
`citations_grounded` check, and the `rag` flow with a scripted model: contexts built from the corpus index
(the seed among distractors), cited answers verified, a bad answer repaired once or rejected."""

from __future__ import annotations

import asyncio
import re

import jinja2
import pytest

from agentinstruct.documents import Document, Seed
from agentinstruct.flows import FlowSettings, flow_class
from agentinstruct.flows.rag import RagFlow
from agentinstruct.flows.resources import FlowResources
from agentinstruct.models import ModelRequest, ScriptedModel
from agentinstruct.pairs import Pair
from agentinstruct.quality.checks import CHECKS, Candidate, resolve_checks, run_checks
from agentinstruct.quality.citations import (
    NOT_IN_SOURCES,
    citation_numbers,
    occurs,
    parse_sources,
    verify_citations,
)
from agentinstruct.skills import BUNDLED_DIR, Skill, load_skill_file, load_skills
from agentinstruct.tools.search import Bm25Search
from skill_templates import render as render_strictly
from skill_templates import strict_environment
from test_flows import ListSink

pytestmark = pytest.mark.timeout(120)

SKILL_FILE = BUNDLED_DIR / "rag.yaml"
TYPES = [
    "single_source_answer",
    "multi_source_synthesis",
    "cited_answer",
    "conflicting_sources",
    "unanswerable_from_context",
    "cross_source_comparison",
]
GOALS = ["add_distractor", "make_sources_conflict"]

PASSAGES = [
    "The town of Alder Creek built its first lighthouse in 1852. Keepers lit the lamp every night for ninety "
    "years, until an automated beacon replaced them in 1942.",
    "Lighthouse keepers on the northern coast kept logbooks of every storm. The logbooks show that keepers "
    "rescued sailors from at least forty wrecks between 1860 and 1900.",
    "The Alder Creek harbour was dredged in 1961 so that larger fishing boats could reach the town quay. "
    "The lighthouse was then painted red and white.",
    "Automated beacons use a rotating lens and a timer, so a lighthouse no longer needs a keeper to light "
    "the lamp at dusk every night.",
    "A recipe for apple pie needs six apples, a cup of sugar and a pinch of cinnamon.",
]
CONTEXT = """Source [1] (alder.txt)
The town of Alder Creek built its first lighthouse in 1852. Keepers lit the lamp every night for ninety years.

Source [2] (harbour.txt)
Harbour fees rose by 4% in 2020, the port authority said.

Source [3]
The museum opened in 1990 and is funded by the fishermen’s association.

Source [4] (tides.txt)
Tides are strongest at new moon and full moon."""


@pytest.fixture(scope="module")
def skill() -> Skill:
    return load_skill_file(SKILL_FILE)


@pytest.fixture(scope="module")
def env(skill: Skill) -> jinja2.Environment:
    return strict_environment(skill)


def render(env: jinja2.Environment, template: str, **variables: object) -> str:
    return render_strictly(env, template, **variables).strip()  # these tests compare whole outputs


# -- the skill file ------------------------------------------------------------------------------------
def test_loads_with_the_bundled_skills() -> None:
    skills = load_skills()
    assert [t.name for t in skills["rag"].instruction_types] == TYPES


def test_top_level_settings(skill: Skill) -> None:
    assert skill.name == "rag" and skill.seed_kinds == ["text"]
    assert skill.flow == "rag" and flow_class(skill.flow) is RagFlow
    assert skill.corpus_search is True
    assert skill.repair_rounds == 1
    assert skill.checks == ["citations_grounded"] and resolve_checks(skill.checks)
    assert skill.instructions_per_seed == 2
    assert 1 <= skill.refinement.rounds <= 2
    assert skill.teacher_tools == [] and skill.instruction_fields == {}
    system = skill.system_prompt
    assert "[2]" in system and "double quotes" in system and "do not contain" in system


def test_taxonomy_matches_the_spec_row(skill: Skill) -> None:
    assert [t.name for t in skill.transformations] == ["retrieval_context"]
    assert skill.transformation_prompt(skill.transformations[0]) == "rag/transformations/retrieval_context.j2"
    assert [t.name for t in skill.instruction_types] == TYPES
    for t in skill.instruction_types:
        assert t.intent.strip() and "\n" not in t.intent.strip(), t.name
        assert len([line for line in t.guidance.splitlines() if line.strip()]) >= 3, t.name
    goals = {g.name: g for g in skill.refinement.goals}
    assert list(goals) == GOALS
    assert all(g.edits_content and not g.marks_unanswerable for g in goals.values())
    summary = skill.summary()
    assert len(summary["instruction_types"]) == 6 and summary["checks"] == ["citations_grounded"]


# -- templates -----------------------------------------------------------------------------------------
def test_retrieval_context_layout_round_trips_through_the_check(
    skill: Skill, env: jinja2.Environment
) -> None:
    sources = [
        {
            "number": 1,
            "text": "First source.\n\nIts second paragraph.",
            "source": "/data/a/first.txt",
            "id": "a",
        },
        {"number": 2, "text": "  Second source.  ", "source": "", "id": "b"},
        {"number": 3, "text": "Third.", "source": "https://example.org/pages/third.html", "id": "c"},
    ]
    t = skill.transformations[0]
    text = render(
        env, skill.transformation_prompt(t), sources=sources, seed="x", transformation=t, skill=skill
    )
    assert text == (
        "Source [1] (first.txt)\nFirst source.\n\nIts second paragraph.\n\n"
        "Source [2]\nSecond source.\n\n"
        "Source [3] (third.html)\nThird."
    )
    assert parse_sources(text) == {
        1: "First source.\n\nIts second paragraph.",
        2: "Second source.",
        3: "Third.",
    }


def test_instruction_template_renders_every_type(skill: Skill, env: jinja2.Environment) -> None:
    for it in skill.instruction_types:
        text = render(
            env,
            skill.prompts.instruction,
            content=CONTEXT,
            transformation=skill.transformations[0],
            instruction_type=it,
            skill=skill,
        )
        assert CONTEXT in text and it.intent in text and it.guidance in text
        assert "not suitable" in text and "json" not in text.lower()


@pytest.mark.parametrize("round_", [1, 2])
def test_refinement_templates_render(skill: Skill, env: jinja2.Environment, round_: int) -> None:
    question = "When did Alder Creek build its lighthouse?"
    for it in skill.instruction_types:
        texts = []
        for goal in skill.refinement.goals:
            common = {
                "content": CONTEXT,
                "instruction": question,
                "instruction_type": it,
                "goal": goal,
                "round": round_,
                "constraints": [],
                "details": {},
            }
            suggestion = render(env, skill.prompts.suggester, **common)
            edit = render(env, skill.prompts.editor, suggestion="Add a source about 1853.", **common)
            for text in (suggestion, edit):
                assert CONTEXT in text and question in text and goal.description in text
                assert "not suitable" in text and "json" not in text.lower()
            assert "Add a source about 1853." in edit and '"Source [n] (name)"' in edit
            assert ("refinement round 2" in suggestion) == (round_ == 2)
            unanswerable = it.name == "unanswerable_from_context"
            assert ("No source may answer the question" in edit) == unanswerable
            texts.append(suggestion)
        assert len(set(texts)) == len(texts)
    add = render(
        env,
        skill.prompts.editor,
        content=CONTEXT,
        instruction=question,
        instruction_type=skill.instruction_types[0],
        goal=skill.refinement.goals[0],
        round=1,
        constraints=[],
        details={},
        suggestion="s",
    )
    assert "next free number" in add and "word for word" in add


def test_teacher_and_user_turn_templates(skill: Skill, env: jinja2.Environment) -> None:
    bodies = set()
    for it in skill.instruction_types:
        text = render(env, skill.prompts.teacher, skill=skill, instruction_type=it)
        assert it.intent in text and "[2]" in text and "double quotes" in text
        assert '"The sources do not contain ..."' in text
        bodies.add(text)
    assert len(bodies) == len(TYPES), "each type gets its own answer guidance"
    it = skill.instruction_types[0]
    turn = render(
        env, skill.prompts.user_turn, content=CONTEXT + "\n", instruction=" Why? \n", instruction_type=it
    )
    assert turn == f"{CONTEXT}\n\nWhy?"


# -- the check -----------------------------------------------------------------------------------------
def candidate(answer: str, itype: str = "single_source_answer", **fields: object) -> Candidate:
    values = {"content": CONTEXT, "instruction": "When was the lighthouse at Alder Creek built?"}
    values.update(fields)
    return Candidate("rag", itype, values["content"], values["instruction"], answer, False)


def test_parse_sources_and_citation_numbers() -> None:
    sources = parse_sources(CONTEXT)
    assert sorted(sources) == [1, 2, 3, 4]
    assert sources[2] == "Harbour fees rose by 4% in 2020, the port authority said."
    assert parse_sources("**Source [1]** (a.txt):\nAlpha.\n\n## Source [2]\nBeta.") == {
        1: "Alpha.",
        2: "Beta.",
    }
    assert parse_sources("No sources here [1].") == {}
    assert citation_numbers("1, 3") == [1, 3]
    assert citation_numbers("2-4") == [2, 3, 4]
    assert citation_numbers("Source 2 and 4") == [2, 4]


def test_quote_matching_ignores_case_space_punctuation_and_quote_style() -> None:
    source = "The museum opened in 1990 and is funded by the fishermen’s association."
    assert occurs("the Museum opened in 1990, and is  funded", source)
    assert occurs("funded by the fishermen's association", source)
    assert occurs("The museum opened ... by the fishermen’s association", source)
    assert occurs("The museum [in Alder Creek] opened in 1990", source)
    assert not occurs("The museum opened in 1991", source)
    assert not occurs("by the fishermen's association ... The museum opened", source)  # out of order


def test_a_good_answer_passes() -> None:
    good = candidate('Alder Creek "built its first lighthouse in 1852" [1]; keepers lit it nightly [1].')
    result = CHECKS["citations_grounded"](good)
    assert result.ok, result.detail
    assert result.detail == "cites [1] of 4 sources; 1 quotation(s) found in the sources"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("The lighthouse was built in 1852 [9].", "cites [9], but the sources are [1], [2], [3], [4]"),
        ("The lighthouse was built in 1852 [9].", "cites no existing source"),
        (
            "The lighthouse was built in 1852.",
            "cites no source: put the number of the source after each claim",
        ),
        (
            "The sources do not contain the year the lighthouse was built.",
            "says the sources do not contain the answer, but they do: read each source again",
        ),
        (
            'The town "built its second lighthouse in 1852" [1].',
            'the quote "built its second lighthouse in 1852" does not occur in [1] or any other source',
        ),
        (
            'Fees went up: "Harbour fees rose by 4%" [1].',
            'the quote "Harbour fees rose by 4%" is cited to [1] but occurs only in [2]',
        ),
        (
            'It was built in 1852 [1]; as they say, "keepers never slept a single night".',
            'the quote "keepers never slept a single night" does not occur in any source',
        ),
    ],
)
def test_bad_answers_fail_with_the_exact_citation_or_quote(answer: str, expected: str) -> None:
    result = CHECKS["citations_grounded"](candidate(answer))
    assert not result.ok and expected in result.detail, result.detail


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("The lighthouse was built in 1853 [1].", 'asserts "1853" citing [1], which does not contain it'),
        ("Harbour fees rose by 4% in 2020 [1].", 'asserts "4%" citing [1]'),  # the figure is in [2]
        ("Keepers lit the lamp until 1942 [1].", 'asserts "1942"'),  # 1852 + "ninety": words are not figures
        ("The lighthouse was built in 1852 by Captain Morrow [1].", 'names "Captain Morrow"'),
    ],
)
def test_numbers_and_names_of_a_cited_sentence_come_from_the_sources(answer: str, expected: str) -> None:
    result = verify_citations(candidate(answer))
    assert not result.ok and expected in result.detail, result.detail


@pytest.mark.parametrize(
    "answer",
    [
        "Alder Creek built its lighthouse in 1852 [1] and the museum opened in 1990 [3].",
        "The museum opened 138 years after the lighthouse [1, 3].",  # 1990 - 1852, a derived figure
        "In 2020 the port authority raised harbour fees by 4 percent [2].",
    ],
)
def test_figures_of_the_cited_sources_and_figures_derived_from_them_pass(answer: str) -> None:
    result = verify_citations(candidate(answer))
    assert result.ok, result.detail


def test_quotes_curly_short_in_question_or_with_brackets_inside() -> None:
    curly = candidate("Source [1] says “Keepers lit the lamp every night for ninety years.” [1]")
    assert verify_citations(curly).ok
    short = candidate('The "first lighthouse" dates from 1852 [1].')  # under 4 words: not checked
    assert verify_citations(short).ok
    quoting_the_question = candidate('You asked "when was the lighthouse at Alder Creek built": in 1852 [1].')
    assert verify_citations(quoting_the_question).ok
    footnote = candidate('It says "The town of Alder Creek built [7] its first lighthouse" [1].')
    assert verify_citations(footnote).ok  # a bracket inside a quotation is not a citation


def test_multi_source_types_need_two_sources() -> None:
    one = candidate("Fees rose by 4% [2].", "cross_source_comparison")
    result = verify_citations(one)
    assert not result.ok and "must cite at least 2 different sources; it cites only [2]" in result.detail
    two = candidate("Source [1] covers the lighthouse [1], while [2] covers fees.", "conflicting_sources")
    assert verify_citations(two).ok
    single = "Source [1]\nOnly one source here."
    assert verify_citations(candidate("It is alone [1].", "multi_source_synthesis", content=single)).ok


def test_unanswerable_answers_must_say_so_without_inventing_facts() -> None:
    itype = "unanswerable_from_context"
    declined = candidate(
        "The sources do not contain the beacon's cost. They only date the lighthouse to 1852 [1].", itype
    )
    assert verify_citations(declined).ok, verify_citations(declined).detail
    assert "says the sources do not contain the answer" in verify_citations(declined).detail
    uncited = candidate("None of the sources mentions what the beacon cost.", itype)
    assert verify_citations(uncited).ok
    answered = verify_citations(candidate("The beacon cost 5,000 dollars [1].", itype))
    assert not answered.ok
    assert "the answer does not say so" in answered.detail
    assert 'asserts "5,000" citing [1], which does not contain it' in answered.detail
    for phrase in (
        "The provided sources don’t say how much it cost.",
        "This is not stated in any of the sources.",
        "It cannot be determined from the context.",
        "No source gives the cost.",
    ):
        assert NOT_IN_SOURCES.search(phrase.replace("’", "'")), phrase
    assert not NOT_IN_SOURCES.search("The beacon cost 5,000 dollars.")


def test_a_context_without_numbered_sources_fails() -> None:
    result = verify_citations(candidate("Built in 1852 [1].", content="Just a passage."))
    assert not result.ok and "no numbered sources" in result.detail


# -- the flow ------------------------------------------------------------------------------------------
def text_seed(index: int) -> Seed:
    text = PASSAGES[index]
    document = Document(
        id=f"doc{index}", source=f"/corpus/doc{index}.txt", sha256="0" * 64, text=text, kind="text"
    )
    return Seed(id=f"doc{index}:0-{len(text)}", document=document, span=(0, len(text)), text=text)


SEEDS = [text_seed(i) for i in range(len(PASSAGES))]


def corpus() -> Bm25Search:
    return Bm25Search.build((s.id, s.text, {"kind": "text", "source": s.document.source}) for s in SEEDS)


def good_answer(context: str, itype: str) -> str:
    sources = parse_sources(context)
    first = min(sources)
    words = sources[first].split()[:6]
    if itype == "unanswerable_from_context":
        return f"The sources do not contain that. Source [{first}] only says {' '.join(words)}."
    cited = f"[{first}]" + (
        f"[{max(sources)}]"
        if itype in ("multi_source_synthesis", "cross_source_comparison", "conflicting_sources")
        else ""
    )
    return f'The answer: "{" ".join(words)}" [{first}], as the sources show {cited}.'


def rag_reply(bad_first: int = 0, always_bad: bool = False):
    """Scripted rag agents by request tag; the teacher cites the first source unless told to fail."""
    bad_left = [bad_first]

    def reply(request: ModelRequest) -> object:
        _, stage, *rest = request.tag.split("/")
        user = request.messages[-1]["content"]
        if stage == "instruct":
            return {
                "instruction": f"({rest[-1]}) What do the sources say about lighthouse keepers?",
                "suitable": True,
                "reason": "",
            }
        if stage == "refine" and rest[0] == "suggester":
            return {"suggestion": f"apply {rest[-1]}", "suitable": True, "reason": ""}
        if stage == "refine":
            content = user.split('"""')[1].strip()
            number = max(parse_sources(content)) + 1
            if rest[-1] == "add_distractor":
                content += f"\n\nSource [{number}] (extra.txt)\nA lighthouse in another town opened in 1901."
            else:
                content = re.sub(r"1[89]\d\d", lambda m: str(int(m.group(0)) + 1), content, count=1)
            question = user.split('"""')[3].strip()
            return {"content": content, "instruction": question + " And why?", "suitable": True, "reason": ""}
        if stage == "teacher":
            itype = rest[0]
            context = request.messages[1]["content"]
            if always_bad or bad_left[0] > 0:
                bad_left[0] -= 1
                return 'It was built in 1852 [9], "as nobody ever wrote anywhere at all".'
            return good_answer(context, itype)
        raise AssertionError(f"unexpected tag {request.tag}")

    return reply


def run_flow(model, seeds, resources=None, **settings) -> ListSink:
    skill = load_skill_file(SKILL_FILE)
    sink = ListSink()
    flow = flow_class(skill.flow)(skill, model, sink, FlowSettings(**settings), resources=resources)

    async def go() -> None:
        for ordinal, seed in enumerate(seeds):
            await flow.run_seed(seed, ordinal)

    asyncio.run(go())
    return sink


def test_the_flow_builds_numbered_contexts_from_the_corpus_and_cites_them():
    model = ScriptedModel(rag_reply())
    sink = run_flow(model, SEEDS[:3], FlowResources(search=corpus()), refinement_rounds=1)

    assert not sink.rejections, sink.rejections
    assert {p.instruction_type for p in sink.pairs} == set(TYPES)  # 3 seeds x 2 types cover the taxonomy
    assert not [r for r in model.requests if "/transform/" in r.tag]  # retrieval, not a model call
    for pair in sink.pairs:
        Pair.model_validate(pair.model_dump(mode="json"))
        assert [m["role"] for m in pair.messages] == ["system", "user", "assistant"]
        user = pair.messages[1]["content"]
        context = pair.lineage.transformation.content
        assert pair.lineage.transformation.agent == "retrieval_context"
        numbers = [int(n) for n in re.findall(r"^Source \[(\d+)\]", user, re.MULTILINE)]
        assert numbers == list(range(1, len(numbers) + 1))
        seed = SEEDS[int(pair.lineage.document.id[3:])]
        assert seed.text in context and f"({seed.document.source.rsplit('/', 1)[1]})" in context
        if not pair.lineage.refinement:
            assert user.startswith(context) and 2 <= len(numbers) <= 4  # the seed and its distractors
            assert set(parse_sources(context).values()) <= set(PASSAGES)
        assert pair.verification.status == "passed"
        [check] = pair.verification.checks
        assert check.name == "citations_grounded" and check.ok
    added = [
        p for p in sink.pairs if p.lineage.refinement and p.lineage.refinement[0].goal == "add_distractor"
    ]
    assert added and all(
        "(extra.txt)\nA lighthouse in another town" in p.messages[1]["content"] for p in added
    )
    assert all(p.lineage.refinement[0].content_edited for p in sink.pairs if p.lineage.refinement)


def test_sources_are_shuffled_reproducibly_and_the_apple_pie_is_not_a_distractor():
    contexts = []
    for run_seed in (0, 0, 1, 2, 3):
        sink = run_flow(
            ScriptedModel(rag_reply()),
            SEEDS[:1],
            FlowResources(search=corpus()),
            refinement_rounds=0,
            instructions_per_seed=1,
            run_seed=run_seed,
        )
        contexts.append(sink.pairs[0].lineage.transformation.content)
    assert contexts[0] == contexts[1]
    positions = {next(n for n, t in parse_sources(c).items() if t == PASSAGES[0]) for c in contexts}
    assert len(positions) > 1, "the seed is not always source [1]"
    assert all("apple pie" not in c for c in contexts)  # BM25 finds no overlap with the seed


def test_without_an_index_the_seed_is_the_only_source():
    sink = run_flow(ScriptedModel(rag_reply()), SEEDS[:1], None, refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    assert pair.lineage.transformation.content == f"Source [1] (doc0.txt)\n{PASSAGES[0]}"


def test_a_bad_answer_is_repaired_once_with_the_check_details():
    model = ScriptedModel(rag_reply(bad_first=1))
    sink = run_flow(
        model, SEEDS[:1], FlowResources(search=corpus()), refinement_rounds=0, instructions_per_seed=1
    )
    [pair] = sink.pairs
    checks = {c.name: c for c in pair.verification.checks}
    assert pair.verification.status == "passed" and checks["citations_grounded"].ok
    assert (
        "passed after 1 repair round" in checks["repaired"].detail
        and "cites [9]" in checks["repaired"].detail
    )
    [repair] = [r for r in model.requests if r.tag.endswith("/repair")]
    feedback = repair.messages[-1]["content"]
    assert "cites [9], but the sources are" in feedback
    assert 'the quote "as nobody ever wrote anywhere at all" does not occur in any source' in feedback
    assert pair.messages[-1]["content"] != repair.messages[-2]["content"]


def test_an_answer_that_stays_bad_is_rejected_with_the_failed_citation():
    model = ScriptedModel(rag_reply(always_bad=True))
    sink = run_flow(
        model, SEEDS[:1], FlowResources(search=corpus()), refinement_rounds=0, instructions_per_seed=1
    )
    assert not sink.pairs
    [rejection] = sink.rejections
    assert rejection.reason == "verification_failed:citations_grounded"
    assert "cites [9]" in rejection.detail
    assert sum(r.tag.endswith("/repair") for r in model.requests) == 1


def test_run_checks_on_a_candidate_records_the_check() -> None:
    checks = asyncio.run(run_checks(resolve_checks(["citations_grounded"]), candidate("Built in 1852 [1].")))
    assert [c.name for c in checks] == ["citations_grounded"] and checks[0].ok


def test_a_repaired_answer_that_copies_the_feedback_is_asked_again():
    """The local teacher began its repair with the feedback's own words and its check details."""
    base = rag_reply(bad_first=1)
    echoes = [1]

    def reply(request: ModelRequest) -> object:
        if request.tag.endswith("/repair") and echoes[0]:
            echoes[0] -= 1
            feedback = request.messages[-1]["content"]
            return feedback.split("Write the whole answer again")[0] + "This answer now meets them."
        return base(request)

    model = ScriptedModel(reply)
    sink = run_flow(
        model, SEEDS[:1], FlowResources(search=corpus()), refinement_rounds=0, instructions_per_seed=1
    )
    repairs = [r for r in model.requests if r.tag.endswith("/repair")]
    assert len(repairs) == 2 and "copies my request" in repairs[1].messages[-1]["content"]
    [pair] = sink.pairs
    assert pair.verification.status == "passed"
    assert "does not meet every requirement" not in pair.messages[-1]["content"]


def uncited_reply(cite: bool = True):
    """The teacher answers without citations (as the local one did in runs s8c, s9e and s10a); asked for its
    sentences with their sources, it gives them (`cite`) or gives sources that are not in the context."""
    scripted = rag_reply()

    def reply(request: ModelRequest) -> object:
        _, stage, *rest = request.tag.split("/")
        context = request.messages[1]["content"] if stage == "teacher" else ""
        if stage == "teacher" and rest[-1] == "cited":
            sources = parse_sources(context.split('"""')[1])
            first, last = min(sources), max(sources)
            words = " ".join(sources[first].split()[:6])
            numbers = [first, last] if cite else [99]
            sentences = [
                {"text": f'The keepers wrote "{words}".', "sources": numbers[:1]},
                {"text": "Both sources agree", "sources": numbers[-1:]},
            ]
            return {"sentences": sentences, "suitable": True, "reason": ""}
        if stage == "teacher" and rest[0] != "unanswerable_from_context":  # the answer and its repair
            return "The keepers kept the light burning every night."
        return scripted(request)

    return reply


def test_an_answer_without_citations_is_asked_for_its_sources_and_code_cites_them():
    model = ScriptedModel(uncited_reply())
    sink = run_flow(
        model, SEEDS[:2], FlowResources(search=corpus()), refinement_rounds=0, instructions_per_seed=2
    )
    assert sink.pairs and not sink.rejections, sink.rejections
    asked = [r for r in model.requests if r.tag.endswith("/cited")]
    answerable = [p for p in sink.pairs if p.instruction_type != "unanswerable_from_context"]
    assert len(asked) == len(answerable)
    assert all("The keepers kept the light burning every night." in str(r.messages) for r in asked)
    for pair in answerable:
        answer = pair.messages[-1]["content"]
        first, last = re.findall(r"\[(\d+)\]", answer)
        assert answer.startswith('The keepers wrote "') and f'" [{first}]. ' in answer
        assert answer.endswith(f"Both sources agree [{last}].")
        assert pair.verification.status == "passed"


def test_citations_of_sources_that_do_not_exist_are_not_written_in():
    from agentinstruct.agent_outputs import CitedSentence
    from agentinstruct.flows.rag import cited_text

    sentences = [CitedSentence(text="Built in 1852!", sources=[2, 2, 7]), CitedSentence(text="So it is")]
    assert cited_text(sentences, {1, 2}) == "Built in 1852 [2]! So it is"
    assert cited_text(sentences, {1}) is None
    model = ScriptedModel(uncited_reply(cite=False))
    sink = run_flow(
        model, SEEDS[:1], FlowResources(search=corpus()), refinement_rounds=0, instructions_per_seed=1
    )
    [rejection] = sink.rejections
    assert "cites no source" in rejection.detail and rejection.instruction_type != "unanswerable_from_context"
    assert sum(r.tag.endswith("/cited") for r in model.requests) == 2  # the answer, then its repair
