"""Agreement checks: the teacher's answer must agree with an answer key, a label set or a second answer.

Skills whose items have one right answer (SPEC §2 rows 5, 7, 12, 15) list these in `checks:`:

- `answer_matches_key`: the answer commits to the key. When the key is option letters ("B", "A, C") the
  letters the answer commits to are parsed ("Answer: B", "The correct answer is (B)", "B and D", a last
  line such as "(B) Paris", or the text of an option) and compared as a set: "answered C, the key is B".
  Otherwise the final answer (`final_answer`) must equal the key after normalisation (case, spaces,
  quotes, trailing period; case is kept for `format_transformation`; an answer written as the query's
  line, "input -> output", counts by its output), or equal it as a number.
- `answers_agree`: a worked solution's final answer agrees with the key (where one exists) and with an
  independent second teacher answer (`Candidate.resample`); a key that code computed from the puzzle's
  structure (`Candidate.key_by_code`: a sequence's term, an anagram's word, the one option a solver
  finds) is that second answer, so no teacher is asked again. "Agrees" (`same_answer`) is lenient:
  equal after normalisation (number words to digits, articles and punctuation dropped); else, when
  both contain numbers, the same set of numbers (or one number each, one the other rounded to its
  decimals and within 1%: "67" agrees with 66.67, not with 66); else content-word overlap
  |A∩B| / min(|A|, |B|) of at least AGREEMENT_OVERLAP and |A∩B| / max(|A|, |B|) of at least
  AGREEMENT_COVERAGE, with crude stemming, and both or neither negated ("not", "never", "no"). A task
  with lettered options whose key is letters (brain_teaser's logic_deduction, written by code) compares
  the letters each answer commits to, read as for `answer_matches_key`: "Answer: (B)" agrees with "B"
  (as words, "(B)" would be dropped as an aside).
  A final answer that copies four or more words of the task in a row and nothing else is no answer.
- `labels_from_set`: the chosen label(s) ("Label: x", "Labels: x, y", or the last line) all belong to
  the task's label set (`labels`, comma-separated; case, spaces, hyphens and underscores ignored),
  exactly one unless the type is `multi_label`.
- `second_query_agrees`: the teacher, asked the same task followed by "answer this query instead:
  <second_query>", answers `second_answer` (compared as for a key). It needs a `resample` that accepts
  `instruction=` (the variant task); with a plain resample it does not apply.

Agreement details name the key, so skills using these checks should not send failures to repair rounds
(the teacher would copy the key instead of re-deriving it).
"""

from __future__ import annotations

import inspect
import re
from fractions import Fraction

from agentinstruct.pairs import Check
from agentinstruct.quality.checks import Candidate, check

