"""Few-shot tasks written as data: the model picks examples and held-out queries; code writes the task.

An instruction type with `task_shape: held_out` (few_shot_reasoning's pattern_induction,
classification_from_examples and format_transformation) asks its instruction agent for [input, output]
pairs taken from the mapping: the examples the solver sees, the query it answers and a second query that
checks the same rule. Asked for the task as text, the local 1.5B model listed all of the mapping's
examples and never asked (2 of 5 tasks in one run, even when sent back), or asked for an example it had
shown. Code writes "Input: ... -> Output: ..." lines ending in "Input: <query> -> Output: ?", the key
(the query's output) and `second_query`/`second_answer`, after refusing held-out inputs that an example
shows, held-out pairs that are not the mapping's own (the model held out the prompt's example), answers
too long to compare, and, when the outputs are classes, a held-out class no example shows.
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
    return {_key(m.group(1)): " ".join(m.group(2).split()) for m in _MAPPING_LINE.finditer(material)}


def held_out_fields(data: Any, material: str = "") -> dict[str, str]:
    """The few-shot task (under "task"), its answer_key, second_query and second_answer, from the pairs.

    When the mapping (`material`) lists its pairs, the held-out ones must be among them, and every pair
    that is takes the mapping's output: the local model held out the prompt's example ("Peru", "Lima").
    """
    if not isinstance(data, dict) or not isinstance(data.get("examples"), list):
        raise TypeError("not an object with a list of examples")
    examples = [_pair(e, f"example {n}") for n, e in enumerate(data["examples"], 1)]
    held = {
        "query": _pair(data.get("query"), "query"),
        "second_query": _pair(data.get("second_query"), "second_query"),
    }
    own = mapping_pairs(material)
    if len(own) >= MIN_EXAMPLES + 2:
        for name, (given, _) in held.items():
            if _key(given) not in own:
                raise ValueError(
                    f"the {name} input {given!r} is not one of the mapping's inputs: hold out two of the "
                    "mapping's own [input, output] pairs and show some of the others as examples"
                )
        examples = [(i, own.get(_key(i), o)) for i, o in examples]
        held = {name: (i, own[_key(i)]) for name, (i, _) in held.items()}
    classes = _check_held_out(examples, held)
    (query, answer), (second, second_answer) = held["query"], held["second_query"]
    return {
        "task": _task_text(examples, query, classes),
        "answer_key": answer,
        "second_query": f"Input: {second}",
        "second_answer": second_answer,
    }


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
