"""Row layouts of the export formats: a pair record as a Parquet/Hugging Face row, an orca row, a ShareGPT
conversation, and the Arrow schemas and orca split names they use. Writing files is `agentinstruct.export`'s
job.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pyarrow as pa

#: our skills -> the split names of microsoft/orca-agentinstruct-1M-v1 where the match is plain (reading
#: comprehension is their `rc`, data-to-text their `struct2text_flow`, conversation their `follow_up`,
#: few-shot reasoning their `fs_cot_flow`, coding their `code_`); tool_use and web_agent have no
#: counterpart there and keep their own names
ORCA_SPLITS = {
    "reading_comprehension": "rc",
    "text_modification": "text_modification",
    "creative_content": "creative_content",
    "data_to_text": "struct2text_flow",
    "rag": "rag",
    "text_extraction": "text_extraction",
    "multiple_choice": "mcq",
    "conversation": "follow_up",
    "analytical_reasoning": "analytical_reasoning",
    "fermi": "fermi",
    "few_shot_reasoning": "fs_cot_flow",
    "coding": "code_",
    "brain_teaser": "brain_teaser",
    "text_classification": "text_classification",
    "open_domain_qa": "open_domain_qa",
}
MESSAGE_TYPE = pa.struct(
    [
        ("role", pa.string()),
        ("content", pa.string()),
        ("tool_calls", pa.string()),
        ("tool_call_id", pa.string()),
        ("name", pa.string()),
    ]
)
PAIR_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("skill", pa.string()),
        ("instruction_type", pa.string()),
        ("messages", pa.list_(MESSAGE_TYPE)),
        ("tools", pa.string()),
        ("lineage", pa.string()),
        ("verification", pa.string()),
        ("judge_score", pa.float64()),
        ("unanswerable", pa.bool_()),
        ("document_id", pa.string()),
    ]
)
ORCA_SCHEMA = pa.schema([("messages", pa.string())])


def document_of(record: dict[str, Any]) -> str:
    """The id of the source document of a pair record ('' when it has none)."""
    return str(((record.get("lineage") or {}).get("document") or {}).get("id") or "")


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def to_parquet_row(record: dict[str, Any]) -> dict[str, Any]:
    messages = [
        {
            "role": m.get("role"),
            "content": m.get("content"),
            "tool_calls": _json_or_none(m.get("tool_calls")),
            "tool_call_id": m.get("tool_call_id"),
            "name": m.get("name"),
        }
        for m in record.get("messages") or []
    ]
    return {
        "id": record.get("id"),
        "skill": record.get("skill"),
        "instruction_type": record.get("instruction_type"),
        "messages": messages,
        "tools": _json_or_none(record.get("tools")),
        "lineage": _json_or_none(record.get("lineage")),
        "verification": _json_or_none(record.get("verification")),
        "judge_score": (record.get("quality") or {}).get("judge_score"),
        "unanswerable": bool(record.get("unanswerable")),
        "document_id": document_of(record) or None,
    }


def to_orca_row(record: dict[str, Any]) -> dict[str, str]:
    """`{"messages": JSON string}` with `{role, content}` turns (and tool fields where a turn has them)."""
    turns = []
    for message in record.get("messages") or []:
        turn = {"role": message.get("role"), "content": message.get("content") or ""}
        turn.update({k: message[k] for k in ("tool_calls", "tool_call_id", "name") if message.get(k)})
        turns.append(turn)
    return {"messages": json.dumps(turns, ensure_ascii=False)}


SHAREGPT_ROLES = {"system": "system", "user": "human", "assistant": "gpt", "tool": "observation"}


def to_sharegpt(record: dict[str, Any]) -> dict[str, Any]:
    """A pair as a ShareGPT conversation (LLaMA-Factory's function_call/observation turns for tools)."""
    turns: list[dict[str, str]] = []
    for message in record.get("messages") or []:
        role, content = message.get("role"), message.get("content") or ""
        if role == "assistant" and message.get("tool_calls"):
            if content.strip():
                turns.append({"from": "gpt", "value": content})
            calls = [_call(c) for c in message["tool_calls"]]
            turns.append(
                {"from": "function_call", "value": json.dumps(calls[0] if len(calls) == 1 else calls)}
            )
        elif role == "tool" and turns and turns[-1]["from"] == "observation":
            turns[-1]["value"] += "\n" + content  # parallel results form one observation turn
        elif role == "system" and not content.strip():
            continue
        else:
            turns.append({"from": SHAREGPT_ROLES.get(str(role), str(role)), "value": content})
    row: dict[str, Any] = {"id": record.get("id"), "conversations": turns}
    if record.get("tools"):
        row["tools"] = json.dumps([t.get("function", t) for t in record["tools"]], ensure_ascii=False)
    return row


def _call(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or call
    arguments = function.get("arguments")
    if isinstance(arguments, str):
        with contextlib.suppress(json.JSONDecodeError):
            arguments = json.loads(arguments)
    return {"name": function.get("name"), "arguments": arguments}
