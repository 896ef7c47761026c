"""Checks on an answer's form: `in_verse` (a poem or song written as verse lines, not as prose
paragraphs) and `kept_text` (a rewrite of a whole text keeps about as much text as it was given).

A creative piece whose type is verse (`VERSE_TYPES`) must be mostly short lines: run s31 delivered a
"poem" of four prose paragraphs, 40 to 60 words a line, which every constraint (a word floor, a paragraph
count) let through. Section labels of a song ("Verse 1:", "Chorus:") and a title line are not counted.
Constraints on form (stanzas, metre) stay with `quality.constraints`; this check only tells verse from prose.

A text modification of the whole text must keep most of it (`KEPT_SHARE`, per type): s31's "translation into
Spanish" of a four-sentence passage was its last line in English capitals, and every constraint passed.
A request that caps the length or names a part of the text ("the first paragraph") is left alone.
"""

from __future__ import annotations

import re

from agentinstruct.pairs import Check
from agentinstruct.quality.checks import Candidate, check
from agentinstruct.quality.constraints import length_capped

#: instruction types whose answer is verse
VERSE_TYPES = frozenset({"poem", "song_lyrics"})
#: the longest line that still reads as a verse line, in words
# (s32's song held two short sentences a line, 15 to 19 words; s31's prose paragraphs 40 to 60)
MAX_LINE_WORDS = 24
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


#: per text_modification type that rewrites the whole text, the least share of the text's words the answer
#: holds (an expansion more than all of them); types that remove or derive (text_removal,
#: textual_entailment, content_rewriting) may rightly write much less, and are not listed
KEPT_SHARE = {
    "paraphrasing": 0.5,
    "text_simplification": 0.3,
    "text_expansion": 1.0,
    "text_translation": 0.5,
    "text_formatting": 0.6,
    "sentiment_modification": 0.5,
    "text_annotation": 0.8,
    "keyword_replacement": 0.8,
    "text_capitalization": 0.8,
    "text_styling": 0.5,
    "data_normalization": 0.7,
    "plagiarism_rewording": 0.5,
    "code_switching": 0.5,
    "text_obfuscation": 0.5,
    "vocabulary_limited_rewriting": 0.4,
}
#: a request that names a part of the text, whose rewrite may rightly be short
NAMED_PART = re.compile(
    r"\b(?:first|second|third|fourth|last|final|opening|closing|next|following|this|that|each)\s+"
    r"(?:\w+\s+)?(?:paragraph|sentence|line|section|part|heading|title|quote|quotation|phrase|word|name)s?\b"
    r"|\b(?:paragraph|sentence|section|line)s?\s+\d"
    r"|\bthe\s+(?:heading|title|quote|quotation|headline|byline|sentence|phrase|clause)\b"
    r"|\b(?:only|just)\s+the\b"
    r"|[\"“][^\"”\n]{25,}[\"”]",  # a quoted passage of its own
    re.IGNORECASE,
)
#: a word, or one character of a script written without spaces (a translation into Chinese or Japanese)
TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|\w+")


@check("kept_text")
def kept_text(candidate: Candidate) -> Check | None:
    """A rewrite of the whole text holds at least its type's share of the text's words; None otherwise."""
    share = KEPT_SHARE.get(candidate.instruction_type)
    # a length cap the request states (at most or exactly N words, sentences...) governs the length instead
    capped = length_capped(candidate.constraints)
    if share is None or capped or not candidate.content.strip() or NAMED_PART.search(candidate.instruction):
        return None
    given, written = len(TOKEN.findall(candidate.content)), len(TOKEN.findall(candidate.answer))
    least = int(share * given)
    if written >= least:
        return Check(name="kept_text", ok=True, detail=f"{written} words for a text of {given}")
    kind = candidate.instruction_type.replace("_", " ")
    return Check(
        name="kept_text",
        ok=False,
        detail=(
            f"the answer holds {written} words, and the text it works on {given}: a {kind} of the whole "
            f"text keeps at least {least} of them; rewrite all of the text as asked, leaving nothing out"
        ),
    )
