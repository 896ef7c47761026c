"""Transformation outputs whose content is data: the model writes a JSON structure, code writes the notation.

A skill file gives a transformation a `content_shape` when its content is structured data. Asked for the
notation inside a JSON string, the local 1.5B model gave the seed's prose back (data_to_text: 3 of 3
json_record and 2 of 2 knowledge_triples replies; few_shot_reasoning's rule and examples, 3 of 3;
analytical_reasoning's scenario; coding's task_from_docs, a summary with no code 5 of 5); asked for the
structure itself, with the JSON grammar enforcing it, it cannot. Code then writes the notation every later
agent sees: "Kind: note" lines, a Markdown table, CSV lines, an indented JSON object, "Key: value" lines,
"(subject; relation; object)" lines, "Rule: ..." with "Input: ... -> Output: ..." lines (from the model's rule
and examples, or from the seed's terms with a rule code picks, `flows.term_patterns`), a puzzle's cast as
"Setting:", "Entities:" and "Slots:", a transcript's "Speaker: words" lines (`flows.transcripts`), or
programming material whose reference code must parse as Python.
A reply that already holds the notation as text (a large model, a scripted test) is kept as it is, except
a transcript's, which is read back into turns and held to their rules (`TEXT_READERS`).
Plain-text transformations and the HTML pages of web_agent (`flows.web_agent`) are not here.
"""

from __future__ import annotations

import ast
import copy
import csv
import io
import json
import re
from functools import cache
from typing import Any

from pydantic import Field, model_validator

from agentinstruct.agent_outputs import TransformationOutput
from agentinstruct.flows.term_patterns import TERMS_DESCRIPTION, TERMS_SCHEMA, term_mapping
from agentinstruct.flows.transcripts import TURNS_DESCRIPTION, TURNS_SCHEMA, turn_lines, turns_from_text
from agentinstruct.quality.agreement import NUMBER_WORDS
from agentinstruct.quality.execution import strip_fence
from agentinstruct.skills import ContentShape

#: fewest data rows (after the header), facts or triples a shaped content needs to be worth a task
MIN_ITEMS = 2
#: a cell that is a value, not a column name: a number, an amount, a percentage or a date ("2022-09-15")
VALUE_CELL = re.compile(r"^[-+]?[$€£]?\d[\d.,:/-]*\s*%?$")
#: ...except a bare year, which heads a column in a table with one column per year
YEAR = re.compile(r"^(1[0-9]|20)\d\d$")
#: the longest output of a mapping's example (few_shot_reasoning compares answers with them exactly)
MAX_OUTPUT_WORDS = 8


def _lists(value: Any, size: int | None = None) -> list[list[str]]:
    """The value as a list of lists of texts (of `size` items each, when given), or a TypeError."""
    if not isinstance(value, list) or not all(isinstance(item, list) for item in value):
        raise TypeError("not a list of lists")
    if size is not None and any(len(item) != size for item in value):
        raise TypeError(f"not a list of {size}-item lists")
    return [[str(part) for part in item] for item in value]


def _rows(rows: list[list[str]], kind: str) -> list[list[str]]:
    """Rows with the header's width (short rows padded with "-"), or a ValueError the model can act on."""
    rows = _lists(rows)
    rows = [[" ".join(str(cell).split()) for cell in row] for row in rows if any(str(c).strip() for c in row)]
    if len(rows) < 1 + MIN_ITEMS:
        raise ValueError(
            f"the {kind} has {max(len(rows) - 1, 0)} data rows: give the header row, then at least "
            f"{MIN_ITEMS} rows of values from the text"
        )
    values = [cell for cell in rows[0] if VALUE_CELL.match(cell) and not YEAR.match(cell)]
    if values:
        # the local model wrote one record as "date,2022-09-15" / "year,2022" lines, with no header at all
        raise ValueError(
            f"the {kind}'s first row holds values ({', '.join(values[:3])}), not column names: start with "
            "the header row of column names, then one row per item (a record with one value per fact is "
            "not a table)"
        )
    width = len(rows[0])
    rows = [row[:width] if not any(row[width:]) else row for row in rows]  # empty cells past the end go
    long = [number for number, row in enumerate(rows[1:], 2) if len(row) > width]
    if width < 2 or long:
        raise ValueError(
            f"the {kind}'s header has {width} columns, but row(s) {long} have more: give every row one "
            "cell per header column (at least 2 columns)"
            if long
            else f"the {kind} has one column: give at least 2 columns, the item and its values"
        )
    return [row + ["-"] * (width - len(row)) for row in rows]


