"""Reader for API documentation: OpenAPI 3 and Swagger 2 specs in .json, .yaml and .yml files.

A spec becomes one document of kind "api" whose text is a compact, readable rendering of its operations,
made for an LLM prompt rather than for a machine: a "# Title" header (version, description, base URL,
authentication), then one "## group" section per tag (or first path segment when untagged), and in it one
paragraph per operation — method, path, operationId, summary, parameters with location, type and
required/optional, the request body and the responses with their schemas written inline in a
TypeScript-like notation (`{id: integer, title: string, tags?: [string]}`, `?` marks optional fields).
Local `$ref`s are resolved (recursion and depth are capped); external ones are shown by name.
Because operations are blank-line separated paragraphs and groups are Markdown headings, the prose chunker
splits a large spec into seeds at group boundaries, then between operations.

A .json/.yaml/.yml file that is not an API spec (no top-level `openapi` or `swagger` key) is reported as
"unsupported", as any unknown suffix is; one that is but does not parse is a "parse_error". Markdown API
documentation needs nothing from here: it is read as a text document by `PlainTextReader`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from agentinstruct.documents.decoding import decode_text, empty_failure, read_file_bytes
from agentinstruct.documents.readers import Reader
from agentinstruct.documents.records import (
    DEFAULT_MAX_BYTES,
    Document,
    DocumentFailure,
    make_document,
    sha256_hex,
)

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
MAX_SCHEMA_DEPTH = 3
MAX_PROPERTIES = 15
MAX_ENUM_VALUES = 8
MAX_SCHEMA_CHARS = 600
MAX_DESCRIPTION_CHARS = 300
MAX_HEADER_DESCRIPTION_CHARS = 600

_SPACES = re.compile(r"\s+")
#: the first line of a rendered operation ("GET /books/{isbn} ..."); chunking keeps one in every seed
OPERATION_LINE = re.compile(r"^(?:" + "|".join(m.upper() for m in HTTP_METHODS) + r") /", re.MULTILINE)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class OpenApiReader(Reader):
    """OpenAPI 3.x / Swagger 2.0 specs (JSON or YAML), rendered as readable text of kind "api"."""

    suffixes = (".json", ".yaml", ".yml")
    kind = "api"

    def read(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        text_field: str = "text",
    ) -> Iterator[Document | DocumentFailure]:
        """Yield the rendered spec in `path`, or one failure saying why there is none."""
        source = os.fspath(path)
        raw = read_file_bytes(source, max_bytes)
        if isinstance(raw, DocumentFailure):
            yield raw
            return
        text = decode_text(raw, source)
        if isinstance(text, DocumentFailure):
            yield text
            return
        spec = load_api_spec(text, source)
        if isinstance(spec, DocumentFailure):
            yield spec
            return
        rendered, operations = render_api_spec(spec)
        if operations == 0:
            yield empty_failure(source, "its API spec describes no operations (no paths with methods)")
            return
        yield make_document(
            source=source,
            raw_sha256=sha256_hex(raw),
            text=rendered,
            kind=self.kind,
            language="swagger" if "swagger" in spec else "openapi",
        )


def _not_an_api_spec(source: str, what: str) -> DocumentFailure:
    return DocumentFailure(
        source,
        "unsupported",
        f"{source} is {what}, not an OpenAPI or Swagger spec (no top-level 'openapi' or 'swagger' key); "
        ".json/.yaml/.yml files are read only as API specs: put JSON records in a .jsonl file with a "
        "text field, or leave the file out.",
    )


def load_api_spec(text: str, source: str) -> dict[str, Any] | DocumentFailure:
    """Parse `text` as an OpenAPI 3 / Swagger 2 spec, or explain why it is not one."""
    is_json = Path(source).suffix.lower() == ".json"
    kind = "JSON" if is_json else "YAML"
    if "openapi" not in text and "swagger" not in text:  # cheap: skip parsing data files that cannot be specs
        return _not_an_api_spec(source, f"a {kind} file")
    try:
        data = json.loads(text) if is_json else yaml.load(text, Loader=_LOADER)  # a safe loader
    except json.JSONDecodeError as error:
        return DocumentFailure(
            source,
            "parse_error",
            f"{source} is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}); "
            "fix the syntax.",
        )
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        return DocumentFailure(
            source, "parse_error", f"{source} is not valid YAML ({problem}{where}); fix the syntax."
        )
    except RecursionError:
        return DocumentFailure(source, "parse_error", f"{source} is nested too deeply to parse; simplify it.")
    if not isinstance(data, dict) or not ({"openapi", "swagger"} & set(data)):
        return _not_an_api_spec(source, f"a {kind} file")
    version = str(data.get("openapi") or data.get("swagger"))
    if not (
        ("openapi" in data and version.startswith("3")) or ("swagger" in data and version.startswith("2"))
    ):
        return DocumentFailure(
            source,
            "unsupported",
            f"{source} declares API spec version {version!r}; only OpenAPI 3.x and Swagger 2.0 are read — "
            "convert it (e.g. with swagger2openapi).",
        )
    return data


def render_api_spec(spec: Mapping[str, Any]) -> tuple[str, int]:
    """The readable text of a parsed spec and the number of operations it holds."""
    renderer = _Renderer(spec)
    groups: dict[str, list[str]] = {}
    operations = 0
    paths = spec.get("paths")
    for path, item in paths.items() if isinstance(paths, Mapping) else []:
        item = renderer.resolve(item)
        if not isinstance(item, Mapping):
            continue
        shared = item.get("parameters") if isinstance(item.get("parameters"), list) else []
        for method in HTTP_METHODS:
            operation = renderer.resolve(item.get(method))
            if not isinstance(operation, Mapping):
                continue
            operations += 1
            groups.setdefault(_group_of(str(path), operation), []).append(
                renderer.operation(method, str(path), operation, shared)
            )
    tag_descriptions = {
        str(tag.get("name")): _clean(tag.get("description"), MAX_DESCRIPTION_CHARS)
        for tag in spec.get("tags") or []
        if isinstance(tag, Mapping)
    }
    parts = [renderer.header()]
    for group, blocks in groups.items():
        heading = f"## {group}"
        if tag_descriptions.get(group):
            heading += f"\n{tag_descriptions[group]}"
        parts.append(heading)
        parts.extend(blocks)
    return "\n\n".join(part for part in parts if part), operations


def _group_of(path: str, operation: Mapping[str, Any]) -> str:
    tags = operation.get("tags")
    if isinstance(tags, list) and tags and str(tags[0]).strip():
        return _clean(tags[0], 80)
    segment = next((s for s in path.split("/") if s and not s.startswith("{")), "")
    return segment or "root"


def _clean(value: Any, limit: int) -> str:
    """One line of text: whitespace collapsed, leading '#' dropped (no fake headings), capped at `limit`."""
    if value is None:
        return ""
    text = _SPACES.sub(" ", str(value)).strip().lstrip("#").strip()
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


class _Renderer:
    """Renders the parts of one spec; holds the spec for `$ref` resolution."""

    def __init__(self, spec: Mapping[str, Any]):
        self.spec = spec
        self.swagger = "swagger" in spec

    # -- references ------------------------------------------------------------------------------
    def resolve(self, node: Any, seen: frozenset[str] = frozenset()) -> Any:
        """Follow local `$ref`s (up to a few hops); an unresolvable one is returned as is."""
        for _ in range(8):
            if not isinstance(node, Mapping) or not isinstance(node.get("$ref"), str):
                return node
            reference = node["$ref"]
            if not reference.startswith("#/") or reference in seen:
                return node
            target: Any = self.spec
            for token in reference[2:].split("/"):
                token = token.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, Mapping) or token not in target:
                    return node
                target = target[token]
            node, seen = target, seen | {reference}
        return node

    # -- header ----------------------------------------------------------------------------------
    def header(self) -> str:
        info = self.spec.get("info") if isinstance(self.spec.get("info"), Mapping) else {}
        title = _clean(info.get("title"), 120) or "API"
        version = _clean(info.get("version"), 40)
        kind = (
            f"Swagger {self.spec.get('swagger')}" if self.swagger else f"OpenAPI {self.spec.get('openapi')}"
        )
        lines = [f"# {title}" + (f" {version}" if version else "") + f" ({kind})"]
        description = _clean(info.get("description"), MAX_HEADER_DESCRIPTION_CHARS)
        if description:
            lines.append(description)
        base = self._base_url()
        if base:
            lines.append(f"Base URL: {base}")
        auth = self._authentication()
        if auth:
            lines.append(f"Authentication: {auth}")
        return "\n".join(lines)

    def _base_url(self) -> str:
        if self.swagger:
            host = self.spec.get("host")
            if not host:
                return _clean(self.spec.get("basePath"), 200)
            schemes = self.spec.get("schemes") or ["https"]
            return f"{schemes[0]}://{host}{self.spec.get('basePath') or ''}"
        servers = self.spec.get("servers")
        if isinstance(servers, list) and servers and isinstance(servers[0], Mapping):
            return _clean(servers[0].get("url"), 200)
        return ""

    def _authentication(self) -> str:
        components = self.spec.get("components") if isinstance(self.spec.get("components"), Mapping) else {}
        schemes = self.spec.get("securityDefinitions") if self.swagger else components.get("securitySchemes")
        if not isinstance(schemes, Mapping):
            return ""
        described = []
        for name, scheme in list(schemes.items())[:4]:
            scheme = self.resolve(scheme)
            if not isinstance(scheme, Mapping):
                continue
            kind = str(scheme.get("type", "?"))
            if kind == "apiKey":
                kind = f"API key in {scheme.get('in', '?')} '{scheme.get('name', '?')}'"
            elif kind == "http":
                kind = f"HTTP {scheme.get('scheme', '')}".strip()
            described.append(f"{name} ({kind})")
        return "; ".join(described)

    # -- operations ------------------------------------------------------------------------------
    def operation(self, method: str, path: str, operation: Mapping[str, Any], shared: list[Any]) -> str:
        title = f"{method.upper()} {path}"
        if operation.get("operationId"):
            title += f" (operationId: {_clean(operation['operationId'], 100)})"
        if operation.get("deprecated"):
            title += " [deprecated]"
        lines = [title]
        summary = _clean(operation.get("summary"), MAX_DESCRIPTION_CHARS)
        description = _clean(operation.get("description"), MAX_DESCRIPTION_CHARS)
        if summary:
            lines.append(f"Summary: {summary}")
        if description and description != summary:
            lines.append(f"Description: {description}")
        parameters, body = self._parameters(operation, shared)
        if parameters:
            lines.append("Parameters:")
            lines.extend(parameters)
        lines.extend(body or self._request_body(operation))
        lines.extend(self._responses(operation))
        return "\n".join(lines)

    def _parameters(self, operation: Mapping[str, Any], shared: list[Any]) -> tuple[list[str], list[str]]:
        """Parameter lines, and (Swagger 2) the request-body lines of an `in: body` parameter."""
        merged: dict[tuple[str, str], Mapping[str, Any]] = {}
        own = operation.get("parameters") if isinstance(operation.get("parameters"), list) else []
        for parameter in [*shared, *own]:
            parameter = self.resolve(parameter)
            if isinstance(parameter, Mapping) and parameter.get("name"):
                merged[(str(parameter.get("name")), str(parameter.get("in")))] = parameter
        lines: list[str] = []
        body: list[str] = []
        for (name, location), parameter in merged.items():
            required = bool(parameter.get("required")) or location == "path"
            if location == "body":
                consumes = operation.get("consumes") or self.spec.get("consumes") or ["application/json"]
                media = str(consumes[0]) if isinstance(consumes, list) and consumes else "application/json"
                body = self._body_lines(media, parameter.get("schema"), required, parameter)
                continue
            schema = parameter.get("schema") if isinstance(parameter.get("schema"), Mapping) else parameter
            details = [location, self.schema_text(schema), "required" if required else "optional"]
            default = schema.get("default") if isinstance(schema, Mapping) else None
            if default is not None:
                details.append(f"default {json.dumps(default, default=str)}")
            text = f"- {name} ({', '.join(details)})"
            description = _clean(parameter.get("description"), MAX_DESCRIPTION_CHARS)
            lines.append(text + (f": {description}" if description else ""))
        return lines, body

    def _request_body(self, operation: Mapping[str, Any]) -> list[str]:
        body = self.resolve(operation.get("requestBody"))
        if not isinstance(body, Mapping):
            return []
        media, schema = _pick_media(body.get("content"))
        return self._body_lines(media, schema, bool(body.get("required")), body)

    def _body_lines(self, media: str, schema: Any, required: bool, holder: Mapping[str, Any]) -> list[str]:
        label = ", ".join(p for p in (media, "required" if required else "optional") if p)
        description = _clean(holder.get("description"), MAX_DESCRIPTION_CHARS)
        fields = self._field_lines(schema)
        head = f"Request body ({label})"
        if schema:
            head += f": {self._short_label(schema) if fields else self.schema_text(schema)}"
        return [head + (f" — {description}" if description else ""), *fields]

    def _responses(self, operation: Mapping[str, Any]) -> list[str]:
        responses = operation.get("responses")
        if not isinstance(responses, Mapping) or not responses:
            return []
        lines = ["Responses:"]
        detailed = False
        for code, response in list(responses.items())[:8]:
            response = self.resolve(response)
            if not isinstance(response, Mapping):
                continue
            if self.swagger:
                media, schema = "", response.get("schema")
            else:
                media, schema = _pick_media(response.get("content"))
            text = f"- {code}"
            if media:
                text += f" ({media})"
            description = _clean(response.get("description"), MAX_DESCRIPTION_CHARS)
            if description:
                text += f": {description}"
            fields = self._field_lines(schema) if not detailed and str(code).startswith("2") else []
            if schema:
                text += f" → {self._short_label(schema) if fields else self.schema_text(schema)}"
            lines.append(text)
            lines.extend(fields)
            detailed = detailed or bool(fields)
        return lines if len(lines) > 1 else []

    def _field_lines(self, schema: Any) -> list[str]:
        """Indented lines for the top-level fields of an object schema that has field descriptions."""
        schema = self.resolve(schema)
        if isinstance(schema, Mapping) and _type_of(schema) == "array":
            schema = self.resolve(schema.get("items"))
        properties, required = self._properties(schema)
        resolved_fields = [self.resolve(p) for p in properties.values()]
        if not any(isinstance(p, Mapping) and p.get("description") for p in resolved_fields):
            return []
        lines = []
        for name, field in list(properties.items())[:MAX_PROPERTIES]:
            resolved = self.resolve(field)
            description = _clean(resolved.get("description"), 160) if isinstance(resolved, Mapping) else ""
            text = f"  - {name}{'' if name in required else '?'}: {self.schema_text(field, depth=2)}"
            lines.append(text + (f" — {description}" if description else ""))
        return lines

    # -- schemas ---------------------------------------------------------------------------------
    def _short_label(self, schema: Any) -> str:
        """The name of an object (or array-of-objects) schema whose fields are listed on their own lines."""
        if isinstance(schema, Mapping) and _type_of(schema) == "array" and "$ref" not in schema:
            return f"[{self._short_label(schema.get('items'))}]"
        if isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str):
            return schema["$ref"].rsplit("/", 1)[-1] or "object"
        return "object"

    def _properties(self, schema: Any) -> tuple[dict[str, Any], set[str]]:
        """Properties and required names of an object schema, merging `allOf` parts."""
        schema = self.resolve(schema)
        if not isinstance(schema, Mapping):
            return {}, set()
        properties: dict[str, Any] = {}
        required: set[str] = set()
        for part in schema.get("allOf") or []:
            more, needed = self._properties(part)
            properties.update(more)
            required |= needed
        if isinstance(schema.get("properties"), Mapping):
            properties.update(schema["properties"])
        if isinstance(schema.get("required"), list):
            required |= {str(r) for r in schema["required"]}
        return properties, required

    def schema_text(self, schema: Any, depth: int = 0, seen: frozenset[str] = frozenset()) -> str:
        """A schema in compact inline notation, capped at `MAX_SCHEMA_CHARS`."""
        text = self._schema(schema, depth, seen)
        return text if len(text) <= MAX_SCHEMA_CHARS else text[: MAX_SCHEMA_CHARS - 4] + " ..."

    def _schema(self, schema: Any, depth: int, seen: frozenset[str]) -> str:
        if not isinstance(schema, Mapping):
            return "any"
        reference = schema.get("$ref")
        if isinstance(reference, str):
            name = reference.rsplit("/", 1)[-1] or reference
            target = self.resolve(schema)
            if target is schema or reference in seen or depth >= MAX_SCHEMA_DEPTH:
                return name
            inner = self._schema(target, depth, seen | {reference})
            return f"{name} {inner}" if inner.startswith("{") else inner
        for combinator, joiner in (("oneOf", " | "), ("anyOf", " | ")):
            if isinstance(schema.get(combinator), list) and schema[combinator]:
                return joiner.join(self._schema(s, depth + 1, seen) for s in schema[combinator][:6])
        text = self._typed(schema, depth, seen)
        if schema.get("nullable"):
            text += " | null"
        return text

    def _typed(self, schema: Mapping[str, Any], depth: int, seen: frozenset[str]) -> str:
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            values = [
                json.dumps(v, default=str, ensure_ascii=False) for v in schema["enum"][:MAX_ENUM_VALUES]
            ]
            more = " | ..." if len(schema["enum"]) > MAX_ENUM_VALUES else ""
            return " | ".join(values) + more
        kind = _type_of(schema)
        if isinstance(schema.get("type"), list):
            return " | ".join(str(t) for t in schema["type"])
        if kind == "array":
            return f"[{self._schema(schema.get('items'), depth + 1, seen)}]"
        if kind == "object":
            properties, required = self._properties(schema)
            extra = schema.get("additionalProperties")
            if not properties:
                if isinstance(extra, Mapping):
                    return f"map of {self._schema(extra, depth + 1, seen)}"
                return "object"
            if depth >= MAX_SCHEMA_DEPTH:
                return "object"
            fields = [
                f"{name}{'' if name in required else '?'}: {self._schema(field, depth + 1, seen)}"
                for name, field in list(properties.items())[:MAX_PROPERTIES]
            ]
            if len(properties) > MAX_PROPERTIES:
                fields.append("...")
            return "{" + ", ".join(fields) + "}"
        notes = [str(schema["format"])] if schema.get("format") else []
        for key, word in (("minimum", "min"), ("maximum", "max"), ("minLength", "min length")):
            if isinstance(schema.get(key), (int, float)) and not isinstance(schema.get(key), bool):
                notes.append(f"{word} {schema[key]}")
        if isinstance(schema.get("maxLength"), int):
            notes.append(f"max length {schema['maxLength']}")
        return (kind or "any") + (f"({', '.join(notes)})" if notes else "")


def _type_of(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "allOf" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return ""


def _pick_media(content: Any) -> tuple[str, Any]:
    """The (media type, schema) of a content map, preferring JSON."""
    if not isinstance(content, Mapping) or not content:
        return "", None
    media = next((m for m in content if "json" in str(m)), next(iter(content)))
    entry = content[media]
    return str(media), entry.get("schema") if isinstance(entry, Mapping) else None
