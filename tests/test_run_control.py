"""Run control end to end against the loopback OpenAI-compatible server: accounting and prices, budget and
token ceilings, dry runs, offline replay, shards, error-rate stops, fault injection and the progress view."""

from __future__ import annotations

import io
import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from agentinstruct.cli import app
from agentinstruct.config import RunConfig
from agentinstruct.documents import iter_seeds
from agentinstruct.merging import merge
from agentinstruct.pipeline import RunError, run
from agentinstruct.planning import Planner
from agentinstruct.sharding import Shard, ShardError, output_parts, shard_of
from agentinstruct.skills import load_skills, select_skills
from agentinstruct.testing import FAULTS, FaultPlan, OpenAIServer, ServerReply
from test_cli import EXAMPLES, agent_responder, read_jsonl

pytestmark = pytest.mark.timeout(60)
SKILL = "reading_comprehension"
PRICES = {"test-model": {"input_per_mtok": 2.0, "output_per_mtok": 8.0}}
runner = CliRunner()


@pytest.fixture
def server(openai_server: OpenAIServer) -> OpenAIServer:
    openai_server.responder = agent_responder
    return openai_server


def config(server: OpenAIServer, out: Path, **options) -> RunConfig:
    values = {
        "inputs": [str(EXAMPLES)],
        "out": out,
        "base_url": server.base_url,
        "model": "test-model",
        "skills": SKILL,
        "seed": 4,
        "progress": False,
        **options,
    }
    return RunConfig(**values)


def ids(path: Path) -> set[str]:
    return {record["id"] for record in read_jsonl(path)} if path.exists() else set()


def cli(out: Path, server: OpenAIServer, *extra: str, seeds: list[str] | None = None):
    args = [
        "generate",
        *(seeds or [str(EXAMPLES)]),
        "--out",
        str(out),
        "--base-url",
        server.base_url,
        "--model",
        "test-model",
        "--skills",
        SKILL,
        "--seed",
        "4",
        "--no-progress",
        *extra,
    ]
    return runner.invoke(app, args, catch_exceptions=False)


def price_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(
        "prices:\n  test-model: {input_per_mtok: 2.0, output_per_mtok: 8.0}\n" + extra, encoding="utf-8"
    )
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """One uninterrupted run with prices, for comparisons."""
    out = tmp_path_factory.mktemp("reference") / "out"
    with OpenAIServer(agent_responder) as server:
        summary = run(config(server, out, prices=PRICES))
        return {
            "out": out,
            "summary": summary,
            "requests": server.request_count,
            "pairs": ids(out / "pairs.jsonl"),
        }


# -- accounting ----------------------------------------------------------------------------------------------


def test_run_json_accounts_tokens_and_cost_per_model_skill_and_stage(reference):
    summary = reference["summary"]
    accounting = summary["accounting"]
    this_run = accounting["this_run"]
    assert this_run["calls"] == reference["requests"] == summary["llm"][0]["calls"]
    assert this_run["prompt_tokens"] == summary["llm"][0]["prompt_tokens"] > 0
    expected = (this_run["prompt_tokens"] * 2.0 + this_run["completion_tokens"] * 8.0) / 1e6
    assert this_run["cost_usd"] == pytest.approx(expected, rel=1e-6) and accounting["priced"]
    assert set(accounting["by_stage"]) == {"transform", "instruct", "refine", "teacher"}
    assert sum(s["calls"] for s in accounting["by_stage"].values()) == this_run["calls"]
    assert accounting["by_skill"][SKILL]["cost_usd"] == pytest.approx(this_run["cost_usd"], rel=1e-6)
    assert accounting["models"]["test-model"]["price"] == PRICES["test-model"]
    assert f"{SKILL}/teacher" in accounting["by_skill_stage"]
    assert summary["throughput"]["pairs_per_s"] > 0 and summary["control"]["error_rate"] == 0


