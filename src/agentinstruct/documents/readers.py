"""The `Reader` base class and the readers for plain text and source code.

A reader turns one file into documents (or failures). HTML and PDF readers live in `markup_readers`,
the .jsonl/.parquet readers in `tabular_readers`, and the suffix lookup (`reader_for`) in `registry`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from agentinstruct.documents.decoding import decode_text, read_file_bytes
from agentinstruct.documents.records import (
    DEFAULT_MAX_BYTES,
    Document,
    DocumentFailure,
    make_document,
    sha256_hex,
)


class Reader:
    """Reads files with one of `suffixes` into documents of `kind` ("text", "code" or "api").

    Single-file readers only override `extract`; readers that yield many documents per file
    (tables) override `read`.
    """

    suffixes: tuple[str, ...] = ()
    kind: str = "text"

    def language_for(self, path: str) -> str | None:
        """The language recorded on documents read from `path`."""
        return None

    def extract(self, raw: bytes, source: str) -> str | DocumentFailure:
        """Turn the raw bytes of a file into newline-normalised text, or explain why not."""
        return decode_text(raw, source)

    def read(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        text_field: str = "text",
    ) -> Iterator[Document | DocumentFailure]:
        """Yield the document in `path`, or one failure saying why there is none."""
        source = os.fspath(path)
        raw = read_file_bytes(source, max_bytes)
        if isinstance(raw, DocumentFailure):
            yield raw
            return
        text = self.extract(raw, source)
        if isinstance(text, DocumentFailure):
            yield text
            return
        yield make_document(
            source=source,
            raw_sha256=sha256_hex(raw),
            text=text,
            kind=self.kind,
            language=self.language_for(source),
        )


def _suffix(path: str) -> str:
    return Path(path).suffix.lower()


class PlainTextReader(Reader):
    """Plain text, Markdown and reStructuredText files, read verbatim."""

    LANGUAGES: ClassVar[dict[str, str]] = {
        ".txt": "plain",
        ".text": "plain",
        ".md": "markdown",
        ".markdown": "markdown",
        ".rst": "rst",
    }
    suffixes = tuple(LANGUAGES)
    kind = "text"

    def language_for(self, path: str) -> str | None:
        """ "plain", "markdown" or "rst" depending on the suffix."""
        return self.LANGUAGES.get(_suffix(path), "plain")


class CodeReader(Reader):
    """Source files, read verbatim and tagged with their programming language."""

    LANGUAGES: ClassVar[dict[str, str]] = {
        ".py": "python",
        ".pyi": "python",
        ".js": "javascript",
        ".mjs": "javascript",
        ".cjs": "javascript",
        ".jsx": "javascript",
        ".ts": "typescript",
        ".tsx": "typescript",
        ".java": "java",
        ".go": "go",
        ".rs": "rust",
        ".c": "c",
        ".h": "c",
        ".cpp": "cpp",
        ".cc": "cpp",
        ".cxx": "cpp",
        ".hpp": "cpp",
        ".hh": "cpp",
        ".cs": "csharp",
        ".rb": "ruby",
        ".php": "php",
        ".swift": "swift",
        ".kt": "kotlin",
        ".kts": "kotlin",
        ".scala": "scala",
        ".sh": "shell",
        ".bash": "shell",
        ".zsh": "shell",
        ".ps1": "powershell",
        ".sql": "sql",
        ".lua": "lua",
        ".r": "r",
        ".jl": "julia",
        ".pl": "perl",
        ".hs": "haskell",
        ".ex": "elixir",
        ".exs": "elixir",
        ".erl": "erlang",
        ".clj": "clojure",
        ".dart": "dart",
        ".groovy": "groovy",
        ".zig": "zig",
        ".nim": "nim",
        ".ml": "ocaml",
        ".fs": "fsharp",
    }
    suffixes = tuple(LANGUAGES)
    kind = "code"

    def language_for(self, path: str) -> str | None:
        """The programming language named by the suffix, e.g. "python"."""
        return self.LANGUAGES.get(_suffix(path))
