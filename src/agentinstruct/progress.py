"""Live progress of a run: a rich status bar on a terminal, plain periodic status lines otherwise.

Reads the counters the scheduler, writer and model middleware keep; it never changes them.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

#: seconds between status lines when stderr is not a terminal (CI logs, nohup)
PLAIN_INTERVAL_S = 30.0


class RunMonitor:
    """Context manager that shows documents, seeds, pairs, calls and tokens while a run goes on."""

    def __init__(self, counters: Any, writer: Any, models: list[Any], *, enabled: bool = True):
        self.counters = counters
        self.writer = writer
        self.models = list({id(m): m for m in models}.values())
        self.enabled = enabled
        self.console = Console(stderr=True)
        self._task: asyncio.Task | None = None
        self._live: Live | None = None
        self._started = time.monotonic()

    def line(self) -> str:
        """One status line with the current figures."""
        calls = sum(m.stats.calls for m in self.models)
        cached = sum(m.stats.cached for m in self.models)
        tokens_in = sum(m.stats.prompt_tokens for m in self.models)
        tokens_out = sum(m.stats.completion_tokens for m in self.models)
        elapsed = time.monotonic() - self._started
        c = self.counters
        return (
            f"documents {c.documents} (+{c.documents_rejected} rejected) | seeds {c.seeds} | "
            f"units {c.units_done} | pairs {self.writer.pair_count} | "
            f"rejected {sum(self.writer.rejections.values())}"
            f" | calls {calls} ({cached} cached) | tokens {tokens_in} in / {tokens_out} out | {elapsed:,.0f}s"
        )

    def __enter__(self) -> RunMonitor:
        if not self.enabled:
            return self
        if self.console.is_terminal:
            self._live = Live(Text(self.line()), console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        self._task = asyncio.get_running_loop().create_task(self._loop())
        return self

    async def _loop(self) -> None:
        while True:
            if self._live is not None:
                self._live.update(Text(self.line()))
                await asyncio.sleep(0.25)
            else:
                await asyncio.sleep(PLAIN_INTERVAL_S)
                print(self.line(), file=sys.stderr, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._live is not None:
            self._live.update(Text(self.line()))
            self._live.__exit__(None, None, None)
        elif self.enabled:
            print(self.line(), file=sys.stderr, flush=True)
