"""The reading-comprehension flow with a scripted model: every transformation and refinement goal runs,
each successful refinement round yields its own pair, exits and failures are recorded, and runs repeat."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

from agentinstruct.documents import Document, Seed
from agentinstruct.flows import FlowSettings, SkillFlow
from agentinstruct.models import ModelRequest, ScriptedModel
from agentinstruct.pairs import Pair, Rejection
from agentinstruct.skills import load_skills

# long enough (80 words at least) for reading_comprehension's identity, which takes the seed word for word
PASSAGE = (
    "The town of Alder Creek built its first lighthouse in 1852. Keepers lit the lamp every night for "
    "ninety years, until an automated beacon replaced them in 1942. Fishermen argued that the keepers "
    "had saved more than forty boats during storms, and so the town should fund a museum.\n\n"
    "The council agreed in 1961. The museum opened in the old keeper's cottage, where it still shows "
    "the brass lamp, the logbooks and a chart of every storm the keepers recorded."
)

#: what a scripted transformation agent writes: the passage's facts retold (a transformation that gave the
#: seed back word for word would be asked again, see reply_problems.echoed_seed)
RETOLD = (
    "In 1852 Alder Creek got a lighthouse, and for ninety years its keepers kept the lamp burning until "
    "a beacon took over in 1942. Because fishermen credited them with saving over forty boats, they "
    "asked the town to pay for a museum, which the council approved in 1961; it is housed in the "
    "cottage and displays the lamp, logbooks and storm chart."
)


class ListSink:
    """Collects a flow's results in memory."""

    def __init__(self, max_pairs: int | None = None):
        self.pairs: list[Pair] = []
        self.rejections: list[Rejection] = []
        self.max_pairs = max_pairs

    @property
    def full(self) -> bool:
        return self.max_pairs is not None and len(self.pairs) >= self.max_pairs

    def accept(self, pair: Pair) -> bool:
        if self.full:
            return False
        self.pairs.append(pair)
        return True

    def reject(self, rejection: Rejection) -> None:
        self.rejections.append(rejection)


#: reading_comprehension's transformations written as turns, and a transcript for them
TRANSCRIPTS = ("debate_transcript", "conversation", "meeting_transcript")
TRANSCRIPT = "\n".join(
    [
        "Ada: In 1852 Alder Creek got a lighthouse.",
        "Bo: Its keepers kept the lamp burning for ninety years.",
        "Ada: A beacon took over in 1942.",
        "Bo: Fishermen credited the keepers with saving over forty boats.",
        "Ada: So the town was asked to pay for a museum.",
        "Bo: The council approved it in 1961, in the cottage.",
    ]
)


def rc_reply(request: ModelRequest) -> object:
    """Plausible agent replies chosen by the request tag (skill/stage/agent)."""
    _, stage, *rest = request.tag.split("/")
    name = rest[-1]
    user = request.messages[-1]["content"]
    if stage == "transform" and name in TRANSCRIPTS:  # content_shape: turns, written here as text
        return {"suitable": True, "reason": "", "content": f"[{name}]\n{TRANSCRIPT}"}
    if stage == "transform":
        return {"suitable": True, "reason": "", "content": f"[{name}] {RETOLD}"}
    if stage == "instruct":
        return {"suitable": True, "reason": "", "instruction": f"({name}) What did the keepers do?"}
    if stage == "refine" and rest[0] == "suggester":
        return {"suitable": True, "reason": "", "suggestion": f"apply {name}: remove the date"}
    if stage == "refine" and rest[0] == "editor":
        marker = " [UNANSWERABLE]" if name == "make_unanswerable" else f" [{name}]"
        variant = hashlib.sha256(user.encode()).hexdigest()[:6]  # distinct edits for distinct inputs
        return {
            "suitable": True,
            "reason": "",
            "content": PASSAGE + marker,
            "instruction": f"Harder ({name}) {variant}?",
        }
    if stage == "teacher":
        if "[UNANSWERABLE]" in user:
            return "The passage removed that fact, so the answer cannot be determined from the passage."
        return "Step 1: the passage says the keepers lit the lamp. Answer: they kept the light."
    raise AssertionError(f"unexpected tag {request.tag}")


def make_seed(index: int = 0, text: str = PASSAGE) -> Seed:
    full = "Intro line.\n\n" + text
    document = Document(
        id=f"doc{index:04d}", source=f"doc{index}.txt", sha256="0" * 64, text=full, kind="text"
    )
    start = full.index(text)
    return Seed(
        id=f"doc{index:04d}:{start}-{len(full)}", document=document, span=(start, len(full)), text=text
    )


