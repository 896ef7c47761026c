"""The CLI (generate, skills, inspect) end to end against a real OpenAI-compatible server on loopback."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentinstruct.cli import app
from agentinstruct.pairs import Pair
from agentinstruct.testing import OpenAIServer, ServerReply

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "seeds"
runner = CliRunner()


#: words the responder draws from, so that its instructions differ in wording (the quality gate would
#: reject instructions that differ only in a tag as near duplicates)
VOCABULARY = (
    *("river", "lantern", "harvest", "copper", "meadow", "signal", "orbit", "canyon", "ledger", "violet"),
    *("anchor", "summit", "ember", "glacier", "harbor", "prism", "falcon", "quarry", "thistle", "beacon"),
    *("marble", "tundra", "cobalt", "willow", "furnace", "compass", "pebble", "saddle", "orchard", "vessel"),
)


def _words(digest: str, count: int) -> str:
    """`count` vocabulary words chosen by a hex digest."""
    return " ".join(VOCABULARY[int(digest[2 * i : 2 * i + 2], 16) % len(VOCABULARY)] for i in range(count))


def agent_responder(body: dict) -> object:
    """Answers by the structured-output schema the agent asked for; free text for the teacher."""
    user = body["messages"][-1]["content"]
    digest = hashlib.sha256(user.encode()).hexdigest()
    tag = digest[:8]
    schema = (body.get("response_format") or {}).get("json_schema", {}).get("name")
    if schema == "TransformationOutput":
        return {
            "suitable": True,
            "reason": "",
            "content": f"A passage about the seed ({tag}). " + (user.split('"""')[1:2] or [""])[0][:300],
        }
    if schema == "InstructionOutput":
        return {
            "suitable": True,
            "reason": "",
            "instruction": (
                f"Looking closely at what is written, what does it say of {_words(digest, 3)}, "
                f"and why does it tie {_words(digest[6:], 3)} to them in the end? ({tag})"
            ),
        }
    if schema == "SuggestionOutput":
        return {"suitable": True, "reason": "", "suggestion": f"Ask about a detail instead ({tag})."}
    if schema == "EditOutput":
        return {
            "suitable": True,
            "reason": "",
            "content": f"Edited passage ({tag}) on {_words(digest[12:], 10)}, {_words(digest[32:], 10)}.",
            "instruction": (
                f"Reading it once more, why does the writer link {_words(digest[52:], 4)} "
                f"and what follows from that link for the rest of it? ({tag})"
            ),
        }
    return f"Step by step ({tag}): the passage says so in its own words, and the reason follows from it."


def generate(out: Path, server: OpenAIServer, *extra: str, seeds: list[str] | None = None):
    args = [
        "generate",
        *(seeds or [str(EXAMPLES)]),
        "--out",
        str(out),
        "--base-url",
        server.base_url,
        "--model",
        "test-model",
        "--no-progress",
        *extra,
    ]
    return runner.invoke(app, args, catch_exceptions=False)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def server(openai_server: OpenAIServer) -> OpenAIServer:
    openai_server.responder = agent_responder
    return openai_server


def test_generate_writes_valid_pairs_with_real_lineage(server, tmp_path):
    out = tmp_path / "out"
    # reading comprehension: one transformation call per seed that sees the whole span (rag clips sources),
    # or, for identity, the seed's own words without a call
    result = generate(out, server, "--seed", "3", "--concurrency", "4", "--skills", "reading_comprehension")
    assert result.exit_code == 0, result.output
    pairs = read_jsonl(out / "pairs.jsonl")
    assert len(pairs) >= 20
    store = sqlite3.connect(out / "state.sqlite")
    for record in pairs:
        pair = Pair.model_validate(record)
        assert [m["role"] for m in pair.messages] == ["system", "user", "assistant"]
        source = Path(pair.lineage.document.source)
        assert source.is_file()
        assert hashlib.sha256(source.read_bytes()).hexdigest() == pair.lineage.document.sha256
        start, end = pair.lineage.document.span
        assert 0 <= start < end
        # the transformation call really received that span of that document
        first_call = pair.lineage.call_ids[0]
        request = json.loads(
            store.execute("SELECT request FROM calls WHERE key=?", (first_call,)).fetchone()[0]
        )
        if source.suffix in (".md", ".txt", ".rst"):
            span_text = source.read_text()[start:end]
            if pair.lineage.transformation.agent == "identity":  # verbatim: a part of the span, no call
                assert pair.lineage.transformation.content in span_text
            else:
                assert span_text in request["messages"][-1]["content"]
        for call_id in pair.lineage.call_ids:
            assert store.execute("SELECT 1 FROM calls WHERE key=?", (call_id,)).fetchone()
    run = json.loads((out / "run.json").read_text())
    counters = run["counters"]
    assert counters["documents"] == 5 and counters["pairs"] == len(pairs)
    assert sum(counters["pairs_per_instruction_type"].values()) == len(pairs)
    assert run["llm"][0]["calls"] == server.request_count
    assert run["taxonomy_hash"] and run["config"]["seed"] == 3
    rejected = read_jsonl(out / "rejected.jsonl")
    assert any(
        r["reason"] == "no_matching_skill" and r["lineage"]["document"]["source"].endswith("inventory.py")
        for r in rejected
    )


