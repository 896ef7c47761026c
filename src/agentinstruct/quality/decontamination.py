"""Decontamination: reject pairs whose text overlaps items of benchmark files the user supplies (SPEC §7).

Benchmark files (JSONL, JSON, Parquet, CSV/TSV) are read record by record; each record's text fields (the
configured ones, or every string field) are cut into word n-grams of normalised tokens (13 by default),
hashed to 64-bit integers and kept in one sorted numpy array with a parallel array saying which item and
field each n-gram came from: about 12 bytes per benchmark n-gram, whatever the number of pairs checked.
A field shorter than n words but at least `min_item_words` long is indexed as one n-gram of its own
length, so short benchmark questions are caught too.

A pair's user and assistant turns are hashed the same way and looked up with `np.searchsorted`. The pair
is contaminated when it shares any n-gram with a benchmark item (threshold 0, the default) or at least
the threshold's share of that item's n-grams. The match names the benchmark file, the item (its id field
or its index), the field, the pair's role that matched and the matched span of text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agentinstruct.pairs import Pair
from agentinstruct.quality.datafiles import iter_records, record_id, text_fields
from agentinstruct.quality.settings import DecontaminationSettings
from agentinstruct.quality.text import content_of, ngram_hashes, token_hashes, words

SPAN_CHARS = 300


@dataclass(frozen=True)
class BenchmarkMatch:
    """Where a pair overlaps a benchmark: file, item, field, the pair's role, the span and how much."""

    file: str
    item: str
    item_index: int
    field: str
    role: str
    span: str
    matched_ngrams: int
    overlap: float

    def describe(self) -> str:
        return (
            f"{self.matched_ngrams} shared n-grams ({self.overlap:.0%} of the item) between the {self.role} "
            f'turn and {self.file} item {self.item} ({self.field}): "{self.span}"'
        )


@dataclass
class _Lookup:
    """A pair text's n-gram hashes with their start positions and lengths, ready for searching."""

    tokens: list[str]
    hashes: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray


