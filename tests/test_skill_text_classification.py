"""The text_classification skill (SPEC §2 row 12): taxonomy, templates, the flow with a scripted model, and
the `labels_from_set` check (every chosen label is in the task's set; exactly one unless multi_label)."""

from __future__ import annotations

import pytest

from agentinstruct.models import ModelRequest
from agentinstruct.quality.agreement import chosen_labels, label_set, labels_from_set
from agentinstruct.quality.checks import Candidate
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

TYPES = ["topic", "sentiment", "intent", "stance", "safety", "register", "multi_label", "custom_labels"]
TASK = (
    "Classify the sentiment of the text above as one of: positive, negative, neutral, mixed. "
    "Justify your choice briefly."
)
LABELS = "positive, negative, neutral, mixed"
GOOD = "The text reports dates and duties without praise or blame.\nLabel: Neutral"


@pytest.fixture(scope="module")
def skill():
    return load("text_classification")


def test_taxonomy_matches_the_spec_row(skill) -> None:
    assert [t.name for t in skill.transformations] == ["identity", "excerpt"]
    bounds = {t.name: (t.verbatim, t.min_words, t.max_words) for t in skill.transformations}
    assert bounds == {"identity": (True, 30, None), "excerpt": (True, 40, 200)}  # no model call
    assert [t.name for t in skill.instruction_types] == TYPES
    goals = {g.name: g for g in skill.refinement.goals}
    assert list(goals) == ["ambiguous_cases", "label_definitions"]
    assert goals["ambiguous_cases"].edits_content and not goals["label_definitions"].edits_content
    assert skill.checks == ["labels_from_set"] and skill.repair_rounds == 1
    assert list(skill.instruction_fields) == ["labels"]


def test_every_template_renders_strictly(skill) -> None:
    variables = variables_for(skill, SEED, TASK, {"labels": LABELS})
    rendered = render_every_template(skill, variables)
    assert rendered[skill.prompts.user_turn].strip() == f"{SEED}\n\n{TASK}"
    assert f"Allowed labels: {LABELS}" in rendered[skill.prompts.suggester]
    env = environment(skill)
    for itype in skill.instruction_types:
        instruction = env.get_template(skill.prompts.instruction).render(
            **{**variables[skill.prompts.instruction], "instruction_type": itype}
        )
        teacher = env.get_template(skill.prompts.teacher).render(skill=skill, instruction_type=itype)
        assert itype.guidance in instruction
        multi = itype.name == "multi_label"
        assert ("all that apply" in instruction) == multi and ("exactly one" in instruction) != multi
        assert ('"Labels: <label>, <label>"' in teacher) == multi and ('"Label: <label>"' in teacher) != multi
    for goal in skill.refinement.goals:  # the editor edits the text only for ambiguous_cases
        editor = env.get_template(skill.prompts.editor).render(
            **{**variables[skill.prompts.editor], "goal": goal}
        )
        assert ("Edit the text" in editor) == goal.edits_content
        assert ("Do not change the text" in editor) != goal.edits_content


def by_type(request: ModelRequest) -> str:
    return "Dates and duties.\nLabels: neutral, mixed" if "multi_label" in request.tag else GOOD


def task_for(type_name: str) -> dict[str, str]:
    """The instruction agent's reply: TASK, worded for several labels for multi_label (its phrase rule)."""
    if type_name == "multi_label":
        return {"instruction": TASK.replace("as one of", "with all that apply of"), "labels": LABELS}
    return {"instruction": TASK, "labels": LABELS}


def test_multi_label_tasks_must_say_that_several_labels_may_apply(skill) -> None:
    rules = {t.name: t.task_must_contain_any for t in skill.instruction_types if t.task_must_contain_any}
    assert rules == {"multi_label": ["all that apply", "all labels that apply", "every label that applies"]}