def markdown_table(rows: list[list[str]]) -> str:
    """Rows (header first) as a Markdown table."""
    rows = _rows(rows, "table")

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(rows[0]), line(["---"] * len(rows[0])), *map(line, rows[1:])])


def csv_lines(rows: list[list[str]]) -> str:
    """Rows (header first) as CSV text, quoted where a field needs it."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(_rows(rows, "CSV data"))
    return buffer.getvalue().rstrip("\n")


#: a value that says the text gives none: "Location: not specified", "Award: not mentioned" were facts of a
#: local record, and its prose said "The event took place in an unspecified location" (run s18)
PLACEHOLDER = re.compile(
    r"^(?:not\s+(?:specified|mentioned|stated|given|known|available|applicable|provided|listed)"
    r"|unknown|unspecified|n/?a|none|null|tbd|-+|—)\.?$",
    re.IGNORECASE,
)


def _given(value: Any) -> bool:
    """Whether a fact's value is one the text gives (not empty, not a placeholder for none)."""
    text = " ".join(str(value).split()) if not isinstance(value, dict | list) else "x"
    return bool(text) and not PLACEHOLDER.match(text)


def json_record(record: dict[str, Any]) -> str:
    """One JSON object, indented (facts the text does not give left out)."""
    if not isinstance(record, dict):
        raise TypeError("not an object")
    record = {key: value for key, value in record.items() if value is not None and _given(value)}
    facts = [key for key in record if str(key).lower() not in ("name", "type")]
    if len(facts) < MIN_ITEMS:  # the local model wrote {"name": ..., "type": "place"} and nothing else
        raise ValueError(
            f"the record has {len(facts)} facts besides its name and type: give at least {MIN_ITEMS} facts "
            "about the subject from the text, one key each"
        )
    return json.dumps(record, indent=2, ensure_ascii=False)


def key_value_lines(pairs: list[list[str]]) -> str:
    """[key, value] pairs as "Key: value" lines (a key may repeat, for a list)."""
    given = [
        (" ".join(k.split()), " ".join(v.split())) for k, v in _lists(pairs, 2) if k.strip() and v.strip()
    ]
    kept = [fact for fact in dict.fromkeys(given) if _given(fact[1])]  # a fact given twice counts once
    if len(kept) < 1 + MIN_ITEMS:
        raise ValueError(
            f"the list has {len(kept)} facts: give the subject's name and at least {MIN_ITEMS} more facts "
            "from the text, each as [key, value]"
        )
    return "\n".join(f"{key}: {value}" for key, value in kept)


#: a list of notes: enough to build on, few enough to stay notes
MIN_NOTES, MAX_NOTES = 4, 12
#: the longest note: a note is a line, not a passage of the source
MAX_NOTE_WORDS = 40


def note_lines(notes: list[dict[str, Any]]) -> str:
    """Labelled notes as "Kind: note" lines (a note listed twice counts once)."""
    if not isinstance(notes, list) or not all(isinstance(n, dict) for n in notes):
        raise TypeError("not a list of notes")
    kept = list(
        dict.fromkeys(
            (" ".join(str(n.get("kind", "")).split()).rstrip(":"), " ".join(str(n.get("note", "")).split()))
            for n in notes
        )
    )
    kept = [(kind, note) for kind, note in kept if kind and note]
    if len(kept) < MIN_NOTES:
        raise ValueError(
            f"there are {len(kept)} notes: give {MIN_NOTES} to {MAX_NOTES}, each a kind and a note"
        )
    long = [note for _, note in kept if len(note.split()) > MAX_NOTE_WORDS]
    if long:
        raise ValueError(
            f"the note '{long[0][:60]}...' is a passage: write each note in your own words, in one short line"
        )
    return "\n".join(f"{kind}: {note}" for kind, note in kept[:MAX_NOTES])


