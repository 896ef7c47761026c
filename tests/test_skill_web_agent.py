"""The web_agent skill (SPEC §2 row 4): taxonomy, templates, the full flow with a scripted model (the page
written as HTML and converted to the tree), and the `element_ids_exist` / `actions_well_formed` checks
rejecting bad action sequences and accepting good ones."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter

import jinja2
import jsonschema
import pytest
from typer.testing import CliRunner

from agentinstruct.cli import app
from agentinstruct.flows import FlowSettings, flow_class
from agentinstruct.flows.web_agent import MIN_ELEMENTS, WebAgentFlow
from agentinstruct.flows.web_answers import answer_schema, element_choice, notation
from agentinstruct.flows.web_pages import html_to_tree
from agentinstruct.models import ModelRequest, ScriptedModel
from agentinstruct.pairs import Pair
from agentinstruct.quality.checks import CHECKS, Candidate, resolve_checks
from agentinstruct.quality.filters import Answer, failure_of
from agentinstruct.quality.settings import FilterSettings
from agentinstruct.quality.web import parse_answer, parse_page
from agentinstruct.skills import BUNDLED_DIR, Skill, load_skill_file, load_skills, taxonomy_hash
from skill_templates import render, strict_environment
from test_flows import ListSink, make_seed

pytestmark = pytest.mark.timeout(120)

SKILL_FILE = BUNDLED_DIR / "web_agent.yaml"
TYPES = [
    "find_information",
    "fill_form",
    "navigate",
    "compare_items",
    "multi_step_task",
    "extract_table",
    "recover_from_error",
]
TRANSFORMATIONS = [
    "shop_listing_page",
    "form_page",
    "article_page",
    "search_results_page",
    "settings_page",
    "error_state_page",
]
GOALS = ["add_steps", "add_distracting_elements"]
CHECK_NAMES = ["element_ids_exist", "actions_well_formed"]

SEED = "The harbour tram runs every ten minutes. A single ticket costs €2.40 and a day pass €6.00."
PAGE = """[1] page "Harbour Tram Tickets"
  [2] banner ""
    [3] link "Home"
    [4] link "Timetables"
    [5] searchbox "Search" value="harbour line"
    [6] button "Search"
  [7] main ""
    [8] heading "Buy a ticket"
    [9] alert "Payment failed: the card number is incomplete."
    [10] form "Ticket order"
      [11] textbox "Email" (required)
      [12] combobox "Ticket" value="Single"
        [13] option "Single" (selected)
        [14] option "Day pass"
      [15] checkbox "Send a receipt"
      [16] textbox "Card number" value="4111" (invalid)
      [17] text "Enter all 16 digits."
      [18] button "Pay"
    [19] table "Fares"
      [20] row ""
        [21] columnheader "Ticket"
        [22] columnheader "Price"
      [23] row ""
        [24] cell "Single"
        [25] cell "€2.40"
      [26] row ""
        [27] cell "Day pass"
        [28] cell "€6.00"
  [29] contentinfo ""
    [30] link "Contact"
"""
#: the page as the model writes it: converted, it is PAGE exactly
PAGE_HTML = """<!DOCTYPE html>
<html>
<head><title>Harbour Tram Tickets</title></head>
<body>
<header>
  <a href="/">Home</a> | <a href="/timetables">Timetables</a>
  <input type="search" aria-label="Search" value="harbour line">
  <button>Search</button>
</header>
<main>
  <h1>Buy a ticket</h1>
  <div role="alert">Payment failed: the card number is incomplete.</div>
  <form aria-label="Ticket order">
    <label for="email">Email</label>
    <input id="email" type="email" required>
    <label for="ticket">Ticket</label>
    <select id="ticket">
      <option selected>Single</option>
      <option>Day pass</option>
    </select>
    <label><input type="checkbox"> Send a receipt</label>
    <label for="card">Card number</label>
    <input id="card" value="4111" aria-invalid="true">
    <p>Enter all 16 digits.</p>
    <button type="submit">Pay</button>
  </form>
  <table>
    <caption>Fares</caption>
    <tr><th>Ticket</th><th>Price</th></tr>
    <tr><td>Single</td><td>€2.40</td></tr>
    <tr><td>Day pass</td><td>€6.00</td></tr>
  </table>
