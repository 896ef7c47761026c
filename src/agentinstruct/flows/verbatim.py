"""Transformations that hand on the seed's own words (`verbatim: true` in a skill file), with no model call.

Here: `verbatim_text`, a pure function that returns the text such a transformation passes to the
instruction agents — the whole seed or, under `max_words`, a contiguous part of it — or the reason the
seed is too short for it; `seed_words` applies it to a seed with a transformation's bounds. Seeds are
plain text already (the document readers strip markup), so nothing is cleaned and every word is the
seed's, with its own spacing and line breaks.
Not here: the skill-file fields (`agentinstruct.skills.Transformation`) and recording a too-short seed as
a rejection (`SkillFlow._transform`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from agentinstruct.documents import Seed
from agentinstruct.flows.state import derive_seed
from agentinstruct.skills import Transformation

_WORD = re.compile(r"\S+")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# a word that ends a sentence: final punctuation, possibly followed by closing quotes or brackets
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")


@dataclass(frozen=True)
class Verbatim:
    """What a verbatim transformation yields: the text to use, or None and why the seed is unsuitable."""

    text: str | None
    reason: str = ""


def verbatim_text(
    seed_text: str, *, min_words: int | None = None, max_words: int | None = None, choice: int = 0
) -> Verbatim:
    """The seed's own words within the bounds: all of it, a contiguous part, or None when too short.

    A seed longer than `max_words` gives a window of whole paragraphs from a starting paragraph drawn
    with `choice` (a sampling seed: reproducible per seed, different between seeds) among the starts
    whose window holds at least `min_words`. A window still shorter than that (a paragraph too long to
    fit whole follows) goes on with whole sentences, and only as a last resort with single words.
    """
    words = [(m.start(), m.end()) for m in _WORD.finditer(seed_text)]
    if min_words is not None and len(words) < min_words:
        return Verbatim(
            None, f"the seed has {len(words)} words; this transformation needs at least {min_words}"
        )
    if not words:
        return Verbatim(None, "the seed has no words")
    if max_words is None or len(words) <= max_words:
        return Verbatim(seed_text[words[0][0] : words[-1][1]])
    starts = _paragraph_starts(seed_text, words)
    ends = _sentence_ends(seed_text, words, starts)
    floor = min_words or 1
    windows = {start: _window(start, starts, ends, len(words), max_words, floor) for start in starts}
    long_enough = [start for start, end in windows.items() if end - start >= floor]
    if long_enough:
        start = random.Random(choice).choice(long_enough)
    else:  # only when min_words > max_words (a skill file may not say so): the longest window
        start = max(windows, key=lambda s: windows[s] - s)
    end = windows[start]
    return Verbatim(seed_text[words[start][0] : words[end - 1][1]])


def seed_words(seed: Seed, transformation: Transformation, run_seed: int) -> Verbatim:
    """`verbatim_text` of a seed under a verbatim transformation's bounds, its start drawn per seed."""
    choice = derive_seed(run_seed, seed.id, "verbatim", transformation.name)
    return verbatim_text(
        seed.text, min_words=transformation.min_words, max_words=transformation.max_words, choice=choice
    )


def _paragraph_starts(text: str, words: list[tuple[int, int]]) -> list[int]:
    """Indices of the words that begin a paragraph (the first word, and any after a blank line)."""
    starts = [0]
    for index in range(1, len(words)):
        gap = text[words[index - 1][1] : words[index][0]]
        if _BLANK_LINE.search(gap):
            starts.append(index)
    return starts


def _sentence_ends(text: str, words: list[tuple[int, int]], starts: list[int]) -> list[int]:
    """Word indices a window may end before: after a sentence's last word, or at a paragraph's end."""
    ends = {index + 1 for index, (a, b) in enumerate(words) if _SENTENCE_END.search(text[a:b])}
    ends.update(start for start in starts[1:])
    ends.add(len(words))
    return sorted(ends)


def _window(start: int, starts: list[int], ends: list[int], total: int, limit: int, floor: int) -> int:
    """The end (exclusive word index) of the window that begins at paragraph `start`."""
    end = start
    for boundary in [*(s for s in starts if s > start), total]:
        if boundary - start > limit:
            break
        end = boundary
    if end - start >= floor:
        return end
    # the next paragraph does not fit whole: take its sentences that do, then words if still too short
    fitting = [e for e in ends if end < e <= start + limit]
    end = fitting[-1] if fitting else end
    return end if end - start >= floor else min(start + limit, total)
