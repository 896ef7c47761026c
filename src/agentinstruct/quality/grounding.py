"""Grounding checks: the answer's numbers and names come from the data, and false premises are corrected.

The JSON and span checks of text extraction are in `quality.extraction`, imported here so that importing
this module registers every grounding check.

- `grounded_in_data` (data_to_text, SPEC §2 row 8): every number and named entity of the prose answer
  occurs in the structured data (`Candidate.content`).
  Numbers are written with digits: "1,200", "1200", "3.50", "42%", "$3.5", "1.2 million". A number is
  grounded when its value (thousands separators removed, trailing decimal zeros ignored, sign ignored)
  equals a number written in the data, with or without its scale word ("1.2 million" matches 1200000 or
  1.2 in the data); the data is read generously: every digit run counts, also inside identifiers ("Q2")
  and comma-separated fields, and "1.2k" or "5 m" there stand for their scaled values too. Numbers
  derived from the data (sums, differences, rounded values, shares) are not grounded: the answer must
  restate the data's figures. A currency the answer names ("$", "dollars", "USD"; also pounds, euros, yen,
  rupees) must be named in the data in one of its forms (the local model turned "6,500 pounds" into
  "$6,500"). Exempt: number words ("three", "a dozen"),
  ordinals ("first", "3rd", "19th"), list markers ("1." at the start of a line), and digits inside names
  ("A380", "Q2"). Named entities are capitalised words that do not start a sentence, line, list item,
  table cell or clause after a colon (so "The", "In", "However" at a sentence start are never taken for
  names), minus a stop list (pronoun I, titles such as Mr or Dr, month and weekday names); a name is
  grounded when each of its words occurs in the data as a word, case-insensitively ("birth_place" counts
  as "birth place"). Headings (Markdown "#" lines, wholly bold lines, short lines ending in ":") are
  skipped. Knowingly missed: a name that is the first word of a sentence, lowercase names, a wrong month
  or weekday, and a wrong pairing of grounded words ("Paris Curie" passes if both words are in the data).
  A size the answer states of a Markdown or CSV table ("has five rows", "with 4 columns") must be the
  table's: its rows under the header, its columns (with or without a blank-headed label column).

- `fact_in_source` (open_domain_qa's `factoid`, whose question asks for a short fact the seed states, and any
  question that names the seed's own names, not at a sentence's start: "the organization that plans to grow
  vegetables on the Mill Lane lot" was answered "Greenfield Farm", run s18, which no source names): every
  name of the answer occurs in the seed or the question, read as for `grounded_in_data`, and also a run
  of two or more capitalised words at a sentence's start ("John Smith proposed the lease.", run s15,
  where the seed named Councillor Deborah Mwangi). Other questions may draw on general knowledge; a
  question about a seed's own place or person may not, since only the corpus (the teacher's search tool)
  knows about it. Knowingly lost: an answer that adds a well-known name to a question about a seed's
  well-known place ("London ... Big Ben" when the seed never names Big Ben) is sent back to search.

- `no_unseen_source` (open_domain_qa, whose question comes without a passage): the answer cites no text the
  user gave ("the report provided", "the passage above", "the text you shared"; run s18's answer began "can
  be found in the report provided"). Search results named as such ("the search results") are fine.

- `false_premise_addressed` (open_domain_qa, row 17): when the editor declared a false premise
  (`details["false_premise"]`, "none" otherwise), one sentence of the answer must both signal a
  correction ("actually", "not", "no,", "no evidence", "misconception", "in fact"...) and share at least two
  content words (four letters or more, compared on their first six) with the premise, or all of them if
  it has fewer. Knowingly missed: whether the correction is right, and corrections phrased without any
  of the cue words.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from agentinstruct.pairs import Check
from agentinstruct.quality.arithmetic import arithmetic_verified
from agentinstruct.quality.checks import Candidate, check, listed
from agentinstruct.quality.extraction import spans_in_source, valid_json_for_schema

__all__ = [
    "arithmetic_verified",  # registered in quality.arithmetic, imported here so one import registers all
    "false_premise_addressed",
    "grounded_in_data",
    "spans_in_source",
    "valid_json_for_schema",
]

NONE_VALUES = {"", "none", "-", "n/a", "no", "null"}

# -- grounded_in_data -------------------------------------------------------------------------------------
SCALE_WORDS = {
    "thousand": 10**3,
    "k": 10**3,
    "million": 10**6,
    "mn": 10**6,
    "m": 10**6,
    "billion": 10**9,
    "bn": 10**9,
    "b": 10**9,
    "trillion": 10**12,
}
ANSWER_NUMBER = re.compile(
    r"(?<![\w.,])(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\d,]*\.?\d)"
    r"(?P<ordinal>(?:st|nd|rd|th)\b)?%?"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion|mn|bn|[kKmMbB])\b)?"
)
DATA_NUMBER = re.compile(
    r"\d+(?:[.,]\d+)*(?:\s?(?P<scale>thousand|million|billion|trillion|mn|bn|[kKmMbB])\b)?"
)
LIST_MARKER = re.compile(r"^\s*(?:[-*•]\s+)?\d+[.)]\s", re.MULTILINE)
STOP_NAMES = {
    *["i", "i'm", "i've", "i'd", "i'll", "mr", "mrs", "ms", "dr", "prof", "st", "ok"],
    *["january", "february", "march", "april", "may", "june", "july", "august", "september"],
    *["october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept"],
    *["oct", "nov", "dec", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
}
CLAUSE_BREAK = re.compile(r"(?:[.!?:;|]|^|\n)\s*(?:[-*•>#]+\s*|\d+[.)]\s*)?[\"'“‘(\[*_]*\s*$")
WORD = re.compile(r"[^\W\d_][\w'’.-]*")


def _decimal(text: str) -> Decimal | None:
    try:
        return abs(Decimal(text.replace(",", ""))).normalize()
    except InvalidOperation:
        return None


def data_numbers(data: str) -> set[Decimal]:
    """Every value a number in the data can stand for: as written, each digit group, and scaled."""
    values: set[Decimal] = set()
    for match in DATA_NUMBER.finditer(data):
        text = match.group(0)
        if match.group("scale"):
            text = text[: match.start("scale") - match.start()].strip()
        for piece in {text.replace(",", ""), *text.split(",")}:  # "1,200" or CSV fields "12,3.5"
            value = _decimal(piece)
            if value is None:
                continue
            values.add(value)
            if match.group("scale"):
                values.add((value * SCALE_WORDS[match.group("scale").lower()]).normalize())
    return values


def ungrounded_numbers(answer: str, data: str) -> list[str]:
    known = data_numbers(data)
    markers = {m.end() for m in LIST_MARKER.finditer(answer)}
    missing = []
    for match in ANSWER_NUMBER.finditer(answer):
        if match.group("ordinal") or any(match.start() < end <= match.end() + 2 for end in markers):
            continue
        value = _decimal(match.group("num"))
        if value is None or value in known:
            continue
        scale = match.group("scale")
        if scale and (value * SCALE_WORDS[scale.lower()]).normalize() in known:
            continue
        missing.append(match.group(0).strip())
    return missing


def _is_heading(line: str) -> bool:
    stripped = line.strip()
    return (
        stripped.startswith("#")
        or bool(re.fullmatch(r"(\*\*|__).+(\*\*|__):?", stripped))
        or (stripped.endswith(":") and len(stripped.split()) <= 8)
    )


#: a list item's label before its colon ("1. **Group Size**:", "- Nap Benefits:"): structure, not names
ITEM_LABEL = re.compile(
    r"^\s*(?:(?:[-*•]|\d+[.)])?\s*(\*\*|__)[^*_\n]{1,60}?\1\s*:?|(?:[-*•]|\d+[.)])\s+[^\W\d_][\w' -]{0,40}:)"
)


def _name_candidates(answer: str) -> Iterator[str]:
    """Runs of capitalised words that are not at the start of a sentence, line, item or clause."""
    for line in answer.splitlines():
        if _is_heading(line):
            continue
        label = ITEM_LABEL.match(line)
        if label and len(label.group(0).split()) <= 6:  # a label of a few words, not a sentence with a colon
            line = " " * len(label.group(0)) + line[label.end() :]
        run: list[str] = []
        last_end = 0
        for match in WORD.finditer(line):
            word = match.group(0).rstrip(".-").removesuffix("'s").removesuffix("’s")
            gap = line[last_end : match.start()]
            before = line[max(0, match.start() - 24) : match.start()]
            starts_clause = bool(CLAUSE_BREAK.search(before if match.start() <= 24 else "x" + before))
            capitalised = word[:1].isupper() and word.lower() not in STOP_NAMES
            if run and (not capitalised or gap.strip() or starts_clause):
                yield " ".join(run)
                run = []
            if capitalised and not starts_clause:
                run.append(word)
            last_end = match.end()
        if run:
            yield " ".join(run)


def _words_of(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[^\W_]+", text.replace("_", " "))}


def ungrounded_names(answer: str, data: str) -> list[str]:
    vocabulary = _words_of(data)
    missing = []
    for name in _name_candidates(answer):
        words = _words_of(name)
        if words and not words <= vocabulary and name not in missing:
            missing.append(name)
    return missing


#: each currency by the forms it is written in: symbol, word (plural with "s") and ISO code
CURRENCIES = {
    "dollar": ("$", "dollar", "USD"),
    "pound": ("£", "pound", "GBP"),
    "euro": ("€", "euro", "EUR"),
    "yen": ("¥", "yen", "JPY"),
    "rupee": ("₹", "rupee", "INR"),
}


def _written(text: str, form: str) -> bool:
    if not form.isalpha():
        return form in text
    if form.isupper():  # an ISO code: as a word, in capitals
        return re.search(rf"\b{form}\b", text) is not None
    return re.search(rf"\b{form}s?\b", text, re.IGNORECASE) is not None


def ungrounded_currencies(answer: str, data: str) -> list[str]:
    """Currencies the answer names (by symbol, word or code) that the data names in none of their forms.

    The data is read generously, as for numbers: any form, in any case, also inside a key ("price_usd").
    """
    lowered = data.lower()
    return [
        next(form for form in forms if _written(answer, form))
        for forms in CURRENCIES.values()
        if any(_written(answer, form) for form in forms) and not any(f.lower() in lowered for f in forms)
    ]


NUMBER_WORDS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
]
#: a stated size of the table ("There are five rows", "has 4 columns"); "the first two rows" is no claim
SIZE_CLAIM = re.compile(
    rf"\b(?:are|is|has|have|contains?|with|of|lists?|shows?|holds?)\s+(\d+|{'|'.join(NUMBER_WORDS)})\s+"
    r"(rows?|columns?|records?|entries)\b",
    re.IGNORECASE,
)


def table_size(data: str) -> tuple[int, set[int]] | None:
    """The data's count of rows under the header and its possible counts of columns (a Markdown table
    whose first header cell is blank has a label column a reader may leave out), or None when the data is
    not one Markdown table or CSV."""
    lines = [line.strip() for line in data.strip().splitlines() if line.strip()]
    if len(lines) < 2:
        return None
    if all(line.startswith("|") for line in lines):
        rows = [line for line in lines if not re.fullmatch(r"[|:\s-]+", line)]
        header = [cell.strip() for cell in rows[0].strip("|").split("|")]
        return len(rows) - 1, {len(header), len(header) - 1} if not header[0] else {len(header)}
    parsed = list(csv.reader(lines))
    if len(parsed[0]) < 2 or len({len(row) for row in parsed}) > 1:
        return None
    return len(parsed) - 1, {len(parsed[0])}


def miscounted(answer: str, data: str) -> list[str]:
    """The answer's claims of the table's size that the data's table does not have: the local teacher said
    "five rows" and "four columns" of a CSV of six rows and five columns (run s13)."""
    size = table_size(data)
    if size is None:
        return []
    rows, columns = size
    wrong = []
    for claim in SIZE_CLAIM.finditer(answer):
        count, noun = claim.group(1).lower(), claim.group(2).lower()
        number = int(count) if count.isdigit() else NUMBER_WORDS.index(count) + 1
        actual = columns if noun.startswith("column") else {rows}
        if number not in actual:
            wrong.append(f"{count} {noun} (it has {' or '.join(map(str, sorted(actual)))})")
    return wrong


@check("grounded_in_data")
def grounded_in_data(candidate: Candidate) -> Check:
    """Every number, currency and named entity of the answer occurs in the structured data, and every
    size it states of the data's table is right."""
    numbers = ungrounded_numbers(candidate.answer, candidate.content)
    currencies = ungrounded_currencies(candidate.answer, candidate.content)
    names = ungrounded_names(candidate.answer, candidate.content)
    problems = []
    if sizes := miscounted(candidate.answer, candidate.content):
        problems.append(f"sizes the table does not have: {', '.join(sizes)}; count the rows under the header")
    if numbers:
        problems.append(f"numbers not in the data: {listed(numbers)}")
    if currencies:
        problems.append(f"currencies the data does not use: {listed(currencies)}")
    if names:
        problems.append(f"names not in the data: {listed(names)}")
    if problems:
        detail = "; ".join(problems) + (
            "; use only the data's own figures and names, written as in the data, and no computed totals"
        )
        return Check(name="grounded_in_data", ok=False, detail=detail)
    return Check(name="grounded_in_data", ok=True, detail="every number and name occurs in the data")