def run_flow(model, seeds, sink=None, **settings) -> ListSink:
    skill = load_skills()["reading_comprehension"]
    sink = sink or ListSink()
    flow = SkillFlow(skill, model, sink, FlowSettings(**settings))

    async def go():
        for seed in seeds:
            await flow.run_seed(seed)

    asyncio.run(go())
    return sink


def test_every_transformation_and_goal_runs_and_pairs_are_valid():
    seeds = [make_seed(i) for i in range(60)]
    sink = run_flow(ScriptedModel(rc_reply), seeds, unanswerable_share=0.3)
    skill = load_skills()["reading_comprehension"]
    transformations = {p.lineage.transformation.agent for p in sink.pairs}
    assert transformations == {t.name for t in skill.transformations}
    goals = {step.goal for p in sink.pairs for step in p.lineage.refinement}
    assert goals == {g.name for g in skill.refinement.goals}
    for pair in sink.pairs:
        Pair.model_validate(pair.model_dump(mode="json"))  # round-trips through the contract
        assert [m["role"] for m in pair.messages] == ["system", "user", "assistant"]
        start, end = pair.lineage.document.span
        seed = seeds[int(pair.lineage.document.id[3:])]
        assert seed.document.text[start:end] == seed.text
        assert pair.instruction_type in skill.types_by_name
        allowed = skill.types_for(
            next(t for t in skill.transformations if t.name == pair.lineage.transformation.agent)
        )
        assert pair.instruction_type in {t.name for t in allowed}
        if pair.lineage.transformation.agent == "identity":  # verbatim: the seed itself, no model call
            assert pair.lineage.transformation.content == seed.text
            assert len(pair.lineage.call_ids) >= 2
        else:
            assert len(pair.lineage.call_ids) >= 3
    unanswerable = [p for p in sink.pairs if p.unanswerable]
    assert unanswerable and all(p.verification.status == "passed" for p in unanswerable)
    assert all("cannot be determined" in p.messages[-1]["content"] for p in unanswerable)


def test_each_successful_round_yields_its_own_pair():
    sink = run_flow(ScriptedModel(rc_reply), [make_seed()], unanswerable_share=0.0, refinement_rounds=3)
    # 2 instruction types per seed x (seed instruction + 3 refinement rounds)
    assert len(sink.pairs) == 8
    rounds = sorted(len(p.lineage.refinement) for p in sink.pairs)
    assert rounds == [0, 0, 1, 1, 2, 2, 3, 3]
    refined = max(sink.pairs, key=lambda p: len(p.lineage.refinement))
    assert [s.round for s in refined.lineage.refinement] == [1, 2, 3]
    assert refined.messages[1]["content"].endswith(refined.lineage.refinement[-1].edited)
    assert len({p.id for p in sink.pairs}) == 8


def test_unanswerable_share_is_near_target():
    sink = run_flow(ScriptedModel(rc_reply), [make_seed(i) for i in range(150)])
    share = sum(p.unanswerable for p in sink.pairs) / len(sink.pairs)
    assert 0.05 <= share <= 0.16, share


def test_not_suitable_is_recorded_and_not_retried():
    def reply(request: ModelRequest):
        if "/transform/" in request.tag:
            return {"suitable": False, "reason": "a tax table cannot become a poem"}
        return rc_reply(request)

    model = ScriptedModel(reply)
    sink = run_flow(model, [make_seed()])
    assert sink.pairs == []
    assert len(model.requests) == 1
    [rejection] = sink.rejections
    assert rejection.reason == "not_suitable:transformation"
    assert "tax table" in rejection.detail
    assert rejection.lineage["document"]["source"] == "doc0.txt"


def test_a_decline_without_a_reason_is_asked_again():
    def reply(request: ModelRequest):
        if "/transform/" in request.tag:
            if len(request.messages) == 2:  # the local model declined with "-" as its reason
                return {"suitable": False, "reason": "-"}
            return {"suitable": False, "reason": "a tax table cannot become a poem"}
        return rc_reply(request)

    model = ScriptedModel(reply)
    sink = run_flow(model, [make_seed()])
    assert len(model.requests) == 2
    assert '"reason" gives no reason' in model.requests[1].messages[-1]["content"]
    [rejection] = sink.rejections
    assert rejection.reason == "not_suitable:transformation" and "tax table" in rejection.detail


