"""Run-wide things flows share: the corpus search index and the real tools a teacher may call.

The pipeline builds one `FlowResources` per run with `build_resources`: the BM25 index over the run's seeds
(built once, saved in `OUT/search/`, loaded again on resume) when a selected skill searches the corpus,
and the tools skills name in `teacher_tools`. The sandbox is self-tested here, before any model call, so a
machine that cannot isolate code fails the run at start with the reason instead of failing every item.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agentinstruct.documents import Seed
from agentinstruct.skills import Skill
from agentinstruct.store import RunStore
from agentinstruct.tools import Tool
from agentinstruct.tools.loop import ToolLoop
from agentinstruct.tools.search import MANIFEST_FILE, Bm25Search, Search, SearchTool

SEARCH_DIR = "search"


@dataclass
class FlowResources:
    """The search index and tools of a run; empty by default (tests and runs that need neither)."""

    search: Search | None = None
    tools: dict[str, Tool] = field(default_factory=dict)
    store: RunStore | None = None
    max_tool_steps: int = 4

    def tool_loop(self, names: Sequence[str]) -> ToolLoop | None:
        """A tool loop over the named tools (None when no names); each execution recorded in the store."""
        if not names:
            return None
        missing = sorted(set(names) - set(self.tools))
        if missing:
            raise ValueError(f"tools {missing} were not set up for this run; build them with build_resources")
        return ToolLoop([self.tools[n] for n in names], store=self.store, max_steps=self.max_tool_steps)


def load_or_build_search(directory: Path, seeds: Callable[[], Iterable[Seed]]) -> Bm25Search:
    """The run's BM25 index: loaded from `directory` when a previous attempt saved it, else built and saved.

    The index is written to a temporary directory and renamed, so a crash never leaves half an index.
    """
    if (directory / MANIFEST_FILE).is_file():
        return Bm25Search.load(directory)
    index = Bm25Search.build(_unique(seeds()))
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    index.save(partial)
    shutil.rmtree(directory, ignore_errors=True)
    partial.rename(directory)
    return index


def _unique(seeds: Iterable[Seed]) -> Iterable[tuple[str, str, dict]]:
    """(id, text, metadata) per distinct seed; the same text in two files is indexed once."""
    seen: set[str] = set()
    for seed in seeds:
        if seed.id in seen:
            continue
        seen.add(seed.id)
        yield seed.id, seed.text, {"kind": seed.kind, "source": seed.document.source, "span": list(seed.span)}


def build_tools(names: Iterable[str], search: Search | None) -> dict[str, Tool]:
    """Instantiate the named tools; the code interpreter self-tests now and raises if it cannot isolate."""
    tools: dict[str, Tool] = {}
    for name in sorted(set(names)):
        if name == "python":
            from agentinstruct.tools.code_interpreter import CodeInterpreterTool
            from agentinstruct.tools.sandbox import default_sandbox

            sandbox = default_sandbox()
            sandbox.ensure_ready()
            tools[name] = CodeInterpreterTool(sandbox)
        elif name == "calculator":
            from agentinstruct.tools.calculator import CalculatorTool

            tools[name] = CalculatorTool()
        elif name == "search":
            if search is None:
                raise ValueError("the search tool needs the corpus index; build it first")
            tools[name] = SearchTool(search)
        else:
            raise ValueError(f"unknown tool {name!r}; known tools: calculator, python, search")
    return tools


def build_resources(
    skills: Iterable[Skill], out: Path, store: RunStore | None, seeds: Callable[[], Iterable[Seed]]
) -> FlowResources:
    """What the selected skills need: the corpus index if any searches, and their teachers' tools."""
    skills = list(skills)
    tool_names = {name for skill in skills for name in skill.teacher_tools}
    search = None
    if "search" in tool_names or any(skill.corpus_search for skill in skills):
        search = load_or_build_search(out / SEARCH_DIR, seeds)
    return FlowResources(search=search, tools=build_tools(tool_names, search), store=store)
