"""Throughput and memory of `generate` against a local OpenAI-compatible server with fixed latency, next to
the raw `openai` async client driving the same server at the same concurrency.

    python bench/bench_generate.py                       # 500 ms latency, concurrency 16 64 256
    python bench/bench_generate.py --latency 0.5 --concurrency 64 256 --documents 600
    python bench/bench_generate.py --rss 1000 10000      # only: peak RSS of generate, 1k and 10k documents

The server runs in its own process (its request log and CPU stay out of the measurement) and every
measurement runs in a fresh child process, so peak RSS (ru_maxrss) is that run's alone. For each
concurrency it prints generate's requests/s and pairs/s and the peak RSS of the generate process, next to
the raw client sending (a) the very requests generate sent (same prompts and JSON schemas: the SDK's own
cost per call grows with the payload) and (b) tiny one-line requests, with the ratios. "overall" counts
the whole run (start-up and the tail of the last units included); "steady" counts the requests between
the 10th and the 90th percentile of their arrival times at the server, which is the rate the scheduler
sustains while there is work for every slot. On a small machine the client side is CPU-bound long before
256 x 2 req/s: compare generate with the raw client, not with the ideal rate; the CPU time per request of
each client process is printed too, as it does not depend on what else the machine is doing.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PARAGRAPH = (
    "The harbour commission met in {year} to decide whether the old breakwater should be rebuilt. "
    "Engineers estimated the cost at {cost} million and argued that storms had doubled since the last "
    "repair. Fishermen "
    "disagreed about the priorities, and the mayor proposed a public vote before any contract was signed.\n\n"
)


#: words the replies are drawn from: every reply is a different sequence of them, so the pairs pass the
#: quality gate (length filters, exact and near-duplicate detection) and the accept path is measured too
_VOCABULARY_TEXT = (
    "harbour breakwater storm engineer budget council vote tide granite contract fisherman mayor "
    "survey winter repair estimate cost pier crane ferry lighthouse dredging channel quay ledger "
    "audit tender concrete current erosion shoreline permit inspector rumour petition minutes delay "
    "weather season cargo warehouse insurance surveyor committee deadline funding grant loan "
    "interest tariff vessel anchor mooring dock timber steel harbourmaster tourist market trade "
    "decline revival proposal"
)
VOCABULARY = _VOCABULARY_TEXT.split()


def _words(tag: str, count: int) -> str:
    """`count` words drawn from the vocabulary by the request's hash: distinct per request, deterministic."""
    return " ".join(random.Random(tag).choices(VOCABULARY, k=count))


def responder(body: dict) -> object:
    """Schema-shaped replies that differ per request, so every pair is distinct and passes the gate."""
    tag = hashlib.sha256(body["messages"][-1]["content"].encode()).hexdigest()[:10]
    name = (body.get("response_format") or {}).get("json_schema", {}).get("name")
    fields = {
        "TransformationOutput": {"content": f"Passage {tag}. {_words(tag, 60)}."},
        "InstructionOutput": {"instruction": f"What does the passage say about {_words(tag, 10)}?"},
        "SuggestionOutput": {"suggestion": f"Ask about {_words(tag, 8)}."},
        "EditOutput": {
            "content": f"Edited passage {tag}. {_words(tag, 60)}.",
            "instruction": f"Why did they disagree about {_words(tag, 10)}?",
        },
    }
    if name in fields:
        return {**fields[name], "suitable": True, "reason": ""}
    return f"Reasoning step by step ({tag}): the passage says {_words(tag, 25)}."