def test_resume_sends_no_completed_call_again_and_writes_nothing_twice(server, tmp_path):
    out = tmp_path / "out"
    assert generate(out, server, "--max-documents", "2").exit_code == 0
    first_pairs = read_jsonl(out / "pairs.jsonl")
    first_requests = server.request_count
    first_llm = json.loads((out / "run.json").read_text())["llm"][0]
    # a request made twice in one run is sent once and then answered from the store ("calls" counts both)
    first_total = first_llm["calls"]
    assert first_total - first_llm["cached_calls"] == first_requests
    assert generate(out, server, "--max-documents", "2").exit_code == 0
    assert server.request_count == first_requests
    assert read_jsonl(out / "pairs.jsonl") == first_pairs
    # lose the unit table (as after a crash mid-unit): the call store still answers everything
    sqlite3.connect(out / "state.sqlite").execute("DELETE FROM units").connection.commit()
    assert generate(out, server, "--max-documents", "2").exit_code == 0
    assert server.request_count == first_requests
    assert read_jsonl(out / "pairs.jsonl") == first_pairs
    run = json.loads((out / "run.json").read_text())
    assert run["llm"][0]["cached_calls"] == run["llm"][0]["calls"] == first_total


def test_max_pairs_and_a_larger_limit_continues(server, tmp_path):
    out = tmp_path / "out"
    assert generate(out, server, "--max-pairs", "3").exit_code == 0
    assert len(read_jsonl(out / "pairs.jsonl")) == 3
    assert json.loads((out / "run.json").read_text())["status"] == "finished_max_pairs"
    assert generate(out, server, "--max-pairs", "7").exit_code == 0
    ids = [p["id"] for p in read_jsonl(out / "pairs.jsonl")]
    assert len(ids) == 7 == len(set(ids))


def test_changed_settings_refuse_to_resume(server, tmp_path):
    out = tmp_path / "out"
    assert generate(out, server, "--max-documents", "1").exit_code == 0
    result = generate(out, server, "--max-documents", "1", "--seed", "99")
    assert result.exit_code == 1
    assert "different settings (seed)" in result.output and "new --out" in result.output
    assert json.loads((out / "run.json").read_text())["status"] == "finished"  # the refused run left it alone


