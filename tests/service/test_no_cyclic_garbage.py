"""A finished run is freed the moment it ends, by reference counting alone: nothing of
a run, its stream or its RPC is left in a reference cycle for the garbage collector
(whose collections would then walk every live stream's objects, pausing all streams)."""

from __future__ import annotations

import gc

import pytest

from hypergraph import AsyncRunner
from hypergraph_grpc.demo.testing import GRAPHS
from tests.service.conftest import collect, iter_request, run_request

# Objects of one run; any of them in a cycle keeps the whole run alive until a collection.
RUN_TYPES = {
    "Run",
    "NodeContext",
    "StreamSink",
    "LiveRun",
    "RunRecorder",
    "SharedRunRecorder",
    "EventEncoder",
}


class CyclicGarbage:
    """Collects with DEBUG_SAVEALL: what reference counting could not free stays visible."""

    def __enter__(self) -> CyclicGarbage:
        gc.collect()
        gc.garbage.clear()
        # Run objects alive now belong to earlier work; only the block's own count.
        self._before = {id(o) for o in gc.get_objects() if type(o).__name__ in RUN_TYPES}
        gc.set_debug(gc.DEBUG_SAVEALL)
        return self

    def run_objects(self) -> list[str]:
        gc.collect()
        found = {
            type(o).__name__
            for o in gc.garbage
            if type(o).__name__ in RUN_TYPES and id(o) not in self._before
        }
        return sorted(found)

    def __exit__(self, *exc) -> None:
        gc.set_debug(0)
        gc.garbage.clear()


@pytest.mark.asyncio
async def test_a_finished_runtime_run_leaves_no_cyclic_garbage():
    runner = AsyncRunner()
    with CyclicGarbage() as garbage:
        for _ in range(3):
            result = await runner.run(GRAPHS["tokens"], {"count": 5})
            assert result.values["text"]
        assert garbage.run_objects() == []


@pytest.mark.asyncio
async def test_finished_streams_and_runs_leave_no_cyclic_garbage(harness):
    with CyclicGarbage() as garbage:
        for _ in range(5):
            events = await collect(harness.stub.Iter(iter_request("tokens", count=5)))
            assert events[-1].HasField("run_ended")
        await harness.stub.Run(run_request("tokens", count=3))
        assert garbage.run_objects() == []