def test_a_reply_ended_in_a_loop_is_asked_again():
    from agentinstruct.models import ModelResponse

    looped = ModelResponse(text="The keepers lit the lamp. " * 20, finish_reason="repetition")

    def reply(request: ModelRequest):
        if "/teacher/" in request.tag and not request.discourage_repeats:
            return looped  # the local backend ended a teacher reply that repeated itself
        return rc_reply(request)

    model = ScriptedModel(reply)
    sink = run_flow(model, [make_seed()], refinement_rounds=0)
    assert len(sink.pairs) == 2 and not sink.rejections
    teacher = [r for r in model.requests if "/teacher/" in r.tag]
    asked_again = [r for r in teacher if r.discourage_repeats]
    assert len(asked_again) == 2 == len(teacher) - 2  # once per pair, asking the engine not to repeat
    # a fresh start: the task with a note, not the looping reply for the model to continue
    assert len(asked_again[0].messages) == 2 and "went into a loop" in asked_again[0].messages[-1]["content"]
    assert all("The keepers lit the lamp. The keepers" not in str(r.messages) for r in teacher)


def test_a_reply_cut_off_at_the_token_limit_is_asked_again_afresh():
    """The cut reply is not shown back: with its prompt and the next reply it overflowed a small slot."""
    from agentinstruct.models import ModelResponse

    cut = ModelResponse(text='{"content": "Keeper: We lit the lamp. ' * 30, finish_reason="length")

    def reply(request: ModelRequest):
        if (
            "/transform/" in request.tag
            and len(request.messages) == 2
            and "cut off" not in str(request.messages)
        ):
            return cut
        return rc_reply(request)

    model = ScriptedModel(reply)
    sink = run_flow(model, [make_seed()], refinement_rounds=0)
    assert sink.pairs and not sink.rejections
    [first, again] = [r for r in model.requests if "/transform/" in r.tag]
    assert (
        len(again.messages) == len(first.messages) == 2 and "cut off at the" in again.messages[-1]["content"]
    )
    assert "We lit the lamp" not in str(again.messages) and not again.discourage_repeats


def test_invalid_output_is_reasked_once_with_the_error():
    calls = {"n": 0}

    def reply(request: ModelRequest):
        if "/instruct/" in request.tag and len(request.messages) == 2:
            calls["n"] += 1
            return "Sure! Here is a question: what did the keepers do?"  # no JSON
        return rc_reply(request)

    model = ScriptedModel(reply)
    sink = run_flow(model, [make_seed()], refinement_rounds=0)
    assert calls["n"] == 2 and len(sink.pairs) == 2
    reasks = [r for r in model.requests if "/instruct/" in r.tag and len(r.messages) == 4]
    assert reasks and "could not be used" in reasks[0].messages[-1]["content"]
    assert "no JSON object" in reasks[0].messages[-1]["content"]


def test_output_that_stays_invalid_is_rejected_with_the_reason():
    def reply(request: ModelRequest):
        if "/instruct/" in request.tag:
            return json.dumps({"suitable": True, "instruction": ""})
        return rc_reply(request)

    sink = run_flow(ScriptedModel(reply), [make_seed()], refinement_rounds=0)
    assert sink.pairs == []
    assert {r.reason for r in sink.rejections} == {"agent_failed:seed_instruction"}
    assert all("must not be empty" in r.detail for r in sink.rejections)


def test_teacher_that_answers_an_unanswerable_item_fails_verification():
    def reply(request: ModelRequest):
        if "/teacher/" in request.tag:
            return "Answer: 1852."  # answers even when the fact was removed
        return rc_reply(request)

    sink = run_flow(ScriptedModel(reply), [make_seed(i) for i in range(40)], unanswerable_share=0.5)
    failed = [r for r in sink.rejections if r.reason == "verification_failed:unanswerable_declined"]
    assert failed
    assert all(r.verification.status == "failed" for r in failed)
    assert all(r.messages[-1]["role"] == "assistant" for r in failed)
    assert not any(p.unanswerable for p in sink.pairs)


def test_model_errors_become_rejections_and_the_flow_goes_on():
    from agentinstruct.models import ModelError

    def reply(request: ModelRequest):
        if "/teacher/" in request.tag:
            return ModelError("server exploded", retryable=False, status=500)
        return rc_reply(request)

    sink = run_flow(ScriptedModel(reply), [make_seed()], refinement_rounds=1)
    assert sink.pairs == []
    assert {r.reason for r in sink.rejections} == {"agent_failed:teacher"}
    assert len(sink.rejections) == 4
    assert all("server exploded" in r.detail for r in sink.rejections)


