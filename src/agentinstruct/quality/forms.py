"""The `in_verse` check: a poem or song written as verse lines, not as prose paragraphs.

A creative piece whose type is verse (`VERSE_TYPES`) must be mostly short lines: run s31 delivered a
"poem" of four prose paragraphs, 40 to 60 words a line, which every constraint (a word floor, a paragraph
count) let through. Section labels of a song ("Verse 1:", "Chorus:") and a title line are not counted.
Constraints on form (stanzas, metre) stay with `quality.constraints`; this check only tells verse from prose.
"""

from __future__ import annotations

import re

from agentinstruct.pairs import Check
from agentinstruct.quality.checks import Candidate, check

#: instruction types whose answer is verse
VERSE_TYPES = frozenset({"poem", "song_lyrics"})
#: the longest line that still reads as a verse line, in words
MAX_LINE_WORDS = 16
#: the share of lines that must be verse lines, and the fewest lines a piece of verse has
VERSE_SHARE = 0.8
MIN_LINES = 4
#: a line that names a section or the title ("Verse 1:", "[Chorus]", "Title: ...", "# Mill Lane")
LABEL_LINE = re.compile(
    r"^\s*(?:\(?[A-Za-z -]{1,20}\d*\)?:|\[[^\]]{1,30}\]|title:.*|#+ .*)\s*$", re.IGNORECASE
)


@check("in_verse")
def in_verse(candidate: Candidate) -> Check | None:
    """Verse types are written in short lines; None for other types."""
    if candidate.instruction_type not in VERSE_TYPES:
        return None
    lines = [line for line in candidate.answer.splitlines() if line.strip() and not LABEL_LINE.match(line)]
    short = [line for line in lines if len(line.split()) <= MAX_LINE_WORDS]
    if len(lines) >= MIN_LINES and len(short) >= VERSE_SHARE * len(lines):
        return Check(name="in_verse", ok=True, detail=f"{len(short)} of {len(lines)} lines are verse lines")
    longest = max((len(line.split()) for line in lines), default=0)
    return Check(
        name="in_verse",
        ok=False,
        detail=(
            f"a {candidate.instruction_type.replace('_', ' ')} is written in verse lines of at most "
            f"{MAX_LINE_WORDS} words, and only {len(short)} of its {len(lines)} lines are (the longest has "
            f"{longest} words): write it line by line, not as prose paragraphs"
        ),
    )