def test_the_flow_yields_labelled_answers_from_the_set(skill) -> None:
    model = scripted(skill, task_for, by_type)
    sink = run(skill, model, seeds=4)
    assert len(sink.pairs) == 4 * 2 * 3 and not sink.rejections
    assert {p.instruction_type for p in sink.pairs} == set(TYPES)
    for pair in sink.pairs:
        assert_pair_shape(pair, skill, SEED)
        assert task_for(pair.instruction_type)["instruction"] in pair.messages[1]["content"]
        [result] = pair.verification.checks
        assert result.name == "labels_from_set" and result.ok, result.detail
    assert {s.goal for p in sink.pairs for s in p.lineage.refinement} == {
        "ambiguous_cases",
        "label_definitions",
    }


def test_a_label_outside_the_set_goes_back_once_then_passes(skill) -> None:
    answers = iter(["It sounds hopeful.\nLabel: hopeful", GOOD])
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["sentiment"]]})
    model = scripted(single, {"instruction": TASK, "labels": LABELS}, lambda request: next(answers))
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    checks = {c.name: c for c in pair.verification.checks}
    assert checks["labels_from_set"].ok and "passed after 1 repair round" in checks["repaired"].detail
    repair = next(r for r in model.requests if r.tag.endswith("/repair"))
    assert (
        "chose 'hopeful', not among the allowed labels: positive, negative, neutral, mixed"
        in repair.messages[-1]["content"]
    )


def test_an_answer_that_stays_outside_the_set_is_rejected(skill) -> None:
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["sentiment"]]})
    model = scripted(
        single, {"instruction": TASK, "labels": LABELS}, lambda request: "Label: positive, negative"
    )
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    [rejection] = sink.rejections
    assert rejection.reason == "verification_failed:labels_from_set"
    assert "chose 2 labels (positive, negative); this task takes exactly one" in rejection.detail


def candidate(answer: str, itype: str = "sentiment", labels: str = LABELS) -> Candidate:
    return Candidate("text_classification", itype, SEED, TASK, answer, False, details={"labels": labels})


def test_the_check_accepts_labels_from_the_set_and_rejects_others() -> None:
    assert labels_from_set(candidate("Reasons.\nLabel: NEUTRAL")).ok
    assert labels_from_set(candidate("Reasons.\n**Label:** neutral (no praise or blame)")).ok
    assert labels_from_set(candidate("Reasons.\nneutral")).ok
    outside = labels_from_set(candidate("Label: hopeful"))
    assert not outside.ok and outside.detail.startswith("chose 'hopeful', not among the allowed labels")
    missing = labels_from_set(candidate("The text is mostly neutral in tone, I think."))
    assert not missing.ok and "no 'Label:' line" in missing.detail
    two = labels_from_set(candidate("Label: neutral, mixed"))
    assert not two.ok and "exactly one" in two.detail
    assert labels_from_set(candidate("Labels: neutral, mixed", itype="multi_label")).ok
    assert not labels_from_set(candidate("Labels: neutral, sad", itype="multi_label")).ok
    assert labels_from_set(candidate("Label: x", labels="")) is None


def test_label_parsing_handles_multiword_and_underscored_labels() -> None:
    allowed = label_set("Arts and Culture, Science, refund_request\n- very negative")
    assert set(allowed) == {"arts and culture", "science", "refund request", "very negative"}
    assert chosen_labels("Labels: Arts and Culture, Science", allowed) == (
        ["arts and culture", "science"],
        True,
    )
    assert chosen_labels("Label: refund-request", allowed) == (["refund request"], True)
    assert chosen_labels("Category: Very_Negative.", allowed) == (["very negative"], True)


def test_a_task_that_keeps_its_labels_to_itself_is_shown_them(skill) -> None:
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["topic"]]})
    bare = "Topic classification of the text above, with a short justification."
    model = scripted(
        single, {"instruction": bare, "labels": "Politics;  Business"}, lambda r: "Label: Politics"
    )
    [pair] = run(single, model, refinement_rounds=0, instructions_per_seed=1).pairs
    assert pair.messages[1]["content"].endswith(f"{bare}\nAllowed labels: Politics, Business.")
    assert pair.verification.status == "passed"
    # a task that names every label (in any case) is left as written
    model = scripted(single, {"instruction": TASK, "labels": LABELS.upper()}, lambda r: GOOD)
    [pair] = run(single, model, refinement_rounds=0, instructions_per_seed=1).pairs
    assert pair.messages[1]["content"].endswith(TASK)


