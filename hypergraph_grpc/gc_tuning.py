"""How the server process sets Python's garbage collector (``serve --gc-threshold``).

Every object of a live run (its tasks, coroutines, closures, gRPC call state) is
tracked by the cyclic garbage collector, and a full collection walks all of them:
with 700 streams open, Python's default settings paused the event loop for up to
~100 ms a few times a minute, which is every stream's tokens late by that much.
The server therefore freezes what exists once it has started (modules, graphs:
never garbage, never walked again), collects young objects after ``threshold``
allocations instead of 700 (fewer collections, each a few ms), and lets
middle-generation collections wait for 100 young ones and full collections for
100 middle ones, instead of 10 each. A middle collection walks every object that
survived a young one since the previous middle collection, which with a thousand
streams open is all of their objects: a pause of tens of ms however often it
runs, so it runs a tenth as often. Reference counting still frees almost
everything at once; only cycles wait longer, a bounded amount.
"""

from __future__ import annotations

import gc

__all__ = ["GC_YOUNG_THRESHOLD", "tune_garbage_collector"]

GC_YOUNG_THRESHOLD = 20_000
_MIDDLE_THRESHOLD = 100
_FULL_THRESHOLD = 100


def tune_garbage_collector(threshold: int) -> dict[str, object]:
    """Set the collector for serving (0: leave Python's settings); returns what is set,
    as log fields."""
    if threshold > 0:
        gc.collect()
        gc.freeze()
        gc.set_threshold(threshold, _MIDDLE_THRESHOLD, _FULL_THRESHOLD)
    return {
        "gc_thresholds": ",".join(str(n) for n in gc.get_threshold()),
        "gc_frozen_objects": gc.get_freeze_count(),
    }
