"""Section 6: AsyncRunner.run and RunResult (C27-C33)."""

import asyncio
import dataclasses
import re

import pytest

from hypergraph import (
    AsyncRunner,
    Graph,
    MissingInputError,
    NodeContext,
    NodeErrorEvent,
    RunEndEvent,
    RunResult,
    RunStatus,
    StopRequestedEvent,
    UnknownInputError,
    WorkflowAlreadyRunningError,
    node,
)

from .helpers import Recorder, make_chat_graph, stream_response


@node(output_name="out")
def add(a, b=10):
    return a + b


@pytest.mark.asyncio
async def test_c27_values_as_dict_keywords_or_both():
    runner, g = AsyncRunner(), Graph([add])
    assert (await runner.run(g, {"a": 1}))["out"] == 11
    assert (await runner.run(g, a=1, b=2))["out"] == 3
    assert (await runner.run(g, {"a": 1}, b=5))["out"] == 6
    with pytest.raises(ValueError, match=r"\['a'\].*both"):
        await runner.run(g, {"a": 1}, a=2)


@pytest.mark.asyncio
async def test_c28_missing_inputs_listed_nothing_runs_no_event():
    @node(output_name="z")
    def two(x, y):
        raise AssertionError("must not run")

    rec = Recorder()
    with pytest.raises(MissingInputError) as info:
        await AsyncRunner().run(Graph([two]), event_processors=[rec])
    msg = str(info.value)
    assert "'x'" in msg and "'y'" in msg and "How to fix" in msg
    assert rec.events == [] and rec.shutdowns == 0


@pytest.mark.asyncio
async def test_c28_unknown_and_produced_names_rejected_with_close_match():
    rec = Recorder()
    runner = AsyncRunner()
    with pytest.raises(UnknownInputError) as info:
        await runner.run(
            Graph([stream_response]), messages=[], sytem="typo", event_processors=[rec]
        )
    msg = str(info.value)
    assert "'sytem'" in msg and "'system'" in msg and "did you mean" in msg and "messages" in msg
    with pytest.raises(UnknownInputError) as info2:
        await runner.run(Graph([stream_response]), messages=[], response="x")
    assert "'stream_response'" in str(info2.value) and "produced" in str(info2.value)
    assert rec.events == [] and rec.shutdowns == 0
    assert runner.live_workflows() == ()


@pytest.mark.asyncio
async def test_c28_seed_is_accepted_as_input():
    result = await AsyncRunner().run(make_chat_graph(), messages=[], user_input="hi")
    assert result.completed


@pytest.mark.asyncio
async def test_c29_generated_workflow_id_on_result_and_events():
    rec = Recorder()
    result = await AsyncRunner().run(Graph([add]), a=1, event_processors=[rec])
    assert re.fullmatch(r"wf-[0-9a-f]{12}", result.workflow_id)
    assert {e.workflow_id for e in rec.events} == {result.workflow_id}
    assert {e.run_id for e in rec.events} == {result.run_id}


@pytest.mark.asyncio
async def test_c29_live_id_refused_ended_id_reusable():
    gate = asyncio.Event()

    @node(output_name="o")
    async def wait(x):
        await gate.wait()
        return x

    runner = AsyncRunner()
    g = Graph([wait])
    first = asyncio.ensure_future(runner.run(g, x=1, workflow_id="chat-1"))
    await asyncio.sleep(0)
    assert runner.is_running("chat-1") and runner.live_workflows() == ("chat-1",)
    rec = Recorder()
    with pytest.raises(WorkflowAlreadyRunningError, match="(?s)'chat-1'.*How to fix"):
        await runner.run(g, x=2, workflow_id="chat-1", event_processors=[rec])
    assert rec.events == []
    gate.set()
    assert (await first)["o"] == 1
    assert not runner.is_running("chat-1")
    assert (await runner.run(g, x=3, workflow_id="chat-1"))["o"] == 3


@pytest.mark.asyncio
async def test_c30_failing_node_reraised_or_failed_result():
    @node(output_name="a")
    def ok(x):
        return x

    @node(output_name="b")
    def bad(a):
        raise KeyError("nope")

    g = Graph([ok, bad])
    runner = AsyncRunner()
    with pytest.raises(KeyError, match="nope"):
        await runner.run(g, x=1)
    result = await runner.run(g, x=1, error_handling="continue")
    assert result.status is RunStatus.FAILED and result.failed
    assert isinstance(result.error, KeyError)
    assert result.values == {"a": 1}
    with pytest.raises(ValueError, match="error_handling"):
        await runner.run(g, x=1, error_handling="ignore")


