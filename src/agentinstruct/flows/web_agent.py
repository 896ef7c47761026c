"""The web_agent flow (SPEC §2 row 4): the model writes the page as HTML, code turns it into the tree.

Small models write HTML well but not the `[id] role "name"` notation the rest of the skill works on, so
the page template asks for HTML and the transformers' output model (`WebPageOutput`) converts the reply
with `flows.web_pages.html_to_tree` when it is validated (a reply already in the notation is kept as it
is). A page with too few elements to act on fails validation, so the agent is asked again with the count,
and a seed is rejected only when the retries fail too. Everything after the transformation (instruct →
refine → answer → verify) is `SkillFlow`'s; the checks are in `quality.web`.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from agentinstruct.agents import TransformationOutput
from agentinstruct.flows import register_flow
from agentinstruct.flows.skill_flow import SkillFlow
from agentinstruct.flows.state import FlowSettings
from agentinstruct.flows.web_pages import html_to_tree, looks_like_html
from agentinstruct.quality.web import parse_page
from agentinstruct.skills import Skill

#: fewest elements (the page line included) a page needs before tasks are written on it
MIN_ELEMENTS = 8


class WebPageOutput(TransformationOutput):
    """A page transformation's reply: HTML (or the tree notation), held as the tree once validated."""

    content: str = Field(default="", description="the whole page as one HTML document, <html> to </html>")

    @model_validator(mode="after")
    def _a_page_to_act_on(self) -> WebPageOutput:
        if self.suitable:
            html = looks_like_html(self.content)
            page = html_to_tree(self.content) if html else self.content
            count = len(parse_page(page).elements)
            if count < MIN_ELEMENTS:
                raise ValueError(too_small(self.content, count, html))
            self.content = page
        return self


class WebAgentFlow(SkillFlow):
    """`SkillFlow` whose transformers write HTML pages that are converted into the accessibility tree."""

    def _agents(self, skill: Skill, settings: FlowSettings) -> None:
        super()._agents(skill, settings)
        self.transformers = {
            name: self.agent(name, agent.template, WebPageOutput) for name, agent in self.transformers.items()
        }


def too_small(written: str, count: int, html: bool) -> str:
    """Why a page cannot carry a task, worded for the model that is asked again (and for the log)."""
    start = " ".join(written.split())[:80]
    found = (
        f"the HTML page has only {count} elements"
        if html
        else f'the page is not HTML and has only {count} lines in the [id] role "name" notation'
    )
    return (
        f"{found} (it starts '{start}'); at least {MIN_ELEMENTS} are needed to act on: write the whole "
        "page as one HTML document with 20 to 40 elements (headings, paragraphs, links, buttons, form "
        "fields, list items or table cells)"
    )


register_flow("web_agent", WebAgentFlow)
