"""End to end with the real embedded engine (SmolLM2-135M via xllamacpp), in-process and over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentinstruct.cli import app
from agentinstruct.pairs import Pair

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "seeds"
pytestmark = [pytest.mark.local_model, pytest.mark.timeout(600)]

# SmolLM2-135M is a test engine, not a teacher: keep each run short (one instruction per seed, one
# refinement round) and let the pair limit end it. Its output is byte-identical for a fixed seed.
# one skill: the point is the real engine end to end; all 17 skills on SmolLM2 would take ~10 minutes
SMALL_RUN = (
    "skills: reading_comprehension\n"
    "max_tokens: 700\nteacher_max_tokens: 500\ninstructions_per_seed: 1\nrefinement_rounds: 1\n"
    "local_threads: 2\nlocal_slots: 2\nconcurrency: 2\nchunk_chars: 1200\n"
)


def _check_output(out: Path, *, require_pairs: bool = True) -> list[dict]:
    pairs = [json.loads(line) for line in (out / "pairs.jsonl").read_text().splitlines()]
    if require_pairs:
        assert pairs, (out / "rejected.jsonl").read_text()[:2000]
    for record in pairs:
        pair = Pair.model_validate(record)
        assert pair.messages[-1]["role"] == "assistant" and pair.messages[-1]["content"].strip()
        assert Path(pair.lineage.document.source).is_file()
    run = json.loads((out / "run.json").read_text())
    assert run["status"] in ("finished", "finished_max_pairs")
    assert run["llm"][0]["calls"] > 0 and run["llm"][0]["completion_tokens"] > 0
    return pairs


def test_generate_with_the_embedded_model(tmp_path, monkeypatch, smollm2_path):
    monkeypatch.setenv("AGENTINSTRUCT_CACHE", str(tmp_path / "cache"))
    config = tmp_path / "run.yaml"
    config.write_text(SMALL_RUN)
    out = tmp_path / "out"
    args = [
        "generate",
        str(EXAMPLES / "history_of_the_lighthouse.txt"),
        "--out",
        str(out),
        "--model",
        "local:smollm2-135m",
        "--max-pairs",
        "1",
        "--seed",
        "6",  # SmolLM2 declines most seeds; with this run seed it writes a pair (output is deterministic)
        "--config",
        str(config),
        "--no-progress",
    ]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # llama.cpp batches parallel slots, so SmolLM2's output is not reproducible run to run; whether this tiny
    # model writes a usable pair varies, what must hold is a finished run on the real engine with valid output
    pairs = _check_output(out, require_pairs=False)
    assert len(pairs) <= 1
    assert json.loads((out / "run.json").read_text())["llm"][0]["failed_calls"] == 0
    run = json.loads((out / "run.json").read_text())
    assert run["models"][0]["backend"] == "xllamacpp"
    assert run["models"][0]["weights_sha256"].startswith("b179c952")


@pytest.fixture
def own_engine(smollm2_path, model_cache_dir):
    """An engine of this test's own: the run stops at its pair limit and abandons HTTP requests in flight,
    and on the session's shared engine the tests after it then saw replies that ignored their grammar and
    their DRY settings (a JSON string with quotes its pattern forbids), so it is not shared."""
    from agentinstruct.models.local import LocalModel
    from conftest import SMOLLM2

    model = LocalModel(SMOLLM2, slots=2, ctx_per_slot=2048, threads=1, cache_dir=model_cache_dir)
    model.start()
    yield model
    model.close()


def test_generate_against_the_engines_own_http_server(tmp_path, own_engine):
    local_smollm = own_engine
    config = tmp_path / "run.yaml"
    config.write_text(SMALL_RUN)
    out = tmp_path / "out"
    args = [
        "generate",
        str(EXAMPLES / "history_of_the_lighthouse.txt"),
        "--out",
        str(out),
        "--base-url",
        local_smollm.base_url,
        "--model",
        "smollm2",
        "--max-pairs",
        "1",
        "--seed",
        "1",
        "--max-documents",
        "1",
        "--config",
        str(config),
        "--no-progress",
    ]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # every call went over HTTP to the engine; whether SmolLM2 produced a usable pair is its own business
    _check_output(out, require_pairs=False)
    run = json.loads((out / "run.json").read_text())
    assert run["models"][0]["backend"] == "openai"
    assert run["llm"][0]["failed_calls"] == 0
