"""Checks for the web_agent skill: a page as an accessibility tree, an answer as a reasoned action sequence.

Page notation (the pair's content), one element per line, children indented under their parent:

    [1] page "Trailhead Outfitters"
      [12] button "Add to cart"
      [13] textbox "Email" value="ada@example.com" (required, invalid)

`[id] role "name"`: the id a whole number used once on the page, the role one word, the name in double
quotes (optional), then an optional value="..." and states in brackets. Lines that do not start with
`[id] role` are ignored.

Answer notation (the teacher's answer), one step = one reason line, then one action line:

    Reason: The email field is required and still empty.
    Action: type [13] "ada@example.com"
    Reason: The order is ready to send.
    Action: click [20]
    Reason: The order was placed.
    Action: stop "Placed the order."

Actions: `click [id]`, `type [id] "text"`, `select [id] "option"`, `scroll down`, `scroll up`,
`stop "answer"`; verbs are case-insensitive and a line may carry a list marker ("1.", "-").

Two checks:
- `element_ids_exist`: the page has elements with unique ids; the answer has actions and ends with stop;
  every id an action or a reason refers to is on the page; `type` and `select` target an element whose
  role can take text or a choice. That role rule is lenient: `type` fails only on a role that is known
  and cannot take text (a button, link, heading, text, checkbox...), `select` only on a known role that
  cannot take a choice; roles outside `KNOWN_ROLES` (a model's "dropdown" or "textarea"...) pass.
  Roles that take text: `TYPE_ROLES`; roles that take a choice: `SELECT_ROLES`. `click` fails on a role
  that only holds content (`UNCLICKABLE_ROLES`: text, heading, paragraph, main...).
- `actions_well_formed`: every line is a reason or an action in the grammar above, each action has a
  reason line right before it, type/select/stop carry a non-empty quoted text, stop comes once and
  nothing follows it, and tasks that ask for something to be done (`ACTING_TYPES`) have at least one
  click, type or select before the stop, a fill_form task at least one type or select and only values
  the task or the page gives (separators aside), and no click, type or select repeats the action right
  before it (a click on the same link three times fills nothing).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from agentinstruct.pairs import Check
from agentinstruct.quality.checks import Candidate, check
from agentinstruct.quality.text import squashed

#: roles that can take typed text
TYPE_ROLES = frozenset({"textbox", "searchbox", "combobox", "spinbutton", "textarea", "input", "textfield"})
#: roles that can take a choice by option text
SELECT_ROLES = frozenset(
    {"combobox", "listbox", "option", "radiogroup", "radio", "menu", "menuitemradio", "select", "dropdown"}
)
#: roles the rule knows; a type/select on a known role outside the allowed set fails, unknown roles pass
KNOWN_ROLES = TYPE_ROLES | SELECT_ROLES | frozenset(
    {
        "page", "rootwebarea", "webarea", "document", "banner", "navigation", "main", "contentinfo",
        "complementary", "region", "section", "article", "form", "group", "heading", "text", "statictext",
        "paragraph", "link", "button", "img", "image", "figure", "list", "listitem", "table", "row",
        "rowgroup", "columnheader", "rowheader", "cell", "gridcell", "grid", "checkbox", "switch", "tab",
        "tablist", "tabpanel", "menuitem", "menuitemcheckbox", "menubar", "toolbar", "alert", "status",
        "dialog", "alertdialog", "tooltip", "separator", "progressbar", "slider", "label", "generic",
        "none", "presentation", "caption", "time",
    }
)  # fmt: skip
#: roles that only hold or group content: a click on one does nothing (a small model "clicked" a paragraph
#: to "continue"); a label stays clickable, as it toggles its field
UNCLICKABLE_ROLES = frozenset(
    {
        "page", "rootwebarea", "webarea", "document", "banner", "navigation", "main", "contentinfo",
        "complementary", "region", "section", "article", "heading", "text", "statictext", "paragraph",
        "list", "table", "rowgroup", "separator", "caption", "time", "generic", "none", "presentation",
        "alert", "status", "progressbar", "tooltip",
    }
)  # fmt: skip
#: instruction types whose task asks for something to be done on the page, not only read from it
ACTING_TYPES = frozenset({"fill_form", "navigate", "multi_step_task", "recover_from_error"})
#: instruction types whose task gives values to enter: at least one type or select (s30's fill_form answer
#: clicked a "Contact" link three times)
FILLING_TYPES = frozenset({"fill_form"})
#: the stop answer of an extract_table task: a header and rows of 2+ cells, cells split by " | " and rows by
#: " ; " (the notation the teacher prompt asks for). Not put in the answer grammar: llama.cpp's grammar lets
#: a string run on without ever writing the separator, until the token limit (probed on the local engine)
TABLE_ANSWER = r"^[^|;\n]+( \| [^|;\n]+)+( ; [^|;\n]+( \| [^|;\n]+)+)+$"

ELEMENT = re.compile(r'^(?P<indent>\s*)\[(?P<id>\d+)\]\s+(?P<role>[A-Za-z][\w-]*)(?:\s+"(?P<name>[^"]*)")?')
STEP = re.compile(
    r"^\s*(?:\d+[.)]\s*|[-*]\s+)?(?P<kind>reason|action)\s*:\s*(?P<body>.*?)\s*$", re.IGNORECASE
)
ACTION = re.compile(
    r"^(?:(?P<verb>click)\s*\[(?P<click>\d+)\]\.?"
    r'|(?P<fill>type|select)\s*\[(?P<target>\d+)\]\s*"(?P<value>.*)"'
    r"|scroll\s+(?P<direction>up|down)\.?"
    r'|(?P<stop>stop)\s*"(?P<answer>.*)")$',
    re.IGNORECASE,
)
BARE_ACTION = re.compile(r"^\s*(?:click|type|select|scroll|stop)\b", re.IGNORECASE)
ID_REF = re.compile(r"\[(\d+)\]")
INLINE_ACTION = re.compile(r"\baction\s*:", re.IGNORECASE)


@dataclass
class Element:
    id: int
    role: str
    name: str
    depth: int
    line: int


@dataclass
class Page:
    elements: dict[int, Element] = field(default_factory=dict)
    duplicates: list[int] = field(default_factory=list)


def parse_page(text: str) -> Page:
    """The page's elements by id (the first of a repeated id) and the ids that occur more than once."""
    page = Page()
    for number, line in enumerate(text.splitlines(), 1):
        found = ELEMENT.match(line)
        if not found:
            continue
        element = Element(
            id=int(found["id"]),
            role=found["role"].lower(),
            name=found["name"] or "",
            depth=len(found["indent"].expandtabs(2)),
            line=number,
        )
        if element.id in page.elements:
            if element.id not in page.duplicates:
                page.duplicates.append(element.id)
            continue
        page.elements[element.id] = element
    return page