def write_corpus(directory: Path, documents: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for index in range(documents):
        text = "".join(PARAGRAPH.format(year=1900 + index, cost=index + p) for p in range(3))
        (directory / f"doc{index:05d}.txt").write_text(text)


# -- the server, in its own process ------------------------------------------------------------


def _serve(latency: float, connection: Any) -> None:
    from agentinstruct.testing import OpenAIServer

    with OpenAIServer(responder, latency_s=latency) as server:
        connection.send(server.base_url)
        mark = 0
        while True:
            command = connection.recv()
            if command == "mark":
                mark = len(server.arrivals)
                connection.send(mark)
            elif command == "arrivals":
                connection.send(list(server.arrivals[mark:]))
            elif command == "bodies":  # a spread sample of the requests since the mark
                bodies = server.requests[mark:]
                step = max(1, len(bodies) // 300)
                connection.send(bodies[::step][:300])
            else:
                return


class ServerProcess:
    def __init__(self, latency: float):
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(latency, child), daemon=True)
        self._process.start()
        self.base_url = self._connection.recv()

    def mark(self) -> None:
        self._connection.send("mark")
        self._connection.recv()

    def arrivals(self) -> list[float]:
        self._connection.send("arrivals")
        return self._connection.recv()

    def bodies(self) -> list[dict]:
        self._connection.send("bodies")
        return self._connection.recv()

    def close(self) -> None:
        self._connection.send("stop")
        self._process.join(10)


def steady_rate(arrivals: list[float]) -> float:
    """Requests per second between the 10th and 90th percentile of arrival times."""
    if len(arrivals) < 20:
        return 0.0
    ordered = sorted(arrivals)
    low, high = ordered[len(ordered) // 10], ordered[len(ordered) * 9 // 10]
    count = len(ordered) * 9 // 10 - len(ordered) // 10
    return count / (high - low) if high > low else 0.0


# -- one measurement, in a child process ------------------------------------------------------------


def _child_generate(args: argparse.Namespace) -> dict[str, Any]:
    from agentinstruct.config import RunConfig
    from agentinstruct.pipeline import run

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        write_corpus(corpus, args.documents)
        options: dict[str, Any] = {}
        if args.light:
            options = {"refinement_rounds": 0, "instructions_per_seed": 1}
        config = RunConfig(
            inputs=[str(corpus)],
            out=Path(tmp) / "out",
            base_url=args.base_url,
            model="bench",
            skills=args.skills,
            concurrency=args.concurrency,
            progress=False,
            **options,
        )
        cpu = _usage()["cpu_s"]
        started = time.perf_counter()
        summary = run(config)
        elapsed = time.perf_counter() - started
        cpu = _usage()["cpu_s"] - cpu
    return {
        "requests": summary["accounting"]["this_run"]["calls"],
        "pairs": summary["counters"]["pairs"],
        "elapsed_s": elapsed,
        **_usage(),
        "cpu_s": cpu,
    }


def _child_raw(args: argparse.Namespace) -> dict[str, Any]:
    """The raw client: minimal requests, or (with --bodies) the very requests generate sent, in a loop."""
    import openai

    bodies = json.loads(Path(args.bodies).read_text()) if args.bodies else []

    def arguments(i: int) -> dict[str, Any]:
        if not bodies:
            return {"messages": [{"role": "user", "content": f"question {i}"}], "max_tokens": 64}
        body = bodies[i % len(bodies)]
        keys = ("messages", "temperature", "max_tokens", "seed", "response_format")
        return {key: body[key] for key in keys if key in body}

    async def drive() -> float:
        client = openai.AsyncOpenAI(base_url=args.base_url, api_key="bench", max_retries=0)
        slots = asyncio.Semaphore(args.concurrency)

        async def one(i: int) -> None:
            async with slots:
                await client.chat.completions.create(model="bench", **arguments(i))

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(args.requests)))
        elapsed = time.perf_counter() - started
        await client.close()
        return elapsed

    cpu = _usage()["cpu_s"]
    elapsed = asyncio.run(drive())
    return {
        "requests": args.requests,
        "elapsed_s": elapsed,
        **_usage(),
        "cpu_s": _usage()["cpu_s"] - cpu,
    }


def _usage() -> dict[str, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"peak_rss_mib": usage.ru_maxrss / 1024, "cpu_s": usage.ru_utime + usage.ru_stime}