</main>
<footer><a href="/contact">Contact</a></footer>
</body>
</html>
"""
FORM_ANSWER = """Reason: The email field is required and empty.
Action: type [11] "ada@example.com"
Reason: The user wants a day pass.
Action: select [12] "Day pass"
Reason: The card number was rejected as incomplete, so it needs all 16 digits.
Action: type [16] "4111111111111111"
Reason: Everything is filled in, so the order can be paid.
Action: click [18]
Reason: The order for a day pass was sent.
Action: stop "Bought a day pass for ada@example.com."
""".strip()
GOOD_ANSWERS = {
    "find_information": 'Reason: The fares table lists the day pass at €6.00.\nAction: stop "€6.00"',
    "fill_form": FORM_ANSWER,
    "navigate": "Reason: The Timetables link leads to the timetables.\nAction: click [4]\n"
    'Reason: The timetables page is opening.\nAction: stop "Opened the timetables."',
    "compare_items": "Reason: The single ticket (€2.40) costs less than the day pass (€6.00).\n"
    'Action: stop "The single ticket is cheaper, at €2.40."',
    "multi_step_task": FORM_ANSWER,
    "extract_table": "Reason: The Fares table has two rows of tickets and prices.\n"
    'Action: stop "Ticket | Price ; Single | €2.40 ; Day pass | €6.00"',
    "recover_from_error": FORM_ANSWER,
}
INSTRUCTION = "Buy me a day pass; my email is ada@example.com and my card is 4111 1111 1111 1111."


# -- the skill file ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def skill() -> Skill:
    return load_skill_file(SKILL_FILE)


@pytest.fixture(scope="module")
def env(skill: Skill) -> jinja2.Environment:
    return strict_environment(skill)


def test_loads_with_the_bundled_skills() -> None:
    assert [t.name for t in load_skills()["web_agent"].instruction_types] == TYPES


def test_top_level_settings(skill: Skill) -> None:
    assert skill.name == "web_agent" and skill.seed_kinds == ["text"]
    assert skill.flow == "web_agent" and flow_class(skill.flow) is WebAgentFlow
    assert skill.checks == CHECK_NAMES and len(resolve_checks(skill.checks)) == 2
    assert skill.repair_rounds == 1
    assert not skill.constraints and not skill.teacher_tools and not skill.instruction_fields
    assert skill.unanswerable_share == 0.0
    for word in ("[id]", "click", "type", "select", "scroll", "stop", "Reason:", "Action:"):
        assert word in skill.system_prompt, word


def test_taxonomy_matches_the_spec_row(skill: Skill) -> None:
    assert [t.name for t in skill.instruction_types] == TYPES
    for t in skill.instruction_types:
        assert t.intent.strip() and "\n" not in t.intent.strip(), t.name
        lines = [line for line in t.guidance.splitlines() if line.strip()]
        assert 3 <= len(lines) <= 5, f"{t.name}: guidance has {len(lines)} lines"
    assert [t.name for t in skill.transformations] == TRANSFORMATIONS
    covered = {it.name for t in skill.transformations for it in skill.types_for(t)}
    assert covered == set(TYPES), "every type is reachable from some page kind"
    by_name = {t.name: t for t in skill.transformations}
    assert "recover_from_error" in by_name["error_state_page"].instruction_types
    assert all("recover_from_error" not in t.instruction_types for t in skill.transformations[:-1])
    for t in skill.transformations:
        assert skill.transformation_prompt(t) == "web_agent/page.j2"
    goals = {g.name: g for g in skill.refinement.goals}
    assert list(goals) == GOALS
    assert goals["add_distracting_elements"].edits_content and not goals["add_steps"].edits_content
    assert not any(g.marks_unanswerable for g in goals.values())


def test_transformation_template_renders_each_page_kind(skill: Skill, env: jinja2.Environment) -> None:
    texts = set()
    for t in skill.transformations:
        text = render(env, skill.transformation_prompt(t), seed=SEED, transformation=t, skill=skill)
        assert SEED in text and t.description in text
        assert "HTML" in text and "Write only the HTML" in text and "not suitable" in text
        assert '[id] role "name"' not in text and "combobox" not in text and "json" not in text.lower()
        for markup in ('<label for="...">', "<select>", 'aria-invalid="true"', 'value="..."', 'role="alert"'):
            assert markup in text, markup
        # the markup example is a different page, its lines short enough not to count as scaffold
        example = [line for line in text.splitlines() if line.startswith("<")]
        assert example and all(len(line) < 30 for line in example)
        assert html_to_tree("\n".join(example)) == (
            '[1] page "Page"\n  [2] heading "Order a cake"\n  [3] form ""\n'
            '    [4] textbox "Name" (required)\n    [5] combobox "Size" value="S"\n'
            '      [6] option "S" (selected)\n      [7] option "L"\n    [8] button "Place order"'
        )
        texts.add(text)
    assert len(texts) == len(TRANSFORMATIONS)


def test_instruction_template_renders_every_type(skill: Skill, env: jinja2.Environment) -> None:
    for t in skill.transformations:
        for it in skill.types_for(t):
            text = render(
                env,
                skill.prompts.instruction,
                content=PAGE,
                transformation=t,
                instruction_type=it,
                skill=skill,
            )
            assert PAGE.strip() in text and it.guidance in text and it.intent in text
            assert "not suitable" in text and "never by element id" in text
            assert "json" not in text.lower()


@pytest.mark.parametrize("round_", [1, 2])
def test_refinement_templates_render(skill: Skill, env: jinja2.Environment, round_: int) -> None:
    it = skill.types_by_name["multi_step_task"]
    suggestions = []
    for goal in skill.refinement.goals:
        common = {
            "content": PAGE,
            "instruction": INSTRUCTION,
            "instruction_type": it,
            "goal": goal,
            "round": round_,
            "constraints": [],
            "details": {},
        }
        suggestion = render(env, skill.prompts.suggester, **common)
        edit = render(env, skill.prompts.editor, suggestion="Add a sponsored ferry link.", **common)
        for text in (suggestion, edit):
            assert PAGE.strip() in text and INSTRUCTION in text and goal.description in text
            assert "not suitable" in text and "json" not in text.lower()
            assert not text.startswith("\n"), "the id computation leaves no blank lines"
        assert ("refinement round 2" in suggestion) == (round_ == 2)
        if goal.edits_content:
            assert "from 31 upward" in suggestion and "from 31 upward" in edit
            assert "every existing line exactly as it is" in edit
        else:
            assert 'give only "-" as the content' in edit
            assert "already on the page" in suggestion
        suggestions.append(suggestion)
    assert len(set(suggestions)) == 2
    # a goal a user adds in their own copy of the skill gets the generic suggestions
    other = skill.refinement.goals[0].model_copy(update={"name": "shorter_task"})
    text = render(env, skill.prompts.suggester, **{**common, "goal": other})
    assert "quoting the words you refer to" in text


def test_teacher_and_user_turn_templates(skill: Skill, env: jinja2.Environment) -> None:
    for it in skill.instruction_types:
        text = render(env, skill.prompts.teacher, skill=skill, instruction_type=it)
        assert it.intent in text
        for key in ('"steps"', '"final"', '"reason"', '"element"', '"text"', '"option"', '"direction"'):
            assert key in text, key
        # the worked example is a valid structured answer on its own (different) page, and its notation passes
        page = "\n".join(line for line in text.splitlines() if re.match(r"\s+\[\d+\] |\[1\] page", line))
        example = text.split("Task: Look for books about tides.\n", 1)[1].split("\n\nRules:", 1)[0]
        assert "Harbour" not in page
        jsonschema.validate(json.loads(example), answer_schema(page, "multi_step_task"))
        candidate = Candidate("web_agent", "multi_step_task", page, "x", notation(example), False)
        assert all(CHECKS[name](candidate).ok for name in CHECK_NAMES)
    turn = render(
        env, skill.prompts.user_turn, content=PAGE, instruction=INSTRUCTION + "\n", instruction_type=it
    )
    assert turn == f"Page:\n{PAGE.strip()}\n\nTask:\n{INSTRUCTION}"


def test_templates_and_hash(skill: Skill) -> None:
    files = skill.template_files()
    assert set(files) == {
        "web_agent/page.j2",
        "web_agent/instruction.j2",
        "web_agent/suggester.j2",
        "web_agent/editor.j2",
        "web_agent/teacher.j2",
        "web_agent/user_turn.j2",
    }
    assert all(skill.template_path(f).is_file() for f in files)
    assert taxonomy_hash([load_skill_file(SKILL_FILE)]) == taxonomy_hash([skill])


def test_cli_lists_the_taxonomy() -> None:
    result = CliRunner().invoke(app, ["skills", "web_agent", "--json"])
    assert result.exit_code == 0, result.output
    [summary] = json.loads(result.output)
    assert [t["name"] for t in summary["instruction_types"]] == TYPES
    assert [t["name"] for t in summary["transformations"]] == TRANSFORMATIONS
    assert [g["name"] for g in summary["refinement_goals"]] == GOALS
    assert summary["checks"] == CHECK_NAMES


# -- the checks on candidates --------------------------------------------------------------------------------
def candidate(answer: str, itype: str = "fill_form", page: str = PAGE) -> Candidate:
    return Candidate("web_agent", itype, page, INSTRUCTION, answer, False)


def run_check(name: str, answer: str, itype: str = "fill_form", page: str = PAGE):
    return CHECKS[name](candidate(answer, itype, page))


def test_page_notation_is_parsed() -> None:
    page = parse_page(PAGE)
    assert list(page.elements) == list(range(1, 31)) and not page.duplicates
    assert page.elements[16].role == "textbox" and page.elements[16].name == "Card number"
    assert page.elements[14].depth > page.elements[12].depth > page.elements[10].depth
    messy = parse_page('```\n[1] page "A"\nsome prose\n  [2] Button "Go"\n  [2] link "Again"\n```')
    assert list(messy.elements) == [1, 2] and messy.elements[2].role == "button" and messy.duplicates == [2]


@pytest.mark.parametrize("itype", TYPES)
def test_good_answers_pass_both_checks(itype: str) -> None:
    for name in CHECK_NAMES:
        result = run_check(name, GOOD_ANSWERS[itype], itype)
        assert result.ok, (name, result.detail)
    assert "ids [4]" in run_check("element_ids_exist", GOOD_ANSWERS["navigate"], "navigate").detail


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            'Reason: Open it.\nAction: click [31]\nReason: Done.\nAction: stop "ok"',
            "[31] in line 2 'click [31]'",
        ),
        (
            'Reason: Field [44] is empty.\nAction: type [11] "a@b.c"\nReason: x.\nAction: stop "ok"',
            "[44] in the reason",
        ),
        ('Reason: x.\nAction: stop "ok"\nAction: click [77]', "[77] in line 3"),
        ("Reason: I looked at the page.", "the answer has no actions"),
        ("", "the answer has no actions"),
        ('Reason: Fill it.\nAction: type [11] "a@b.c"', "the last action is 'type [11] \"a@b.c\"', not stop"),
        ("Reason: Done.\nAction: stop The email is set", 'is not written as stop "answer"'),
        (
            'Reason: x.\nAction: type [18] "hello"\nReason: y.\nAction: stop "ok"',
            '[18] button "Pay", which cannot take text',
        ),
        ('Reason: x.\nAction: type [15] "yes"\nReason: y.\nAction: stop "ok"', "[15] checkbox"),
        ('Reason: x.\nAction: select [4] "Home"\nReason: y.\nAction: stop "ok"', "cannot take a choice"),
        ('Reason: x.\nAction: select [25] "€2.40"\nReason: y.\nAction: stop "ok"', "[25] cell"),
    ],
)
def test_element_ids_exist_rejects(answer: str, expected: str) -> None:
    result = run_check("element_ids_exist", answer)
    assert not result.ok and expected in result.detail, result.detail


def test_element_ids_exist_rejects_broken_pages() -> None:
    answer = 'Reason: x.\nAction: click [2]\nReason: y.\nAction: stop "ok"'
    empty = run_check("element_ids_exist", answer, page="A page about trams, as prose.")
    assert not empty.ok and "the page has no elements" in empty.detail
    twice = run_check("element_ids_exist", answer, page='[1] page "A"\n  [2] link "B"\n  [2] button "C"')
    assert not twice.ok and "uses the ids [2] more than once" in twice.detail


def test_the_role_rule_is_lenient() -> None:
    page = PAGE + (
        '    [31] dropdown "Zone" value="A"\n    [32] textarea "Note"\n    [33] listbox "Seat"\n'
        '    [34] datepicker "Travel date"\n'
    )
    answer = (
        'Reason: a.\nAction: select [31] "B"\nReason: b.\nAction: type [32] "window seat"\n'
        'Reason: c.\nAction: select [33] "12A"\nReason: d.\nAction: select [14] "Day pass"\n'
        'Reason: e.\nAction: type [12] "Day"\nReason: f.\nAction: type [5] "ferry"\n'
        'Reason: g.\nAction: type [34] "14 May"\nReason: h.\nAction: stop "ok"'
    )
    result = run_check("element_ids_exist", answer, page=page)
    assert result.ok, result.detail


def test_a_click_on_text_or_a_heading_fails_and_clickable_roles_pass() -> None:
    # the local model "clicked" a paragraph [10] to "continue to the next section"
    text = run_check(
        "element_ids_exist", 'Reason: Continue.\nAction: click [17]\nReason: x.\nAction: stop "ok"'
    )
    assert not text.ok
    assert 'clicks [17] text "Enter all 16 digits.", which does nothing when clicked' in text.detail
    heading = run_check("element_ids_exist", 'Reason: a.\nAction: click [8]\nReason: b.\nAction: stop "ok"')
    assert not heading.ok and "[8] heading" in heading.detail
    clicks = "".join(f"Reason: r.\nAction: click [{i}]\n" for i in (3, 6, 13, 15, 18, 24))
    assert run_check("element_ids_exist", f'{clicks}Reason: s.\nAction: stop "ok"').ok  # cells stay clickable


@pytest.mark.parametrize(
    ("answer", "itype", "expected"),
    [
        (
            'Here is my plan:\nReason: x.\nAction: click [4]\nReason: y.\nAction: stop "ok"',
            "navigate",
            "line 1 'Here is my plan:'",
        ),
        (
            'Action: click [4]\nReason: y.\nAction: stop "ok"',
            "navigate",
            "line 1 'click [4]' has no 'Reason: ...'",
        ),
        ('Reason: x.\nclick [4]\nReason: y.\nAction: stop "ok"', "navigate", "lacks the 'Action: ' prefix"),
        (
            'Reason: x.\nAction: press Enter\nReason: y.\nAction: stop "ok"',
            "navigate",
            "'press Enter' is not an action",
        ),
        (
            'Reason: x.\nAction: click on the Timetables link\nReason: y.\nAction: stop "ok"',
            "navigate",
            "is not an action",
        ),
        ('Reason: x.\nAction: type [11] ""\nReason: y.\nAction: stop "ok"', "fill_form", "empty quoted text"),
        ('Reason: x.\nAction: click [4]\nReason: y.\nAction: stop ""', "navigate", "empty quoted text"),
        ('Reason: .\nAction: click [4]\nReason: y.\nAction: stop "ok"', "navigate", "fine"),
        ('Reason: x.\nAction: stop "ok"\nReason: more.\nAction: click [4]', "navigate", "goes on after stop"),
        ('Reason: x.\nAction: stop "Done."', "fill_form", "a fill form task needs at least one click"),
        (
            'Reason: x.\nAction: scroll down\nReason: y.\nAction: stop "Done."',
            "recover_from_error",
            "needs at least",
        ),
        ("Just text, no steps.", "find_information", "there is no 'Action: ...' line"),
        (
            'Reason: The link. Action: click [4]\nReason: y.\nAction: stop "ok"',
            "navigate",
            "line 1 puts its action on the reason's line",
        ),
    ],
)
def test_actions_well_formed_rejects(answer: str, itype: str, expected: str) -> None:
    result = run_check("actions_well_formed", answer, itype)
    if expected == "fine":  # a reason of one character is short, not missing
        assert result.ok, result.detail
        return
    assert not result.ok and expected in result.detail, result.detail


def test_actions_well_formed_accepts_variants() -> None:
    answer = (
        '1. Reason: The search box holds the query.\n2. Action: TYPE [5] "ferry times"\n\n'
        "- Reason: More results are below.\n- Action: scroll down\n"
        'Reason: Found it.\nAction: stop "The ferry leaves at 10:15 and says "on time"."'
    )
    assert run_check("actions_well_formed", answer, "multi_step_task").ok
    parsed = parse_answer(answer)
    assert [a.verb for a in parsed.actions] == ["type", "scroll", "stop"]
    assert parsed.actions[0].target == 5 and parsed.actions[-1].value.endswith('"on time".')
    assert run_check("element_ids_exist", answer, "multi_step_task").ok


def test_answer_filters_pass_the_action_format() -> None:
    """The quality gate's heuristic filters (truncation, repetition...) accept a long, regular answer."""
    steps = "".join(
        f'Reason: Field {name} needs the value the user gave.\nAction: type [{i}] "{name.lower()} value"\n'
        for i, name in [(11, "Email"), (16, "Card"), (5, "Search")]
    )
    answer = (
        steps + 'Reason: All set.\nAction: click [18]\nReason: Paid.\nAction: stop "Paid for the ticket."'
    )
    messages = [
        {"role": "user", "content": f"Page:\n{PAGE}\nTask:\n{INSTRUCTION}"},
        {"role": "assistant", "content": answer},
    ]
    assert failure_of(Answer.from_messages("web_agent", messages), FilterSettings()) is None


