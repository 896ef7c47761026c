"""Exact and near-duplicate detection over instructions, streaming as pairs are produced (SPEC §7).

What is compared is a pair's instruction: its user turns. Exact duplicates are instructions equal after
normalisation (casefold, NFKC, punctuation and whitespace folded). Near duplicates are found with MinHash
over word shingles (`datasketch.MinHash`) and banded LSH: two pairs are near duplicates when the
estimated Jaccard similarity of their instructions reaches the threshold **and** so does that of their
tasks. The task is the question inside the user turn (from the lineage), which matters for skills whose
user turn is a long passage plus a short question: two different questions about one passage share most
shingles, yet are different items (`quality.text.task_text`).

Speed and memory: shingles are hashed in numpy (datasketch would sha1 each one in Python) and fed to
`datasketch.MinHash`, whose permutations and LSH parameters (bands b, rows r, from `MinHashLSH`) are used
as they are. `datasketch.MinHashLSH` itself keeps a Python set per band bucket (3.2 KB per item measured
with 9 bands: 320 MB for 100k pairs), so the band and exact indexes here are `quality.hashindex`
multimaps (12 bytes per entry), and signatures are kept as b-bit (8-bit) minhashes in a numpy array.

The index is seeded from existing datasets (`seed_from_file`, for `--dedup-against`) and, on resume, from
the run's own pairs.jsonl (`seed_from_pairs_file`), so a resumed run does not accept a near duplicate of a
pair written before the crash. `check` never counts a pair as a duplicate of itself (same id), so a pair
re-delivered on resume reaches the writer, which skips it by id.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from datasketch import MinHash, MinHashLSH

from agentinstruct.pairs import Pair
from agentinstruct.quality.datafiles import iter_records, record_id, text_fields
from agentinstruct.quality.hashindex import HashMultiMap
from agentinstruct.quality.settings import DedupSettings
from agentinstruct.quality.text import (
    ngram_hashes,
    stable_hash64,
    task_text,
    token_hashes,
    user_text,
    words,
)

#: bits kept per minhash value for similarity estimates (b-bit minhash: chance agreements, 1 in 256, are
#: corrected for in `_estimate`)
_KEPT_BITS = 8
_KEPT_MASK = (1 << _KEPT_BITS) - 1
_UINT64 = (1 << 64) - 1
ANY_SKILL = "*"


@dataclass(frozen=True)
class DuplicateOf:
    """The earlier item a pair duplicates: its id, exact or near, the similarity, where it came from."""

    id: str
    kind: Literal["exact", "near"]
    similarity: float
    source: str = "run"


@dataclass(frozen=True)
class DedupItem:
    """What dedup compares: the instruction text and the task inside it; `skill` None matches any skill."""

    id: str
    skill: str | None
    text: str
    task: str


def item_of(pair: Pair) -> DedupItem:
    messages = pair.messages
    lineage = pair.lineage.model_dump()
    return DedupItem(pair.id, pair.skill, user_text(messages), task_text(messages, lineage))


@dataclass
class _Fingerprint:
    tokens: list[str]
    normalized: str
    signatures: tuple[np.ndarray, np.ndarray] | None = None


class _Signatures:
    """A growable 2-D array of b-bit minhash signatures, one row per item."""

    def __init__(self, width: int):
        self._rows = np.zeros((1024, width), dtype=np.uint8)
        self.count = 0

    def append(self, signature: np.ndarray) -> None:
        if self.count == len(self._rows):
            self._rows = np.concatenate([self._rows, np.zeros_like(self._rows)])
        self._rows[self.count] = signature
        self.count += 1

    def __getitem__(self, index: int) -> np.ndarray:
        return self._rows[index]


class Deduplicator:
    """Streaming exact + MinHash-LSH near-duplicate index over instructions, per skill or global."""

    def __init__(self, settings: DedupSettings | None = None):
        self.settings = settings or DedupSettings()
        s = self.settings
        try:
            bands = MinHashLSH(threshold=s.threshold, num_perm=s.num_perm)
        except ValueError as error:  # datasketch finds no band layout (b >= 2) for this pair of values
            raise ValueError(
                f"quality.dedup: threshold {s.threshold} with num_perm {s.num_perm} leaves too few LSH bands "
                f"({error}); lower the threshold or raise num_perm (e.g. threshold 0.95, num_perm 256)"
            ) from None
        self.bands, self.rows = bands.b, bands.r
        self._template = MinHash(num_perm=s.num_perm, seed=1)
        self._ids: list[str] = []
        self._skills: list[str | None] = []
        self._sources: list[str] = []
        self._exact = HashMultiMap()
        self._buckets = HashMultiMap()
        self._texts = _Signatures(s.num_perm)
        self._tasks = _Signatures(s.num_perm)
        self.found: Counter[str] = Counter()
        self._last: tuple[DedupItem, _Fingerprint] | None = None

    def __len__(self) -> int:
        return len(self._ids)

    # -- public API -----------------------------------------------------------------------------
    def check(self, pair: Pair) -> DuplicateOf | None:
        """The earlier item this pair duplicates, or None; does not add the pair (see `add`)."""
        return self.check_item(item_of(pair))

    def add(self, pair: Pair, source: str = "run") -> None:
        """Index an accepted pair so later pairs are compared with it."""
        self.add_item(item_of(pair), source)

    def check_item(self, item: DedupItem) -> DuplicateOf | None:
        found = self._exact_match(item) if self.settings.exact else None
        if found is None and self.settings.near:
            found = self._near_match(item, *self._signatures(item))
        if found is not None:
            self.found[found.kind] += 1
        return found

    def add_item(self, item: DedupItem, source: str = "run") -> None:
        index = len(self._ids)
        self._ids.append(item.id)
        self._skills.append(item.skill)
        self._sources.append(source)
        self._exact.add([self._exact_key(item, self._label(item.skill))], index)
        if not self.settings.near:
            return
        text_signature, task_signature = self._signatures(item)
        self._texts.append(text_signature & _KEPT_MASK)
        self._tasks.append(task_signature & _KEPT_MASK)
        self._buckets.add(self._band_keys(text_signature), index)

    def seed_from_pairs_file(self, path: Path) -> int:
        """Index the pairs of a run's pairs.jsonl (resume); a torn last line is skipped. Returns the count."""
        added = 0
        for record in _json_lines(Path(path)):
            messages = record.get("messages") or []
            item = DedupItem(
                str(record.get("id")),
                record.get("skill"),
                user_text(messages),
                task_text(messages, record.get("lineage")),
            )
            self.add_item(item, "run")
            added += 1
        return added

    def seed_from_file(self, path: Path, text_fields: list[str] | None = None) -> int:
        """Index an existing dataset: records with `messages` (or `conversations`) or plain text fields.

        Items from such files belong to no skill, so they match pairs of every skill. Returns the count.
        """
        path = Path(path)
        added = 0
        for index, record in enumerate(iter_records(path)):
            item = dataset_item(record, index, path.name, text_fields)
            if item is not None and item.text.strip():
                self.add_item(item, str(path))
                added += 1
        return added

    def counters(self) -> dict[str, int]:
        return {
            "dedup_indexed": len(self),
            "dedup_exact": self.found["exact"],
            "dedup_near": self.found["near"],
        }

    # -- internals ------------------------------------------------------------------------------
    def _label(self, skill: str | None) -> str:
        return ANY_SKILL if self.settings.scope == "global" or skill is None else skill

    def _exact_key(self, item: DedupItem, label: str) -> int:
        return stable_hash64(label + "\0" + self._fingerprint(item).normalized)

    def _in_scope(self, item: DedupItem, index: int) -> bool:
        other = self._skills[index]
        return self.settings.scope == "global" or other is None or other == item.skill

    def _exact_match(self, item: DedupItem) -> DuplicateOf | None:
        for label in dict.fromkeys([self._label(item.skill), ANY_SKILL]):
            index = self._exact.first(self._exact_key(item, label))
            if index is not None and self._ids[index] != item.id:
                return DuplicateOf(self._ids[index], "exact", 1.0, self._sources[index])
        return None

    def _near_match(self, item: DedupItem, text_sig: np.ndarray, task_sig: np.ndarray) -> DuplicateOf | None:
        best: tuple[float, int] | None = None
        text_bits, task_bits = text_sig & _KEPT_MASK, task_sig & _KEPT_MASK
        for index in self._candidates(text_sig):
            if self._ids[index] == item.id or not self._in_scope(item, index):
                continue
            similarity = _estimate(text_bits, self._texts[index])
            if similarity < self.settings.threshold:
                continue
            similarity = min(similarity, _estimate(task_bits, self._tasks[index]))
            if similarity >= self.settings.threshold and (best is None or similarity > best[0]):
                best = (similarity, index)
        if best is None:
            return None
        similarity, index = best
        return DuplicateOf(self._ids[index], "near", round(similarity, 4), self._sources[index])

    def _candidates(self, signature: np.ndarray) -> list[int]:
        """Items sharing at least one LSH band with the signature, older first."""
        return self._buckets.get(self._band_keys(signature))

    def _band_keys(self, signature: np.ndarray) -> list[int]:
        """One 64-bit key per LSH band (Python's bytes hash: the index lives in this process only)."""
        width = self.rows * 4
        data = signature[: self.bands * self.rows].astype(np.uint32).tobytes()
        return [hash((band, data[band * width : (band + 1) * width])) & _UINT64 for band in range(self.bands)]

    def _fingerprint(self, item: DedupItem) -> _Fingerprint:
        """The tokens and normalised text of an item, memoised so check-then-add computes them once."""
        if self._last is None or self._last[0] != item:
            tokens = words(item.text)
            self._last = (item, _Fingerprint(tokens, " ".join(tokens)))
        return self._last[1]

    def _signatures(self, item: DedupItem) -> tuple[np.ndarray, np.ndarray]:
        """Full-width minhash signatures of the text and of the task."""
        fingerprint = self._fingerprint(item)
        if fingerprint.signatures is None:
            text_signature = self._minhash(fingerprint.tokens)
            same = item.task == item.text
            task_signature = text_signature if same else self._minhash(words(item.task))
            fingerprint.signatures = (text_signature, task_signature)
        return fingerprint.signatures

    def _minhash(self, tokens: list[str]) -> np.ndarray:
        """The signature `datasketch.MinHash` (scheme affine32) gives these shingles, computed in numpy.

        The same arithmetic as `MinHash.update_batch`: MurmurHash3's 32-bit finalizer, then each
        permutation `a * h + b` modulo 2**32, the minimum per permutation. Building a `MinHash` per pair
        and feeding it a Python list cost as much again.
        """
        hashes = shingle_hashes(tokens, self.settings.shingle_size).astype(np.uint32)
        first, second = self._template.permutations
        return (_fmix32(hashes)[:, None] * first + second).min(axis=0).astype(np.uint64)


