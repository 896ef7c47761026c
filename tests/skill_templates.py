"""Strict template rendering for the per-skill tests: the same Jinja2 settings the agents use."""

from __future__ import annotations

import jinja2

from agentinstruct.skills import Skill


def strict_environment(skill: Skill) -> jinja2.Environment:
    """A skill's templates with undefined variables as errors (as `agentinstruct.agents` renders them)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(skill.directory),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(env: jinja2.Environment, template: str, **variables: object) -> str:
    """Render one template; it must produce text and leave no template syntax behind."""
    text = env.get_template(template).render(**variables)
    assert text.strip(), f"{template} rendered empty"
    assert "{{" not in text and "{%" not in text, f"{template} left template syntax in its output"
    return text