# -- the flow ------------------------------------------------------------------------------------------------
def page_of(prompt: str) -> str:
    """The page block of an agent prompt (between the first pair of triple quotes)."""
    return prompt.split('"""\n', 1)[1].split('\n"""', 1)[0]


def web_reply(teacher_answers: list[str] | None = None, written: str = PAGE_HTML):
    """Scripted web_agent agents; the teacher answers by task type, or with `teacher_answers` in turn.

    The transformer writes `written` (HTML, or the tree notation) with its transformation's name in the title.
    """
    answers = iter(teacher_answers or [])
    last: list[str] = []

    def reply(request: ModelRequest) -> object:
        _, stage, *rest = request.tag.split("/")
        user = request.messages[-1]["content"]
        if stage == "transform":
            return {
                "suitable": True,
                "reason": "",
                "content": written.replace("Tram Tickets", f"Tram Tickets ({rest[-1]})", 1),
            }
        if stage == "instruct":
            return {"suitable": True, "reason": "", "instruction": f"({rest[-1]}) {INSTRUCTION}"}
        if stage == "refine" and rest[0] == "suggester":
            return {"suitable": True, "reason": "", "suggestion": f"apply {rest[-1]} with a ferry link"}
        if stage == "refine" and rest[0] == "editor":
            page, goal = page_of(user), rest[-1]
            top = max(parse_page(page).elements)
            if goal == "add_distracting_elements":
                page += (
                    f'\n    [{top + 1}] link "Sponsored: ferry tickets"\n    [{top + 2}] button "Pay later"'
                )
            else:
                page = "-"
            instruction = user.split('Task:\n"""\n', 1)[1].split('\n"""', 1)[0]
            return {"suitable": True, "reason": "", "content": page, "instruction": f"{instruction} +{goal}"}
        if stage == "teacher":
            if teacher_answers is None:
                return GOOD_ANSWERS[rest[0]]
            last[:] = [next(answers, last[0] if last else "")]
            return last[0]
        raise AssertionError(f"unexpected tag {request.tag}")

    return reply


