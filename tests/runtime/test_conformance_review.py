"""Sharper conformance tests added by the adversarial review of the runtime.

Each test cites the C item (or the section rule) it pins; the ones marked
"regression" failed before the fix that came with them.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from hypergraph import (
    END,
    AsyncEventProcessor,
    AsyncRunner,
    EventProcessor,
    Graph,
    GraphConfigError,
    MissingInputError,
    NodeContext,
    NodeStartEvent,
    RunEndEvent,
    RunStatus,
    StreamingChunkEvent,
    node,
    route,
)

from .helpers import Recorder
from .test_events import check_run_events


@node(output_name="o")
async def quick(x):
    await asyncio.sleep(0)
    return x


# --- C49 / section 10: an iter() block cancelled before the run task got a turn -------------


@pytest.mark.asyncio
async def test_c49_block_cancelled_before_run_task_started_frees_id_and_ends():
    """C49 regression: cancelling the block before the run's task ran once used to leave
    the workflow id live forever (WorkflowAlreadyRunningError on reuse) and
    ``handle.result()`` waiting forever."""
    runner = AsyncRunner()
    box = {}

    async def consume():
        async with runner.iter(Graph([quick]), x=1, workflow_id="pre") as handle:
            box["h"] = handle
            raise asyncio.CancelledError  # e.g. awaiting an already-cancelled future

    with pytest.raises(asyncio.CancelledError):
        await asyncio.ensure_future(consume())
    assert not runner.is_running("pre") and runner.live_workflows() == ()
    result = await asyncio.wait_for(box["h"].result(), 5)
    assert result.status is RunStatus.STOPPED and result.forced and result.stop_info is None
    assert box["h"].stop() is False
    async with runner.iter(Graph([quick]), x=2, workflow_id="pre") as again:
        events = [e async for e in again]
    assert events[-1].status is RunStatus.COMPLETED and events[-1].result["o"] == 2


# --- C55: a processor's own CancelledError is a processor failure, not the run's end -------


class _CancelledOnChunk(AsyncEventProcessor):
    def __init__(self) -> None:
        self.events: list = []
        self.shutdowns = 0

    async def on_event_async(self, event):
        self.events.append(event)
        if isinstance(event, StreamingChunkEvent):
            fut = asyncio.get_running_loop().create_future()
            fut.cancel()
            await fut  # raises CancelledError although nobody cancelled the run

    async def shutdown_async(self):
        self.shutdowns += 1


class _SyncCancelledOnChunk(EventProcessor):
    def on_event(self, event):
        if isinstance(event, StreamingChunkEvent):
            raise asyncio.CancelledError


@node(output_name="text")
async def two_chunks(x, ctx: NodeContext):
    ctx.stream("a")
    ctx.stream("b")
    return "ab"


@pytest.mark.asyncio
async def test_c55_processor_raising_cancelled_error_is_logged_and_run_unaffected(caplog):
    """C55 regression: an async processor whose handler raised CancelledError used to
    cancel ``run()`` in the caller and starve the other processors of RunEndEvent."""
    runner = AsyncRunner()
    bad, rec, sync_bad = _CancelledOnChunk(), Recorder(), _SyncCancelledOnChunk()
    with caplog.at_level(logging.ERROR, logger="hypergraph"):
        result = await runner.run(Graph([two_chunks]), x=1, event_processors=[bad, sync_bad, rec])
    assert result.status is RunStatus.COMPLETED and result["text"] == "ab"
    assert [type(e) for e in bad.events] == [type(e) for e in rec.events]
    assert isinstance(bad.events[-1], RunEndEvent) and bad.shutdowns == 1
    check_run_events(rec.events)
    assert rec.chunks() == ["a", "b"]
    assert "_CancelledOnChunk" in caplog.text and "_SyncCancelledOnChunk" in caplog.text

    async with runner.iter(Graph([two_chunks]), x=1, event_processors=[_CancelledOnChunk()]) as h:
        events = [e async for e in h]
    assert isinstance(events[-1], RunEndEvent) and events[-1].status is RunStatus.COMPLETED


# --- C18: producers in different branches of one gate, inside a loop -----------------------


def _branch_loop(script):
    decisions = iter(script)
    ran = []

    @node(output_name="value")
    def up(n):
        ran.append("up")
        return n + 1

    @node(output_name="value")
    def down(n):
        ran.append("down")
        return n - 10

    @node(output_name="n")
    def commit(value):
        return value

    @route(targets=["up", "down", END])
    def pick(n):
        return next(decisions)

    return Graph([up, down, commit, pick]), ran


def test_c18_producers_in_branches_of_a_loop_gate_are_accepted():
    """C18 regression: the loop body closes back into both branches through data edges
    (commit -> n -> up, down), but a gated node runs only on a decision, so up and down
    are still in different branches of `pick`; this graph used to be rejected."""
    graph, _ = _branch_loop([])
    assert graph.entrypoints == ("up",) and graph.inputs.required == ("n",)


@pytest.mark.asyncio
async def test_c18_c13_loop_branch_producers_run_one_per_decision():
    graph, ran = _branch_loop(["up", "down", "up", END])
    rec = Recorder()
    result = await AsyncRunner().run(graph, n=0, event_processors=[rec])
    assert result.status is RunStatus.COMPLETED
    assert ran == ["up", "up", "down", "up"]  # the entrypoint's first run needs no decision
    assert result.values == {"value": -7, "n": -7}
    check_run_events(rec.events)


def test_c18_producers_still_rejected_when_one_is_not_behind_the_gate():
    @node(output_name="text")
    def draft(topic):
        return topic

    @node(output_name="text")
    def revise(text, feedback):
        return text + "+"

    @node(output_name="feedback")
    def critic(text):
        return "ok"

    @route(targets=["revise", END])
    def good(feedback):
        return END

    with pytest.raises(GraphConfigError) as info:
        Graph([draft, revise, critic, good])
    msg = str(info.value)
    assert "'draft'" in msg and "'revise'" in msg and "'text'" in msg and "How to fix" in msg

    # two branches that both lead (ungated) into the same producer are not exclusive
    @route(targets=["a", "b"])
    def split(q):
        return "a"

    @node(output_name="x")
    def a(q):
        return 1

    @node(output_name="y")
    def b(q):
        return 2

    @node(output_name="z")
    def join(x=0, y=0):
        return x + y

    @node(output_name="z")
    def also(x):
        return x

    with pytest.raises(GraphConfigError, match="'z'"):
        Graph([split, a, b, join, also])


def test_helpers_used():
    assert NodeStartEvent


# --- C6: the context parameter inside Optional["NodeContext"] -------------------------------


def test_c6_optional_of_forward_ref_context_is_detected():
    """C6 regression: ``Optional["NodeContext"]`` (a ForwardRef inside Optional, no
    ``from __future__`` import) used to turn ``ctx`` into a graph input."""
    from typing import Optional, Union

    def a(x, ctx):
        return x

    def b(x, ctx=None):
        return x

    # set as objects: this module's own annotations are strings (__future__ import)
    a.__annotations__["ctx"] = Optional["NodeContext"]  # noqa: UP045 - the form under test
    b.__annotations__["ctx"] = Union["NodeContext", None]  # noqa: UP007
    na, nb = node(output_name="o")(a), node(output_name="o")(b)
    assert na.inputs == ("x",) and na.ctx_param == "ctx"
    assert nb.inputs == ("x",) and nb.ctx_param == "ctx"
    assert Graph([na]).inputs.required == ("x",)


# --- C43 / C47 / section 9: True pairs with STOPPED, False once decided otherwise ----------


@pytest.mark.asyncio
async def test_c43_c47_stop_on_live_run_already_decided_failed_returns_false():
    """C47: a run decided FAILED (a node raised) but still live (a sibling is finishing)
    refuses a stop: False, no StopRequestedEvent, no stop_info, ends FAILED."""
    runner = AsyncRunner()
    answers = []

    @node(output_name="a")
    async def boom(x):
        raise ValueError("first cause")

    @node(output_name="b")
    async def sibling(x, ctx: NodeContext):
        while not ctx.stop_requested:  # the failure asks siblings to stop, quietly
            await asyncio.sleep(0)
        answers.append((runner.is_running(ctx.workflow_id), runner.stop(ctx.workflow_id, "late")))
        return "kept"

    rec = Recorder()
    result = await runner.run(
        Graph([boom, sibling]), x=1, workflow_id="dec", event_processors=[rec],
        error_handling="continue",
    )  # fmt: skip
    assert answers == [(True, False)]
    assert result.status is RunStatus.FAILED and str(result.error) == "first cause"
    assert result.stop_info is None and result.values == {"b": "kept"}
    assert "StopRequestedEvent" not in rec.kinds()
    check_run_events(rec.events)


@pytest.mark.asyncio
async def test_c29_c43_id_free_and_stop_false_once_run_end_is_emitted():
    """C29/C43: from the RunEndEvent on (a sync processor's on_run_end, an async
    processor still busy with it, the iter() consumer that just read it) the id is no
    longer live, stop() returns False, and a new run with the same id starts at once."""
    runner = AsyncRunner()
    seen = {}
    release = asyncio.Event()

    class AtEnd(EventProcessor):
        def on_event(self, event):
            if isinstance(event, RunEndEvent):
                wid = event.workflow_id
                seen["sync"] = (runner.is_running(wid), runner.stop(wid))

    class SlowAtEnd(AsyncEventProcessor):
        async def on_event_async(self, event):
            if isinstance(event, RunEndEvent):
                seen["async"] = (runner.is_running(event.workflow_id), runner.stop("reuse"))
                await release.wait()

    task = asyncio.ensure_future(
        runner.run(
            Graph([quick]), x=1, workflow_id="reuse", event_processors=[AtEnd(), SlowAtEnd()]
        )
    )
    while "async" not in seen:
        await asyncio.sleep(0)
    # the first run is still delivering its RunEndEvent; its id is already free
    second = await runner.run(Graph([quick]), x=2, workflow_id="reuse")
    assert second["o"] == 2
    release.set()
    first = await task
    assert first.status is RunStatus.COMPLETED
    assert seen == {"sync": (False, False), "async": (False, False)}

    async with runner.iter(Graph([quick]), x=3, workflow_id="turns") as handle:
        async for event in handle:
            if isinstance(event, RunEndEvent):
                assert not runner.is_running("turns") and handle.stop() is False
                # the next turn of a chat, started while the old block is still open
                async with runner.iter(Graph([quick]), x=4, workflow_id="turns") as nxt:
                    assert handle.stop() is False  # never touches the new run
                    events = [e async for e in nxt]
    assert events[-1].result["o"] == 4


# --- C16: entrypoint inference falls back to list order ------------------------------------


def test_c16_two_back_targets_infer_first_non_gate_member_in_list_order():
    """C16 [ours]: when the cycle's gates send back to more than one member, the
    entrypoint is the first non-gate member in list order."""
    graph, _ = _branch_loop([])
    nodes = graph.nodes
    reordered = Graph([nodes["pick"], nodes["down"], nodes["commit"], nodes["up"]])
    assert reordered.entrypoints == ("down",)
    assert Graph(list(nodes.values()), entrypoint="commit").entrypoints == ("commit",)


# --- C56 / section 12: every message names the offender and says how to fix it ------------


@pytest.mark.asyncio
async def test_c56_messages_outside_the_error_table_also_say_how_to_fix():
    """Section 12 (house rule): RunResult lookups, a reused iter() context, a handle used
    after its block, and a gate returning the string 'END' all say how to fix."""
    runner = AsyncRunner()
    result = await runner.run(Graph([quick]), x=1)
    with pytest.raises(KeyError) as info:
        result["nope"]
    assert "'nope'" in str(info.value) and "How to fix" in str(info.value)

    ctx = runner.iter(Graph([quick]), x=1)
    async with ctx as handle:
        pass
    with pytest.raises(RuntimeError, match="(?s)already entered.*How to fix"):
        async with ctx:
            pass
    with pytest.raises(RuntimeError, match="(?s)outside.*How to fix"):
        await handle.__anext__()

    @route(targets=["quick", END])
    def says_end(x):
        return "END"

    failed = await runner.run(Graph([says_end, quick]), x=1, error_handling="continue")
    msg = str(failed.error)
    assert "'says_end'" in msg and "'END'" in msg and "How to fix" in msg and "END object" in msg


# --- C34 / C36 / C40: a sync node's chunks racing a stop from a third thread ---------------


@pytest.mark.asyncio
@pytest.mark.parametrize("stop_from", ["thread", "loop"])
async def test_c34_c36_c40_sync_node_chunks_racing_stop_from_another_thread(stop_from):
    """C34/C36/C40: a sync node streams from its worker thread while another thread stops
    the run: processors and the iter() consumer see the chunks in call order, gap-free,
    none after StopRequestedEvent (chunks sent after the flag turned true but before
    the loop emitted StopRequestedEvent may pass, in order), seq 1..N without gaps; the
    merged iter() text equals the processors'."""
    import threading

    stop_seen = threading.Event()

    @node(output_name="text")
    def talker(x, ctx: NodeContext) -> str:
        i = 0
        while not ctx.stop_requested:
            ctx.stream(f"{i},")
            i += 1
            if i % 256 == 0:
                time.sleep(0)  # let the GIL go now and then: a fast, not frantic, stream
        for j in range(50):  # ignores the stop: all of these must be dropped
            ctx.stream(f"late{j},")
        stop_seen.wait(10)
        return i  # how many numbered chunks it streamed

    runner = AsyncRunner()
    rec = Recorder()

    def stopper():
        while len(rec.events) < 500:  # let a good number of chunks through first
            stop_seen.wait(0.001)
        assert runner.stop("race-sync", info="stop") is True
        stop_seen.set()

    async def loop_stopper():
        # on the loop thread, step 2 runs inside stop(): the chunks still waiting in
        # the hand-over list must be dispatched before StopRequestedEvent
        while len(rec.events) < 500:
            await asyncio.sleep(0.001)
        assert runner.stop("race-sync", info="stop") is True
        stop_seen.set()

    async with runner.iter(
        Graph([talker]), x=1, workflow_id="race-sync", event_processors=[rec], buffer_size=8
    ) as handle:
        if stop_from == "thread":
            thread = threading.Thread(target=stopper)
            thread.start()
        else:
            stopping = asyncio.ensure_future(loop_stopper())
        events = [e async for e in handle]
        result = await handle.result()
    if stop_from == "thread":
        thread.join(10)
    else:
        await stopping
    assert result.status is RunStatus.STOPPED and result.stop_info == "stop"
    check_run_events(rec.events)
    chunks = rec.chunks()
    numbered = [c for c in chunks if not c.startswith("late")]
    late = chunks[len(numbered) :]  # sent after the flag, before StopRequestedEvent: allowed
    assert numbered == [f"{i}," for i in range(len(numbered))] and len(numbered) >= 400
    assert late == [f"late{j}," for j in range(len(late))]
    # what was handed over before the stop is delivered; only a chunk racing the
    # flag may be lost (the documented "one chunk it did not stream")
    assert len(numbered) in (result["text"], result["text"] - 1)
    kinds = rec.kinds()
    assert "StreamingChunkEvent" not in kinds[kinds.index("StopRequestedEvent") :]
    text = "".join(e.chunk for e in events if isinstance(e, StreamingChunkEvent))
    assert text == "".join(chunks)
    seqs = [e.seq for e in events]
    assert seqs == sorted(set(seqs)) and seqs[-1] == len(rec.events)
    assert seqs[-1] == sum(getattr(e, "merged", 1) for e in events)


