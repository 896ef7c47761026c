"""The `export` command: a run's pairs.jsonl in the layouts training tools load.

Formats:
- `jsonl`: the pairs as they are, `train.jsonl` (+ `validation.jsonl`).
- `parquet`: `data/train.parquet` (+ validation); `messages` is a list of structs `{role, content,
  tool_calls, tool_call_id, name}` (`tool_calls` as a JSON string, so every row has one schema), `tools`,
  `lineage` and `verification` as JSON strings, `judge_score`, `unanswerable` and `document_id` as columns.
  Loads with `datasets.load_dataset("parquet", data_files=...)` or `load_dataset(DIR)` (README configs).
- `hf`: the same columns saved with `datasets.Dataset.save_to_disk` (a `DatasetDict` when split); loads
  with `datasets.load_from_disk`.
- `sharegpt`: `train.jsonl` of `{"id", "conversations": [{"from", "value"}], "tools"?}` with `from` in
  system/human/gpt; tool traces follow LLaMA-Factory's convention: an assistant tool call becomes a
  `function_call` turn (JSON `{"name", "arguments"}`, a list for parallel calls) and tool results an
  `observation` turn; text said alongside a call becomes a `gpt` turn just before it.
- `orca`: the `orca-agentinstruct-1M-v1` layout: `data/<split>-00000-of-00001.parquet` with one column
  `messages` holding a JSON string of `{role, content}` turns (tool turns keep `tool_calls` /
  `tool_call_id`), one split per skill named as in that dataset where one matches (`ORCA_SPLITS`).

With `validation_fraction > 0` the pairs are split **by source document** (`lineage.document.id`): whole
documents are drawn in an order shuffled with `seed` (each taken when it brings the validation split
closer to the fraction of pairs), so no document has pairs in both splits and the same seed gives the same
split. `export.json` records what was written.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from agentinstruct.export_formats import (
    ORCA_SCHEMA,
    ORCA_SPLITS,
    PAIR_SCHEMA,
    document_of,
    to_orca_row,
    to_parquet_row,
    to_sharegpt,
)

__all__ = [
    "FORMATS",
    "ORCA_SPLITS",
    "ExportError",
    "ExportResult",
    "export",
    "to_sharegpt",
    "validation_documents",
]

FORMATS = ("jsonl", "parquet", "hf", "sharegpt", "orca")
BATCH_ROWS = 1000


class ExportError(ValueError):
    """The export cannot be made (unknown format, not a run directory, missing library); names the fix."""


@dataclass
class ExportResult:
    """What an export wrote: files, rows per split and the documents of each split."""

    format: str
    to_dir: Path
    #: the file (or, for hf, the directory) of each split
    files: dict[str, Path] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    documents: dict[str, int] = field(default_factory=dict)


def iter_pairs(out_dir: Path) -> Iterator[dict[str, Any]]:
    """The pair records of a run, streamed (a torn last line is skipped)."""
    with (Path(out_dir) / "pairs.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def validation_documents(out_dir: Path, fraction: float, seed: int = 0) -> set[str]:
    """Whole documents, in a seeded order, whose pairs come closest to `fraction` of all pairs.

    A document is taken when it brings the validation count closer to the target; at least one document is
    taken and at least one stays in train (when there are two or more).
    """
    if fraction <= 0:
        return set()
    counts = Counter(document_of(record) for record in iter_pairs(out_dir))
    order = sorted(counts)
    random.Random(seed).shuffle(order)
    target, chosen, held = fraction * sum(counts.values()), set(), 0
    for document in order:
        if held >= target or len(chosen) >= len(order) - 1:
            break
        if chosen and held + counts[document] - target > target - held:
            continue  # it would overshoot by more than it closes the gap
        chosen.add(document)
        held += counts[document]
    return chosen


def export(
    out_dir: Path,
    fmt: str,
    to_dir: Path,
    *,
    validation_fraction: float = 0.0,
    seed: int = 0,
    license: str = "other",
    card: bool = True,
) -> ExportResult:
    """Write a run's pairs to `to_dir` in format `fmt`, optionally split train/validation by document."""
    out_dir, to_dir = Path(out_dir), Path(to_dir)
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not (out_dir / "pairs.jsonl").is_file():
        raise ExportError(f"{out_dir} has no pairs.jsonl; pass the --out directory of a run")
    if not 0 <= validation_fraction < 1:
        raise ExportError("the validation fraction must be at least 0 and below 1")
    _prepare(to_dir, fmt)
    held_out = validation_documents(out_dir, validation_fraction, seed)
    result = ExportResult(fmt, to_dir)
    writer = {
        "jsonl": _write_jsonl,
        "sharegpt": _write_jsonl,
        "parquet": _write_parquet,
        "orca": _write_parquet,
    }
    if fmt == "hf":
        _write_hf(out_dir, to_dir, held_out, result)
    else:
        writer[fmt](out_dir, to_dir, held_out, result)
    _write_manifest(out_dir, result, validation_fraction, seed)
    if card and fmt != "hf":
        _write_card(out_dir, result, license)
    return result


