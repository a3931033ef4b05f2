"""``serve --gc-threshold``: how the server process sets and paces the garbage collector."""

from __future__ import annotations

import asyncio
import gc

import pytest

from hypergraph_grpc.gc_tuning import GC_YOUNG_THRESHOLD, PacedCollector, tune_garbage_collector
from hypergraph_grpc.serve_args import add_serve_arguments
from tests.service.conftest import eventually


@pytest.fixture
def restored_collector():
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_serving_freezes_start_up_objects_and_raises_the_thresholds(restored_collector):
    fields, collector = tune_garbage_collector(5000)
    assert collector is None  # no loop given: nothing to pace
    young, middle, full = gc.get_threshold()
    assert young == 5000 and middle > 10 and middle * full > 10 * 10
    assert gc.get_freeze_count() > 0
    assert fields["gc_thresholds"] == f"5000,{middle},{full}"
    assert fields["gc_frozen_objects"] > 0  # the log line says how many were frozen


def test_threshold_zero_leaves_pythons_settings(restored_collector):
    gc.unfreeze()
    before = gc.get_threshold()
    loop = asyncio.new_event_loop()
    fields, collector = tune_garbage_collector(0, loop)
    loop.close()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    assert fields["gc_thresholds"] == ",".join(map(str, before))
    assert collector is None and "gc_young_every_s" not in fields


@pytest.mark.asyncio
async def test_serving_paces_young_collections_on_the_loop_until_stopped(restored_collector):
    # Python's own trigger out of reach: only the timer collects.
    fields, collector = tune_garbage_collector(10**9, asyncio.get_running_loop())
    try:
        assert isinstance(collector, PacedCollector)
        assert fields["gc_young_every_s"] > 0
        young_before = gc.get_stats()[0]["collections"]
        assert await eventually(lambda: gc.get_stats()[0]["collections"] > young_before)
    finally:
        collector.stop()


def test_serve_tunes_the_collector_by_default_and_refuses_a_negative_threshold(capsys):
    import argparse

    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    assert parser.parse_args([]).gc_threshold == GC_YOUNG_THRESHOLD
    with pytest.raises(SystemExit):
        parser.parse_args(["--gc-threshold", "-1"])
    assert "--gc-threshold" in capsys.readouterr().err


class _Collections:
    """Counts collections by generation (gc.callbacks), for the blocks that enable it."""

    def __init__(self) -> None:
        self.by_generation = [0, 0, 0]
        self.order: list[int] = []  # generations, in the order they were collected

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "stop":
            self.by_generation[info["generation"]] += 1
            self.order.append(info["generation"])

    def __enter__(self) -> _Collections:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self)


@pytest.mark.asyncio
async def test_the_paced_collector_collects_the_young_generation_on_a_timer(restored_collector):
    # Python's own trigger never fires here: its threshold is far above what this allocates.
    gc.set_threshold(10_000_000, 1_000, 1_000)
    collector = PacedCollector(asyncio.get_running_loop(), interval=0.01)
    with _Collections() as collections:
        collector.start()
        assert await eventually(lambda: collections.by_generation[0] >= 3)
        collector.stop()
        seen = list(collections.by_generation)
        await asyncio.sleep(0.05)
        assert collections.by_generation == seen  # stopped means stopped
    assert seen[1] == seen[2] == 0


@pytest.mark.asyncio
async def test_the_paced_collector_collects_older_generations_at_the_thresholds(
    restored_collector,
):
    gc.set_threshold(10_000_000, 2, 2)
    gc.collect()  # every generation's count starts at 0
    collector = PacedCollector(asyncio.get_running_loop(), interval=0.005)
    with _Collections() as collections:
        collector.start()
        try:
            assert await eventually(lambda: collections.by_generation[2] >= 1)
        finally:
            collector.stop()
    # Two young collections, then a middle one; after two middle ones, a full one.
    assert collections.order[:7] == [0, 0, 1, 0, 0, 1, 2]
