"""Throughput and peak memory of dedup and decontamination on synthetic pairs (default 100k).

    python bench/bench_quality.py [--pairs 100000] [--benchmark-items 10000] [--num-perm 128]

Pairs look like reading-comprehension items: a ~150-word passage shared by five questions of ~20 words,
and a ~80-word answer; 3% are planted near duplicates (one word changed) and 2% exact duplicates (re-cased),
1% quote a benchmark item. Each measurement runs in a fresh child process so that peak RSS (getrusage)
is its own; "index MB" is the RSS growth from just before building the index to the end of the run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

VOCABULARY = 30_000


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Corpus:
    """Deterministic synthetic text from a Zipf-distributed vocabulary."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.words = np.array([f"w{i}" for i in range(VOCABULARY)])

    def text(self, length: int) -> str:
        ranks = np.minimum(self.rng.zipf(1.2, size=length), VOCABULARY) - 1
        return " ".join(self.words[ranks])

    def benchmark_items(self, count: int) -> list[str]:
        return [self.text(60) for _ in range(count)]

    def pairs(self, count: int, benchmark: list[str]) -> list[tuple[str, str, str, str, str, bool]]:
        """(id, user text, task, answer, planted duplicate kind or "", quotes a benchmark item) tuples."""
        passages = [self.text(150) for _ in range(count // 5 + 1)]
        rows: list[tuple[str, str, str, str, str, bool]] = []
        for index in range(count):
            roll = self.rng.random()
            if rows and roll < 0.05:  # a copy of an earlier item: one word changed (3%) or re-cased (2%)
                _, user, task, answer, _, quotes = rows[int(self.rng.integers(len(rows)))]
                if roll < 0.03:
                    words = task.split()
                    words[int(self.rng.integers(len(words)))] = "changed"
                    edited = " ".join(words)
                    rows.append((f"p{index}", user.replace(task, edited), edited, answer, "near", quotes))
                else:
                    rows.append((f"p{index}", user.upper(), task.upper(), answer, "exact", quotes))
                continue
            task, answer = self.text(20), self.text(80)
            quotes = bool(benchmark) and roll < 0.06
            if quotes:
                answer += " " + benchmark[int(self.rng.integers(len(benchmark)))]
            rows.append((f"p{index}", f"{passages[index // 5]}\n\n{task}", task, answer, "", quotes))
        return rows


def bench_dedup(args) -> dict:
    from agentinstruct.quality.dedup import DedupItem, Deduplicator
    from agentinstruct.quality.settings import DedupSettings

    rows = Corpus(args.seed).pairs(args.pairs, [])
    before = rss_mb()
    dedup = Deduplicator(DedupSettings(num_perm=args.num_perm))
    found = {"exact": 0, "near": 0}
    false_positives = 0
    started = time.perf_counter()
    for pair_id, user, task, _, planted, _ in rows:
        item = DedupItem(pair_id, "reading_comprehension", user, task)
        duplicate = dedup.check_item(item)
        if duplicate is None:
            dedup.add_item(item)
        else:
            found[duplicate.kind] += 1
            false_positives += not planted
    seconds = time.perf_counter() - started
    return {
        "phase": "dedup",
        "pairs": len(rows),
        "seconds": round(seconds, 2),
        "pairs_per_s": round(len(rows) / seconds),
        "planted_exact": sum(r[4] == "exact" for r in rows),
        "found_exact": found["exact"],
        "planted_near": sum(r[4] == "near" for r in rows),
        "found_near": found["near"],
        "false_positives": false_positives,
        "bands x rows": f"{dedup.bands} x {dedup.rows}",
        "index_mb": round(rss_mb() - before, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def bench_decontamination(args) -> dict:
    from agentinstruct.quality.decontamination import BenchmarkIndex

    corpus = Corpus(args.seed)
    items = corpus.benchmark_items(args.benchmark_items)
    rows = corpus.pairs(args.pairs, items)
    before = rss_mb()
    started = time.perf_counter()
    index = BenchmarkIndex()
    index.add_texts("synthetic-benchmark", items)
    ngrams = index.ngrams
    build_seconds = time.perf_counter() - started
    started = time.perf_counter()
    found = missed = false_positives = 0
    for _, user, _, answer, _, quotes in rows:
        messages = [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
        hit = index.check_messages(messages) is not None
        found += hit and quotes
        missed += quotes and not hit
        false_positives += hit and not quotes
    seconds = time.perf_counter() - started
    return {
        "phase": "decontamination",
        "pairs": len(rows),
        "benchmark_items": len(items),
        "benchmark_ngrams": ngrams,
        "build_seconds": round(build_seconds, 2),
        "seconds": round(seconds, 2),
        "pairs_per_s": round(len(rows) / seconds),
        "contaminated_found": found,
        "missed": missed,
        "false_positives": false_positives,
        "index_mb": round(rss_mb() - before, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--benchmark-items", type=int, default=10_000)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--phase", choices=["dedup", "decontamination"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        run = bench_dedup if args.phase == "dedup" else bench_decontamination
        print(json.dumps(run(args)))
        return
    for phase in ("dedup", "decontamination"):
        command = [sys.executable, __file__, "--phase", phase, *sys.argv[1:]]
        result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        print("  ".join(f"{key}={value}" for key, value in result.items()))


if __name__ == "__main__":
    main()
