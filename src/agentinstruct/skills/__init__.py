"""Skill definitions: the YAML data files that name a skill's agents, taxonomy and policies.

A skill is data, not code (SPEC §2). This module holds the schema of a skill file, the loader for the
bundled skills and for user directories (`--skills-dir`), and the taxonomy hash recorded in run.json;
the entries a skill lists (transformations, instruction types, refinement goals, prompts) are
`agentinstruct.skills.taxonomy`'s models, re-exported here.
The prompt templates a skill points at live next to the YAML files; rendering them is
`agentinstruct.agents`' job, running them is `agentinstruct.flows`'.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from agentinstruct.field_formats import FieldFormat
from agentinstruct.skills.taxonomy import (
    ContentShape,
    InstructionType,
    Named,
    Prompts,
    Refinement,
    RefinementGoal,
    TaskShape,
    Transformation,
)

__all__ = [
    "BUNDLED_DIR",
    "KEY_COMPUTING_SHAPES",
    "PROGRAM_AIDED_PROMPTS",
    "SHAPE_FIELDS",
    "UNAIDED_SHAPES",
    "ContentShape",
    "InstructionType",
    "Named",
    "Prompts",
    "Refinement",
    "RefinementGoal",
    "Skill",
    "SkillError",
    "TaskShape",
    "Transformation",
    "load_skill_file",
    "load_skills",
    "select_skills",
    "taxonomy_hash",
]

BUNDLED_DIR = Path(__file__).parent


#: the instruction_fields each task shape writes, which a skill using it must declare
SHAPE_FIELDS: dict[str, tuple[str, ...]] = {
    "arrangement": ("answer_key", "solver_program"),
    "held_out": ("answer_key", "second_query", "second_answer"),
    "sequence": ("answer_key",),
    "truth_tellers": ("answer_key", "solver_program"),
    "syllogism": ("answer_key", "solver_program"),
    "anagram": ("answer_key",),
}
#: per task shape, the templates (under prompts.extra) of a program-aided answer: the teacher's program,
#: and the answer code writes from its results (`agentinstruct.flows.program_aided`); a shape not named
#: here (text, sequence) is answered, when its key is a number, by two programs from one shared prompt
PROGRAM_AIDED_PROMPTS: dict[str, tuple[str, str]] = {
    "arrangement": ("rule_checks", "rule_checks_answer"),
    "held_out": ("rule_function", "rule_function_answer"),
}
#: task shapes that get no program-aided answer: a truth-tellers or syllogism key is an option letter, which
#: the numeric programs cannot give, and their statements are no places and rules that the teacher's rule
#: checks could read; an anagram's key is a word of the notes, which no program computes
UNAIDED_SHAPES = frozenset({"truth_tellers", "syllogism", "anagram"})
#: task shapes whose key code computes from the structure (the term of a sequence, the word whose letters are
#: shown, the option every rule or statement allows and the solver finds unique): such a key is a second
#: answer independent of the teacher, so `answers_agree` asks the teacher for none (`Chain.key_by_code`);
#: a held-out key is an output the author wrote, so it is not one of them
KEY_COMPUTING_SHAPES = frozenset({"sequence", "anagram", "arrangement", "truth_tellers", "syllogism"})


class SkillError(ValueError):
    """A skill file is missing, malformed or inconsistent; the message names file, field and fix."""


class Skill(BaseModel):
    """One skill file, validated."""

    model_config = {"extra": "forbid"}
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    seed_kinds: list[Literal["text", "code", "api"]]
    system_prompt: str = ""
    transformations: list[Transformation]
    instruction_types: list[InstructionType]
    refinement: Refinement
    prompts: Prompts
    unanswerable_share: float = Field(default=0.0, ge=0.0, le=1.0)
    instructions_per_seed: int = Field(default=2, ge=1)
    checks: list[str] = Field(default_factory=list)
    flow: str = Field(default="standard", description="the flow class that runs this skill (flows registry)")
    constraints: bool = Field(
        default=False,
        description="instruction and editor agents also emit machine-checkable constraints",
    )
    max_growth: float = Field(
        default=0.0,
        ge=0.0,
        description="with constraints, for a user turn that shows the material: the most a length floor "
        "(at least or exactly N words; sentences and paragraphs twice as many, as a rewrite may split them) "
        "may ask for, as a multiple of the material's count; a task asking for more is sent back (0: no "
        "limit)",
    )
    repair_rounds: int = Field(
        default=0, ge=0, le=5, description="times an answer that fails a check goes back to the teacher"
    )
    worked_answer: bool = Field(
        default=False,
        description="the teacher shows its working and ends with an 'Answer: ...' line; a bare answer is "
        "asked once to be worked out (without the key) before the checks",
    )
    program_aided: bool = Field(
        default=False,
        description="a task code wrote whose teacher answer fails the checks is answered again through a "
        "program the teacher writes, and code writes the working from its results: an arrangement puzzle's "
        "rules as checks (prompts.extra rule_checks, rule_checks_answer), a held_out task's rule as a "
        "function (rule_function, rule_function_answer); a text or sequence task whose key is a number, by "
        "two programs printing it (shared prompts computed_answer, computed_answer_answer; needs "
        "teacher_tools [python]); a skill checked by arithmetic_verified, by its estimate as named steps "
        "whose arithmetic code does (shared prompt fermi_program); the pair records it as its program_aided "
        "check",
    )
    teacher_tools: list[Literal["python", "calculator", "search"]] = Field(
        default_factory=list, description="real tools the teacher may call while answering"
    )
    tools_without_function_calling: Literal["emulate", "skip"] = Field(
        default="emulate",
        description="for a teacher model without native function calling: emulate its tools through JSON "
        "actions, or skip them and answer in free text (for skills whose checks redo the tools' work)",
    )
    instruction_fields: dict[str, str] = Field(
        default_factory=dict,
        description="extra text fields (name: description) the instruction and editor agents also return, "
        "e.g. an answer key; checks see them in Candidate.details",
    )
    instruction_key: str = Field(
        default="instruction",
        pattern=r"^[a-z][a-z0-9_]*$",
        description="the JSON key the instruction agent writes its task under; a name for what the task is "
        "(question, request, puzzle) keeps small models from copying their own instructions into it",
    )
    instruction_description: str = Field(
        default="", description="what the instruction agent writes under instruction_key (default: generic)"
    )
    appended_fields: list[str] = Field(
        default_factory=list,
        description="instruction_fields that are part of the task (e.g. the options of a question): asked "
        "for separately, so a small model cannot leave them out, then appended to the task on new lines",
    )
    field_formats: dict[str, FieldFormat] = Field(
        default_factory=dict,
        description="instruction_fields whose text has a format, checked, stored in canonical form and shown "
        "in the task: json_schema (JSON or YAML), label_list (two labels or more), code_block (the code a "
        "task is about); a reply that breaks its format is sent back",
    )
    answer_schema_field: str | None = Field(
        default=None,
        description="an instruction field in json_schema format whose schema the teacher's answer is held to "
        "by the grammar (the structured-output request): the answer is JSON the schema allows",
    )
    corpus_search: bool = Field(
        default=False, description="the flow searches the run's corpus (the index is built once per run)"
    )
    key_recheck: bool = Field(
        default=False,
        description="when a check finds the teacher's answer at odds with `answer_key`, the instruction "
        "agent solves its own task once more from the material, seeing neither its key nor the teacher's "
        "answer; a different key that can be derived (option letters, a number, words of the task or the "
        "material) replaces the first and the checks run again (the pair records both keys)",
    )
    hidden_fields: list[str] = Field(
        default_factory=list,
        description="instruction_fields the task must not give away (an answer key): a task that states one "
        "as its answer ('The answer is 0', 'Answer: B') is sent back",
    )
    task_asks: bool = Field(
        default=False,
        description="the task must ask something (a '?', a blank '___' or an asking word: what, find, guess, "
        "name...): a task that only states facts is sent back (a local riddle was one sentence of facts)",
    )
    shape_only_fields: list[str] = Field(
        default_factory=list,
        description="instruction_fields that only a task shape's code writes (brain_teaser's solver_program, "
        "for its one arrangement type): a type whose shape does not write them has none, and neither its "
        "instruction agent nor the editor is asked for them (a small model asked for a riddle's solver "
        "program writes one), so a refined task has none either",
    )
    editor_only_fields: list[str] = Field(
        default_factory=list,
        description="instruction_fields that only the editor writes (open_domain_qa's false_premise, which "
        "a refinement goal builds in): the instruction agents are not asked for them (a small model asked "
        "for a false premise of a plain question writes junk that a check then holds the answer to), so a "
        "fresh task has none, which the checks read as none",
    )
    new_queries: list[str] = Field(
        default_factory=list,
        description="instruction_fields that hold a further query (few_shot's second_query); with any, the "
        "task must ask a held-out query ('... -> ?'), which like each of these must not repeat an input the "
        "task's examples show (the answer would then stand in the task), and these give no output: such a "
        "reply is sent back",
    )
    directory: Path = Field(default=BUNDLED_DIR, exclude=True)

    @model_validator(mode="after")
    def _consistent(self) -> Skill:
        known = {t.name for t in self.instruction_types}
        for kind, names in (
            ("transformations", [t.name for t in self.transformations]),
            ("instruction_types", [t.name for t in self.instruction_types]),
            ("refinement.goals", [g.name for g in self.refinement.goals]),
        ):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{kind}: duplicate names {dupes}; give each entry a unique name")
        field_names = [("appended_fields", self.appended_fields), ("field_formats", list(self.field_formats))]
        field_names += [("hidden_fields", self.hidden_fields), ("new_queries", self.new_queries)]
        if self.key_recheck:
            field_names.append(("key_recheck", ["answer_key"]))
        field_names += [
            (f"instruction_types.{t.name}.required_fields", t.required_fields) for t in self.instruction_types
        ]
        field_names += [
            (f"instruction_types.{t.name}.empty_fields", t.empty_fields) for t in self.instruction_types
        ]
        field_names += [
            (f"instruction_types.{t.name}.task_shape", list(SHAPE_FIELDS[t.task_shape]))
            for t in self.instruction_types
            if t.task_shape != "text"
        ]
        field_names.append(("shape_only_fields", self.shape_only_fields))
        field_names.append(("editor_only_fields", self.editor_only_fields))
        self._shape_only_fields_are_written()
        self._editor_only_fields_are_asked()
        shapes = {t.task_shape for t in self.instruction_types} if self.program_aided else set()
        wanted = {name for shape in shapes for name in PROGRAM_AIDED_PROMPTS.get(shape, ())}
        missing = sorted(wanted - set(self.prompts.extra))
        if missing:
            raise ValueError(f"program_aided: add the templates {missing} under prompts.extra")
        for t in self.instruction_types:
            loose = sorted(set(t.filled_from_material) - set(t.required_fields))
            if loose:
                raise ValueError(
                    f"instruction_types.{t.name}.filled_from_material: {loose} are not in its "
                    "required_fields; add them there or remove them here"
                )
        for kind, names in field_names:
            unknown_fields = sorted(set(names) - set(self.instruction_fields))
            if unknown_fields:
                raise ValueError(
                    f"{kind}: {unknown_fields} are not instruction_fields; declare them there first"
                )
        if self.answer_schema_field and self.field_formats.get(self.answer_schema_field) != "json_schema":
            raise ValueError(
                f"answer_schema_field: {self.answer_schema_field!r} needs field_formats "
                f"{{{self.answer_schema_field}: json_schema}}; add it there or remove answer_schema_field"
            )
        for t in self.transformations:
            unknown = sorted(set(t.instruction_types) - known)
            if unknown:
                raise ValueError(
                    f"transformations.{t.name}.instruction_types: unknown types {unknown}; "
                    "declare them under instruction_types"
                )
        return self

    def _shape_only_fields_are_written(self) -> None:
        """A shape-only field is asked of no agent, so a task shape of this skill must write it."""
        written = {name for t in self.instruction_types for name in SHAPE_FIELDS.get(t.task_shape, ())}
        unwritten = sorted(set(self.shape_only_fields) - written)
        if unwritten:
            raise ValueError(
                f"shape_only_fields: no task_shape of this skill's instruction types writes {unwritten}; "
                "remove them there, or give a type the task_shape that writes them"
            )

    def _editor_only_fields_are_asked(self) -> None:
        """An editor-only field is asked of no instruction agent, so no fresh task may need it (an appended
        field is part of every task, a required one is sent back when missing), and a shape-only one is
        asked of no agent at all."""
        clashes = [("appended_fields", self.appended_fields), ("shape_only_fields", self.shape_only_fields)]
        clashes += [
            (f"instruction_types.{t.name}.required_fields", t.required_fields) for t in self.instruction_types
        ]
        for kind, names in clashes:
            both = sorted(set(self.editor_only_fields) & set(names))
            if both:
                raise ValueError(
                    f"editor_only_fields: {both} are also in {kind}; remove them from one of the two"
                )

    def types_for(self, transformation: Transformation) -> list[InstructionType]:
        """Instruction types that suit a transformation (all of them when it names none)."""
        if not transformation.instruction_types:
            return list(self.instruction_types)
        by_name = self.types_by_name
        return [by_name[n] for n in transformation.instruction_types]

    @cached_property
    def types_by_name(self) -> dict[str, InstructionType]:
        return {t.name: t for t in self.instruction_types}

    def template_path(self, relative: str) -> Path:
        return self.directory / relative

    def transformation_prompt(self, transformation: Transformation) -> str:
        return transformation.prompt or f"{self.name}/transformations/{transformation.name}.j2"

    def template_files(self) -> list[str]:
        """Every template this skill uses, relative to its directory."""
        files = [
            self.prompts.instruction,
            self.prompts.suggester,
            self.prompts.editor,
            self.prompts.teacher,
            self.prompts.user_turn,
            *self.prompts.extra.values(),
        ]
        files += [self.transformation_prompt(t) for t in self.transformations if not t.verbatim]
        files += [t.prompt for t in self.instruction_types if t.prompt]
        return list(dict.fromkeys(files))  # several types may share one prompt

    def summary(self) -> dict:
        """The `skills --json` shape (SPEC §4)."""
        return {
            "name": self.name,
            "description": self.description,
            "seed_kinds": self.seed_kinds,
            "transformations": [
                {
                    "name": t.name,
                    "description": t.description,
                    "instruction_types": t.instruction_types,
                    "verbatim": t.verbatim,
                }
                for t in self.transformations
            ],
            "instruction_types": [
                {"name": t.name, "intent": t.intent, "source": t.source} for t in self.instruction_types
            ],
            "refinement_goals": [
                {"name": g.name, "description": g.description} for g in self.refinement.goals
            ],
            "checks": self.checks,
            "flow": self.flow,
            "teacher_tools": self.teacher_tools,
        }


def load_skill_file(path: Path) -> Skill:
    """Load and validate one skill YAML file; raise SkillError naming the file, field and fix."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SkillError(f"{path}: cannot read skill file ({exc}); fix the YAML syntax") from exc
    if not isinstance(raw, dict):
        raise SkillError(f"{path}: a skill file must be a YAML mapping with name, transformations, ...")
    try:
        skill = Skill.model_validate({**raw, "directory": path.parent})
    except ValidationError as exc:
        problems = "; ".join(
            f"field '{'.'.join(str(p) for p in err['loc'])}': {err['msg']}" for err in exc.errors()
        )
        raise SkillError(f"{path}: {problems}") from exc
    missing = [f for f in skill.template_files() if not skill.template_path(f).is_file()]
    if missing:
        raise SkillError(f"{path}: prompt templates not found: {missing}; create them next to the skill file")
    return skill