def test_same_seed_same_pairs_different_seed_different_choices():
    seeds = [make_seed(i) for i in range(10)]
    first = run_flow(ScriptedModel(rc_reply), seeds, run_seed=7)
    second = run_flow(ScriptedModel(rc_reply), seeds, run_seed=7)
    other = run_flow(ScriptedModel(rc_reply), seeds, run_seed=8)
    assert [p.id for p in first.pairs] == [p.id for p in second.pairs]
    assert {p.id for p in first.pairs} != {p.id for p in other.pairs}


@pytest.mark.parametrize("limit", [1, 3])
def test_sink_limit_stops_new_work(limit):
    model = ScriptedModel(rc_reply)
    sink = run_flow(model, [make_seed(i) for i in range(5)], sink=ListSink(max_pairs=limit))
    assert len(sink.pairs) == limit
    assert len(model.requests) < 5 * 12


def test_a_reply_that_copies_the_prompt_is_reasked():
    def reply(request: ModelRequest):
        if "/instruct/" in request.tag and len(request.messages) == 2:
            footer_line = next(
                line
                for line in request.messages[-1]["content"].splitlines()
                if line.startswith('- "question"')
            )
            return {"suitable": True, "reason": "", "instruction": footer_line}
        return rc_reply(request)

    model = ScriptedModel(reply)
    sink = run_flow(model, [make_seed()], refinement_rounds=0)
    assert len(sink.pairs) == 2
    reasks = [r for r in model.requests if "/instruct/" in r.tag and len(r.messages) == 4]
    assert len(reasks) == 2 and "copies my request" in reasks[0].messages[-1]["content"]


def test_an_answerable_item_whose_final_answer_declines_is_rejected():
    """s18: "Who is the moderator?" ended "Answer: The answer cannot be determined from the passage." on an
    item no editor made unanswerable; a decline the question offers as an option stays an answer."""
    from agentinstruct.quality.checks import Candidate, unanswerable_declined

    declined = "Step 1: the passage names no one.\nAnswer: The answer cannot be determined from the passage."
    item = Candidate(
        "reading_comprehension", "literal_comprehension", PASSAGE, "Who lit the lamp?", declined, False
    )
    result = unanswerable_declined(item)
    assert result is not None and not result.ok and "was not made unanswerable" in result.detail
    offered = "Who lit the lamp?\nA) The keepers\nB) The council\nC) It cannot be determined"
    assert (
        unanswerable_declined(Candidate("reading_comprehension", "x", PASSAGE, offered, declined, False))
        is None
    )
    answered = Candidate(
        "reading_comprehension", "x", PASSAGE, "Who lit the lamp?", "Answer: the keepers", False
    )
    assert unanswerable_declined(answered) is None


def test_an_answer_picking_an_option_its_task_never_lists_is_asked_for_the_answer_itself():
    """s37, s38: reading-comprehension answers to open questions ended "Answer: (B)", and the
    `phantom_option` filter rejected both; asked once, the teacher may give the answer itself."""

    def reply(request: ModelRequest) -> object:
        if request.tag.endswith("/unlettered"):
            return "Step 1: the passage says the keepers lit the lamp.\nAnswer: they kept the light."
        if request.tag.split("/")[1] == "teacher":
            return "Step 1: the keepers lit the lamp, which option B says.\nAnswer: (B)"
        return rc_reply(request)

    model = ScriptedModel(reply)
    sink = run_flow(model, [make_seed()], refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    assert pair.messages[-1]["content"].endswith("Answer: they kept the light.")
    [asked] = [r for r in model.requests if r.tag.endswith("/unlettered")]
    assert (
        "ends by picking option (B), but the task lists no lettered options" in asked.messages[-1]["content"]
    )
    # asked once only: a second answer that still picks a letter is left to the `phantom_option` filter
    model = ScriptedModel(lambda r: "Answer: (B)" if r.tag.split("/")[1] == "teacher" else rc_reply(r))
    sink = run_flow(model, [make_seed()], refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    assert pair.messages[-1]["content"] == "Answer: (B)"
    assert len([r for r in model.requests if r.tag.endswith("/unlettered")]) == 1
