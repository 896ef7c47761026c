"""The RAG flow (SPEC §2 row 13): each seed becomes a numbered list of sources — the seed itself among
distractor chunks retrieved from the run's corpus — and the usual instruct → refine → answer steps run on
that context. Only the transformation differs from `SkillFlow`: it is retrieval plus a template that lays
the sources out (the skill's `transformations/retrieval_context.j2`, variables `sources` and `seed`),
not an LLM call. Citation checks live in `quality.citations`.
"""

from __future__ import annotations

import random

from agentinstruct.agents import render
from agentinstruct.documents import Seed
from agentinstruct.flows import register_flow
from agentinstruct.flows.skill_flow import SkillFlow
from agentinstruct.flows.state import SeedContext, derive_seed
from agentinstruct.skills import Transformation

#: distractor sources retrieved per seed (fewer when the corpus is small)
DISTRACTORS = 3
#: longest source text shown, in characters, so a context stays within a small model's window
MAX_SOURCE_CHARS = 1500


class RagFlow(SkillFlow):
    """Numbered-source contexts built by corpus retrieval; answers are checked for grounded citations."""

    async def _transform(self, seed: Seed, transformation: Transformation) -> SeedContext | None:
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


def _clip(text: str) -> str:
    text = text.strip()
    if len(text) <= MAX_SOURCE_CHARS:
        return text
    cut = text.rfind(" ", 0, MAX_SOURCE_CHARS)
    return text[: cut if cut > 0 else MAX_SOURCE_CHARS] + " …"


register_flow("rag", RagFlow)
