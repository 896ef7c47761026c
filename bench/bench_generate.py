"""Throughput of `generate` against a local OpenAI-compatible server with fixed latency, next to the raw
`openai` async client driving the same server at the same concurrency.

    python bench/bench_generate.py [--latency 0.2] [--concurrency 16 64] [--documents 40]

Prints requests/s and pairs/s for generate, requests/s for the raw client, their ratio, and peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import resource
import tempfile
import time
from pathlib import Path

import openai

from agentinstruct.config import RunConfig
from agentinstruct.pipeline import run
from agentinstruct.testing import OpenAIServer

PARAGRAPH = (
    "The harbour commission met in {year} to decide whether the old breakwater should be rebuilt. "
    "Engineers estimated the cost at {cost} million and argued that storms had doubled since the last "
    "repair. Fishermen "
    "disagreed about the priorities, and the mayor proposed a public vote before any contract was signed.\n\n"
)


def responder(body: dict) -> object:
    """Schema-shaped replies that differ per request, so every pair is distinct."""
    tag = hashlib.sha256(body["messages"][-1]["content"].encode()).hexdigest()[:10]
    name = (body.get("response_format") or {}).get("json_schema", {}).get("name")
    fields = {
        "TransformationOutput": {"content": f"Passage {tag}. The commission met and argued about costs."},
        "InstructionOutput": {"instruction": f"What did the commission decide? ({tag})"},
        "SuggestionOutput": {"suggestion": f"Ask about the cost estimate ({tag})."},
        "EditOutput": {"content": f"Edited passage {tag}.", "instruction": f"Why did they disagree? ({tag})"},
    }
    if name in fields:
        return {**fields[name], "suitable": True, "reason": ""}
    return f"Reasoning step by step ({tag}): the passage says the commission proposed a vote."


def write_corpus(directory: Path, documents: int) -> None:
    for index in range(documents):
        text = "".join(PARAGRAPH.format(year=1900 + index, cost=index + p) for p in range(3))
        (directory / f"doc{index:05d}.txt").write_text(text)


async def raw_client(base_url: str, concurrency: int, requests: int) -> float:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
    slots = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with slots:
            await client.chat.completions.create(
                model="bench", messages=[{"role": "user", "content": f"question {i}"}], max_tokens=64
            )

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(requests)))
    elapsed = time.perf_counter() - started
    await client.close()
    return requests / elapsed


def bench(latency: float, concurrency: int, documents: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, OpenAIServer(responder, latency_s=latency) as server:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        write_corpus(corpus, documents)
        config = RunConfig(
            inputs=[str(corpus)],
            out=Path(tmp) / "out",
            base_url=server.base_url,
            model="bench",
            concurrency=concurrency,
            progress=False,
        )
        started = time.perf_counter()
        summary = run(config)
        elapsed = time.perf_counter() - started
        requests = server.request_count
        generate_rps = requests / elapsed
        raw_rps = asyncio.run(raw_client(server.base_url, concurrency, max(requests, concurrency * 4)))
    pairs = summary["counters"]["pairs"]
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"latency {latency * 1000:.0f} ms, concurrency {concurrency:>4}, {documents} documents: "
        f"generate {generate_rps:7.1f} req/s {pairs / elapsed:6.1f} pairs/s "
        f"({requests} requests, {pairs} pairs, "
        f"{elapsed:.1f} s) | raw openai client {raw_rps:7.1f} req/s | ratio {generate_rps / raw_rps:.2f} | "
        f"peak RSS {peak_mib:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the server waits per request")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--documents", type=int, default=40)
    args = parser.parse_args()
    for concurrency in args.concurrency:
        bench(args.latency, concurrency, args.documents)


if __name__ == "__main__":
    main()
