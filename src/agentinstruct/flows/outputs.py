"""The output models of a skill's instruction and editor agents: a base model plus the skill's fields.

A skill file can name the JSON key its task is written under (`instruction_key`), add text fields
(`instruction_fields`) and give some of them a format (`field_formats`); this module builds the pydantic
model that asks for all of them and checks them. The base models and the agents that use them live in
`agentinstruct.agents`; what a format means lives in `agentinstruct.field_formats`.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field, create_model, model_validator

from agentinstruct.agents import AgentOutput
from agentinstruct.field_formats import EMPTY_VALUES, FieldFormat, normalised


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


def with_required(output: type[AgentOutput], names: list[str], type_name: str) -> type[AgentOutput]:
    """The output model with fields an instruction type cannot do without (unchanged when none)."""
    if not names:
        return output

    def check_required(self: Any) -> Any:
        if self.suitable:
            empty = [n for n in names if str(getattr(self, n, "")).strip().lower() in EMPTY_VALUES]
            if empty:
                raise ValueError(
                    f"{', '.join(repr(n) for n in empty)} is empty, but a task of this type ({type_name}) "
                    "cannot do without it: copy it from the material"
                )
        return self

    validator = model_validator(mode="after")(check_required)
    return create_model(output.__name__, __base__=output, __validators__={"_required": validator})
