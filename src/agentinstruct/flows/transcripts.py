"""The `turns` content shape: a transcript the model writes as speaker turns, and code as "Name: words" lines.

Reading comprehension's debate, conversation and meeting transcripts are passages of turns. Asked for the
transcript as text, the local 1.5B model described a debate instead of writing one ("This is a debate
transcript of the given text. The debate focuses on the conclusion that ..."; run s16), and the question
and answer built on that description were kept. Under the JSON grammar it writes an opening line (the
motion, the attendees) and turns, each a speaker and what they say; code checks that at least two people
take part, each more than once, and writes the lines. The transformation prompts still say how a good
transcript reads; this module holds only its structure.
"""

from __future__ import annotations

import re
from typing import Any

from agentinstruct.reply_problems import word_pairs

#: a transcript short enough to read in one go, long enough to ask about
MIN_TURNS, MAX_TURNS = 6, 16
#: the longest turn: a turn is said, not a passage of the source read out
MAX_TURN_WORDS = 90
#: the turns of each of the two people a transcript needs at least
MIN_TURNS_EACH = 2
#: a turn whose word pairs are this share of an earlier turn's repeats it
REPEAT_SHARE = 0.7

TURNS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "opening": {"type": "string", "maxLength": 300},
        "turns": {
            "type": "array",
            "minItems": MIN_TURNS,
            "maxItems": MAX_TURNS,
            "items": {
                "type": "object",
                "properties": {
                    "speaker": {"type": "string", "minLength": 1, "maxLength": 40},
                    "says": {"type": "string", "minLength": 1, "maxLength": 700},
                },
                "required": ["speaker", "says"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["opening", "turns"],
    "additionalProperties": False,
}
TURNS_DESCRIPTION = (
    "the transcript: its opening line when it has one (the motion, the attendees; else empty), then its "
    "turns in the order they are said, each {speaker, says}: the speaker's name, written the same way on "
    "every turn, and what that person says in their own words"
)


def turn_lines(transcript: dict[str, Any]) -> str:
    """The opening line, then the turns as "Speaker: what they say" lines (a turn that mostly repeats an
    earlier one, whoever said it, is left out)."""
    turns = transcript.get("turns") if isinstance(transcript, dict) else None
    if not isinstance(turns, list) or not all(isinstance(turn, dict) for turn in turns):
        raise TypeError("not a transcript of turns")
    kept: list[tuple[str, str]] = []
    said: list[set[tuple[str, str]]] = []
    for turn in turns:
        speaker = " ".join(str(turn.get("speaker", "")).split()).rstrip(":")
        says = " ".join(str(turn.get("says", "")).split())
        pairs = word_pairs(says) or {(says.casefold(), "")}
        # words said before are no new turn: the local model gave one sentence to both debaters in turn,
        # five times over, and ended a meeting with eight turns of "I agree with you as well. We should also
        # look into the potential effects of different types of sleep ... on recall" (probes on s18's code)
        if speaker and says and not any(len(pairs & before) >= REPEAT_SHARE * len(pairs) for before in said):
            kept.append((speaker, says))
            said.append(pairs)
    counts: dict[str, int] = {}
    for speaker, _ in kept:
        counts[speaker] = counts.get(speaker, 0) + 1
    regular = [speaker for speaker, count in counts.items() if count >= MIN_TURNS_EACH]
    if len(kept) < MIN_TURNS or len(regular) < 2:
        raise ValueError(
            f"the transcript has {len(kept)} distinct turns by {len(counts)} speaker(s): give {MIN_TURNS} to "
            f"{MAX_TURNS} turns, each saying something new, in which at least two people each speak "
            f"{MIN_TURNS_EACH} times or more"
        )
    long = [number for number, (_, says) in enumerate(kept, 1) if len(says.split()) > MAX_TURN_WORDS]
    if long:
        raise ValueError(
            f"turns {long} are longer than {MAX_TURN_WORDS} words: a turn is what one person says at a "
            "time, in their own words; split it or shorten it"
        )
    opening = " ".join(str(transcript.get("opening", "")).split())
    opening = opening if re.search(r"\w", opening) else ""  # the local model wrote "-" for no opening
    return "\n".join([*([opening] if opening else []), *(f"{speaker}: {says}" for speaker, says in kept)])


#: a transcript line: a speaker's name (a few words, perhaps a role in brackets), a colon, what they say
TURN_LINE = re.compile(r"^\s*[*_]*(?P<speaker>[A-Z][\w .'’()-]{0,39}?)[*_]*\s*:\s*(?P<says>\S.*)$")
#: labels of an opening line that reads like a turn ("Motion: ...", "Attendees: ...")
OPENING_LABELS = frozenset({"motion", "attendees", "present", "topic", "title", "date", "agenda"})


def turns_from_text(text: str) -> dict[str, Any]:
    """A transcript written as text (an opening line, then "Name: words" lines) read back as its structure,
    so that one written as text is held to the same rules: "The objections" alone was a local debate
    transcript (run s18) and became the passage of a reading-comprehension pair. Lines that are no turns
    (narration) are left out."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    opening = ""
    if lines:
        first = TURN_LINE.match(lines[0])
        if first is None or first["speaker"].strip().lower() in OPENING_LABELS:
            opening, lines = lines[0], lines[1:]
    return {"opening": opening, "turns": [m.groupdict() for line in lines if (m := TURN_LINE.match(line))]}