def test_a_resumed_run_spends_nothing_and_the_store_total_is_kept(reference, tmp_path):
    with OpenAIServer(agent_responder) as server:
        out = tmp_path / "out"
        first = run(config(server, out, prices=PRICES))
        sqlite3.connect(out / "state.sqlite").execute("DELETE FROM units").connection.commit()
        again = run(config(server, out, prices=PRICES))
    assert again["accounting"]["this_run"]["calls"] == 0 and again["accounting"]["this_run"]["cost_usd"] == 0
    assert again["accounting"]["total"] == first["accounting"]["total"]
    by_stage = again["accounting"]["by_skill_stage"]
    assert sum(v["cached_calls"] for v in by_stage.values()) == first["accounting"]["this_run"]["calls"]


# -- ceilings ------------------------------------------------------------------------------------------------


def test_budget_stops_cleanly_and_a_higher_budget_finishes_with_the_same_pairs(reference, server, tmp_path):
    out = tmp_path / "out"
    total_cost = reference["summary"]["accounting"]["this_run"]["cost_usd"]
    budget = f"{total_cost / 3:.6f}"
    settings = str(price_file(tmp_path))
    result = cli(out, server, "--config", settings, "--budget-usd", budget, "--concurrency", "2")
    assert result.exit_code == 3, result.output
    assert "stopped: budget of $" in result.output and "higher --budget-usd" in result.output
    summary = json.loads((out / "run.json").read_text())
    assert summary["status"] == "stopped" and summary["stop"]["kind"] == "budget_usd"
    spent = summary["accounting"]["total"]["cost_usd"]
    # it stops once what was spent plus the expected cost of the calls in flight reaches the budget
    assert 0.8 * float(budget) <= spent <= 1.1 * float(budget)
    assert 0 < summary["counters"]["units_done"] < summary["counters"]["units_planned"]
    first_requests = server.request_count
    kept = ids(out / "pairs.jsonl")
    assert kept and kept < reference["pairs"]
    # the same ceiling: it holds across runs (at most the odd call that still fits is sent)
    again = cli(out, server, "--config", settings, "--budget-usd", budget, "--concurrency", "2")
    assert again.exit_code == 3 and server.request_count - first_requests <= 2
    assert json.loads((out / "run.json").read_text())["accounting"]["total"]["cost_usd"] <= 1.1 * float(
        budget
    )
    # a higher one continues to the end: exactly the calls and pairs of an uninterrupted run
    done = cli(out, server, "--config", str(price_file(tmp_path)), "--budget-usd", "100")
    assert done.exit_code == 0, done.output
    assert server.request_count == reference["requests"]  # nothing sent twice, in flight or not
    assert ids(out / "pairs.jsonl") == reference["pairs"]
    assert json.loads((out / "run.json").read_text())["status"] == "finished"


def test_budget_without_prices_is_refused_with_the_fix(server, tmp_path):
    result = cli(tmp_path / "out", server, "--budget-usd", "1")
    assert result.exit_code == 1
    assert "needs a price for test-model" in result.output and "input_per_mtok" in result.output
    assert server.request_count == 0


def test_max_total_tokens_stops_and_resumes_to_the_same_pairs(reference, server, tmp_path):
    out = tmp_path / "out"
    tokens = reference["summary"]["accounting"]["this_run"]
    ceiling = (tokens["prompt_tokens"] + tokens["completion_tokens"]) // 2
    summary = run(config(server, out, max_total_tokens=ceiling, concurrency=2))
    assert summary["status"] == "stopped" and summary["stop"]["kind"] == "max_total_tokens"
    assert "higher --max-total-tokens" in summary["stop"]["message"]
    # the run stops once spent + the expected tokens of the calls in flight reach the ceiling, so it can
    # end a little under it when those calls were shorter than average
    assert (
        0.9 * ceiling
        <= summary["accounting"]["total"]["prompt_tokens"]
        + summary["accounting"]["total"]["completion_tokens"]
        < ceiling * 1.2
    )
    finished = run(config(server, out, max_total_tokens=ceiling * 10))
    assert finished["status"] == "finished"
    assert ids(out / "pairs.jsonl") == reference["pairs"] and server.request_count == reference["requests"]


