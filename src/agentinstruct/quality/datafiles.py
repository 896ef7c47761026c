"""Reading records from the data files users hand to dedup (`--dedup-against`) and decontamination
(`--decontaminate`): JSONL, JSON (a list of objects), Parquet, CSV and TSV, streamed record by record, and
picking the text fields out of each record.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

SUFFIXES = (".jsonl", ".ndjson", ".json", ".parquet", ".csv", ".tsv")


class DataFileError(ValueError):
    """A data file is missing, of an unsupported kind or unreadable; the message names the fix."""


def iter_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a data file as dicts, streamed (Parquet in batches, JSONL line by line)."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: file not found; pass an existing JSONL, Parquet or CSV file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".ndjson"):
            yield from _jsonl(path)
        elif suffix == ".json":
            yield from _json(path)
        elif suffix == ".parquet":
            yield from _parquet(path)
        elif suffix in (".csv", ".tsv"):
            yield from _csv(path, "\t" if suffix == ".tsv" else ",")
        else:
            raise DataFileError(f"{path}: unsupported data file type; use one of {', '.join(SUFFIXES)}")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise DataFileError(f"{path}: cannot read it ({exc})") from exc


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataFileError(f"{path}:{number}: not a JSON line ({exc.msg})") from exc
            yield value if isinstance(value, dict) else {"text": value}


def _json(path: Path) -> Iterator[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):  # {"data": [...]} or {"rows": [...]} or one record
        lists = [v for v in data.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
        data = lists[0] if len(lists) == 1 else [data]
    for value in data:
        yield value if isinstance(value, dict) else {"text": value}


def _parquet(path: Path) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=2048):
        yield from batch.to_pylist()


def _csv(path: Path, delimiter: str) -> Iterator[dict[str, Any]]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle, delimiter=delimiter)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    if isinstance(value, Mapping):
        return [item for item in value.values() if isinstance(item, str)]
    return []


def text_fields(record: Mapping[str, Any], fields: list[str] | None = None) -> list[tuple[str, str]]:
    """(field name, text) for the chosen fields of a record, or for every string field when none are named.

    A field may hold a string, a list of strings (answer choices) or a flat object of strings; dotted
    names reach into nested objects (`"question.stem"`). Empty strings are skipped.
    """
    if fields is None:
        chosen = [(name, value) for name, value in record.items() if name not in ("id", "_id")]
    else:
        chosen = [(name, _lookup(record, name)) for name in fields]
    found = []
    for name, value in chosen:
        for index, text in enumerate(_strings(value)):
            if text.strip():
                found.append((name if isinstance(value, str) else f"{name}[{index}]", text))
    return found


def _lookup(record: Mapping[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def record_id(record: Mapping[str, Any], index: int, id_field: str | None = None) -> str:
    """The record's own id (the named field, else a common id field), or its index in the file."""
    for name in [id_field] if id_field else ["id", "_id", "uid", "question_id", "task_id", "idx"]:
        value = record.get(name) if name else None
        if value not in (None, ""):
            return str(value)
    return str(index)
