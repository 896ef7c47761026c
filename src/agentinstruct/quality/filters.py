"""Heuristic answer filters, each a named rejection reason (`filter:<name>`).

A pair does not carry the model's finish_reason, so truncation is judged from the text: an odd number of
code fences, JSON that never closes, a last character that cannot end a sentence (`,` `:` `(`...), a last
word that cannot end one ("the", "and"...), or a long last prose line without final punctuation.
Refusals ("I'm sorry, but I can't...", "As an AI language model...") are rejected unless the pair is
marked unanswerable, where declining is the expected answer. Degenerate repetition is the share of word
n-grams that repeat an earlier one (of a JSON answer, in its values: its keys rightly repeat). An echo is
an answer whose word 5-grams are nearly all the user's own text: the passage or task handed back instead
of an answer (skills whose answers rightly restate the input, such as light edits or fixed code, are
exempt). Length bounds are per skill (`FilterSettings.bounds_for`). Framing is the answer speaking of
itself: a line that introduces "the following text" or "the revised version" with a colon, or a sentence
saying that "this version adheres to the request"; the teacher's answer loses such a line at its start or
end (`without_framing`, in the flows), and one left inside it is rejected (run s16 delivered a rewrite
between "the following text would be more suitable for ...:" and "This version adheres to the request").
A phantom option is a final "Answer: (A)" under a task that lists no options.

Filters run in the order of `FILTERS`; the first failure is the reason recorded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agentinstruct.pairs import Pair
from agentinstruct.quality.agreement import options_in
from agentinstruct.quality.settings import FilterSettings
from agentinstruct.quality.text import WORD_OR_MARK, answer_text, user_text, words


@dataclass(frozen=True)
class FilterFailure:
    """A failed filter: its name and what was seen."""

    name: str
    detail: str

    @property
    def reason(self) -> str:
        return f"filter:{self.name}"


@dataclass(frozen=True)
class Answer:
    """What the filters look at."""

    skill: str
    unanswerable: bool
    instruction: str
    text: str
    #: the last assistant turn only calls tools (a tool-use trace that ends in a call): text checks skip it
    tool_call_only: bool = False

    @classmethod
    def of(cls, pair: Pair) -> Answer:
        return cls.from_messages(pair.skill, pair.messages, unanswerable=pair.unanswerable)

    @classmethod
    def from_messages(
        cls, skill: str, messages: list[Mapping[str, Any]], *, unanswerable: bool = False
    ) -> Answer:
        last = next((m for m in reversed(messages) if m.get("role") == "assistant"), {})
        text = answer_text(messages)
        calls_only = not text.strip() and bool(last.get("tool_calls"))
        if calls_only:
            text = json.dumps(last["tool_calls"], ensure_ascii=False)
        return cls(skill, unanswerable, user_text(messages), text, calls_only)


# -- the filters -------------------------------------------------------------------------------------

#: characters after which a text cannot have ended on purpose
DANGLING_CHARACTERS = ",;:([{=+&\\—–"
#: words a sentence does not end on
_DANGLING = """a an the and or but nor of to in on at by for from with without into onto about as than that
which who whose whom because although though if when while whereas since unless until so such is are was
were be been being has have had will would can could should may might must my your our their its this these
those very more most less between among"""
DANGLING_WORDS = frozenset(_DANGLING.split())
FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)
#: a last line that gives an option letter ("Answer: A" is not a sentence cut off after the article "a")
OPTION_ANSWER = re.compile(r"[*_\s]*(?:final\s+)?answer[*_\s]*[:：][*_\s]*\(?[A-H]\)?[.*_\s]*", re.IGNORECASE)
#: a line that ends with its final answer, "... = 66. Answer: 66": finished on purpose
FINAL_ANSWER_END = re.compile(r"(?:^|[.!?]\s+)[*_]*(?:Final )?Answer[*_\s]*[:：][*_\s]*[^\s:][^:\n]{0,60}$")
STRUCTURED_LINE = re.compile(r"^\s*(?:[-*+]\s|\d+[.)]\s|#|\||>|```|~~~)")
FINAL_PUNCTUATION = re.compile(r"""[.!?…。！？"'”’»)\]}*`_~>]$""")
REFUSAL = re.compile(
    r"^(?:i'?m|i am) sorry,? (?:but )?(?:i|as an ai)|^(?:sorry|i apologi[sz]e),? (?:but )?i (?:can|am|won)"
    r"|\bas an ai(?: language)? model\b"
    r"|\bi (?:can(?:'|no)?t|cannot|won'?t|will not|am (?:not able|unable)|'m (?:not able|unable)) to "
    r"(?:help|assist|provide|comply|fulfil|complete|answer|write|create|generate|do) "
    r"|\bi (?:can(?:'|no)?t|cannot|won'?t|will not) (?:help|assist|comply) with\b",
    re.IGNORECASE | re.MULTILINE,
)
REFUSAL_WINDOW = 300
#: every match of `REFUSAL` contains one of these (lower case): an ASCII text without any cannot match, and
#: testing for them is much cheaper than the case-insensitive regex, which would try each position
REFUSAL_CUES = ("sorry", "apologi", "as an ai", "i can", "i won", "i will", "i am ", "i 'm")


