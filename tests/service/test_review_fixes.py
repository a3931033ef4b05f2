"""Fixes from the requirements review: the codec never drops, drain stops every run."""

from __future__ import annotations

import pytest

from hypergraph import AsyncRunner
from hypergraph_grpc import convert
from hypergraph_grpc.coordination import LiveRun, StopOutcome
from hypergraph_grpc.coordination.memory import InMemoryCoordination
from hypergraph_grpc.demo.testing import GRAPHS
from hypergraph_grpc.registry import GraphRegistry
from hypergraph_grpc.service import RunnerService


@pytest.mark.parametrize(
    ("value", "keys"),
    [({1: "a", "1": "b"}, ("1", "'1'")), ({True: "x", "True": "y"}, ("True", "'True'"))],
)
def test_keys_that_become_the_same_json_key_are_refused_not_overwritten(value, keys):
    with pytest.raises(convert.EncodeError) as info:
        convert.to_plain({"outer": value}, "values")
    message = str(info.value)
    assert "values" in message and "How to fix" in message
    for key in keys:
        assert key in message


def test_distinct_keys_of_mixed_types_still_encode():
    assert convert.to_plain({1: "a", "2": "b", 2.5: "c"}) == {"1": "a", "2": "b", "2.5": "c"}


def test_lenient_usage_keeps_both_colliding_keys():
    struct = convert._lenient_struct({1: 10, "1": 20}, "usage")
    assert sorted(convert.struct_to_dict(struct).values()) == [10, 20]


class _FailingFirstStop(InMemoryCoordination):
    """Two live runs; stopping the first raises (a broken coordination backend)."""

    def __init__(self, runner):
        super().__init__(runner)
        self.stopped: list[str] = []

    def live_runs(self) -> list[LiveRun]:
        return [LiveRun("wf-broken", "tokens"), LiveRun("wf-fine", "tokens")]

    async def stop(self, workflow_id, info, grace) -> StopOutcome:
        self.stopped.append(workflow_id)
        if workflow_id == "wf-broken":
            raise RuntimeError("backend down")
        return StopOutcome(found=True)


@pytest.mark.asyncio
async def test_drain_stops_every_run_even_when_one_stop_raises():
    runner = AsyncRunner()
    coord = _FailingFirstStop(runner)
    service = RunnerService(GraphRegistry(GRAPHS), runner, coord)
    await service.drain(0.0)
    assert coord.stopped == ["wf-broken", "wf-fine"]
    assert service.draining
