"""Formats of the extra fields an instruction or editor agent returns (a skill's `field_formats`).

A format says how a field's text is read and normalised, what makes it unusable (the reply then goes
back to the agent at once, before any teacher call), and how it is shown in the task:

- `json_schema`: a small model writes the schema of a text-extraction answer as YAML about as often as
  JSON, and a request whose schema block differs from the field would leave the teacher and the check
  with two different schemas;
- `label_list`: the allowed labels of a classification task, which the task must state for the teacher (a
  field holding part of the list the task writes takes the whole list);
- `code_block`: the code a programming task is about, asked for in a field of its own (a small model
  wrote "Explain the functions in the given code" and left the code out) and shown in the task;
- `option_list`: the answer options of a multiple-choice item, asked for as a list of 4 to 6 texts that
  code letters "A) ...", "B) ..." (as free text, the local model wrote a single option three times in a
  row, run s11c).

Which skills use a format is the skill file's business, not this module's.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator
from typing import Any, Literal

from agentinstruct.quality.agreement import label_set, options_in
from agentinstruct.quality.extraction import FENCE, parse_schema
from agentinstruct.reply_problems import MIN_OPTIONS

#: a label set with fewer labels than this leaves nothing to choose
MIN_LABELS = 2
FieldFormat = Literal["json_schema", "label_list", "code_block", "option_list"]


def normalised(format_name: FieldFormat, value: str | dict) -> tuple[str, str]:
    """(the value in its canonical form, "") or ("", why the agent must write it again)."""
    return NORMALISERS[format_name](value)


def read_against_task(format_name: FieldFormat, task: str, value: str) -> str:
    """The field's text completed from the task where the format knows how (unchanged otherwise)."""
    read = FROM_TASK.get(format_name)
    return read(task, value) if read and value else value


def task_conflict(format_name: FieldFormat, task: str, value: str) -> str:
    """Why the field's normalised value contradicts the task, or "" (the agent then writes both again)."""
    conflict = CONFLICTS.get(format_name)
    return conflict(task, value) if conflict and value else ""


def shown_in_task(format_name: FieldFormat, task: str, value: str) -> str:
    """The task with the field's value shown in it as the format wants (unchanged when it has no way)."""
    show = SHOWERS.get(format_name)
    return show(task, value) if show and value else task


#: the answer schemas a `json_schema` field may hold, as a schema itself: an object of named properties, each
#: a string, number, integer or boolean, or one of those or null (with an optional enum and description), a
#: list of those or of flat objects (with an optional minItems), or a flat object (objects may forbid
#: additional properties). Asked for as structure rather than text, so a
#: schema-enforcing engine (llama.cpp) makes a small model write a usable schema: as text, the local model
#: wrote "string", a list of types, or a type of "null" with an enum, and text_extraction had no pair in runs
#: s9e and s10a.
_TYPES = ["string", "number", "integer", "boolean"]
_SCALAR = {
    "type": "object",
    "properties": {
        "type": {  # one type, or one and "null" for a value the text may not give
            "anyOf": [
                {"enum": _TYPES},
                {"type": "array", "items": {"enum": [*_TYPES, "null"]}, "minItems": 2, "maxItems": 2},
            ]
        },
        "enum": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 8},
        "description": {"type": "string", "maxLength": 200},
    },
    "required": ["type"],
    "additionalProperties": False,
}


def _object_of(property_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "type": {"const": "object"},
            "properties": {"type": "object", "additionalProperties": property_schema},
            "required": {"type": "array", "items": {"type": "string"}},
            "additionalProperties": {"type": "boolean"},
        },
        "required": ["type", "properties", "required"],
        "additionalProperties": False,
    }


