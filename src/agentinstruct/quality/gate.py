"""The quality gate: a `Sink` (flows/state.py) that screens every pair before the output writer sees it.

On accept it runs, in order: the answer filters (`filter:<name>`), exact and near-duplicate detection
(`dedup:exact`, `dedup:near`, with the duplicated pair's id), decontamination against benchmark files
(`decontamination:<benchmark file stem>`, with file, item and matched span), and the optional LLM judge
(`judge:low_score`). A pair that fails is turned into a `Rejection` (stage "quality", the pair's messages
and lineage, and a `lineage["quality"]` object holding the structured finding) and forwarded to the
wrapped sink's `reject`; a pair that passes goes to the wrapped sink's `accept`, and once written it
joins the dedup index.

Wiring (the pipeline, after creating the writer):

    sink = QualityGate.from_settings(config.quality, config.out, writer, judge_model=judge_or_none)

and hand `sink` to the flows instead of `writer`. The judge is async: with a judge configured, the flows
must deliver with `await deliver(self.sink, pair)` (or `await sink.accept_async(pair)`) instead of
`self.sink.accept(pair)`; the synchronous `accept` refuses to run without the judge rather than skip it.
`gate.counters()` adds the gate's numbers to run.json's counters.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentinstruct.pairs import Pair, Rejection
from agentinstruct.quality.decontamination import BenchmarkIndex
from agentinstruct.quality.dedup import Deduplicator, DuplicateOf
from agentinstruct.quality.filters import first_failure
from agentinstruct.quality.judge import JudgeScorer
from agentinstruct.quality.settings import DedupSettings, QualitySettings

if TYPE_CHECKING:  # the flows import this module to deliver pairs; keep the import one-way at run time
    from agentinstruct.flows.state import Sink
    from agentinstruct.models.base import Model

__all__ = [
    "QualityGate",
    "QualitySettings",
    "deliver",
    "duplicate_rejection",
    "quality_rejection",
    "seeded_deduplicator",
]


class JudgeNotAwaited(RuntimeError):
    """`accept` was called on a gate with a judge; the judge needs `await accept_async(pair)`."""


class QualityGate:
    """Screens pairs (filters, dedup, decontamination, judge) and forwards them to another sink."""

    def __init__(
        self,
        sink: Sink,
        settings: QualitySettings | None = None,
        *,
        deduplicator: Deduplicator | None = None,
        benchmarks: BenchmarkIndex | None = None,
        judge: JudgeScorer | None = None,
    ):
        self.sink = sink
        self.settings = settings or QualitySettings()
        self.deduplicator = deduplicator
        self.benchmarks = benchmarks
        self.judge = judge
        self.checked = 0
        self.passed = 0
        self.rejected: Counter[str] = Counter()

    @classmethod
    def from_settings(
        cls, settings: QualitySettings, out_dir: Path, sink: Sink, *, judge_model: Model | None = None
    ) -> QualityGate:
        """Build the gate a run's settings ask for, seeding dedup from OUT/pairs.jsonl and `dedup.against`.

        `judge_model` is the model named by `settings.judge.model` (created and wrapped in the call store
        by the pipeline); the judge is off without it.
        """
        if settings.judge.model and judge_model is None:
            raise ValueError(f"the judge model {settings.judge.model!r} was configured but not passed")
        deduplicator = seeded_deduplicator(settings.dedup, pairs_file=Path(out_dir) / "pairs.jsonl")
        benchmarks = None
        if settings.decontamination.files:
            benchmarks = BenchmarkIndex.from_settings(settings.decontamination)
        judge = JudgeScorer.from_settings(judge_model, settings.judge) if judge_model is not None else None
        return cls(sink, settings, deduplicator=deduplicator, benchmarks=benchmarks, judge=judge)

    # -- the Sink protocol ----------------------------------------------------------------------
    @property
    def full(self) -> bool:
        return self.sink.full

    def accept(self, pair: Pair) -> bool:
        """Screen and forward a pair; True when the wrapped sink wrote it."""
        if self.judge is not None:
            raise JudgeNotAwaited(
                "this quality gate has an LLM judge: deliver pairs with `await gate.accept_async(pair)` "
                "(or `await deliver(sink, pair)`)"
            )
        return self._screen_and_forward(pair)

    async def accept_async(self, pair: Pair) -> bool:
        """Screen, judge (when configured) and forward a pair; True when the wrapped sink wrote it."""
        if self.judge is None:
            return self._screen_and_forward(pair)
        if self.sink.full:  # nothing more will be written: spend no judge call on it
            return False
        if self._refuse(pair, self.screen(pair)):
            return False
        pair, result = await self.judge.judge(pair)
        if not self.judge.passes(result.score):
            detail = f"judge score {result.score} < {self.judge.min_score}: {result.rationale}"
            finding = {"judge": {"score": result.score, "rationale": result.rationale}}
            self._refuse(pair, quality_rejection(pair, "judge:low_score", detail, finding))
            return False
        # another pair may have been written while this one was being judged: compare again
        if self._refuse(pair, self._duplicate(pair)):
            return False
        return self._forward(pair)

    def reject(self, rejection: Rejection) -> None:
        self.sink.reject(rejection)

    # -- screening ------------------------------------------------------------------------------
    def screen(self, pair: Pair) -> Rejection | None:
        """The rejection of the first check the pair fails (filters, dedup, decontamination), or None."""
        self.checked += 1
        failure = first_failure(pair, self.settings.filters)
        if failure is not None:
            return quality_rejection(pair, failure.reason, failure.detail, {"filter": failure.name})
        duplicate = self._duplicate(pair)
        if duplicate is not None:
            return duplicate
        if self.benchmarks is not None:
            match = self.benchmarks.check(pair)
            if match is not None:
                reason = f"decontamination:{Path(match.file).stem}"
                return quality_rejection(pair, reason, match.describe(), {"contamination": vars(match)})
        return None

    def _duplicate(self, pair: Pair) -> Rejection | None:
        if self.deduplicator is None:
            return None
        found = self.deduplicator.check(pair)
        return None if found is None else duplicate_rejection(pair, found)

    def _screen_and_forward(self, pair: Pair) -> bool:
        if self.sink.full:
            return False
        if self._refuse(pair, self.screen(pair)):
            return False
        return self._forward(pair)

    def _refuse(self, pair: Pair, rejection: Rejection | None) -> bool:
        if rejection is None:
            return False
        self.rejected[rejection.reason] += 1
        self.sink.reject(rejection)
        return True

    def _forward(self, pair: Pair) -> bool:
        written = self.sink.accept(pair)
        if written:
            self.passed += 1
            if self.deduplicator is not None:
                self.deduplicator.add(pair)
        return written

    def counters(self) -> dict[str, Any]:
        """The gate's numbers for run.json (rejections are also counted per reason by the writer)."""
        counters: dict[str, Any] = {
            "quality_checked": self.checked,
            "quality_passed": self.passed,
            "quality_rejected_per_reason": dict(sorted(self.rejected.items())),
        }
        if self.deduplicator is not None:
            counters.update(self.deduplicator.counters())
        if self.benchmarks is not None:
            counters.update(
                {"benchmark_items": self.benchmarks.items, "benchmark_ngrams": self.benchmarks.ngrams}
            )
        if self.judge is not None:
            counters.update(self.judge.counters())
        return counters


