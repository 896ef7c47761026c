"""The `citations_grounded` check (SPEC §2 row 13, rag): cited sources exist and hold what they are cited for.

The context is a list of numbered sources in the layout of `skills/rag/transformations/retrieval_context.j2`:
a header line `Source [n] (name)` (or just `Source [n]`), the source's text on the following lines, a blank
line between sources. `parse_sources` reads it back (a header may carry Markdown bold or a trailing colon).

Rules, each failure named in the check's detail:
1. Citations are square brackets holding source numbers: `[2]`, `[1, 3]`, `[1-3]`, `[Source 2]`
   (brackets inside quotations are part of the quote, not citations). Every cited number must be a source.
2. Every answer cites at least one source, except for `unanswerable_from_context` items (or items marked
   unanswerable); `multi_source_synthesis`, `cross_source_comparison` and `conflicting_sources` answers
   cite at least two different sources (or all of them when the context has fewer).
3. Every quotation of 4 words or more, in straight ("...") or curly (“...”) double quotes, occurs in a
   source. Matching compares words only: case, whitespace, punctuation and the style of quotes, apostrophes
   and dashes are ignored; `...`, `…` or a bracketed insertion `[...]` inside a quote skips text, and the
   fragments must then occur in that order in one source. A quotation followed by a citation (only spaces
   or punctuation between, e.g. `"..." [2]`, `"...", (see [2])`) must occur in a source it cites; one
   without must occur in some source, or in the question (quoting the user is fine).
4. For `unanswerable_from_context` (or unanswerable) items the answer must say that the sources do not
   contain the answer (`NOT_IN_SOURCES`: "the sources do not contain/mention/say...", "none of the
   sources...", "no source...", "not stated in the sources", "cannot be answered from the context"...),
   and, leniently, must not assert an invented fact with a citation: a number in a sentence that cites
   sources must occur in one of the sources it cites.
5. For answerable items, a sentence that cites sources makes claims about them: each number in it (read as
   `grounded_in_data` reads numbers) occurs in a source it cites or in the question, or is a sum,
   difference, product, ratio or percentage of two figures of the cited sources (to within 1%); each name
   (a capitalised run not starting a sentence, as in `grounded_in_data`) occurs somewhere in the context or
   the question. Knowingly missed: claims in sentences without a citation (rule 2 asks for one per
   answer, not per sentence), numbers written in words, and true words in a false pairing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from agentinstruct.pairs import Check
from agentinstruct.quality.checks import Candidate, check
from agentinstruct.quality.grounding import data_numbers, ungrounded_names, ungrounded_numbers

NAME = "citations_grounded"
#: the header line of one source; keep in step with skills/rag/transformations/retrieval_context.j2
SOURCE_HEADER = re.compile(
    r"^[ \t>#*_]*Source[ \t]*\[(\d+)\][*_]*(?:[ \t]*\(([^\n]*)\))?[ \t*_]*:?[ \t]*$",
    re.MULTILINE | re.IGNORECASE,
)
#: a citation: one bracket with source numbers, lists or ranges ("[2]", "[1, 3]", "[1-3]", "[Source 2]")
CITATION = re.compile(
    r"\[\s*(?:sources?\s*)?(\d{1,3}(?:\s*(?:,|;|-|–|and|&)\s*(?:sources?\s*)?\d{1,3})*)\s*\]",
    re.IGNORECASE,
)
#: quotations: curly double quotes (may span lines) or straight double quotes (within one line)
QUOTATION = re.compile(r"“([^”]{1,3000})”|\"([^\"\n]{1,3000})\"")
#: a citation right after a quotation: only spaces, punctuation and "source"/"see" between them
ATTRIBUTION = re.compile(r"[ \t.,;:!?)(]*(?:(?:see|source)[ \t]*)?" + CITATION.pattern, re.IGNORECASE)
#: gaps inside a quotation: an ellipsis or an editorial insertion in square brackets
GAP = re.compile(r"\.\.\.|…|\[[^\]]*\]")
MIN_QUOTE_WORDS = 4
#: derived numbers are sought among at most this many figures of the cited sources (pairs grow fast)
MAX_DERIVED_FROM = 60
UNANSWERABLE_TYPE = "unanswerable_from_context"
#: types whose answer must draw on at least two sources
MULTI_SOURCE_TYPES = frozenset({"multi_source_synthesis", "cross_source_comparison", "conflicting_sources"})
_SOURCES = r"(?:sources?|context|documents?|passages?|texts?|materials?)"
#: the answer says that the sources do not contain the answer
NOT_IN_SOURCES = re.compile(
    rf"\b{_SOURCES}\b[^.!?\n]{{0,60}}?\b(?:do(?:es)?n't|do(?:es)? not|never|fail to)\s+(?:\w+\s+){{0,2}}?"
    r"(?:contain|say|state|mention|provide|include|specify|give|answer|address|cover|report|discuss"
    r"|indicate|explain|describe|offer|list|reveal|tell)"
    rf"|\bnone of the\b[^.!?\n]{{0,40}}?\b{_SOURCES}\b"
    r"|\bno (?:source|document|passage)s?\b"
    r"|\bnot (?:stated|mentioned|given|found|provided|covered|addressed|specified|included|answered"
    rf"|discussed|reported|contained) (?:in|by) (?:any of )?the\b[^.!?\n]{{0,30}}?\b{_SOURCES}\b"
    r"|\b(?:cannot|can ?not|can't|could not|couldn't) be (?:answered|determined|found|inferred|established)"
    rf"\b[^.!?\n]{{0,40}}?\b{_SOURCES}\b"
    rf"|\b{_SOURCES}\b[^.!?\n]{{0,40}}?\b(?:is|are) silent\b",
    re.IGNORECASE,
)
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_FOLD = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "“": '"', "”": '"', "„": '"'})


@dataclass(frozen=True)
class Quotation:
    text: str
    start: int
    end: int


def parse_sources(content: str) -> dict[int, str]:
    """The numbered sources of a context: number → text (a number given twice keeps both texts)."""
    headers = list(SOURCE_HEADER.finditer(content))
    sources: dict[int, str] = {}
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(content)
        number, text = int(header.group(1)), content[header.end() : end].strip()
        sources[number] = f"{sources[number]}\n\n{text}" if number in sources else text
    return sources


def citation_numbers(group: str) -> list[int]:
    """The source numbers of one citation's inside: "1, 3" → [1, 3], "2-4" → [2, 3, 4]."""
    numbers: list[int] = []
    for part in re.split(r"\s*(?:,|;|and|&)\s*", re.sub(r"(?i)sources?", "", group)):
        bounds = [int(n) for n in re.findall(r"\d+", part)]
        if len(bounds) == 2 and re.search(r"[-–]", part) and 0 <= bounds[1] - bounds[0] <= 20:
            numbers += range(bounds[0], bounds[1] + 1)
        else:
            numbers += bounds
    return numbers