def empty_answer(answer: Answer, settings: FilterSettings) -> str | None:
    return "the final assistant turn is empty" if not answer.text.strip() else None


def truncated(answer: Answer, settings: FilterSettings) -> str | None:
    if answer.tool_call_only:
        return None
    text = answer.text.rstrip()
    fences = len(FENCE.findall(text))
    if fences % 2:
        return f"{fences} code fences: the last one is never closed"
    if text[:1] in "{[" and not _json_closes(text):
        return "JSON output that never closes"
    last_line = text.splitlines()[-1].strip() if text else ""
    if FENCE.match(last_line) or not last_line:
        return None
    if last_line[-1] in DANGLING_CHARACTERS:
        return f"ends with '{last_line[-1]}' mid-sentence: …{last_line[-60:]}"
    if FINAL_PUNCTUATION.search(last_line):
        return None
    last_word = (words(last_line) or [""])[-1]
    if last_word in DANGLING_WORDS and not OPTION_ANSWER.fullmatch(last_line):
        return f"ends on '{last_word}' mid-sentence: …{last_line[-60:]}"
    if FINAL_ANSWER_END.search(last_line):
        return None  # the working then "Answer: 66" on one line (s17's right sequence answer was cut here)
    if not STRUCTURED_LINE.match(last_line) and len(words(last_line)) >= settings.truncation_line_words:
        count = len(words(last_line))
        return f"the last line ({count} words) stops without final punctuation: …{last_line[-60:]}"
    return None


def _json_closes(text: str) -> bool:
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
    return depth <= 0 and not in_string


def refusal(answer: Answer, settings: FilterSettings) -> str | None:
    if answer.unanswerable or answer.tool_call_only:
        return None
    return refusal_in(answer.text)


def refusal_in(text: str) -> str | None:
    """Why `text` reads as a refusal (None when it does not): the `refusal` filter's test, for flows that
    look at a turn before the filters see the pair."""
    window = text[:REFUSAL_WINDOW]
    if window.isascii() and not any(cue in window.lower() for cue in REFUSAL_CUES):
        return None  # exact for ASCII; other text (where case folding goes beyond ASCII) takes the regex
    found = REFUSAL.search(window)
    return f"refuses instead of answering: '{found.group(0).strip()}'" if found else None


def repetition(answer: Answer, settings: FilterSettings) -> str | None:
    text = _json_values(answer.text)
    text = answer.text if text is None else text
    if len(WORD_OR_MARK.findall(text)) < settings.repetition_min_words:
        return None
    ratio = repeated_ngram_ratio(text, settings.repetition_ngram)
    if ratio <= settings.max_repetition:
        return None
    return f"{ratio:.0%} of its {settings.repetition_ngram}-grams repeat an earlier one"


