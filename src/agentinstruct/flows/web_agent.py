"""The web_agent flow (SPEC §2 row 4): the model writes the page as HTML, code turns it into the tree.

Small models write HTML well but not the `[id] role "name"` notation the rest of the skill works on, so
the page template asks for HTML and this flow converts the transformer's reply with
`flows.web_pages.html_to_tree` (a reply already in the notation is kept as it is). A page with too few
elements to act on is rejected here, before any task is written on it. Everything after the
transformation (instruct → refine → answer → verify) is `SkillFlow`'s; the checks are in `quality.web`.
"""

from __future__ import annotations

from dataclasses import replace

from agentinstruct.agents import AgentResult
from agentinstruct.documents import Seed
from agentinstruct.flows import register_flow
from agentinstruct.flows.skill_flow import SkillFlow
from agentinstruct.flows.state import SeedContext
from agentinstruct.flows.web_pages import html_to_tree, looks_like_html
from agentinstruct.quality.web import parse_page
from agentinstruct.skills import Transformation

#: fewest elements (the page line included) a page needs before tasks are written on it
MIN_ELEMENTS = 8


class WebAgentFlow(SkillFlow):
    """`SkillFlow` whose transformation converts the model's HTML page into the accessibility tree."""

    async def _transform(self, seed: Seed, transformation: Transformation) -> SeedContext | None:
        context = await super()._transform(seed, transformation)
        if context is None:
            return None
        written = context.transformed
        html = looks_like_html(written)
        page = html_to_tree(written) if html else written
        count = len(parse_page(page).elements)
        if count < MIN_ELEMENTS:
            reason = too_small(written, count, html)
            failed = AgentResult("failed", reason=reason, call_ids=list(context.call_ids))
            self._reject_agent(seed, "transformation", transformation.name, failed)
            return None
        return replace(context, transformed=page)


def too_small(written: str, count: int, html: bool) -> str:
    """Why a page cannot carry a task, and what to change."""
    start = " ".join(written.split())[:80]
    if html:
        found = f"the HTML page converts to only {count} elements"
        fix = (
            "web_agent/page.j2 asks for 20 to 40; if this seed is not just too thin for the kind of page, "
            "the model needs to be a stronger one"
        )
    else:
        found = f'the page is not HTML and has only {count} lines in the [id] role "name" notation'
        fix = (
            "web_agent/page.j2 asks for HTML; a model that answers in prose or Markdown needs to be stronger"
        )
    return f"{found} (at least {MIN_ELEMENTS} are needed to act on; it starts '{start}'): {fix}"


register_flow("web_agent", WebAgentFlow)
