"""Instruction outputs whose task is data: the model writes a structure, code writes the task and its keys.

An instruction type's `task_shape` names the structure: `arrangement` (`flows.arrangements`: a logic
puzzle's entities, slots and rules, from which code writes the question, options, key and solver program),
`held_out` (`flows.held_out`: examples of a mapping and the queries held out of them, from which code
writes the few-shot task, its key and its second query), `sequence` (`flows.sequences`: a number
sequence's theme, rule and numbers, from which code writes the terms, the question and its key),
`truth_tellers` (`flows.truth_tellers`: people and what each says, in claim forms from a closed list) or
`syllogism` (`flows.syllogisms`: categories, premises and candidate conclusions in quantifier forms from a
closed list), from each of which code writes a puzzle with one right option, its key and solver program, or
`anagram` (`flows.anagrams`: a word of the material and a clue, from which code writes the word's letters
mixed up, the clue, the question and the key). The
request schema asks for the structure alone, under the task's JSON key, and leaves out the fields code
writes; the reply is turned into the flat fields (task text plus those fields) before they are validated,
so every other rule applies as usual.
A reply that already holds the task as text (a larger model, a scripted test) is kept as it is.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from pydantic import ModelWrapValidatorHandler, ValidationInfo, model_validator

from agentinstruct.agent_outputs import AgentOutput
from agentinstruct.flows.anagrams import ANAGRAM_DESCRIPTION, ANAGRAM_SCHEMA, anagram_fields
from agentinstruct.flows.arrangements import (
    ARRANGEMENT_DESCRIPTION,
    ARRANGEMENT_SCHEMA,
    arrangement_fields,
)
from agentinstruct.flows.held_out import HELD_OUT_DESCRIPTION, HELD_OUT_SCHEMA, held_out_fields
from agentinstruct.flows.outputs import material_of
from agentinstruct.flows.sequences import SEQUENCE_DESCRIPTION, SEQUENCE_SCHEMA, sequence_fields
from agentinstruct.flows.syllogisms import SYLLOGISM_DESCRIPTION, SYLLOGISM_SCHEMA, syllogism_fields
from agentinstruct.flows.truth_tellers import (
    TRUTH_TELLERS_DESCRIPTION,
    TRUTH_TELLERS_SCHEMA,
    truth_tellers_fields,
)
from agentinstruct.skills import KEY_COMPUTING_SHAPES, SHAPE_FIELDS, TaskShape

#: shape -> (JSON schema of the structure, its description, (structure, the material the agent worked
#: from) -> {"task": ..., other fields})
TASK_SHAPES: dict[str, tuple[dict[str, Any], str, Callable[[Any, str], dict[str, str]]]] = {
    "arrangement": (ARRANGEMENT_SCHEMA, ARRANGEMENT_DESCRIPTION, arrangement_fields),
    "held_out": (HELD_OUT_SCHEMA, HELD_OUT_DESCRIPTION, held_out_fields),
    "sequence": (SEQUENCE_SCHEMA, SEQUENCE_DESCRIPTION, sequence_fields),
    "truth_tellers": (TRUTH_TELLERS_SCHEMA, TRUTH_TELLERS_DESCRIPTION, truth_tellers_fields),
    "syllogism": (SYLLOGISM_SCHEMA, SYLLOGISM_DESCRIPTION, syllogism_fields),
    "anagram": (ANAGRAM_SCHEMA, ANAGRAM_DESCRIPTION, anagram_fields),
}


def task_shaped(output: type[AgentOutput], shape: TaskShape, key: str) -> type[AgentOutput]:
    """The instruction output model whose task (under JSON key `key`) is asked for as `shape`'s structure."""
    if shape == "text":
        return output
    schema, description, build = TASK_SHAPES[shape]
    written = SHAPE_FIELDS[shape]

    class ShapedTaskOutput(output):  # type: ignore[misc,valid-type]
        @model_validator(mode="wrap")
        @classmethod
        def _written_from_structure(
            cls, data: Any, handler: ModelWrapValidatorHandler, info: ValidationInfo
        ) -> Any:
            if not isinstance(data, dict) or data.get("suitable") in (False, "false"):
                return handler(data)
            name = key if key in data else "instruction"
            if isinstance(data.get(name), str):
                return handler(data)  # the task as text: its key is the author's
            try:
                fields = build(data.get(name), material_of(info))
            except (TypeError, ValueError, AttributeError) as exc:
                problem = exc if isinstance(exc, ValueError) else f"it is not {description}"
                raise ValueError(f"'{key}': {problem}") from None
            written = handler({**data, name: fields.pop("task"), **fields})
            written._key_by_code = shape in KEY_COMPUTING_SHAPES
            return written

        @classmethod
        def request_schema(cls) -> dict[str, Any]:
            """The structure alone; the fields code writes are not asked for."""
            request = super().request_schema()
            properties = request["properties"]
            task = next(n for n in properties if n not in (*written, "suitable", "reason"))
            properties[task] = {**copy.deepcopy(schema), "description": description}
            for name in written:
                properties.pop(name, None)
            request["required"] = [n for n in request["required"] if n in properties]
            return request

    name = shape.title().replace("_", "")
    ShapedTaskOutput.__name__ = ShapedTaskOutput.__qualname__ = f"{name}{output.__name__}"
    return ShapedTaskOutput
