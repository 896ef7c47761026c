"""Few-shot tasks written as data: the model picks examples and held-out queries; code writes the task.

An instruction type with `task_shape: held_out` (few_shot_reasoning's pattern_induction,
classification_from_examples and format_transformation) asks its instruction agent for [input, output]
pairs taken from the mapping: the examples the solver sees, the query it answers and a second query that
checks the same rule. Asked for the task as text, the local 1.5B model listed all of the mapping's
examples and never asked (2 of 5 tasks in one run, even when sent back), or asked for an example it had
shown. Code writes "Input: ... -> Output: ..." lines ending in "Input: <query> -> Output: ?", the key
(the query's output) and `second_query`/`second_answer`, after refusing held-out inputs that an example
shows, answers too long to compare, and, when the outputs are classes, a held-out class no example shows.
How a shaped task is asked for and read back is `flows.task_shapes`'; the checks are
`quality.agreement`'s.
"""

from __future__ import annotations

from typing import Any

MIN_EXAMPLES, MAX_EXAMPLES = 3, 8
#: the longest held-out output: the teacher's answer is compared with it, normalised, word for word
MAX_ANSWER_WORDS = 8

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
    "the task as data: examples, the [input, output] pairs the solver sees; query, one more [input, output] "
    "pair held out, whose output the solver must give; second_query, another held-out [input, output] pair "
    "that follows the same rule"
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


def held_out_fields(data: Any) -> dict[str, str]:
    """The few-shot task (under "task"), its answer_key, second_query and second_answer, from the pairs."""
    if not isinstance(data, dict) or not isinstance(data.get("examples"), list):
        raise TypeError("not an object with a list of examples")
    examples = [_pair(e, f"example {n}") for n, e in enumerate(data["examples"], 1)]
    query, second = _pair(data.get("query"), "query"), _pair(data.get("second_query"), "second_query")
    shown = {_key(i) for i, _ in examples}
    if len(shown) < MIN_EXAMPLES or len(shown) < len(examples):
        raise ValueError(f"give at least {MIN_EXAMPLES} examples with different inputs")
    for name, (given, _) in (("query", query), ("second_query", second)):
        if _key(given) in shown:
            raise ValueError(
                f"the {name} input {given!r} is also an example, so its answer stands in the task: hold out "
                "a pair that no example shows"
            )
    if _key(query[0]) == _key(second[0]):
        raise ValueError("query and second_query have the same input: hold out two different pairs")
    for name, (_, answer) in (("query", query), ("second_query", second)):
        if len(answer.split()) > MAX_ANSWER_WORDS:
            raise ValueError(
                f"the {name} output has {len(answer.split())} words: the solver's answer is compared with it "
                f"word for word, so hold out a pair whose output is a label, a number or at most "
                f"{MAX_ANSWER_WORDS} words"
            )
    labels = {_key(o) for _, o in examples}
    classes = len(labels) * 2 <= len(examples)  # outputs repeat: they are classes
    if classes:
        for name, (_, answer) in (("query", query), ("second_query", second)):
            if _key(answer) not in labels:
                raise ValueError(
                    f"the examples' outputs are classes, and the {name} output {answer!r} is none of them: "
                    "hold out a pair whose class an example shows"
                )
    return {
        "task": _task_text(examples, query[0], classes),
        "answer_key": query[1],
        "second_query": f"Input: {second[0]}",
        "second_answer": second[1],
    }


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