def test_a_single_label_is_sent_back_before_the_teacher(skill) -> None:
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["topic"]]})
    task = {"instruction": "Classify the topic of the text above.", "labels": "topic"}
    model = scripted(single, task, lambda r: GOOD)
    sink = run(single, model, refinement_rounds=0, instructions_per_seed=1)
    [rejection] = sink.rejections
    assert rejection.reason == "agent_failed:seed_instruction"
    assert "'topic' is one label, and the field is not the answer" in rejection.detail
    assert "at least 2, separated by commas" in rejection.detail
    assert not any("/teacher/" in r.tag for r in model.requests)


def test_a_third_copy_of_the_prompt_gets_the_types_fallback_task(skill) -> None:
    """s30: the local agent wrote its type's intent line, or the field's description, as the task three
    times in a row; with good labels, the type's fallback task (the user's words) takes the copy's place."""
    sentiment = skill.types_by_name["sentiment"]
    single = skill.model_copy(update={"instruction_types": [sentiment]})
    copy = f"Task type: sentiment — {sentiment.intent}"
    model = scripted(single, {"classification_task": copy, "labels": LABELS}, lambda r: GOOD)
    [pair] = run(single, model, refinement_rounds=0, instructions_per_seed=1).pairs
    asks = [r for r in model.requests if "/instruct/" in r.tag]
    assert len(asks) == 3  # the copy is sent back twice first: the agent's own task is always preferred
    assert pair.messages[1]["content"].endswith(f"{sentiment.fallback_task}\nAllowed labels: {LABELS}.")
    assert pair.lineage.seed_instruction.text.startswith(sentiment.fallback_task)
    # labels that break their rule leave the copy rejected: the fallback replaces the task alone
    model = scripted(single, {"classification_task": copy, "labels": "sentiment"}, lambda r: GOOD)
    [rejection] = run(single, model, refinement_rounds=0, instructions_per_seed=1).rejections
    assert rejection.reason == "agent_failed:seed_instruction"
    # s44: the first two copies came with good labels, the third with one label; the latest reply that
    # passes with the fallback task is taken
    labels = iter([LABELS, "negative, neutral", "positive"])
    model = scripted(
        single, lambda name: {"classification_task": copy, "labels": next(labels)}, lambda r: GOOD
    )
    [pair] = run(single, model, refinement_rounds=0, instructions_per_seed=1).pairs
    assert pair.messages[1]["content"].endswith(
        f"{sentiment.fallback_task}\nAllowed labels: negative, neutral."
    )


def test_every_fallback_task_passes_its_types_rules(skill) -> None:
    from agentinstruct.flows.outputs import contains_phrase

    for itype in skill.instruction_types:
        if itype.fallback_task:
            assert "the text above" in itype.fallback_task
            phrases = itype.task_must_contain_any
            assert not phrases or any(contains_phrase(itype.fallback_task, p) for p in phrases), itype.name


def test_a_third_task_that_copies_the_text_gets_the_fallback_task_too(skill) -> None:
    """s31: a register task was the seed's paragraph itself, three times, its labels fine the last time."""
    register = skill.types_by_name["register"]
    single = skill.model_copy(update={"instruction_types": [register]})
    copied = f"{SEED} {SEED}"
    labels = "formal, informal, technical"
    model = scripted(single, {"classification_task": copied, "labels": labels}, lambda r: "Label: formal")
    [pair] = run(single, model, refinement_rounds=0, instructions_per_seed=1).pairs
    assert pair.messages[1]["content"].endswith(f"{register.fallback_task}\nAllowed labels: {labels}.")