def run_seeds(skill: Skill, model: ScriptedModel, count: int, **settings: object) -> ListSink:
    sink = ListSink()
    flow = flow_class(skill.flow)(skill, model, sink, FlowSettings(**settings))

    async def go() -> None:
        for ordinal in range(count):
            await flow.run_seed(make_seed(ordinal, SEED), ordinal)

    asyncio.run(go())
    return sink


def test_the_flow_produces_verified_pairs_for_every_type_and_goal(skill: Skill) -> None:
    model = ScriptedModel(web_reply())
    sink = run_seeds(skill, model, 4 * len(TRANSFORMATIONS))
    assert not sink.rejections, [(r.reason, r.detail) for r in sink.rejections]
    assert {p.instruction_type for p in sink.pairs} == set(TYPES)
    assert {p.lineage.transformation.agent for p in sink.pairs} == set(TRANSFORMATIONS)
    assert {s.goal for p in sink.pairs for s in p.lineage.refinement} == set(GOALS)
    for pair in sink.pairs:
        Pair.model_validate(pair.model_dump(mode="json"))
        system, user, assistant = pair.messages
        assert system == {"role": "system", "content": skill.system_prompt}
        assert user["content"].startswith('Page:\n[1] page "Harbour Tram Tickets (')
        assert "\n\nTask:\n(" in user["content"]
        assert assistant["content"] == GOOD_ANSWERS[pair.instruction_type]
        assert pair.verification.status == "passed"
        assert [c.name for c in pair.verification.checks] == CHECK_NAMES
        agent = pair.lineage.transformation.agent
        # the model wrote HTML; the lineage and every agent after the transformation have the tree
        assert pair.lineage.transformation.content == PAGE.replace("Tickets", f"Tickets ({agent})").strip()
        assert "<" not in user["content"]
        allowed = next(t for t in skill.transformations if t.name == agent).instruction_types
        assert pair.instruction_type in allowed
        assert failure_of(Answer.of(pair), FilterSettings()) is None
        distracted = [s for s in pair.lineage.refinement if s.goal == "add_distracting_elements"]
        assert all(s.content_edited for s in distracted)
        assert ("Sponsored: ferry tickets" in user["content"]) == bool(distracted)
        if len(distracted) == 2:  # the second round numbered its elements after the first round's
            ids = list(parse_page(user["content"]).elements)
            assert ids[-4:] == [31, 32, 33, 34] and not parse_page(user["content"]).duplicates
        assert "-" not in user["content"].splitlines()  # add_steps never replaced the page
    # the teacher saw the same page and task as the pair's user turn
    teacher = [r for r in model.requests if "/teacher/" in r.tag]
    assert {r.messages[-1]["content"] for r in teacher} == {p.messages[1]["content"] for p in sink.pairs}


