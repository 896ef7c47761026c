"""The output models of a skill's agents: a base model plus the skill's fields and rules.

A skill file can name the JSON key its task is written under (`instruction_key`), add text fields
(`instruction_fields`) and give some of them a format (`field_formats`); this module builds the pydantic
model that asks for all of them and checks them, with an instruction type's rules (`required_fields`,
`task_must_contain_any`) and a transformation's markers (`content_must_contain_all`). The base models
live in `agentinstruct.agent_outputs`, the agents that use them in `agentinstruct.agents`; what a format
means lives in `agentinstruct.field_formats`.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import AliasChoices, Field, create_model, model_validator

from agentinstruct.agent_outputs import AgentOutput
from agentinstruct.field_formats import EMPTY_VALUES, FieldFormat, normalised
from agentinstruct.skills import InstructionType, Transformation


def with_skill_fields(
    output: type[AgentOutput],
    fields: dict[str, str],
    *,
    key: str = "instruction",
    description: str = "",
    formats: dict[str, FieldFormat] | None = None,
) -> type[AgentOutput]:
    """The output model plus a skill's extra required text fields (they follow the task fields).

    With a `key` other than "instruction", the task is asked for under that JSON key (a reply under
    "instruction" is still accepted) and read back as `.instruction` all the same. Fields with a format
    are normalised, and a value that breaks its format fails validation, so the agent is asked again.
    """
    extra: dict[str, Any] = {name: (str, Field(default="", description=d)) for name, d in fields.items()}
    if key != "instruction" or description:
        default = output.model_fields["instruction"].description or ""
        extra = {
            "instruction": (
                str,
                Field(
                    default="",
                    description=description or default,
                    validation_alias=AliasChoices(key, "instruction"),
                    serialization_alias=key,
                ),
            ),
            **extra,
        }
    if not extra:
        return output
    validators = {"_field_formats": _format_validator(formats)} if formats else None
    return create_model(output.__name__, __base__=output, __validators__=validators, **extra)


def _format_validator(formats: dict[str, FieldFormat]) -> Any:
    """A model validator that puts each formatted field in its canonical form, or names what is wrong."""

    def check_formats(self: Any) -> Any:
        if self.suitable:
            for name, format_name in formats.items():
                value, problem = normalised(format_name, str(getattr(self, name, "")))
                if problem:
                    raise ValueError(f"'{name}': {problem}")
                setattr(self, name, value)
        return self

    return model_validator(mode="after")(check_formats)


def with_type_rules(output: type[AgentOutput], itype: InstructionType) -> type[AgentOutput]:
    """The output model with an instruction type's own rules: its required fields and its task phrases.

    Unchanged when the type has neither. A reply that breaks a rule fails validation, so the agent is asked
    again with the reason, before any teacher call: a small model wrote an "except_question" with no
    EXCEPT in it, and coding's "explain_code" with no code.
    """
    names, phrases = itype.required_fields, itype.task_must_contain_any
    if not names and not phrases:
        return output

    def check_type_rules(self: Any) -> Any:
        if self.suitable:
            empty = [n for n in names if str(getattr(self, n, "")).strip().lower() in EMPTY_VALUES]
            if empty:
                raise ValueError(
                    f"{', '.join(repr(n) for n in empty)} is empty, but a task of this type ({itype.name}) "
                    "cannot do without it: copy it from the material"
                )
            if phrases and not any(contains_phrase(self.instruction, p) for p in phrases):
                wanted = " or ".join(repr(p) for p in phrases)
                raise ValueError(
                    f"a task of this type ({itype.name}) must contain {wanted}, and this one does not: "
                    f"write it again as the type asks ({itype.intent})"
                )
        return self

    validator = model_validator(mode="after")(check_type_rules)
    return create_model(output.__name__, __base__=output, __validators__={"_type_rules": validator})


def with_content_rules(output: type[AgentOutput], transformation: Transformation) -> type[AgentOutput]:
    """The transformation's output model, checking the markers its text must hold (unchanged when none).

    A small model asked for "Rule: ... / Input: ... -> Output: ..." wrote a one-line summary of the seed
    instead; the reply goes back with the markers it lacks rather than on to an instruction agent.
    """
    markers = transformation.content_must_contain_all
    if not markers:
        return output

    def check_markers(self: Any) -> Any:
        if self.suitable:
            missing = [m for m in markers if not contains_phrase(self.content, m)]
            if missing:
                raise ValueError(
                    f"the content lacks {', '.join(repr(m) for m in missing)}, which this transformation "
                    f"({transformation.name}) must write: write it again as asked "
                    f"({transformation.description})"
                )
        return self

    validator = model_validator(mode="after")(check_markers)
    return create_model(output.__name__, __base__=output, __validators__={"_content_rules": validator})


def contains_phrase(task: str, phrase: str) -> bool:
    """Whether the task holds the phrase as whole words; a phrase in capitals must stand in capitals."""
    words = r"\s+".join(re.escape(word) for word in phrase.split())
    flags = 0 if phrase.isupper() else re.IGNORECASE
    return re.search(rf"(?<!\w){words}(?!\w)", task, flags) is not None
