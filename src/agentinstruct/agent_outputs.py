"""Agent output models: the "not suitable" exit every structured reply carries, and the shared task replies.

`AgentOutput` sends the task's fields first in its schema and refuses empty ones in a suitable reply; the
transformation, instruction, suggestion and edit models (with or without program-checkable constraints)
build on it, and an instruction must be a whole task (`agentinstruct.reply_problems`). Running an agent
with one of them is `agentinstruct.agents`' job; a skill's extra fields are added by
`agentinstruct.flows.outputs`, and a flow's own models live next to that flow.
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

from pydantic import BaseModel, Field, PrivateAttr, ValidationError, field_validator, model_validator

from agentinstruct.field_formats import lettered
from agentinstruct.quality.constraint_wording import asked_language, number_stated, with_constraints_stated
from agentinstruct.quality.constraints import Constraint, conflicts, describe, unfair_count
from agentinstruct.reply_problems import task_problem


class AgentOutput(BaseModel):
    """Fields every structured agent reply carries: the "not suitable" exit."""

    suitable: bool = Field(
        default=True, description="true, or false when the material cannot support the task"
    )
    reason: str = Field(default="", description="why it is not suitable (empty when suitable)")

    #: fields that may repeat the prompt's own lines: their worth is tested otherwise (a function is run)
    copy_allowed: ClassVar[frozenset[str]] = frozenset()
    #: set when code wrote the task and computed its answer key from a structure (`flows.task_shapes`)
    _key_by_code: bool = PrivateAttr(default=False)

    @property
    def key_by_code(self) -> bool:
        """Whether code computed the answer key from the structure the agent wrote."""
        return self._key_by_code

    @model_validator(mode="after")
    def _filled_when_suitable(self) -> AgentOutput:
        if self.suitable:
            empty = [
                name
                for name, info in type(self).model_fields.items()
                if name not in ("suitable", "reason")
                and info.annotation is str
                and not getattr(self, name).strip()
            ]
            if empty:
                raise ValueError(f"fields {empty} must not be empty when suitable is true")
        return self

    @classmethod
    def request_schema(cls) -> dict[str, Any]:
        """The JSON schema sent for structured output: the task's fields first, the exit fields last.

        Putting the content first means a schema-enforcing engine (llama.cpp) makes a small model write
        the material before it may decline; a declining model writes a minimal placeholder.
        """
        schema = cls.model_json_schema()
        properties = schema["properties"]
        task_fields = [n for n in properties if n not in ("suitable", "reason")]
        for name in task_fields:
            if properties[name].get("type") == "string":
                properties[name]["minLength"] = 1
        order = [*task_fields, "suitable", "reason"]
        schema["properties"] = {name: properties[name] for name in order}
        schema["required"] = order
        schema["additionalProperties"] = False
        return schema

    @classmethod
    def field_descriptions(cls) -> list[tuple[str, str]]:
        """(name, description) in the order of `request_schema`, for the prompt's format footer."""
        return list(_field_descriptions(cls))


@cache
def _field_descriptions(output: type[AgentOutput]) -> tuple[tuple[str, str], ...]:
    # once per output class: pydantic's schema generation costs more CPU than the rest of a request
    return tuple((n, p.get("description", n)) for n, p in output.request_schema()["properties"].items())


class TransformationOutput(AgentOutput):
    content: str = Field(default="", description="the transformed passage, complete and self-contained")


class InstructionOutput(AgentOutput):
    instruction: str = Field(
        default="", description="the complete task text (with options if any), no answer"
    )

    @model_validator(mode="after")
    def _a_whole_task(self) -> InstructionOutput:
        if self.suitable:
            key = type(self).model_fields["instruction"].serialization_alias or "instruction"
            # options may come in a field of their own (a skill's appended_fields): read the whole reply
            # (a list there is an option_list field, read as the options code letters from it)
            others = "\n".join(
                v if isinstance(v, str) else lettered(v)
                for k, v in self
                if k != "instruction" and isinstance(v, str | list)
            )
            problem = task_problem(self.instruction, str(getattr(self, "answer_key", "")), key, others)
            if problem:
                raise ValueError(problem)
        return self


class KeyRecheckOutput(AgentOutput):
    """The instruction agent solving its own task again (`Skill.key_recheck`): its working, then the key."""

    working: str = Field(default="", description="your step-by-step solution, from the material and the task")
    answer_key: str = Field(default="", description="the task's answer alone, in the form the task asks for")


