"""``hypergraph-grpc serve``: a grpc.aio server with health, reflection and drain.

:func:`start_server` builds and starts a server in the running loop (tests use
it in-process on port 0); :func:`serve_from_args` is the CLI entry: it prints
``listening on HOST:PORT`` as the first stdout line, then serves until SIGTERM
or SIGINT, and shuts down gracefully (docs/protocol.md, "Shutdown"):

1. health turns NOT_SERVING and new runs get UNAVAILABLE (SERVER_DRAINING);
2. live runs get ``--drain-seconds`` to finish on their own;
3. the rest are stopped (``{"kind": "server_shutdown"}``, short grace), then
   cancelled if they still run; every open stream receives its RunEnded;
4. the server stops. A second signal skips the waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import inspect
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from hypergraph_grpc.config import ServiceConfig
from hypergraph_grpc.coordination import EventLogLimits

__all__ = [
    "DEFAULT_GRAPHS",
    "FALLBACK_GRAPHS",
    "RunningServer",
    "add_serve_arguments",
    "configure_logging",
    "load_default_graphs",
    "make_coordination",
    "serve_from_args",
    "start_server",
]

DEFAULT_GRAPHS = "hypergraph_grpc.demo:GRAPHS"
FALLBACK_GRAPHS = "hypergraph_grpc.demo.testing:GRAPHS"
log = logging.getLogger("hypergraph_grpc.server")


@dataclasses.dataclass
class RunningServer:
    """A started server: its port, its parts, and how to stop it."""

    server: grpc.aio.Server
    service: Any
    health: HealthServicer | None
    host: str
    port: int
    runner: Any
    coordination: Any = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def shutdown(
        self, drain_seconds: float = 0.0, force: asyncio.Event | None = None
    ) -> None:
        """Drain (health NOT_SERVING, runs stopped, streams ended), then stop the server."""
        if self.health is not None:
            await self.health.enter_graceful_shutdown()
        await self.service.drain(drain_seconds, force)
        await self.server.stop(grace=1.0)
        if self.coordination is not None:
            await self.coordination.close()


async def start_server(
    graphs: Mapping[str, Any],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    config: ServiceConfig | None = None,
    health: bool = True,
    reflection_enabled: bool = True,
    runner: Any = None,
    coordination: str = "memory",
) -> RunningServer:
    """Build and start a server in the running loop (port 0 picks a free port)."""
    from hypergraph import AsyncRunner
    from hypergraph_grpc.registry import GraphRegistry
    from hypergraph_grpc.service import SERVICE_NAME, RunnerService, add_to_server

    config = config or ServiceConfig()
    runner = AsyncRunner() if runner is None else runner
    coord = make_coordination(coordination, runner.stop, config.event_log)
    await coord.start()
    service = RunnerService(GraphRegistry(graphs), runner, coord, config)
    receive_limit = _receive_limit(config.max_request_bytes)
    server = grpc.aio.server(
        interceptors=[_InternalErrorInterceptor(SERVICE_NAME)],
        options=[
            ("grpc.max_receive_message_length", receive_limit),
            ("grpc.so_reuseport", 0),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ],
    )
    add_to_server(service, server)
    names = [SERVICE_NAME]
    health_servicer = None
    if health:
        health_servicer = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        names.append(health_pb2.DESCRIPTOR.services_by_name["Health"].full_name)
    if reflection_enabled:
        names.append(reflection.SERVICE_NAME)
        reflection.enable_server_reflection(names, server)
    try:
        bound = server.add_insecure_port(_bind_address(host, port))
    except RuntimeError as exc:  # grpc raises (older versions returned 0)
        bound, reason = 0, f" ({exc})"
    else:
        reason = ""
    if not bound:
        raise OSError(
            f"cannot bind {host}:{port}: the address is in use, not local or not allowed{reason}. "
            "How to fix: pick another --port (0 = any free one) or another --host."
        )
    await server.start()
    if health_servicer is not None:
        serving = health_pb2.HealthCheckResponse.SERVING
        await health_servicer.set("", serving)
        await health_servicer.set(SERVICE_NAME, serving)
    return RunningServer(server, service, health_servicer, host, bound, runner, coord)


class _InternalErrorInterceptor(grpc.aio.ServerInterceptor):
    """The safety net for the error table's last row: an exception that escapes a
    RunnerService handler (a bug, not a refusal) becomes INTERNAL with google.rpc
    details and a log line naming the workflow id. Without it grpc.aio answers
    UNKNOWN with no details. Wraps per call only; streamed messages pay nothing."""

    def __init__(self, service_name: str) -> None:
        self._prefix = f"/{service_name}/"

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None or not handler_call_details.method.startswith(self._prefix):
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _guarded(handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _guarded(handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # the contract has no client-streaming methods


def _guarded(behavior):
    from hypergraph_grpc import errors

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


def make_coordination(url: str, stop_receiver: Any, limits: EventLogLimits) -> Any:
    """``memory`` (one process), or ``redis://...`` when a Redis implementation is installed
    as ``hypergraph_grpc.coordination.redis`` (``RedisCoordination.from_url``).
    ``stop_receiver`` applies a stop routed to this replica (the runner's ``stop``)."""
    if url in ("", "memory"):
        from hypergraph_grpc.coordination.memory import InMemoryCoordination

        return InMemoryCoordination(stop_receiver, limits)
    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            from hypergraph_grpc.coordination.redis import RedisCoordination
        except ImportError as exc:
            raise RuntimeError(
                f"--coordination {url!r}: Redis coordination is not available in this build "
                f"({exc}). How to fix: use --coordination memory (one process)."
            ) from exc
        return RedisCoordination.from_url(url, stop_receiver, limits)
    raise RuntimeError(
        f"--coordination {url!r} is not understood. How to fix: use 'memory' or a redis:// URL."
    )


def _receive_limit(max_request_bytes: int) -> int:
    """The core refuses messages far over the limit; the service answers the rest
    with RESOURCE_EXHAUSTED + details (REQUEST_TOO_LARGE). Zero means no limit for
    the service, so the core gets none either (-1)."""
    if max_request_bytes <= 0:
        return -1
    return max(max_request_bytes * 2, max_request_bytes + (1 << 20))


def _bind_address(host: str, port: int) -> str:
    if ":" in host and not host.startswith("["):
        return f"[{host}]:{port}"
    return f"{host}:{port}"


# --- graphs ---------------------------------------------------------------------------


def load_default_graphs() -> tuple[dict[str, Any], str]:
    """The demo graphs; the test graphs when the demo package is not there yet."""
    from hypergraph_grpc.registry import RegistryError, load_specs

    try:
        return load_specs([DEFAULT_GRAPHS]), DEFAULT_GRAPHS
    except RegistryError as exc:
        text = str(exc)
        if "cannot import module 'hypergraph_grpc.demo'" not in text and "no attribute" not in text:
            raise
        log.warning(
            "demo graphs unavailable, serving the test graphs instead",
            extra={"wanted": DEFAULT_GRAPHS, "serving": FALLBACK_GRAPHS, "reason": str(exc)},
        )
        return load_specs([FALLBACK_GRAPHS]), FALLBACK_GRAPHS


# --- CLI ---------------------------------------------------------------------------------


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``serve`` subcommand's flags."""
    defaults = ServiceConfig()
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=50051, help="port (0 picks a free one; default 50051)"
    )
    parser.add_argument(
        "--graphs",
        action="extend",
        nargs="+",
        metavar="MODULE:ATTR",
        help="graphs to serve: a Graph or a dict name -> Graph; several after one flag, "
        f"or the flag repeated (default {DEFAULT_GRAPHS})",
    )
    parser.add_argument(
        "--provider",
        choices=["offline", "anthropic", "openai", "auto"],
        help="LLM provider for the demo graphs (sets HYPERGRAPH_PROVIDER before graphs load)",
    )
    parser.add_argument(
        "--drain-seconds",
        type=_non_negative(float),
        default=defaults.drain_seconds,
        help="on SIGTERM, how long live runs may finish before they are stopped (default 10)",
    )
    parser.add_argument(
        "--max-runs", type=_non_negative(int), default=0, help="most live runs (0 = no limit)"
    )
    parser.add_argument(
        "--max-streams",
        type=_non_negative(int),
        default=0,
        help="most open Iter streams (0 = no limit)",
    )
    parser.add_argument(
        "--max-request-bytes",
        type=_non_negative(int),
        default=defaults.max_request_bytes,
        help="largest Run/Iter request accepted (default 4 MiB; 0 = no limit)",
    )
    parser.add_argument(
        "--log-level", default="INFO", help="DEBUG, INFO, WARNING... (default INFO)"
    )
    parser.add_argument(
        "--log-format", choices=["text", "json"], default="text", help="log line format"
    )
    parser.add_argument(
        "--auth-token",
        action="append",
        metavar="TOKEN[:GRAPH,...]",
        help="require 'authorization: Bearer TOKEN' on RunnerService calls (repeatable); "
        "TOKEN:graph1,graph2 lets that token run only those graphs (others: PERMISSION_DENIED); "
        "also HYPERGRAPH_AUTH_TOKENS='tok1;tok2:graph1,graph2' (';' between tokens, or ',' when "
        "no token has a graph list); default: no authentication",
    )
    parser.add_argument(
        "--coordination",
        default="memory",
        help="where live runs are coordinated: memory (one process, default) or redis://HOST:PORT",
    )
    parser.add_argument(
        "--event-log-length",
        type=_positive_int,
        default=defaults.event_log.max_events,
        help="events kept per run for Watch (the newest; default "
        f"{defaults.event_log.max_events}); a watcher further behind is told which seqs it lost",
    )
    parser.add_argument(
        "--event-log-ttl",
        type=_non_negative(float),
        default=defaults.event_log.ttl_seconds,
        help=f"seconds a finished run stays watchable (default {defaults.event_log.ttl_seconds:g})",
    )
    parser.add_argument("--no-health", action="store_true", help="do not serve grpc.health.v1")
    parser.add_argument(
        "--no-reflection", action="store_true", help="do not serve server reflection"
    )


