"""Readers for tabular corpora: JSON Lines and Parquet, one document per row.

Both stream: .jsonl is read line by line and .parquet record batch by record batch, so a corpus never
has to fit in memory. A row's source is "path#row=N" (N 0-based; for .jsonl N is the line index, blank
lines included, so `sed -n "$((N+1))p" path` shows it). A bad row yields one failure and reading goes on.
For these files `max_bytes` limits each row's text, not the file. Single-file readers are in `readers`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from agentinstruct.documents.decoding import (
    check_regular_file,
    empty_failure,
    normalize_newlines,
    permission_failure,
    too_large_failure,
)
from agentinstruct.documents.readers import Reader
from agentinstruct.documents.records import (
    DEFAULT_MAX_BYTES,
    Document,
    DocumentFailure,
    make_document,
    sha256_hex,
)

PARQUET_BATCH_ROWS = 256


def row_document(
    source: str, value: Any, *, text_field: str, max_bytes: int, language: str
) -> Document | DocumentFailure:
    """Turn one row's `text_field` value into a document, or explain why it cannot be one."""
    if value is None:
        return DocumentFailure(
            source, "missing_field", f"{source} has no value in {text_field!r}; fill it or drop the row."
        )
    if not isinstance(value, str):
        return DocumentFailure(
            source,
            "missing_field",
            f"{source}: {text_field!r} holds a {type(value).__name__}, not a string; "
            "choose the text field with --text-field.",
        )
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError:
        return DocumentFailure(
            source,
            "encoding",
            f"{source}: {text_field!r} contains unpaired surrogates; re-encode it as UTF-8.",
        )
    if len(raw) > max_bytes:
        return too_large_failure(source, len(raw), max_bytes)
    text = normalize_newlines(value)
    if not text.strip():
        return empty_failure(source, f"its {text_field!r} field is empty")
    return make_document(source=source, raw_sha256=sha256_hex(raw), text=text, kind="text", language=language)


def _fields_hint(names: list[str]) -> str:
    shown = ", ".join(repr(name) for name in names[:20]) or "none"
    return shown + (", ..." if len(names) > 20 else "")


class RowReader(Reader):
    """A file of rows: the file checks and opening are shared, `_rows` yields one result per row."""

    kind = "text"

    def read(
        self, path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES, text_field: str = "text"
    ) -> Iterator[Document | DocumentFailure]:
        """Yield one document or failure per row."""
        source = os.fspath(path)
        failure = check_regular_file(source)
        if failure is not None:
            yield failure
            return
        try:
            handle = open(source, "rb")  # noqa: SIM115 - closed by the with block below
        except PermissionError:
            yield permission_failure(source)
            return
        with handle:
            yield from self._rows(source, handle, max_bytes, text_field)

    def _rows(
        self, source: str, handle: Any, max_bytes: int, text_field: str
    ) -> Iterator[Document | DocumentFailure]:
        raise NotImplementedError


class JsonlReader(RowReader):
    """JSON Lines files: one document per line whose `text_field` is a non-empty string."""

    suffixes = (".jsonl", ".ndjson")

    def _rows(
        self, source: str, handle: Any, max_bytes: int, text_field: str
    ) -> Iterator[Document | DocumentFailure]:
        rows = 0
        for index, line in enumerate(handle):
            if not line.strip():
                continue
            rows += 1
            yield self._row(f"{source}#row={index}", line, index, max_bytes, text_field)
        if rows == 0:
            yield empty_failure(source, "it has no rows")

    @staticmethod
    def _row(
        source: str, line: bytes, index: int, max_bytes: int, text_field: str
    ) -> Document | DocumentFailure:
        try:
            record = json.loads(line.decode("utf-8-sig" if index == 0 else "utf-8"))
        except UnicodeDecodeError:
            return DocumentFailure(
                source,
                "encoding",
                f"{source} is not valid UTF-8; convert the file, e.g. with `iconv -t utf-8`.",
            )
        except json.JSONDecodeError as error:
            return DocumentFailure(
                source, "parse_error", f"{source} is not valid JSON ({error.msg}); fix or delete that line."
            )
        if not isinstance(record, dict):
            return DocumentFailure(
                source, "parse_error", f"{source} is a JSON {type(record).__name__}, not an object; wrap it."
            )
        if text_field not in record:
            return DocumentFailure(
                source,
                "missing_field",
                f"{source} has no {text_field!r} field (fields: {_fields_hint(list(record))}); "
                "choose the text field with --text-field.",
            )
        return row_document(
            source, record[text_field], text_field=text_field, max_bytes=max_bytes, language="plain"
        )


class ParquetReader(RowReader):
    """Parquet files: one document per row of the string column `text_field`, read batch by batch."""

    suffixes = (".parquet",)

    def _rows(
        self, source: str, handle: Any, max_bytes: int, text_field: str
    ) -> Iterator[Document | DocumentFailure]:
        row = 0
        try:
            table = pq.ParquetFile(handle)
            names = list(table.schema_arrow.names)
            if text_field not in names:
                yield DocumentFailure(
                    source,
                    "missing_field",
                    f"{source} has no column {text_field!r} (columns: {_fields_hint(names)}); "
                    "choose the text column with --text-field.",
                )
                return
            column_type = table.schema_arrow.field(text_field).type
            if not (pa.types.is_string(column_type) or pa.types.is_large_string(column_type)):
                yield DocumentFailure(
                    source,
                    "missing_field",
                    f"{source}: column {text_field!r} has type {column_type}, not string; "
                    "choose a text column with --text-field.",
                )
                return
            for batch in table.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=[text_field]):
                for value in batch.column(0).to_pylist():
                    yield row_document(
                        f"{source}#row={row}",
                        value,
                        text_field=text_field,
                        max_bytes=max_bytes,
                        language="plain",
                    )
                    row += 1
        except (pa.ArrowException, OSError, ValueError) as error:
            yield DocumentFailure(
                source,
                "parse_error",
                f"{source} could not be read as Parquet after {row} rows ({error}); re-export the file.",
            )
            return
        if row == 0:
            yield empty_failure(source, "it has no rows")