def _prepare(to_dir: Path, fmt: str) -> None:
    """Make the target directory, clearing what an earlier export left there (and nothing else)."""
    previous = to_dir / "export.json"
    if fmt == "hf" and to_dir.is_dir() and any(to_dir.iterdir()):
        if not (
            previous.exists() or (to_dir / "dataset_dict.json").exists() or (to_dir / "state.json").exists()
        ):
            raise ExportError(f"{to_dir} is not empty; pass a new or empty --to directory for the hf format")
        shutil.rmtree(to_dir)
    elif previous.exists():
        for stale in [*(to_dir / "data").glob("*.parquet"), *to_dir.glob("*.jsonl")]:
            stale.unlink()
    to_dir.mkdir(parents=True, exist_ok=True)


def split_of(record: dict[str, Any], fmt: str, held_out: set[str]) -> str:
    validation = document_of(record) in held_out
    if fmt == "orca":
        split = ORCA_SPLITS.get(str(record.get("skill")), str(record.get("skill")))
        return f"{split}_validation" if validation else split
    return "validation" if validation else "train"


def _count(result: ExportResult, split: str, record: dict[str, Any], documents: dict[str, set[str]]) -> None:
    result.rows[split] = result.rows.get(split, 0) + 1
    documents.setdefault(split, set()).add(document_of(record))


def _write_jsonl(out_dir: Path, to_dir: Path, held_out: set[str], result: ExportResult) -> None:
    handles: dict[str, Any] = {}
    documents: dict[str, set[str]] = {}
    try:
        for split in ["train", *(["validation"] if held_out else [])]:
            handles[split] = (to_dir / f"{split}.jsonl").open("w", encoding="utf-8")
            result.files[split] = to_dir / f"{split}.jsonl"
            result.rows[split] = 0
        for record in iter_pairs(out_dir):
            split = split_of(record, "jsonl", held_out)
            row = to_sharegpt(record) if result.format == "sharegpt" else record
            handles[split].write(json.dumps(row, ensure_ascii=False) + "\n")
            _count(result, split, record, documents)
    finally:
        for handle in handles.values():
            handle.close()
    result.documents = {split: len(ids) for split, ids in documents.items()}


class _ParquetSplits:
    """One ParquetWriter per split, fed in batches so memory stays flat."""

    def __init__(self, directory: Path, schema: pa.Schema, file_name: str):
        self.directory, self.schema, self.file_name = directory, schema, file_name
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.buffers: dict[str, list[dict[str, Any]]] = {}
        self.paths: dict[str, Path] = {}

    def add(self, split: str, row: dict[str, Any]) -> None:
        if split not in self.writers:
            self.paths[split] = self.directory / self.file_name.format(split=split)
            self.paths[split].parent.mkdir(parents=True, exist_ok=True)
            self.writers[split] = pq.ParquetWriter(self.paths[split], self.schema)
            self.buffers[split] = []
        self.buffers[split].append(row)
        if len(self.buffers[split]) >= BATCH_ROWS:
            self._flush(split)

    def _flush(self, split: str) -> None:
        if self.buffers[split]:
            self.writers[split].write_table(pa.Table.from_pylist(self.buffers[split], schema=self.schema))
            self.buffers[split] = []

    def close(self) -> None:
        for split, writer in self.writers.items():
            self._flush(split)
            writer.close()


