"""Mappings from a seed's own terms: the model lists the terms, code picks a rule and writes the outputs.

few_shot_reasoning's `term_pattern` transformation (`content_shape: terms`) asks for 6 to 10 short terms
from the seed (names, multi-word phrases, numbers), and code turns them into a mapping in the notation of
the `mapping` shape ("Rule: ...", then "Input: ... -> Output: ..." lines), so the held-out task shapes
(`flows.held_out`) take it as they take a model's mapping. Asked for a rule and its examples, the local
1.5B model described the text instead of a rule ("each sentence maps to its main idea"), paired sentences
with themselves, or gave one output for every input (0 usable mappings in 9 units of run s7e); a rule
applied by code is learnable and its outputs are right by construction.

The rules are those of list-function and string-transformation benchmarks: initials, a slug, the word
order reversed, the first or last word, a count of words or letters, arithmetic on numbers, a year's
century, and the categories even/odd and vowel/consonant (for classification from examples). A rule is
chosen among those that apply to at least `MIN_TERMS` of the terms and give varied outputs, seeded by
the terms, so a run is reproducible; simpler rules (`FALLBACK_PATTERNS`) only when none of them fits.
The mapping shape's own checks live in `flows.shaped_content`.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MIN_TERMS, MAX_TERMS = 6, 10
#: how many terms the agent is asked for: more than a pattern needs, since a pattern applies to names or to
#: numbers, not to both (6 terms asked, the local model gave 4 names and 2 numbers, which fit no pattern)
ASKED_TERMS = (8, 12)
MAX_TERM_WORDS = 6
WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
INTEGER = re.compile(r"^\d{1,3}(?:,\d{3})+$|^\d{1,7}$")

TERMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "terms": {
            "type": "array",
            "minItems": ASKED_TERMS[0],
            "maxItems": ASKED_TERMS[1],
            "items": {"type": "string", "minLength": 1, "maxLength": 48},
        }
    },
    "required": ["terms"],
    "additionalProperties": False,
}
TERMS_DESCRIPTION = (
    "terms taken word for word from the text: 8 to 12 distinct names of people, places, groups or things "
    "(one to four words each) and numbers written on their own"
)


@dataclass(frozen=True)
class Pattern:
    rule: str
    applies: Callable[[str], bool]
    output: Callable[[str], str]
    category: bool = False  # outputs are class labels, each shown at least twice


def _words(term: str) -> list[str]:
    return WORD.findall(term)


def _phrase(term: str) -> bool:
    """Two or more words separated by spaces and nothing else: "letters@fenwick-gazette.example" is one
    term with no spaces, whose "last word" (example) a solver cannot be expected to guess."""
    return len(_words(term)) >= 2 and " ".join(_words(term)) == " ".join(term.split())


def _number(term: str) -> int:
    return int(term.replace(",", ""))


def _century(term: str) -> str:
    century = _number(term) // 100 + 1
    suffix = "th" if 10 <= century % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(century % 10, "th")
    return f"{century}{suffix}"


PATTERNS: dict[str, Pattern] = {
    "initials": Pattern(
        "The output is the first letter of each word of the input, in capitals.",
        _phrase,
        lambda t: "".join(w[0].upper() for w in _words(t)),
    ),
    "slug": Pattern(
        "The output is the input in lower case with its words joined by hyphens.",
        _phrase,
        lambda t: "-".join(w.lower() for w in _words(t)),
    ),
    "reversed": Pattern(
        "The output is the input's words in reverse order.", _phrase, lambda t: " ".join(_words(t)[::-1])
    ),
    "last_word": Pattern("The output is the last word of the input.", _phrase, lambda t: _words(t)[-1]),
    "word_count": Pattern(
        "The output is the number of words in the input.", _phrase, lambda t: str(len(_words(t)))
    ),
    "letters": Pattern(
        "The output is the number of letters in the input.",
        lambda t: len(_words(t)) == 1 and t.strip().isalpha(),
        lambda t: str(len(t.strip())),
    ),
    "double": Pattern(
        "The output is the input number doubled.",
        lambda t: bool(INTEGER.match(t)),
        lambda t: f"{2 * _number(t):,}" if "," in t else str(2 * _number(t)),
    ),
    "century": Pattern(
        "The output is the century of the input year.",
        lambda t: bool(re.fullmatch(r"1[0-9]{3}|20[0-9]{2}", t)),
        _century,
    ),
    "parity": Pattern(
        "The output says whether the input number is even or odd.",
        lambda t: bool(INTEGER.match(t)),
        lambda t: "even" if _number(t) % 2 == 0 else "odd",
        category=True,
    ),
    "first_letter": Pattern(
        "The output says whether the input starts with a vowel or a consonant.",
        lambda t: bool(_words(t)) and t.strip()[0].isalpha(),
        lambda t: "vowel" if t.strip()[0].lower() in "aeiou" else "consonant",
        category=True,
    ),
}


def _lettered(term: str) -> bool:
    """A name that starts with a letter ("6,500 pounds" starts with its number)."""
    return term.strip()[:1].isalpha()


#: rules for names of any length, used only when no rule above fits: s37's eight terms were four single
#: words, three two-word names and "6,500 pounds", too few of one kind for any rule above, and the unit
#: was lost at its transformation
FALLBACK_PATTERNS: dict[str, Pattern] = {
    "capitals": Pattern(
        "The output is the input written in capital letters.",
        lambda t: _lettered(t) and t.upper() != t,
        lambda t: " ".join(t.split()).upper(),
    ),
    "first_word_letters": Pattern(
        "The output is the number of letters in the input's first word.",
        _lettered,
        lambda t: str(len(_words(t)[0])),
    ),
}


def _usable(pattern: Pattern, terms: list[str]) -> list[tuple[str, str]] | None:
    """The examples a pattern makes of the terms, or None when too few terms fit or outputs do not vary."""
    examples = [(t, pattern.output(t)) for t in terms if pattern.applies(t)]
    outputs = Counter(o for _, o in examples)
    if len(examples) < MIN_TERMS or len(outputs) < 2:
        return None
    if pattern.category and min(outputs.values()) < 2:
        return None  # a class shown once cannot be learnt from the examples
    if not pattern.category and max(outputs.values()) > len(examples) // 2:
        return None  # mostly one output: a constant, not a rule
    if any(i.casefold() == o.casefold() for i, o in examples):
        return None  # an output that repeats its input shows nothing
    return examples


def term_mapping(data: Any) -> dict[str, Any]:
    """{rule, examples} from the terms: a pattern that fits them, chosen by a seed drawn from the terms."""
    if not isinstance(data, dict) or not isinstance(data.get("terms"), list):
        raise TypeError("not an object with a list of terms")
    cleaned = [" ".join(str(t).split()).strip(" .,;:") for t in data["terms"]]
    distinct: dict[str, str] = {}
    for term in cleaned:
        if term and len(term.split()) <= MAX_TERM_WORDS:
            distinct.setdefault(term.casefold(), term)  # the first spelling of a repeated term
    terms = list(distinct.values())
    choices = {name: ex for name, p in PATTERNS.items() if (ex := _usable(p, terms))}
    patterns = PATTERNS
    if not choices:
        patterns = FALLBACK_PATTERNS
        choices = {name: ex for name, p in patterns.items() if (ex := _usable(p, terms))}
    if not choices:
        raise ValueError(
            f"the {len(terms)} distinct terms fit no pattern: give {ASKED_TERMS[0]}-{ASKED_TERMS[1]} terms "
            "copied from the text, mostly names of two to four words or numbers written on their own"
        )
    rng = random.Random(hashlib.sha256("\n".join(terms).encode()).digest())
    name = rng.choice(sorted(choices))
    return {"rule": patterns[name].rule, "examples": [list(pair) for pair in choices[name]]}
