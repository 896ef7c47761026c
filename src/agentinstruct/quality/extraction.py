"""Text-extraction checks (SPEC §2 row 11): the answer is schema-valid JSON and its spans are the source's.

- `valid_json_for_schema` (text_extraction, row 11): the answer holds one JSON value (a ```json fence, any
  fence, the whole answer, or the first parseable object or array in it, unless another value follows it
  at once or a ```json fence does not parse) that validates against the JSON
  Schema in `details["output_schema"]` (the instruction agent's, written as JSON or YAML; formats are
  checked where `jsonschema` can). A schema that is neither, or not a valid JSON Schema, is reported as
  the instruction agent's fault (`agentinstruct.field_formats` has already sent such a schema back).

- `spans_in_source` (text_extraction): every extracted string value of at least 3 characters occurs in the
  source text, ignoring case, runs of whitespace and typographic quote and dash variants; values under a
  key containing "quot" (quote, quotation, quoted_text) must match exactly apart from whitespace and those
  typographic variants. Values whose schema gives an enum, a const or a format (labels, normalised dates,
  e-mails) are not spans and are skipped, as are values under a label key (type, kind, category, label,
  class, entity_type), object keys, numbers and booleans; a value's closing full stop, comma, colon or
  semicolon is not part of it. An answer with no value at all (every one null or empty) fails. Knowingly
  missed: spans that occur in the source but not in the place the answer claims, and values whose schema
  sits behind a non-local `$ref`.

- `entities_are_names` (text_extraction's `named_entities`): every extracted entity is a name or a date
  or figure: it holds a digit, or one of its words stands capitalised in the source where no sentence,
  line or clause begins, or, not a common opener ("The", "Twelve"), is never written there in lower case
  (so "The association", capitalised only at its sentence's start, and "residents who use wheelchairs"
  are no entities, run s15, while "Councillor Deborah Mwangi", "Fenwick" opening a sentence and "the
  primary school on Station Road" are). Knowingly missed: a name typed wrongly (a council as a person),
  and a figure listed as a product ("36 raised beds").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import yaml

from agentinstruct.pairs import Check
from agentinstruct.quality.checks import MAX_LISTED, Candidate, check, listed

#: extracted strings shorter than this are not checked as spans ("a", "no")
MIN_SPAN = 3

FENCE = re.compile(r"```([A-Za-z]*)[ \t]*\n(.*?)```", re.DOTALL)
TYPOGRAPHIC = str.maketrans(
    {"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "\u00a0": " "}
)


def extract_json_value(text: str) -> tuple[bool, Any]:
    """(found, value): a ```json fence first, then any fence, the whole text, the first object or array.

    Not found when a ```json fence does not parse as one value, or when values run together ("{...}
    {...}"): the first of them is not the answer.
    """
    fences = FENCE.findall(text)
    candidates = [body for lang, body in fences if lang.lower() == "json"]
    candidates += [body for lang, body in fences if lang.lower() != "json"]
    candidates.append(text)
    decoder = json.JSONDecoder()
    for candidate in candidates:
        try:
            return True, json.loads(candidate)
        except json.JSONDecodeError:
            pass
    if any(lang.lower() == "json" for lang, _ in fences):
        return False, None  # the answer's own JSON block is not one value: no part of it stands for it
    for at in (m.start() for m in re.finditer(r"[{\[]", text)):
        try:
            value, end = decoder.raw_decode(text[at:])
        except json.JSONDecodeError:
            continue
        if text[at + end :].lstrip().startswith(("{", "[")):
            return False, None  # several values run together (the local teacher's three entity objects)
        return True, value
    return False, None


def load_schema(candidate: Candidate) -> tuple[dict | None, str]:
    """The instruction agent's schema, or None and why it is unusable."""
    schema, problem = parse_schema(candidate.details.get("output_schema"))
    return schema, f"the instruction agent's output_schema {problem}" if problem else ""


def parse_schema(raw: Any) -> tuple[dict | None, str]:
    """A JSON Schema written as JSON or YAML (small models write YAML), or None and why it is unusable."""
    schema = raw if isinstance(raw, dict) else _mapping_in(str(raw or ""))
    if schema is None:
        return None, "is neither a JSON object nor a YAML mapping; the task has no usable schema"
    if not {"type", "properties", "items", "$ref", "anyOf", "oneOf", "allOf"} & set(schema):
        return None, (
            'describes no value (it has no "type", "properties" or "items"): give an object schema with '
            '"type": "object", "properties" and "required"'
        )
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as error:
        return None, f"is not a valid JSON Schema: {error.message}"
    return schema, ""


def _mapping_in(text: str) -> dict | None:
    """The first mapping a fence or the whole text holds (JSON, else YAML); else any JSON object in it."""
    fences = FENCE.findall(text)
    for body in [body for _, body in fences] + [text]:
        for parse in (json.loads, yaml.safe_load):
            try:
                value = parse(body)
            except (json.JSONDecodeError, yaml.YAMLError):
                continue
            if isinstance(value, dict):
                return value
    found, value = extract_json_value(text)
    return value if found and isinstance(value, dict) else None


@check("valid_json_for_schema")
def valid_json_for_schema(candidate: Candidate) -> Check | None:
    """The answer is one JSON value valid against the schema the instruction asked for."""
    if "output_schema" not in candidate.details:
        return None
    schema, problem = load_schema(candidate)
    if schema is None:
        return Check(name="valid_json_for_schema", ok=False, detail=problem)
    found, value = extract_json_value(candidate.answer)
    if not found:
        detail = (
            "the answer holds no single JSON value (none, a ```json block that does not parse, or several "
            "values run together); give one JSON value in a ```json block"
        )
        return Check(name="valid_json_for_schema", ok=False, detail=detail)
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        listed = "; ".join(
            f"at {'/'.join(map(str, e.absolute_path)) or 'the top level'}: {e.message}"
            for e in errors[:MAX_LISTED]
        )
        detail = f"the JSON does not follow the schema ({len(errors)} errors): {listed}"
        return Check(name="valid_json_for_schema", ok=False, detail=detail)
    return Check(
        name="valid_json_for_schema", ok=True, detail="the JSON is valid against the requested schema"
    )


def _resolve(schema: Any, root: dict, depth: int = 0) -> list[dict]:
    """A subschema with local $refs followed and anyOf/oneOf/allOf branches flattened."""
    if not isinstance(schema, dict) or depth > 8:
        return []
    branches = [schema]
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        branches += _resolve(target, root, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in schema.get(key) or []:
            branches += _resolve(branch, root, depth + 1)
    return branches


def _child(schemas: list[dict], key: str | int, root: dict) -> list[dict]:
    children: list[dict] = []
    for schema in schemas:
        if isinstance(key, int):
            prefix = schema.get("prefixItems") or []
            items = prefix[key] if key < len(prefix) else schema.get("items")
            children += _resolve(items, root)
        else:
            properties = schema.get("properties") or {}
            additional = schema.get("additionalProperties")
            children += _resolve(properties.get(key, additional), root)
    return children


#: keys whose values are labels the answer assigns ("type": "person"), not spans of the text, as when the
#: schema gives them an enum: the local schema writer left the enum out of 3 of 5 entity lists, and the
#: teacher's "type": "product" was then looked for in the text (run s11a)
LABEL_KEYS = frozenset({"type", "kind", "category", "label", "class", "entity_type"})


def _spans(value: Any, schemas: list[dict], root: dict, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """(JSON path, string) for every string value that should be a span of the source."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _spans(v, _child(schemas, str(k), root), root, (*path, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _spans(v, _child(schemas, i, root), root, (*path, i))
    elif isinstance(value, str):
        if any(("enum" in s or "const" in s or "format" in s) for s in schemas):
            return
        if path and str(path[-1]).lower() in LABEL_KEYS:
            return
        yield path, value


def _has_value(value: Any) -> bool:
    """Whether a JSON value holds at least one scalar that is not null or an empty string."""
    if isinstance(value, dict):
        return any(_has_value(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_value(v) for v in value)
    return value is not None and not (isinstance(value, str) and not value.strip())


def _loose(text: str) -> str:
    return " ".join(text.translate(TYPOGRAPHIC).lower().split())


def _exact(text: str) -> str:
    return " ".join(text.translate(TYPOGRAPHIC).split())


@check("spans_in_source")
def spans_in_source(candidate: Candidate) -> Check | None:
    """Every extracted string value occurs in the source; quotes exactly, apart from whitespace."""
    found, value = extract_json_value(candidate.answer)
    if not found:
        return None  # valid_json_for_schema reports the missing JSON
    schema, _ = load_schema(candidate) if "output_schema" in candidate.details else ({}, "")
    schema = schema or {}
    loose_source, exact_source = _loose(candidate.content), _exact(candidate.content)
    missing, checked = [], 0
    for path, text in _spans(value, _resolve(schema, schema), schema):
        # a value's closing full stop or comma is not part of it: the local teacher wrote a clause that
        # ends in a comma in the text ("... the fewest existing trees, starting with") with a full stop
        span = text.strip().strip("\"'“”‘’").strip().rstrip(".,;:").rstrip()
        if len(span) < MIN_SPAN:
            continue
        checked += 1
        key = next((str(p) for p in reversed(path) if isinstance(p, str)), "")
        ok = _exact(span) in exact_source if "quot" in key.lower() else _loose(span) in loose_source
        if not ok:
            missing.append(f"{'/'.join(map(str, path))}: {span}" if path else span)
    if not _has_value(value):
        detail = "the answer extracts nothing (every value is null or empty); copy the values the text gives"
        return Check(name="spans_in_source", ok=False, detail=detail)
    if missing:
        detail = (
            f"{len(missing)} extracted values do not occur in the text: {listed(missing)}; copy spans "
            "exactly as they are written in the text (quotes word for word)"
        )
        return Check(name="spans_in_source", ok=False, detail=detail)
    return Check(
        name="spans_in_source", ok=True, detail=f"all {checked} extracted text values occur in the text"
    )


#: instruction types whose extracted values are named entities (`entities_are_names`)
ENTITY_TYPES = frozenset({"named_entities"})
#: what may stand before a word that begins a sentence, line or clause, so its capital proves nothing
OPENING = re.compile(r"(?:^|[.!?:;\n#*>|\-\"“(]\s*|\n\s*(?:\d+[.)]|[-*•])\s+)$")


#: capitalised words that open sentences without being names
OPENERS = {
    *["the", "a", "an", "this", "that", "these", "those", "it", "its", "in", "on", "at", "for", "of", "and"],
    *["but", "or", "if", "when", "while", "after", "before", "as", "by", "with", "from", "to", "we", "they"],
    *["he", "she", "our", "their", "his", "her", "there", "some", "all", "each", "every", "most", "many"],
    *["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"],
    *["twenty", "thirty", "forty", "fifty", "hundred", "thousand", "first", "second", "third", "last"],
}


def _named_in(word: str, source: str) -> bool:
    """Whether `word` (capitalised) is a name in the source: capitalised where no sentence or line
    begins, or, not a common opener, never written there in lower case."""
    seen_lower = re.search(rf"(?<![\w-]){re.escape(word.lower())}(?![\w-])", source) is not None
    if not seen_lower and word.lower() not in OPENERS:
        return True
    for match in re.finditer(rf"(?<![\w-]){re.escape(word)}(?![\w-])", source):
        if not OPENING.search(source[max(0, match.start() - 12) : match.start()]):
            return True
    return False


@check("entities_are_names")
def entities_are_names(candidate: Candidate) -> Check | None:
    """Every extracted entity of a named-entity task is a name, a date or a figure (module doc)."""
    if candidate.instruction_type not in ENTITY_TYPES:
        return None
    found, value = extract_json_value(candidate.answer)
    if not found:
        return None  # valid_json_for_schema reports the missing JSON
    schema, _ = load_schema(candidate) if "output_schema" in candidate.details else ({}, "")
    schema = schema or {}
    source = candidate.content.translate(TYPOGRAPHIC)
    common = []
    for _, text in _spans(value, _resolve(schema, schema), schema):
        span = text.strip().translate(TYPOGRAPHIC)
        if len(span) < MIN_SPAN or any(c.isdigit() for c in span):
            continue
        # read as the source writes it: spans are matched without case ("alder creek")
        words = [w[0].upper() + w[1:] for w in re.findall(r"[^\W\d_][\w'-]*", span)]
        if not any(_named_in(w, source) for w in words) and span not in common:
            common.append(span)
    if common:
        detail = (
            f"{listed(common)} {'are' if len(common) > 1 else 'is'} no named entity (no word of it is a "
            "name in the text); list only names of people, organisations, places and products, dates and "
            "figures"
        )
        return Check(name="entities_are_names", ok=False, detail=detail)
    return Check(name="entities_are_names", ok=True, detail="every entity is a name, a date or a figure")


# -- open_domain_qa -----------------------------------------------------------------------------------------
