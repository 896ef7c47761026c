"""The RAG flow (SPEC §2 row 13): each seed becomes a numbered list of sources — the seed itself among
distractor chunks retrieved from the run's corpus — and the usual instruct → refine → answer steps run on
that context. Only the transformation differs from `SkillFlow`: it is retrieval plus a template that lays
the sources out (the skill's `transformations/retrieval_context.j2`, variables `sources` and `seed`),
not an LLM call. An answer that cites no source (the local teacher left out every citation in 3 of 3 rag
rejections of runs s8c, s9e and s10a, repair included) is asked once for its sentences, each with the
sources it comes from, and code writes the citations in. Citation checks live in `quality.citations`.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace
from typing import Any

from agentinstruct.agent_outputs import CitedAnswerOutput, CitedSentence
from agentinstruct.agents import PROMPTS_DIR, Agent, AgentResult, render
from agentinstruct.documents import Seed
from agentinstruct.flows import register_flow
from agentinstruct.flows.skill_flow import SkillFlow
from agentinstruct.flows.state import FlowSettings, SeedContext, derive_seed
from agentinstruct.quality.citations import CITATION, NOT_IN_SOURCES, UNANSWERABLE_TYPE, parse_sources
from agentinstruct.skills import Skill, Transformation

#: distractor sources retrieved per seed (fewer when the corpus is small)
DISTRACTORS = 3
#: longest source text shown, in characters, so a context stays within a small model's window
MAX_SOURCE_CHARS = 1500


class RagFlow(SkillFlow):
    """Numbered-source contexts built by corpus retrieval; answers are checked for grounded citations."""

    def _agents(self, skill: Skill, settings: FlowSettings) -> None:
        super()._agents(skill, settings)
        self.citer = Agent(
            "cited_answer",
            "cited_answer.j2",
            PROMPTS_DIR,
            CitedAnswerOutput,
            temperature=settings.teacher_temperature,
            max_tokens=settings.teacher_max_tokens,
        )

    async def _finish_answer(
        self, result: AgentResult, variables: dict[str, Any], tag: str, options: dict[str, Any]
    ) -> AgentResult:
        """An answer that cites no source is asked once for its sentences with their sources; code writes
        the citations in. The sources are the teacher's choice: the checks then judge them."""
        result = await super()._finish_answer(result, variables, tag, options)
        answer = str(result.output) if result.ok else ""
        asked_type = variables["instruction_type"].name
        if (
            not answer
            or asked_type == UNANSWERABLE_TYPE
            or CITATION.search(answer)
            or NOT_IN_SOURCES.search(answer)
        ):
            return result
        asked = {"task": result.prompt, "answer": answer}
        cited = await self.citer.run(self.teacher_model, asked, tag=f"{tag}/cited", seed=options.get("seed"))
        call_ids = [*result.call_ids, *cited.call_ids]
        text = cited_text(cited.output.sentences, set(parse_sources(result.prompt))) if cited.ok else None
        if text is None:
            return replace(result, call_ids=call_ids)
        # the conversation a later repair continues shows the cited answer as the teacher's last reply
        messages = [*result.messages[:-1], {"role": "assistant", "content": text}]
        return replace(result, output=text, messages=messages, call_ids=call_ids)

    async def _transform(
        self, seed: Seed, transformation: Transformation, stand_in: Transformation | None = None
    ) -> SeedContext | None:
        """The numbered sources: built by code, so no stand-in is ever needed."""
        distractors = await self._distractors(seed)
        sources = [{"text": _clip(seed.text), "source": seed.document.source, "id": seed.id}]
        sources += [
            {"text": _clip(hit.text), "source": hit.metadata.get("source", ""), "id": hit.id}
            for hit in distractors
        ]
        rng = random.Random(derive_seed(self.settings.run_seed, seed.id, "sources"))
        rng.shuffle(sources)
        numbered = [{**source, "number": index} for index, source in enumerate(sources, 1)]
        content = render(
            self.skill.directory,
            self.skill.transformation_prompt(transformation),
            sources=numbered,
            seed=seed.text,
            transformation=transformation,
            skill=self.skill,
        )
        return SeedContext(seed, transformation, content, ())

    async def _distractors(self, seed: Seed) -> list:
        """Other chunks most similar to the seed: plausible but not the answer's source."""
        search = self.resources.search
        if search is None:
            return []
        hits = await search.asearch(seed.text[:2000], k=DISTRACTORS * 2, exclude_ids=[seed.id])
        texts = {seed.text.strip()}
        chosen = []
        for hit in hits:
            if hit.text.strip() not in texts and hit.metadata.get("kind", "text") == "text":
                texts.add(hit.text.strip())
                chosen.append(hit)
        return chosen[:DISTRACTORS]


def cited_text(sentences: list[CitedSentence], sources: set[int]) -> str | None:
    """The sentences as prose with their citations ("... in 1852 [2]."), or None when none cites a source."""
    written, cited_any = [], False
    for sentence in sentences:
        text = " ".join(sentence.text.split())
        numbers = list(dict.fromkeys(n for n in sentence.sources if n in sources))
        if not text:
            continue
        if numbers:
            cited_any = True
            body, end = re.match(r"(.*?)([.!?]*)$", text).groups()  # type: ignore[union-attr]
            text = f"{body.rstrip()} {''.join(f'[{n}]' for n in numbers)}{end or '.'}"
        written.append(text)
    return " ".join(written) if cited_any else None


def _clip(text: str) -> str:
    text = text.strip()
    if len(text) <= MAX_SOURCE_CHARS:
        return text
    cut = text.rfind(" ", 0, MAX_SOURCE_CHARS)
    return text[: cut if cut > 0 else MAX_SOURCE_CHARS] + " …"


register_flow("rag", RagFlow)
