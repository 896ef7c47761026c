"""Settings of the quality gate: dedup, decontamination, answer filters and the optional LLM judge.

`QualitySettings` is a pydantic model meant to be embedded in the run configuration as `quality:`
(run.yaml) and filled from the command-line flags with `QualitySettings.with_flags`. It holds thresholds
and file paths only, never secrets, so it can be written to run.json as it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

FilterName = Literal[
    "empty_answer",
    "truncated",
    "refusal",
    "repetition",
    "echo",
    "framing",
    "phantom_option",
    "template_labels",
    "too_short",
    "too_long",
]
FILTER_NAMES: tuple[str, ...] = FilterName.__args__


class _Strict(BaseModel):
    model_config = {"extra": "forbid"}


class DedupSettings(_Strict):
    """Exact and near-duplicate detection over instructions (the user turns)."""

    exact: bool = Field(default=True, description="reject instructions equal after normalisation")
    near: bool = Field(default=True, description="reject near-duplicates found by MinHash LSH")
    threshold: float = Field(default=0.7, gt=0, le=1, description="Jaccard similarity of word shingles")
    shingle_size: int = Field(default=2, ge=1, le=32, description="words per shingle")
    num_perm: int = Field(default=128, ge=16, le=1024, description="MinHash permutations")
    scope: Literal["global", "skill"] = Field(
        default="global", description="compare against every skill's pairs, or only the same skill's"
    )
    against: list[Path] = Field(
        default_factory=list, description="existing datasets (JSONL/Parquet/CSV) whose items count as seen"
    )
    text_fields: list[str] | None = Field(
        default=None, description="fields of `against` records without `messages` (default: every string)"
    )


class DecontaminationSettings(_Strict):
    """Benchmark n-gram overlap: a pair sharing text with a benchmark item is rejected."""

    files: list[Path] = Field(default_factory=list, description="benchmark files (JSONL/Parquet/CSV)")
    ngram: int = Field(default=13, ge=4, le=64, description="n-gram length in normalised words")
    threshold: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="share of a benchmark item's n-grams that must occur in the pair; 0 = any one",
    )
    min_item_words: int = Field(
        default=8, ge=1, description="items shorter than `ngram` but at least this long match as a whole"
    )
    text_fields: list[str] | None = Field(
        default=None, description="benchmark fields (default: every string)"
    )
    id_field: str | None = Field(default=None, description="benchmark field holding the item id")
    roles: list[Literal["user", "assistant", "system"]] = Field(default_factory=lambda: ["user", "assistant"])


class LengthBounds(_Strict):
    """Bounds in words (`\\w+` tokens) on the final answer and on the instruction (all user turns)."""

    min_answer_words: int = Field(default=1, ge=0)
    max_answer_words: int = Field(default=6000, ge=1)
    min_instruction_words: int = Field(default=3, ge=0)
    max_instruction_words: int = Field(default=12000, ge=1)


#: per-skill defaults where the skill's answers have a known shape (merged under user overrides)
DEFAULT_SKILL_BOUNDS: dict[str, LengthBounds] = {
    "reading_comprehension": LengthBounds(min_answer_words=5, min_instruction_words=20),
    "text_modification": LengthBounds(min_answer_words=3, min_instruction_words=10),
    "tool_use": LengthBounds(min_answer_words=2),
    "rag": LengthBounds(min_answer_words=5, min_instruction_words=20),
}


#: skills whose answer is the requested text alone: a line about it is framing (`filter:framing`)
DEFAULT_FRAMING_SKILLS = ("text_modification", "creative_content", "data_to_text")


class FilterSettings(_Strict):
    """Heuristic answer filters, each with its rejection reason `filter:<name>`."""

    enabled: list[FilterName] = Field(default_factory=lambda: list(FILTER_NAMES))
    repetition_ngram: int = Field(default=4, ge=1, le=16, description="n of the repeated n-gram ratio")
    max_repetition: float = Field(
        default=0.5, gt=0, le=1, description="reject when this share of n-grams repeats an earlier one"
    )
    repetition_min_words: int = Field(
        default=40, ge=1, description="answers of fewer tokens (words and marks) are not checked"
    )
    truncation_line_words: int = Field(
        default=14, ge=3, description="a last prose line this long without final punctuation is cut off"
    )
    max_echo: float = Field(
        default=0.9,
        gt=0,
        le=1,
        description="reject when this share of the answer's 5-grams is the user's text",
    )
    echo_exempt_skills: list[str] = Field(
        default_factory=lambda: ["text_modification", "coding"],
        description="skills whose answers may rightly restate the user's text (light edits, fixed code)",
    )
    framing_skills: list[str] = Field(
        default_factory=lambda: list(DEFAULT_FRAMING_SKILLS),
        description="skills whose answer is the requested text alone, so words about it are framing",
    )
    lengths: LengthBounds = Field(default_factory=LengthBounds, description="bounds for every skill")
    skill_lengths: dict[str, LengthBounds] = Field(
        default_factory=dict, description="per-skill bounds (replace the defaults for that skill)"
    )

    def bounds_for(self, skill: str) -> LengthBounds:
        """The length bounds of a skill: its own entry, else the built-in skill default, else `lengths`."""
        if skill in self.skill_lengths:
            return self.skill_lengths[skill]
        if skill in DEFAULT_SKILL_BOUNDS and "lengths" not in self.model_fields_set:
            return DEFAULT_SKILL_BOUNDS[skill]
        return self.lengths


class JudgeSettings(_Strict):
    """The optional LLM judge: a 0-10 score per pair with a per-skill rubric."""

    model: str | None = Field(default=None, description="model name (same backends as --model); None = off")
    min_score: float | None = Field(default=None, ge=0, le=10, description="reject pairs scored below this")
    rubrics_dir: Path | None = Field(default=None, description="directory of <skill>.yaml rubrics")
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_tokens: int = Field(default=400, ge=32)


class QualitySettings(_Strict):
    """Everything the quality gate does; the defaults run filters and dedup, no benchmark, no judge."""

    dedup: DedupSettings = Field(default_factory=DedupSettings)
    decontamination: DecontaminationSettings = Field(default_factory=DecontaminationSettings)
    filters: FilterSettings = Field(default_factory=FilterSettings)
    judge: JudgeSettings = Field(default_factory=JudgeSettings)

    def with_flags(
        self,
        *,
        dedup_against: list[Path] | None = None,
        decontaminate: list[Path] | None = None,
        judge_model: str | None = None,
        min_judge_score: float | None = None,
    ) -> QualitySettings:
        """A copy with the command-line flags applied (None leaves a setting as it is).

        Only the sections a flag changes are rebuilt, each from the fields set in it: a round trip through
        a full dump marks every field as set, and `FilterSettings.bounds_for` then took the general length
        bounds for the per-skill defaults it keeps for unset `lengths` (every `generate` run until now held
        reading-comprehension tasks to 3 words, not 20: a 6-word pair passed in run s18).
        """
        update: dict[str, Any] = {}
        if dedup_against:
            update["dedup"] = _changed(self.dedup, against=[Path(p) for p in dedup_against])
        if decontaminate:
            update["decontamination"] = _changed(self.decontamination, files=[Path(p) for p in decontaminate])
        judge = {"model": judge_model, "min_score": min_judge_score}
        if any(value is not None for value in judge.values()):
            update["judge"] = _changed(self.judge, **{k: v for k, v in judge.items() if v is not None})
        return self.model_copy(update=update)


def _changed(section: BaseModel, **changes: Any) -> Any:
    """A settings section with `changes` validated, its other fields as they were set (or not)."""
    return type(section).model_validate({**section.model_dump(exclude_unset=True), **changes})
