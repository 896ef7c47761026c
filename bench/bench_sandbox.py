"""Per-run overhead of the code sandbox against a bare interpreter (`python -I -c pass`).

Run: python bench/bench_sandbox.py [--runs N]. Prints mean/median wall time of each and the difference.
The sandbox's one-off self-test is timed separately and excluded from the per-run figures.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from agentinstruct.tools.sandbox import BubblewrapSandbox


def time_interleaved(runs: int, **candidates) -> dict[str, list[float]]:
    """Wall-clock milliseconds of each candidate, alternating them so load drift hits both alike."""
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for once in candidates.values():
        once()  # warm-up
    for _ in range(runs):
        for name, once in candidates.items():
            started = time.perf_counter()
            once()
            samples[name].append((time.perf_counter() - started) * 1000)
    return samples


def report(label: str, mean_ms: float, median_ms: float) -> None:
    """One aligned line of figures."""
    print(f"{label:<38} mean {mean_ms:7.1f} ms   median {median_ms:7.1f} ms")


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="runs per measurement (default 30)")
    runs = parser.parse_args().runs

    started = time.perf_counter()
    sandbox = BubblewrapSandbox()
    sandbox.ensure_ready()
    print(f"{'self-test (once per process)':<38} {(time.perf_counter() - started) * 1000:7.1f} ms")

    def bare() -> None:
        subprocess.run([sys.executable, "-I", "-c", "pass"], check=True)

    def sandboxed() -> None:
        result = sandbox.run("pass")
        assert result.exit_code == 0, result.stderr

    samples = time_interleaved(runs, bare=bare, sandboxed=sandboxed)
    bare_ms, boxed_ms = samples["bare"], samples["sandboxed"]
    report("bare interpreter (python -I -c pass)", statistics.mean(bare_ms), statistics.median(bare_ms))
    report("sandboxed run of 'pass'", statistics.mean(boxed_ms), statistics.median(boxed_ms))
    overhead = [boxed - bare for boxed, bare in zip(boxed_ms, bare_ms, strict=True)]
    report(f"sandbox overhead per run ({runs} pairs)", statistics.mean(overhead), statistics.median(overhead))
    sandbox.close()


if __name__ == "__main__":
    main()