def _json_values(text: str) -> str | None:
    """A JSON answer's values, one per line, or None for an answer that is not JSON: its keys and brackets
    rightly repeat in every record ('"type": null }, { "text":' made a local named-entities answer of 13
    records "63% repeated", run s12a), while a record repeated in a loop still repeats its values."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict | list):
        return None
    values: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)
        elif value is not None:
            values.append(str(value))

    collect(data)
    return "\n".join(values)


def repeated_ngram_ratio(text: str, n: int) -> float:
    """The share of token n-grams (words and punctuation marks) that repeat an earlier n-gram."""
    tokens = WORD_OR_MARK.findall(text.casefold())
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


#: word n-gram size of the echo filter, and the fewest answer words it judges
ECHO_NGRAM = 5
ECHO_MIN_WORDS = 12


def echo(answer: Answer, settings: FilterSettings) -> str | None:
    if answer.tool_call_only or answer.skill in settings.echo_exempt_skills:
        return None
    said = words(answer.text)
    if len(said) < ECHO_MIN_WORDS:
        return None
    user = words(answer.instruction)
    asked = {tuple(user[i : i + ECHO_NGRAM]) for i in range(len(user) - ECHO_NGRAM + 1)}
    grams = [tuple(said[i : i + ECHO_NGRAM]) for i in range(len(said) - ECHO_NGRAM + 1)]
    share = sum(gram in asked for gram in grams) / len(grams)
    if share < settings.max_echo:
        return None
    return f"{share:.0%} of its {ECHO_NGRAM}-grams repeat the user's own text ('{' '.join(said[:8])}...')"


#: the nouns an answer uses when it speaks of itself
_SELF = (
    r"(?:text|version|rewrite|revision|passage|paragraph|response|answer|summary|story|poem|email|letter|"
    r"report|description|draft|edit)"
)
#: a line that introduces the answer with a colon: "Here is the revised text:", "... the following text would
#: be more suitable for a project report:"
FRAMING_PREFACE = re.compile(
    rf"^[^\n]{{0,160}}?\b(?:here(?:'s|\s+is)|below\s+is|the\s+following)\s+(?:(?:the|a|an|my|your)\s+)?"
    rf"(?:[\w-]+\s+){{0,2}}?{_SELF}\b[^\n]{{0,120}}:[ \t*]*$",
    re.IGNORECASE | re.MULTILINE,
)
#: a sentence that grades the answer against the request: "This version adheres to the request by ..."
SELF_ASSESSMENT = re.compile(
    rf"\b(?:this|the\s+above|the\s+(?:revised|rewritten|new|modified|final|edited))\s+(?:[\w-]+\s+)?{_SELF}\b"
    r"[^.\n]{0,80}?\b(?:adheres?|follows|meets|satisfies|fulfils|fulfills|complies|respects|sticks|keeps|"
    r"stays|maintains|is\s+more\s+(?:formal|suitable|professional|concise))\b[^.\n]{0,80}?"
    r"\b(?:request|requirements?|instructions?|constraints?|guidelines?|criteria|tone|purpose|task|"
    r"format|length|style|structure)\b",
    re.IGNORECASE,
)


def without_framing(answer: str) -> str:
    """The answer without a first paragraph that only introduces it and a last one that only grades it;
    unchanged when nothing of substance would be left."""
    paragraphs = re.split(r"\n\s*\n", answer.strip())
    if len(paragraphs) > 1 and FRAMING_PREFACE.fullmatch(paragraphs[0].strip()):
        paragraphs = paragraphs[1:]
    if len(paragraphs) > 1 and SELF_ASSESSMENT.match(paragraphs[-1].strip()):
        paragraphs = paragraphs[:-1]
    while len(paragraphs) > 1 and paragraphs[-1].strip() in ("---", "***", "___"):
        paragraphs = paragraphs[:-1]
    while len(paragraphs) > 1 and paragraphs[0].strip() in ("---", "***", "___"):
        paragraphs = paragraphs[1:]
    rest = "\n\n".join(paragraphs)
    return rest if len(rest.strip()) >= 20 else answer


def framing(answer: Answer, settings: FilterSettings) -> str | None:
    if answer.tool_call_only or answer.skill not in settings.framing_skills:
        return None
    found = FRAMING_PREFACE.search(answer.text) or SELF_ASSESSMENT.search(answer.text)
    if found is None:
        return None
    return f"the answer speaks of itself ('{found.group(0).strip()[:80]}'); give only what the user asked for"


#: a final line that picks a marked option: "Answer: (A)", "Answer: B)"
PICKED_OPTION = re.compile(r"^[*_\s]*(?:final\s+)?answer[*_\s]*[:：][*_\s]*(?:\(([A-H])\)|([A-H])\))", re.I)


def phantom_option(answer: Answer, settings: FilterSettings) -> str | None:
    """An answer that ends by picking an option the user never listed: s30's reading-comprehension summary
    ended "Answer: (A)" under an open question."""
    letter = phantom_letter(answer.text, answer.instruction)
    return f"the answer ends by picking option ({letter}), but the task lists no options" if letter else None


def phantom_letter(text: str, instruction: str) -> str | None:
    """The option letter an answer ends by picking when its task lists no options (None otherwise)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    found = PICKED_OPTION.match(lines[-1]) if lines else None
    if not found or options_in(instruction):
        return None
    return found.group(1) or found.group(2)


