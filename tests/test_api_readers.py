"""API-documentation seeds: OpenAPI 3 / Swagger 2 specs read into documents of kind "api"."""

from __future__ import annotations

import json
from pathlib import Path

from agentinstruct.documents import (
    Document,
    DocumentFailure,
    OpenApiReader,
    chunk_document,
    iter_documents,
    reader_for,
    supported_suffixes,
)

BOOKSHOP = """\
openapi: 3.0.3
info:
  title: Bookshop API
  version: 1.2.0
  description: |
    Search the catalogue of a small bookshop,
    check stock and reserve books for pickup.
servers:
  - url: https://api.bookshop.example/v1
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-API-Key}
  schemas:
    Book:
      type: object
      required: [isbn, title, price]
      properties:
        isbn: {type: string, description: ISBN-13 of the edition}
        title: {type: string, description: Full title}
        authors: {type: array, items: {type: string}, description: Author names}
        price: {type: number, description: Price in EUR}
    Order:
      type: object
      required: [order_id, status]
      properties:
        order_id: {type: string}
        status: {type: string, enum: [reserved, ready, collected]}
        next: {$ref: "#/components/schemas/Order"}
tags:
  - name: catalogue
    description: Finding books.
paths:
  /books:
    get:
      tags: [catalogue]
      operationId: searchBooks
      summary: Search books by title, author or keyword.
      parameters:
        - {name: q, in: query, required: true, schema: {type: string}, description: Words to search for}
        - {name: limit, in: query, schema: {type: integer, default: 10, maximum: 50}}
      responses:
        "200":
          description: Matching books.
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Book"}}
  /books/{isbn}:
    parameters:
      - {name: isbn, in: path, required: true, schema: {type: string}, description: ISBN-13}
    get:
      tags: [catalogue]
      operationId: getBook
      responses:
        "200":
          description: The book.
          content: {application/json: {schema: {$ref: "#/components/schemas/Book"}}}
        "404": {description: No book with that ISBN.}
  /orders:
    post:
      tags: [orders]
      operationId: createOrder
      summary: Reserve copies of a book for pickup.
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [isbn, quantity]
              properties:
                isbn: {type: string}
                quantity: {type: integer, minimum: 1}
      responses:
        "201":
          description: Created.
          content: {application/json: {schema: {$ref: "#/components/schemas/Order"}}}
"""

PETSTORE = {
    "swagger": "2.0",
    "info": {"title": "Petstore", "version": "1.0"},
    "host": "petstore.example.com",
    "basePath": "/api",
    "schemes": ["https"],
    "definitions": {
        "Pet": {
            "type": "object",
            "required": ["name"],
            "properties": {"id": {"type": "integer", "format": "int64"}, "name": {"type": "string"}},
        }
    },
    "parameters": {"petId": {"name": "petId", "in": "path", "required": True, "type": "integer"}},
    "paths": {
        "/pets": {
            "get": {
                "operationId": "listPets",
                "summary": "List pets",
                "parameters": [
                    {"name": "status", "in": "query", "type": "string", "enum": ["available", "sold"]},
                ],
                "responses": {
                    "200": {
                        "description": "A list",
                        "schema": {"type": "array", "items": {"$ref": "#/definitions/Pet"}},
                    }
                },
            },
            "post": {
                "operationId": "addPet",
                "parameters": [
                    {"name": "pet", "in": "body", "required": True, "schema": {"$ref": "#/definitions/Pet"}}
                ],
                "responses": {"201": {"description": "Created"}},
            },
        },
        "/pets/{petId}": {
            "parameters": [{"$ref": "#/parameters/petId"}],
            "delete": {"operationId": "deletePet", "responses": {"204": {"description": "Deleted"}}},
        },
    },
}


def _read(path: Path) -> list[Document | DocumentFailure]:
    return list(iter_documents([str(path)]))


def test_openapi_3_yaml_is_read_as_an_api_document(tmp_path):
    path = tmp_path / "bookshop.yaml"
    path.write_text(BOOKSHOP)
    [document] = _read(path)
    assert isinstance(document, Document)
    assert document.kind == "api" and document.language == "openapi"
    text = document.text
    assert text.startswith(
        "# Bookshop API 1.2.0 (OpenAPI 3.0.3)\nSearch the catalogue of a small bookshop, check"
    )
    assert "Base URL: https://api.bookshop.example/v1" in text
    assert "Authentication: key (API key in header 'X-API-Key')" in text
    assert "## catalogue\nFinding books." in text and "## orders" in text
    assert "GET /books (operationId: searchBooks)\nSummary: Search books by title, author or keyword." in text
    assert "- q (query, string, required): Words to search for" in text
    assert "- limit (query, integer(max 50), optional, default 10)" in text
    assert "- 200 (application/json): Matching books. → [Book]" in text
    assert "  - price: number — Price in EUR" in text and "  - authors?: [string] — Author names" in text
    assert (
        "GET /books/{isbn} (operationId: getBook)\nParameters:\n- isbn (path, string, required): ISBN-13"
        in text
    )
    assert "- 404: No book with that ISBN." in text
    assert "Request body (application/json, required): {isbn: string, quantity: integer(min 1)}" in text
    # recursive schemas stop at the repeated reference
    assert 'Order {order_id: string, status: "reserved" | "ready" | "collected", next?: Order}' in text


