"""The run's SQLite store: the content-addressed LLM call store and the per-seed progress table.

One file per output directory (`OUT/state.sqlite`, WAL mode). The call store maps a request hash to the
response, usage and timing, so a re-run answers completed calls from disk instead of the model; the
tool-call table does the same for tool executions (sandbox runs, searches). The seed table records
which (skill, seed) units are finished, so a re-run skips them. Every write is its own transaction
(autocommit, WAL, synchronous=NORMAL): a call is in the store the moment its answer arrives, and a killed
process (SIGKILL included) loses nothing that was committed. The call table doubles as the ledger of what
the output directory has paid for (`usage_by_model`). Output files (pairs.jsonl,
rejected.jsonl) are written by `agentinstruct.writers`, not here. Requests never contain API keys (keys
live only in the HTTP client), so nothing secret reaches this file.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from agentinstruct.models.base import ModelRequest, ModelResponse

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    tag TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    duration_s REAL NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS units (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    pairs INTEGER NOT NULL DEFAULT 0,
    finished_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tool_calls (
    key TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL,
    result TEXT NOT NULL,
    ok INTEGER NOT NULL,
    duration_s REAL NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

#: WAL pages (4 KiB) between automatic checkpoints
WAL_CHECKPOINT_PAGES = 10_000


class RunStore:
    """SQLite-backed call cache, unit progress and run metadata for one output directory."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        # Checkpoint the WAL every ~40 MB instead of SQLite's 4 MB: every call is still its own committed
        # transaction, but the checkpoints (copying pages back, with an fsync) run a tenth as often and
        # copy each hot page once; at the default they blocked the event loop about as long as the
        # inserts themselves.
        self._db.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def usage_by_model(self) -> dict[str, tuple[int, int, int]]:
        """Per model: (calls, prompt tokens, completion tokens) of every call in the store."""
        rows = self._db.execute(
            "SELECT model, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens) FROM calls GROUP BY model"
        ).fetchall()
        return {model: (calls, prompt or 0, completion or 0) for model, calls, prompt, completion in rows}

    # -- calls -----------------------------------------------------------------------------------
    def get_call(self, key: str) -> ModelResponse | None:
        """The stored response for a request key, or None."""
        row = self._db.execute("SELECT response FROM calls WHERE key = ?", (key,)).fetchone()
        return ModelResponse.model_validate_json(row[0]) if row else None

    def put_call(
        self,
        key: str,
        model: str,
        request: ModelRequest,
        response: ModelResponse,
        request_json: str | None = None,
    ) -> None:
        """Record a completed call (idempotent).

        `request_json` is the request already serialised (`ModelRequest.canonical`, whose hash is the key),
        so the hot path does not serialise a large request twice; without it the payload is serialised here.
        """
        if request_json is None:
            request_json = json.dumps(request.payload(), ensure_ascii=False)
        self._db.execute(
            "INSERT OR IGNORE INTO calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                model,
                request.tag,
                request_json,
                response.model_dump_json(exclude={"cached", "call_id"}),
                response.usage.prompt_tokens,
                response.usage.completion_tokens,
                response.duration_s,
                time.time(),
            ),
        )

    # -- tool calls ------------------------------------------------------------------------------
    def get_tool_call(self, key: str) -> tuple[dict[str, Any], bool] | None:
        """The stored (result, ok) of a tool call key, or None."""
        row = self._db.execute("SELECT result, ok FROM tool_calls WHERE key = ?", (key,)).fetchone()
        return (json.loads(row[0]), bool(row[1])) if row else None

    def put_tool_call(
        self,
        key: str,
        tool: str,
        arguments: dict[str, Any],
        result: dict[str, Any],
        ok: bool,
        duration_s: float,
    ) -> None:
        """Record an executed tool call (idempotent), so a resumed run replays it instead of re-running."""
        self._db.execute(
            "INSERT OR IGNORE INTO tool_calls VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                tool,
                json.dumps(arguments, ensure_ascii=False, sort_keys=True),
                json.dumps(result, ensure_ascii=False),
                int(ok),
                duration_s,
                time.time(),
            ),
        )

    # -- units of work ---------------------------------------------------------------------------
    def unit_done(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM units WHERE key = ?", (key,)).fetchone() is not None

    def units_count(self) -> int:
        """How many units are recorded as finished."""
        return self._db.execute("SELECT COUNT(*) FROM units").fetchone()[0]

    def mark_unit(self, key: str, status: str, pairs: int) -> None:
        """Record that a (skill, seed) unit finished; re-runs skip it."""
        self._db.execute(
            "INSERT OR REPLACE INTO units VALUES (?, ?, ?, ?)", (key, status, pairs, time.time())
        )

    # -- metadata --------------------------------------------------------------------------------
    def get_meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))