@dataclass
class Action:
    line: int
    text: str
    #: click, type, select, scroll, stop; "" when the line does not follow the action grammar
    verb: str
    target: int | None = None
    value: str | None = None
    #: ids in brackets before any quoted text (also for malformed lines, so unknown ids are still caught)
    ids: list[int] = field(default_factory=list)
    prefixed: bool = True
    reason: str | None = None


@dataclass
class Answer:
    #: the action sequence, up to and including the first stop
    actions: list[Action] = field(default_factory=list)
    #: action lines after the first stop
    late: list[Action] = field(default_factory=list)
    #: (line, text of the reason) for every reason line
    reasons: list[tuple[int, str]] = field(default_factory=list)
    #: (line, text) of lines before the stop that are neither a reason nor an action
    other: list[tuple[int, str]] = field(default_factory=list)
    #: (line, text) of every non-blank line after the first stop
    after_stop: list[tuple[int, str]] = field(default_factory=list)


def parse_action(body: str, line: int, prefixed: bool = True) -> Action:
    """One action line's body (after "Action:"), in the grammar or marked malformed with verb ""."""
    found = ACTION.match(body.strip())
    ids = [int(i) for i in ID_REF.findall(body.split('"', 1)[0])]
    common = {"line": line, "text": body.strip(), "ids": ids, "prefixed": prefixed}
    if not found:
        return Action(verb="", **common)
    if found["verb"]:
        return Action(verb="click", target=int(found["click"]), **common)
    if found["fill"]:
        return Action(verb=found["fill"].lower(), target=int(found["target"]), value=found["value"], **common)
    if found["direction"]:
        return Action(verb="scroll", value=found["direction"].lower(), **common)
    return Action(verb="stop", value=found["answer"], **common)


def parse_answer(text: str) -> Answer:
    """Reason and action lines of an answer; other lines, and whatever follows the stop, kept apart."""
    answer = Answer()
    pending: str | None = None  # the reason line right before the current line, if any
    stopped = False
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if stopped:
            answer.after_stop.append((number, line.strip()))
        step = STEP.match(line)
        if step and step["kind"].lower() == "reason":
            answer.reasons.append((number, step["body"]))
            pending = step["body"]
            continue
        if step:
            action = parse_action(step["body"], number)
        elif BARE_ACTION.match(line):
            action = parse_action(line.strip().lstrip("-* "), number, prefixed=False)
        else:
            if not stopped:
                answer.other.append((number, line.strip()))
            pending = None
            continue
        action.reason, pending = pending, None
        (answer.late if stopped else answer.actions).append(action)
        stopped = stopped or action.verb == "stop"
    return answer