class RuleCheck(BaseModel):
    rule: str = Field(description="the rule's sentence, copied from the puzzle")
    check: str = Field(description="the rule as a Python expression over the names, true when it is obeyed")


class RuleChecksOutput(AgentOutput):
    """The teacher's reading of an arrangement puzzle's rules as checks (`flows.rule_checks`)."""

    checks: list[RuleCheck] = Field(
        default_factory=list, description="one entry per numbered rule, in the puzzle's order"
    )


class RuleFunctionOutput(AgentOutput):
    """The teacher's few-shot rule as a Python function (`flows.program_aided`)."""

    # the prompt's examples include common rules ("The number of letters: def rule(text): ..."): when one is
    # the task's rule, copying it is right, and running it on the examples is the test (run s15 sent such a
    # copy back, and the teacher's later functions were wrong)
    copy_allowed: ClassVar[frozenset[str]] = frozenset({"function"})

    rule: str = Field(default="", description="the rule in one sentence")
    function: str = Field(
        default="", description="the rule as a complete Python function def rule(text): returning the output"
    )


class ComputedAnswerOutput(AgentOutput):
    """The teacher's program for a task whose answer is a number (`flows.program_aided`)."""

    reasoning: str = Field(default="", description="what the task asks and how the program works it out")
    program: str = Field(
        default="", description="a complete Python program printing the final answer alone on its last line"
    )
    unit: str | None = Field(default=None, description="the answer's unit (for example hours), or null")


class CitedSentence(BaseModel):
    text: str = Field(description="one sentence of the answer")
    sources: list[int] = Field(default_factory=list, description="the numbers of the sources it comes from")


class CitedAnswerOutput(AgentOutput):
    """The teacher's answer as sentences, each with its sources (`flows.rag`)."""

    sentences: list[CitedSentence] = Field(
        default_factory=list,
        description="the answer's sentences in order, each with the sources it comes from",
    )

    @model_validator(mode="after")
    def _has_sentences(self) -> CitedAnswerOutput:
        if self.suitable and not any(s.text.strip() for s in self.sentences):
            raise ValueError("'sentences' is empty: give the answer's sentences, each with its sources")
        return self


class SuggestionOutput(AgentOutput):
    suggestion: str = Field(default="", description="concrete, specific changes that achieve the goal")


class EditOutput(AgentOutput):
    content: str = Field(default="", description="the passage after your edits (unchanged if not edited)")
    instruction: str = Field(default="", description="the task after your edits")


class ConstrainedOutput(AgentOutput):
    """Adds the program-checkable constraints of a task; contradictory ones are sent back to be fixed."""

    constraints: list[Constraint] = Field(
        default_factory=list,
        max_length=4,
        description="every requirement stated in the task that a program can check (at most 4, may be empty)",
    )

    @field_validator("constraints", mode="before")
    @classmethod
    def _checkable_only(cls, value: Any) -> Any:
        """A constraint a program cannot check is left out, not the whole task sent back: the local model
        wrote required_words without words and a case of 'the text is in title case' (2 of 4 replies)."""
        if not isinstance(value, list):
            return value
        kept = []
        for item in value:
            try:
                kept.append(Constraint.model_validate(item))
            except ValidationError:
                continue
        return kept

    @model_validator(mode="after")
    def _consistent_constraints(self) -> ConstrainedOutput:
        # one requirement listed several times is kept once: constraints that read the same are the same,
        # whatever their unused fields hold (a local request got "at least 600 words" four times, s12b)
        self.constraints = list({describe(c): c for c in self.constraints}.values())
        instruction = getattr(self, "instruction", "")
        # a count beyond what one answer holds that the request's words do not ask for is left out, not sent
        # back: a local screenplay listed "100 sentences" its request never stated, three times over (s14)
        self.constraints = [
            c for c in self.constraints if not (unfair_count(c) and not number_stated(c.number, instruction))
        ]
        self.constraints += asked_language(instruction, self.constraints)
        problems = conflicts(self.constraints)
        if problems:
            raise ValueError("; ".join(problems))
        # a constraint is checked against the answer, so the request must state it (small models list
        # constraints they never wrote): the unstated ones are added to the request as sentences
        if self.suitable and instruction:
            self.instruction = with_constraints_stated(instruction, self.constraints)
        return self


class ConstrainedInstructionOutput(ConstrainedOutput, InstructionOutput):
    pass


class ConstrainedEditOutput(ConstrainedOutput, EditOutput):
    pass
