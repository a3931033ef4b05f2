"""Per-call wrappers around the RunnerService handlers (grpc.aio server interceptors).

:class:`RunnerServiceInterceptor` picks the RunnerService calls (health and
reflection pass untouched) and swaps each one's behavior for a wrapped one,
keeping its (de)serializers. It wraps per call only: streamed messages pay
nothing; a wrapper that does not read the call (``per_call = False``) is built
once per method and reused, so a call allocates nothing for it.
:class:`InternalErrorInterceptor` is the safety net of the error table's last
row; :class:`DecodeInterceptor` answers request bodies that do not parse;
:mod:`hypergraph_grpc.auth` holds the other interceptor.
"""

from __future__ import annotations

import abc
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from hypergraph_grpc import errors
from hypergraph_grpc.logs import RateLimitedLog

__all__ = [
    "Behavior",
    "DecodeInterceptor",
    "InternalErrorInterceptor",
    "RunnerServiceInterceptor",
    "UndecodableRequest",
    "before_call",
    "status_code",
]

Deserializer = Callable[[bytes], Any]
log = logging.getLogger("hypergraph_grpc.interceptors")

Behavior = Callable[[Any, grpc.aio.ServicerContext], Any]


class RunnerServiceInterceptor(grpc.aio.ServerInterceptor, abc.ABC):
    """Wraps the behavior of every call to one service (the contract has no
    client-streaming methods: unary-unary and unary-stream handlers only)."""

    #: Whether ``wrap`` reads its ``call`` (metadata, deadline). When it does not,
    #: the wrapped handler is built once per method: every object a call keeps
    #: alive is more work for the garbage collector while thousands of streams
    #: are open.
    per_call = True

    def __init__(self, service_name: str) -> None:
        self._prefix = f"/{service_name}/"
        self._handlers: dict[str, tuple[Any, Any]] = {}  # method -> (handler, wrapped)

    @abc.abstractmethod
    def wrap(self, method: str, behavior: Behavior, call: grpc.HandlerCallDetails) -> Behavior:
        """The behavior to call instead of ``behavior`` for this call of ``method``
        (its short name, ``Run``)."""

    def deserializer(self, method: str, deserializer: Deserializer) -> Deserializer:
        """The request deserializer to use instead of ``deserializer`` (the same by default)."""
        return deserializer

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        full = handler_call_details.method
        if handler is None or not full.startswith(self._prefix):
            return handler
        if self.per_call:
            return self._wrapped(full, handler, handler_call_details)
        # The inner handler is the same object call after call unless an inner
        # interceptor rebuilds it per call; then the cache simply misses.
        cached = self._handlers.get(full)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrapped(full, handler, handler_call_details)
        self._handlers[full] = (handler, wrapped)
        return wrapped

    def _wrapped(self, full: str, handler: Any, handler_call_details: Any) -> Any:
        method = full[len(self._prefix) :]
        deserializer = self.deserializer(method, handler.request_deserializer)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self.wrap(method, handler.unary_unary, handler_call_details),
                request_deserializer=deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self.wrap(method, handler.unary_stream, handler_call_details),
                request_deserializer=deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


def before_call(
    behavior: Behavior, check: Callable[[Any, grpc.aio.ServicerContext], Awaitable[None]]
) -> Behavior:
    """``behavior`` preceded by ``check`` (which may end the call with a status).

    Async-generator behaviors stay async generators, so grpc.aio still streams
    what they yield; the service's own streaming methods write with
    ``context.write`` and are plain coroutines."""
    if inspect.isasyncgenfunction(behavior):

        async def checked_stream(request, context):
            await check(request, context)
            async for message in behavior(request, context):
                yield message

        return checked_stream

    async def checked(request, context):
        await check(request, context)
        return await behavior(request, context)

    return checked


def status_code(context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    """The status a call ended with so far (OK when none was set; grpc.aio reports an
    aborted call's code as a number)."""
    code = context.code()
    if code is None:
        return grpc.StatusCode.OK
    if isinstance(code, grpc.StatusCode):
        return code
    return _CODES_BY_NUMBER.get(code, grpc.StatusCode.UNKNOWN)


_CODES_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


class InternalErrorInterceptor(RunnerServiceInterceptor):
    """An exception that escapes a RunnerService handler (a bug, not a refusal)
    becomes INTERNAL with google.rpc details and a log line naming the workflow
    id. Without it grpc.aio answers UNKNOWN with no details."""

    per_call = False

    def wrap(self, method: str, behavior: Behavior, call: grpc.HandlerCallDetails) -> Behavior:
        return _guarded(behavior)


def _guarded(behavior: Behavior) -> Behavior:
    async def status_for(exc: Exception, request, context) -> None:
        await errors.abort(
            context,
            exc,
            graph=getattr(request, "graph", ""),
            workflow_id=getattr(request, "workflow_id", ""),
        )

    if inspect.isasyncgenfunction(behavior):

        async def guarded_stream(request, context):
            try:
                async for message in behavior(request, context):
                    yield message
            except grpc.aio.AbortError:
                raise  # already a status (errors.abort)
            except Exception as exc:
                await status_for(exc, request, context)

        return guarded_stream

    async def guarded(request, context):
        try:
            return await behavior(request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await status_for(exc, request, context)

    return guarded


class UndecodableRequest:
    """The request :class:`DecodeInterceptor`'s deserializer gives for a body that does
    not parse: the handler never sees it; the call answers MALFORMED_REQUEST."""

    __slots__ = ("problem",)

    def __init__(self, problem: str) -> None:
        self.problem = problem


class DecodeInterceptor(RunnerServiceInterceptor):
    """A request body that does not parse (garbage bytes, a Struct nested past the
    parser's limit, invalid UTF-8) answers INVALID_ARGUMENT / MALFORMED_REQUEST with
    one rate-limited log line, instead of gRPC's UNKNOWN and a traceback per call.

    gRPC calls the request deserializer outside every handler wrapper, so the one
    installed here never raises: it hands over an :class:`UndecodableRequest`, which
    the wrapped behavior refuses. Install it last (innermost): authentication answers
    first, so a caller without a token learns nothing about request parsing."""

    per_call = False

    def __init__(self, service_name: str, interval: float = 10.0) -> None:
        super().__init__(service_name)
        self._log = RateLimitedLog(log, interval)

    def deserializer(self, method: str, deserializer: Deserializer) -> Deserializer:
        def parse(body: bytes) -> Any:
            try:
                return deserializer(body)
            except Exception as exc:  # DecodeError, or anything else a parser raises
                return UndecodableRequest(str(exc)[:200] or type(exc).__name__)

        return parse

    def wrap(self, method: str, behavior: Behavior, call: grpc.HandlerCallDetails) -> Behavior:
        async def refuse(request, context) -> None:
            if isinstance(request, UndecodableRequest):
                self._log.warning(
                    "malformed request refused", method=method, problem=request.problem
                )
                await errors.abort(context, errors.malformed_request(method, request.problem))

        return before_call(behavior, refuse)