def clip_name(name: str, limit: int = 40) -> str:
    """An element's name cut to `limit` characters, ending in '...' when cut."""
    return name if len(name) <= limit else name[: limit - 3] + "..."


def _quote(text: str, limit: int = 60) -> str:
    text = text.strip()
    return f"'{text if len(text) <= limit else text[: limit - 3] + '...'}'"


def _listing(items: list[str], limit: int = 5) -> str:
    shown = "; ".join(items[:limit])
    return shown + (f"; and {len(items) - limit} more" if len(items) > limit else "")


@check("element_ids_exist")
def element_ids_exist(candidate: Candidate) -> Check:
    """Every element id the answer refers to is on the page, and type/select target fields that take them."""
    name = "element_ids_exist"
    page = parse_page(candidate.content)
    if not page.elements:
        return Check(
            name=name,
            ok=False,
            detail='the page has no elements written as [id] role "name", so no action can refer to one',
        )
    answer = parse_answer(candidate.answer)
    problems: list[str] = []
    if page.duplicates:
        problems.append(
            f"the page uses the ids {sorted(page.duplicates)} more than once, "
            "so actions on them are ambiguous"
        )
    if not answer.actions:
        problems.append(
            "the answer has no actions: write one 'Action: ...' line per step "
            '(click [id], type [id] "text", select [id] "option", scroll down) '
            "and end with 'Action: stop \"...\"'"
        )
    else:
        last = answer.actions[-1]
        if last.verb != "stop" and last.text.lower().startswith("stop"):
            problems.append(
                f'the last action {_quote(last.text)} is not written as stop "answer", with the answer in '
                "double quotes"
            )
        elif last.verb != "stop":
            problems.append(
                f"the last action is {_quote(last.text)}, not stop: end with 'Action: stop \"...\"'"
            )
    missing: list[str] = []
    for action in [*answer.actions, *answer.late]:
        for ref in action.ids:
            if ref not in page.elements:
                missing.append(f"[{ref}] in line {action.line} {_quote(action.text)}")
    for line, reason in answer.reasons:
        for ref in (int(i) for i in ID_REF.findall(reason)):
            if ref not in page.elements:
                missing.append(f"[{ref}] in the reason on line {line}")
    if missing:
        problems.append(f"the answer refers to element ids that are not on the page: {_listing(missing)}")
    for action in answer.actions:
        if action.target not in page.elements:
            continue
        element = page.elements[action.target]
        if action.verb == "click" and element.role in UNCLICKABLE_ROLES:
            problems.append(
                f"line {action.line} {_quote(action.text)} clicks [{element.id}] {element.role} "
                f'"{clip_name(element.name)}", which does nothing when clicked: click a link, button, '
                "checkbox, radio button, switch, tab or option, or read the text and report it in stop"
            )
            continue
        if action.verb not in ("type", "select"):
            continue
        allowed = TYPE_ROLES if action.verb == "type" else SELECT_ROLES
        if element.role in KNOWN_ROLES and element.role not in allowed:
            kinds = (
                "textbox, searchbox or combobox" if action.verb == "type" else "combobox, listbox or option"
            )
            problems.append(
                f"line {action.line} {_quote(action.text)} targets [{element.id}] {element.role} "
                f'"{element.name}", which cannot take {"text" if action.verb == "type" else "a choice"}: '
                f"{action.verb} only into a {kinds}, and click buttons, links, checkboxes and switches"
            )
    if problems:
        return Check(name=name, ok=False, detail="; ".join(problems))
    used = sorted({ref for action in answer.actions for ref in action.ids})
    return Check(
        name=name,
        ok=True,
        detail=f"{len(answer.actions)} actions ending with stop; ids {used} are all on the page "
        f"({len(page.elements)} elements)",
    )