def test_swagger_2_json_is_read_as_an_api_document(tmp_path):
    path = tmp_path / "petstore.json"
    path.write_text(json.dumps(PETSTORE))
    [document] = _read(path)
    assert isinstance(document, Document) and document.kind == "api" and document.language == "swagger"
    text = document.text
    assert text.startswith("# Petstore 1.0 (Swagger 2.0)\nBase URL: https://petstore.example.com/api")
    assert '- status (query, "available" | "sold", optional)' in text
    assert "- 200: A list → [Pet {id?: integer(int64), name: string}]" in text
    assert "POST /pets (operationId: addPet)\nRequest body (application/json, required): Pet {" in text
    assert (
        "DELETE /pets/{petId} (operationId: deletePet)\nParameters:\n- petId (path, integer, required)"
        in text
    )


def test_json_and_yaml_files_that_are_not_api_specs_are_unsupported(tmp_path):
    (tmp_path / "package.json").write_text('{"name": "demo", "version": "1.0.0"}')
    (tmp_path / "compose.yml").write_text("services:\n  web:\n    image: nginx\n")
    (tmp_path / "list.yaml").write_text("- openapi\n- swagger\n")  # mentions the words, is no spec
    (tmp_path / "old.json").write_text('{"swagger": "1.2", "apis": []}')
    failures = _read(tmp_path)
    assert [Path(f.source).name for f in failures] == ["compose.yml", "list.yaml", "old.json", "package.json"]
    assert all(isinstance(f, DocumentFailure) and f.reason == "unsupported" for f in failures)
    assert "package.json is a JSON file, not an OpenAPI or Swagger spec" in failures[-1].detail
    assert ".jsonl" in failures[-1].detail
    assert "compose.yml is a YAML file, not an OpenAPI or Swagger spec" in failures[0].detail
    assert "version '1.2'; only OpenAPI 3.x and Swagger 2.0" in failures[2].detail


def test_broken_specs_are_parse_errors_and_empty_specs_are_empty(tmp_path):
    (tmp_path / "broken.yaml").write_text("openapi: 3.0.0\ninfo: [unclosed\n")
    (tmp_path / "broken.json").write_text('{"openapi": "3.0.0", "info": }')
    (tmp_path / "nopaths.yml").write_text('openapi: 3.1.0\ninfo: {title: x, version: "1"}\npaths: {}\n')
    broken_json, broken_yaml, empty = _read(tmp_path)
    assert broken_yaml.reason == "parse_error" and "is not valid YAML" in broken_yaml.detail
    assert "line 3" in broken_yaml.detail
    assert broken_json.reason == "parse_error" and "is not valid JSON" in broken_json.detail
    assert empty.reason == "empty" and "no operations" in empty.detail


def test_the_reader_is_registered_for_json_and_yaml():
    for name in ("spec.json", "spec.yaml", "SPEC.YML"):
        assert isinstance(reader_for(name), OpenApiReader)
    assert {".json", ".yaml", ".yml"} <= set(supported_suffixes())
    assert reader_for("rows.jsonl") is not None and not isinstance(reader_for("rows.jsonl"), OpenApiReader)


def test_large_specs_are_split_into_seeds_by_operation_group(tmp_path):
    paths = {}
    for group in ("authors", "books", "orders", "stores"):
        for number in range(6):
            paths[f"/{group}/op{number}"] = {
                "get": {
                    "tags": [group],
                    "operationId": f"{group}Op{number}",
                    "summary": f"Operation {number} on {group}: " + "a summary of some length. " * 3,
                    "parameters": [
                        {"name": "id", "in": "query", "required": True, "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": {"description": "OK", "content": {"application/json": {"schema": {}}}}
                    },
                }
            }
    path = tmp_path / "big.json"
    path.write_text(
        json.dumps({"openapi": "3.0.0", "info": {"title": "Big", "version": "1"}, "paths": paths})
    )
    [document] = _read(path)
    seeds = chunk_document(document, max_chars=1200, min_chars=200)
    assert len(seeds) >= 3
    assert seeds[0].text.startswith(
        "# Big 1 (OpenAPI 3.0.0)\n\n## authors"
    )  # the header travels with a group
    for seed in seeds:
        assert seed.kind == "api" and seed.text == document.text[seed.span[0] : seed.span[1]]
        assert len(seed.text) <= 1800
        # seeds start at a group heading or at an operation, never inside one
        assert seed.text.startswith(("# ", "## ", "GET "))
        assert "GET /" in seed.text  # every seed offers an operation (the header never stands alone)
    starts = [seed.text.split("\n", 1)[0] for seed in seeds]
    assert [start for start in starts if start.startswith("## ")] == ["## books", "## orders", "## stores"]


def test_a_spec_header_never_becomes_a_seed_of_its_own(tmp_path):
    spec = {
        "openapi": "3.0.0",
        "info": {"title": "Long", "version": "1", "description": "A long introduction. " * 25},
        "paths": {
            "/a": {"get": {"tags": ["first"], "summary": "Does a thing. " * 20}},
            "/b": {"get": {"tags": ["second"], "summary": "Does another thing. " * 14}},
        },
    }
    path = tmp_path / "long.json"
    path.write_text(json.dumps(spec))
    [document] = _read(path)
    seeds = chunk_document(document, max_chars=2000, min_chars=200)
    assert [s.text.split("\n", 1)[0] for s in seeds] == ["# Long 1 (OpenAPI 3.0.0)", "## second"]
    assert "GET /a" in seeds[0].text
