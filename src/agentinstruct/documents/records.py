"""The records document ingestion produces: `Document`, `Seed` and `DocumentFailure`.

Only plain frozen dataclasses and the id helpers live here; reading files is in the reader modules,
walking inputs in `sources`, and splitting documents into seeds in `chunking`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

DEFAULT_MAX_BYTES = 20_000_000

FAILURE_REASONS = frozenset(
    {
        "not_found",
        "permission",
        "binary",
        "empty",
        "encoding",
        "too_large",
        "unsupported",
        "parse_error",
        "missing_field",
    }
)


@dataclass(frozen=True)
class Document:
    """One extracted document: a file, or one row of a .jsonl/.parquet file.

    `kind` is "text" (prose, markup, table rows), "code" (source files) or "api" (an OpenAPI/Swagger spec
    rendered as text by `api_readers`); it decides how the document is chunked and which skills take it.
    """

    id: str
    source: str
    sha256: str
    text: str = field(repr=False)
    kind: str
    language: str | None = None


@dataclass(frozen=True)
class Seed:
    """A chunk of a document; `text == document.text[span[0]:span[1]]` always holds."""

    id: str
    document: Document = field(repr=False)
    span: tuple[int, int]
    text: str

    @property
    def kind(self) -> str:
        """The kind ("text", "code" or "api") of the document this seed came from."""
        return self.document.kind


@dataclass(frozen=True)
class DocumentFailure:
    """An input that produced no document; `detail` says what is wrong and how to fix it."""

    source: str
    reason: str
    detail: str

    def __post_init__(self) -> None:
        if self.reason not in FAILURE_REASONS:
            raise ValueError(f"unknown failure reason {self.reason!r}; use one of {sorted(FAILURE_REASONS)}")


def sha256_hex(data: bytes) -> str:
    """Return the full hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def content_id(text: str) -> str:
    """Return the stable content id of `text`: the first 16 hex digits of its utf-8 sha256."""
    return sha256_hex(text.encode("utf-8"))[:16]


def make_document(*, source: str, raw_sha256: str, text: str, kind: str, language: str | None) -> Document:
    """Build a `Document` whose id is derived from `text`."""
    return Document(
        id=content_id(text), source=source, sha256=raw_sha256, text=text, kind=kind, language=language
    )


def make_seed(document: Document, start: int, end: int) -> Seed:
    """Build the `Seed` covering `document.text[start:end]`."""
    return Seed(
        id=f"{document.id}:{start}-{end}", document=document, span=(start, end), text=document.text[start:end]
    )
