"""The one-sentence settings of puzzles written as data, ended with a whole sentence.

A shaped task's setting (an arrangement's setup, a truth-tellers or syllogism setting, a sequence's theme)
is asked for under a grammar with a length limit. The limit cut the local model's setup off mid-sentence
("...the four keepers of the") and the puzzle opened with it (run s11c); a setting that only lacks its full
stop is common too. The shapes themselves are in their own modules (`flows.arrangements` and others).
"""

from __future__ import annotations

import re
from typing import Any

#: where a sentence ends: its stop, a closing quote or bracket after it, then a space or the end
SENTENCE_END = re.compile(r"""[.!?]["')\]]*(?=\s|$)""")
#: how near the limit a setting must come to have been cut off by it rather than left without a stop
CUT_MARGIN = 20


def whole_sentences(value: Any, limit: int, what: str) -> str:
    """The setting ending with a whole sentence: cut back to its last one when it reached `limit` (the
    grammar cut it off), given a full stop when shorter; "" stays "" for the caller to report.

    A ValueError (sent back to the model) when a setting at the limit holds no whole sentence at all."""
    text = " ".join(str(value or "").split())
    ends = [m.end() for m in SENTENCE_END.finditer(text)]
    if not text or (ends and ends[-1] == len(text)):
        return text
    if len(text) < limit - CUT_MARGIN:
        return f"{text}."
    if not ends:
        raise ValueError(f"the {what} {text[:60]!r}... is cut off: write it as one to three whole sentences")
    return text[: ends[-1]]