@pytest.mark.asyncio
async def test_c24_c35_sync_node_streaming_flat_out_never_starves_the_loop():
    """C24/C35 regression: a sync node streaming from its thread as fast as it can used to
    keep the loop inside one hand-over drain for as long as it streamed (each pass found
    new chunks), so no other task ran: a stop() from a coroutine could not land. The
    node gives up by itself after a cap, so the old behaviour ends COMPLETED, not hangs."""
    cap = 300_000

    @node(output_name="n")
    def firehose(x, ctx: NodeContext) -> int:
        i = 0
        while not ctx.stop_requested and i < cap:
            ctx.stream("x")
            i += 1
        return i

    class Count(EventProcessor):
        n = 0

        def on_event(self, event):
            self.n += 1

    runner = AsyncRunner()
    counter = Count()
    task = asyncio.ensure_future(
        runner.run(Graph([firehose]), x=1, workflow_id="flat-out", event_processors=[counter])
    )
    while counter.n < 500 and not task.done():
        await asyncio.sleep(0.001)
    accepted = runner.stop("flat-out", info="now")
    result = await task
    assert accepted is True and result.status is RunStatus.STOPPED
    assert result["n"] < cap


@pytest.mark.asyncio
async def test_c49_leaving_block_of_failed_run_does_not_wait_forever_for_a_stubborn_sibling():
    """C49 regression: leaving the block of a run already decided FAILED (so the stop is
    refused) while a sibling ignores the cooperative stop used to wait for that sibling
    for as long as it ran (here an hour); now the close grace bounds it: the sibling is
    cancelled, the run ends FAILED with the first error and ``forced``, no task is left."""

    @node(output_name="a")
    async def boom(x):
        raise ValueError("first cause")

    @node(output_name="b")
    async def stubborn(x):
        await asyncio.sleep(3600)
        return "late"

    runner = AsyncRunner()
    rec = Recorder()
    before = asyncio.all_tasks()
    async with runner.iter(Graph([boom, stubborn]), x=1, event_processors=[rec]) as handle:
        async for event in handle:
            if type(event).__name__ == "NodeErrorEvent":
                break  # the run is decided FAILED; stubborn still runs
    result = await handle.result(raise_on_failure=False)
    assert result.status is RunStatus.FAILED and str(result.error) == "first cause"
    assert result.forced and result.stop_info is None and "b" not in result.values
    errors = [
        (e.node_name, e.error_type) for e in rec.events if type(e).__name__ == "NodeErrorEvent"
    ]
    assert errors == [("boom", "ValueError"), ("stubborn", "asyncio.CancelledError")]
    assert "StopRequestedEvent" not in rec.kinds()
    check_run_events(rec.events)
    assert asyncio.all_tasks() == before