def _non_negative(kind):
    """An argparse type: a number >= 0 (a negative limit would refuse every run)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"{text} is negative; use 0 for no limit or a count")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def _positive_int(text: str) -> int:
    """An argparse type: a count >= 1 (a log that keeps nothing could not be watched)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is below 1; keep at least one event")
    return value


def serve_from_args(args: argparse.Namespace) -> int:
    """Run the server until a signal; 0 on a clean shutdown."""
    configure_logging(args.log_level, args.log_format)
    if args.provider:
        os.environ["HYPERGRAPH_PROVIDER"] = args.provider  # read by the demo graphs at import
    from hypergraph_grpc.registry import RegistryError, load_specs

    try:
        # Whatever graph modules print at import goes to stderr: the first stdout
        # line must be "listening on HOST:PORT".
        with contextlib.redirect_stdout(sys.stderr):
            if args.graphs:
                graphs, source = load_specs(args.graphs), ", ".join(args.graphs)
            else:
                graphs, source = load_default_graphs()
    except RegistryError as exc:
        print(f"hypergraph-grpc serve: {exc}", file=sys.stderr)
        return 2
    try:
        tokens, token_graphs = _parse_auth_tokens(
            args.auth_token, os.environ.get("HYPERGRAPH_AUTH_TOKENS", ""), graphs
        )
    except _AuthTokenError as exc:
        print(f"hypergraph-grpc serve: {exc}", file=sys.stderr)
        return 2
    config = ServiceConfig(
        max_runs=args.max_runs,
        max_streams=args.max_streams,
        max_request_bytes=args.max_request_bytes,
        drain_seconds=args.drain_seconds,
        event_log=EventLogLimits(args.event_log_length, args.event_log_ttl),
        auth_tokens=tokens,
        token_graphs=token_graphs,
    )
    return asyncio.run(
        _serve(
            graphs,
            source,
            args.host,
            args.port,
            config,
            not args.no_health,
            not args.no_reflection,
            args.coordination,
        )
    )