def seeded_deduplicator(settings: DedupSettings, *, pairs_file: Path | None = None) -> Deduplicator | None:
    """The dedup index `settings` ask for, or None when exact and near dedup are both off.

    It is seeded from a run's own `pairs_file` (resume) when given, then from the `against` datasets.
    """
    if not (settings.exact or settings.near):
        return None
    deduplicator = Deduplicator(settings)
    if pairs_file is not None:
        deduplicator.seed_from_pairs_file(pairs_file)
    for path in settings.against:
        deduplicator.seed_from_file(Path(path), settings.text_fields)
    return deduplicator


def quality_rejection(pair: Pair, reason: str, detail: str, finding: dict[str, Any]) -> Rejection:
    """The rejection of a pair that failed a quality check: stage "quality", the pair's messages, lineage
    and verification, and `lineage["quality"]` holding the structured `finding`. Its id is stable (pair id
    and reason), so recording it again (a resume, a re-run merge) does not repeat it."""
    lineage = pair.lineage.model_dump(mode="json")
    lineage["quality"] = finding
    return Rejection(
        id=Rejection.make_id("quality", pair.id, reason),
        skill=pair.skill,
        instruction_type=pair.instruction_type,
        stage="quality",
        reason=reason,
        detail=detail,
        messages=pair.messages,
        lineage=lineage,
        verification=pair.verification,
    )


def duplicate_rejection(pair: Pair, found: DuplicateOf) -> Rejection:
    """The `dedup:exact` / `dedup:near` rejection of a pair duplicating `found` (the gate's and merge's)."""
    where = "" if found.source == "run" else f" from {found.source}"
    detail = f"{found.kind} duplicate of {found.id}{where} (similarity {found.similarity:.2f})"
    return quality_rejection(pair, f"dedup:{found.kind}", detail, {"duplicate_of": vars(found)})


async def deliver(sink: Sink, pair: Pair) -> bool:
    """Deliver a pair to any sink: awaited through `accept_async` when the sink has it, else `accept`."""
    accept_async = getattr(sink, "accept_async", None)
    if accept_async is not None:
        return await accept_async(pair)
    return sink.accept(pair)
