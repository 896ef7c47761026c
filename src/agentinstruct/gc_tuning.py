"""Garbage-collector settings for the scheduling phase of a run (`pipeline.run_async`).

At high concurrency the event loop is CPU-bound and CPython's cyclic collector took a tenth of its time:
every request allocates a few hundred container objects (SDK and HTTP objects, messages, pydantic models),
so collections run hundreds of times a minute, and each full collection walked the whole heap: some
200,000 objects once the SDK, pydantic, jinja2, numpy and the skills are loaded, none of which ever
becomes garbage. While the run schedules units, `quieter_collector()`:

- freezes the objects that exist when it starts (`gc.freeze()`): collections no longer walk them. They
  are still freed by reference counting; only cycles among them wait until the run ends;
- raises the first-generation threshold from 700 to `YOUNG_THRESHOLD` allocations, so short-lived
  objects (a request's, which die when it completes) are mostly freed before any collection sees them.

Both are undone when the run ends. Nothing is frozen when something else in the process already froze
objects (a pre-fork server): unfreezing at the end would undo its freeze too.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

#: allocations (net of deallocations) between two collections of the youngest generation during a run
YOUNG_THRESHOLD = 20_000


@contextlib.contextmanager
def quieter_collector() -> Iterator[None]:
    """Freeze the heap as it is and collect the young generation less often, until the block ends."""
    thresholds = gc.get_threshold()
    froze = gc.get_freeze_count() == 0
    if froze:
        gc.freeze()
    gc.set_threshold(max(thresholds[0], YOUNG_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if froze:
            gc.unfreeze()
