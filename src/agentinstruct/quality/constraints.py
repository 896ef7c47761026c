"""Verifiable constraints: machine-checkable requirements that an instruction carries beside its text.

An instruction such as "Rewrite the text in at most 50 words, without the word 'very'" also carries the
same requirements as structured `Constraint` objects, so that a program can check the teacher's answer
(SPEC §2 row 2). This module holds the flat `Constraint` model (also sent to the model as a JSON schema),
`describe` (the constraint as an English sentence), the text measurements (words, sentences, paragraphs,
bullets, language) and `check_constraint(s)`, plus the `constraints` check that skills list in `checks:`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from agentinstruct.pairs import Check
from agentinstruct.quality.checks import Candidate, check

Kind = Literal[
    "case", "word_count", "sentence_count", "paragraph_count", "char_count", "every_sentence_starts_with",
    "every_word_starts_with", "banned_words", "required_words", "bullet_list", "starts_with", "ends_with",
    "language",
]  # fmt: skip
KINDS: tuple[str, ...] = Kind.__args__
COUNT_KINDS = {"word_count", "sentence_count", "paragraph_count", "char_count"}
#: the largest count a task may require (at least or exactly): a longer piece does not fit a teacher's
#: answer (1,536 tokens by default, about 1,100 words), and local answers of 200-400 words were asked for
#: "at least 700 words" and "at least 200 sentences" (runs s7e, s10a)
MOST_ASKED = {"word_count": 600, "sentence_count": 40, "paragraph_count": 12, "char_count": 4000}
CASES = {"upper": "upper", "uppercase": "upper", "all_upper": "upper", "all_caps": "upper", "caps": "upper"}
CASES |= {"lower": "lower", "lowercase": "lower", "all_lower": "lower"}
CASES |= {"title": "title", "title_case": "title", "titlecase": "title"}
BULLETS = {"-": "-", "*": "*", "•": "•", "+": "+", "1.": "1.", "1)": "1.", "numbered": "1.", "number": "1."}
#: ISO 639-1 codes that langdetect can recognise, with their English names (names are accepted as input).
LANGUAGES = dict(
    af="Afrikaans", ar="Arabic", bg="Bulgarian", bn="Bengali", ca="Catalan", cs="Czech", cy="Welsh",
    da="Danish", de="German", el="Greek", en="English", es="Spanish", et="Estonian", fa="Persian",
    fi="Finnish", fr="French", gu="Gujarati", he="Hebrew", hi="Hindi", hr="Croatian", hu="Hungarian",
    id="Indonesian", it="Italian", ja="Japanese", kn="Kannada", ko="Korean", lt="Lithuanian", lv="Latvian",
    mk="Macedonian", ml="Malayalam", mr="Marathi", ne="Nepali", nl="Dutch", no="Norwegian", pa="Punjabi",
    pl="Polish", pt="Portuguese", ro="Romanian", ru="Russian", sk="Slovak", sl="Slovenian", so="Somali",
    sq="Albanian", sv="Swedish", sw="Swahili", ta="Tamil", te="Telugu", th="Thai", tl="Tagalog",
    tr="Turkish", uk="Ukrainian", ur="Urdu", vi="Vietnamese", zh="Chinese",
)  # fmt: skip
LANGUAGE_ALIASES = {"nb": "no", "nn": "no", "iw": "he", "fil": "tl", "zh-cn": "zh", "zh-tw": "zh"}
LANGUAGE_ALIASES |= {name.lower(): code for code, name in LANGUAGES.items()}
#: below this many letters (or words) a language detector guesses; the check is then not applicable
MIN_LANGUAGE_LETTERS, MIN_LANGUAGE_WORDS = 20, 4


class Constraint(BaseModel):
    """One machine-checkable requirement on the answer; flat, as it is a JSON schema for small models."""

    kind: Kind = Field(description="what is constrained: " + ", ".join(KINDS))
    relation: Literal["at_least", "at_most", "exactly"] = Field(
        default="exactly", description="for word/sentence/paragraph/char counts and bullet items"
    )
    number: int = Field(default=0, description="the count or length the relation applies to")
    text: str = Field(
        default="",
        max_length=300,
        description="case (upper, lower, title), a letter, a bullet marker (-, *, 1.), a language code "
        "(fr), or the exact start/end text",
    )
    words: list[str] = Field(default_factory=list, max_length=12, description="words to ban or require")

    @model_validator(mode="after")
    def _coherent(self) -> Constraint:
        kind, text = self.kind, self.text.strip()
        self.words = list(dict.fromkeys(w.strip() for w in self.words if w.strip()))
        if kind in COUNT_KINDS and self.number <= 0:
            raise ValueError(f"{kind} needs a positive number (for example relation at_most, number 50)")
        if kind == "case":
            if text.lower().replace(" ", "_") not in CASES:
                raise ValueError(f"case needs text 'upper', 'lower' or 'title', not {text!r}")
            text = CASES[text.lower().replace(" ", "_")]
        elif kind in ("every_sentence_starts_with", "every_word_starts_with"):
            letter = text.strip("'\"")
            if len(letter) != 1 or not letter.isalpha():
                raise ValueError(f"{kind} needs text set to one letter, such as 's' (got {text!r})")
            text = letter.lower()
        elif kind in ("banned_words", "required_words") and not self.words:
            raise ValueError(f"{kind} needs at least one entry in words, such as ['very', 'really']")
        elif kind == "bullet_list":
            if text and text not in BULLETS:
                raise ValueError(
                    f"bullet_list text must be a marker '-', '*', '•', '1.' or empty, not {text!r}"
                )
            if self.number < 0:
                raise ValueError(
                    "bullet_list number must be 0 (any number of items) or a positive item count"
                )
            text = BULLETS.get(text, "")
        elif kind in ("starts_with", "ends_with") and not re.search(r"[^\W_]", text):
            # the local model asked a letter to start with '-' (run s11a)
            raise ValueError(f"{kind} needs text: the exact words the answer must {kind[:-6]} with")
        elif kind == "language":
            text = LANGUAGE_ALIASES.get(text.lower(), text.lower())
            if not re.fullmatch(r"[a-z]{2}", text):
                raise ValueError(
                    f"language needs a two-letter ISO 639-1 code in text, such as 'fr', not {text!r}"
                )
        self.text = text
        return self


# -- measuring text ---------------------------------------------------------------------------------------
CJK = re.compile(r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])")
WORD = re.compile(r"[^\W_](?:[\w'’.\-]*[^\W_])?")
LIST_MARKER = re.compile(r"^\s*(?:[-*•+]|\d{1,3}[.)])\s+")
HEADING = re.compile(r"^\s*#{1,6}\s")
SENTENCE_END = re.compile(r"(\.{3}|…|[.!?]+)([\"'”’)\]*_]*)(\s+|$)|([。！？]+)([」』”’)]*)\s*")
#: a period after these does not end a sentence
ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "vs", "cf", "jr", "sr", "approx", "al", "dept", "mt", "gen",
    "col", "lt", "sgt", "rev", "ave",
}  # fmt: skip
#: ... nor after these when a number follows ("No. 5", "Fig. 3")
NUMBER_ABBREVIATIONS = {
    "no", "nos", "fig", "figs", "vol", "p", "pp", "art", "sec", "ch", "eq", "ref", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
}  # fmt: skip
#: "e.g", "U.S", "Ph.D", "a.m": letters with inner periods
DOTTED = re.compile(r"(?:[^\W\d_]{1,3}\.)+[^\W\d_]{1,3}")
#: words that title case leaves in lowercase unless they come first
MINOR_WORDS = {
    "a", "an", "the", "and", "but", "or", "nor", "for", "so", "yet", "as", "at", "by", "in", "of", "on",
    "to", "up", "via", "per", "off", "out", "with", "from", "into",
}  # fmt: skip


def length_capped(constraints: Iterable[Constraint]) -> bool:
    """Whether the constraints cap or fix a count (at most or exactly N words, sentences...)."""
    return any(c.kind in COUNT_KINDS and c.relation != "at_least" for c in constraints)


def words(text: str) -> list[str]:
    """Words of a text: numbers like 3.5, abbreviations like e.g., contractions and hyphenated words count
    once; list markers and punctuation do not count; each CJK character counts as a word."""
    body = "\n".join(LIST_MARKER.sub("", line) for line in text.splitlines())
    return WORD.findall(CJK.sub(r" \1 ", body))


def paragraphs(text: str) -> list[str]:
    """Blocks separated by blank lines, as a reader counts them: a horizontal rule separates blocks, and a
    one-line label of at most four words that ends no sentence (a title, "Dear Ms Lee,", "Sincerely,",
    "Chorus:") is not a paragraph. Counted raw, a local letter asked for 3 paragraphs had 9 (salutation
    and sign-off lines included) and an advertisement counted its "---" rules (runs s7e, s10a, s10b)."""
    return [b for b in _blocks(text) if not _label(b)]


def _blocks(text: str) -> list[str]:
    """Blocks separated by blank lines or horizontal rules, every one kept."""
    blocks = re.split(r"\n\s*\n|^\s*(?:[-*_]\s*){3,}$", text, flags=re.M)
    return [b.strip() for b in blocks if b and b.strip()]


def _label(block: str) -> bool:
    """A block that is one short line ending no sentence: a title, salutation, sign-off or section label."""
    line = block.strip("*_# ")
    ends_sentence = re.search(r"[.!?][\"'”’)\]]*$", line)
    return "\n" not in line and len(words(line)) <= 4 and not ends_sentence and len(sentences(line)) <= 1


def _units(text: str) -> list[str]:
    """Paragraphs, with each list item and heading line a unit of its own; other line breaks are joined."""
    units: list[str] = []
    for paragraph in _blocks(text):
        current: list[str] = []
        for line in paragraph.splitlines():
            if LIST_MARKER.match(line) or HEADING.match(line):
                units += [" ".join(current)] if current else []
                units.append(HEADING.sub("", LIST_MARKER.sub("", line)).strip())
                current = []
            elif line.strip():
                current.append(line.strip())
        units += [" ".join(current)] if current else []
    return [u for u in units if u]


def sentences(text: str) -> list[str]:
    """Sentences of a text, robust to abbreviations (e.g., Dr.), initials, decimals, quotes, bullets, CJK."""
    caseless = not any(c.isupper() for c in text)
    result: list[str] = []
    for unit in _units(text):
        start = 0
        for match in SENTENCE_END.finditer(unit):
            end = match.end()
            if match.group(1) and end < len(unit):
                following = unit[end]
                before = unit[start : match.start()].split()
                token = before[-1].lower().lstrip("(\"'“‘") if before else ""
                if following.islower() and not caseless:
                    continue  # '"Really?" she asked', 'Well... maybe'
                if match.group(1) == ".":
                    if token in ABBREVIATIONS or DOTTED.fullmatch(token) or re.fullmatch(r"[^\W\d_]", token):
                        continue  # e.g. / U.S. / initials such as J. K. Rowling
                    if token in NUMBER_ABBREVIATIONS and following.isdigit():
                        continue
            result.append(unit[start:end].strip())
            start = end
        result.append(unit[start:].strip())
    return [s for s in result if any(c.isalnum() for c in s)]


def _base_letter(char: str) -> str:
    """'É' -> 'e': the letter without case or diacritics."""
    return unicodedata.normalize("NFD", char.casefold())[0]


def _phrase(word: str) -> re.Pattern[str]:
    """A case-insensitive whole-word pattern for a word or phrase (a possessive 's still matches)."""
    body = r"\s+".join(re.escape(part) for part in word.split())
    return re.compile(rf"(?<![\w'’-]){body}(?![\w-]|['’](?!s\b)\w)", re.IGNORECASE)  # "cat's", not "don't"


def _compare(value: int, relation: str, number: int) -> bool:
    return {"at_least": value >= number, "at_most": value <= number, "exactly": value == number}[relation]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _quote(items: list[str], limit: int = 3) -> str:
    shown = ", ".join(f"'{i}'" for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# -- describing ---------------------------------------------------------------------------------------------
def describe(constraint: Constraint) -> str:
    """The constraint as one English sentence, for prompts and reports."""
    c, rel = constraint, constraint.relation.replace("_", " ")
    match c.kind:
        case "case":
            return {
                "upper": "The answer must be written entirely in uppercase letters.",
                "lower": "The answer must be written entirely in lowercase letters.",
                "title": "The answer must be in title case: every word capitalised except short words "
                "such as 'of', 'and', 'the' after the first word.",
            }[c.text]
        case "word_count" | "sentence_count" | "paragraph_count":
            noun = c.kind.removesuffix("_count")
            extra = " (separated by blank lines)" if noun == "paragraph" else ""
            return f"The answer must contain {rel} {_plural(c.number, noun)}{extra}."
        case "char_count":
            return f"The answer must be {rel} {_plural(c.number, 'character')} long."
        case "every_sentence_starts_with" | "every_word_starts_with":
            unit = c.kind.split("_")[1]
            return f"Every {unit} of the answer must start with the letter '{c.text.upper()}'."
        case "banned_words":
            return f"The answer must not use the word(s) {_quote(c.words, 20)}."
        case "required_words":
            return f"The answer must include the word(s) {_quote(c.words, 20)}."
        case "bullet_list":
            form = "a numbered list" if c.text == "1." else "a bullet list"
            marker = f", every line starting with '{c.text}'" if c.text and c.text != "1." else ""
            count = f" of {rel} {_plural(c.number, 'item')}" if c.number else ""
            return f"The answer must be {form}{count} and nothing else{marker}."
        case "starts_with" | "ends_with":
            return f"The answer must {c.kind[:-6]} with '{c.text}'."
        case "language":
            return f"The answer must be written in {LANGUAGES.get(c.text, c.text)} ({c.text})."
    raise ValueError(f"unknown constraint kind {c.kind!r}")


# -- checking -----------------------------------------------------------------------------------------------
@cache
def _language_factory():
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)  # langdetect samples n-grams at random; a fixed seed makes it deterministic
    return factory


def detect_language(text: str) -> list[tuple[str, float]] | None:
    """(ISO 639-1 code, probability) best first, or None when the text is too short to tell."""
    from langdetect.lang_detect_exception import LangDetectException

    cleaned = re.sub(r"https?://\S+|\S+@\S+|`[^`]*`|\d+", " ", text)
    if sum(c.isalpha() for c in cleaned) < MIN_LANGUAGE_LETTERS or len(words(cleaned)) < MIN_LANGUAGE_WORDS:
        return None
    detector = _language_factory().create()
    detector.append(cleaned)
    try:
        found = detector.get_probabilities()
    except LangDetectException:
        return None
    return [(LANGUAGE_ALIASES.get(lang.lang, lang.lang), lang.prob) for lang in found]


def check_constraint(answer: str, constraint: Constraint) -> Check | None:
    """Check an answer against one constraint; None when it cannot be checked (text too short to detect a
    language, or a language the detector does not know)."""
    c, rel = constraint, constraint.relation.replace("_", " ")
    text = answer.strip()
    ok, detail = True, ""
    match c.kind:
        case "case":
            found = words(text)
            if c.text == "upper":
                bad = [w for w in found if any(ch.islower() for ch in w)]
            elif c.text == "lower":
                bad = [w for w in found if any(ch.isupper() for ch in w)]
            else:
                bad = [w for i, w in enumerate(found) if w[0].islower() and (i == 0 or w not in MINOR_WORDS)]
            ok = not bad
            detail = f"{_plural(len(bad), 'word')} not {c.text} case: {_quote(bad)}" if bad else ""
            detail = detail or f"all {_plural(len(found), 'word')} in {c.text} case"
        case "word_count" | "sentence_count" | "paragraph_count" | "char_count":
            noun = c.kind.removesuffix("_count")
            measure = {"word": words, "sentence": sentences, "paragraph": paragraphs, "char": list}[noun]
            count = len(measure(text))
            ok = _compare(count, c.relation, c.number)
            noun = "character" if noun == "char" else noun
            detail = f"{_plural(count, noun)}, {rel} {c.number} " + (
                "allowed" if rel == "at most" else "required"
            )
        case "every_sentence_starts_with":
            found = sentences(text)
            bad = [
                s for s in found if _base_letter(re.findall(r"[^\W_]", s)[0]) != c.text
            ]  # skips quotes, **
            ok = bool(found) and not bad
            shown = [" ".join(s.split()[:4]) + "..." for s in bad]
            detail = (
                f"{len(found) - len(bad)} of {_plural(len(found), 'sentence')} start with '{c.text.upper()}'"
            )
            detail += f"; not: {_quote(shown)}" if bad else ""
        case "every_word_starts_with":
            found = [w for w in words(text) if not w[0].isdigit()]
            bad = [w for w in found if _base_letter(w[0]) != c.text]
            ok = bool(found) and not bad
            detail = f"{len(found) - len(bad)} of {_plural(len(found), 'word')} start with '{c.text.upper()}'"
            detail += f"; not: {_quote(bad)}" if bad else ""
        case "banned_words":
            used = [w for w in c.words if _phrase(w).search(text)]
            ok = not used
            detail = f"uses banned {_quote(used, 10)}" if used else f"none of {_quote(c.words, 10)} used"
        case "required_words":
            missing = [w for w in c.words if not _phrase(w).search(text)]
            ok = not missing
            detail = f"missing {_quote(missing, 10)}" if missing else f"all of {_quote(c.words, 10)} present"
        case "bullet_list":
            lines = [line for line in text.splitlines() if line.strip()]
            marker = {"": r"(?:[-*•+]|\d{1,3}[.)])", "1.": r"\d{1,3}[.)]"}.get(c.text, re.escape(c.text))
            items = [line for line in lines if re.match(rf"\s*{marker}\s+\S", line)]
            other = [line.strip()[:40] for line in lines if line not in items]
            ok = bool(items) and not other and (not c.number or _compare(len(items), c.relation, c.number))
            detail = _plural(len(items), f"'{c.text}' item" if c.text else "item")
            detail += f", {rel} {c.number} required" if c.number else ""
            detail += f"; {_plural(len(other), 'other line')}: {_quote(other, 2)}" if other else ""
        case "starts_with" | "ends_with":
            squeezed, wanted = " ".join(text.split()).casefold(), " ".join(c.text.split()).casefold()
            if c.kind == "starts_with":
                ok = squeezed.startswith(wanted) or _unmarked(squeezed).startswith(wanted)
                actual = text[: len(c.text) + 10]
            else:
                stripped = squeezed if wanted[-1:] in ".!?\"'”’)" else squeezed.rstrip(".!?\"'”’) ")
                ok = squeezed.endswith(wanted) or stripped.endswith(wanted)
                actual = text[-(len(c.text) + 10) :]
            detail = f"{'starts' if c.kind == 'starts_with' else 'ends'} with '{' '.join(actual.split())}'"
        case "language":
            if c.text not in LANGUAGES:
                return None
            found = detect_language(text)
            if not found:
                return None
            best, probability = found[0]
            ok = best == c.text
            detail = f"detected {LANGUAGES.get(best, best)} ({best}, p={probability:.2f}), {c.text} required"
    return Check(name=f"constraint:{c.kind}", ok=ok, detail=detail)


def _unmarked(text: str) -> str:
    """The text as Markdown shows it at its start: without a heading's or quote's leading marks and without
    emphasis marks; the local teacher began a blog post required to start "The Tower of" with "# The Tower
    of" (run s11c), which a reader sees as starting with those words."""
    return re.sub(r"[*_]{1,3}", "", re.sub(r"^(?:[#>]+\s*)+", "", text))


def conflicts(constraints: list[Constraint] | tuple[Constraint, ...]) -> list[str]:
    """Why a set of constraints cannot all be met (empty when it can), phrased so a model can fix it."""
    problems = [problem for c in constraints if (problem := unfair_count(c))]
    ranges: dict[str, list[float]] = {}
    seen: dict[str, str] = {}
    banned = {w.casefold() for c in constraints if c.kind == "banned_words" for w in c.words}
    for c in constraints:
        if c.kind in COUNT_KINDS:
            bounds = ranges.setdefault(c.kind, [0, float("inf")])
            bounds[0] = max(bounds[0], c.number) if c.relation != "at_most" else bounds[0]
            bounds[1] = min(bounds[1], c.number) if c.relation != "at_least" else bounds[1]
            if bounds[0] > bounds[1]:
                problems.append(f"the {c.kind} constraints contradict each other; keep one")
        elif c.kind not in ("banned_words", "required_words", "bullet_list") and c.text:
            one, two = seen.setdefault(c.kind, c.text.casefold()), c.text.casefold()
            agree = (one.endswith(two) or two.endswith(one)) if c.kind == "ends_with" else None
            if not (agree if agree is not None else one.startswith(two) or two.startswith(one)):
                problems.append(f"two {c.kind} constraints ask for different things; keep one")
        if c.kind == "required_words" and (both := [w for w in c.words if w.casefold() in banned]):
            problems.append(f"both banned and required: {_quote(both)}; drop them from one list")
    if any(c.kind == "bullet_list" for c in constraints) and ranges.get("paragraph_count", [0])[0] > 1:
        # a local bullet list was asked for "at least 2 paragraphs" as well (run s12a): a reader sees a
        # list as one block, so no answer can be both
        problems.append(
            "a list is one paragraph, so it cannot also have several paragraphs; drop the paragraph count"
        )
    problems += _letter_runs_too_long(constraints, ranges)
    return list(dict.fromkeys(problems))


#: how many sentences (words) a writer can start with one given letter: s30's blog post was asked for at
#: least 40 sentences that all start with 'W', and the local teacher declined
LETTER_RUN_MOST = {
    "every_sentence_starts_with": ("sentence_count", 12),
    "every_word_starts_with": ("word_count", 40),
}


def _letter_runs_too_long(constraints: Iterable[Constraint], ranges: dict[str, list[float]]) -> list[str]:
    """Why a one-letter run is asked of more sentences or words than a writer can keep it up for."""
    problems = []
    for c in constraints:
        if c.kind not in LETTER_RUN_MOST:
            continue
        kind, most = LETTER_RUN_MOST[c.kind]
        floor, ceiling = ranges.get(kind, [0, float("inf")])
        if most < floor <= ceiling:  # a contradictory count is reported as such
            noun = kind.removesuffix("_count")
            problems.append(
                f"{int(floor)} {noun}s that all start with '{c.text}' is more than anyone can write well: "
                f"require at most {most} {noun}s, or drop the letter constraint"
            )
    return problems


def unfair_count(c: Constraint) -> str:
    """Why one count constraint is more than a writer can promise in one answer ("" when it is fair)."""
    noun = "character" if c.kind == "char_count" else c.kind.removesuffix("_count")
    if c.kind in ("word_count", "char_count") and c.relation == "exactly":
        return (
            f"an exact {noun} count is not a fair request (no writer counts to the {noun}); ask for at "
            f"least or at most a number of {noun}s, or both for a range"
        )
    if c.kind in MOST_ASKED and c.relation != "at_most" and c.number > MOST_ASKED[c.kind]:
        return (
            f"{c.number} {noun}s is more than one answer holds; require {MOST_ASKED[c.kind]} {noun}s "
            "or fewer, in the request and in constraints"
        )
    return ""


def check_constraints(answer: str, constraints: list[Constraint] | tuple[Constraint, ...]) -> list[Check]:
    """The applicable checks for all constraints, in order."""
    return [result for c in constraints if (result := check_constraint(answer, c)) is not None]


@check("constraints")
def constraints_check(candidate: Candidate) -> Check | None:
    """One summary check over every constraint the instruction carries; None when it carries none."""
    if not candidate.constraints:
        return None
    results = check_constraints(candidate.answer, candidate.constraints)
    skipped = len(candidate.constraints) - len(results)
    if not results:
        return None
    failed = [r for r in results if not r.ok]
    note = f" ({skipped} not checkable)" if skipped else ""
    if not failed:
        return Check(name="constraints", ok=True, detail=f"all {len(results)} met{note}")
    detail = "; ".join(f"{r.name.removeprefix('constraint:')}: {r.detail}" for r in failed)
    return Check(
        name="constraints", ok=False, detail=f"{len(failed)} of {len(results)} failed{note}: {detail}"
    )