#: the checks this module registers
CHECKS_HERE = ("answer_matches_key", "answers_agree", "labels_from_set", "second_query_agrees")
#: content-word overlap (share of the shorter answer's words) above which two free-text answers agree
AGREEMENT_OVERLAP = 0.6
#: ...when the shared words are also this share of the longer answer's: a key "fox" is not matched by a
#: teacher who repeated the whole sentence "The quick brown fox jumps over the lazy dog"
AGREEMENT_COVERAGE = 0.25
LETTERS = "ABCDEFGH"
#: instruction types whose answers must match the key in case too ("Council Town" is not "council town")
CASE_SENSITIVE_TYPES = frozenset({"format_transformation"})
#: emphasis, code marks, heading and quote markers, \boxed{...}, \text{, LaTeX's \( \) \[ \] and $
#: (underscores inside words are kept): "\(\boxed{10}\)" is 10, not a parenthesis that _trim drops
MARKDOWN = re.compile(
    r"\*+|(?<!\w)_+|_+(?!\w)|`+|^\s*#+\s*|^\s*>+\s*|\\(?:boxed|text|mathrm)\{|\\[()\[\]]|\$|(?<=\S)\}",
    re.MULTILINE,
)
ANSWER_LINE = re.compile(
    r"^(?:so,?\s+|thus,?\s+|therefore,?\s+|hence,?\s+)?(?:the\s+|my\s+)?(?:final\s+|correct\s+)?"
    r"(?:answer|output|result)s?\s*(?:(?:is|are|would\s+be)\s*[:：]?|[:：=]|-|–)\s*(.*)$",
    re.IGNORECASE,
)
#: "... the answer is B" inside a line (a line that starts so is an ANSWER_LINE)
ANSWER_IS = re.compile(r"\banswer\s+is\s*[:：]?\s*(.+?)\s*$", re.IGNORECASE)
NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:/\d+)?(?![\w/])")
NUMBER_WORDS = dict(
    zero=0, one=1, two=2, three=3, four=4, five=5, six=6, seven=7, eight=8, nine=9, ten=10, eleven=11,
    twelve=12, thirteen=13, fourteen=14, fifteen=15, sixteen=16, seventeen=17, eighteen=18, nineteen=19,
    twenty=20, thirty=30, forty=40, fifty=50, sixty=60, seventy=70, eighty=80, ninety=90, hundred=100,
)  # fmt: skip
STOPWORDS = {
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "these", "those",
    "of", "in", "on", "at", "to", "for", "by", "with", "from", "and", "or", "as", "he", "she", "they", "them",
    "his", "her", "their", "i", "you", "we", "my", "your", "our", "me", "him", "us", "answer", "final", "so",
    "thus", "therefore", "because", "which", "who", "what", "there", "then", "than", "has", "have", "had",
    "do", "does", "did", "can", "could", "would", "will", "just", "also",
}  # fmt: skip
NEGATION = re.compile(r"\b(?:not|no|never|none|nobody|nothing|neither|nor|cannot)\b|n[’']t\b", re.IGNORECASE)


# -- final answers ----------------------------------------------------------------------------------------
def _lines(text: str) -> list[str]:
    """Non-empty lines without markdown emphasis, headings, quotes or list markers."""
    cleaned = (MARKDOWN.sub("", line).strip(" \t-•}") for line in text.splitlines())
    return [line for line in cleaned if line]


#: an "Answer:" marker after a sentence on the same line
ANSWER_AFTER_SENTENCE = re.compile(r"[.!?]\s+(?:the\s+)?(?:final\s+)?answer\s*[:：]\s*(\S.*)$", re.IGNORECASE)


def stated_answer(text: str) -> str | None:
    """The answer a solution states: after the last "Answer:"/"Final answer:"-style marker (or on the line
    after a bare marker), else after an "Answer:" that ends a line's sentences ("Therefore the class is
    consonant. Answer: consonant", as the local teacher wrote it in run s12b) or after the last "... the
    answer is"; None when no line states one.

    The one reader of answer lines: the key checks here, `unique_solution` and the teacher's worked-answer
    request all use it, so an answer is asked to be worked out exactly when the checks could not read it.
    """
    lines = _lines(text)
    for index in range(len(lines) - 1, -1, -1):
        found = ANSWER_LINE.match(lines[index])
        if found:
            rest = found.group(1).strip()
            if rest:
                return _unmarked(rest)
            if index + 1 < len(lines):
                return _unmarked(lines[index + 1])
    for line in reversed(lines):
        if inline := ANSWER_AFTER_SENTENCE.search(line) or ANSWER_IS.search(line):
            return _unmarked(inline.group(1))
    return None


def _unmarked(answer: str) -> str:
    return answer.strip(" *_`").removesuffix(".").strip(" *_`")


def final_answer(text: str) -> str:
    """The answer a worked solution commits to (`stated_answer`), else its last non-empty line."""
    stated = stated_answer(text)
    if stated is not None:
        return stated
    lines = _lines(text)
    return lines[-1] if lines else ""