def load_skills(extra_dirs: list[Path] | None = None) -> dict[str, Skill]:
    """The bundled skills plus any user skill directories; later directories override by name."""
    skills: dict[str, Skill] = {}
    for directory in [BUNDLED_DIR, *(extra_dirs or [])]:
        if not Path(directory).is_dir():
            raise SkillError(f"{directory}: skills directory not found; pass an existing --skills-dir")
        for path in sorted(Path(directory).glob("*.yaml")):
            skill = load_skill_file(path)
            skills[skill.name] = skill
    return skills


def select_skills(
    skills: dict[str, Skill], spec: str, weights: Mapping[str, float] | None = None
) -> list[Skill]:
    """Resolve a `--skills a,b|all` value against the loaded skills (and check `skill_weights` names them)."""
    for name in weights or {}:
        if name not in skills:
            raise SkillError(
                f"skill_weights names an unknown skill '{name}'; use one of: {', '.join(sorted(skills))}"
            )
    if spec.strip() in ("", "all"):
        return list(skills.values())
    chosen = []
    for name in (s.strip() for s in spec.split(",") if s.strip()):
        if name not in skills:
            raise SkillError(f"unknown skill '{name}'; available: {', '.join(sorted(skills))}")
        chosen.append(skills[name])
    return chosen


def taxonomy_hash(skills: list[Skill]) -> str:
    """Hash of the skill definitions and their prompt texts, so a changed taxonomy is detectable."""
    digest = hashlib.sha256()
    for skill in sorted(skills, key=lambda s: s.name):
        digest.update(json.dumps(skill.model_dump(mode="json"), sort_keys=True).encode())
        for rel in sorted(skill.template_files()):
            digest.update(rel.encode() + b"\0" + skill.template_path(rel).read_bytes())
    return digest.hexdigest()[:16]
