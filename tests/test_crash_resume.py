"""Crash safety and determinism: `generate` killed with SIGKILL at several points, then resumed, ends with
exactly the pairs of an uninterrupted run, nothing written twice and no completed LLM call sent again."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from agentinstruct.config import RunConfig
from agentinstruct.pipeline import run
from agentinstruct.testing import OpenAIServer
from test_cli import EXAMPLES, agent_responder

SKILL = "reading_comprehension"


def digest(messages: list, seed: object) -> str:
    """What identifies a request on both sides: its messages and sampling seed."""
    return hashlib.sha256(json.dumps([messages, seed], sort_keys=True).encode()).hexdigest()


def stored_digests(out: Path) -> Counter[str]:
    path = out / "state.sqlite"
    if not path.exists():
        return Counter()
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT request FROM calls").fetchall()
    finally:
        db.close()
    return Counter(digest(r["messages"], r.get("seed")) for r in (json.loads(row[0]) for row in rows))


def sent_digests(server: OpenAIServer, start: int, end: int | None = None) -> Counter[str]:
    """Requests the server received (a body cut off by the kill arrives empty and is left out)."""
    bodies = server.requests[start:end]
    return Counter(digest(b["messages"], b.get("seed")) for b in bodies if "messages" in b)


def jsonl_ids(path: Path) -> list[str]:
    """Ids of the complete lines (a torn last line is what a crash may leave; the next run repairs it)."""
    if not path.exists():
        return []
    ids = []
    for line in path.read_bytes().splitlines(keepends=True):
        if line.endswith(b"\n"):
            ids.append(json.loads(line)["id"])
    return ids


def command(out: Path, server: OpenAIServer) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from agentinstruct.cli import main; main()",
        "generate",
        str(EXAMPLES),
        "--out",
        str(out),
        "--base-url",
        server.base_url,
        "--model",
        "test-model",
        "--skills",
        SKILL,
        "--seed",
        "11",
        "--concurrency",
        "4",
        "--no-progress",
    ]


def run_until(
    out: Path, server: OpenAIServer, stop_when: Callable[[], bool] | None, sig: int = signal.SIGKILL
) -> tuple[int, str]:
    """Run generate in a subprocess and send it `sig` as soon as `stop_when()` holds: (exit code, output)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("OPENAI_API_KEY", None)
    process = subprocess.Popen(
        command(out, server), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        while process.poll() is None:
            if stop_when is not None and stop_when():
                process.send_signal(sig)
                stop_when = None
            time.sleep(0.002)
        return process.returncode, process.stdout.read() if process.stdout else ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


@pytest.mark.timeout(120)
def test_sigkill_at_several_points_then_resume_matches_an_uninterrupted_run(tmp_path):
    with OpenAIServer(agent_responder, latency_s=0.03) as server:
        # the reference: one uninterrupted run (in-process, same settings)
        reference = tmp_path / "reference"
        config = RunConfig(
            inputs=[str(EXAMPLES)],
            out=reference,
            base_url=server.base_url,
            model="test-model",
            skills=SKILL,
            seed=11,
            concurrency=4,
            progress=False,
        )
        run(config)
        reference_requests = sent_digests(server, 0)
        reference_pairs = set(jsonl_ids(reference / "pairs.jsonl"))
        reference_rejections = set(jsonl_ids(reference / "rejected.jsonl"))
        assert len(reference_pairs) >= 40 and sum(reference_requests.values()) >= 200
        assert max(reference_requests.values()) == 1  # every request of a run is distinct

        out = tmp_path / "out"
        pairs_path = out / "pairs.jsonl"
        kill, term = signal.SIGKILL, signal.SIGTERM
        stops: list[tuple[Callable[[int], Callable[[], bool]] | None, int]] = [
            (lambda start: lambda: server.request_count - start >= 12, kill),  # first transformations
            (lambda start: lambda: len(jsonl_ids(pairs_path)) >= 15, kill),  # after some pairs
            (lambda start: lambda: server.request_count - start >= 40, term),  # a clean stop mid-run
            (lambda start: lambda: server.request_count - start >= 30, kill),  # mid-run
            (
                lambda start: lambda: len(jsonl_ids(pairs_path)) >= len(reference_pairs) - 5,
                kill,
            ),  # near the end
            (None, 0),  # to the end
        ]
        sent_again: Counter[str] = Counter()
        in_flight_at_kills = 0
        for make_condition, sig in stops:
            before = stored_digests(out)
            start = server.request_count
            code, output = run_until(out, server, make_condition(start) if make_condition else None, sig)
            sent = sent_digests(server, start)
            after = stored_digests(out)
            # no call that was already answered (in the store) was sent again
            sent_again += Counter({d: n for d, n in sent.items() if d in before})
            # calls sent and not stored were in flight when the process died
            lost = sum(sent.values()) - sum((after - before).values())
            if sig == kill:
                assert code == -signal.SIGKILL, output
                assert 0 <= lost <= 4 * 2, lost  # at most the concurrency (and its re-asks)
                in_flight_at_kills += lost
            elif sig == term:  # SIGTERM: a clean stop, the calls in flight land in the store
                assert code == 130 and "interrupted by SIGTERM" in output and "resume" in output, output
                assert lost == 0
                summary = json.loads((out / "run.json").read_text())
                assert summary["status"] == "stopped" and summary["stop"]["kind"] == "interrupted"
            else:
                assert code == 0 and lost == 0, output
        assert not sent_again, f"completed calls sent again: {sum(sent_again.values())}"

    # every call of the uninterrupted run was made, each answered once into the store
    assert stored_digests(out) == reference_requests
    total_sent = sum(sent_digests(server, sum(reference_requests.values())).values())
    assert total_sent == sum(reference_requests.values()) + in_flight_at_kills
    # the same pairs and rejections, none written twice
    ids = jsonl_ids(pairs_path)
    assert len(ids) == len(set(ids)) and set(ids) == reference_pairs
    rejection_ids = jsonl_ids(out / "rejected.jsonl")
    assert len(rejection_ids) == len(set(rejection_ids)) and set(rejection_ids) == reference_rejections
    summary = json.loads((out / "run.json").read_text())
    assert summary["status"] == "finished" and summary["counters"]["units_unfinished"] == 0
    assert summary["counters"]["pairs"] == len(reference_pairs)


@pytest.mark.timeout(60)
def test_a_torn_last_line_is_repaired_and_the_unit_redone_from_the_call_store(tmp_path):
    with OpenAIServer(agent_responder) as server:
        config = RunConfig(
            inputs=[str(EXAMPLES / "urban_heat_islands.md")],
            out=tmp_path / "out",
            base_url=server.base_url,
            model="test-model",
            skills=SKILL,
            progress=False,
        )
        run(config)
        pairs_path = config.out / "pairs.jsonl"
        ids = jsonl_ids(pairs_path)
        sent = server.request_count
        # a crash mid-write: the last pair half on disk, its unit not recorded as finished
        lines = pairs_path.read_bytes().splitlines(keepends=True)
        pairs_path.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
        db = sqlite3.connect(config.out / "state.sqlite")
        db.execute("DELETE FROM units")
        db.commit()
        db.close()
        summary = run(config)
        assert server.request_count == sent
    assert jsonl_ids(pairs_path) == ids
    assert all(line.endswith(b"\n") for line in pairs_path.read_bytes().splitlines(keepends=True))
    assert summary["counters"]["pairs_this_run"] == 1 and summary["counters"]["duplicate_pairs_skipped"] >= 1


@pytest.mark.timeout(60)
def test_seeded_runs_are_deterministic_whatever_the_concurrency(tmp_path):
    """The same seed gives the same pairs with 1 or 16 calls in flight (scheduling order does not matter)."""
    ids = []
    with OpenAIServer(agent_responder) as server:
        for concurrency in (1, 16):
            out = tmp_path / f"c{concurrency}"
            config = RunConfig(
                inputs=[str(EXAMPLES)],
                out=out,
                base_url=server.base_url,
                model="test-model",
                skills=SKILL,
                seed=5,
                concurrency=concurrency,
                progress=False,
            )
            run(config)
            ids.append(sorted(jsonl_ids(out / "pairs.jsonl")))
    assert ids[0] == ids[1] and len(ids[0]) >= 40