class BenchmarkIndex:
    """Sorted 64-bit n-gram hashes of benchmark items, and the lookup of a pair against them."""

    def __init__(self, settings: DecontaminationSettings | None = None):
        self.settings = settings or DecontaminationSettings()
        self.files: list[str] = []
        self._item_ids: list[str] = []
        self._item_files: list[int] = []
        self._item_totals: list[int] = []
        self._unit_items: list[int] = []
        self._unit_fields: list[str] = []
        self._chunks: list[tuple[np.ndarray, np.ndarray]] = []
        self._short_lengths: set[int] = set()
        self._hashes = np.empty(0, dtype=np.uint64)
        self._refs = np.empty(0, dtype=np.int32)

    @classmethod
    def from_settings(cls, settings: DecontaminationSettings) -> BenchmarkIndex:
        index = cls(settings)
        for path in settings.files:
            index.add_file(Path(path))
        return index

    @property
    def items(self) -> int:
        return len(self._item_ids)

    @property
    def ngrams(self) -> int:
        self._finish()
        return len(self._hashes)

    def add_file(self, path: Path) -> int:
        """Index every record of a benchmark file; returns the number of items indexed."""
        file_number = len(self.files)
        self.files.append(str(path))
        before = self.items
        for position, record in enumerate(iter_records(Path(path))):
            self._add_item(record, position, file_number)
        return self.items - before

    def add_texts(self, name: str, texts: list[str]) -> None:
        """Index plain texts as items of a named in-memory benchmark (for tests and library users)."""
        file_number = len(self.files)
        self.files.append(name)
        for position, text in enumerate(texts):
            self._add_item({"text": text}, position, file_number)

    def _add_item(self, record: Mapping[str, Any], position: int, file_number: int) -> None:
        s = self.settings
        item = len(self._item_ids)
        total = 0
        for field, text in text_fields(record, s.text_fields):
            tokens = token_hashes(words(text))
            if len(tokens) >= s.ngram:
                grams = np.unique(ngram_hashes(tokens, s.ngram))
            elif len(tokens) >= s.min_item_words:
                grams = ngram_hashes(tokens, len(tokens))
                self._short_lengths.add(len(tokens))
            else:
                continue
            unit = len(self._unit_items)
            self._unit_items.append(item)
            self._unit_fields.append(field)
            self._chunks.append((grams, np.full(len(grams), unit, dtype=np.int32)))
            total += len(grams)
        if total:
            self._item_ids.append(record_id(record, position, s.id_field))
            self._item_files.append(file_number)
            self._item_totals.append(total)

    def _finish(self) -> None:
        """Merge the n-grams added since the last lookup into the sorted arrays."""
        if not self._chunks:
            return
        hashes = np.concatenate([self._hashes, *(h for h, _ in self._chunks)])
        refs = np.concatenate([self._refs, *(r for _, r in self._chunks)])
        order = np.argsort(hashes, kind="stable")
        self._hashes, self._refs = hashes[order], refs[order]
        self._chunks.clear()

    # -- lookup ---------------------------------------------------------------------------------
    def check(self, pair: Pair) -> BenchmarkMatch | None:
        """The strongest benchmark overlap of a pair's checked turns, or None when it is clean."""
        return self.check_messages(pair.messages)

    def check_messages(self, messages: list[Mapping[str, Any]]) -> BenchmarkMatch | None:
        self._finish()
        if not len(self._hashes):
            return None
        best: BenchmarkMatch | None = None
        for message in messages:
            role = str(message.get("role"))
            if role not in self.settings.roles:
                continue
            match = self.check_text(content_of(message), role)
            if match is not None and (best is None or match.overlap > best.overlap):
                best = match
        return best

    def check_text(self, text: str, role: str = "text") -> BenchmarkMatch | None:
        """The benchmark item this text overlaps most, if the overlap passes the threshold."""
        self._finish()
        lookup = self._lookup(words(text))
        if lookup is None:
            return None
        left = np.searchsorted(self._hashes, lookup.hashes, side="left")
        right = np.searchsorted(self._hashes, lookup.hashes, side="right")
        found = np.nonzero(right > left)[0]
        if not len(found):
            return None
        per_item: dict[int, dict[int, int]] = defaultdict(dict)  # item -> {query position: unit}
        for position in found.tolist():
            for unit in self._refs[left[position] : right[position]].tolist():
                per_item[self._unit_items[unit]].setdefault(position, unit)
        item, matched = max(per_item.items(), key=lambda kv: len(kv[1]) / self._item_totals[kv[0]])
        overlap = len(matched) / self._item_totals[item]
        if overlap < self.settings.threshold:
            return None
        first_unit = next(iter(matched.values()))
        return BenchmarkMatch(
            file=self.files[self._item_files[item]],
            item=self._item_ids[item],
            item_index=item,
            field=self._unit_fields[first_unit],
            role=role,
            span=_longest_span(lookup, list(matched)),
            matched_ngrams=len(matched),
            overlap=round(min(1.0, overlap), 4),
        )

    def _lookup(self, tokens: list[str]) -> _Lookup | None:
        hashes = token_hashes(tokens)
        parts, starts, lengths = [], [], []
        for length in sorted({self.settings.ngram, *self._short_lengths}):
            grams = ngram_hashes(hashes, length)
            if len(grams):
                parts.append(grams)
                starts.append(np.arange(len(grams)))
                lengths.append(np.full(len(grams), length))
        if not parts:
            return None
        return _Lookup(tokens, np.concatenate(parts), np.concatenate(starts), np.concatenate(lengths))


def _longest_span(lookup: _Lookup, positions: list[int]) -> str:
    """The longest run of text covered by overlapping matched n-grams, as normalised words."""
    intervals = sorted((int(lookup.starts[p]), int(lookup.starts[p] + lookup.lengths[p])) for p in positions)
    best = current = intervals[0]
    for start, end in intervals[1:]:
        overlaps = start <= current[1]
        current = (current[0], max(current[1], end)) if overlaps else (start, end)
        if current[1] - current[0] > best[1] - best[0]:
            best = current
    span = " ".join(lookup.tokens[best[0] : best[1]])
    return span if len(span) <= SPAN_CHARS else span[:SPAN_CHARS] + "…"
