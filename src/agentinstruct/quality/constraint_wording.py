"""Whether an instruction states its constraints in words, and the sentences to add where it does not.

A constraint is checked against the teacher's answer, so the user's request must state it: a pair whose
request says "make it more neutral" while the check demands 80 words teaches nothing and fails for no
visible reason. Small instruction models often list constraints they never wrote into the request, so the
instruction agents' outputs (`agent_outputs.ConstrainedOutput`) add `describe(c)` for each unstated one.

The test is lenient on wording ("at most fifty words", "in French", "every sentence begins with 'S'")
and strict on the value a program checks (the number, the letter, the words, the exact text). Checking
answers lives in `quality.constraints`; this module only reads the request.
"""

from __future__ import annotations

import re

from agentinstruct.quality.constraints import LANGUAGES, Constraint, describe

NUMBER_WORDS = {
    1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine",
    10: "ten", 11: "eleven", 12: "twelve", 13: "thirteen", 14: "fourteen", 15: "fifteen", 16: "sixteen",
    17: "seventeen", 18: "eighteen", 19: "nineteen", 20: "twenty", 30: "thirty", 40: "forty", 50: "fifty",
    60: "sixty", 70: "seventy", 80: "eighty", 90: "ninety", 100: "hundred",
}  # fmt: skip
#: how a request names what a count constraint counts
COUNT_NOUNS = {
    "word_count": r"words?",
    "sentence_count": r"sentences?",
    "paragraph_count": r"paragraphs?|stanzas?|verses?",
    "char_count": r"char(?:acter)?s?|letters?",
}
CASE_WORDS = {
    "upper": r"upper[\s-]?case|capital letters|capitals|all caps|block letters",
    "lower": r"lower[\s-]?case|small letters|no capital",
    "title": r"title[\s-]?case|capitali[sz]e (?:each|every)",
}
LIST_WORDS = r"list|bullet|numbered|items|points"


def _has(pattern: str, text: str) -> bool:
    return re.search(pattern, text, re.IGNORECASE) is not None


def number_stated(number: int, text: str) -> bool:
    """Whether `text` states `number`, as digits ("600", "1,000", not inside "6000") or in words."""
    if _has(rf"(?<![\d.,]){number}(?![\d]|[.,]\d)", text) or _has(rf"(?<![\d,]){number:,}(?!\d)", text):
        return True
    spelled = NUMBER_WORDS.get(number)
    tens, units = divmod(number, 10)
    if spelled is None and 20 < number < 100 and units:
        spelled = rf"{NUMBER_WORDS[tens * 10]}[\s-]{NUMBER_WORDS[units]}"
    if number == 1 and _has(r"\bsingle\b", text):
        return True
    return spelled is not None and _has(rf"\b{spelled}\b", text)


def _squeezed(text: str) -> str:
    return " ".join(text.split()).casefold()


def is_stated(instruction: str, constraint: Constraint) -> bool:
    """Whether the request states this constraint, with the value a program checks."""
    c = constraint
    match c.kind:
        case "word_count" | "sentence_count" | "paragraph_count" | "char_count":
            noun = rf"\b(?:{COUNT_NOUNS[c.kind]})\b"
            return _has(noun, instruction) and number_stated(c.number, instruction)
        case "case":
            return _has(CASE_WORDS[c.text], instruction)
        case "every_sentence_starts_with" | "every_word_starts_with":
            unit = c.kind.split("_")[1]
            letter = re.escape(c.text)
            quoted = rf"['\"“‘]{letter}['\"”’]|\bletter\s+{letter}\b|\b(?:with|by)\s+(?:an?\s+)?{letter}\b"
            return _has(rf"\b{unit}s?\b", instruction) and _has(quoted, instruction)
        case "banned_words" | "required_words":
            request = _squeezed(instruction)
            return all(_squeezed(word) in request for word in c.words)
        case "bullet_list":
            return _has(rf"\b(?:{LIST_WORDS})\b", instruction) and (
                not c.number or number_stated(c.number, instruction)
            )
        case "starts_with" | "ends_with":
            return _edge_stated(instruction, c.kind, c.text)
        case "language":
            name = LANGUAGES.get(c.text, c.text)
            return _has(rf"\b(?:{re.escape(name)}|{re.escape(c.text)})\b", instruction)
    return False


#: the verbs a request uses for where the answer starts or ends
EDGE_VERBS = {
    "starts_with": r"(?:start|begin|open)(?:s|ing)?|first (?:words?|line)",
    "ends_with": r"(?:end|close|finish|conclude)(?:s|ing)?|last (?:words?|line)|sign(?:ed)? off",
}


def _edge_stated(instruction: str, kind: str, text: str) -> bool:
    """Whether the request gives the opening or closing text: quoted anywhere, or right after a start or end
    word and "with", "on", "by" or a colon. s31's starts_with "The" counted as stated because the request's
    own "The answer must contain..." held the word, and the song that did not start with "The" failed."""
    wanted = re.escape(_squeezed(text).strip(" .,;:!?\"'"))
    request = _squeezed(instruction)
    quoted = rf"['\"“‘]{wanted}[\s.,;:!?]*['\"”’]"
    joint = r"(?:\s+[\w']+){0,4}?\s*(?:\bwith\b|\bon\b|\bby\b|:)\s*['\"“‘]?"
    named = rf"\b(?:{EDGE_VERBS[kind]})\b{joint}{wanted}(?!\w)"
    return _has(quoted, request) or _has(named, request)


def with_constraints_stated(instruction: str, constraints: list[Constraint]) -> str:
    """The request with one sentence added for each constraint it does not state; unchanged otherwise."""
    missing = [describe(c) for c in constraints if not is_stated(instruction, c)]
    if not missing:
        return instruction
    return f"{instruction.rstrip()}\n\n{' '.join(missing)}"


#: a request to translate: "translate the text into Spanish", "a translation to German"
TRANSLATE_INTO = re.compile(r"\b(?i:translat)\w*\b[^.\n]{0,80}?\b(?:into|to)\s+([A-Z][a-z]+)\b")


def asked_language(instruction: str, constraints: list[Constraint]) -> list[Constraint]:
    """A language constraint for the language a request asks a translation into, when none is listed: s31's
    "Translate the text into Spanish" listed only an upper-case constraint, and an answer in English upper
    case passed every check."""
    if any(c.kind == "language" for c in constraints):
        return []
    found = TRANSLATE_INTO.search(instruction)
    codes = {name: code for code, name in LANGUAGES.items()}
    if not found or found.group(1) not in codes:
        return []
    return [Constraint(kind="language", text=codes[found.group(1)])]