def quotations(answer: str) -> list[Quotation]:
    """The double-quoted spans of an answer (straight or curly quotes)."""
    return [
        Quotation(m.group(1) if m.group(1) is not None else m.group(2), m.start(), m.end())
        for m in QUOTATION.finditer(answer)
    ]


def _words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).translate(_FOLD).casefold()
    return re.findall(r"\w+", text)


def _index(text: str) -> str:
    return " " + " ".join(_words(text)) + " "


def occurs(quote: str, text: str) -> bool:
    """Whether `quote` occurs in `text`, words only; fragments split by gaps must occur in order."""
    haystack = _index(text)
    position = 0
    for fragment in GAP.split(quote):
        needle = " ".join(_words(fragment))
        if not needle:
            continue
        found = haystack.find(f" {needle} ", position)
        if found < 0:
            return False
        position = found + len(needle) + 1
    return True


def _masked(answer: str, spans: list[Quotation]) -> str:
    """The answer with quotations blanked out (same length), so brackets inside quotes are not citations."""
    chars = list(answer)
    for quotation in spans:
        chars[quotation.start : quotation.end] = " " * (quotation.end - quotation.start)
    return "".join(chars)


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _listed(numbers: list[int] | set[int]) -> str:
    return ", ".join(f"[{n}]" for n in sorted(numbers))


def _quote_problems(
    answer: str, spans: list[Quotation], sources: dict[int, str], instruction: str
) -> tuple[list[str], int]:
    problems, grounded = [], 0
    for quotation in spans:
        if len(_words(GAP.sub(" ", quotation.text))) < MIN_QUOTE_WORDS:
            continue
        shown = _short(quotation.text)
        holders = [n for n, text in sorted(sources.items()) if occurs(quotation.text, text)]
        after = ATTRIBUTION.match(answer, quotation.end)
        cited = [n for n in citation_numbers(after.group(1)) if n in sources] if after else []
        if cited:
            if set(cited) & set(holders):
                grounded += 1
            elif holders:
                problems.append(
                    f'the quote "{shown}" is cited to {_listed(cited)} but occurs only in {_listed(holders)}'
                )
            else:
                problems.append(
                    f'the quote "{shown}" does not occur in {_listed(cited)} or any other source; '
                    "copy quotations word for word or drop the quotation marks"
                )
        elif holders or occurs(quotation.text, instruction):
            grounded += 1
        else:
            problems.append(
                f'the quote "{shown}" does not occur in any source; '
                "copy quotations word for word or drop the quotation marks"
            )
    return problems, grounded


def _cited_sentences(masked: str, sources: dict[int, str]) -> Iterator[tuple[str, set[int]]]:
    """Each sentence that cites existing sources, without its citations, with the numbers it cites."""
    for sentence in SENTENCE_END.split(masked):
        cited = {n for m in CITATION.finditer(sentence) for n in citation_numbers(m.group(1)) if n in sources}
        if cited:
            yield CITATION.sub(" ", sentence), cited


