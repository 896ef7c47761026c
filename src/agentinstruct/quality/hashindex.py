"""A compact multimap from 64-bit hashes to item numbers, for indexes that grow with every pair.

A Python dict of int keys costs about 70 bytes per entry (key object, value object, table slot); dedup
keeps one entry per LSH band per pair, 1.4 million entries for 100k pairs. `HashMultiMap` keeps entries in
two sorted numpy arrays (12 bytes per entry) and buffers recent additions in a small dict that is merged
in when it reaches `merge_at` entries, so additions stay cheap and lookups are one `searchsorted` plus a
dict probe.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


class HashMultiMap:
    """uint64 keys -> int item numbers; a key may hold several items, returned in the order added."""

    def __init__(self, merge_at: int = 65_536):
        self.merge_at = merge_at
        self._keys = np.empty(0, dtype=np.uint64)
        self._values = np.empty(0, dtype=np.int32)
        self._recent: dict[int, list[int]] = {}
        self._recent_entries = 0

    def __len__(self) -> int:
        return len(self._keys) + self._recent_entries

    def add(self, keys: Iterable[int], value: int) -> None:
        """Map every key to `value` (in addition to what the keys already hold)."""
        for key in keys:
            self._recent.setdefault(key, []).append(value)
            self._recent_entries += 1
        if self._recent_entries >= self.merge_at:
            self._merge()

    def get(self, keys: list[int]) -> list[int]:
        """Every item held by any of the keys, without repeats, older items first."""
        found: list[int] = []
        if len(self._keys):
            wanted = np.array(keys, dtype=np.uint64)
            left = np.searchsorted(self._keys, wanted, side="left")
            right = np.searchsorted(self._keys, wanted, side="right")
            for start, end in zip(left.tolist(), right.tolist(), strict=True):
                if end > start:
                    found.extend(self._values[start:end].tolist())
        for key in keys:
            found.extend(self._recent.get(key, ()))
        return list(dict.fromkeys(found))

    def first(self, key: int) -> int | None:
        """The oldest item of a key, or None."""
        items = self.get([key])
        return min(items) if items else None

    def _merge(self) -> None:
        count = self._recent_entries
        keys = np.fromiter(
            (key for key, values in self._recent.items() for _ in values), dtype=np.uint64, count=count
        )
        values = np.fromiter(
            (value for values in self._recent.values() for value in values), dtype=np.int32, count=count
        )
        order = np.lexsort((values, keys))  # by key, then by item
        keys, values = keys[order], values[order]
        # items only grow, so new entries go after the old ones of the same key: older items first
        positions = np.searchsorted(self._keys, keys, side="right")
        self._keys = np.insert(self._keys, positions, keys)
        self._values = np.insert(self._values, positions, values)
        self._recent.clear()
        self._recent_entries = 0