def _trim(answer: str) -> str:
    """A final answer without its justification ("12, because...", "12 (3 x 4)")."""
    answer = re.sub(r"\([^()]*\)", " ", answer)
    return re.split(r"\s(?:because|since|—|–)\s|\.\s", answer, maxsplit=1)[0]


def normalise(text: str) -> str:
    """Casefolded words and digits: number words as digits; no articles, thousands separators, punctuation."""
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text.casefold())
    text = re.sub(
        r"\b(twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)-(one|two|three|four|five|six|seven|eight"
        r"|nine)\b",
        lambda m: str(NUMBER_WORDS[m.group(1)] + NUMBER_WORDS[m.group(2)]),
        text,
    )
    text = re.sub(r"\b[a-z]+\b", lambda m: str(NUMBER_WORDS.get(m.group(0), m.group(0))), text)
    text = re.sub(r"[^\w\s./-]|(?<!\d)[./]|[./](?!\d)", " ", text)
    return " ".join(w for w in text.split() if w not in ("a", "an", "the"))


def numbers(text: str) -> set[Fraction]:
    """The distinct numbers in a normalised text (so 12, 12.0 and twelve are one number)."""
    return {Fraction(n) for n in NUMBER.findall(text) if not n.endswith("/0")}


def rounded_alike(first: str, second: str) -> bool:
    """Whether two normalised answers each give one number, the less precise one the other rounded to its
    decimals and within 1% of it: s18's "67 days" and a second answer's 66.66666666666667 (200 words at 3
    a day) were judged different numbers."""
    found = [NUMBER.findall(first), NUMBER.findall(second)]
    if any(len(set(n)) != 1 or "/" in n[0] for n in found):
        return False
    (rough, exact) = sorted((n[0] for n in found), key=lambda n: len(n.partition(".")[2]))
    decimals = len(rough.partition(".")[2])
    if decimals == len(exact.partition(".")[2]) or float(rough) == 0:
        return False
    close = abs(float(exact) - float(rough)) <= 0.01 * abs(float(rough))
    return close and round(float(exact), decimals) == float(rough)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    return {_stem(w) for w in re.findall(r"[^\W_]+", text) if w not in STOPWORDS}


def same_answer(first: str, second: str) -> tuple[bool, str]:
    """Whether two final answers say the same thing, and how that was decided (see the module doc)."""
    a, b = normalise(_trim(first)), normalise(_trim(second))
    if a == b:
        return bool(a), "same after normalisation" if a else "empty answer"
    numbers_a, numbers_b = numbers(a), numbers(b)
    if numbers_a and numbers_b:
        if numbers_a != numbers_b and rounded_alike(a, b):
            return True, "the same number, rounded"
        return numbers_a == numbers_b, "same numbers" if numbers_a == numbers_b else "different numbers"
    if bool(NEGATION.search(_trim(first))) != bool(NEGATION.search(_trim(second))):
        return False, "one is negated"
    words_a, words_b = content_words(a), content_words(b)
    if not words_a or not words_b:
        return False, "no words in common"
    shared = len(words_a & words_b)
    overlap, coverage = shared / min(len(words_a), len(words_b)), shared / max(len(words_a), len(words_b))
    if overlap >= AGREEMENT_OVERLAP and coverage < AGREEMENT_COVERAGE:
        return False, f"word overlap {overlap:.2f}, but {shared} of {max(len(words_a), len(words_b))} words"
    return overlap >= AGREEMENT_OVERLAP, f"word overlap {overlap:.2f}"


