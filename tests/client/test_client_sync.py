"""The blocking Client against a real server: same behaviour as AsyncClient."""

from __future__ import annotations

import signal
import threading
import time

import pytest
from hg_client_support import SLOW, new_id, seq_by_calls
from tcp_relay import ThreadedRelay

from hypergraph_grpc.client import (
    Client,
    DeadlineExceededError,
    InvalidArgumentError,
    NotFoundError,
    RunEnded,
    RunFailedError,
    RunStarted,
    StreamingChunk,
)
from tests.support.server_process import wait_until_free


def test_list_run_and_iter(target):
    with Client(target) as client:
        assert "tokens" in {g.name for g in client.list_graphs()}
        result = client.run("add", {"a": 2, "b": 40})
        assert result["sum"] == 42 and type(result["sum"]) is int
        stream = client.iter("tokens", {"count": 10, "prefix": "y"})
        events = list(stream)
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunEnded)
    assert [e.seq for e in events] == seq_by_calls(events)
    text = "".join(e.text for e in events if isinstance(e, StreamingChunk))
    assert text == "".join(f"y{i} " for i in range(10)) == stream.result["text"]


def test_stream_text_and_failure(target):
    with Client(target) as client:
        assert "".join(client.stream_text("tokens", {"count": 3, "prefix": "q"})) == "q0 q1 q2 "
        with pytest.raises(RunFailedError):
            list(client.stream_text("fail", {"message": "no"}))
        assert client.run("fail", {"message": "no"}).failed


def test_stop_and_cancel(target):
    workflow_id = new_id("pys")
    with Client(target) as client, Client(target) as other:
        stream = client.iter("tokens", SLOW, workflow_id=workflow_id)
        stopped = False
        for event in stream:
            if isinstance(event, StreamingChunk) and not stopped:
                stopped = other.stop(workflow_id, {"kind": "sync"}).found
                assert stopped
        assert stream.result.stopped and stream.result.stop_info == {"kind": "sync"}
        assert not other.stop("no-such-workflow").found

        cancelled = new_id("pys")
        with client.iter("tokens", SLOW, workflow_id=cancelled) as stream:
            for event in stream:
                if isinstance(event, StreamingChunk):
                    break
        assert wait_until_free(client, cancelled).completed


def test_a_blocking_watch_cancelled_while_it_waits_to_resume_makes_no_new_call(target):
    workflow_id = new_id("sync-cancel-wait")
    relay = ThreadedRelay(target)
    with Client(target) as starter, Client(relay.address) as watcher:
        with starter.iter("tokens", SLOW, workflow_id=workflow_id, detach=True) as run:
            next(run)  # detached: the run goes on until stopped below
        try:
            stream = watcher.watch(workflow_id)
            reader = threading.Thread(target=lambda: list(stream))
            reader.start()
            time.sleep(0.2)  # events flow...
            relay.cut()  # ...the read fails, and the stream waits 0.1 s to resume...
            time.sleep(0.05)
            stream.cancel()  # ...when another thread cancels it
            reader.join(10)
            assert not reader.is_alive()
            time.sleep(0.3)
            assert relay.accepted == 1  # no Watch was made again (and left running)
        finally:
            starter.stop(workflow_id)
            relay.close()


def test_errors(target):
    with Client(target) as client:
        with pytest.raises(NotFoundError) as info:
            client.run("nope")
        assert info.value.reason == "GRAPH_NOT_FOUND"
        with pytest.raises(InvalidArgumentError) as info:
            list(client.iter("add", {"a": 1}))
        assert "values.b" in [v.field for v in info.value.field_violations]
        with pytest.raises(DeadlineExceededError):
            client.run("sleep", {"seconds": 30}, timeout=0.3)
        with pytest.raises(NotFoundError) as info:
            list(client.watch("wf-nobody-here"))
        assert info.value.reason == "WORKFLOW_NOT_FOUND"


class Interrupted(Exception):
    """Raised by a real SIGALRM handler while the stream waits (like Ctrl-C would)."""


def test_interrupt_while_waiting_cancels_the_stream(target):
    workflow_id = new_id("pys")

    def raise_interrupted(signum, frame):
        raise Interrupted()

    previous = signal.signal(signal.SIGALRM, raise_interrupted)
    try:
        with Client(target) as client:
            stream = client.iter("tokens", {**SLOW, "delay_ms": 200}, workflow_id=workflow_id)
            signal.setitimer(signal.ITIMER_REAL, 0.5)
            with pytest.raises(Interrupted):
                for _ in stream:
                    pass
            assert list(stream) == []  # ended, not a grpc internal error
            assert wait_until_free(client, workflow_id).completed
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