def triple_lines(triples: list[list[str]]) -> str:
    """[subject, relation, object] triples as "(subject; relation; object)" lines."""
    whole = [
        tuple(" ".join(part.split()) for part in t) for t in _lists(triples, 3) if all(p.strip() for p in t)
    ]
    whole = [triple for triple in whole if _given(triple[2])]
    # a fact given twice counts once: the local model repeated "(...; features; oil lamps)" 13 times, up to
    # the grammar's cap, and the data_to_text task showed all 13 (run s16)
    firsts: dict[tuple[str, ...], tuple[str, ...]] = {}
    for triple in whole:
        firsts.setdefault(tuple(part.casefold() for part in triple), triple)
    kept = list(firsts.values())
    if len(kept) < 1 + MIN_ITEMS:
        raise ValueError(
            f"there are {len(kept)} distinct complete triples: give at least {1 + MIN_ITEMS} facts from the "
            "text, each as [subject, relation, object]"
        )
    return "\n".join(f"({s}; {r}; {o})" for s, r, o in kept)


def mapping_lines(mapping: dict[str, Any]) -> str:
    """A rule and its [input, output] examples as "Rule: ..." then "Input: ... -> Output: ..." lines."""
    if not isinstance(mapping, dict):
        raise TypeError("not an object")
    rule = " ".join(str(mapping.get("rule", "")).split())
    examples = [
        (i.strip(), o.strip()) for i, o in _lists(mapping.get("examples", []), 2) if i.strip() and o.strip()
    ]
    examples = _distinct_examples(examples)
    if not rule or len(examples) < 2 * MIN_ITEMS:
        raise ValueError(
            f"the mapping has {'a' if rule else 'no'} rule and {len(examples)} complete, distinct examples: "
            f"give the rule in one sentence and at least {2 * MIN_ITEMS} [input, output] examples that "
            "follow it"
        )
    copies = sum(" ".join(i.lower().split()) == " ".join(o.lower().split()) for i, o in examples)
    if copies * 2 > len(examples):  # the local model paired each sentence of the seed with itself
        raise ValueError(
            f"{copies} of the {len(examples)} examples give their input back as the output, so there is no "
            "rule to learn: each output must be what the rule makes of its input (a category, a converted "
            "value, a reformatted name)"
        )
    long = [n for n, (_, o) in enumerate(examples, 1) if len(o.split()) > MAX_OUTPUT_WORDS]
    if long:  # the local model mapped terms to whole sentences: no solver's answer can match those
        raise ValueError(
            f"the outputs of examples {long} are longer than {MAX_OUTPUT_WORDS} words: a solver's answer is "
            "compared with an output word for word, so make each a category name, a number or a few words"
        )
    lines = [f"Input: {i} -> Output: {o}" for i, o in examples]
    return "\n".join([f"Rule: {rule}", "Examples:", *lines])


