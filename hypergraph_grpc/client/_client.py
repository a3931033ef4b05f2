"""`AsyncClient` (asyncio) and `Client` (blocking): one channel, every RunnerService call.

Both build requests with `_requests`, read answers with `_convert`, stream with
`_streams` and raise through `error_from_rpc`; they differ only in awaiting or blocking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

import grpc

from hypergraph_grpc.client import _requests
from hypergraph_grpc.client._convert import (
    graphs_from_proto,
    result_from_proto,
    runs_from_proto,
    stop_outcome,
)
from hypergraph_grpc.client._errors import error_from_rpc
from hypergraph_grpc.client._models import GraphInfo, RunResult, RunSummary, StopOutcome
from hypergraph_grpc.client._streams import (
    EventStream,
    SyncEventStream,
    SyncTextStream,
    TextStream,
    _StreamCore,
    _TextCore,
)
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2_grpc as pb_grpc

DEFAULT_TARGET = "127.0.0.1:50051"


def _channel_args(options: Sequence[tuple[str, Any]] | None) -> list[tuple[str, Any]]:
    # Why: LLM outputs and merged chunks can be large; don't cap at grpc's 4 MiB default.
    base = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
    return base + list(options or [])


_Events = TypeVar("_Events", bound=_StreamCore)
_Text = TypeVar("_Text", bound=_TextCore)


class _ClientCore(Generic[_Events, _Text]):
    """What both clients share: the channel, per-call options and the streaming calls.

    A subclass names its grpc flavour and stream classes, and adds only what
    differs between awaiting and blocking: the unary calls, `close` and `with`.
    """

    _grpc: Any  # grpc.aio or grpc: both have insecure_channel / secure_channel
    _events: type[_Events]
    _text: type[_Text]

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        metadata: Sequence[tuple[str, str]] | None = None,
        timeout: float | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] | None = None,
        channel: grpc.aio.Channel | grpc.Channel | None = None,
    ) -> None:
        self.target = target
        self._metadata = tuple(metadata or ())
        self._timeout = timeout
        self._own_channel = channel is None
        if channel is None:
            args = _channel_args(options)
            if credentials is None:
                channel = self._grpc.insecure_channel(target, options=args)
            else:
                channel = self._grpc.secure_channel(target, credentials, options=args)
        self.channel = channel
        self.stub = pb_grpc.RunnerServiceStub(channel)

    def _kw(self, timeout: float | None) -> dict[str, Any]:
        """The per-call keywords: the call's deadline, else the client's; the metadata."""
        return {
            "timeout": self._timeout if timeout is None else timeout,
            "metadata": self._metadata or None,
        }

    def iter(
        self,
        graph: str,
        values: Mapping[str, Any] | None = None,
        *,
        workflow_id: str | None = None,
        select: Sequence[str] | None = None,
        max_iterations: int | None = None,
        detach: bool = False,
        disable_merge: bool = False,
        max_queued_events: int | None = None,
        max_chunk_bytes: int | None = None,
        view: str = "full",
        capability: Sequence[str] | None = None,
        capability_ttl: float | None = None,
        timeout: float | None = None,
    ) -> _Events:
        """Start a run and stream its events (ending with RunEnded).

        An `EventStream` from `AsyncClient`, a `SyncEventStream` from `Client`.
        `view="text"` leaves out the node lifecycle (SuperstepStarted, NodeStarted,
        NodeEnded, RouteDecision): RunStarted, chunks, node failures, stops and RunEnded
        only, at a lower cost per stream on the server.
        `capability` (scopes "watch" and/or "stop") asks the server for a token in
        `RunStarted.capability` that lets its holder watch/stop this one run for
        `capability_ttl` seconds (default one hour).
        """
        options = _requests.stream_options(
            detach, disable_merge, max_queued_events, max_chunk_bytes, view
        )
        request = _requests.iter_request(
            graph, values, workflow_id, select, max_iterations, options, capability, capability_ttl
        )
        return self._events(self.stub.Iter(request, **self._kw(timeout)), workflow_id)

    def stream_text(
        self,
        graph: str,
        values: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> _Text:
        """Start a run and yield only its text tokens (same keywords as `iter`; the
        stream asks for `view="text"` unless told otherwise)."""
        kwargs.setdefault("view", "text")
        return self._text(self.iter(graph, values, **kwargs))

    def watch(
        self,
        workflow_id: str,
        *,
        after_seq: int = 0,
        resume: bool = True,
        disable_merge: bool = False,
        timeout: float | None = None,
    ) -> _Events:
        """Attach to a workflow's events after `after_seq`, then follow it until RunEnded.

        With `resume` (the default) a lost connection (UNAVAILABLE) re-attaches
        with `after_seq` = the last seq read, a few times in a row with a growing
        wait: no event is lost or repeated. An `EventsLost` event first says which
        seqs the server no longer keeps. Unknown ids raise NotFoundError.
        """
        kw = self._kw(timeout)

        def reopen(seq: int) -> Any:
            request = _requests.watch_request(workflow_id, seq, disable_merge)
            return self.stub.Watch(request, **kw)

        return self._events(
            reopen(after_seq), workflow_id, reopen if resume else None, after_seq=after_seq
        )


# The unary methods below are written out in both clients on purpose: `async def`
# versus `def` is the one real difference, and each keeps an exact signature for
# users and type checkers. Their bodies are only "build, call, read".


class AsyncClient(_ClientCore[EventStream, TextStream]):
    """An asyncio client for RunnerService.

    `target` is "host:port"; `metadata` is sent with every call (e.g. auth);
    `timeout` (seconds) is the default deadline of every call that gives none.
    Pass `credentials` for TLS, or a ready `channel` (a `grpc.aio.Channel`).
    """

    _grpc = grpc.aio
    _events = EventStream
    _text = TextStream

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_channel:
            await self.channel.close()

    async def _unary(self, method: Any, request: Any, timeout: float | None) -> Any:
        try:
            return await method(request, **self._kw(timeout))
        except grpc.aio.AioRpcError as err:
            raise error_from_rpc(err) from None

    async def list_graphs(self, *, timeout: float | None = None) -> list[GraphInfo]:
        """Every registered graph with its inputs, outputs and nodes, sorted by name."""
        return graphs_from_proto(
            await self._unary(self.stub.ListGraphs, pb.ListGraphsRequest(), timeout)
        )

    async def run(
        self,
        graph: str,
        values: Mapping[str, Any] | None = None,
        *,
        workflow_id: str | None = None,
        select: Sequence[str] | None = None,
        max_iterations: int | None = None,
        timeout: float | None = None,
    ) -> RunResult:
        """Start a run, wait for it, return its RunResult (a FAILED run is a result, not an error)."""
        request = _requests.run_request(graph, values, workflow_id, select, max_iterations)
        return result_from_proto((await self._unary(self.stub.Run, request, timeout)).result)

    async def stop(
        self,
        workflow_id: str,
        info: Mapping[str, Any] | None = None,
        *,
        grace: float | None = None,
        timeout: float | None = None,
    ) -> StopOutcome:
        """Ask a live workflow to stop. Truthy (`found`) when a live run was reached.

        `grace` (seconds): after it, nodes still running are cancelled (forced).
        """
        request = _requests.stop_request(workflow_id, info, grace)
        return stop_outcome(await self._unary(self.stub.Stop, request, timeout))

    async def list_runs(
        self,
        graph: str | None = None,
        *,
        page_size: int | None = None,
        timeout: float | None = None,
    ) -> list[RunSummary]:
        """Every live run of the deployment (all replicas), oldest first; all pages."""
        runs, token = [], ""
        while True:
            request = _requests.list_runs_request(graph, page_size, token)
            page = await self._unary(self.stub.ListRuns, request, timeout)
            runs += runs_from_proto(page)
            token = page.next_page_token
            if not token:
                return runs


class Client(_ClientCore[SyncEventStream, SyncTextStream]):
    """A blocking client for RunnerService over the sync grpc stubs (no event loop inside).

    Same methods and arguments as `AsyncClient`, without `await`; streams are
    plain iterators. A ready `channel` is a `grpc.Channel`.
    """

    _grpc = grpc
    _events = SyncEventStream
    _text = SyncTextStream

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._own_channel:
            self.channel.close()

    def _unary(self, method: Any, request: Any, timeout: float | None) -> Any:
        try:
            return method(request, **self._kw(timeout))
        except grpc.RpcError as err:
            raise error_from_rpc(err) from None

    def list_graphs(self, *, timeout: float | None = None) -> list[GraphInfo]:
        """Every registered graph with its inputs, outputs and nodes, sorted by name."""
        return graphs_from_proto(self._unary(self.stub.ListGraphs, pb.ListGraphsRequest(), timeout))

    def run(
        self,
        graph: str,
        values: Mapping[str, Any] | None = None,
        *,
        workflow_id: str | None = None,
        select: Sequence[str] | None = None,
        max_iterations: int | None = None,
        timeout: float | None = None,
    ) -> RunResult:
        """Start a run, wait for it, return its RunResult (a FAILED run is a result, not an error)."""
        request = _requests.run_request(graph, values, workflow_id, select, max_iterations)
        return result_from_proto(self._unary(self.stub.Run, request, timeout).result)

    def stop(
        self,
        workflow_id: str,
        info: Mapping[str, Any] | None = None,
        *,
        grace: float | None = None,
        timeout: float | None = None,
    ) -> StopOutcome:
        """Ask a live workflow to stop. Truthy (`found`) when a live run was reached.

        `grace` (seconds): after it, nodes still running are cancelled (forced).
        """
        request = _requests.stop_request(workflow_id, info, grace)
        return stop_outcome(self._unary(self.stub.Stop, request, timeout))

    def list_runs(
        self,
        graph: str | None = None,
        *,
        page_size: int | None = None,
        timeout: float | None = None,
    ) -> list[RunSummary]:
        """Every live run of the deployment (all replicas), oldest first; all pages."""
        runs, token = [], ""
        while True:
            request = _requests.list_runs_request(graph, page_size, token)
            page = self._unary(self.stub.ListRuns, request, timeout)
            runs += runs_from_proto(page)
            token = page.next_page_token
            if not token:
                return runs