def test_a_wrong_id_is_repaired_once_and_the_repair_recorded(skill: Skill) -> None:
    wrong = 'Reason: The pay button.\nAction: click [99]\nReason: Done.\nAction: stop "Paid."'
    model = ScriptedModel(web_reply([wrong, FORM_ANSWER]))
    sink = run_seeds(skill, model, 1, refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    assert pair.messages[-1]["content"] == FORM_ANSWER
    checks = {c.name: c for c in pair.verification.checks}
    assert pair.verification.status == "passed" and checks["element_ids_exist"].ok
    assert "passed after 1 repair round" in checks["repaired"].detail
    assert "[99] in line 2 'click [99]'" in checks["repaired"].detail
    [repair] = [r for r in model.requests if r.tag.endswith("/repair")]
    assert repair.messages[-2] == {"role": "assistant", "content": wrong}
    assert "not on the page: [99]" in repair.messages[-1]["content"]


def test_an_answer_with_a_wrong_id_that_stays_wrong_is_rejected(skill: Skill) -> None:
    wrong = 'Reason: The pay button.\nAction: click [99]\nReason: Done.\nAction: stop "Paid."'
    model = ScriptedModel(web_reply([wrong]))
    sink = run_seeds(skill, model, 1, refinement_rounds=0, instructions_per_seed=1)
    assert not sink.pairs
    [rejection] = sink.rejections
    assert rejection.reason == "verification_failed:element_ids_exist"
    assert "element ids that are not on the page: [99]" in rejection.detail
    assert rejection.messages[-1]["content"] == wrong
    assert sum(r.tag.endswith("/repair") for r in model.requests) == 1


NO_STOP = "Reason: The Timetables link leads to the timetables.\nAction: click [4]"
LAST_STEP = 'Reason: The timetables page is opening.\nAction: stop "Opened the timetables."'


def last_step_reply(reply_to_last_step: str):
    """Scripted agents whose teacher ends with a click, then answers the last-step request as given."""
    base = web_reply([NO_STOP])

    def reply(request: ModelRequest) -> object:
        return reply_to_last_step if request.tag.endswith("/last_step") else base(request)

    return reply


def test_an_answer_that_ends_without_stop_gets_its_last_step_from_the_teacher(skill: Skill) -> None:
    # the local model ended a navigate answer with the click, and a repair naming the stop changed nothing
    model = ScriptedModel(last_step_reply(LAST_STEP))
    sink = run_seeds(skill, model, 1, refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    assert pair.messages[-1]["content"] == f"{NO_STOP}\n{LAST_STEP}"
    assert pair.verification.status == "passed" and "repaired" not in {
        c.name for c in pair.verification.checks
    }
    [ask] = [r for r in model.requests if r.tag.endswith("/last_step")]
    assert ask.messages[-2] == {"role": "assistant", "content": NO_STOP}
    assert "stops after 'click [4]'" in ask.messages[-1]["content"]
    assert not [r for r in model.requests if r.tag.endswith("/repair")]
    assert len(pair.lineage.call_ids) == len(model.requests) == 4  # the last step's call is recorded too


def test_a_whole_new_answer_replaces_and_a_reply_without_stop_changes_nothing(skill: Skill) -> None:
    whole = f"{NO_STOP}\n{LAST_STEP}"
    sink = run_seeds(
        skill,
        ScriptedModel(last_step_reply(whole)),
        1,
        refinement_rounds=0,
        instructions_per_seed=1,
    )
    [pair] = sink.pairs
    assert pair.messages[-1]["content"] == whole  # not the steps twice
    model = ScriptedModel(last_step_reply("Reason: Done.\nAction: click [4]"))
    sink = run_seeds(skill, model, 1, refinement_rounds=0, instructions_per_seed=1)
    [rejection] = sink.rejections  # the repair (after a second last-step request) also ends with a click
    assert "not stop" in rejection.detail and rejection.messages[-1]["content"] == NO_STOP
    assert sum(r.tag.endswith("/last_step") for r in model.requests) == 2


def test_a_malformed_sequence_is_rejected_by_both_checks(skill: Skill) -> None:
    prose = "First I would type the email, then I would click Pay [18]."
    sink = run_seeds(
        skill, ScriptedModel(web_reply([prose])), 1, refinement_rounds=0, instructions_per_seed=1
    )
    [rejection] = sink.rejections
    assert rejection.reason == "verification_failed:element_ids_exist,actions_well_formed"
    assert "the answer has no actions" in rejection.detail and "neither 'Reason: ...'" in rejection.detail


def test_a_run_covers_the_taxonomy_about_evenly(skill: Skill) -> None:
    model = ScriptedModel(web_reply())
    run_seeds(skill, model, 4 * len(TRANSFORMATIONS), refinement_rounds=0)
    instructed = Counter(r.tag.split("/")[-1] for r in model.requests if "/instruct/" in r.tag)
    transformed = Counter(r.tag.split("/")[-1] for r in model.requests if "/transform/" in r.tag)
    assert transformed == dict.fromkeys(TRANSFORMATIONS, 4)
    # 2 types per seed over 24 seeds: 8 each for the common types, 6 or 4 for those fewer pages carry
    assert instructed == {
        "find_information": 8,
        "navigate": 8,
        "fill_form": 8,
        "multi_step_task": 8,
        "compare_items": 6,
        "extract_table": 6,
        "recover_from_error": 4,
    }


def test_a_page_written_in_the_tree_notation_is_kept_as_it_is(skill: Skill) -> None:
    model = ScriptedModel(web_reply(written=PAGE))
    sink = run_seeds(skill, model, 1, refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    agent = pair.lineage.transformation.agent
    assert pair.lineage.transformation.content == PAGE.replace("Tickets", f"Tickets ({agent})")
    assert pair.verification.status == "passed"


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (
            "<html><body><h1>Harbour tram</h1><p>It runs every ten minutes.</p>"
            '<a href="/fares">Fares</a></body></html>',
            "the HTML page has only 4 elements (it starts '<html><body><h1>Harbour tram</h1>",
        ),
        (
            "The harbour tram runs every ten minutes; a single ticket costs €2.40.",
            'the page is not HTML and has only 0 lines in the [id] role "name" notation',
        ),
        ("```html\n<script>let page = 1;</script>\n```", "the HTML page has only 0 elements"),
    ],
)
def test_a_page_too_small_to_act_on_is_asked_again_then_rejects_the_seed(
    skill: Skill, page: str, expected: str
) -> None:
    model = ScriptedModel(web_reply(written=page))
    sink = run_seeds(skill, model, 1)
    assert not sink.pairs
    # form_page and settings_page stand in for each other: a seed given one of them tries both
    assert len(sink.rejections) in (1, 2)
    for rejection in sink.rejections:
        assert rejection.stage == "transformation" and rejection.reason == "agent_failed:transformation"
        assert expected in rejection.detail, rejection.detail
        assert f"at least {MIN_ELEMENTS} are needed to act on: write the whole page" in rejection.detail
    transforms = [r for r in model.requests if "/transform/" in r.tag]
    # each asked again, then afresh; no task was written on it
    assert len(transforms) == len(model.requests) == 3 * len(sink.rejections)
    assert expected in transforms[1].messages[-1]["content"]


# -- the structured answer (flows.web_answers) ---------------------------------------------------------------
def structured(steps: list[tuple], answer: str, reason: str = "Done.") -> str:
    """A structured answer on PAGE: steps as (verb, id, value) with the element offered as the schema offers
    it, then the final stop."""
    elements = parse_page(PAGE).elements
    written = []
    for verb, ref, *value in steps:
        step = {"reason": f"Step {len(written) + 1}.", "action": verb}
        if verb == "scroll":
            step["direction"] = ref
        else:
            step["element"] = element_choice(elements[ref])
        if value:
            step["text" if verb == "type" else "option"] = value[0]
        written.append(step)
    return json.dumps({"steps": written, "final": {"reason": reason, "answer": answer}})


def test_the_schema_offers_each_action_only_the_elements_that_take_it() -> None:
    schema = answer_schema(PAGE, "fill_form")
    branches = {
        b["properties"]["action"]["const"]: b for b in schema["properties"]["steps"]["items"]["anyOf"]
    }
    assert set(branches) == {"click", "type", "select", "scroll"}
    ids = {verb: [int(e[1:].split("]")[0]) for e in b["properties"].get("element", {}).get("enum", [])]
           for verb, b in branches.items()}  # fmt: skip
    assert ids["type"] == [5, 11, 12, 16]  # searchbox, textboxes and the combobox
    assert ids["select"] == [12, 13, 14]  # the combobox and its options
    # links, the searchbox, buttons, textboxes, the combobox and its options, the checkbox; no heading,
    # alert, text, table, row or cell
    assert ids["click"] == [3, 4, 5, 6, 11, 12, 13, 14, 15, 16, 18, 30]
    assert schema["properties"]["steps"]["minItems"] == 1  # a fill_form task acts before it stops
    assert answer_schema(PAGE, "find_information")["properties"]["steps"]["minItems"] == 0
    assert answer_schema("no elements here", "navigate") is None


def test_the_schema_rejects_what_the_local_teacher_wrote_and_takes_a_good_answer() -> None:
    schema = answer_schema(PAGE, "fill_form")
    good = structured([("type", 11, "ada@example.com"), ("select", 12, "Day pass"), ("click", 18)], "Paid.")
    jsonschema.validate(json.loads(good), schema)
    heading = json.loads(structured([("click", 8)], "Paid."))  # a click on a heading (run s11c)
    missing = json.loads(good)
    missing["steps"][2]["element"] = '[99] button "Place order"'  # an id not on the page (run s11c)
    typed_into_button = json.loads(structured([("type", 18, "4111")], "Paid."))
    two_lines = json.loads(good)
    two_lines["final"]["answer"] = "Paid.\nAction: stop"
    bracket_reason = json.loads(good)
    bracket_reason["steps"][0]["reason"] = "The field [11] is empty."
    no_final = {"steps": json.loads(good)["steps"]}
    for bad in (heading, missing, typed_into_button, two_lines, bracket_reason, no_final):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_a_structured_answer_is_written_in_the_notation() -> None:
    reply = structured(
        [("type", 11, "ada@example.com"), ("select", 12, "Day pass"), ("scroll", "down"), ("click", 18)],
        "Bought a day pass.",
        reason="The order was sent.",
    )
    assert notation(reply) == (
        'Reason: Step 1.\nAction: type [11] "ada@example.com"\n'
        'Reason: Step 2.\nAction: select [12] "Day pass"\n'
        "Reason: Step 3.\nAction: scroll down\nReason: Step 4.\nAction: click [18]\n"
        'Reason: The order was sent.\nAction: stop "Bought a day pass."'
    )
    assert notation(structured([], "€6.00")) == 'Reason: Done.\nAction: stop "€6.00"'
    for not_structured in (
        FORM_ANSWER,
        "[]",
        '{"steps": []}',
        '{"steps": [{"action": "jump"}], "final": {}}',
    ):
        assert notation(not_structured) is None


def test_the_teacher_is_held_to_the_page_schema_and_the_pair_holds_the_notation(skill: Skill) -> None:
    reply = structured([("type", 11, "ada@example.com"), ("click", 18)], "Paid for the ticket.")
    model = ScriptedModel(web_reply([reply]))
    sink = run_seeds(skill, model, 1, refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    assert pair.messages[-1]["content"] == notation(reply)
    assert pair.verification.status == "passed"
    [teacher] = [r for r in model.requests if "/teacher/" in r.tag]
    page = pair.messages[1]["content"].split("Page:\n", 1)[1].split("\n\nTask:", 1)[0]
    assert teacher.json_schema == {"name": "answer", "schema": answer_schema(page, pair.instruction_type)}


def test_a_repair_of_a_structured_answer_shows_the_teacher_its_notation(skill: Skill) -> None:
    # a schema-valid answer can still break a check (a blank stop answer is not well formed); the repair
    # continues a conversation that shows the answer as the pair would hold it, and is held to the schema
    empty = json.dumps({"steps": [], "final": {"reason": "Read it.", "answer": " "}})
    good = structured([], "€6.00")
    model = ScriptedModel(web_reply([empty, good]))
    sink = run_seeds(skill, model, 1, refinement_rounds=0, instructions_per_seed=1)
    [pair] = sink.pairs
    assert pair.messages[-1]["content"] == notation(good)
    [repair] = [r for r in model.requests if r.tag.endswith("/repair")]
    assert repair.messages[-2] == {"role": "assistant", "content": notation(empty)}
    assert repair.json_schema is not None


def test_an_extract_table_answer_ends_with_a_table() -> None:
    # the local teacher's stop said "The table shows the information about the Lighthouse..." (run s13)
    check = CHECKS["actions_well_formed"]
    reason = "Reason: The Fares table has two rows of tickets and prices.\n"
    table = reason + 'Action: stop "Ticket | Price ; Single | €2.40 ; Day pass | €6.00"'
    assert check(candidate(table, "extract_table")).ok
    for stop in (
        "The table shows the fares of the page.",  # a sentence about a table
        "Ticket | Price",  # a header without rows
        "Ticket, Price ; Single, €2.40",  # another notation
    ):
        result = check(candidate(f'{reason}Action: stop "{stop}"', "extract_table"))
        assert not result.ok and "ends with the table in its stop" in result.detail
    ragged = check(
        candidate(f'{reason}Action: stop "Ticket | Price ; Single | €2.40 | daily"', "extract_table")
    )
    assert not ragged.ok and "rows have 2, 3 cells" in ragged.detail
    # other types may stop with a sentence
    assert check(candidate(f'{reason}Action: stop "The single ticket is cheaper."', "compare_items")).ok
    # a table the page does not hold: the notation's own example, given for a page on sleep (run s14)
    invented = check(candidate(f'{reason}Action: stop "Name | Price ; Tent | $120"', "extract_table"))
    assert not invented.ok and "cells 'Tent'; '$120' are not on the page" in invented.detail
    # the header is the teacher's; data cells are the page's, case and spacing aside
    renamed = check(candidate(f'{reason}Action: stop "Kind | Cost ; single | €2.40"', "extract_table"))
    assert renamed.ok, renamed.detail


def test_a_form_page_without_form_fields_is_asked_again(skill: Skill) -> None:
    """s30: a form page with no field at all; its fill_form task was answered by clicking a link thrice."""
    article = (
        "<html><head><title>Supporters</title></head><body><header><h1>Supporters' case</h1><nav>"
        '<a href="/">Home</a> <a href="/about">About</a> <a href="/contact">Contact</a></nav></header>'
        "<main><p>Councillor Mwangi pointed to the waiting list.</p><p>140 households wait.</p>"
        "<button>Share</button></main></body></html>"
    )
    pages = iter([article, PAGE_HTML])
    form_only = skill.model_copy(
        update={"transformations": [t for t in skill.transformations if t.name == "form_page"]}
    )
    base = web_reply()

    def reply(request: ModelRequest) -> object:
        if "/transform/" in request.tag:
            return {"suitable": True, "reason": "", "content": next(pages, PAGE_HTML)}
        return base(request)

    model = ScriptedModel(reply)
    sink = run_seeds(form_only, model, 1, instructions_per_seed=1, refinement_rounds=0)
    transforms = [r for r in model.requests if "/transform/" in r.tag]
    assert len(transforms) == 2
    assert "the page has 0 form field(s), and at least 3 are needed" in transforms[1].messages[-1]["content"]
    assert sink.pairs and not sink.rejections


@pytest.mark.parametrize(
    ("answer", "itype", "expected"),
    [
        (
            'Reason: x.\nAction: click [4]\nReason: y.\nAction: click [6]\nReason: z.\nAction: stop "Sent."',
            "fill_form",
            "a fill form task types or selects the values it is given",
        ),
        (
            'Reason: x.\nAction: click [4]\nReason: y.\nAction: click [4]\nReason: z.\nAction: stop "ok"',
            "navigate",
            "line 4 'click [4]' repeats the action right before it",
        ),
    ],
)
def test_clicks_alone_fill_no_form_and_a_repeated_action_is_no_step(answer: str, itype: str, expected: str):
    result = run_check("actions_well_formed", answer, itype)
    assert not result.ok and expected in result.detail, result.detail


def test_a_fill_form_answer_types_only_values_the_task_gives() -> None:
    """s31: the task named the fields but gave no values; the teacher typed a date and a price of its own."""
    invented = (
        'Reason: The email is needed.\nAction: type [11] "bob@example.com"\n'
        'Reason: Send it.\nAction: click [19]\nReason: Sent.\nAction: stop "Sent."'
    )
    result = run_check("actions_well_formed", invented, "fill_form")
    assert not result.ok and "it types 'bob@example.com', which the task does not give" in result.detail
    given = invented.replace("bob@example.com", "ADA@example.com")
    assert run_check("actions_well_formed", given, "fill_form").ok
