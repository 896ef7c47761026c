"""The taxonomy entries of a skill file: transformations, instruction types, refinement goals, prompts.

Here are the per-entry pydantic models a skill file lists (`Transformation`, `InstructionType`,
`RefinementGoal` under `Refinement`, and the `Prompts` templates), with the checks each entry makes of
itself, and the content and task shapes they name (`ContentShape`, `TaskShape`).
Not here: the `Skill` model itself, its checks across entries (declared instruction_fields, task-shape
fields, program-aided templates), `SkillError` and loading skill files, which stay in
`agentinstruct.skills`; that package re-exports every name defined here.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

#: how a transformation's content is written: free text, or data (`agentinstruct.flows.shaped_content`)
ContentShape = Literal[
    "text",
    "notes",
    "table",
    "csv",
    "json_record",
    "key_values",
    "triples",
    "mapping",
    "terms",
    "scenario",
    "programming",
    "turns",
]

#: how an instruction agent writes its task: free text, or data code turns into the task and its keys
#: (`agentinstruct.flows.task_shapes`)
TaskShape = Literal["text", "arrangement", "held_out", "sequence", "truth_tellers", "syllogism", "anagram"]


class Named(BaseModel):
    model_config = {"extra": "forbid"}
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    source: Literal["paper", "ours", "user"] = "ours"


class Transformation(Named):
    description: str
    instruction_types: list[str] = Field(default_factory=list, description="empty means all")
    seed_kinds: list[Literal["text", "code", "api"]] = Field(
        default_factory=list,
        description="seed kinds this transformation takes; empty means all of the skill's",
    )
    prompt: str | None = Field(default=None, description="template path; default transformations/<name>.j2")
    verbatim: bool = Field(
        default=False,
        description="the seed's own words are the transformed text, with no model call and no prompt "
        "template (seeds are plain text already); min_words and max_words bound it",
    )
    min_words: int | None = Field(
        default=None,
        ge=1,
        description="verbatim only: a seed with fewer words is not suitable for this transformation "
        "(rejected as not_suitable:transformation)",
    )
    max_words: int | None = Field(
        default=None,
        ge=1,
        description="verbatim only: a longer seed is cut to a contiguous part of at most this many words, "
        "whole paragraphs from a starting paragraph drawn per seed (reproducibly with the run seed); a "
        "paragraph too long to fit is cut at a sentence end, never inside a word",
    )
    content_shape: ContentShape = Field(
        default="text",
        description="the content is data: the model writes it as a JSON structure that the JSON grammar "
        "enforces, and code writes the notation: notes ('Kind: note' lines, each short), table "
        "(Markdown), csv, json_record (indented JSON), "
        "key_values ('Key: value' lines), triples ('(s; r; o)' lines), mapping ('Rule:' and 'Input: ... -> "
        "Output: ...' lines), terms (a list of the seed's terms; code picks a rule and writes a mapping), "
        "scenario ('Setting:', 'Entities:', 'Slots:'), programming (problem, "
        "functions, edge cases, examples, and reference code that must parse as Python), turns "
        "('Speaker: words' lines; 6-16 turns, two people or more speaking at least twice each)",
    )
    content_must_contain_all: list[str] = Field(
        default_factory=list,
        description="markers the transformed text must hold, every one of them (few_shot_reasoning's "
        "pattern_builder: 'Rule:', 'Input:', 'Output:'), matched as task_must_contain_any matches: a reply "
        "without one is sent back to the transformation agent",
    )

    @model_validator(mode="after")
    def _verbatim_fields(self) -> Transformation:
        if self.verbatim and self.prompt is not None:
            raise ValueError(
                f"transformation '{self.name}' is verbatim and needs no prompt template; remove `prompt` "
                "or drop `verbatim`"
            )
        if self.verbatim and self.content_shape != "text":
            raise ValueError(
                f"transformation '{self.name}' is verbatim, so its content is the seed's text; remove "
                "`content_shape` or drop `verbatim`"
            )
        if self.verbatim and self.content_must_contain_all:
            raise ValueError(
                f"transformation '{self.name}' is verbatim, so its text is the seed's and cannot be asked "
                "for markers; remove `content_must_contain_all` or drop `verbatim`"
            )
        if any(not marker.strip() for marker in self.content_must_contain_all):
            raise ValueError(
                f"transformation '{self.name}': content_must_contain_all holds an empty marker; remove it"
            )
        bounds = self.min_words is not None or self.max_words is not None
        if bounds and not self.verbatim:
            raise ValueError(
                f"transformation '{self.name}': min_words and max_words apply only to verbatim "
                "transformations; set `verbatim: true` or remove them"
            )
        if self.min_words is not None and self.max_words is not None and self.min_words > self.max_words:
            raise ValueError(
                f"transformation '{self.name}': min_words ({self.min_words}) is more than max_words "
                f"({self.max_words}); lower min_words or raise max_words"
            )
        return self


class InstructionType(Named):
    intent: str
    guidance: str = ""
    prompt: str | None = None
    required_fields: list[str] = Field(
        default_factory=list,
        description="instruction_fields this type cannot do without (the code an explanation is about): "
        "a reply that leaves one empty or '-' is sent back to the instruction agent",
    )
    empty_fields: list[str] = Field(
        default_factory=list,
        description="instruction_fields a task of this type must leave empty or '-' (implement_function "
        "shows no reference code): a reply that fills one is sent back to the instruction agent",
    )
    filled_from_material: list[str] = Field(
        default_factory=list,
        description="required_fields that, left empty or '-', take the material's only fenced code block "
        "(the reference code) instead of sending the reply back; for types that use the code as it is "
        "(explain_code), not for those that must change it (fix_bug)",
    )
    task_shape: TaskShape = Field(
        default="text",
        description="the task is data, from which code writes the task and the fields named here (the skill "
        "must declare them): 'arrangement' asks for entities, slots and rules with Python checks, and "
        "writes a which-arrangement-obeys-every-rule puzzle, its answer_key and solver_program; "
        "'held_out' asks for [input, output] examples and two held-out pairs, and writes the few-shot "
        "task, its answer_key, second_query and second_answer; 'sequence' asks for a theme, a rule from a "
        "closed list and its numbers, and writes a number sequence with its next or a missing term asked "
        "for, and that term as answer_key; 'truth_tellers' asks for people and their statements in closed "
        "claim forms, and 'syllogism' for categories, premises and conclusions in closed quantifier forms, "
        "and each writes a puzzle with exactly one right option, its answer_key and solver_program; "
        "'anagram' asks for one word of the material and a clue that does not give it, and writes the "
        "word's letters mixed up with the clue, and the word as answer_key",
    )
    task_must_contain_any: list[str] = Field(
        default_factory=list,
        description="phrases of which a task of this type must hold at least one (except_question: "
        "EXCEPT, NOT); a phrase written in capitals must stand in capitals, the others match in any case: "
        "a task without one is sent back to the instruction agent",
    )
    material_must_match: str = Field(
        default="",
        description="a regular expression the material must match for this type to be written from it "
        "(quote_extraction: a quotation); a seed it does not match gets another of the types instead",
    )
    key_must_match: str = Field(
        default="",
        description="a regular expression the whole answer_key of a task of this type must match "
        "(multi_select: two letters or more); a task whose key does not is sent back to the instruction "
        "agent, and a re-derived key that does not is not taken",
    )
    key_description: str = Field(
        default="",
        description="what a key of this type is, in words, told to an instruction agent whose key does not "
        "match key_must_match (riddle: 'the one thing the riddle describes, in one or two words')",
    )
    task_closing: str = Field(
        default="",
        description="a sentence code appends to a task that holds none of task_must_contain_any, which must "
        "then hold one (multi_select: 'Select all that apply.'); a task that asks for exactly one answer is "
        "still sent back",
    )
    fallback_task: str = Field(
        default="",
        description="a task of this type in the user's words, used when the instruction agent's third reply "
        "still fails, in the latest reply that copies the prompt but whose other fields pass every rule "
        "(text_classification: the labels); "
        "the local agents copied their type's intent or field description as the task, 3 times in a row, "
        "in about one unit in six of text_classification, text_extraction and data_to_text",
    )
    max_growth: float | None = Field(
        default=None,
        gt=0,
        description="this type's own max_growth (text_expansion may ask for more than a rewrite), in place "
        "of the skill's",
    )

    @field_validator("material_must_match", "key_must_match")
    @classmethod
    def _compiles(cls, pattern: str, info: ValidationInfo) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(
                f"{info.field_name} is not a regular expression ({exc}); fix the pattern"
            ) from None
        return pattern

    def key_fits(self, key: str) -> bool:
        """Whether an answer key has the form this type needs (its key_must_match)."""
        key = key.strip().rstrip(".")
        return not self.key_must_match or re.fullmatch(self.key_must_match, key) is not None

    def fits(self, material: str) -> bool:
        """Whether a task of this type can be written from the material (its material_must_match)."""
        return not self.material_must_match or re.search(self.material_must_match, material) is not None

    @model_validator(mode="after")
    def _closing_holds_a_phrase(self) -> InstructionType:
        closing = self.task_closing
        held = [p for p in self.task_must_contain_any if (p if p.isupper() else p.lower()) in closing.lower()]
        if closing and not held:
            raise ValueError(
                f"instruction type '{self.name}': task_closing must hold one of task_must_contain_any "
                f"{self.task_must_contain_any}; rewrite it or add its phrase there"
            )
        return self

    @field_validator("task_must_contain_any")
    @classmethod
    def _phrases(cls, phrases: list[str]) -> list[str]:
        if any(not phrase.strip() for phrase in phrases):
            raise ValueError("task_must_contain_any holds an empty phrase; remove it or write the phrase")
        return [phrase.strip() for phrase in phrases]


class RefinementGoal(Named):
    description: str
    edits_content: bool = False
    marks_unanswerable: bool = False


class Refinement(BaseModel):
    model_config = {"extra": "forbid"}
    rounds: int = Field(default=2, ge=0, le=10)
    goals: list[RefinementGoal]


class Prompts(BaseModel):
    model_config = {"extra": "forbid"}
    instruction: str
    suggester: str
    editor: str
    teacher: str
    user_turn: str
    extra: dict[str, str] = Field(
        default_factory=dict, description="named templates of a skill-specific flow (e.g. user_simulator)"
    )