def _distinct_examples(examples: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The examples with repeats left out; an input given two different outputs is no rule.

    The local model listed three examples twice over (run s13), and the few-shot task then showed each twice.
    """
    outputs: dict[str, str] = {}
    for given, output in examples:
        key = " ".join(given.lower().split())
        if outputs.setdefault(key, output) != output:
            raise ValueError(
                f"the input {given!r} has two outputs, {outputs[key]!r} and {output!r}: a rule gives one "
                "output for each input, so keep one of them"
            )
    kept = {" ".join(i.lower().split()): (i, o) for i, o in reversed(examples)}
    return [kept[key] for key in outputs]


#: a puzzle's cast: enough entities to arrange, few enough to enumerate
MIN_ENTITIES, MAX_ENTITIES = 3, 7
#: a puzzle entity's name in the grammar: one capitalised word ("Ann", "Mill", "North"), not words run
#: together (the local model named a grouping puzzle's entities "MillLaneGrow" and "MillLane")
NAME_PATTERN = "^[A-Z][a-z]{1,11}$"
#: words that are numbers, not names: the same puzzle's entities included "Five" (and its groups "One")
NUMBER_NAMES = frozenset(
    [
        *NUMBER_WORDS,
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "seventh",
        "eighth",
        "ninth",
        "tenth",
    ]
)
#: a puzzle's cast in the grammar (scenario content and `flows.arrangements`' puzzles)
ENTITY_NAMES_SCHEMA: dict[str, Any] = {
    "type": "array",
    "minItems": MIN_ENTITIES,
    "maxItems": MAX_ENTITIES,
    "items": {"type": "string", "pattern": NAME_PATTERN},
}


def _texts(value: Any) -> list[str]:
    """A list of texts, each on one line, blank ones dropped; a TypeError when it is not a list."""
    if not isinstance(value, list | type(None)):
        raise TypeError("not a list of texts")
    return [" ".join(str(item).split()) for item in value or [] if str(item).strip()]


#: words that name a kind of slot rather than a slot: the local model copied "positions, days, groups" from
#: its request as a cast's slots (run s9e), and the puzzle had the groups "positions", "days" and "groups"
_KINDS = ("position", "day", "group", "role", "slot", "team", "attribute")
SLOT_KINDS = frozenset([*_KINDS, *(f"{kind}s" for kind in _KINDS)])


def scenario_lines(scenario: dict[str, Any]) -> str:
    """A puzzle's cast as "Setting:", "Entities:" and "Slots:" lines; the puzzle agents write the rules.

    The local model's slips are mended where the mend is sound: a name or slot listed twice counts once,
    entities named by a number ("Five") are dropped, and so are slots that repeat the entities' names (it
    gave its entity list twice) or name a kind of slot ("positions", "days": `SLOT_KINDS`); with fewer than
    2 slots left, the entities take positions 1 to n, which any arrangement puzzle can use.
    """
    if not isinstance(scenario, dict):
        raise TypeError("not an object")
    setting = " ".join(str(scenario.get("setting", "")).split())
    entities, slots = (_texts(scenario.get(part)) for part in ("entities", "slots"))
    firsts: dict[str, str] = {}
    for entity in entities:
        firsts.setdefault(entity.lower(), entity)  # a name listed twice counts once, as first spelt
    entities = [e for e in firsts.values() if e.lower() not in NUMBER_NAMES]
    names = {e.lower() for e in entities}
    slots = list(dict.fromkeys(s for s in slots if s.lower() not in names | SLOT_KINDS))
    if len(slots) < 2 and MIN_ENTITIES <= len(entities) <= MAX_ENTITIES:
        slots = [str(n) for n in range(1, len(entities) + 1)]
    problems = []
    if not setting:
        problems.append("a setting in one or two sentences")
    if not MIN_ENTITIES <= len(entities) <= MAX_ENTITIES:
        problems.append(f"{MIN_ENTITIES} to {MAX_ENTITIES} distinct entity names (it has {len(entities)})")
    if any(len(e.split()) > 4 for e in entities):
        problems.append("short entity names (a name, not a sentence)")
    if len(slots) < 2:
        problems.append("at least 2 slot values the entities take (positions, groups, days or attributes)")
    if problems:
        raise ValueError(f"the scenario needs {'; '.join(problems)}")
    lines = [f"Setting: {setting}", f"Entities: {', '.join(entities)}", f"Slots: {', '.join(slots)}"]
    return "\n".join(lines)


def programming_lines(material: dict[str, Any]) -> str:
    """Programming material as "Problem:", "Functions:", "Rules and edge cases:", "Examples:" (the calls
    that parse) and a "Reference code:" block that parses as Python and defines a function or class."""
    if not isinstance(material, dict):
        raise TypeError("not an object")
    problem = " ".join(str(material.get("problem", "")).split())
    functions, rules = _texts(material.get("functions")), _texts(material.get("edge_cases"))
    examples = [(c.strip(), r.strip()) for c, r in _lists(material.get("examples", []), 2) if c.strip()]
    # examples whose call does not parse are left out, all of them if need be: the reference code is what
    # a task needs, and in s36 3 of 6 coding units were lost at this step on examples alone (one call
    # without its closing quote; "wait = 4" assignments; a call name alone)
    examples = [(call, result) for call, result in examples if _parses(call)]
    code = strip_fence(str(material.get("reference_code", ""))).strip("\n")
    problems = [] if problem else ["the problem in 2-4 sentences"]
    if not functions:
        problems.append("the signature of each function the solution needs")
    unusable = _code_problem(code)
    if unusable:
        problems.append(unusable)
    if problems:
        raise ValueError(f"the programming material needs {'; '.join(problems)}")
    sections = ["Problem: " + problem, "Functions:", *[f"- {f}" for f in functions]]
    if rules:
        sections += ["Rules and edge cases:", *[f"- {r}" for r in rules]]
    if examples:
        sections += ["Examples:", *[f"- {c} -> {r}" for c, r in examples]]
    return "\n".join([*sections, "Reference code:", "```python", code, "```"])


def _parses(call: str) -> bool:
    """Whether an example's call is a Python expression."""
    try:
        ast.parse(call, mode="eval")
    except SyntaxError:
        return False
    return True


