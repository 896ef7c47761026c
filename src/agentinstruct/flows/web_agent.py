"""The web_agent flow (SPEC §2 row 4): the model writes the page as HTML, code turns it into the tree.

Small models write HTML well but not the `[id] role "name"` notation the rest of the skill works on, so
the page template asks for HTML and the transformers' output model (`WebPageOutput`) converts the reply
with `flows.web_pages.html_to_tree` when it is validated (a reply already in the notation is kept as it
is). A page with too few elements to act on fails validation, so the agent is asked again with the count,
and a seed is rejected only when the retries fail too. Everything after the transformation (instruct →
refine → answer → verify) is `SkillFlow`'s, except the teacher's answer: it is asked for as structure
whose elements come from the page (`flows.web_answers`) and written in the notation by code, and an answer
in the notation whose steps end without a stop (a backend that does not hold replies to the schema) is
asked for its final step alone (`WebAgentFlow._finish_answer`); the checks are in `quality.web`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import Field, model_validator

from agentinstruct.agent_outputs import AgentOutput, TransformationOutput
from agentinstruct.agents import PROMPTS_DIR, AgentResult, render
from agentinstruct.flows import register_flow
from agentinstruct.flows.outputs import with_content_rules, with_validator
from agentinstruct.flows.skill_flow import SkillFlow
from agentinstruct.flows.state import Chain, FlowSettings
from agentinstruct.flows.web_answers import answer_schema, notation
from agentinstruct.flows.web_pages import html_to_tree, looks_like_html
from agentinstruct.quality.web import SELECT_ROLES, TYPE_ROLES, parse_answer, parse_page
from agentinstruct.skills import Skill, Transformation

#: fewest elements (the page line included) a page needs before tasks are written on it
MIN_ELEMENTS = 8
#: fewest form fields a page transformation must write: s30's form page had none, and its fill_form task
#: was answered by clicking a "Contact" link three times
FIELDS_NEEDED = {"form_page": 3}
FIELD_ROLES = TYPE_ROLES | SELECT_ROLES | {"checkbox", "switch", "radio"}


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
        by_name = {t.name: t for t in skill.transformations}
        self.transformers = {
            name: self.agent(name, agent.template, _page_output(by_name[name]))
            for name, agent in self.transformers.items()
        }

    def _answer_schema(self, chain: Chain) -> dict[str, Any] | None:
        """Steps whose elements are the page's own, each action on the elements that take it, then a stop."""
        return answer_schema(chain.content, chain.instruction_type.name)

    async def _finish_answer(
        self, result: AgentResult, variables: dict[str, Any], tag: str, options: dict[str, Any]
    ) -> AgentResult:
        """A structured answer written in the notation; one in the notation that ends without a stop asked
        for its last step only, which is appended.

        The local model ended "navigate" answers with the click, and a repair that named the missing stop
        got the same answer back; asked for the final step alone, it writes one. The stop is the teacher's
        own words: nothing is added that the teacher did not write.
        """
        if not result.ok:
            return result
        written = notation(str(result.output))
        if written is not None:
            # the conversation a repair continues shows the answer as the pair will hold it
            messages = [*result.messages[:-1], {"role": "assistant", "content": written}]
            return replace(result, output=written, messages=messages)
        steps = parse_answer(str(result.output))
        if not steps.actions or any(action.verb == "stop" for action in steps.actions):
            return result
        feedback = render(PROMPTS_DIR, "web_last_step.j2", last_action=steps.actions[-1].text)
        step = await self.teacher.revise(
            self.teacher_model, result, feedback, variables, tag=f"{tag}/last_step", **options
        )
        finished = _with_stop(str(result.output), str(step.output)) if step.ok else None
        if finished is None:
            return replace(result, call_ids=step.call_ids)
        # the conversation a later repair continues shows the whole answer as the teacher's last reply
        messages = [*result.messages[:-1], {"role": "assistant", "content": finished}]
        return replace(step, output=finished, messages=messages)


def _page_output(transformation: Transformation) -> type[AgentOutput]:
    """The output model of one page transformation: a page to act on, with the fields its kind needs."""
    output = with_content_rules(WebPageOutput, transformation)
    needed = FIELDS_NEEDED.get(transformation.name, 0)
    if not needed:
        return output

    def check_fields(reply: Any) -> None:
        page = html_to_tree(reply.content) if looks_like_html(reply.content) else reply.content
        count = sum(e.role in FIELD_ROLES for e in parse_page(page).elements.values())
        if count < needed:
            raise ValueError(
                f"the page has {count} form field(s), and at least {needed} are needed: write a <form> with "
                '5 to 10 labelled fields (<input type="text">, a <select> with its <option>s, radio '
                "buttons, checkboxes) and a submit <button>"
            )

    return with_validator(output, "_form_fields", check_fields)


def _with_stop(answer: str, reply: str) -> str | None:
    """The answer with the reply's stop step appended, the reply itself when it is a whole new answer that
    ends in a stop, or None when the reply gives no usable stop."""
    steps = parse_answer(reply)
    if not steps.actions or steps.actions[-1].verb != "stop":
        return None
    if len(steps.actions) > 1:
        return reply.strip()
    stop = steps.actions[0]
    reason = [f"Reason: {stop.reason}"] if stop.reason else []
    return "\n".join([answer.rstrip(), *reason, f"Action: {stop.text}"])


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
