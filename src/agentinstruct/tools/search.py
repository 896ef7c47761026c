"""Search over the run's own corpus: the `Search` interface, BM25 (`Bm25Search`) and the `SearchTool`.

Agents use it for RAG distractors, API retrieval for tool-use tasks and grounding open-domain
questions. `Bm25Search` is built once per run from (id, text, metadata) triples of seeds, text and
code alike, and saved next to the run. A web-search backend would implement `Search` too; none
lives here. Chunking documents into seeds happens upstream, not here.
"""

from __future__ import annotations

import asyncio
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import bm25s
import numpy as np

from agentinstruct.tools import Tool

FORMAT_VERSION = 1
INDEX_DIR = "bm25s"
DOCUMENTS_FILE = "documents.jsonl"
MANIFEST_FILE = "search.json"

_STOPWORD_TEXT = """
a an and are as at be but by for from has have he her his i if in into is it its me my no not of on or our
she so than that the their them then there these they this to was we were what when where which who will
with you your
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
WORD = re.compile(r"\w+")
IDENTIFIER_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def tokenize(text: str) -> list[str]:
    """Lower-cased words without stopwords; identifiers also yield their snake_case/camelCase parts."""
    tokens: list[str] = []
    for word in WORD.findall(text):
        parts = [part for piece in word.split("_") for part in IDENTIFIER_PART.findall(piece)]
        lowered = word.lower().strip("_")
        if lowered and lowered not in STOPWORDS:
            tokens.append(_fold_plural(lowered))
        if len(parts) > 1:
            tokens += [_fold_plural(p.lower()) for p in parts if p.lower() not in STOPWORDS]
    return tokens


def _fold_plural(token: str) -> str:
    """Crude English plural folding (files -> file, classes -> class, queries -> query)."""
    if len(token) <= 3 or not token.isalpha():
        return token
    if token.endswith("ies"):
        return token[:-3] + "y"
    if token.endswith(("sses", "xes", "ches", "shes")):
        return token[:-2]
    if token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


@dataclass(frozen=True)
class Hit:
    """One search result."""

    id: str
    score: float
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


class Search(ABC):
    """Anything that answers a text query with ranked documents."""

    @abstractmethod
    def search(self, query: str, k: int = 5, exclude_ids: Iterable[str] = ()) -> list[Hit]:
        """The best `k` hits for `query`, best first, leaving out `exclude_ids`."""

    async def asearch(self, query: str, k: int = 5, exclude_ids: Iterable[str] = ()) -> list[Hit]:
        """Asynchronous `search` (in a worker thread unless a backend does better)."""
        return await asyncio.to_thread(self.search, query, k, tuple(exclude_ids))


class Bm25Search(Search):
    """BM25 (bm25s) over a fixed set of documents; build once, save, load, query many times."""

    def __init__(self, documents: list[Hit], retriever: bm25s.BM25 | None):
        self._documents = documents
        self._positions = {doc.id: i for i, doc in enumerate(documents)}
        self._retriever = retriever

    @classmethod
    def build(cls, documents: Iterable[tuple[str, str, dict[str, Any]]]) -> Bm25Search:
        """Index (id, text, metadata) triples; ids must be unique."""
        docs: list[Hit] = []
        seen: set[str] = set()
        for doc_id, text, metadata in documents:
            doc_id = str(doc_id)
            if doc_id in seen:
                raise ValueError(f"duplicate document id {doc_id!r}: give every seed a unique id")
            seen.add(doc_id)
            docs.append(Hit(id=doc_id, score=0.0, text=text, metadata=dict(metadata or {})))
        retriever = None
        if docs:
            retriever = bm25s.BM25()
            retriever.index([tokenize(doc.text) for doc in docs], show_progress=False)
        return cls(docs, retriever)

    def __len__(self) -> int:
        return len(self._documents)

    def search(self, query: str, k: int = 5, exclude_ids: Iterable[str] = ()) -> list[Hit]:
        """The best `k` hits with a positive BM25 score, best first."""
        tokens = tokenize(query)
        if self._retriever is None or not tokens or k <= 0:
            return []
        mask = np.ones(len(self._documents), dtype=np.float32)
        for doc_id in exclude_ids:
            if doc_id in self._positions:
                mask[self._positions[doc_id]] = 0.0
        found, scores = self._retriever.retrieve(
            [tokens], k=min(k, len(self._documents)), show_progress=False, weight_mask=mask
        )
        hits = []
        for position, score in zip(found[0], scores[0], strict=True):
            if score > 0:
                doc = self._documents[int(position)]
                hits.append(Hit(id=doc.id, score=float(score), text=doc.text, metadata=doc.metadata))
        return hits

    def save(self, directory: str | Path) -> None:
        """Write the index and the documents under `directory` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if self._retriever is not None:
            self._retriever.save(str(directory / INDEX_DIR), show_progress=False)
        with (directory / DOCUMENTS_FILE).open("w", encoding="utf-8") as out:
            for doc in self._documents:
                out.write(json.dumps({"id": doc.id, "text": doc.text, "metadata": doc.metadata}) + "\n")
        manifest = {"format": FORMAT_VERSION, "documents": len(self._documents), "backend": "bm25s"}
        (directory / MANIFEST_FILE).write_text(json.dumps(manifest) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> Bm25Search:
        """Read an index written by `save`."""
        directory = Path(directory)
        manifest_path = directory / MANIFEST_FILE
        if not manifest_path.exists():
            raise FileNotFoundError(
                f"no search index in {directory}: build one with Bm25Search.build(...).save()"
            )
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("format") != FORMAT_VERSION:
            raise ValueError(f"search index in {directory} has format {manifest.get('format')}; rebuild it")
        with (directory / DOCUMENTS_FILE).open(encoding="utf-8") as lines:
            docs = [
                Hit(id=d["id"], score=0.0, text=d["text"], metadata=d["metadata"])
                for d in map(json.loads, lines)
            ]
        retriever = bm25s.BM25.load(str(directory / INDEX_DIR), show_progress=False) if docs else None
        return cls(docs, retriever)


class SearchTool(Tool):
    """Agent-facing wrapper of any `Search` backend."""

    name: ClassVar[str] = "search"
    description: ClassVar[str] = (
        "Search the document collection of this run by keywords (BM25). Returns the best matching "
        "passages with their ids and scores. Use specific terms, identifiers or names."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "Keywords to look for."},
            "k": {"type": "integer", "description": "How many results (1-20, default 5)."},
        },
        "required": ["query"],
        "additionalProperties": False,
    }

    def __init__(self, backend: Search, *, max_chars: int = 2000, exclude_ids: Iterable[str] = ()):
        self.backend = backend
        self.max_chars = max_chars
        self.exclude_ids = tuple(exclude_ids)

    async def call(self, **arguments: Any) -> dict[str, Any]:
        """{"hits": [{"id", "score", "text", "metadata"}...]} with texts cut to `max_chars`."""
        query = arguments.get("query")
        if not isinstance(query, str) or not query.strip():
            return {"error": "'query' must be a non-empty string of keywords"}
        try:
            k = min(max(int(arguments.get("k") or 5), 1), 20)
        except (TypeError, ValueError):
            return {"error": "'k' must be an integer between 1 and 20"}
        hits = await self.backend.asearch(query, k, self.exclude_ids)
        return {"hits": [asdict(hit) | {"text": hit.text[: self.max_chars]} for hit in hits]}
