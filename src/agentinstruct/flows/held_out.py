"""Few-shot tasks written as data: the model picks examples and held-out queries; code writes the task.

An instruction type with `task_shape: held_out` (few_shot_reasoning's pattern_induction,
classification_from_examples and format_transformation) asks its instruction agent for [input, output]
pairs taken from the mapping: the examples the solver sees, the query it answers and a second query that
checks the same rule. Asked for the task as text, the local 1.5B model listed all of the mapping's
examples and never asked (2 of 5 tasks in one run, even when sent back), or asked for an example it had
shown. Code writes "Input: ... -> Output: ..." lines ending in "Input: <query> -> Output: ?", the key
(the query's output) and `second_query`/`second_answer`, after refusing held-out inputs that an example
shows, answers too long to compare, and, when the outputs are classes, a held-out class no example
shows. When the mapping lists its pairs, code mends the agent's choice from them first: pairs the mapping
lacks are replaced or dropped, and a held-out pair is taken out of the examples.
How a shaped task is asked for and read back is `flows.task_shapes`'; the checks are
`quality.agreement`'s.
"""

from __future__ import annotations

import re
from typing import Any

# the mapping's limit holds for held-out answers too: the teacher's answer is compared word for word
from agentinstruct.flows.shaped_content import MAX_OUTPUT_WORDS

MIN_EXAMPLES, MAX_EXAMPLES = 3, 8
_MAPPING_LINE = re.compile(r"^\s*Input:\s*(.+?)\s*->\s*Output:\s*(.+?)\s*$", re.MULTILINE)

PAIR_SCHEMA: dict[str, Any] = {
    "type": "array",
    "minItems": 2,
    "maxItems": 2,
    "items": {"type": "string", "minLength": 1},
}
HELD_OUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "examples": {
            "type": "array",
            "minItems": MIN_EXAMPLES,
            "maxItems": MAX_EXAMPLES,
            "items": PAIR_SCHEMA,
        },
        "query": PAIR_SCHEMA,
        "second_query": PAIR_SCHEMA,
    },
    "required": ["examples", "query", "second_query"],
    "additionalProperties": False,
}
HELD_OUT_DESCRIPTION = (
    "the task as data, in the mapping's own [input, output] pairs: examples, the pairs the solver sees; "
    "query, one more pair held out, whose output the solver must give; second_query, another held-out pair"
)


def _pair(value: Any, what: str) -> tuple[str, str]:
    if not isinstance(value, list) or len(value) != 2:
        raise TypeError(f"{what} is not an [input, output] pair")
    first, second = (" ".join(str(part).split()) for part in value)
    if not first or not second:
        raise ValueError(f"{what} has an empty input or output: give both")
    return first, second


def _key(text: str) -> str:
    return " ".join(text.lower().strip(" .\"'").split())


def mapping_pairs(material: str) -> dict[str, str]:
    """The mapping's own pairs ("Input: ... -> Output: ..." lines), by normalised input."""
    return {_key(i): o for i, o in _mapping_list(material)}


def mapping_lines(text: str) -> list[tuple[str, str]]:
    """Each "Input: ... -> Output: ..." line as (input, output), in order (a held-out query's is "?")."""
    return [
        (" ".join(m.group(1).split()), " ".join(m.group(2).split())) for m in _MAPPING_LINE.finditer(text)
    ]


def _mapping_list(material: str) -> list[tuple[str, str]]:
    """The mapping's own [input, output] pairs in its order, each input once."""
    found = mapping_lines(material)
    first: dict[str, tuple[str, str]] = {}
    for i, o in found:
        first.setdefault(_key(i), (i, o))
    return list(first.values())


def held_out_fields(data: Any, material: str = "") -> dict[str, str]:
    """The few-shot task (under "task"), its answer_key, second_query and second_answer, from the pairs.

    When the mapping (`material`) lists its pairs, the pairs are mended from it (`_from_mapping`).
    """
    if not isinstance(data, dict) or not isinstance(data.get("examples"), list):
        raise TypeError("not an object with a list of examples")
    examples = [_pair(e, f"example {n}") for n, e in enumerate(data["examples"], 1)]
    held = {
        "query": _pair(data.get("query"), "query"),
        "second_query": _pair(data.get("second_query"), "second_query"),
    }
    own = _mapping_list(material)
    if len(own) >= MIN_EXAMPLES + 2:
        examples, held = _from_mapping(examples, held, own)
    classes = _check_held_out(examples, held)
    (query, answer), (second, second_answer) = held["query"], held["second_query"]
    return {
        "task": _task_text(examples, query, classes),
        "answer_key": answer,
        "second_query": f"Input: {second}",
        "second_answer": second_answer,
    }


