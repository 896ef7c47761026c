"""The resolved configuration of a run: defaults, `--config run.yaml`, then command-line flags.

API keys are never part of it: only the *name* of the environment variable that holds the key is
(SPEC §4), so the config can be written to run.json as it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from agentinstruct.budget import ModelPrice
from agentinstruct.quality.settings import QualitySettings


class ConfigError(ValueError):
    """The configuration file or flags are invalid; the message names the field and the fix."""


class RunConfig(BaseModel):
    """Everything that determines what a run does."""

    model_config = {"extra": "forbid"}

    inputs: list[str] = Field(default_factory=list)
    out: Path = Path("out")
    skills: str = "all"
    skills_dirs: list[Path] = Field(default_factory=list)
    model: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    teacher_model: str | None = None
    concurrency: int = Field(default=8, ge=1, le=4096)
    max_documents: int | None = Field(default=None, ge=1)
    max_pairs: int | None = Field(default=None, ge=1)
    seed: int = 0
    chunk_chars: int = Field(default=2000, ge=200)
    min_chunk_chars: int = Field(default=200, ge=0)
    max_file_bytes: int = Field(default=20_000_000, ge=1)
    text_field: str = "text"
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int = Field(default=1024, ge=16)
    teacher_temperature: float = Field(default=0.7, ge=0, le=2)
    teacher_max_tokens: int = Field(default=1024, ge=16)
    refinement_rounds: int | None = Field(default=None, ge=0, le=10)
    instructions_per_seed: int | None = Field(default=None, ge=1)
    unanswerable_share: float | None = Field(default=None, ge=0, le=1)
    skill_weights: dict[str, float] = Field(
        default_factory=dict,
        description="per skill, a factor on its instructions per seed (0.25: one seed in four; 0: none)",
    )
    request_timeout_s: float = Field(default=300.0, gt=0)
    max_retries: int = Field(
        default=2, ge=0, le=20, description="retries of a failed request (server backends)"
    )
    local_slots: int = Field(default=4, ge=1, le=64)
    local_threads: int | None = Field(default=None, ge=1)
    progress: bool = True
    progress_interval_s: float = Field(
        default=30.0, gt=0, description="seconds between status lines when stderr is not a terminal"
    )
    # -- accounting and ceilings (none of these change what is generated, so none is in the fingerprint)
    prices: dict[str, ModelPrice] = Field(
        default_factory=dict, description="USD per million tokens: {model: {input_per_mtok, output_per_mtok}}"
    )
    budget_usd: float | None = Field(
        default=None, gt=0, description="stop once the output directory has spent this much (needs prices)"
    )
    max_total_tokens: int | None = Field(
        default=None, ge=1, description="stop once the output directory has used this many tokens in+out"
    )
    max_error_rate: float = Field(
        default=0.5, gt=0, le=1, description="stop when this share of the last calls failed (1: never)"
    )
    error_rate_window: int = Field(default=200, ge=1, description="calls the error rate looks at")
    max_consecutive_failures: int = Field(default=20, ge=1)
    # -- modes
    offline: bool = Field(default=False, description="answer only from the call store; never call a model")
    dry_run: bool = Field(default=False, description="run a small sample and estimate the whole run")
    dry_run_units: int = Field(default=5, ge=1, le=1000)
    shard: str | None = Field(default=None, description="RANK/WORLD: run only this shard of the documents")
    quality: QualitySettings = Field(
        default_factory=QualitySettings, description="dedup, decontamination, answer filters, judge"
    )

    @field_validator("skill_weights")
    @classmethod
    def _valid_weights(cls, value: dict[str, float]) -> dict[str, float]:
        for name, weight in value.items():
            if not weight >= 0 or weight == float("inf"):
                raise ValueError(
                    f"the weight of '{name}' is {weight}; give a finite number >= 0 (1 is the default)"
                )
        return value

    @field_validator("shard")
    @classmethod
    def _valid_shard(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from agentinstruct.sharding import Shard

        return str(Shard.parse(value))

    def public(self) -> dict[str, Any]:
        """The config as recorded in run.json (it holds no secrets by construction)."""
        return self.model_dump(mode="json")

    def fingerprint(self) -> dict[str, Any]:
        """The fields that change what is generated (used to detect an incompatible resume).

        The server URL is left out: the same model moved to another host resumes from the call store.
        Skill weights are in it only when set, so runs from before weights existed still resume.
        """
        weights = {name: w for name, w in sorted(self.skill_weights.items()) if w != 1}
        return ({"skill_weights": weights} if weights else {}) | self.model_dump(
            mode="json",
            include={
                "skills",
                "model",
                "teacher_model",
                "seed",
                "chunk_chars",
                "min_chunk_chars",
                "text_field",
                "temperature",
                "max_tokens",
                "teacher_temperature",
                "teacher_max_tokens",
                "refinement_rounds",
                "instructions_per_seed",
                "unanswerable_share",
            },
        )


def load_config(path: Path | None, overrides: dict[str, Any]) -> RunConfig:
    """Defaults, then the YAML file, then explicit flags (None values in `overrides` are ignored)."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read config ({exc}); pass a readable YAML file") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the config must be a YAML mapping of option names to values")
        for secret_like in ("api_key", "openai_api_key", "key"):
            if secret_like in loaded:
                raise ConfigError(
                    f"{path}: '{secret_like}' is not allowed in a config file; put the key in an environment "
                    "variable and name it with api_key_env"
                )
        data.update({k.replace("-", "_"): v for k, v in loaded.items()})
    file_weights = data.get("skill_weights")
    data.update({k: v for k, v in overrides.items() if v is not None})
    if overrides.get("skill_weights") is not None and isinstance(file_weights, dict):
        # a --skill-weight flag changes its skill and keeps the file's weights of the others
        data["skill_weights"] = {**file_weights, **overrides["skill_weights"]}
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid configuration: {problems}") from exc


def with_quality_flags(config: RunConfig, **flags: Any) -> RunConfig:
    """The config with the quality flags of `generate` applied (`QualitySettings.with_flags`)."""
    try:
        quality = config.quality.with_flags(**flags)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid quality option: {problems}") from exc
    return config.model_copy(update={"quality": quality})


def parse_skill_weights(values: list[str] | None) -> dict[str, float] | None:
    """`--skill-weight NAME=W` flags as a mapping (None when there are none)."""
    if not values:
        return None
    weights: dict[str, float] = {}
    for value in values:
        name, sep, number = value.partition("=")
        try:
            weights[name.strip()] = float(number)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ConfigError(
                f"--skill-weight '{value}': write NAME=WEIGHT, for example --skill-weight rag=0.5"
            )
    return weights