# --- section 11: TypedEventProcessor dispatch matches calling on_event yourself ------------


@pytest.mark.asyncio
async def test_c53_typed_processor_hooks_set_on_the_instance_are_called():
    """C53 regression: the per-class hook table skipped hooks assigned on the instance
    (``proc.on_streaming_chunk = send``), which ``proc.on_event(event)`` would call."""
    from hypergraph import TypedEventProcessor

    chunks, ends = [], []
    proc = TypedEventProcessor()
    proc.on_streaming_chunk = lambda event: chunks.append(event.chunk)
    proc.on_run_end = lambda event: ends.append(event.status)
    result = await AsyncRunner().run(Graph([two_chunks]), x=1, event_processors=[proc])
    assert chunks == ["a", "b"] and ends == [result.status]


# --- section 6: select limits the values, never the execution; runner keywords as inputs ---


@pytest.mark.asyncio
async def test_c31_select_limits_values_but_does_not_prune_execution():
    ran = []

    @node(output_name="a")
    def first(x):
        ran.append("first")
        return x + 1

    @node(output_name="b")
    def second(a):
        ran.append("second")
        return a + 1

    @node(output_name="c")
    async def third(b):
        ran.append("third")
        return b + 1

    runner = AsyncRunner()
    result = await runner.run(Graph([first, second, third]), x=0, select=["a"])
    assert result.values == {"a": 1} and ran == ["first", "second", "third"]
    assert (await runner.run(Graph([first, second, third]), x=0, select="c")).values == {"c": 3}
    with pytest.raises(ValueError) as info:
        await runner.run(Graph([first, second, third]), x=0, select=["a", "x"])
    msg = str(info.value)
    assert "'x'" in msg and "['a', 'b', 'c']" in msg and "How to fix" in msg