def _code_problem(code: str) -> str:
    """Why the reference code is unusable (empty, not Python, no function or class), or ""."""
    try:
        tree = ast.parse(code)
    except SyntaxError as error:
        return f"reference code that is valid Python (line {error.lineno}: {error.msg})"
    if not any(isinstance(node, ast.FunctionDef | ast.ClassDef) for node in tree.body):
        return "reference code that defines the function(s) it solves the problem with"
    return ""


#: most rows, facts, examples or items a list in a shaped content may hold: under the grammar the local model
#: repeated one example of a coding task ("calculate_total_cost(2, 3.5)") until its 1,024 tokens ran out
#: (run s12a); a cap makes the grammar close the list instead
MAX_ROWS = 12
MAX_FACTS = 24
MAX_CODE_ITEMS = 8
MAX_COLUMNS = 8
#: the longest call or result of a programming example: the local model wrote one call with a dict of a
#: year per key, 1791 to 1878 and on, until its tokens ran out (run s12a); capped, the call no longer
#: parses and the reply is sent back asking for a short one
MAX_EXAMPLE_CHARS = 240
ROWS_SCHEMA = {
    "type": "array",
    "minItems": 1 + MIN_ITEMS,
    "maxItems": 1 + MAX_ROWS,
    "items": {"type": "array", "minItems": 2, "maxItems": MAX_COLUMNS, "items": {"type": "string"}},
}
SHAPES: dict[str, tuple[dict[str, Any], str, Any]] = {
    "notes": (
        {
            "type": "array",
            "minItems": MIN_NOTES,
            "maxItems": MAX_NOTES,
            "items": {
                "type": "object",
                "properties": {
                    "kind": {"type": "string", "minLength": 1, "maxLength": 30},
                    "note": {"type": "string", "minLength": 1, "maxLength": 240},
                },
                "required": ["kind", "note"],
                "additionalProperties": False,
            },
        },
        "the notes as a list of {kind, note} objects, each note one short line in your own words",
        note_lines,
    ),
    "table": (
        ROWS_SCHEMA,
        "the table as a list of rows, each a list of cell texts: the column headers first (with units), "
        "then one row per item",
        markdown_table,
    ),
    "csv": (
        ROWS_SCHEMA,
        "the data as a list of rows, each a list of field texts: the snake_case column names first, then "
        "one row per item",
        csv_lines,
    ),
    "json_record": (
        {"type": "object"},  # llama.cpp's grammar ignores minProperties: the count is checked in code
        "the record: one JSON object with snake_case keys, its name and type first, then every fact",
        json_record,
    ),
    "key_values": (
        {
            "type": "array",
            "minItems": 1 + MIN_ITEMS,
            "maxItems": MAX_FACTS,
            "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "string"}},
        },
        'the facts as a list of [key, value] pairs, ["Name", "..."] first',
        key_value_lines,
    ),
    "mapping": (
        {
            "type": "object",
            "properties": {
                "rule": {"type": "string", "minLength": 1},
                "examples": {
                    "type": "array",
                    "minItems": 2 * MIN_ITEMS,
                    "maxItems": 2 * MAX_CODE_ITEMS,
                    "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "string"}},
                },
            },
            "required": ["rule", "examples"],
            "additionalProperties": False,
        },
        "the mapping: its rule in one sentence, and its examples as a list of [input, output] pairs",
        mapping_lines,
    ),
    # the seed's terms; code picks a rule that fits them and writes the mapping (`flows.term_patterns`)
    "terms": (TERMS_SCHEMA, TERMS_DESCRIPTION, lambda terms: mapping_lines(term_mapping(terms))),
    # a transcript's turns, written as "Speaker: words" lines (`flows.transcripts`)
    "turns": (TURNS_SCHEMA, TURNS_DESCRIPTION, turn_lines),
    "scenario": (
        {
            "type": "object",
            "properties": {
                "setting": {"type": "string", "minLength": 1},
                # one capitalised word each, short slot values: the grammar holds the local model to a
                # puzzle's cast (it listed "36 raised beds" and "primary school is reserved for beds").
                # No rules: asked for them, it copied the seed's facts ("the council pays 6,500 pounds"),
                # and the puzzle agents copied those as rules; they now write the rules themselves
                "entities": ENTITY_NAMES_SCHEMA,
                "slots": {
                    "type": "array",
                    "minItems": 2,
                    "maxItems": 7,
                    "items": {"type": "string", "minLength": 1, "maxLength": 20},
                },
            },
            "required": ["setting", "entities", "slots"],
            "additionalProperties": False,
        },
        "the puzzle's cast: its setting in a sentence or two, the one-word names of 4 to 6 people or things "
        "of one kind, and the slot values they take (positions, days, groups or roles)",
        scenario_lines,
    ),
    "programming": (
        {
            "type": "object",
            "properties": {
                "problem": {"type": "string", "minLength": 1},
                "functions": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_CODE_ITEMS,
                    "items": {"type": "string", "minLength": 1},
                },
                "edge_cases": {"type": "array", "maxItems": MAX_CODE_ITEMS, "items": {"type": "string"}},
                "examples": {
                    "type": "array",
                    "minItems": MIN_ITEMS,
                    "maxItems": MAX_CODE_ITEMS,
                    "items": {
                        "type": "array",
                        "minItems": 2,
                        "maxItems": 2,
                        "items": {"type": "string", "maxLength": MAX_EXAMPLE_CHARS},
                    },
                },
                "reference_code": {"type": "string", "minLength": 1},
            },
            "required": ["problem", "functions", "edge_cases", "examples", "reference_code"],
            "additionalProperties": False,
        },
        "the programming material: the problem, each function's signature with what it returns, the rules "
        "and edge cases, [call, exact result] examples, and the reference code (Python, standard library)",
        programming_lines,
    ),
    "triples": (
        {
            "type": "array",
            "minItems": 1 + MIN_ITEMS,
            "maxItems": MAX_FACTS,
            "items": {"type": "array", "minItems": 3, "maxItems": 3, "items": {"type": "string"}},
        },
        "the facts as a list of [subject, relation, object] triples",
        triple_lines,
    ),
}