def shingle_hashes(tokens: list[str], size: int) -> np.ndarray:
    """32-bit hashes of the distinct word shingles of a token list (one shingle of all words when the text
    is shorter). Hashing in numpy is what keeps MinHash fast: datasketch would sha1 each shingle."""
    hashes = token_hashes(tokens)
    grams = ngram_hashes(hashes, min(size, len(hashes))) if len(hashes) else np.zeros(1, dtype=np.uint64)
    grams = np.unique(grams)
    return (grams ^ (grams >> np.uint64(32))) & np.uint64(0xFFFFFFFF)


#: MurmurHash3's 32-bit finalizer (shifts and multipliers), as `datasketch` applies it before permuting
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))


def _fmix32(hashes: np.ndarray) -> np.ndarray:
    """MurmurHash3's finalizer on uint32 values (an avalanching bijection; multiplications wrap)."""
    shift1, multiply1, shift2, multiply2, shift3 = _FMIX32
    hashes = hashes ^ (hashes >> shift1)
    hashes = hashes * multiply1
    hashes = hashes ^ (hashes >> shift2)
    hashes = hashes * multiply2
    return hashes ^ (hashes >> shift3)


def _estimate(left: np.ndarray, right: np.ndarray) -> float:
    """Jaccard estimate from two b-bit signatures, corrected for chance collisions of the kept bits."""
    chance = 2.0**-_KEPT_BITS
    agree = float(np.count_nonzero(left == right)) / len(left)
    return max(0.0, (agree - chance) / (1 - chance))