@pytest.mark.asyncio
async def test_c27_inputs_named_like_runner_keywords_go_in_values():
    """Section 6: keyword inputs cannot use the runner's own keyword names; in
    ``values`` they are ordinary inputs."""

    @node(output_name="out")
    def uses(select, workflow_id, max_iterations):
        return (select, workflow_id, max_iterations)

    values = {"select": "s", "workflow_id": "w", "max_iterations": 3}
    result = await AsyncRunner().run(Graph([uses]), values, workflow_id="real-id")
    assert result["out"] == ("s", "w", 3) and result.workflow_id == "real-id"


# --- C28 / section 4: a missing seed says why it is required ------------------------------


@pytest.mark.asyncio
async def test_c28_missing_seed_explains_why_it_is_required_despite_a_default():
    """C28/C56: a seed (produced inside a cycle, read by its entrypoint) is required even
    when the entrypoint gives it a default; the message says so, naming the producer and
    the entrypoint, and how to fix it."""

    @node(output_name="draft")
    def write(topic, feedback=""):
        return topic + feedback

    @node(output_name="feedback")
    def critique(draft):
        return "+"

    @route(targets=["write", END])
    def enough(feedback, draft):
        return END if len(draft) > 3 else "write"

    graph = Graph([write, critique, enough])
    assert graph.inputs.required == ("topic", "feedback")
    with pytest.raises(MissingInputError) as info:
        await AsyncRunner().run(graph, topic="a")
    msg = str(info.value)
    assert "['feedback']" in msg and "seed" in msg and "'critique'" in msg and "'write'" in msg
    assert "How to fix" in msg and "first pass" in msg