#: instruction types whose answer is a short fact the seed states (`fact_in_source`)
FACT_TYPES = frozenset({"factoid"})
#: two or more capitalised words in a row, wherever they stand (a name may open the answer)
CAPITALISED_RUN = re.compile(r"\b[A-Z][\w'’-]*(?:[ \t]+[A-Z][\w'’-]*)+")


def seed_names_asked(question: str, seed: str) -> list[str]:
    """The names of the seed that a question asks about ("the Mill Lane lot"): capitalised runs of the
    question, not opening a sentence, whose words all stand in the seed."""
    vocabulary = _words_of(seed)
    names = dict.fromkeys(name for name in _name_candidates(question) if _words_of(name) <= vocabulary)
    return [name for name in names if _words_of(name)]


@check("fact_in_source")
def fact_in_source(candidate: Candidate) -> Check | None:
    """A factoid's answer, or an answer to a question about the seed's own names, names only what the seed or
    the question names (module doc)."""
    asked = seed_names_asked(candidate.instruction, candidate.content)
    if candidate.instruction_type not in FACT_TYPES and not asked:
        return None
    source = f"{candidate.content}\n{candidate.instruction}"
    vocabulary = _words_of(source)
    names = [*_name_candidates(candidate.answer), *CAPITALISED_RUN.findall(candidate.answer)]
    missing: list[str] = []
    for name in names:
        words = _words_of(name)
        if words and not words <= vocabulary and not any(name in other for other in missing):
            missing = [other for other in missing if other not in name] + [name]
    if missing:
        about = f" (the question asks about {listed(asked)})" if asked else ""
        detail = (
            f"the answer names {listed(missing)}, which the source of this question does not{about}; search "
            "the corpus for the fact and answer with the names it states"
        )
        return Check(name="fact_in_source", ok=False, detail=detail)
    return Check(name="fact_in_source", ok=True, detail="every name occurs in the source")


