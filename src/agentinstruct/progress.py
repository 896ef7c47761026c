"""Live progress of a run: a rich table on a terminal, plain periodic status lines otherwise.

Per stage (transform, instruct, refine, teacher...): calls active (waiting for a slot, in flight or in a
retry backoff), done (sent and cached), failed, tokens and cost; for the run: units queued / running /
done, pairs and calls with their throughput over the last seconds, the adaptive concurrency (in flight,
limit, waiting), retries, rate limits, timeouts, error rate, and spend against the ceilings.

Reads the counters the scheduler, writer, run control and model middleware keep; it never changes them.
Rendering runs on the event loop twice a second on a terminal (no refresh thread reading counters that
the loop is changing) and once every `interval_s` otherwise. It also calls `checkpoint` (the pipeline
rewrites run.json) every `checkpoint_s`, with or without a display.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from agentinstruct.budget import stage_of

#: seconds between status lines when stderr is not a terminal (CI logs, nohup)
PLAIN_INTERVAL_S = 30.0
#: seconds between redraws on a terminal
LIVE_INTERVAL_S = 0.5
#: throughput is measured over this many seconds
RATE_WINDOW_S = 15.0
STAGE_ORDER = ("transform", "instruct", "refine", "teacher")


class RunMonitor:
    """Context manager that shows a run's progress while it goes on (see the module docstring)."""

    def __init__(
        self,
        counters: Any,
        writer: Any,
        models: list[Any],
        *,
        control: Any = None,
        queue_size: Callable[[], int] = lambda: 0,
        enabled: bool = True,
        interval_s: float = PLAIN_INTERVAL_S,
        checkpoint: Callable[[], None] | None = None,
        checkpoint_s: float = 30.0,
        title: str = "",
        console: Console | None = None,
    ):
        self.counters = counters
        self.writer = writer
        self.models = list({id(m): m for m in models}.values())
        self.control = control
        self.queue_size = queue_size
        self.enabled = enabled
        self.interval_s = interval_s
        self.checkpoint = checkpoint
        self.checkpoint_s = checkpoint_s
        self.title = title
        self.console = console or Console(stderr=True)
        self._task: asyncio.Task | None = None
        self._live: Live | None = None
        self._started = time.monotonic()
        self._samples: deque[tuple[float, int, int]] = deque()

    # -- figures -------------------------------------------------------------------------------------------
    def figures(self) -> dict[str, Any]:
        """Everything the display shows, as plain numbers."""
        now = time.monotonic()
        stats = [m.stats for m in self.models]
        cached = sum(s.cached for s in stats)
        sent = sum(s.calls for s in stats) - cached
        pairs = self.writer.pair_count
        self._samples.append((now, pairs, sent))
        while len(self._samples) > 2 and now - self._samples[0][0] > RATE_WINDOW_S:
            self._samples.popleft()
        first = self._samples[0]
        span = now - first[0]
        pairs_rate = (pairs - first[1]) / span if span > 0 else 0.0
        calls_rate = (sent - first[2]) / span if span > 0 else 0.0
        status = [m.concurrency_status() for m in self.models]
        control = self.control
        ledger = control.ledger if control is not None else None
        spent = ledger.this_run() if ledger is not None else None
        total = ledger.total() if ledger is not None else None
        c = self.counters
        return {
            "elapsed_s": now - self._started,
            "documents": c.documents,
            "documents_rejected": c.documents_rejected,
            "seeds": c.seeds,
            "units_queued": self.queue_size(),
            "units_running": c.units_running,
            "units_done": c.units_done,
            "units_failed": c.units_failed,
            "units_skipped": c.units_skipped_resume,
            "pairs": pairs,
            "pairs_new": self.writer.new_pairs,
            "rejected": sum(self.writer.rejections.values()),
            "pairs_per_s": pairs_rate,
            "calls_sent": sent,
            "calls_cached": cached,
            "calls_per_s": calls_rate,
            "retries": sum(s.retries for s in stats),
            "rate_limited": sum(s.rate_limited for s in stats),
            "timeouts": sum(s.timeouts for s in stats),
            "failed": sum(s.failed for s in stats),
            "error_rate": control.error_rate if control is not None else 0.0,
            "in_flight": sum(s["in_flight"] for s in status),
            "limit": sum(s["limit"] for s in status),
            "waiting": sum(s["waiting"] for s in status),
            "tokens_in": spent.prompt_tokens if spent else sum(s.prompt_tokens for s in stats),
            "tokens_out": spent.completion_tokens if spent else sum(s.completion_tokens for s in stats),
            "cost_usd": spent.cost_usd if spent else None,
            "total_cost_usd": total.cost_usd if total else None,
            "priced": bool(ledger and ledger.prices),
            "budget_usd": getattr(control, "budget_usd", None),
            "max_total_tokens": getattr(control, "max_total_tokens", None),
            "total_tokens": total.tokens if total else None,
            "stopping": bool(control is not None and control.stopping.is_set()),
        }

    def stages(self) -> list[dict[str, Any]]:
        """Per stage: calls active, done (sent + cached), failed, tokens and cost this run spent."""
        done: Counter[str] = Counter()
        for model in self.models:
            for key, entry in model.stats.by_stage.items():
                done[stage_of(key)[1]] += entry["calls"]
        control = self.control
        active = control.active if control is not None else Counter()
        failed = control.failed if control is not None else Counter()
        spent: dict[str, list[float]] = {}
        if control is not None:
            for (_, stage), usage in control.ledger.fresh_by_stage.items():
                row = spent.setdefault(stage, [0, 0, 0.0])
                row[0] += usage.prompt_tokens
                row[1] += usage.completion_tokens
                row[2] += usage.cost_usd
        names = [s for s in STAGE_ORDER] + sorted({*done, *active, *failed} - set(STAGE_ORDER))
        rows = []
        for name in names:
            tokens = spent.get(name, [0, 0, 0.0])
            rows.append(
                {
                    "stage": name,
                    "active": max(0, active.get(name, 0)),
                    "done": done.get(name, 0),
                    "failed": failed.get(name, 0),
                    "tokens_in": int(tokens[0]),
                    "tokens_out": int(tokens[1]),
                    "cost_usd": tokens[2],
                }
            )
        return rows

    # -- rendering -----------------------------------------------------------------------------------------
    def line(self) -> str:
        """One status line with the current figures (for logs)."""
        f = self.figures()
        cost = f" | ${f['cost_usd']:.4f}" if f["priced"] and f["cost_usd"] is not None else ""
        stages = " ".join(
            f"{row['stage']} {row['active']}/{row['done']}/{row['failed']}"
            for row in self.stages()
            if row["active"] or row["done"] or row["failed"]
        )
        return (
            f"{'STOPPING ' if f['stopping'] else ''}"
            f"docs {f['documents']} (+{f['documents_rejected']} rejected) | units {f['units_queued']} queued "
            f"{f['units_running']} running {f['units_done']} done {f['units_failed']} failed | "
            f"pairs {f['pairs']} ({f['pairs_per_s']:.2f}/s) rejected {f['rejected']} | "
            f"calls {f['calls_sent']} (+{f['calls_cached']} cached, {f['calls_per_s']:.1f}/s) "
            f"in flight {f['in_flight']}/{f['limit']} waiting {f['waiting']} | retries {f['retries']} "
            f"429/503 {f['rate_limited']} timeouts {f['timeouts']} errors {f['error_rate']:.1%} | "
            f"tokens {f['tokens_in']} in / {f['tokens_out']} out{cost} | "
            f"stages active/done/failed: {stages or '-'} | {f['elapsed_s']:,.0f}s"
        )

    def renderable(self) -> Group:
        """The terminal display: a header, a table per stage and a footer."""
        f = self.figures()
        priced = f["priced"]
        header = Text.assemble(
            ("agentinstruct ", "bold"),
            (self.title, "cyan"),
            f"  {_duration(f['elapsed_s'])}",
            ("  STOPPING (finishing calls in flight)" if f["stopping"] else "", "bold yellow"),
        )
        units = Text(
            f"units: {f['units_queued']} queued, {f['units_running']} running, {f['units_done']} done, "
            f"{f['units_failed']} failed, {f['units_skipped']} done before | documents {f['documents']} "
            f"(+{f['documents_rejected']} rejected), seeds {f['seeds']}"
        )
        table = Table(
            "stage", "active", "done", "failed", "tokens in", "tokens out", box=None, pad_edge=False
        )
        if priced:
            table.add_column("cost")
        for row in self.stages():
            cells = [
                row["stage"],
                str(row["active"]),
                f"{row['done']:,}",
                str(row["failed"]),
                f"{row['tokens_in']:,}",
                f"{row['tokens_out']:,}",
            ]
            if priced:
                cells.append(f"${row['cost_usd']:.4f}")
            table.add_row(*cells)
        spend = ""
        if priced and f["cost_usd"] is not None:
            spend = f" | spent ${f['cost_usd']:.4f} this run, ${f['total_cost_usd']:.4f} in all"
            if f["budget_usd"]:
                spend += f" of ${f['budget_usd']:g}"
        if f["max_total_tokens"]:
            spend += f" | tokens {f['total_tokens']:,} of {f['max_total_tokens']:,}"
        endpoints = [e for m in self.models for e in m.concurrency_status()["endpoints"]]
        if len(endpoints) > 1:
            detail = ", ".join(
                f"{e['endpoint']} {e['in_flight']}/{e['limit']}"
                + ("" if e.get("healthy", True) else " (aside)")
                for e in endpoints
            )
            spend += f"\nendpoints: {detail}"
        footer = Text(
            f"pairs {f['pairs']:,} (+{f['pairs_new']:,} this run, {f['pairs_per_s']:.2f}/s), "
            f"rejected {f['rejected']:,} | calls {f['calls_sent']:,} sent "
            f"({f['calls_per_s']:.1f}/s), {f['calls_cached']:,} cached\n"
            f"concurrency: {f['in_flight']} in flight of {f['limit']} allowed, {f['waiting']} waiting | "
            f"retries {f['retries']}, rate-limited {f['rate_limited']}, timeouts {f['timeouts']}, "
            f"failed {f['failed']} (error rate {f['error_rate']:.1%}){spend}"
        )
        return Group(header, units, table, footer)

    # -- lifecycle -----------------------------------------------------------------------------------------
    def __enter__(self) -> RunMonitor:
        live = self.enabled and self.console.is_terminal
        if live:
            # log lines written to stdout/stderr meanwhile are printed above the display, not through it
            self._live = Live(self.renderable(), console=self.console, auto_refresh=False, transient=False)
            self._live.__enter__()
        if self.enabled or self.checkpoint is not None:
            self._task = asyncio.get_running_loop().create_task(self._loop())
        return self

    async def _loop(self) -> None:
        now = time.monotonic()
        next_line = now + self.interval_s
        next_checkpoint = now + self.checkpoint_s
        while True:
            await asyncio.sleep(LIVE_INTERVAL_S if self._live is not None else 1.0)
            now = time.monotonic()
            if self._live is not None:
                self._live.update(self.renderable(), refresh=True)
            elif self.enabled and now >= next_line:
                print(self.line(), file=sys.stderr, flush=True)
                next_line = now + self.interval_s
            if self.checkpoint is not None and now >= next_checkpoint:
                self.checkpoint()
                next_checkpoint = now + self.checkpoint_s

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._live is not None:
            self._live.update(self.renderable(), refresh=True)
            self._live.__exit__(None, None, None)
        elif self.enabled:
            print(self.line(), file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