def test_broken_inputs_are_reported_and_the_run_goes_on(server, tmp_path):
    bad = tmp_path / "inputs"
    bad.mkdir()
    (bad / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    (bad / "empty.md").write_text("   \n")
    (bad / "latin.txt").write_bytes("café au lait ".encode("latin-1") * 20)
    (bad / "good.md").write_text((EXAMPLES / "urban_heat_islands.md").read_text())
    out = tmp_path / "out"
    result = generate(out, server, seeds=[str(bad), str(tmp_path / "missing.txt")])
    assert result.exit_code == 0, result.output
    reasons = {r["reason"] for r in read_jsonl(out / "rejected.jsonl")}
    assert {"document:binary", "document:empty", "document:encoding", "document:not_found"} <= reasons
    assert read_jsonl(out / "pairs.jsonl")


def test_server_errors_are_reported_and_a_dead_server_stops_the_run(server, tmp_path):
    server.responder = lambda body: ServerReply(status=500, body={"error": {"message": "boom"}})
    out = tmp_path / "out"
    config = tmp_path / "run.yaml"
    config.write_text("max_retries: 0\n")
    result = generate(
        out, server, "--concurrency", "2", "--config", str(config), "--skills", "reading_comprehension"
    )
    assert result.exit_code == 1
    assert (
        "model calls" in result.output and "failed" in result.output and "re-run to resume" in result.output
    )
    rejected = [r for r in read_jsonl(out / "rejected.jsonl") if r["stage"] != "document"]
    # a transformation agent fails at once; identity (verbatim, no call) fails at the instruction agent
    reasons = {r["reason"] for r in rejected}
    assert "agent_failed:transformation" in reasons
    assert reasons <= {"agent_failed:transformation", "agent_failed:seed_instruction"}
    assert all("HTTP 500: boom" in r["detail"] for r in rejected)
    assert json.loads((out / "run.json").read_text())["status"] == "failed"


def test_malformed_json_is_reasked_through_the_server(server, tmp_path):
    seen: set[str] = set()

    def flaky(body: dict) -> object:
        user = body["messages"][-1]["content"]
        if body.get("response_format") and user not in seen and len(body["messages"]) == 2:
            seen.add(user)
            return "{ this is not json"
        return agent_responder(body)

    server.responder = flaky
    out = tmp_path / "out"
    assert generate(out, server, "--max-documents", "1", "--refinement-rounds", "0").exit_code == 0
    assert read_jsonl(out / "pairs.jsonl")
    reasks = [b for b in server.requests if len(b["messages"]) == 4]
    assert reasks and "could not be used" in reasks[0]["messages"][-1]["content"]


def test_api_key_comes_from_the_named_env_var_and_is_never_stored(server, tmp_path, monkeypatch):
    secret = "sk-test-very-secret-value-123"
    monkeypatch.setenv("MY_SECRET_KEY", secret)
    out = tmp_path / "out"
    assert generate(out, server, "--max-documents", "1", "--api-key-env", "MY_SECRET_KEY").exit_code == 0
    assert server.request_headers[-1]["authorization"] == f"Bearer {secret}"
    for path in out.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path.name
    assert json.loads((out / "run.json").read_text())["config"]["api_key_env"] == "MY_SECRET_KEY"


def test_config_file_rejects_keys_and_sets_options(server, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("api_key: sk-nope\n")
    result = generate(tmp_path / "out", server, "--config", str(config))
    assert result.exit_code == 1 and "environment" in result.output
    config.write_text("refinement_rounds: 0\ninstructions_per_seed: 1\nmax_documents: 1\n")
    out = tmp_path / "out2"
    assert generate(out, server, "--config", str(config)).exit_code == 0
    pairs = read_jsonl(out / "pairs.jsonl")
    assert pairs and all(p["lineage"]["refinement"] == [] for p in pairs)


def test_skills_lists_and_shows_the_taxonomy():
    result = runner.invoke(app, ["skills", "--json"])
    assert result.exit_code == 0
    [skill] = [s for s in json.loads(result.output) if s["name"] == "reading_comprehension"]
    assert set(skill) >= {
        "name",
        "seed_kinds",
        "transformations",
        "instruction_types",
        "refinement_goals",
        "checks",
    }
    assert len(skill["transformations"]) == 9 and len(skill["instruction_types"]) == 43
    assert all(set(t) >= {"name", "intent"} for t in skill["instruction_types"])
    shown = runner.invoke(app, ["skills", "reading_comprehension"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "argument_passage" in shown.output and "make_unanswerable" in shown.output
    assert runner.invoke(app, ["skills", "nope"]).exit_code == 1


def test_python_dash_m_runs_the_same_cli():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "agentinstruct", "skills", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 17


def test_inspect_counts_and_lineage(server, tmp_path):
    out = tmp_path / "out"
    assert generate(out, server, "--max-documents", "1").exit_code == 0
    counts = runner.invoke(app, ["inspect", str(out), "--json"])
    assert counts.exit_code == 0
    data = json.loads(counts.output)
    assert data["pairs"] == len(read_jsonl(out / "pairs.jsonl"))
    pair = read_jsonl(out / "pairs.jsonl")[-1]
    shown = runner.invoke(app, ["inspect", str(out), pair["id"][:10]], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    assert pair["lineage"]["transformation"]["agent"] in shown.output and "teacher" in shown.output
    assert runner.invoke(app, ["inspect", str(out), "ffffffffff"]).exit_code == 1
    assert runner.invoke(app, ["inspect", str(tmp_path / "nothing")]).exit_code == 1


def test_secrets_in_the_environment_do_not_leak_into_run_json(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-appear")
    out = tmp_path / "out"
    assert generate(out, server, "--max-documents", "1").exit_code == 0
    assert "sk-should-not-appear" not in (out / "run.json").read_text()
    assert os.environ["OPENAI_API_KEY"] not in (out / "state.sqlite").read_bytes().decode("latin-1")