# --- section 11 / C34: a sync node's chunk reaches processors while the node still runs ----


@pytest.mark.asyncio
@pytest.mark.parametrize("consumer", ["processor", "iter"])
async def test_c34_sync_node_chunk_is_delivered_while_the_node_still_runs(consumer):
    """Section 11: the loop is woken when the hand-over list becomes non-empty, so a chunk
    from a worker thread reaches processors and the iter() consumer while the node is
    still running (a live UI), not batched until its end. The node waits for proof that
    its first chunk arrived before it streams the second."""
    import threading

    arrived = threading.Event()
    outcome = []

    @node(output_name="text")
    def talker(x, ctx: NodeContext) -> str:
        ctx.stream("first")
        outcome.append(arrived.wait(10))  # a bounded wait, not a timing assertion
        ctx.stream("second")
        return "first" + "second"

    class Live(EventProcessor):
        def on_event(self, event):
            if isinstance(event, StreamingChunkEvent) and event.chunk == "first":
                arrived.set()

    runner = AsyncRunner()
    if consumer == "processor":
        rec = Recorder()
        result = await runner.run(Graph([talker]), x=1, event_processors=[Live(), rec])
        chunks = rec.chunks()
    else:
        async with runner.iter(Graph([talker]), x=1) as handle:
            chunks = []
            async for event in handle:
                if isinstance(event, StreamingChunkEvent):
                    chunks.append(event.chunk)
                    if event.chunk == "first":
                        arrived.set()
            result = await handle.result()
    assert outcome == [True] and chunks == ["first", "second"] and result["text"] == "firstsecond"