def _from_mapping(
    examples: list[tuple[str, str]], held: dict[str, tuple[str, str]], own: list[tuple[str, str]]
) -> tuple[list[tuple[str, str]], dict[str, tuple[str, str]]]:
    """The agent's choice of examples and held-out pairs, mended so that every pair is the mapping's own.

    Every pair takes the mapping's output; an example the mapping lacks is dropped; a held-out pair the
    mapping lacks (the local model held out the prompt's example, ("Peru", "Lima"), and invented
    ("a banana", "banana")), or that repeats the other one, is replaced by the last mapping pair no
    example shows; a held-out pair an example also shows is taken out of the examples. The solver still
    sees only the examples, and the teacher's answers are still checked against the held-out outputs.
    """
    by_key = {_key(i): (i, o) for i, o in own}
    chosen: dict[str, tuple[str, str] | None] = {}
    for name, (given, _) in held.items():
        taken = {_key(pair[0]) for pair in chosen.values() if pair}
        chosen[name] = by_key.get(_key(given)) if _key(given) not in taken else None
    shown = [by_key[_key(i)] for i, _ in examples if _key(i) in by_key]
    for name, pair in chosen.items():
        if pair is None:
            taken = {_key(p[0]) for p in chosen.values() if p} | {_key(i) for i, _ in shown}
            classes = {_key(o) for _, o in shown}
            # a pair whose output an example shows last, so it is the one taken (a class must be shown)
            spare = sorted((p for p in own if _key(p[0]) not in taken), key=lambda p: _key(p[1]) in classes)
            chosen[name] = spare[-1] if spare else shown.pop()
    held_keys = {_key(pair[0]) for pair in chosen.values() if pair}
    shown = list(dict.fromkeys(p for p in shown if _key(p[0]) not in held_keys))
    spare = [p for p in own if _key(p[0]) not in held_keys and p not in shown]
    shown += spare[: max(0, MIN_EXAMPLES - len(shown))]  # too few left: show more of the mapping
    return shown, {name: pair for name, pair in chosen.items() if pair}


def _check_held_out(examples: list[tuple[str, str]], held: dict[str, tuple[str, str]]) -> bool:
    """Raise on pairs that cannot make a fair task; return whether the outputs are classes."""
    shown = {_key(i) for i, _ in examples}
    if len(shown) < MIN_EXAMPLES or len(shown) < len(examples):
        raise ValueError(f"give at least {MIN_EXAMPLES} examples with different inputs")
    for name, (given, _) in held.items():
        if _key(given) in shown:
            raise ValueError(
                f"the {name} input {given!r} is also an example, so its answer stands in the task: hold out "
                "a pair that no example shows"
            )
    if len({_key(given) for given, _ in held.values()}) < len(held):
        raise ValueError("query and second_query have the same input: hold out two different pairs")
    for name, (_, answer) in held.items():
        if len(answer.split()) > MAX_OUTPUT_WORDS:
            raise ValueError(
                f"the {name} output has {len(answer.split())} words: the solver's answer is compared with it "
                f"word for word, so hold out a pair whose output is a label, a number or at most "
                f"{MAX_OUTPUT_WORDS} words"
            )
    labels = {_key(o) for _, o in examples}
    classes = len(labels) * 2 <= len(examples)  # outputs repeat: they are classes
    for name, (_, answer) in held.items():
        if classes and _key(answer) not in labels:
            raise ValueError(
                f"the examples' outputs are classes, and the {name} output {answer!r} is none of them: "
                "hold out a pair whose class an example shows"
            )
    return classes


def _task_text(examples: list[tuple[str, str]], query: str, classes: bool) -> str:
    if classes:
        lead = (
            "Each input below is labelled with its class. Work out what the classes mean from the examples, "
            "then give the class of the last input."
        )
    else:
        lead = (
            "Each input below is turned into its output by the same rule. Work out the rule from the "
            "examples, then give the output for the last input."
        )
    lines = [f"Input: {i} -> Output: {o}" for i, o in examples]
    return "\n".join([lead, "", *lines, f"Input: {query} -> Output: ?"])
