"""Event and text streams of Iter and Watch calls, awaiting (async) or blocking (sync).

What both flavours share (the call, what reading learns, cancel, the end of a
text stream) is written once; each flavour adds only its read and its `with`.
Leaving a stream early, by `with`, `close()`, `cancel()` or garbage collection,
cancels the call, and the server then stops the run unless it was detached.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any, Self

import grpc

from hypergraph_grpc.client._convert import event_from_proto
from hypergraph_grpc.client._errors import HypergraphClientError, RunFailedError, error_from_rpc
from hypergraph_grpc.client._models import Event, RunEnded, RunResult, StreamingChunk
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb

# Watch resumes: consecutive attempts after UNAVAILABLE, and the wait before each.
_RESUME_ATTEMPTS = 6
_RESUME_FIRST_WAIT_S = 0.1
_RESUME_MAX_WAIT_S = 2.0


class _StreamCore:
    """What both event-stream flavours share: the call, what reading learns, cancel.

    Subclasses add only the read itself (await or block) and their `with` form.
    """

    def __init__(
        self,
        call: Any,
        workflow_id: str | None,
        reopen: Callable[[int], Any] | None = None,
        after_seq: int = 0,
    ) -> None:
        self._call = call
        self._workflow_id = workflow_id or ""
        self._run_id = ""
        self._result: RunResult | None = None
        self._done = False
        # Watch with resume: reopen(after_seq) opens the call again after a lost connection.
        self._reopen = reopen
        self._failed_resumes = 0
        # The seq of the last event read (a Watch's after_seq before any): a resumed
        # Watch asks for the events after it.
        self.last_seq = after_seq

    workflow_id = property(lambda self: self._workflow_id)
    run_id = property(lambda self: self._run_id)
    result = property(lambda self: self._result, doc="The RunResult once RunEnded arrived.")

    def cancel(self) -> None:
        """Cancel the call now; the server stops the run unless it was detached."""
        if not self._done:
            self._done = True
            self._call.cancel()

    def __del__(self) -> None:
        # Why: grpc.aio keeps an unfinished call alive until its channel closes, so a
        # stream dropped without closing would keep its run going as long as the
        # client lives. Cancelling here makes "dropped = cancelled" hold for both clients.
        try:
            self.cancel()
        except Exception:  # interpreter or loop shutdown: nothing left to cancel
            pass

    def _event(self, msg: pb.Event) -> Event:
        """The typed event of `msg`, noting the ids and the final result it carries."""
        event = event_from_proto(msg)
        self._workflow_id = event.workflow_id or self._workflow_id
        self._run_id = event.run_id or self._run_id
        if isinstance(event, RunEnded):
            self._result = event.result
        return event

    def _failed(self, err: grpc.RpcError) -> HypergraphClientError:
        """The call failed: the stream is over, and this is the error to raise."""
        self._done = True
        return error_from_rpc(err)

    def _resume_wait(self, err: grpc.RpcError) -> float | None:
        """Seconds to wait before re-attaching after ``err``, or None to give up.

        Only a resumable Watch re-attaches, only on UNAVAILABLE (connection lost,
        replica draining), and only a bounded number of times in a row."""
        if (
            self._reopen is None
            or self._result is not None
            or err.code() != grpc.StatusCode.UNAVAILABLE
            or self._failed_resumes >= _RESUME_ATTEMPTS
        ):
            return None
        wait = min(_RESUME_FIRST_WAIT_S * 2**self._failed_resumes, _RESUME_MAX_WAIT_S)
        self._failed_resumes += 1
        return wait

    def _read(self, msg: pb.Event) -> pb.Event:
        self.last_seq = msg.seq
        self._failed_resumes = 0
        return msg


class _TextCore:
    """What both text-stream flavours share: the events below, their ids, cancel, the end."""

    def __init__(self, events: Any) -> None:
        self._events = events

    workflow_id = property(lambda self: self._events.workflow_id)
    result = property(lambda self: self._events.result)

    def cancel(self) -> None:
        self._events.cancel()

    def _check_end(self) -> None:
        # A FAILED run raises after its last token, so it never looks like a short answer.
        result = self._events.result
        if result is not None and result.failed:
            raise RunFailedError(result)


def _token(event: Event) -> str | None:
    """The text of a text chunk; None for every other event."""
    if isinstance(event, StreamingChunk) and isinstance(event.chunk, str):
        return event.chunk
    return None


class _AsyncClosing:
    """`async with` and `aclose()` for a stream: leaving the block cancels the call."""

    def cancel(self) -> None:
        raise NotImplementedError  # given by the stream core listed before this mixin

    async def aclose(self) -> None:
        self.cancel()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self.cancel()


class _SyncClosing:
    """`with` and `close()` for a stream: leaving the block cancels the call."""

    def cancel(self) -> None:
        raise NotImplementedError  # given by the stream core listed before this mixin

    def close(self) -> None:
        self.cancel()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.cancel()


class EventStream(_StreamCore, _AsyncClosing):
    """The events of one Iter/Watch call, as an async iterator of typed `Event`s.

    Use `async with client.iter(...) as events:` to close it deterministically:
    leaving early cancels the call, and the server then stops the run (unless
    the stream was opened with `detach=True`). `workflow_id`, `run_id` and
    `result` fill in as events arrive.
    """

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        msg = await self.read_raw()
        if msg is None:
            raise StopAsyncIteration
        return self._event(msg)

    async def read_raw(self) -> pb.Event | None:
        """The next protobuf Event, or None at the end (skips the dataclass conversion)."""
        while not self._done:
            try:
                msg = await self._call.read()
            except grpc.aio.AioRpcError as err:
                wait = self._resume_wait(err)
                if wait is None:
                    raise self._failed(err) from None
                await asyncio.sleep(wait)
                if self._done:  # cancelled while it waited: no new call to leave behind
                    return None
                self._call = self._reopen(self.last_seq)
                continue
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if self._done and not (task and task.cancelling()):
                    return None  # our own cancel() ended the call: a quiet end, not an error
                self.cancel()  # the task reading us was cancelled: end the call (and so the run)
                raise
            if msg is grpc.aio.EOF:
                self._done = True
                return None
            return self._read(msg)
        return None


class TextStream(_TextCore, _AsyncClosing):
    """Only the text tokens of a run: `async for token in client.stream_text(...)`.

    At the end `result` holds the RunResult; a FAILED run raises RunFailedError
    after its last token, so a failure is never mistaken for a short answer.
    """

    def __aiter__(self) -> TextStream:
        return self

    async def __anext__(self) -> str:
        async for event in self._events:
            token = _token(event)
            if token is not None:
                return token
        self._check_end()
        raise StopAsyncIteration


class SyncEventStream(_StreamCore, _SyncClosing):
    """The events of one Iter/Watch call, as a blocking iterator of typed `Event`s.

    `with client.iter(...) as events:` cancels the call when the block is left
    early, and the server then stops the run (unless detached).
    """

    _resume_wake: threading.Event | None = None  # set by cancel() to end a resume's wait

    def __iter__(self) -> SyncEventStream:
        return self

    def cancel(self) -> None:
        super().cancel()
        wake = self._resume_wake
        if wake is not None:
            wake.set()

    def __next__(self) -> Event:
        msg = self.read_raw()
        if msg is None:
            raise StopIteration
        return self._event(msg)

    def read_raw(self) -> pb.Event | None:
        """The next protobuf Event, or None at the end."""
        while not self._done:
            try:
                return self._read(next(self._call))
            except StopIteration:
                self._done = True
                return None
            except grpc.RpcError as err:
                wait = self._resume_wait(err)
                if wait is None:
                    raise self._failed(err) from None
                self._resume_wake = wake = threading.Event()
                if self._done or wake.wait(wait) or self._done:
                    return None  # cancelled (from another thread) before or while it waited
                self._call = self._reopen(self.last_seq)
            except BaseException:
                # KeyboardInterrupt (or any exception a signal handler raised) while
                # grpc waited: its pending read cannot be resumed, so end the call
                # cleanly (the server stops the run unless detached) and propagate.
                self.cancel()
                raise
        return None


class SyncTextStream(_TextCore, _SyncClosing):
    """Only the text tokens of a run, blocking; `result` at the end; FAILED raises RunFailedError."""

    def __iter__(self) -> Iterator[str]:
        for event in self._events:
            token = _token(event)
            if token is not None:
                yield token
        self._check_end()
