"""Why an agent's structured reply cannot be used even though it parses: the checks behind a re-ask.

Small models copy the prompt's own instructions into the fields they were asked to fill, write a label
where a whole task belongs, return a letter key for a question without options, or give a transformation's
source back unchanged. `copied_scaffold`, `task_problem` and `echoed_seed` name the problem in words the
model can act on; `agentinstruct.agents` sends it back. `without_repair_preamble` takes out the words a
revised answer addresses to the feedback rather than to the user.
Checks of *answers* (teacher replies) live in `agentinstruct.quality`, not here.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

from pydantic import BaseModel

from agentinstruct.quality.agreement import key_letters, options_in

#: fewer words than this under the task's key is a label or a fragment, not a task
MIN_TASK_WORDS = 3
#: a question whose key is option letters offers at least this many options
MIN_OPTIONS = 3


def task_problem(task: str, answer_key: str, key: str = "instruction", other_fields: str = "") -> str:
    """Why a written task is unusable ("" when it is fine): a fragment, or a letter key without options.

    A small model may write just a label ("topic") where the task belongs, or a multiple-choice question
    without its options while still returning a letter as the key; both go back to it at once, before the
    teacher answers a task that cannot be right.
    """
    if len(task.split()) < MIN_TASK_WORDS:
        return f"'{task.strip()}' is not a whole task: write under '{key}' the complete task as it is sent"
    if found := ASKS_FOR_A_REQUEST.search(task):
        return (
            f"the task asks for a request (\"{found.group(0)}\") instead of being one: write under '{key}' "
            "what the user asks the assistant for, in the user's words"
        )
    if found := PIPELINE_WORDS.search(task):
        return (
            f'the task speaks of the pipeline you work in ("{found.group(0)}"), which its user knows '
            "nothing of: write it about the material alone"
        )
    if answer_key:
        options = options_in(f"{task}\n{other_fields}")
        letters = key_letters(answer_key, options)
        if letters is not None and not options:
            return (
                f"the answer key '{answer_key}' names option letters, but the reply lists no options: write "
                "each option on its own line as A) ..., B) ..."
            )
        if letters is not None and len(options) < MIN_OPTIONS:
            count = len(options)
            return f"the reply lists only {count} option(s): give at least {MIN_OPTIONS}, one per line"
        missing = [x for x in letters or [] if x not in options]
        if missing:
            return f"the answer key names {', '.join(missing)}, which '{key}' does not list as an option"
    if (found := CHOICE_STEM.search(task)) and not _lists_choices(task[found.end() :], other_fields):
        return (
            f'the task asks "{found.group(0)}" but lists no choices: write each option on its own line '
            "as A) ..., B) ..., C) ..., or ask an open question"
        )
    return ""


#: a question that chooses among listed items: a local reading-comprehension task was the stem alone,
#: "Which of the following questions would be most useful in evaluating the argument?" (run s16), and the
#: teacher invented its own list
CHOICE_STEM = re.compile(
    r"\bwhich\s+(?:one\s+)?of\s+the\s+following\b|\b(?:choose|select|pick)\b[^.?!\n]{0,40}?\b(?:from|among)\s+"
    r"the\s+(?:following|options|choices)\b",
    re.IGNORECASE,
)
#: a line of a list: "- x", "* x", "1. x", "(2) x"
LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\(?\d{1,2}[.)])\s+\S", re.MULTILINE)


def _lists_choices(after_stem: str, other_fields: str) -> bool:
    """Whether choices follow a choice stem: lettered options, list lines, or a run-in list after a colon
    ("...: the fire, the flood or the drought")."""
    if len(options_in(f"{after_stem}\n{other_fields}")) >= MIN_OPTIONS - 1:
        return True
    if len(LIST_ITEM.findall(after_stem)) >= MIN_OPTIONS - 1:
        return True
    run_in = after_stem.partition(":")[2]
    return len(re.findall(r",|\bor\b|;", run_in)) >= 1


#: the instruction agent's own job written into its task: no user asks an assistant for a "creative-writing
#: request" (a local task began "Write a creative-writing request inspired by the text provided, where the
#: speakers are...", run s14)
ASKS_FOR_A_REQUEST = re.compile(
    r"\b(?:creative[- ]writing|user)\s+request\b|\brequest\s+(?:that|which)\s+a\s+user\b", re.IGNORECASE
)
#: the agents' former system prompt ("one agent in a pipeline that writes high-quality training data for
#: language models") written into a task: a local screenplay request was to focus "on one agent in a pipeline
#: that writes high-quality training data for language models" (run s16 probe; s30, s31 and s32 wrote it
#: into screenplay requests and a conversation's user, so the system prompt no longer says it)
PIPELINE_WORDS = re.compile(
    r"\bagents?\s+in\s+a\s+pipeline\b|\btraining\s+data\s+for\s+language\s+models\b", re.IGNORECASE
)
QUOTED_EXAMPLE = re.compile(r'["“]([^"“”\n]{30,})["”]')


def copied_scaffold(output: Any, prompt: str, variables: dict[str, Any]) -> str:
    """An error when the reply copies the prompt's own instructions into its fields (small models do).

    Scaffold lines are the prompt's lines that come from the template, not from the material passed in, so
    an editor that legitimately repeats the passage is not flagged. A field line that contains a scaffold
    line or a quoted example of one, or most of its word pairs ("Write a brain teaser..." for "Write one
    brain teaser..."), copies it.
    """
    structured = isinstance(output, BaseModel)
    fields = output.model_dump(by_alias=True) if structured else {"answer": output}
    allowed = getattr(output, "copy_allowed", frozenset())
    texts = {
        name: value
        for name, value in fields.items()
        if isinstance(value, str) and value and name not in allowed
    }
    scaffold = _scaffold_in(texts, prompt, variables, paraphrases=structured)
    for name, value in texts.items():
        value_lines = _line_pairs(value)
        copied = next((line for line in scaffold if line in value or _paraphrased(line, value_lines)), None)
        if copied is not None:
            quoted = copied if len(copied) <= 80 else copied[:77] + "..."
            return (
                f"the field '{name}' copies my request (\"{quoted}\") instead of holding what you were "
                f"asked to write; put your own {name.replace('_', ' ')} in '{name}'"
            )
    if structured and (stitched := _stitched(texts, prompt, variables)):
        name, line = stitched
        quoted = line if len(line) <= 80 else line[:77] + "..."
        return (
            f"the field '{name}' is pieced together from my request's own phrases (\"{quoted}\") instead of "
            f"being written for the material; write your own {name.replace('_', ' ')} in your own words"
        )
    return ""


#: the share of a reply field's own word pairs (8 or more) taken from anywhere in the prompt's own words (its
#: material aside) that makes the field pieced together from the request: a local fermi question was "How
#: many people, animals or organisations of some kind (households in its town that grow their own
#: vegetables, volunteers its project needs each week) exist in Fenwick?", 23 of its 26 word pairs from the
#: type's intent and two of its guidance's examples, no line of which it copied whole (run s18)
STITCHED_SHARE = 0.8


def _stitched(texts: dict[str, str], prompt: str, variables: dict[str, Any]) -> tuple[str, str] | None:
    """The first (field, text) whose word pairs come mostly from the prompt's own words, or None."""
    material = [value for value in _material(variables).split("\n") if len(value) >= 20]
    own = prompt
    for value in sorted(material, key=len, reverse=True):
        own = own.replace(value, "\n")
    request = word_pairs(own) - word_pairs("\n".join(material))
    for name, value in texts.items():
        # the whole field: a question may open with a test's standard stem ("Which one of the following most
        # accurately expresses the main point of the passage?") when its options are its own
        pairs = word_pairs(value)
        if len(pairs) >= FRAGMENT_MIN_PAIRS and len(pairs & request) >= STITCHED_SHARE * len(pairs):
            return name, " ".join(value.split())
    return None


def _scaffold_in(
    texts: dict[str, str], prompt: str, variables: dict[str, Any], paraphrases: bool
) -> list[str]:
    """The prompt's scaffold lines that these texts repeat, word for word or (with `paraphrases`) mostly.

    Only the prompt lines the texts repeat are looked up in the material (the costly test).
    """
    joined = "\0".join(texts.values())  # a superset test: the exact one per field comes later
    # a numbered line is copied without its number: the local coding teacher ended an answer with its
    # prompt's "3. One ```python block of tests: ..." as "One ```python block of tests: ..." (s14)
    lines = [(LIST_MARK.sub("", line).strip(" -"), line.strip()) for line in prompt.splitlines()]
    # a template's quoted example ("Which gas makes up most of Earth's atmosphere?") is scaffold too
    lines += [(quoted, quoted) for quoted in QUOTED_EXAMPLE.findall(prompt)]
    repeated = [(core, stripped) for core, stripped in lines if len(core) >= 30 and core in joined]
    if not repeated and paraphrases:
        # an instruction type's intent after its name ("Task type: stance — Classify the text's...") is a
        # line of its own: the local stance agent wrote the intent alone, reworded, as its task (run s13)
        lines += [
            (part.strip(), part.strip()) for line in prompt.splitlines() for part in line.split(" — ")[1:]
        ]
        reply_lines = _line_pairs("\n".join(texts.values()))  # once, not once per prompt line
        repeated = [(core, stripped) for core, stripped in lines if _paraphrased(core, reply_lines)]
    if not repeated:
        return []
    material = _material(variables)
    return [line for line, stripped in repeated if stripped not in material]


#: where a line's sentences meet
SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")
#: a list item's number at the start of a prompt line ("3. ", "2) ")
LIST_MARK = re.compile(r"^\s*\d{1,2}[.)]\s+")
#: a reply line is a copy of a prompt line, to be taken out whole, when this share of its word pairs is
#: the prompt line's; a line holding more words of its own is not mended
COPY_SHARE = 0.6
#: at most this many copied lines are taken out of a field: a reply copying more copied the prompt
MAX_MENDED_LINES = 2
#: a mended field keeps this share of its word pairs from outside the prompt (words of its own)
OWN_SHARE = 0.5


def without_scaffold(data: dict[str, Any], prompt: str, variables: dict[str, Any]) -> dict[str, Any] | None:
    """The reply's fields with the lines that copy the prompt's own instructions taken out, as if the
    model had not written them; None when nothing is copied or the reply is not a task of its own with a
    copied line or two: more copied lines, a copy mixed into a line of its own, or too little left that
    is not the prompt's (its scaffold or its material).

    The local model wrote a whole request and then a line of its prompt ("Keep it small: at most about
    ten properties in all.", "Task type: multi label — ..."), and was sent back twice for it (6 of 26
    rejections in run s12a): the request of its own was fine.
    """
    texts = {name: value for name, value in data.items() if isinstance(value, str) and value}
    scaffold = _scaffold_in(texts, prompt, variables, paraphrases=True)
    if not scaffold:
        return None
    from_prompt = word_pairs(prompt)
    mended = dict(data)
    for name, value in texts.items():
        kept, removed = _own_lines(value, scaffold)
        if not removed:
            continue
        if kept is None or removed > MAX_MENDED_LINES or len(re.findall(r"\w+", kept)) < MIN_TASK_WORDS:
            return None
        pairs = word_pairs(kept)
        if len(pairs - from_prompt) < OWN_SHARE * len(pairs):
            return None
        mended[name] = kept
    return mended if mended != data else None


def _own_lines(value: str, scaffold: list[str]) -> tuple[str | None, int]:
    """The value without its lines that copy scaffold lines, and how many it copied; None for the value
    when a copy is mixed into a line of its own, except a whole copied sentence at the line's start or
    end, which is taken off."""
    kept, removed = [], 0
    for line in value.splitlines():
        pairs = word_pairs(line)
        copies = [s for s in scaffold if s in line or _paraphrased(s, _line_pairs(line))]
        if not copies:
            kept.append(line.rstrip())  # blank lines too: they keep the layout
            continue
        removed += 1
        if all(len(pairs & word_pairs(s)) >= COPY_SHARE * len(pairs) for s in copies):
            continue  # the line is the copy
        rest = _without_sentence(line.strip(), copies)
        if rest is None:
            return None, removed
        kept.append(rest)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip(), removed


def _without_sentence(line: str, copies: list[str]) -> str | None:
    """The line with one copied whole sentence (or the fragment of one, `_paraphrased`) taken off its start
    or end, when that leaves no copy."""
    rests = [
        line.removeprefix(c) if line.startswith(c) else line.removesuffix(c)
        for c in copies
        if c[-1] in ".!?:"
    ]
    parts = SENTENCE_BREAK.split(line)
    for index in (0, len(parts) - 1) if len(parts) > 1 else ():
        if any(_paraphrased(c, [word_pairs(parts[index])]) for c in copies):
            rests.append(" ".join(parts[:index] + parts[index + 1 :]))
    for rest in rests:
        if rest != line and not any(c in rest or _paraphrased(c, _line_pairs(rest)) for c in copies):
            return rest.strip()
    return None


#: a transformation whose content holds this share of its word pairs from the seed...
ECHO_FROM_SEED = 0.9
#: ...and covers this share of the seed's is the seed given back, not transformed
ECHO_OF_SEED = 0.6
#: shorter contents are not judged (a title, a one-line rule)
ECHO_MIN_PAIRS = 20
#: a content and a transformation description this long can be told apart when one repeats the other
DESCRIPTION_MIN_PAIRS = 8


#: a decline written into a transformation's content: a paragraph that says the material is not suitable,
#: or the "-" placeholder the prompt asks declines to put in fields (the local debate_transcript agent gave
#: the seed, "The proposal is not suitable because it does not discuss the benefits...", then "-"; a
#: reading comprehension pair was delivered on it, run s14)
DECLINE_IN_CONTENT = re.compile(
    r"(?:^|\n)[ \t]*(?:the|this)\s+(?:text|material|proposal|content|passage|seed|document)\s+is\s+not\s+"
    r"suitable\b[^\n]*|\n[ \t]*-[ \t]*$",
    re.IGNORECASE,
)


def echoed_seed(output: Any, variables: dict[str, Any]) -> str:
    """An error when a transformation agent gives the seed back instead of transforming it.

    A 1.5B model asked to build a few-shot rule from a news item returned the item unchanged, and the
    instruction agent then copied its own prompt for lack of material. Only agents whose reply has a
    `content` and no task (transformations) and whose prompt got a `seed` are judged; transformations
    that are meant to keep the seed's words are `verbatim` and never reach a model.
    """
    content, seed = getattr(output, "content", None), variables.get("seed")
    if not isinstance(content, str) or not isinstance(seed, str) or hasattr(output, "instruction"):
        return ""
    if declined := DECLINE_IN_CONTENT.search(content):
        return (
            f"'content' holds a decline (\"{declined.group(0).strip()[:60]}...\"): either write the "
            'transformation in \'content\' with "suitable": true, or set "suitable": false and give '
            "the reason in 'reason' alone"
        )
    transformation = variables.get("transformation")
    wanted = getattr(transformation, "description", "") or "what the request asks for"
    written, described = word_pairs(content), word_pairs(wanted)
    # told the description after an echo, the local model wrote the description itself as the content
    enough = min(len(written), len(described)) >= DESCRIPTION_MIN_PAIRS
    if enough and len(written & described) >= ECHO_FROM_SEED * min(len(written), len(described)):
        name = str(getattr(transformation, "name", "transformation")).replace("_", " ")
        return (
            f"'content' repeats the description of what to write instead of writing it: write the {name} "
            "itself, with the names, facts and numbers of the text"
        )
    source = word_pairs(seed)
    if len(written) < ECHO_MIN_PAIRS or not source:
        return ""
    shared = len(written & source)
    if shared < ECHO_FROM_SEED * len(written) or shared < ECHO_OF_SEED * len(source):
        return ""
    return f"'content' gives back the source text almost word for word; write instead {wanted.strip()}"


def word_pairs(text: str) -> set[tuple[str, str]]:
    """The text's pairs of adjacent words (lower case): what copies of a text share with it."""
    words = re.findall(r"\w+", text.lower())
    return set(pairwise(words))


def _line_pairs(text: str) -> list[set[tuple[str, str]]]:
    """The word pairs of each line of the text, and of each sentence of a line of several."""
    lines = text.splitlines()
    sentences = [part for line in lines for part in SENTENCE_BREAK.split(line) if part != line]
    return [word_pairs(piece) for piece in (*lines, *sentences)]


#: the share of a prompt line's word pairs a reply line holds when it rewords the line: the local stance
#: agent kept 10 of 14 of its intent's ("Classify the text's stance towards the named target (a claim,
#: policy, product or person)." for "...position towards a named target...", run s13)
PARAPHRASE_SHARE = 0.7


#: ...and the share of a reply line's or sentence's own word pairs (8 or more) that makes it a fragment of
#: one prompt line: a local classification task ended "Provide the allowed labels, how many to choose, and a
#: request for a short reason.", 13 of its 14 pairs from the prompt's "A finished task is ... the allowed
#: labels, how many to choose, and a request for a short reason." (run s14)
FRAGMENT_SHARE = 0.8
FRAGMENT_MIN_PAIRS = 8


def _paraphrased(line: str, reply_lines: list[set[tuple[str, str]]]) -> bool:
    """Whether some reply line (or sentence) holds at least PARAPHRASE_SHARE of the word pairs of a prompt
    line of 8+ words, or is a fragment of it (FRAGMENT_SHARE of its own pairs)."""
    pairs = word_pairs(line)
    if len(pairs) < 7:
        return False
    needed = PARAPHRASE_SHARE * len(pairs)
    return any(
        len(pairs & candidate) >= needed
        or (
            len(candidate) >= FRAGMENT_MIN_PAIRS and len(pairs & candidate) >= FRAGMENT_SHARE * len(candidate)
        )
        for candidate in reply_lines
    )


def _material(variables: dict[str, Any]) -> str:
    """The text passed into a prompt: every string among the variables (and in their dicts and lists)."""
    values = [
        v for value in variables.values() for v in (value.values() if isinstance(value, dict) else [value])
    ]
    return "\n".join(
        str(item)
        for value in values
        for item in (value if isinstance(value, list) else [value])
        if isinstance(item, str)
    )


#: a revised answer's opening that speaks to the feedback, not to the user: an apology for a mistake or
#: "you are right", then "Here is the corrected answer ...:" (the local coding teacher's repaired answer
#: began "I apologize for the oversight. Here is the corrected answer that meets all the requirements of the
#: task:", s14)
REPAIR_PREAMBLE = re.compile(
    r"^\s*(?:(?:(?:I\s+apologi[sz]e|My\s+apologies|Apologies|Sorry)\b[^\n.!]*?\b(?:oversight|mistake|error|"
    r"confusion|omission)s?\b|You(?:'re|\s+are)\s+(?:right|correct))[^\n]*?(?:[.!]\s+|\n+))?"
    r"(?:(?:Here\s+is|Here's|Below\s+is)\s+(?:the|my|an?)\s+(?:corrected|revised|updated|new|fixed|improved)\b"
    r"[^\n]*?:[ \t]*\n+)?",
    re.IGNORECASE,
)


def without_repair_preamble(answer: str) -> str:
    """The revised answer without an opening addressed to the feedback; unchanged when there is none or
    when nothing of substance would be left."""
    found = REPAIR_PREAMBLE.match(answer)
    rest = answer[found.end() :] if found else answer
    return rest if found and found.end() and len(rest.strip()) >= 20 else answer
