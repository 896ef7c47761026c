"""Whether a knights-and-knaves answer's working ends on the kinds its chosen option gives each person.

`unique_solution` confirms that a truth-tellers puzzle (`flows.truth_tellers`) has one solution, the key,
and that the teacher's final answer names it. The working can still conclude otherwise: the local teacher
summed up "Ann is a knave, Ben is a knight, Cal is a knight, David is a knave. So, the knaves are Ben and
Cal. Answer: (A) Ben and Cal" (run s14), a pair that teaches a wrong derivation of a right answer. Here the
key option is read as the kind of each person it settles ("Ben and Cal" as the knaves: everyone else a
knight; "Ann is a knight." for one person), and each person's last "X is a knight/knave" outside an
if/suppose sentence must agree with it. Puzzles in other wordings, or answers that state no kind, pass.
"""

from __future__ import annotations

import re

from agentinstruct.quality.agreement import options_in

PEOPLE = re.compile(r"Each of (?P<people>.+?) is either a knight, who always tells the truth")
QUESTION = re.compile(r"names exactly the (?P<kind>knaves|knights) among them")
KIND_STATED = re.compile(
    r"\b(?P<name>[A-Z][a-z]+)\s+(?:is|must\s+be|has\s+to\s+be)\s+(?:a\s+|the\s+)?"
    r"(?P<kind>knight|knave|truth-teller|liar)\b"
)
#: a sentence that supposes rather than concludes
HYPOTHETICAL = re.compile(r"\b(?:if|suppose|supposing|assume|assuming|were|would)\b", re.IGNORECASE)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def option_kinds(task: str, key: str) -> dict[str, bool]:
    """Person -> knight (True) or knave (False), as the key option settles them ({} when unreadable)."""
    people_line = PEOPLE.search(task)
    option = options_in(task).get(key.strip().strip("()").upper()[:1], "")
    if not people_line or not option:
        return {}
    people = [p.strip() for p in re.split(r",|\band\b", people_line["people"]) if p.strip()]
    single = KIND_STATED.fullmatch(option.strip().rstrip("."))
    if single and single["name"] in people:  # which_is_true: "Ann is a knight."
        return {single["name"]: single["kind"] in ("knight", "truth-teller")}
    question = QUESTION.search(task)
    if not question:
        return {}
    if option.startswith("all of them"):
        named = set(people)
    elif option.startswith("none of them"):
        named = set()
    else:
        named = {p for p in people if re.search(rf"\b{re.escape(p)}\b", option)}
    knights_named = question["kind"] == "knights"
    return {p: (p in named) == knights_named for p in people}


def working_contradicts(task: str, key: str, answer: str) -> str:
    """Why the answer's working ends on other kinds than its key option gives ("" when it does not)."""
    expected = option_kinds(task, key)
    if not expected:
        return ""
    last: dict[str, bool] = {}
    for sentence in SENTENCE_END.split(answer):
        if HYPOTHETICAL.search(sentence):
            continue
        for found in KIND_STATED.finditer(sentence):
            if found["name"] in expected:
                last[found["name"]] = found["kind"] in ("knight", "truth-teller")
    wrong = [name for name, knight in last.items() if knight != expected[name]]
    if not wrong:
        return ""
    said = ", ".join(f"{name} a {'knight' if last[name] else 'knave'}" for name in wrong)
    return (
        f"the working concludes {said}, which the chosen option ({key}) contradicts: the answer's "
        "reasoning must reach the kinds its answer gives"
    )