def too_short(answer: Answer, settings: FilterSettings) -> str | None:
    bounds = settings.bounds_for(answer.skill)
    answer_words, instruction_words = len(words(answer.text)), len(words(answer.instruction))
    if not answer.tool_call_only and answer_words < bounds.min_answer_words:
        return f"answer of {answer_words} words, under the {bounds.min_answer_words} of {answer.skill}"
    if instruction_words < bounds.min_instruction_words:
        return f"instruction of {instruction_words} words, under the {bounds.min_instruction_words}"
    return None


def too_long(answer: Answer, settings: FilterSettings) -> str | None:
    bounds = settings.bounds_for(answer.skill)
    answer_words, instruction_words = len(words(answer.text)), len(words(answer.instruction))
    if answer_words > bounds.max_answer_words:
        return f"answer of {answer_words} words, over the {bounds.max_answer_words} of {answer.skill}"
    if instruction_words > bounds.max_instruction_words:
        return f"instruction of {instruction_words} words, over the {bounds.max_instruction_words}"
    return None


#: a bracketed outline label written into the piece: "[Opening Line: ...]", "[Paragraph 1: ...]"
TEMPLATE_LABEL = re.compile(r"\[(?:[A-Z][A-Za-z]*(?: [A-Za-z]+){0,2})(?: \d+)?:")
#: the fewest such labels that make an outline (one "[Note: ...]" is an aside)
MIN_TEMPLATE_LABELS = 3


def template_labels(answer: Answer, settings: FilterSettings) -> str | None:
    """An answer that keeps its outline's labels in the piece: s36's advertisement ran "**[Title: ...]**",
    "**[Paragraph 1: ...]**", "[Sentence 1: ...]", 20 labels, and its constraints passed."""
    if answer.tool_call_only:
        return None
    found = TEMPLATE_LABEL.findall(answer.text)
    if len(found) < MIN_TEMPLATE_LABELS:
        return None
    shown = ", ".join(f"{label} ...]" for label in list(dict.fromkeys(found))[:3])
    return f"the answer keeps {len(found)} outline labels ({shown}): write the piece itself, without them"


FilterFunction = Callable[[Answer, FilterSettings], "str | None"]
FILTERS: dict[str, FilterFunction] = {
    "empty_answer": empty_answer,
    "refusal": refusal,
    "truncated": truncated,
    "repetition": repetition,
    "echo": echo,
    "framing": framing,
    "phantom_option": phantom_option,
    "template_labels": template_labels,
    "too_short": too_short,
    "too_long": too_long,
}


def first_failure(pair: Pair, settings: FilterSettings | None = None) -> FilterFailure | None:
    """The first enabled filter the pair fails, or None when it passes them all."""
    return failure_of(Answer.of(pair), settings or FilterSettings())


def failure_of(answer: Answer, settings: FilterSettings) -> FilterFailure | None:
    for name, function in FILTERS.items():
        if name in settings.enabled:
            detail = function(answer, settings)
            if detail is not None:
                return FilterFailure(name, detail)
    return None
