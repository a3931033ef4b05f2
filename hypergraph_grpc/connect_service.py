"""RunnerService over the Connect protocol: the one servicer, reached through a thin adapter.

:class:`ConnectRunnerService` implements the generated Connect protocol class
(``gen/.../runner_connect.py``) by calling the very methods of
:class:`~hypergraph_grpc.service.RunnerService` that the gRPC port calls, after
the same call policies (:class:`~hypergraph_grpc.interceptors.RunnerServiceInterceptor`
instances such as :mod:`auth`'s). Each call gets a :class:`_Context`: the six
things the servicer uses of a grpc.aio context (request metadata, response
headers and trailers, the time left, ending the call with a status, writing a
stream message), spoken in Connect terms. So validation, limits, coordination,
event conversion and the error table stay in one place each.

Errors: the servicer ends a call with ``errors.abort``; here that raises a
``ConnectError`` with the same code, message and ``google.rpc`` details
(``ErrorInfo``, ``BadRequest``, ``RetryInfo``), which Connect clients decode
like gRPC clients do. An exception that escapes becomes INTERNAL through
``errors.to_status``, as on the gRPC port.

A request body that does not parse reaches the call policies as an
``UndecodableRequest``, so :class:`~hypergraph_grpc.interceptors.DecodeInterceptor`
answers MALFORMED_REQUEST after authentication, as on the gRPC port.

Streams: the servicer's writes wait in a small outbox (:class:`_Outbox`) that
the response generator drains, so a slow HTTP client holds the writer back and
the stream's own queue merges chunks as it does for gRPC. The codecs
(:func:`codecs`) let the pre-serialized chunk messages of ``convert`` through
untouched in the binary format and decode them once for JSON.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import grpc
from connectrpc.code import Code
from connectrpc.codec import Codec
from connectrpc.errors import ConnectError, ErrorDetail
from connectrpc.request import RequestContext
from google.protobuf import json_format
from google.rpc import status_pb2
from protobuf.wkt import Any as AnyDetail

from hypergraph_grpc import errors
from hypergraph_grpc.gen.hypergraph.v1 import runner_connect
from hypergraph_grpc.gen.hypergraph.v1 import runner_pb2 as pb
from hypergraph_grpc.interceptors import RunnerServiceInterceptor, UndecodableRequest
from hypergraph_grpc.service import SERVICE_NAME, RunnerService

__all__ = ["ConnectRunnerService", "codecs", "connect_application"]

# Stream messages the servicer may write before it waits for the HTTP response to take them.
_OUTBOX_AHEAD = 8
# How much of a parser's complaint a refused request body gets back.
_MAX_PROBLEM = 200
_STATUS_DETAILS_KEY = "grpc-status-details-bin"

_CODES = {code: Code[code.name] for code in grpc.StatusCode if code.name in Code.__members__}
_CODES[grpc.StatusCode.CANCELLED] = Code.CANCELED
_GRPC_NAMES = {connect: status.name for status, connect in _CODES.items()}

CallEnded = Callable[[str, str], None]


class ConnectRunnerService(runner_connect.RunnerService):
    """The generated Connect service, each method a call of the one servicer."""

    def __init__(
        self, service: RunnerService, policies: Sequence[RunnerServiceInterceptor] = ()
    ) -> None:
        self._service = service
        self._policies = tuple(policies)

    async def list_graphs(self, request, ctx):
        return await self._call("ListGraphs", request, _Context(ctx))

    async def run(self, request, ctx):
        return await self._call("Run", request, _Context(ctx))

    async def stop(self, request, ctx):
        return await self._call("Stop", request, _Context(ctx))

    async def list_runs(self, request, ctx):
        return await self._call("ListRuns", request, _Context(ctx))

    def iter(self, request, ctx):
        return self._stream("Iter", request, ctx)

    def watch(self, request, ctx):
        return self._stream("Watch", request, ctx)

    async def _stream(self, method: str, request, ctx: RequestContext) -> AsyncIterator[Any]:
        outbox = _Outbox(_OUTBOX_AHEAD)
        call = asyncio.ensure_future(self._call(method, request, _Context(ctx, outbox)))
        call.add_done_callback(outbox.close)
        try:
            while (message := await outbox.get()) is not _END:
                yield message
            call.result()  # the ConnectError the servicer ended the stream with, if any
        finally:
            if not call.done():
                # The client went away (or its deadline passed): the servicer's own
                # cancellation path stops the run unless the stream asked to detach.
                call.cancel()

    async def _call(self, method: str, request, context: _Context) -> Any:
        behavior = getattr(self._service, method)
        details = _CallDetails(f"/{SERVICE_NAME}/{method}", context.invocation_metadata())
        for policy in reversed(self._policies):  # the first policy runs first, as on gRPC
            behavior = policy.wrap(method, behavior, details)
        try:
            return await behavior(request, context)
        except (ConnectError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug, not a refusal: INTERNAL with details, logged
            status = errors.to_status(
                exc,
                graph=getattr(request, "graph", ""),
                workflow_id=getattr(request, "workflow_id", ""),
            )
            raise _connect_error(status) from None


class _CallCounter:
    """A Connect metadata interceptor that reports how every call ended, as
    ``on_call_end(method, code)`` with the gRPC status code's name (as the gRPC
    port's counts name it).

    Placed first, the application runs it before it reads the request, so it also
    sees the calls the application refuses itself before the servicer does: a
    body over ``read_max_bytes`` (RESOURCE_EXHAUSTED), an unknown compression, a
    malformed GET query.
    """

    def __init__(self, on_call_end: CallEnded) -> None:
        self._on_call_end = on_call_end

    async def on_start(self, ctx: RequestContext) -> None:
        return None

    async def on_end(self, _token: None, ctx: RequestContext, error: Exception | None, /) -> None:
        if error is None:
            code = "OK"
        elif isinstance(error, ConnectError):
            code = _GRPC_NAMES.get(error.code, "UNKNOWN")
        else:
            code = "UNKNOWN"
        self._on_call_end(ctx.method.name, code)


@dataclasses.dataclass(frozen=True)
class _CallDetails:
    """What a call policy reads of a call (``grpc.HandlerCallDetails``' two fields)."""

    method: str
    invocation_metadata: tuple[tuple[str, str], ...]


class _Context:
    """The part of a grpc.aio servicer context that the servicer uses, over a Connect call."""

    __slots__ = ("_ctx", "_outbox")

    def __init__(self, ctx: RequestContext, outbox: _Outbox | None = None) -> None:
        self._ctx = ctx
        self._outbox = outbox

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return tuple(self._ctx.request_headers.allitems())

    async def send_initial_metadata(self, metadata) -> None:
        for key, value in metadata:
            self._ctx.response_headers.add(key, value)

    def set_trailing_metadata(self, metadata) -> None:
        for key, value in metadata:
            self._ctx.response_trailers.add(key, value)

    def auth_context(self) -> dict[str, list[bytes]]:
        """No peer identity: a client certificate on the HTTP port is checked by the TLS
        handshake but not mapped to an auth-file [[client]] entry (callers send tokens)."""
        return {}

    def time_remaining(self) -> float | None:
        left = self._ctx.timeout_ms
        return None if left is None else max(0.0, left / 1000)

    async def abort_with_status(self, status: grpc.Status) -> None:
        raise _connect_error(status)

    async def write(self, message) -> None:
        await self._outbox.put(message)


def _connect_error(status: grpc.Status) -> ConnectError:
    """The Connect form of a status built by ``errors.to_status``: same code, message, details."""
    details = []
    for key, value in status.trailing_metadata or ():
        if key == _STATUS_DETAILS_KEY:
            for detail in status_pb2.Status.FromString(value).details:
                details.append(ErrorDetail(AnyDetail(type_url=detail.type_url, value=detail.value)))
    return ConnectError(_CODES.get(status.code, Code.UNKNOWN), status.details or "", details)


_END = object()


class _Outbox:
    """Stream messages between the servicer's writes and the response generator.

    ``put`` returns at once while fewer than ``ahead`` messages wait, then waits
    for the generator to take one, so the HTTP connection's pace reaches the writer.
    """

    __slots__ = ("_items", "_ahead", "_reader", "_writer")

    def __init__(self, ahead: int) -> None:
        self._items: deque[Any] = deque()
        self._ahead = ahead
        self._reader: asyncio.Future | None = None
        self._writer: asyncio.Future | None = None

    async def put(self, message) -> None:
        self._items.append(message)
        _wake(self._reader)
        if len(self._items) >= self._ahead:
            self._writer = asyncio.get_running_loop().create_future()
            await self._writer

    def close(self, _call: object = None) -> None:
        """The servicer's call ended: the generator ends after what waits."""
        self._items.append(_END)
        _wake(self._reader)

    async def get(self) -> Any:
        while not self._items:
            self._reader = asyncio.get_running_loop().create_future()
            await self._reader
        message = self._items.popleft()
        if len(self._items) < self._ahead:
            _wake(self._writer)
        return message


def _wake(waiter: asyncio.Future | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class _BinaryCodec(Codec):
    """Protobuf binary; pre-serialized stream messages (bytes) pass through as they are."""

    def name(self) -> str:
        return "proto"

    def encode(self, message) -> bytes:
        if isinstance(message, bytes):
            return message
        return message.SerializeToString()

    def decode(self, data, message_class):
        try:
            return message_class.FromString(bytes(data))
        except Exception as exc:  # DecodeError, or anything else the parser raises
            return _undecodable(exc)


class _JsonCodec(Codec):
    """Protobuf JSON (proto3 mapping, compact). Unknown fields are ignored, as on the binary
    format, so an older server still answers a newer client."""

    def name(self) -> str:
        return "json"

    def encode(self, message) -> bytes:
        if isinstance(message, bytes):  # a pre-serialized stream message is an Event
            message = pb.Event.FromString(message)
        return json.dumps(
            json_format.MessageToDict(message), separators=(",", ":"), ensure_ascii=False
        ).encode()

    def decode(self, data, message_class):
        message = message_class()
        try:
            json_format.Parse(bytes(data), message, ignore_unknown_fields=True)
        except Exception as exc:  # ParseError, or a JSON/UTF-8 error
            return _undecodable(exc)
        return message


def _undecodable(exc: Exception) -> UndecodableRequest:
    return UndecodableRequest(str(exc)[:_MAX_PROBLEM] or type(exc).__name__)


def codecs() -> list[Codec]:
    """The codecs of the HTTP port: binary and JSON protobuf."""
    return [_BinaryCodec(), _JsonCodec()]


def connect_application(
    service: RunnerService,
    policies: Sequence[RunnerServiceInterceptor] = (),
    *,
    read_max_bytes: int | None = None,
    on_call_end: CallEnded | None = None,
) -> runner_connect.RunnerServiceASGIApplication:
    """The ASGI application serving ``service`` over Connect (also gRPC-Web and gRPC).

    ``on_call_end(method, code)`` is told how each call ended (metrics).
    """
    return runner_connect.RunnerServiceASGIApplication(
        ConnectRunnerService(service, policies),
        interceptors=() if on_call_end is None else (_CallCounter(on_call_end),),
        read_max_bytes=read_max_bytes,
        codecs=codecs(),
    )