@pytest.mark.asyncio
async def test_c31_run_result_fields_and_mapping_access():
    result = await AsyncRunner().run(Graph([add]), a=1, select=["out"])
    fields = {f.name for f in dataclasses.fields(RunResult)}
    assert fields == {
        "values",
        "status",
        "workflow_id",
        "run_id",
        "error",
        "stop_info",
        "forced",
        "usage",
    }
    assert result["out"] == 11 and "out" in result and result.get("nope", 5) == 5
    assert result.completed and not result.failed and not result.stopped
    assert result.error is None and result.stop_info is None and result.forced is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.status = RunStatus.FAILED  # type: ignore[misc]
    with pytest.raises(KeyError):
        result["missing"]
    assert [m.name for m in RunStatus] == ["COMPLETED", "FAILED", "STOPPED"]
    with pytest.raises(ValueError, match="outputs"):
        await AsyncRunner().run(Graph([add]), a=1, select=["nope"])


@pytest.mark.asyncio
async def test_c31_values_include_run_inputs_that_are_outputs():
    @node(output_name="total")
    def acc(total, x):
        return total + x

    result = await AsyncRunner().run(Graph([acc]), total=1, x=2)
    assert result.values == {"total": 3}


@pytest.mark.asyncio
async def test_c32_cancelling_the_awaiting_task():
    started = asyncio.Event()

    @node(output_name="o")
    async def forever(x, ctx: NodeContext):
        started.set()
        await asyncio.sleep(3600)

    rec = Recorder()
    runner = AsyncRunner()
    task = asyncio.ensure_future(
        runner.run(Graph([forever]), x=1, workflow_id="w-cancel", event_processors=[rec])
    )
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    end = rec.of(RunEndEvent)[0]
    assert end.status is RunStatus.STOPPED and end.result.forced is True
    assert end.result.stop_info is None and not rec.of(StopRequestedEvent)
    err = rec.of(NodeErrorEvent)[0]
    assert err.error_type == "asyncio.CancelledError"
    assert not runner.is_running("w-cancel") and rec.shutdowns == 1


@pytest.mark.asyncio
async def test_c32_cancel_with_concurrent_sync_and_async_nodes():
    started = asyncio.Event()

    @node(output_name="a")
    async def sleeper(x):
        started.set()
        await asyncio.sleep(3600)

    @node(output_name="b")
    def blocker(x, ctx: NodeContext):
        import time

        while not ctx.stop_requested:
            time.sleep(0.005)
        return "late"

    rec = Recorder()
    runner = AsyncRunner()
    task = asyncio.ensure_future(
        runner.run(Graph([sleeper, blocker]), x=1, workflow_id="w2", event_processors=[rec])
    )
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    errors = {e.node_name: e.error_type for e in rec.of(NodeErrorEvent)}
    assert errors == {"sleeper": "asyncio.CancelledError", "blocker": "asyncio.CancelledError"}
    assert rec.events[-1].status is RunStatus.STOPPED and rec.events[-1].result.forced
    assert not runner.is_running("w2")


@pytest.mark.asyncio
async def test_c33_many_concurrent_runs_stay_isolated():
    @node(output_name="echo")
    async def echo(msg: str, ctx: NodeContext) -> str:
        for ch in msg:
            ctx.stream(ch)
            await asyncio.sleep(0)
        return msg

    runner = AsyncRunner()
    g = Graph([echo])
    recs = [Recorder() for _ in range(150)]
    results = await asyncio.gather(
        *(
            runner.run(g, msg=f"run-{i}", workflow_id=f"w{i}", event_processors=[rec])
            for i, rec in enumerate(recs)
        )
    )
    for i, (res, rec) in enumerate(zip(results, recs, strict=True)):
        assert res["echo"] == f"run-{i}"
        assert "".join(rec.chunks()) == f"run-{i}"
        assert {e.workflow_id for e in rec.events} == {f"w{i}"}
        assert [e.seq for e in rec.events] == list(range(1, len(rec.events) + 1))


@pytest.mark.asyncio
async def test_c33_stop_reaches_only_its_run():
    go = asyncio.Event()

    @node(output_name="o")
    async def wait(x, ctx: NodeContext):
        await go.wait()
        return "stopped" if ctx.stop_requested else "ran"

    runner = AsyncRunner()
    g = Graph([wait])
    tasks = [asyncio.ensure_future(runner.run(g, x=i, workflow_id=f"s{i}")) for i in range(10)]
    await asyncio.sleep(0)
    assert runner.stop("s3", info={"kind": "user_stop"}) is True
    go.set()
    results = await asyncio.gather(*tasks)
    for i, res in enumerate(results):
        if i == 3:
            assert res.status is RunStatus.STOPPED and res["o"] == "stopped"
        else:
            assert res.status is RunStatus.COMPLETED and res["o"] == "ran"


RUNNER = AsyncRunner()  # built at import time, outside any loop, as the guide does


def test_c33_runner_built_before_asyncio_run_works_in_two_loops():
    @node(output_name="o")
    async def a(x):
        await asyncio.sleep(0)
        return x

    @node(output_name="p")
    def s(o):
        return o + 1

    g = Graph([a, s])
    first = asyncio.run(RUNNER.run(g, x=1))
    second = asyncio.run(RUNNER.run(g, x=2))
    assert first["p"] == 2 and second["p"] == 3
