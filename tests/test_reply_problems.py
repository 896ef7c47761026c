"""Replies that parse but cannot be used, caught before the next agent sees them: here, a transformation
agent that gives its seed back instead of transforming it (`echoed_seed`)."""

from __future__ import annotations

import pytest

from agentinstruct.agent_outputs import InstructionOutput, TransformationOutput
from agentinstruct.flows import FlowSettings, SkillFlow
from agentinstruct.flows.outputs import user_turn_shows_material
from agentinstruct.models import ModelRequest, ScriptedModel
from agentinstruct.reply_problems import echoed_seed
from agentinstruct.skills import Transformation, load_skills
from grounded_skills import load, run_flow, stage
from test_flows import ListSink

pytestmark = pytest.mark.timeout(60)

SEED = (
    "The soil test is due in February. If the results are clear, planting could begin in April. The "
    "council also agreed to review the lease after three years, and Councillor Pryce said he would ask "
    "then for the site to be reconsidered for housing if the garden has not proved its worth."
)
SCENARIO = (
    "A town of 40,000 people opens a community garden of 120 plots. Each plot needs about 2 cubic metres "
    "of soil, delivered by trucks that carry 8 cubic metres each, and water costs 3 pounds a week per plot."
)
BUILDER = Transformation(name="quantity_scenario", description="a short scenario full of quantities")


@pytest.mark.parametrize(
    "content",
    [
        SEED,
        SEED.replace("could begin", "can begin").replace('"', ""),  # a few words changed
        "Fenwick Gazette.\n\n" + SEED,  # a heading added
    ],
)
def test_the_seed_given_back_is_caught(content):
    error = echoed_seed(TransformationOutput(content=content), {"seed": SEED, "transformation": BUILDER})
    assert error.startswith("'content' gives back the source text almost word for word")
    assert "a short scenario full of quantities" in error


@pytest.mark.parametrize(
    "content",
    [
        SCENARIO,
        SEED.split(". ")[0] + ". " + SCENARIO,  # quoting one sentence of the seed is fine
        "Rule: a month name maps to its number. Examples: February -> 2, April -> 4",  # too short to judge
    ],
)
def test_a_real_transformation_passes(content):
    assert echoed_seed(TransformationOutput(content=content), {"seed": SEED, "transformation": BUILDER}) == ""


def test_a_content_that_repeats_the_transformation_description_is_caught():
    """Told the description after an echo, the local scenario_builder wrote the description as the content."""
    builder = load("analytical_reasoning").transformations[0]
    variables = {"seed": SEED, "transformation": builder}
    error = echoed_seed(TransformationOutput(content=" ".join(builder.description.split())), variables)
    assert error.startswith("'content' repeats the description of what to write instead of writing it")
    assert "write the scenario builder itself" in error
    # a real scenario shares a few words with the description, not most of them
    assert echoed_seed(TransformationOutput(content=SCENARIO), variables) == ""


def test_only_transformations_with_a_seed_are_judged():
    assert echoed_seed(InstructionOutput(instruction=SEED), {"seed": SEED}) == ""
    assert echoed_seed(TransformationOutput(content=SEED), {"content": SEED}) == ""


def test_a_transformation_that_echoes_its_seed_is_asked_again():
    def reply(request: ModelRequest) -> object:
        step, _ = stage(request)
        if step == "transform":
            echoed = len(request.messages) == 2  # the first ask: give the seed back
            return {"content": request.messages[-1]["content"].split('"""')[1] if echoed else SCENARIO}
        if step == "instruct":
            return {"question": "How many truckloads of soil do the 120 plots need?"}
        return "120 plots * 2 = 240 cubic metres of soil\n240 / 8 = 30 truckloads\nAbout 30 truckloads."

    fermi = load("fermi").model_copy(update={"teacher_tools": []})
    sink, model = run_flow(fermi, reply, 1, refinement_rounds=0, instructions_per_seed=1)
    transforms = [r for r in model.requests if stage(r)[0] == "transform"]
    assert len(transforms) == 2
    assert "gives back the source text almost word for word" in transforms[1].messages[-1]["content"]
    [pair] = sink.pairs
    assert pair.lineage.transformation.agent == "quantity_scenario"
    assert pair.lineage.transformation.content == SCENARIO
    assert pair.messages[1]["content"] == "How many truckloads of soil do the 120 plots need?"


def test_a_task_that_copies_the_material_its_user_turn_shows_is_sent_back() -> None:
    # a local text-extraction request held the whole passage before its schema: the user turn showed the
    # passage twice (run s12a); where the user turn is the task alone, the task may hold what it needs
    passage = (
        "The soil test is due in February. If the results are clear, planting could begin in April. The "
        "council also agreed to review the lease after three years, and Councillor Pryce said he would ask "
        "then for the site to be reconsidered for housing if the garden has not proved its worth."
    )
    skills = load_skills()

    def instruction_output(name: str, type_name: str):
        flow = SkillFlow(skills[name], ScriptedModel(lambda r: "ok"), ListSink(), FlowSettings())
        return flow.instructors[type_name].output

    output = instruction_output("text_classification", "topic")
    key = skills["text_classification"].instruction_key
    fields = {"suitable": True, "reason": "", "labels": "planning, sport, weather"}
    copied = {**fields, key: f"{passage}\n\nWhich topic is this text about?"}
    with pytest.raises(ValueError, match="the task copies the text, which the user sends with it already"):
        output.model_validate(copied, context={"content": passage})
    own = {**fields, key: "Which topic is this text about?"}
    assert output.model_validate(own, context={"content": passage})
    assert not user_turn_shows_material(skills["multiple_choice"])
    assert user_turn_shows_material(skills["text_extraction"])


@pytest.mark.parametrize(
    ("answer", "kept"),
    [
        (
            "I apologize for the oversight. Here is the corrected answer that meets all the requirements "
            "of the task:\n\nThe median is the middle value.",
            "The median is the middle value.",
        ),
        (
            "You are right, I missed the tests.\n\nThe median is the middle value.",
            "The median is the middle value.",
        ),
        ("Here is the revised answer:\nThe median is the middle value.", "The median is the middle value."),
        # not about a correction, or nothing would be left: unchanged
        ("Sorry, I cannot help with that request at all.", None),
        ("The median is the middle value. Here is the new code:\nx = 1", None),
        ("I apologize for the oversight.", None),
    ],
)
def test_a_revised_answers_words_to_the_feedback_are_taken_out(answer, kept):
    from agentinstruct.reply_problems import without_repair_preamble

    assert without_repair_preamble(answer) == (answer if kept is None else kept)


@pytest.mark.parametrize(
    "content",
    [
        # run s14: the seed, then the agent's decline and the "-" placeholder, delivered as a passage
        f"{SCENARIO}\n\nThe proposal is not suitable because it does not discuss the benefits.\n\n-",
        f"{SCENARIO}\n-",
    ],
)
def test_a_transformation_content_that_holds_a_decline_is_asked_again(content):
    from types import SimpleNamespace

    from agentinstruct.reply_problems import echoed_seed

    error = echoed_seed(SimpleNamespace(content=content), {"seed": "A short seed."})
    assert "'content' holds a decline" in error
    assert (
        echoed_seed(
            SimpleNamespace(content=f"{SCENARIO}\nThe soil was not suitable for beans."), {"seed": "x"}
        )
        == ""
    )