#: shapes whose notation, written as text by a model without the grammar, is read back and held to the same
#: rules (other shapes' text is kept as it is)
TEXT_READERS: dict[str, Any] = {"turns": turns_from_text}


@cache
def shaped_output(shape: ContentShape) -> type[TransformationOutput]:
    """The transformation output model for a content shape (`TransformationOutput` itself for text)."""
    if shape == "text":
        return TransformationOutput
    schema, description, render = SHAPES[shape]

    class ShapedOutput(TransformationOutput):
        content: Any = Field(default="", description=description)

        @model_validator(mode="after")
        def _written_as_notation(self) -> ShapedOutput:
            if not self.suitable:
                self.content = str(self.content) if isinstance(self.content, str) else "-"
            elif isinstance(self.content, str):  # the notation itself, written by a larger model
                if not self.content.strip():
                    raise ValueError(f"'content' is empty: write {description}")
                if shape in TEXT_READERS:
                    try:
                        self.content = render(TEXT_READERS[shape](self.content))
                    except ValueError as exc:
                        raise ValueError(f"'content': {exc}") from None
            else:
                try:
                    self.content = render(self.content)
                except (TypeError, AttributeError, ValueError) as exc:
                    problem = exc if isinstance(exc, ValueError) else f"it is not {description}"
                    raise ValueError(f"'content': {problem}") from None
            return self

        @classmethod
        def request_schema(cls) -> dict[str, Any]:
            """The structure alone: a grammar-enforcing engine cannot fall back on prose."""
            request = super().request_schema()
            # a copy: a caller that adds bounds to its request must not change the shape for everyone
            request["properties"]["content"] = {**copy.deepcopy(schema), "description": description}
            return request

    ShapedOutput.__name__ = ShapedOutput.__qualname__ = f"{shape.title().replace('_', '')}Output"
    return ShapedOutput
