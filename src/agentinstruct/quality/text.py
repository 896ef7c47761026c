"""Text helpers shared by dedup, decontamination, filters and the report.

What part of a pair each of them looks at (the user turns, the task inside them, the final answer), text
normalisation (NFKC, casefold, punctuation and whitespace folded), word tokens, and n-grams hashed to
64-bit integers in numpy so that large indexes stay compact. Everything here works on plain message lists
(`[{"role", "content"}, ...]`) so it serves `Pair` objects and raw JSON records alike.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

WORD = re.compile(r"\w+")
#: tokens for repetition checks: words and single punctuation marks ("=====" is five tokens)
WORD_OR_MARK = re.compile(r"\w+|[^\w\s]")
#: the odd 64-bit multiplier of the polynomial n-gram hash (wraps modulo 2**64 in numpy)
NGRAM_MULTIPLIER = np.uint64(0x100000001B3)
_TOKEN_CACHE_LIMIT = 500_000
_token_cache: dict[str, int] = {}


def normalize(text: str) -> str:
    """Casefolded NFKC word tokens joined by single spaces: punctuation and whitespace are folded away."""
    return " ".join(words(text))


def words(text: str) -> list[str]:
    """Normalised word tokens (casefolded NFKC, punctuation dropped).

    The tokens of the last few texts are memoised: the quality gate tokenises the same instruction and
    answer in several checks (the length filters, dedup), and the regex is most of a pair's screening cost.
    """
    return list(_words(text))


@functools.lru_cache(maxsize=16)
def _words(text: str) -> tuple[str, ...]:
    return tuple(WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


def squashed(text: str) -> str:
    """Letters and digits alone, in lower case: whether a value stands in a text, separators aside (a card
    number typed without the spaces it was given with, "SKU-123" for "SKU123")."""
    return re.sub(r"[\W_]+", "", text.casefold())


def stable_hash64(text: str) -> int:
    """A process-independent 64-bit hash of a string (unlike `hash()`, which is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def token_hashes(tokens: Iterable[str]) -> np.ndarray:
    """64-bit hashes of tokens as a uint64 array (memoised per token, the cache is bounded)."""
    tokens = tokens if isinstance(tokens, list) else list(tokens)
    cache = _token_cache
    try:  # the common case, every token seen before: no Python-level loop
        return np.fromiter(map(cache.__getitem__, tokens), dtype=np.uint64, count=len(tokens))
    except KeyError:
        pass
    if len(cache) > _TOKEN_CACHE_LIMIT:
        cache.clear()
    for token in tokens:
        if token not in cache:
            cache[token] = stable_hash64(token)
    return np.fromiter(map(cache.__getitem__, tokens), dtype=np.uint64, count=len(tokens))


def ngram_hashes(hashes: np.ndarray, n: int) -> np.ndarray:
    """Hashes of every run of `n` consecutive tokens (a polynomial hash; empty when fewer tokens)."""
    count = len(hashes) - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    result = hashes[:count].copy()
    with np.errstate(over="ignore"):
        for offset in range(1, n):
            result *= NGRAM_MULTIPLIER
            result += hashes[offset : offset + count]
    return result


def text_ngram_hashes(text: str, n: int) -> np.ndarray:
    """Hashed word n-grams of a text."""
    return ngram_hashes(token_hashes(words(text)), n)


# -- what part of a pair to look at -----------------------------------------------------------------


def content_of(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return ""


def user_text(messages: list[Mapping[str, Any]]) -> str:
    """The instruction side of a pair: all user turns, joined by blank lines."""
    return "\n\n".join(content_of(m) for m in messages if m.get("role") == "user")


def answer_text(messages: list[Mapping[str, Any]]) -> str:
    """The final answer: the content of the last assistant turn ('' when it only calls tools)."""
    for message in reversed(messages):
        if message.get("role") == "assistant":
            return content_of(message)
    return ""


def assistant_text(messages: list[Mapping[str, Any]]) -> str:
    """Every assistant turn's text, joined by blank lines."""
    return "\n\n".join(content_of(m) for m in messages if m.get("role") == "assistant")


def final_task(lineage: Mapping[str, Any] | None) -> str:
    """The last version of the task from a pair's lineage (the last refinement, else the seed instruction)."""
    if not lineage:
        return ""
    refinement = lineage.get("refinement") or []
    if refinement:
        return str(refinement[-1].get("edited") or "")
    seed = lineage.get("seed_instruction") or {}
    return str(seed.get("text") or "")


def task_text(messages: list[Mapping[str, Any]], lineage: Mapping[str, Any] | None) -> str:
    """The task inside the user turns, without the passage it is about, when it can be told apart.

    Reading-comprehension user turns hold a long passage and a short question; two questions about the
    same passage share most of their words yet are different items. When the lineage's final task occurs
    in the user text (and is shorter), that task is returned; otherwise the whole user text is.
    """
    full = user_text(messages)
    task = final_task(lineage).strip()
    if task and len(task) < len(full.strip()) and task in full:
        return task
    return full