_FLAT_OBJECT = _object_of(_SCALAR)
_LIST = {
    "type": "object",
    "properties": {
        "type": {"const": "array"},
        "items": {"anyOf": [_SCALAR, _FLAT_OBJECT]},
        "minItems": {"type": "integer", "minimum": 0, "maximum": 20},
    },
    "required": ["type", "items"],
    "additionalProperties": False,
}
ANSWER_SCHEMA_SHAPE: dict[str, Any] = _object_of({"anyOf": [_SCALAR, _LIST, _FLAT_OBJECT]})
#: per format, the JSON schema its field is asked for with in a structured reply (plain text without one)
#: the options of a multiple-choice item: 4 to 6 texts, lettered by code
OPTION_LIST_SHAPE: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "minLength": 1, "maxLength": 300},
    "minItems": 4,
    "maxItems": 6,
}
FIELD_SCHEMAS: dict[str, dict[str, Any]] = {
    "json_schema": ANSWER_SCHEMA_SHAPE,
    "option_list": OPTION_LIST_SHAPE,
}


def _json_schema(value: str | dict) -> tuple[str, str]:
    if isinstance(value, str) and not value.strip():
        return "", 'no schema was given: write the JSON Schema of the answer, with "type", "properties"'
    schema, problem = parse_schema(value)
    if schema is None:
        return "", f"the schema {problem}"
    if _leaf_types(schema) <= {"boolean"}:
        # run s18: a schema of yes/no properties ("soil_test_due_in_february": boolean) extracted nothing the
        # text says, and no check can hold a true or false to the text
        return "", (
            "the schema asks only true/false questions: an extraction copies what the text gives, so make "
            "the properties strings (or numbers) for the names, dates, figures and phrases to extract"
        )
    return json.dumps(_nullable(_without_value_enums(schema)), indent=2, ensure_ascii=False), ""


#: the longest label an enum may hold: labels are categories ("person", "works for"), not text values
MAX_LABEL_WORDS = 3


def _leaf_types(schema: Any) -> set[str]:
    """The scalar types a schema's values may take ("null" aside), found in every nested property."""
    if isinstance(schema, list):
        return set().union(*map(_leaf_types, schema)) if schema else set()
    if not isinstance(schema, dict):
        return set()
    kinds = schema.get("type")
    found = {k for k in (kinds if isinstance(kinds, list) else [kinds]) if k in _TYPES}
    for key in ("properties", "items", "anyOf", "oneOf"):
        nested = schema.get(key)
        found |= _leaf_types(
            list(nested.values()) if key == "properties" and isinstance(nested, dict) else nested
        )
    return found


def _without_value_enums(schema: Any) -> Any:
    """The schema without enums that list values rather than labels (dropping one only widens the schema).

    The local model filled every property's enum with values: the text's names and events, or invented
    years ("1760" to "1767" for a timeline whose text has none), which gave away or ruled out the answer.
    An enum stays when its values are labels: short texts without digits.
    """
    if not isinstance(schema, dict):
        return schema
    kept: dict[str, Any] = {}
    for key, item in schema.items():
        if key in ("properties", "$defs", "definitions") and isinstance(item, dict):
            kept[key] = {name: _without_value_enums(sub) for name, sub in item.items()}
        elif key in ("anyOf", "oneOf", "allOf") and isinstance(item, list):
            kept[key] = [_without_value_enums(sub) for sub in item]
        elif key in ("items", "additionalProperties", "not"):
            kept[key] = _without_value_enums(item)
        elif key != "enum":
            kept[key] = item
    enum = schema.get("enum")
    labels = isinstance(enum, list) and all(
        isinstance(v, str) and v.strip() and len(v.split()) <= MAX_LABEL_WORDS and not re.search(r"\d", v)
        for v in enum
    )
    if "enum" in schema and labels:
        kept["enum"] = enum
    return kept


#: the scalar types a property the text may not give is allowed to leave null
NULLABLE_TYPES = ("string", "number", "integer")