# -- dry run -------------------------------------------------------------------------------------------------


def test_dry_run_samples_a_few_units_and_estimates_the_whole_run(reference, server, tmp_path):
    out = tmp_path / "out"
    result = cli(out, server, "--config", str(price_file(tmp_path)), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run" in result.output and "whole run (estimate)" in result.output
    assert not (out / "pairs.jsonl").exists() and not (out / "state.sqlite").exists()
    estimate = json.loads((out / "dry-run" / "estimate.json").read_text())
    actual = reference["summary"]["accounting"]["this_run"]
    units = reference["summary"]["counters"]["units_planned"]
    assert estimate["sample"]["units"] == 5 and estimate["estimate"]["units"] == units
    assert server.request_count == estimate["sample"]["calls"] < actual["calls"]
    assert 0.6 * actual["calls"] <= estimate["estimate"]["calls"] <= 1.5 * actual["calls"]
    assert 0.6 * actual["cost_usd"] <= estimate["estimate"]["cost_usd"] <= 1.5 * actual["cost_usd"]
    assert estimate["estimate"]["wall_s"] > 0
    # the sample's output is there to look at, and the real run starts from scratch
    assert read_jsonl(out / "dry-run" / "pairs.jsonl")
    assert cli(out, server).exit_code == 0
    assert ids(out / "pairs.jsonl") == reference["pairs"]


# -- offline replay ------------------------------------------------------------------------------------------


def test_offline_replays_from_the_store_and_names_what_is_missing(reference, tmp_path):
    out = tmp_path / "out"
    with OpenAIServer(agent_responder) as server:
        dead = config(server, out, max_documents=2)
        first = run(dead)
        sent = server.request_count
    # the server is gone: replaying what the store has needs no model at all
    sqlite3.connect(out / "state.sqlite").execute("DELETE FROM units").connection.commit()
    replay = run(dead.model_copy(update={"offline": True}))
    assert replay["status"] == "finished" and replay["accounting"]["this_run"]["calls"] == 0
    assert replay["counters"]["pairs"] == first["counters"]["pairs"]

    # more documents than the store covers: a clear error, listing what is missing
    def unit_rejections() -> int:
        """Rejections of units that asked the model (a seed too short for verbatim identity needs none)."""
        rejected = read_jsonl(out / "rejected.jsonl")
        return sum(r["stage"] != "document" and bool(r["lineage"].get("call_ids")) for r in rejected)

    rejected_before = unit_rejections()
    full = dead.model_copy(update={"offline": True, "max_documents": None})
    with pytest.raises(RunError) as error:
        run(full)
    message = str(error.value)
    assert "--offline" in message and "not in the call store" in message
    assert f"{SKILL}/transform" in message and "re-run without --offline" in message
    summary = json.loads((out / "run.json").read_text())
    assert summary["status"] == "failed" and summary["control"]["offline_missing"]
    assert summary["counters"]["units_offline_missing"] > 0
    assert unit_rejections() == rejected_before  # no premature rejections
    # with the model back, the open units run and the result is the full run's
    with OpenAIServer(agent_responder) as server:
        done = run(config(server, out))
        assert done["status"] == "finished" and server.request_count == reference["requests"] - sent
    assert ids(out / "pairs.jsonl") == reference["pairs"]


def test_offline_through_the_cli_exits_non_zero_with_the_fix(server, tmp_path):
    result = cli(tmp_path / "out", server, "--offline", "--max-documents", "1")
    assert result.exit_code == 1 and "not in the call store" in result.output
    assert server.request_count == 0


# -- shards --------------------------------------------------------------------------------------------------


def test_shard_of_is_a_stable_uniform_partition():
    assert shard_of("document-1", 4) == shard_of("document-1", 4)
    assert [shard_of(f"doc{i}", 1) for i in range(5)] == [0] * 5
    assert shard_of("abc", 7) == int.from_bytes(__import__("hashlib").sha256(b"abc").digest()[:8], "big") % 7
    counts = Counter(shard_of(f"doc{i}", 4) for i in range(4000))
    assert set(counts) == {0, 1, 2, 3} and min(counts.values()) > 900
    assert Shard.parse(" 2/8 ") == Shard(2, 8) and str(Shard(2, 8)) == "2/8"
    for bad in ("3/3", "x", "1/0", "-1/2"):
        with pytest.raises(ShardError):
            Shard.parse(bad)
    skills = select_skills(load_skills([]), SKILL)
    world = 3

    def keys(shard: Shard | None) -> list[str]:
        planner = Planner(skills, shard)
        return [key for item in iter_seeds([str(EXAMPLES)]) for _, _, key in planner.plan(item).units]

    sharded = [key for rank in range(world) for key in keys(Shard(rank, world))]
    whole = keys(None)
    assert sorted(sharded) == sorted(whole) and len(set(sharded)) == len(whole)


def test_shards_run_independently_and_together_make_the_unsharded_run(reference, server, tmp_path):
    out = tmp_path / "out"
    world = 3
    seen: set[str] = set()
    for rank in range(world):
        result = cli(out, server, "--shard", f"{rank}/{world}")
        assert result.exit_code == 0, result.output
        part = out / "shards" / f"{rank}-of-{world}"
        assert {p.name for p in part.iterdir()} >= {
            "pairs.jsonl",
            "rejected.jsonl",
            "run.json",
            "state.sqlite",
        }
        shard_ids = ids(part / "pairs.jsonl")
        assert not shard_ids & seen
        seen |= shard_ids
        assert json.loads((part / "run.json").read_text())["shard"] == f"{rank}/{world}"
    assert seen == reference["pairs"] and server.request_count == reference["requests"]
    assert not (out / "pairs.jsonl").exists() and len(output_parts(out)) == world
    counts = json.loads(runner.invoke(app, ["inspect", str(out), "--json"]).output)
    assert counts["pairs"] == len(reference["pairs"]) and counts["status"] == "finished"
    any_id = next(iter(seen))
    assert runner.invoke(app, ["inspect", str(out), any_id[:12]]).exit_code == 0
    # mixing layouts or world sizes is refused
    assert "holds a sharded run" in cli(out, server).output
    assert "world size 3, not 2" in cli(out, server, "--shard", "0/2").output
    merged = runner.invoke(app, ["merge", str(out)])
    assert merged.exit_code == 0, merged.output
    assert ids(out / "pairs.jsonl") == reference["pairs"]
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["status"] == "merged" and run_json["counters"]["pairs"] == len(reference["pairs"])
    assert json.loads(runner.invoke(app, ["inspect", str(out), "--json"]).output)["pairs"] == len(seen)


def test_merge_refuses_missing_shards(server, tmp_path):
    out = tmp_path / "out"
    assert cli(out, server, "--shard", "0/2", "--max-documents", "1").exit_code == 0
    with pytest.raises(ShardError, match=r"shards \[1\] of 2 have not run"):
        merge(out)
    assert merge(out, allow_unfinished=True)["status"] == "merged_partial"


# -- error stops ---------------------------------------------------------------------------------------------


def test_a_high_error_rate_stops_the_run_cleanly(server, tmp_path):
    count = Counter()

    def flaky(body: dict) -> object:
        count["n"] += 1
        if count["n"] % 10 < 7:  # 70% of the calls fail, never 20 in a row
            return ServerReply(status=500, body={"error": {"message": "overloaded backend"}})
        return agent_responder(body)

    server.responder = flaky
    # any 10 calls in a row hold 7 failures, so the stop does not depend on how many calls a run makes
    # (with a window of 30, a loaded machine once finished the run in fewer calls, exit 0)
    options = "max_retries: 0\nerror_rate_window: 10\nmax_error_rate: 0.5\n"
    result = cli(
        tmp_path / "out", server, "--config", str(price_file(tmp_path, options)), "--concurrency", "2"
    )
    assert result.exit_code == 1
    assert "of the last 10 model calls failed" in result.output and "re-run to resume" in result.output
    summary = json.loads((tmp_path / "out" / "run.json").read_text())
    assert summary["status"] == "failed" and summary["stop"]["kind"] == "error_rate"
    assert summary["counters"]["units_unfinished"] > 0  # it stopped early, and what is open stays open
    assert summary["control"]["failed_calls_per_stage"]


@pytest.mark.timeout(60)
def test_every_planned_unit_ends_as_pairs_or_a_rejection_under_random_faults(tmp_path):
    plan = FaultPlan.uniform(0.2, seed=3, retry_after_s=0.05, hang_s=3)
    with OpenAIServer(agent_responder, faults=plan, latency_s=0.002) as server:
        summary = run(
            config(
                server,
                tmp_path / "out",
                request_timeout_s=0.5,
                max_retries=3,
                concurrency=8,
                max_error_rate=0.9,
            )
        )
    assert set(FAULTS) <= set(server.faults_injected), server.faults_injected
    counters = summary["counters"]
    assert summary["status"] == "finished"
    assert counters["units_done"] == counters["units_planned"] > 10 and counters["units_unfinished"] == 0
    skills = select_skills(load_skills([]), SKILL)
    planner = Planner(skills)
    planned = {key for item in iter_seeds([str(EXAMPLES)]) for _, _, key in planner.plan(item).units}
    assert len(planned) == counters["units_planned"]

    def unit_of(record: dict) -> str | None:
        document = record.get("lineage", {}).get("document", {})
        if "id" not in document:
            return None
        return f"{record.get('skill')}:{document['id']}:{document['span'][0]}-{document['span'][1]}"

    out = tmp_path / "out"
    pairs = read_jsonl(out / "pairs.jsonl")
    rejections = read_jsonl(out / "rejected.jsonl")
    ended = {unit_of(r) for r in pairs} | {unit_of(r) for r in rejections}
    assert planned <= ended, planned - ended
    assert all(r["reason"] and r.get("detail") is not None for r in rejections)
    llm = summary["llm"][0]
    assert llm["retries"] > 0 and llm["timeouts"] > 0 and llm["rate_limited"] > 0


# -- progress ------------------------------------------------------------------------------------------------


def test_progress_prints_status_lines_and_renders_the_stage_table(server, tmp_path, capsys):
    server.latency_s = 0.01
    summary = run(config(server, tmp_path / "out", progress=True, progress_interval_s=0.1, max_documents=2))
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("docs ")]
    assert lines and "pairs" in lines[-1] and "in flight" in lines[-1] and "teacher" in lines[-1]
    assert summary["status"] == "finished"

    from agentinstruct.progress import RunMonitor

    class Writer:
        pair_count, new_pairs, rejections = 3, 2, Counter(x=1)

    class Counters:
        documents = documents_rejected = seeds = units_running = units_done = units_failed = 1
        units_skipped_resume = 0

    monitor = RunMonitor(Counters(), Writer(), [], enabled=False, console=Console(file=io.StringIO()))
    console = Console(file=io.StringIO(), width=160, record=True)
    console.print(monitor.renderable())
    text = console.export_text()
    assert all(stage in text for stage in ("transform", "instruct", "refine", "teacher"))
    assert "concurrency" in text and "pairs 3" in text


# -- durability ----------------------------------------------------------------------------------------------


def test_durable_shares_one_fsync_among_concurrent_waiters(tmp_path, monkeypatch):
    import asyncio
    import os

    from agentinstruct.pairs import Rejection
    from agentinstruct.writers import OutputWriter

    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    writer = OutputWriter(tmp_path)

    async def scenario() -> None:
        for i in range(50):
            writer.reject(Rejection(id=f"r{i}", stage="test", reason="x"))
        await asyncio.gather(*(writer.durable() for _ in range(50)))
        assert len(synced) <= 4  # one fsync per file, at most two rounds, for 50 waiters
        before = len(synced)
        await writer.durable()  # nothing new written: no fsync
        assert len(synced) == before

    asyncio.run(scenario())
    writer.close()
    assert len(read_jsonl(tmp_path / "rejected.jsonl")) == 50