def measure(server: ServerProcess, kind: str, **options: Any) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; adds the server-side steady rate."""
    command = [sys.executable, __file__, "--child", kind, "--base-url", server.base_url]
    for key, value in options.items():
        if value is True:
            command.append(f"--{key.replace('_', '-')}")
        elif value is not None and value is not False:
            command += [f"--{key.replace('_', '-')}", str(value)]
    server.mark()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the {kind} measurement failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["steady_rps"] = steady_rate(server.arrivals())
    result["overall_rps"] = result["requests"] / result["elapsed_s"]
    result["cpu_ms_per_request"] = 1000 * result["cpu_s"] / max(1, result["requests"])
    return result


def report(latency: float, concurrency: int, documents: int, gen: dict, same: dict, minimal: dict) -> None:
    print(
        f"latency {latency * 1000:.0f} ms, concurrency {concurrency}, {documents} documents "
        f"(ideal {concurrency / latency:.0f} req/s):\n"
        f"  generate            {gen['overall_rps']:6.1f} req/s overall, {gen['steady_rps']:6.1f} steady, "
        f"{gen['pairs'] / gen['elapsed_s']:5.1f} pairs/s ({gen['requests']} requests, {gen['pairs']} pairs "
        f"in {gen['elapsed_s']:.1f} s), peak RSS {gen['peak_rss_mib']:.0f} MiB, "
        f"{gen['cpu_ms_per_request']:.1f} ms CPU per request\n"
        f"  raw, same requests  {same['overall_rps']:6.1f} req/s -> generate/raw "
        f"{gen['overall_rps'] / same['overall_rps']:.2f} overall, "
        f"{gen['steady_rps'] / same['overall_rps']:.2f} steady, {same['cpu_ms_per_request']:.1f} ms CPU per "
        "request\n"
        f"  raw, tiny requests  {minimal['overall_rps']:6.1f} req/s -> generate/raw "
        f"{gen['overall_rps'] / minimal['overall_rps']:.2f} overall, "
        f"{gen['steady_rps'] / minimal['overall_rps']:.2f} steady, "
        f"{minimal['cpu_ms_per_request']:.1f} ms CPU per request",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5, help="seconds the server waits per request")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--documents", type=int, default=0, help="documents (default: enough for ~30 s)")
    parser.add_argument("--skills", default="reading_comprehension")
    parser.add_argument("--rss", type=int, nargs="*", default=None, help="document counts for the RSS runs")
    parser.add_argument("--rss-latency", type=float, default=0.05)
    parser.add_argument("--rss-concurrency", type=int, default=256)
    # child-process options
    parser.add_argument("--child", choices=["generate", "raw"], help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--light", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bodies", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.concurrency = args.concurrency[0]
        result = _child_generate(args) if args.child == "generate" else _child_raw(args)
        print(json.dumps(result))
        return

    if args.rss is None:
        server = ServerProcess(args.latency)
        try:
            for concurrency in args.concurrency:
                # about 16 calls per document; aim at ~30 s of work at the concurrency's ideal rate
                documents = args.documents or max(40, int(30 * concurrency / args.latency / 16))
                gen = measure(
                    server, "generate", concurrency=concurrency, documents=documents, skills=args.skills
                )
                requests = max(gen["requests"], 4 * concurrency)
                with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as sample:
                    json.dump(server.bodies(), sample)
                try:
                    same = measure(
                        server, "raw", concurrency=concurrency, requests=requests, bodies=sample.name
                    )
                finally:
                    Path(sample.name).unlink()
                minimal = measure(server, "raw", concurrency=concurrency, requests=requests)
                report(args.latency, concurrency, documents, gen, same, minimal)
        finally:
            server.close()
    for documents in args.rss or []:
        server = ServerProcess(args.rss_latency)
        try:
            gen = measure(
                server,
                "generate",
                concurrency=args.rss_concurrency,
                documents=documents,
                skills=args.skills,
                light=True,
            )
        finally:
            server.close()
        print(
            f"RSS: {documents} documents, concurrency {args.rss_concurrency}, latency "
            f"{args.rss_latency * 1000:.0f} ms, 1 instruction and no refinement per seed: peak RSS "
            f"{gen['peak_rss_mib']:.0f} MiB ({gen['requests']} requests, {gen['pairs']} pairs, "
            f"{gen['elapsed_s']:.1f} s, {gen['overall_rps']:.0f} req/s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
