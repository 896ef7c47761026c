"""Corpus search: BM25 ranking, persistence, exclusions, code-aware tokens and the tool wrapper."""

from __future__ import annotations

import asyncio

import pytest

from agentinstruct.tools.search import Bm25Search, Hit, Search, SearchTool, tokenize

pytestmark = pytest.mark.timeout(60)

SEEDS = [
    (
        "bio-1",
        "The mitochondria is the powerhouse of the cell: it turns nutrients into energy.",
        {"kind": "text"},
    ),
    ("bio-2", "Photosynthesis in plants converts light energy into chemical energy stored as glucose.", {}),
    ("hist-1", "The Treaty of Westphalia in 1648 ended the Thirty Years' War in Europe.", {"kind": "text"}),
    (
        "code-1",
        "def parseHTTPResponse(raw_bytes):\n    status_line, _, body = raw_bytes.partition(b'\\r\\n')\n",
        {},
    ),
    (
        "code-2",
        "class ConfigLoader:\n    def load_yaml_file(self, path):\n"
        "        return yaml.safe_load(open(path))\n",
        {},
    ),
    (
        "code-3",
        "async def send_request(session, url):\n    async with session.get(url) as resp:\n"
        "        return await resp.json()\n",
        {},
    ),
]


@pytest.fixture(scope="module")
def index():
    return Bm25Search.build(SEEDS)


@pytest.mark.parametrize(
    ("query", "best"),
    [
        ("which organelle produces energy for the cell", "bio-1"),
        ("how do plants turn light into glucose", "bio-2"),
        ("peace treaty 1648 thirty years war", "hist-1"),
        ("parse http response", "code-1"),
        ("yaml config loader", "code-2"),
        ("sendRequest session", "code-3"),
    ],
)
def test_relevant_document_ranks_first(index, query, best):
    hits = index.search(query, k=3)
    assert hits and hits[0].id == best, [(h.id, h.score) for h in hits]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_identifiers_are_split_both_ways():
    assert {"parsehttpresponse", "parse", "http", "response"} <= set(tokenize("parseHTTPResponse"))
    assert {"load_yaml_file", "load", "yaml", "file"} <= set(tokenize("load_yaml_file"))
    assert "the" not in tokenize("the file") and "file" in tokenize("the files")


def test_exclude_ids_and_k(index):
    assert [h.id for h in index.search("energy", k=5)][:2] in (["bio-2", "bio-1"], ["bio-1", "bio-2"])
    assert [h.id for h in index.search("energy", k=5, exclude_ids=["bio-2"])] == ["bio-1"]
    assert index.search("energy", k=1)[0].id in ("bio-1", "bio-2") and len(index.search("energy", k=1)) == 1
    assert index.search("zzzz unrelated qqqq") == [] and index.search("energy", k=0) == []


def test_persistence_round_trip(index, tmp_path):
    index.save(tmp_path / "search")
    loaded = Bm25Search.load(tmp_path / "search")
    assert len(loaded) == len(SEEDS)
    for query in ("energy cell", "send request", "treaty"):
        assert loaded.search(query, k=3) == index.search(query, k=3)
    assert loaded.search("mitochondria")[0].metadata == {"kind": "text"}


def test_load_errors_say_how_to_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="build one"):
        Bm25Search.load(tmp_path)
    with pytest.raises(ValueError, match="duplicate document id 'x'"):
        Bm25Search.build([("x", "a", {}), ("x", "b", {})])


def test_empty_corpus(tmp_path):
    empty = Bm25Search.build([])
    assert empty.search("anything") == []
    empty.save(tmp_path)
    assert Bm25Search.load(tmp_path).search("anything") == []


def test_search_tool_over_bm25(index):
    tool = SearchTool(index, max_chars=20, exclude_ids=["bio-1"])
    assert tool.spec()["function"]["parameters"]["required"] == ["query"]
    outcome = asyncio.run(tool.call(query="energy", k=3))
    assert [hit["id"] for hit in outcome["hits"]] == ["bio-2"]
    assert len(outcome["hits"][0]["text"]) == 20
    assert "error" in asyncio.run(tool.call(query="  "))


def test_another_backend_plugs_into_the_tool():
    class FakeWebSearch(Search):
        def search(self, query, k=5, exclude_ids=()):
            return [Hit(id="https://example.org", score=1.0, text=f"result for {query}")][:k]

    outcome = asyncio.run(SearchTool(FakeWebSearch()).call(query="weather"))
    assert outcome["hits"][0]["text"] == "result for weather"
