"""``serve --gc-threshold``: how the server process sets the garbage collector."""

from __future__ import annotations

import gc

import pytest

from hypergraph_grpc.gc_tuning import GC_YOUNG_THRESHOLD, tune_garbage_collector
from hypergraph_grpc.serve_args import add_serve_arguments


@pytest.fixture
def restored_collector():
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_serving_freezes_start_up_objects_and_raises_the_thresholds(restored_collector):
    fields = tune_garbage_collector(5000)
    young, middle, full = gc.get_threshold()
    assert young == 5000 and middle > 10 and full > 10
    assert gc.get_freeze_count() > 0
    assert fields["gc_thresholds"] == f"5000,{middle},{full}"
    assert fields["gc_frozen_objects"] > 0  # the log line says how many were frozen


def test_threshold_zero_leaves_pythons_settings(restored_collector):
    gc.unfreeze()
    before = gc.get_threshold()
    fields = tune_garbage_collector(0)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    assert fields["gc_thresholds"] == ",".join(map(str, before))


def test_serve_tunes_the_collector_by_default_and_refuses_a_negative_threshold(capsys):
    import argparse

    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    assert parser.parse_args([]).gc_threshold == GC_YOUNG_THRESHOLD
    with pytest.raises(SystemExit):
        parser.parse_args(["--gc-threshold", "-1"])
    assert "--gc-threshold" in capsys.readouterr().err