class _AuthTokenError(ValueError):
    """A malformed --auth-token / HYPERGRAPH_AUTH_TOKENS entry (the message says how to fix)."""


_AUTH_SYNTAX = (
    "use TOKEN (may run every graph) or TOKEN:graph1,graph2 (may run only those graphs); "
    "in HYPERGRAPH_AUTH_TOKENS separate tokens with ';' (e.g. 'tok1;tok2:chat,rag')"
)


def _parse_auth_tokens(
    flags: Sequence[str] | None, env: str = "", graphs: Iterable[str] | None = None
) -> tuple[frozenset[str], tuple[tuple[str, frozenset[str]], ...]]:
    """Tokens and per-token allowlists from ``--auth-token`` flags and the env var.

    The env var separates entries with ';'. For compatibility a value with no ':'
    (no allowlist anywhere) may also separate tokens with ',' (``tok1,tok2``).
    ``graphs``, when given, are the served names: an allowlist naming any other
    graph is refused (a typo would otherwise lock a token out silently).
    """
    entries = [(f"--auth-token {flag!r}", flag) for flag in flags or ()]
    if env.strip():
        separator = ";" if (";" in env or ":" in env) else ","
        entries += [
            (f"HYPERGRAPH_AUTH_TOKENS entry {item.strip()!r}", item)
            for item in env.split(separator)
            if item.strip()
        ]
    served = None if graphs is None else sorted(graphs)
    allowlists: dict[str, frozenset[str] | None] = {}
    for where, entry in entries:
        token, allowed = _parse_auth_entry(where, entry.strip(), served)
        if token in allowlists and allowlists[token] != allowed:
            raise _AuthTokenError(
                f"{where}: token given twice with different graph lists. How to fix: give each "
                "token once, with every graph it may run"
            )
        allowlists[token] = allowed
    token_graphs = tuple((t, g) for t, g in sorted(allowlists.items()) if g is not None)
    return frozenset(allowlists), token_graphs