def _clip(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- option letters ---------------------------------------------------------------------------------------
OPTION_LINE = re.compile(r"^\s*[*_]*\(?([A-H])(?:\)|\.|:)[*_]*\s+(\S.*)$")
LETTER_LIST = re.compile(r"\(?[A-H]\)?(?:\s*(?:,|;|/|&|\+|\band\b)\s*\(?[A-H]\)?)*")
#: "Answer: B", "the correct option is (B)", "I choose B": a statement of the chosen option(s)
LETTER_MARKER = re.compile(
    r"\banswers?\b(?:\s+(?:is|are|would\s+be))?\s*[:：=\-–]?"
    r"|\bcorrect\s+(?:options?|choices?|letters?)\b(?:\s+(?:is|are|would\s+be))?\s*[:：=\-–]?"
    r"|\b(?:choose|select|pick)\b",
    re.IGNORECASE,
)
LEADING_LETTERS = re.compile(
    r"^\s*[:：\-–]?\s*((?:\([A-Ha-h]\)|[A-H](?![A-Za-z'’])\)?)(?:\s*(?:,|;|/|&|\+|\band\b|\bor\b)\s*"
    r"(?:\([A-Ha-h]\)|[A-H](?![A-Za-z'’])\)?))*)"
)


#: options run together on one line: "... atmosphere? A) Carbon dioxide B) Oxygen C) Helium"
INLINE_OPTION = re.compile(r"(?:^|\s)\(?([A-H])\)\s+(.+?)(?=\s+\(?[A-H]\)\s|$)")


def options_in(instruction: str) -> dict[str, str]:
    """The lettered options of a task ("A) ...", "(B) ...", "C. ...", "D: ..."), letter -> text.

    Options are read one per line; a line may also run several together ("A) x, B) y, C) z"), read only
    when their letters follow each other in order (so a stray "B)" in prose is no option).
    """
    options: dict[str, str] = {}
    for line in instruction.splitlines():
        inline = INLINE_OPTION.findall(line)
        letters = "".join(letter for letter, _ in inline)
        if len(inline) >= 2 and letters in LETTERS and (letters[0] == "A" or OPTION_LINE.match(line)):
            for letter, text in inline:
                options.setdefault(letter, text.strip().rstrip(",;").strip())
            continue
        found = OPTION_LINE.match(line)
        if found:
            options.setdefault(found.group(1), found.group(2).strip())
    return options


def key_letters(key: str, options: dict[str, str]) -> list[str] | None:
    """The option letters of a key ("B", "A, C", "(B) Paris"), or None when the key is not letters."""
    cleaned = MARKDOWN.sub("", key).strip().rstrip(".")
    if LETTER_LIST.fullmatch(cleaned):
        return sorted(set(re.findall(r"[A-H]", cleaned)))
    found = re.match(r"\(?([A-H])[).:]\s", cleaned + " ")
    return [found.group(1)] if found and found.group(1) in options else None


def _letters_in(rest: str, options: dict[str, str]) -> list[str]:
    """Letters committed to right after an answer marker, or the option whose text the rest repeats."""
    rest = rest.strip()
    by_text = {normalise(text): letter for letter, text in options.items()}
    if normalise(rest) in by_text:
        return [by_text[normalise(rest)]]
    found = LEADING_LETTERS.match(rest)
    if not found:
        return []
    letters = set(re.findall(r"[A-Ha-h]", found.group(1).replace("and", "").replace("or", "")))
    letters |= set(re.findall(r"\(([A-H])\)", rest[found.end() :]))  # "(B) Paris and (D) Rome"
    return sorted({letter.upper() for letter in letters})


def chosen_letters(answer: str, options: dict[str, str]) -> list[str]:
    """The option letters an answer commits to (see the module doc); empty when it commits to none."""
    allowed = set(options) or set(LETTERS)
    lines = _lines(answer)
    for line in reversed(lines):
        for marker in reversed(list(LETTER_MARKER.finditer(line))):
            letters = [x for x in _letters_in(line[marker.end() :], options) if x in allowed]
            if letters:
                return letters
    last = re.sub(r"^(?:options?|choices?)\s+", "", lines[-1], flags=re.IGNORECASE) if lines else ""
    letters = [x for x in _letters_in(last, options) if x in allowed]
    plain_letters = len(last) <= 12 and LETTER_LIST.fullmatch(last.rstrip("."))
    committed = OPTION_LINE.match(last) or last[:1] == "(" or normalise(last) in _option_texts(options)
    return letters if plain_letters or committed else []


#: a task that lets several options be right
SEVERAL_ANSWERS = re.compile(
    r"\b(?:all that apply|select all|choose all|mark all|more than one|one or more|every correct"
    r"|(?:which|choose|select|pick) (?:two|three|both))\b",
    re.IGNORECASE,
)


def several_for_one(answer: str, task: str) -> list[str]:
    """The option letters an answer commits to when they are several and its task asks for one ([] else)."""
    options = options_in(task)
    if not options or SEVERAL_ANSWERS.search(task):
        return []
    chosen = chosen_letters(answer, options)
    return chosen if len(chosen) > 1 else []


def _option_texts(options: dict[str, str]) -> set[str]:
    return {normalise(text) for text in options.values()}


def _show(letters: list[str], options: dict[str, str]) -> str:
    shown = ", ".join(letters)
    if len(letters) == 1 and letters[0] in options:
        shown += f" ('{_clip(options[letters[0]], 50)}')"
    return shown


# -- checks -----------------------------------------------------------------------------------------------
def value_matches(answer: str, key: str, case_matters: bool) -> bool:
    """Normalised exact match (quotes, spaces, a trailing period ignored) or numeric equality."""

    def tidy(text: str) -> str:
        text = " ".join(MARKDOWN.sub("", text).split()).strip(" \"'“”‘’").rstrip(".").strip(" \"'“”‘’")
        text = re.sub(r"^(?:output|answer)\s*[:：]\s*", "", text, flags=re.IGNORECASE)
        return text if case_matters else text.casefold()

    a, b = tidy(answer), tidy(key)
    arrow = re.split(r"\s*(?:->|→)\s*", a)
    if len(arrow) == 2 and not re.search(r"->|→", b):  # "new water connection -> connection water new":
        a = arrow[1]  # the teacher wrote the query's line out, input first, as the examples show it
    if a == b or re.sub(r"\s*([,;:|→>-])\s*", r"\1", a) == re.sub(r"\s*([,;:|→>-])\s*", r"\1", b):
        return bool(a)
    plain = re.compile(r"[-+]?[$€£]?\d[\d,]*(?:\.\d+)?%?")
    if plain.fullmatch(a) and plain.fullmatch(b):
        return numbers(normalise(a)) == numbers(normalise(b))
    return False


@check("answer_matches_key")
def answer_matches_key(candidate: Candidate) -> Check | None:
    """The answer commits to the option letter(s) of the key, or to the key's value (module doc)."""
    key = str(candidate.details.get("answer_key", "")).strip()
    if not key:
        return None
    name, options = "answer_matches_key", options_in(candidate.instruction)
    expected = key_letters(key, options)
    if expected is not None:
        if not options:
            return Check(
                name=name, ok=False, detail="the task lists no lettered options (A) ..., B) ...) for its key"
            )
        missing = [x for x in expected if x not in options]
        if missing:
            return Check(name=name, ok=False, detail=f"the key names {', '.join(missing)}, not an option")
        chosen = chosen_letters(candidate.answer, options)
        if not chosen:
            return Check(
                name=name,
                ok=False,
                detail="the answer commits to no option letter; end it with 'Answer: <letter(s)>'",
            )
        if chosen != expected:
            detail = f"answered {_show(chosen, options)}, the key is {_show(expected, options)}"
            return Check(name=name, ok=False, detail=detail)
        return Check(name=name, ok=True, detail=f"answered {_show(chosen, options)}, as the key")
    final = final_answer(candidate.answer)
    case_matters = candidate.instruction_type in CASE_SENSITIVE_TYPES
    if value_matches(final, key, case_matters):
        return Check(name=name, ok=True, detail=f"final answer '{_clip(final)}' matches the key")
    return Check(name=name, ok=False, detail=f"answered '{_clip(final)}', the key is '{_clip(key)}'")


@check("answers_agree")
async def answers_agree(candidate: Candidate) -> Check | None:
    """The final answer agrees with the key (if any) and with an independent second teacher answer."""
    name, key = "answers_agree", str(candidate.details.get("answer_key", "")).strip()
    if not key and candidate.resample is None:
        return None
    final = final_answer(candidate.answer)
    if not final:
        return Check(name=name, ok=False, detail="the answer is empty; end it with 'Answer: <final answer>'")
    if _repeats_task(final, candidate.instruction):
        detail = f"the final answer '{_clip(final)}' only repeats words of the task; solve it instead"
        return Check(name=name, ok=False, detail=detail)
    notes = []
    letters = shown_letters(candidate.instruction, key)
    if letters and normalise(_trim(final)) != normalise(key):
        detail = (
            f"the final answer '{_clip(final)}' is not the word the letters {letters} spell, '{_clip(key)}'; "
            "an anagram's answer uses exactly its letters"
        )
        return Check(name=name, ok=False, detail=detail)
    options = options_in(candidate.instruction)
    choice = options if key and key_letters(key, options) is not None else {}
    if key:
        agreed, how = _agree(candidate.answer, key, choice)
        if not agreed:
            detail = f"the final answer '{_clip(final)}' does not agree with the key '{_clip(key)}' ({how})"
            return Check(name=name, ok=False, detail=detail)
        notes.append(
            f"the key, which code computed from the puzzle ({how})"
            if candidate.key_by_code
            else f"the key ({how})"
        )
    if candidate.resample is not None:
        try:
            resampled = await candidate.resample()
        except RuntimeError as exc:  # the second teacher answer failed
            return Check(name=name, ok=False, detail=f"no second independent answer to compare: {exc}")
        second = final_answer(resampled)
        agreed, how = _agree(candidate.answer, resampled, choice)
        if not agreed:
            detail = f"a second independent answer ends '{_clip(second)}', this one '{_clip(final)}' ({how})"
            return Check(name=name, ok=False, detail=detail)
        notes.append(f"a second independent answer ({how})")
    return Check(name=name, ok=True, detail=f"'{_clip(final)}' agrees with " + " and ".join(notes))


#: a word's letters shown one by one, "L-N-A-R-E" (an anagram task, `flows.anagrams`)
SPELLED = re.compile(r"\b[A-Z](?:-[A-Z]){3,}\b")


def shown_letters(task: str, key: str) -> str:
    """The letters an anagram task shows when they are exactly the key's ("" otherwise): its answer is that
    word and nothing near it. The lenient word match took "Learning" for the letters of "learn" (run s12b)."""
    for found in SPELLED.finditer(task):
        if sorted(found.group(0).replace("-", "")) == sorted(key.upper()):
            return found.group(0)
    return ""


def _agree(answer: str, other: str, options: dict[str, str]) -> tuple[bool, str]:
    """Whether two answers (whole texts, or a key) agree: on the option letters they commit to when
    `options` are given and both commit to some, else on their final answers (`same_answer`)."""
    if options:
        chosen, others = chosen_letters(answer, options), chosen_letters(other, options)
        if chosen and others:
            return chosen == others, "same option" if chosen == others else "different options"
    return same_answer(final_answer(answer), final_answer(other))


def _repeats_task(final: str, task: str) -> bool:
    """Whether the final answer is four or more words copied from the task, and nothing else."""
    answer = normalise(_trim(final))
    return len(answer.split()) >= 4 and f" {answer} " in f" {normalise(task)} "


LABEL_LINE = re.compile(
    r"^(?:the\s+|final\s+|predicted\s+|chosen\s+)?(?:labels?|categor(?:y|ies)|class(?:es)?|classifications?)"
    r"\s*(?:is|are|[:：=])\s*(.+)$",
    re.IGNORECASE,
)


def _label_key(label: str) -> str:
    return " ".join(re.sub(r"[_\-\s]+", " ", label.casefold()).split()).strip(" .!\"'“”‘’[](){}")


def label_set(labels: str) -> dict[str, str]:
    """Allowed labels (comma, semicolon, bar or line separated), normalised key -> label as written."""
    parts = (p.strip(" \t-*•\"'“”‘’.") for p in re.split(r"[,;|\n]", labels))
    return {_label_key(p): p for p in parts if _label_key(p)}


def chosen_labels(answer: str, allowed: dict[str, str]) -> tuple[list[str], bool]:
    """Labels an answer chose (from its last "Label:" line, else its last line), and whether a label
    line was found. Parts that are not labels are kept, so the check can name them."""
    lines = _lines(answer)
    found = next((m.group(1) for line in reversed(lines) if (m := LABEL_LINE.match(line))), None)
    text = found if found is not None else (lines[-1] if lines else "")
    text = re.split(r"\s(?:because|since|—|–|-)\s", re.sub(r"\([^()]*\)", " ", text), maxsplit=1)[0]
    chosen = []
    for part in [text] if _label_key(text) in allowed else re.split(r"[,;|/&]", text):
        part = re.sub(r"^\s*and\s+", "", part)
        pieces = [part] if _label_key(part) in allowed else re.split(r"\band\b", part)
        chosen += [key for piece in pieces if (key := _label_key(piece))]
    return list(dict.fromkeys(chosen)), found is not None


@check("labels_from_set")
def labels_from_set(candidate: Candidate) -> Check | None:
    """The chosen label(s) all belong to the task's label set; exactly one unless the type is multi_label."""
    allowed = label_set(str(candidate.details.get("labels", "")))
    if not allowed:
        return None
    name, listed = "labels_from_set", ", ".join(allowed.values())
    chosen, marked = chosen_labels(candidate.answer, allowed)
    outside = [c for c in chosen if c not in allowed]
    if not chosen or (outside and not marked):
        detail = f"no 'Label:' line naming one of the allowed labels ({listed}); end with 'Label: <label>'"
        return Check(name=name, ok=False, detail=detail)
    if outside:
        shown = ", ".join(f"'{c}'" for c in outside)
        return Check(name=name, ok=False, detail=f"chose {shown}, not among the allowed labels: {listed}")
    multi = candidate.instruction_type == "multi_label"
    shown = ", ".join(allowed[c] for c in chosen)
    if len(chosen) > 1 and not multi:
        detail = f"chose {len(chosen)} labels ({shown}); this task takes exactly one of: {listed}"
        return Check(name=name, ok=False, detail=detail)
    return Check(name=name, ok=True, detail=f"chose {shown}, from the allowed labels")


def _accepts_instruction(resample: object) -> bool:
    try:
        return "instruction" in inspect.signature(resample).parameters  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


@check("second_query_agrees")
async def second_query_agrees(candidate: Candidate) -> Check | None:
    """Asked the same examples with `second_query` instead, the teacher answers `second_answer`."""
    query = str(candidate.details.get("second_query", "")).strip()
    expected = str(candidate.details.get("second_answer", "")).strip()
    if not query or not expected or not _accepts_instruction(candidate.resample):
        return None
    name, task = "second_query_agrees", candidate.instruction.rstrip()
    variant = f"{task}\n\nUse the same examples, but answer this query instead:\n{query}"
    try:
        answer = final_answer(await candidate.resample(instruction=variant))  # type: ignore[misc, call-arg]
    except RuntimeError as exc:  # the teacher's answer to the variant failed
        return Check(name=name, ok=False, detail=f"the second query could not be answered: {exc}")
    case_matters = candidate.instruction_type in CASE_SENSITIVE_TYPES
    said = f"on the second query '{_clip(query, 40)}' the teacher answered '{_clip(answer)}'"
    if value_matches(answer, expected, case_matters):
        return Check(name=name, ok=True, detail=f"{said}, as expected")
    return Check(name=name, ok=False, detail=f"{said}, expected '{_clip(expected)}'")