def test_a_task_listing_other_labels_than_its_field_goes_back(skill) -> None:
    """s31: a safety task listed "safe, harassment, hate, ..." while its labels field held "safe,
    information"; the teacher saw two label sets and the check knew only one."""
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["safety"]]})
    listed = "Classify the text into one of these categories: safe, harassment, hate, violence."
    replies = iter(
        [
            {"instruction": listed, "labels": "safe, information"},
            {"instruction": listed, "labels": "safe, harassment, hate, violence"},
        ]
    )
    model = scripted(single, lambda type_name: next(replies), lambda r: "Nothing harmful.\nLabel: safe")
    [pair] = run(single, model, refinement_rounds=0, instructions_per_seed=1).pairs
    asks = [r for r in model.requests if "/instruct/" in r.tag]
    assert len(asks) == 2
    sent_back = asks[1].messages[-1]["content"]
    assert (
        "the task lists the labels safe, harassment, hate, violence, and the field holds safe, information"
        in sent_back
    )
    assert pair.messages[1]["content"].endswith(listed)


def test_a_field_holding_part_of_the_tasks_label_list_takes_the_whole_list(skill) -> None:
    """s44: a custom_labels task listed "anecdotal, statistical, expert_opinion, none" and its field held the
    first three, three times in a row; a field holding only the right label is read the same way."""
    from agentinstruct.field_formats import read_against_task

    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["custom_labels"]]})
    listed = "Label the kind of evidence the text gives: anecdotal, statistical, expert_opinion, none."
    reply = {"instruction": listed, "labels": "anecdotal, statistical, expert_opinion"}
    model = scripted(single, reply, lambda r: "It gives figures.\nLabel: statistical")
    [pair] = run(single, model, refinement_rounds=0, instructions_per_seed=1).pairs
    assert len([r for r in model.requests if "/instruct/" in r.tag]) == 1
    assert pair.lineage.seed_instruction.fields["labels"] == "anecdotal, statistical, expert_opinion, none"
    assert read_against_task("label_list", TASK, "positive") == LABELS
    # another list, or no list, leaves the field as written (and its own rules judge it)
    assert read_against_task("label_list", "Weigh the tone, word choice, and context.", "tone") == "tone"
    assert read_against_task("label_list", "Classify the sentiment.", "positive") == "positive"


def test_lists_that_are_not_label_lists_leave_the_task_alone() -> None:
    from agentinstruct.field_formats import task_conflict

    # other things listed (no label among them), a list of two, and a list the field matches in any case
    assert not task_conflict("label_list", "Weigh the tone, word choice, and context. Pick one.", LABELS)
    assert not task_conflict("label_list", "Is it positive or negative? Answer.", LABELS)
    assert not task_conflict("label_list", TASK.upper(), LABELS)
    assert task_conflict("label_list", TASK, "positive, negative, neutral")


def test_a_repair_that_repeats_the_answer_is_asked_afresh_at_another_seed(skill) -> None:
    """s30-s33: shown its answer and the failed check, the local teacher sent the same answer back in 8 of 17
    repairs; the answer is then asked once more without the earlier one, the failure in the system prompt."""
    single = skill.model_copy(update={"instruction_types": [skill.types_by_name["sentiment"]]})

    def teacher(request: ModelRequest) -> str:
        return GOOD if request.tag.endswith("/repair_fresh") else "Label: hopeful"

    model = scripted(single, {"instruction": TASK, "labels": LABELS}, teacher)
    [pair] = run(single, model, refinement_rounds=0, instructions_per_seed=1).pairs
    first, repair, fresh = [r for r in model.requests if "/teacher/" in r.tag]
    assert repair.tag.endswith("/repair") and fresh.seed == first.seed + 1
    assert len(fresh.messages) == 2 and "Label: hopeful" not in str(fresh.messages)
    assert "An earlier answer to this task was rejected:" in fresh.messages[0]["content"]
    assert "chose 'hopeful', not among the allowed labels" in fresh.messages[0]["content"]
    assert pair.messages[-1]["content"] == GOOD and pair.messages[0]["content"] == skill.system_prompt
    assert len(pair.lineage.call_ids) == len(model.requests)
    # a repair that changes the answer is taken as it is
    answers = iter(["Label: hopeful", "Label: hopeful, really"])
    model = scripted(single, {"instruction": TASK, "labels": LABELS}, lambda r: next(answers))
    run(single, model, refinement_rounds=0, instructions_per_seed=1)
    assert not [r for r in model.requests if r.tag.endswith("/repair_fresh")]
