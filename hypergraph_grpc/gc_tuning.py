"""How the server process sets Python's garbage collector (``serve --gc-threshold``).

Every object of a live run (its tasks, coroutines, closures, gRPC call state) is
tracked by the cyclic garbage collector, and each collection walks the tracked
objects of the generations it collects while every stream waits. Three things
keep those walks short:

- **Start-up objects are frozen** once the server has started (modules, graphs:
  never garbage, never walked again).
- **Young collections run on a timer** (:class:`PacedCollector`, every 100 ms).
  Python starts one when allocations minus deallocations pass a threshold, and
  while streams end as fast as new ones start the two cancel out: the young
  generation then grew to every object of the streams started since the last
  collection, and one collection walked them all (up to 80 ms of CPU with 1,000
  streams open). On the timer a collection walks only what the last 100 ms left.
  Python's own trigger stays, at ``threshold``, for a loop too busy to run the
  timer.
- **Older generations are collected rarely.** A middle collection walks every
  object that survived a young one since the previous middle collection, which
  with a thousand streams open is all of their objects: ~50 ms however often it
  runs. It runs every 1,200 young ones (2 minutes), a full one every 10 middle
  ones (20 minutes). Reference counting still frees almost everything at once;
  only garbage in reference cycles that outlived a young collection waits that
  long (a finished run leaves none: tests/service/test_no_cyclic_garbage.py).
"""

from __future__ import annotations

import asyncio
import gc

__all__ = ["GC_YOUNG_THRESHOLD", "PacedCollector", "tune_garbage_collector"]

GC_YOUNG_THRESHOLD = 20_000
_MIDDLE_EVERY = 1200  # young collections per middle one
_FULL_EVERY = 10  # middle collections per full one
# Seconds between young collections. At 50 ms the collections cost 256 streams of
# 20 tokens/s ~2 ms at p99 (bench_service.py's latency figure); at 100 ms nothing
# measurable.
_INTERVAL = 0.1


def tune_garbage_collector(
    threshold: int, loop: asyncio.AbstractEventLoop | None = None
) -> tuple[dict[str, object], PacedCollector | None]:
    """Set the collector for serving and, given the serving ``loop``, start its young
    collections on it. Returns what is set, as log fields, and the started collector
    (stop it when serving ends). ``threshold`` 0 leaves Python's settings and starts
    no collector."""
    collector = None
    if threshold > 0:
        gc.collect()
        gc.freeze()
        gc.set_threshold(threshold, _MIDDLE_EVERY, _FULL_EVERY)
        if loop is not None:
            collector = PacedCollector(loop)
            collector.start()
    fields: dict[str, object] = {
        "gc_thresholds": ",".join(str(n) for n in gc.get_threshold()),
        "gc_frozen_objects": gc.get_freeze_count(),
    }
    if collector is not None:
        fields["gc_young_every_s"] = _INTERVAL
    return fields, collector


class PacedCollector:
    """Collects the young generation every ``interval`` seconds on the event loop, and
    the older ones by Python's counts (``gc.get_count``) at the thresholds set by
    :func:`tune_garbage_collector`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float = _INTERVAL) -> None:
        self._loop = loop
        self._interval = interval
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._handle = self._loop.call_later(self._interval, self._collect)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _collect(self) -> None:
        # get_count: (young net allocations, young collections since the last middle
        # one, middle collections since the last full one).
        _, young_collections, middle_collections = gc.get_count()
        _, middle_every, full_every = gc.get_threshold()
        if middle_collections >= full_every:
            gc.collect(2)
        elif young_collections >= middle_every:
            gc.collect(1)
        else:
            gc.collect(0)
        self.start()