def _parse_auth_entry(
    where: str, entry: str, served: list[str] | None
) -> tuple[str, frozenset[str] | None]:
    token, colon, listed = entry.partition(":")
    token = token.strip()
    if not token or any(c in token for c in ",; \t"):
        raise _AuthTokenError(
            f"{where}: {token!r} is not a valid token (empty, or has ',', ';' or spaces). "
            f"How to fix: {_AUTH_SYNTAX}"
        )
    if not colon:
        return token, None
    names = [name.strip() for name in listed.split(",")]
    if not listed.strip() or not all(names):
        raise _AuthTokenError(
            f"{where}: the graph list after ':' has an empty name. How to fix: {_AUTH_SYNTAX} "
            "(drop the ':' to let the token run every graph)"
        )
    unknown = [n for n in names if served is not None and n not in served]
    if unknown:
        raise _AuthTokenError(
            f"{where}: graph(s) {', '.join(map(repr, unknown))} are not served; served graphs: "
            f"{', '.join(served or []) or '(none)'}. How to fix: list only served graphs"
        )
    return token, frozenset(names)


async def _serve(
    graphs: dict[str, Any],
    source: str,
    host: str,
    port: int,
    config: ServiceConfig,
    health: bool,
    reflection_enabled: bool,
    coordination: str = "memory",
) -> int:
    try:
        running = await start_server(
            graphs,
            host=host,
            port=port,
            config=config,
            health=health,
            reflection_enabled=reflection_enabled,
            coordination=coordination,
        )
    except (OSError, RuntimeError) as exc:
        print(f"hypergraph-grpc serve: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(f"listening on {running.address}\n")
    sys.stdout.flush()
    log.info(
        "serving", extra={"address": running.address, "graphs": ",".join(graphs), "source": source}
    )
    _log_provider()
    stop = asyncio.Event()
    force = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            log.warning("second signal: skipping the drain", extra={"signal": signum})
            force.set()
        else:
            log.info("signal received, draining", extra={"signal": signum})
            stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    await stop.wait()
    started = time.monotonic()
    await running.shutdown(config.drain_seconds, force)
    log.info("stopped", extra={"shutdown_s": round(time.monotonic() - started, 3)})
    return 0


def _log_provider() -> None:
    """Which model answers the demo graphs by default (the service itself knows no LLM)."""
    try:
        from hypergraph_grpc.llm import describe_provider
    except ImportError:
        return
    try:
        log.info(describe_provider())
    except Exception as exc:  # a log line must never stop the server
        log.warning("cannot describe the LLM provider", extra={"error": repr(exc)})


# --- logging ------------------------------------------------------------------------------

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = _extras(record)
        if extras:
            line += " " + " ".join(f"{k}={_short(v)}" for k, v in extras.items())
        return line


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **{k: _jsonable(v) for k, v in _extras(record).items()},
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(_jsonable(value), ensure_ascii=False)
    return text if " " not in text else json.dumps(text, ensure_ascii=False)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def configure_logging(level: str = "INFO", fmt: str = "text", stream: Any = None) -> None:
    """Structured logs on stderr (stdout carries only ``listening on``)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        formatter: logging.Formatter = _JsonFormatter()
        formatter.converter = time.gmtime
    else:
        formatter = _TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