# --- section 3 / section 7: gates run inline on the loop; ctx ids are read-only -----------


@pytest.mark.asyncio
async def test_c10_c24_gates_run_on_the_loop_thread_and_ctx_ids_are_read_only():
    """Section 3: gates run on the event loop thread (sync nodes do not). Section 7:
    ``workflow_id``, ``run_id`` and ``node_name`` describe this execution and are
    read-only."""
    import threading

    seen = {}

    @node(output_name="x")
    def src(q, ctx: NodeContext):
        seen["src"] = threading.get_ident()
        seen["ids"] = (ctx.workflow_id, ctx.run_id, ctx.node_name)
        for attr in ("workflow_id", "run_id", "node_name", "stop_requested"):
            try:
                setattr(ctx, attr, "changed")
            except AttributeError:
                seen.setdefault("read_only", []).append(attr)
        return q

    @route(targets=["after", END])
    def gate(x, ctx: NodeContext):
        seen["gate"] = threading.get_ident()
        seen["gate_name"] = ctx.node_name
        return "after"

    @node(output_name="y")
    async def after(x):
        return x

    loop_thread = threading.get_ident()
    result = await AsyncRunner().run(Graph([src, gate, after]), q=1, workflow_id="ids")
    assert result["y"] == 1
    assert seen["gate"] == loop_thread and seen["src"] != loop_thread
    assert seen["ids"] == ("ids", result.run_id, "src") and seen["gate_name"] == "gate"
    assert seen["read_only"] == ["workflow_id", "run_id", "node_name", "stop_requested"]


# --- section 11: a sync processor hook written `async def` is refused up front -------------


@pytest.mark.asyncio
async def test_c53_async_def_hook_on_a_sync_processor_is_refused_before_the_run():
    """Section 11/12: ``TypedEventProcessor.on_streaming_chunk`` (or ``on_event``) written
    ``async def`` is called synchronously and would silently never run; the run refuses it
    before any event, naming the processor and the hook, saying how to fix it."""
    from hypergraph import TypedEventProcessor

    class Typed(TypedEventProcessor):
        async def on_streaming_chunk(self, event):
            pass

    class Plain(EventProcessor):
        async def on_event(self, event):
            pass

    runner = AsyncRunner()
    for proc, hook in ((Typed(), "on_streaming_chunk"), (Plain(), "on_event")):
        rec = Recorder()
        with pytest.raises(TypeError) as info:
            await runner.run(Graph([quick]), x=1, event_processors=[rec, proc])
        msg = str(info.value)
        assert type(proc).__qualname__ in msg and hook in msg and "How to fix" in msg
        assert rec.events == [] and runner.live_workflows() == ()