def _invented_numbers(masked: str, sources: dict[int, str]) -> list[str]:
    """Numbers asserted in sentences that cite sources, where none of the cited sources has that number."""
    problems = []
    for plain, cited in _cited_sentences(masked, sources):
        known = {n.replace(",", "") for c in cited for n in NUMBER.findall(sources[c])}
        for number in NUMBER.findall(plain):
            if number.rstrip(".").replace(",", "") not in known:
                problems.append(
                    f'the answer asserts "{number}" citing {_listed(cited)}, which does not contain it; '
                    "the sources do not answer this question, so do not supply the answer"
                )
    return problems


def _ungrounded_claims(masked: str, sources: dict[int, str], context: str, question: str) -> list[str]:
    """Numbers and names in sentences that cite sources, found neither in those sources nor the question.

    A number may also be derived from two numbers of the cited sources (their sum, difference, product,
    ratio or percentage, to within rounding): comparisons and totals are what multi-source answers do.
    Names are looked up in the whole context, numbers in the sources the sentence cites.
    """
    problems = []
    for plain, cited in _cited_sentences(masked, sources):
        text = "\n".join(sources[c] for c in sorted(cited)) + "\n" + question
        missing = ungrounded_numbers(plain, text)
        if missing:
            known = sorted(data_numbers(text))[:MAX_DERIVED_FROM]
            missing = [number for number in missing if not _derived(number, known)]
        problems += [
            f'the answer asserts "{number}" citing {_listed(cited)}, which does not contain it '
            "(nor a sum, difference, product or ratio of its figures); state the sources' figures"
            for number in missing
        ]
        problems += [
            f'the answer names "{name}", which no source mentions; name only what the sources do'
            for name in ungrounded_names(plain, context + "\n" + question)
        ]
    return problems


def _derived(number: str, known: list[Decimal]) -> bool:
    found = re.search(r"\d[\d,]*(?:\.\d+)?", number)
    if found is None:
        return False
    value = float(found.group(0).replace(",", ""))
    values = [float(k) for k in known]
    for i, a in enumerate(values):
        for b in values[i + 1 :]:
            low, high = min(a, b), max(a, b)
            results = [a + b, high - low, a * b] + (
                [high / low, low / high * 100, high / low * 100] if low else []
            )
            if any(abs(r - value) <= max(0.01 * abs(r), 0.051) for r in results):
                return True
    return False


def verify_citations(candidate: Candidate) -> Check:
    """Apply the rules of this module to one answer over one numbered-source context."""
    sources = parse_sources(candidate.content)
    if not sources:
        return Check(
            name=NAME,
            ok=False,
            detail='the context has no numbered sources (header lines "Source [n] (name)"), so citations '
            "cannot be checked",
        )
    answer = candidate.answer
    spans = quotations(answer)
    masked = _masked(answer, spans)
    cited_all = [n for m in CITATION.finditer(masked) for n in citation_numbers(m.group(1))]
    cited = {n for n in cited_all if n in sources}
    unanswerable = candidate.unanswerable or candidate.instruction_type == UNANSWERABLE_TYPE
    available = f"the sources are {_listed(list(sources))}"
    problems = [f"cites [{n}], but {available}" for n in sorted(set(cited_all) - set(sources))]
    if not unanswerable and not cited and NOT_IN_SOURCES.search(answer.translate(_FOLD)):
        # s32: "The sources do not contain ... the cost of mowing", which source [1] gave (2,100 pounds); told
        # only to cite, the teacher wrote the same sentence again
        problems.append(
            "says the sources do not contain the answer, but they do: read each source again for what the "
            "question asks, answer it from them and put the number of the source after each claim, like [1]"
        )
    elif not unanswerable and not cited:
        which = "no existing source" if cited_all else "no source"
        problems.append(f"cites {which}: put the number of the source after each claim, like [1]")
    needed = min(2, len(sources)) if candidate.instruction_type in MULTI_SOURCE_TYPES else 1
    if not unanswerable and 0 < len(cited) < needed:
        problems.append(
            f"a {candidate.instruction_type.replace('_', ' ')} answer must cite at least {needed} different "
            f"sources; it cites only {_listed(cited)}"
        )
    quote_problems, grounded = _quote_problems(answer, spans, sources, candidate.instruction)
    problems += quote_problems
    if unanswerable:
        if not NOT_IN_SOURCES.search(answer.translate(_FOLD)):
            problems.append(
                'the sources do not answer this question, but the answer does not say so (write e.g. "The '
                'sources do not contain ..." and what is missing)'
            )
        problems += _invented_numbers(masked, sources)
    else:
        problems += _ungrounded_claims(masked, sources, candidate.content, candidate.instruction)
    if problems:
        return Check(name=NAME, ok=False, detail="; ".join(problems))
    detail = f"cites {_listed(cited)} of {len(sources)} sources" if cited else "cites no source"
    detail += f"; {grounded} quotation(s) found in the sources" if grounded else ""
    if unanswerable:
        detail += "; says the sources do not contain the answer"
    return Check(name=NAME, ok=True, detail=detail)


@check(NAME)
def citations_grounded(candidate: Candidate) -> Check:
    return verify_citations(candidate)
