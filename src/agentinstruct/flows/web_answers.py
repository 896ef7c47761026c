"""The web_agent teacher's answer as structure: a JSON Schema built from the page, and its notation.

The local 1.5B teacher, writing the `Reason:`/`Action:` notation freely, clicked headings, named ids that
are not on the page and wrote `click [15] "Place order"` (run s11c: 0 pairs in 4 units, every failure an
element id or the action grammar). Asked instead for steps whose element is chosen from the page's own
elements, per action (a click from the clickable elements, a type from the text fields, a select from the
choice fields), and for a final stop that the schema always has, the grammar makes those mistakes
impossible; code then writes the answer in the skill's notation (`notation`), so the pair, the checks and
the training data are as before. The checks in `quality.web` still judge the converted answer. What the
page offers is read by `quality.web.parse_page`; the role sets are the check's own.
"""

from __future__ import annotations

import json
from typing import Any

from agentinstruct.quality.web import (
    ACTING_TYPES,
    KNOWN_ROLES,
    SELECT_ROLES,
    TYPE_ROLES,
    Element,
    clip_name,
    parse_page,
)

#: most steps before the stop an answer may take (the longest good multi-step answer took 9)
MAX_STEPS = 15
#: one line without element references: the notation is line-based and a reason's "[7]" is checked as an id.
#: A negated class must also leave out the double quote and the backslash: llama.cpp's grammar reads the
#: pattern over the JSON text, so "[^\n]" let the string take a closing quote and run on with keys of its
#: own ('"The sea is wide.", "label": "sea"'), or take the escape "\n" (probed on the local engine: the
#: answer schema was not held, and its chat parser rejected what came out, the "peg-native" error of s12b).
#: The length is bounded in the pattern, as the engine's grammar ignores maxLength beside a pattern.
ONE_LINE = r'^[^\[\]\n"\\]{1,300}$'
#: one line (typed text, an option, the stop's answer); brackets are allowed, as a table cell may hold one
ANY_LINE = r'^[^\n"\\]{1,600}$'
#: roles a click does something on; narrower than the check's (which only fails content roles): a click on a
#: cell, row or form is never the step a task needs, and the local teacher picked such elements by their text
CLICK_ROLES = frozenset(
    {
        "link", "button", "checkbox", "radio", "switch", "tab", "option", "menuitem", "menuitemcheckbox",
        "menuitemradio", "combobox", "listbox", "textbox", "searchbox", "spinbutton", "slider", "label",
    }
)  # fmt: skip


def element_choice(element: Element) -> str:
    """How an element is offered to the teacher: its id, role and clipped name (the id decides; the name
    only helps the model choose)."""
    return f'[{element.id}] {element.role} "{clip_name(" ".join(element.name.split()))}"'


def _targets(elements: list[Element], verb: str) -> list[str]:
    """The elements an action of this verb may take (roles the check does not know are offered to all)."""
    allowed = {"click": CLICK_ROLES, "type": TYPE_ROLES, "select": SELECT_ROLES}[verb]
    chosen = [e for e in elements if e.role in allowed or e.role not in KNOWN_ROLES]
    return [element_choice(e) for e in chosen]


def _step(action: str | None, **fields: dict[str, Any]) -> dict[str, Any]:
    """One step's object: a reason, the action's name (none for the final stop) and its fields."""
    properties: dict[str, Any] = {"reason": {"type": "string", "minLength": 1, "pattern": ONE_LINE}}
    if action is not None:
        properties["action"] = {"const": action}
    properties.update(fields)
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def answer_schema(page: str, instruction_type: str) -> dict[str, Any] | None:
    """The schema of an answer on this page, or None when the page has no element to act on."""
    elements = list(parse_page(page).elements.values())
    if not elements:
        return None
    text = {"type": "string", "minLength": 1, "pattern": ANY_LINE}
    steps: list[dict[str, Any]] = []
    for verb, extra in (("click", {}), ("type", {"text": text}), ("select", {"option": text})):
        targets = _targets(elements, verb)
        if targets:
            steps.append(_step(verb, element={"enum": targets}, **extra))
    steps.append(_step("scroll", direction={"enum": ["down", "up"]}))
    final = _step(None, answer=text)
    acting = instruction_type in ACTING_TYPES
    return {
        "type": "object",
        "properties": {
            "steps": {
                "type": "array",
                "items": {"anyOf": steps},
                "minItems": int(acting),
                "maxItems": MAX_STEPS,
            },
            "final": final,
        },
        "required": ["steps", "final"],
        "additionalProperties": False,
    }


def notation(reply: str) -> str | None:
    """The answer in the skill's notation, written from a structured reply; None when the reply is not one
    (a backend that does not enforce the schema may answer in the notation itself, which is kept)."""
    try:
        data = json.loads(reply)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("final"), dict):
        return None
    steps = data.get("steps")
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        return None
    lines = []
    for step in steps:
        action = _action(step)
        if action is None:
            return None
        lines += [f"Reason: {_line(step.get('reason'))}", f"Action: {action}"]
    final = data["final"]
    lines += [f"Reason: {_line(final.get('reason'))}", f'Action: stop "{_line(final.get("answer"))}"']
    return "\n".join(lines)


def _action(step: dict[str, Any]) -> str | None:
    """One step's action line, or None for a step the schema would not allow."""
    verb = step.get("action")
    if verb == "scroll":
        direction = step.get("direction")
        return f"scroll {direction}" if direction in ("down", "up") else None
    element = str(step.get("element", ""))
    if verb not in ("click", "type", "select") or not element.startswith("["):
        return None
    target = element.split("]", 1)[0] + "]"
    if verb == "click":
        return f"click {target}"
    value = step.get("text" if verb == "type" else "option")
    return f'{verb} {target} "{_line(value)}"' if value is not None else None


def _line(value: Any) -> str:
    """A field's text on one line (a reply that ignored the schema's one-line pattern is not split)."""
    return " ".join(str(value or "").split())