#: an answer that cites a document the user never gave: "can be found in the report provided. The report
#: states that the total cost is $400,000.00" answered a question that came alone (run s18)
UNSEEN_SOURCE = re.compile(
    r"\b(?:the|this|your)\s+(?:report|text|passage|article|document|excerpt|context|data|information)\s+"
    r"(?:(?:you\s+)?(?:provided|given|supplied|shared|above|attached)|you\s+(?:gave|sent|shared))\b"
    r"(?!\s+(?:in|by|with)\s+(?:the|your)\s+(?:question|search))"  # "the information given in your question"
    r"|\b(?:provided|given|above|attached)\s+(?:report|text|passage|article|document|excerpt|context)\b",
    re.IGNORECASE,
)


@check("no_unseen_source")
def no_unseen_source(candidate: Candidate) -> Check:
    """The answer to a question that came alone cites no document the user gave (module doc)."""
    if found := UNSEEN_SOURCE.search(candidate.answer):
        detail = (
            f'the answer cites "{found.group(0)}", but the user gave no text: answer from what you know or '
            "from your search results, and say which search result a fact comes from"
        )
        return Check(name="no_unseen_source", ok=False, detail=detail)
    return Check(name="no_unseen_source", ok=True, detail="no document the user did not give is cited")


# -- open_domain_qa: false premises --------------------------------------------------------------------------
CORRECTION_CUES = re.compile(
    r"\b(?:actually|in fact|in reality|not|never|no evidence|no record|incorrect|mistaken|misconception|"
    r"myth|false|untrue|inaccurate|wrong|contrary to|premise|assumption|rather than|instead|isn't|aren't|"
    r"wasn't|weren't|doesn't|didn't|don't|hasn't|haven't|cannot|can't|no(?=,))",
    re.IGNORECASE,
)
STOPWORDS = {
    *["the", "a", "an", "and", "or", "of", "in", "on", "at", "to", "for", "from", "by", "with", "about"],
    *["into", "over", "under", "that", "this", "these", "those", "is", "are", "was", "were", "be", "been"],
    *["being", "it", "its", "as", "which", "who", "whom", "whose", "what", "when", "where", "why", "how"],
    *["than", "then", "there", "their", "they", "has", "have", "had", "do", "does", "did", "not", "no"],
    *["can", "could", "would", "should", "will", "shall", "may", "might", "must"],
}
SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def _content_words(text: str) -> set[str]:
    """Words of four or more letters, cut to six so that "automated" and "automation" meet."""
    return {w[:6] for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) >= 4 and w not in STOPWORDS}


@check("false_premise_addressed")
def false_premise_addressed(candidate: Candidate) -> Check | None:
    """A question built on a declared false premise must be corrected, not answered as asked."""
    premise = str(candidate.details.get("false_premise", "")).strip()
    if premise.lower().strip(" .") in NONE_VALUES:
        return None
    words = _content_words(premise)
    need = min(2, len(words))
    for sentence in SENTENCE.split(candidate.answer):
        if CORRECTION_CUES.search(sentence) and len(words & _content_words(sentence)) >= need:
            return Check(
                name="false_premise_addressed",
                ok=True,
                detail=f"corrects the premise: '{sentence.strip()[:160]}'",
            )
    detail = (
        f"the question assumes something false ('{premise}') and the answer does not correct it; say "
        "plainly that this is not so and give the facts before answering"
    )
    return Check(name="false_premise_addressed", ok=False, detail=detail)