@check("actions_well_formed")
def actions_well_formed(candidate: Candidate) -> Check:
    """The answer is reason/action steps in the action grammar, with one final stop."""
    name = "actions_well_formed"
    answer = parse_answer(candidate.answer)
    problems: list[str] = []
    if not answer.actions:
        problems.append("there is no 'Action: ...' line")
    if answer.other:
        lines = [f"line {line} {_quote(text)}" for line, text in answer.other]
        problems.append(
            f"lines that are neither 'Reason: ...' nor 'Action: ...': {_listing(lines, 3)}; "
            "write nothing else"
        )
    for line, text in answer.reasons:
        if not text.strip():
            problems.append(f"the reason on line {line} is empty: give one short sentence")
        elif INLINE_ACTION.search(text):
            problems.append(f"line {line} puts its action on the reason's line: give the action its own line")
    for action in answer.actions:
        if not action.verb:
            problems.append(
                f"line {action.line} {_quote(action.text)} is not an action: use click [id], "
                'type [id] "text", select [id] "option", scroll down, scroll up or stop "answer"'
            )
            continue
        if not action.prefixed:
            problems.append(f"line {action.line} {_quote(action.text)} lacks the 'Action: ' prefix")
        if action.verb in ("type", "select", "stop") and not (action.value or "").strip():
            problems.append(f"line {action.line} {_quote(action.text)} has an empty quoted text")
        if action.reason is None:
            problems.append(
                f"the action on line {action.line} {_quote(action.text)} has no 'Reason: ...' line "
                "right before it"
            )
    if answer.after_stop:
        lines = [f"line {line} {_quote(text)}" for line, text in answer.after_stop]
        problems.append(f"the answer goes on after stop: {_listing(lines, 3)}; stop must be the last line")
    acting = [a for a in answer.actions if a.verb in ("click", "type", "select")]
    if candidate.instruction_type in ACTING_TYPES and answer.actions and not acting:
        problems.append(
            f"a {candidate.instruction_type.replace('_', ' ')} task needs at least one click, type or select "
            "before the stop"
        )
    if candidate.instruction_type in FILLING_TYPES and acting and not {a.verb for a in acting} - {"click"}:
        problems.append("a fill form task types or selects the values it is given: clicks alone fill nothing")
    if candidate.instruction_type in FILLING_TYPES and (invented := _invented_values(answer, candidate)):
        problems.append(
            f"it types {_listing(invented, 3)}, which the task does not give: type only the values the user "
            "gives, as the task writes them"
        )
    for before, action in itertools.pairwise(answer.actions):
        if action.verb in ("click", "type", "select") and action.text == before.text:
            problems.append(f"line {action.line} {_quote(action.text)} repeats the action right before it")
    stops = [a for a in answer.actions if a.verb == "stop"]
    if (
        candidate.instruction_type == "extract_table"
        and stops
        and (problem := table_problem(stops[-1].value, f"{candidate.content}\n{candidate.instruction}"))
    ):
        problems.append(problem)
    if problems:
        return Check(name=name, ok=False, detail="; ".join(problems))
    return Check(
        name=name,
        ok=True,
        detail=f"{len(answer.actions)} well-formed 'Action:' lines, each right after its 'Reason:' line",
    )


def _invented_values(answer: Answer, candidate: Candidate) -> list[str]:
    """The typed texts that neither the task nor the page holds (s31's fill_form task named the fields but
    gave no values, and the teacher typed "2023-10-15" and "Garden is valued at $5000.")."""
    given = squashed(f"{candidate.instruction}\n{candidate.content}")
    typed = [a.value for a in answer.actions if a.verb == "type" and a.value]
    return [_quote(value) for value in typed if squashed(value) not in given]


def table_problem(value: str | None, page: str = "") -> str:
    """Why an extract_table stop answer is not a table of the page ("" when it is one): the local teacher's
    stop said "The table shows the information about the Lighthouse..." (run s13), and another gave the
    notation's example, "Name | Price ; Tent | $120", for a page on sleep (run s14). Every data cell must
    stand in the page (`page`: the user turn that shows it; case, spacing and outer punctuation aside);
    the header may name the columns in the teacher's words."""
    rows = [[cell.strip() for cell in row.split(" | ")] for row in (value or "").split(" ; ")]
    if not re.fullmatch(TABLE_ANSWER, (value or "").strip()):
        return (
            "an extract table task ends with the table in its stop: a header row and at least one data row, "
            'cells separated by " | " and rows by " ; " (stop "Name | Price ; Tent | $120")'
        )
    if len({len(row) for row in rows}) > 1:
        return (
            f"the table's rows have {', '.join(str(len(r)) for r in rows)} cells: give every row the header's"
        )
    shown = f" {_folded_text(page)} "  # whole words: "Tent" is not on a page because of "contentinfo"
    missing = [cell for row in rows[1:] for cell in row if page and f" {_folded_text(cell)} " not in shown]
    if missing:
        cells = _listing([_quote(cell) for cell in dict.fromkeys(missing)], 3)
        return f"the table's cells {cells} are not on the page: copy each data cell from the page's text"
    return ""


def _folded_text(text: str) -> str:
    """Lower case, one space between words, without the punctuation around them."""
    return " ".join(word.strip(".,;:!?\"'()[]") for word in text.casefold().split())