def _nullable(schema: Any) -> Any:
    """The schema with every free scalar property (no enum, no const) allowing null as well.

    An answer is held to the schema by the grammar, so a required string the text does not give had to be
    filled: the local teacher wrote "unknown" or the string "null" (run s11a, s11b), which no text holds.
    With null allowed it can say the value is missing; `spans_in_source` still rejects an answer with no
    value at all.
    """
    if not isinstance(schema, dict):
        return schema
    kept = dict(schema)
    for key in ("properties", "$defs", "definitions"):
        if isinstance(schema.get(key), dict):
            kept[key] = {name: _nullable_property(sub) for name, sub in schema[key].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            kept[key] = _nullable(schema[key])
    return kept


def _nullable_property(schema: Any) -> Any:
    if not isinstance(schema, dict) or "enum" in schema or "const" in schema:
        return _nullable(schema)
    kind = schema.get("type")
    if kind in NULLABLE_TYPES:
        return {**schema, "type": [kind, "null"]}
    return _nullable(schema)


def _schema_block(task: str, schema_json: str) -> str:
    """The task with its schema block(s) replaced by the field's schema, or the schema appended in one.

    Any fenced block that parses as a schema is the agent's rendering of the same schema (in JSON or YAML,
    perhaps drifted from the field): the field is what the check validates against, so the task shows it.
    """
    block = f"```json\n{schema_json}\n```"
    kept, replaced = [], False
    position = 0
    for found in FENCE.finditer(task):
        kept.append(task[position : found.start()])
        if parse_schema(found.group(2))[0] is not None:
            kept.append("" if replaced else block)
            replaced = True
        else:
            kept.append(found.group(0))
        position = found.end()
    kept.append(task[position:])
    text = "".join(kept)
    if replaced:
        return re.sub(r"\n{3,}", "\n\n", text).rstrip()
    return f"{task.rstrip()}\n\n{block}"


def _label_list(value: str) -> tuple[str, str]:
    labels = list(label_set(value).values())
    if len(labels) < MIN_LABELS:
        # a small model put the right label alone here ("safe"), taking the field for the answer
        written = f"'{labels[0]}' is one label, and the field is not the answer: " if labels else ""
        return "", (
            f"{written}give every label the task allows the solver to choose from, the right one and the "
            f"wrong ones, at least {MIN_LABELS}, separated by commas (such as: positive, negative, neutral)"
        )
    return ", ".join(labels), ""


def _labels_line(task: str, labels: str) -> str:
    """The task with its allowed labels stated, when it leaves any out (the teacher can only pick what it
    is shown; a small model wrote "Topic classification of the text" and kept the labels to itself)."""
    words = f" {_comparable(task)} "
    if all(f" {_comparable(label)} " in words for label in labels.split(", ")):
        return task
    return f"{task.rstrip()}\nAllowed labels: {labels}."


#: the text between sentence ends and colons, where a task lists its labels ("...: safe, hate, spam.")
_CLAUSE = re.compile(r"[^.:;?!\n]+")


def _labels_conflict(task: str, labels: str) -> str:
    """Why a label list the task writes differs from the `labels` field, or "".

    Run s31: a safety task listed "safe, harassment, hate, self-harm, ..." and the field held "safe,
    information", so the teacher was shown two label sets and the check knew only the second one. A list is
    three or more short comma-separated items, and it counts only when it shares a label with the field
    (a task may list other things: "consider the tone, word choice and context").
    """
    allowed = {_comparable(label) for label in label_set(labels).values()}
    for listed in _task_lists(task):
        if not set(listed) & allowed:
            continue
        if set(listed) != allowed:
            return (
                f"the task lists the labels {', '.join(listed.values())}, and the field holds {labels}: "
                "write the same labels in both, every label the solver may choose from"
            )
    return ""


def _labels_from_task(task: str, labels: str) -> str:
    """The label list the task writes, when it holds every label of the field and more; else `labels`.

    s44: a custom_labels task listed "anecdotal, statistical, expert_opinion, none" and the field held the
    first three, three times in a row; a field holding only the right label ("positive") of a task that
    lists its labels is read the same way.
    """
    given = {_comparable(label) for label in label_set(labels).values()} - {""}
    for listed in _task_lists(task):
        if given and given < set(listed):
            return ", ".join(listed.values())
    return labels


def _task_lists(task: str) -> Iterator[dict[str, str]]:
    """The lists the task writes, one per clause: three or more short comma-separated items, each keyed by
    its comparable form."""
    for clause in _CLAUSE.findall(task):
        items = [_label_item(part) for part in re.split(r",|\s+(?:and|or)\s+", clause)]
        listed = {key: item for item in items if item and (key := _comparable(item))}
        if len(listed) >= 3:
            yield listed


def _label_item(part: str) -> str:
    """A list item as a label (at most 3 words, without a leading "and"/"or"), or "" for longer text."""
    item = re.sub(r"^\s*(?:and|or)\s+", "", part).strip(" \t\"'“”‘’()[]")
    return item if 0 < len(item.split()) <= MAX_LABEL_WORDS else ""


def _comparable(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


#: the letters options are written with
OPTION_LETTERS = "ABCDEF"
#: what a model writes for "nothing" in a field (the prompts' footer asks for "-")
EMPTY_VALUES = frozenset({"", "-", "none", "n/a", "null"})


def _code(value: str) -> tuple[str, str]:
    """The code without a fence around it; "" when the task needs none (never a problem)."""
    code = value.strip("\n")
    fenced = FENCE.fullmatch(code.strip())
    if fenced:
        code = fenced.group(2).rstrip("\n")
    return ("" if code.strip().lower() in EMPTY_VALUES else code), ""


def _code_block(task: str, code: str) -> str:
    """The task with the code appended in a fence, unless the task already shows it."""
    if _squeezed(code) in _squeezed(task):
        return task
    try:
        ast.parse(code)
        language = "python"
    except (SyntaxError, ValueError):
        language = ""  # a translation's source language, or a fragment
    return f"{task.rstrip()}\n\n```{language}\n{code}\n```"


#: a letter an option text already starts with ("B) Paris", "(c) 90", "D. none"), which code writes anew
_LETTERED = re.compile(r"^\s*\(?[A-Ha-h][).:]\s+")


def _option_list(value: Any) -> tuple[str, str]:
    """The options as "A) ..." lines: from a list of texts (letters they carry are written anew), or from
    text that already holds lettered options."""
    if isinstance(value, str):
        found = options_in(value)
        texts = list(found.values()) if found else [line for line in value.splitlines() if line.strip()]
    else:
        texts = [str(item) for item in value] if isinstance(value, list) else []
    texts = list(dict.fromkeys(" ".join(_LETTERED.sub("", t).split()) for t in texts))
    texts = [t for t in texts if t and t.lower() not in EMPTY_VALUES]
    if len(texts) < MIN_OPTIONS:
        return "", f"give at least {MIN_OPTIONS} different answer options, one per entry (4 is usual)"
    if len(texts) > len(OPTION_LETTERS):
        return "", f"give at most {len(OPTION_LETTERS)} answer options"
    return lettered(texts), ""


def lettered(texts: list[Any]) -> str:
    """Option texts as "A) ..." lines, one per text (as many as there are letters)."""
    return "\n".join(f"{letter}) {text}" for letter, text in zip(OPTION_LETTERS, texts, strict=False))


def _squeezed(text: str) -> str:
    return "".join(text.split())


NORMALISERS: dict[str, Callable[[Any], tuple[str, str]]] = {
    "json_schema": _json_schema,
    "label_list": _label_list,
    "code_block": _code,
    "option_list": _option_list,
}
CONFLICTS: dict[str, Callable[[str, str], str]] = {"label_list": _labels_conflict}
#: how a field's value is first read against the task (the whole list the task writes for a part of it)
FROM_TASK: dict[str, Callable[[str, str], str]] = {"label_list": _labels_from_task}
SHOWERS: dict[str, Callable[[str, str], str]] = {
    "json_schema": _schema_block,
    "label_list": _labels_line,
    "code_block": _code_block,
}