def _write_parquet(out_dir: Path, to_dir: Path, held_out: set[str], result: ExportResult) -> None:
    orca = result.format == "orca"
    name = "data/{split}-00000-of-00001.parquet" if orca else "data/{split}.parquet"
    splits = _ParquetSplits(to_dir, ORCA_SCHEMA if orca else PAIR_SCHEMA, name)
    documents: dict[str, set[str]] = {}
    try:
        for record in iter_pairs(out_dir):
            split = split_of(record, result.format, held_out)
            splits.add(split, to_orca_row(record) if orca else to_parquet_row(record))
            _count(result, split, record, documents)
    finally:
        splits.close()
    if not splits.paths and not orca:
        empty = to_dir / name.format(split="train")
        empty.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(PAIR_SCHEMA.empty_table(), empty)
        splits.paths["train"], result.rows["train"] = empty, 0
    result.files = dict(sorted(splits.paths.items()))
    result.documents = {split: len(ids) for split, ids in documents.items()}


def _write_hf(out_dir: Path, to_dir: Path, held_out: set[str], result: ExportResult) -> None:
    datasets = _require_datasets()
    staging = Path(tempfile.mkdtemp(prefix="agentinstruct-hf-"))
    try:
        staged = ExportResult("parquet", staging)
        _write_parquet(out_dir, staging, held_out, staged)
        cache = str(staging / "cache")
        features = datasets.Features.from_arrow_schema(PAIR_SCHEMA)
        parts = {
            split: datasets.Dataset.from_parquet(str(path), cache_dir=cache)
            if staged.rows[split]
            else datasets.Dataset.from_dict({name: [] for name in PAIR_SCHEMA.names}, features=features)
            for split, path in staged.files.items()
        }
        empty = [split for split, rows in staged.rows.items() if not rows]  # need one shard to load back
        if held_out:
            datasets.DatasetDict(parts).save_to_disk(str(to_dir), num_shards={s: 1 for s in empty} or None)
        else:
            parts["train"].save_to_disk(str(to_dir), num_shards=1 if empty else None)
        result.rows, result.documents = staged.rows, staged.documents
        result.files = {split: to_dir / split if held_out else to_dir for split in staged.rows}
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _require_datasets() -> Any:
    try:
        import datasets
    except ImportError as exc:
        raise ExportError(
            "the hf export needs the Hugging Face datasets library: pip install 'agentinstruct[hf]'"
        ) from exc
    return datasets


# -- manifest and card ---------------------------------------------------------------------------


def _write_manifest(out_dir: Path, result: ExportResult, fraction: float, seed: int) -> None:
    manifest = {
        "format": result.format,
        "source": str(out_dir),
        "validation_fraction": fraction,
        "seed": seed,
        "rows": result.rows,
        "documents": result.documents,
        "files": {split: path.relative_to(result.to_dir).as_posix() for split, path in result.files.items()},
    }
    if result.format == "orca":
        manifest["split_names"] = ORCA_SPLITS
    (result.to_dir / "export.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _write_card(out_dir: Path, result: ExportResult, license: str) -> None:
    from agentinstruct.reporting.card import render_card
    from agentinstruct.reporting.stats import collect_stats

    stats = collect_stats(out_dir)
    files = {split: [path.relative_to(result.to_dir).as_posix()] for split, path in result.files.items()}
    names = {s: ORCA_SPLITS.get(s, s) for s in stats.skills} if result.format == "orca" else None
    loader = "parquet" if result.format in ("parquet", "orca") else "json"
    loading = (
        "from datasets import load_dataset\n\n"
        f'dataset = load_dataset("{result.to_dir.name}")  # or load_dataset("{loader}", data_files=...)'
    )
    text = render_card(stats, license=license, splits=files, split_names=names, loading=loading)
    (result.to_dir / "README.md").write_text(text, encoding="utf-8")