def dataset_item(
    record: Mapping[str, Any], index: int, source_name: str, fields: list[str] | None = None
) -> DedupItem | None:
    """A dedup item from a record of an existing dataset (pairs, ShareGPT, orca JSON string or text)."""
    messages = record.get("messages")
    if isinstance(messages, str):  # the orca-agentinstruct layout keeps messages as a JSON string
        try:
            messages = json.loads(messages)
        except json.JSONDecodeError:
            messages = None
    if messages is None and isinstance(record.get("conversations"), list):
        roles = {"human": "user", "user": "user", "gpt": "assistant", "system": "system"}
        messages = [
            {"role": roles.get(str(turn.get("from")), "other"), "content": turn.get("value", "")}
            for turn in record["conversations"]
            if isinstance(turn, Mapping)
        ]
    item_id = f"{source_name}#{record_id(record, index)}"
    if isinstance(messages, list) and messages:
        lineage = record.get("lineage") if isinstance(record.get("lineage"), Mapping) else None
        return DedupItem(item_id, None, user_text(messages), task_text(messages, lineage))
    text = "\n\n".join(value for _, value in text_fields(record, fields))
    return DedupItem(item_id, None, text, text) if text else None


def _json_lines(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line from a crash
            if isinstance(record, dict):
                yield record
