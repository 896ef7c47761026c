"""Every export format loaded back by the real libraries (datasets, pyarrow), and the split by document."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from typer import Typer
from typer.testing import CliRunner

from agentinstruct.data_commands import export_command
from agentinstruct.export import ORCA_SPLITS, ExportError, export, to_sharegpt, validation_documents
from quality_fixtures import make_pair, sample_run_json, tool_pair, write_run

datasets = pytest.importorskip("datasets")  # in the dev extra; `pip install 'agentinstruct[hf]'` for users
datasets.disable_progress_bars()


@pytest.fixture
def run_dir(tmp_path):
    pairs = [
        make_pair(
            f"Question {i}: what did the engineers say about the storms?",
            document=f"doc-{i % 7}",
            judge_score=None if i % 3 else 7.0,
            unanswerable=i == 4,
        )
        for i in range(40)
    ]
    pairs += [
        make_pair(
            f"Rewrite sentence {i} formally.", skill="text_modification", instruction_type="paraphrasing"
        )
        for i in range(3)
    ]
    pairs.append(tool_pair())
    return write_run(tmp_path / "run", pairs, [], sample_run_json())


def source_pairs(run_dir) -> dict[str, dict]:
    lines = (run_dir / "pairs.jsonl").read_text().splitlines()
    return {record["id"]: record for record in map(json.loads, lines)}


def check_columns(rows: list[dict], pairs: dict[str, dict]) -> None:
    """Rows loaded from parquet/hf carry the same pairs: ids, messages, tools, lineage, scores."""
    assert sorted(r["id"] for r in rows) == sorted(pairs)
    for row in rows:
        pair = pairs[row["id"]]
        assert [(m["role"], m["content"]) for m in row["messages"]] == [
            (m["role"], m.get("content")) for m in pair["messages"]
        ]
        calls = [json.loads(m["tool_calls"]) if m["tool_calls"] else None for m in row["messages"]]
        assert calls == [m.get("tool_calls") for m in pair["messages"]]
        assert json.loads(row["lineage"]) == pair["lineage"]
        assert (json.loads(row["tools"]) if row["tools"] else None) == pair["tools"]
        assert row["judge_score"] == pair["quality"]["judge_score"]
        assert row["unanswerable"] == pair["unanswerable"]
        assert row["document_id"] == pair["lineage"]["document"]["id"]


def test_jsonl_loads_with_datasets_json(run_dir, tmp_path):
    result = export(run_dir, "jsonl", tmp_path / "jsonl")
    loaded = datasets.load_dataset(
        "json", data_files=str(result.files["train"]), split="train", cache_dir=str(tmp_path / "cache")
    )
    pairs = source_pairs(run_dir)
    assert sorted(loaded["id"]) == sorted(pairs)
    assert [json.loads(line) for line in result.files["train"].read_text().splitlines()] == list(
        pairs.values()
    )


def test_parquet_loads_with_pyarrow_and_datasets(run_dir, tmp_path):
    result = export(run_dir, "parquet", tmp_path / "parquet")
    pairs = source_pairs(run_dir)
    check_columns(pq.read_table(result.files["train"]).to_pylist(), pairs)
    loaded = datasets.load_dataset(
        "parquet", data_files={"train": str(result.files["train"])}, cache_dir=str(tmp_path / "cache")
    )
    check_columns(list(loaded["train"]), pairs)
    # the export's dataset card lets `load_dataset(DIR)` find the files too
    again = datasets.load_dataset(str(tmp_path / "parquet"), cache_dir=str(tmp_path / "cache2"))
    assert again["train"].num_rows == len(pairs)


def test_hf_loads_with_load_from_disk_with_and_without_split(run_dir, tmp_path):
    pairs = source_pairs(run_dir)
    export(run_dir, "hf", tmp_path / "hf")
    whole = datasets.load_from_disk(str(tmp_path / "hf"))
    assert isinstance(whole, datasets.Dataset)
    check_columns(list(whole), pairs)
    result = export(run_dir, "hf", tmp_path / "hf_split", validation_fraction=0.25, seed=3)
    split = datasets.load_from_disk(str(tmp_path / "hf_split"))
    assert isinstance(split, datasets.DatasetDict) and set(split) == {"train", "validation"}
    check_columns([*split["train"], *split["validation"]], pairs)
    assert {s: split[s].num_rows for s in split} == result.rows
    assert not set(split["train"]["document_id"]) & set(split["validation"]["document_id"])


def test_hf_refuses_to_overwrite_a_foreign_directory(run_dir, tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(ExportError, match="not empty"):
        export(run_dir, "hf", target)
    assert (target / "notes.txt").exists()
    export(run_dir, "hf", tmp_path / "again")
    export(run_dir, "hf", tmp_path / "again")  # re-exporting over an earlier export is fine


def test_sharegpt_conversations_and_tool_turns(run_dir, tmp_path):
    result = export(run_dir, "sharegpt", tmp_path / "sharegpt")
    loaded = datasets.load_dataset(
        "json", data_files=str(result.files["train"]), split="train", cache_dir=str(tmp_path / "cache")
    )
    pairs = source_pairs(run_dir)
    assert loaded.num_rows == len(pairs)
    rows = {row["id"]: row for row in map(json.loads, result.files["train"].read_text().splitlines())}
    text_pair = next(p for p in pairs.values() if p["skill"] == "reading_comprehension")
    assert rows[text_pair["id"]]["conversations"] == [
        {"from": "system", "value": text_pair["messages"][0]["content"]},
        {"from": "human", "value": text_pair["messages"][1]["content"]},
        {"from": "gpt", "value": text_pair["messages"][2]["content"]},
    ]
    tool = rows[tool_pair().id]
    assert [t["from"] for t in tool["conversations"]] == ["human", "function_call", "observation", "gpt"]
    assert json.loads(tool["conversations"][1]["value"]) == {
        "name": "get_weather",
        "arguments": {"city": "Oslo"},
    }
    assert json.loads(tool["tools"])[0]["name"] == "get_weather"


def test_sharegpt_keeps_text_said_with_a_call_and_merges_parallel_results():
    calls = [
        {"id": f"c{i}", "type": "function", "function": {"name": "f", "arguments": json.dumps({"x": i})}}
        for i in range(2)
    ]
    record = {
        "id": "p",
        "messages": [
            {"role": "user", "content": "Run f twice."},
            {"role": "assistant", "content": "Calling f.", "tool_calls": calls},
            {"role": "tool", "tool_call_id": "c0", "content": "0"},
            {"role": "tool", "tool_call_id": "c1", "content": "1"},
            {"role": "assistant", "content": "Done."},
        ],
    }
    turns = to_sharegpt(record)["conversations"]
    assert [t["from"] for t in turns] == ["human", "gpt", "function_call", "observation", "gpt"]
    assert json.loads(turns[2]["value"]) == [
        {"name": "f", "arguments": {"x": 0}},
        {"name": "f", "arguments": {"x": 1}},
    ]
    assert turns[3]["value"] == "0\n1"


def test_orca_layout_one_split_per_skill_with_json_messages(run_dir, tmp_path):
    result = export(run_dir, "orca", tmp_path / "orca")
    assert set(result.files) == {"rc", "text_modification", "tool_use"}
    assert result.files["rc"].name == "rc-00000-of-00001.parquet" and result.files["rc"].parent.name == "data"
    loaded = datasets.load_dataset(str(tmp_path / "orca"), cache_dir=str(tmp_path / "cache"))
    assert set(loaded) == {"rc", "text_modification", "tool_use"}
    assert loaded["rc"].column_names == ["messages"] and loaded["rc"].num_rows == 40
    pairs = source_pairs(run_dir)
    by_content = {json.dumps([m.get("content") or "" for m in p["messages"]]): p for p in pairs.values()}
    for split in loaded:
        for row in loaded[split]:
            messages = json.loads(row["messages"])
            pair = by_content[json.dumps([m["content"] for m in messages])]
            assert ORCA_SPLITS.get(pair["skill"], pair["skill"]) == split
            assert [m["role"] for m in messages] == [m["role"] for m in pair["messages"]]
    tool_messages = json.loads(loaded["tool_use"][0]["messages"])
    assert tool_messages[2]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert tool_messages[3]["tool_call_id"] == "call_1"


def test_split_by_document_never_leaks_and_is_deterministic(run_dir, tmp_path):
    first = validation_documents(run_dir, 0.3, seed=5)
    assert first == validation_documents(run_dir, 0.3, seed=5)
    assert any(validation_documents(run_dir, 0.3, seed=s) != first for s in range(1, 6))
    result = export(run_dir, "jsonl", tmp_path / "split", validation_fraction=0.3, seed=5)
    train = [json.loads(line) for line in result.files["train"].read_text().splitlines()]
    validation = [json.loads(line) for line in result.files["validation"].read_text().splitlines()]
    documents = {
        name: {r["lineage"]["document"]["id"] for r in rows}
        for name, rows in (("train", train), ("validation", validation))
    }
    assert not documents["train"] & documents["validation"]
    assert documents["validation"] == first
    total = len(train) + len(validation)
    assert total == len(source_pairs(run_dir)) and 0.2 <= len(validation) / total <= 0.45
    manifest = json.loads((tmp_path / "split" / "export.json").read_text())
    assert manifest["rows"] == {"train": len(train), "validation": len(validation)} and manifest["seed"] == 5


def test_orca_with_a_validation_split(run_dir, tmp_path):
    result = export(run_dir, "orca", tmp_path / "orca", validation_fraction=0.3, seed=1)
    assert "rc_validation" in result.files and "rc" in result.files
    assert pq.read_table(result.files["rc_validation"]).num_rows == result.rows["rc_validation"]


def test_exports_of_a_run_with_no_pairs(tmp_path):
    out = write_run(tmp_path / "empty", [], [], None)
    for fmt in ("jsonl", "parquet", "hf", "sharegpt", "orca"):
        result = export(out, fmt, tmp_path / fmt)
        assert sum(result.rows.values()) == 0
    assert pq.read_table(tmp_path / "parquet" / "data" / "train.parquet").num_rows == 0
    assert datasets.load_from_disk(str(tmp_path / "hf")).num_rows == 0


def test_errors_name_the_fix(run_dir, tmp_path):
    with pytest.raises(ExportError, match="jsonl, parquet, hf, sharegpt, orca"):
        export(run_dir, "csv", tmp_path / "x")
    with pytest.raises(ExportError, match=r"no pairs\.jsonl"):
        export(tmp_path / "nothing", "jsonl", tmp_path / "x")
    with pytest.raises(ExportError, match="validation fraction"):
        export(run_dir, "jsonl", tmp_path / "x", validation_fraction=1.0)


def test_export_command(run_dir, tmp_path):
    app = Typer()
    app.command(name="export")(export_command)
    app.command(name="noop")(lambda: None)
    runner = CliRunner()
    target = tmp_path / "cli"
    result = runner.invoke(app, ["export", str(run_dir), "--format", "orca", "--to", str(target)])
    assert result.exit_code == 0, result.output
    assert "exported 44 pairs as orca" in result.output and (target / "README.md").exists()
    failed = runner.invoke(app, ["export", str(run_dir), "--format", "xml", "--to", str(target)])
    assert failed.exit_code == 1 and "unknown export format" in failed.output
