"""``hypergraph-grpc serve``: load the graphs, start the server, serve until a signal.

:func:`serve_from_args` prints ``listening on HOST:PORT`` as the first stdout
line (and ``http listening on http://HOST:PORT`` next, with ``--http-port``), then serves until SIGTERM or SIGINT, and shuts down gracefully
(docs/protocol.md, "Shutdown"):

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
import importlib.util
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from hypergraph_grpc.auth import AuthFile, AuthTokenError, AuthTokens
from hypergraph_grpc.capabilities import CapabilityKeyError, CapabilityKeys
from hypergraph_grpc.config import ServiceConfig
from hypergraph_grpc.coordination import EventLogLimits
from hypergraph_grpc.gc_tuning import tune_garbage_collector
from hypergraph_grpc.logs import configure_logging
from hypergraph_grpc.registry import RegistryError, load_specs
from hypergraph_grpc.serve_args import DEFAULT_GRAPHS
from hypergraph_grpc.server import start_server
from hypergraph_grpc.tls import ServerTls, TlsError
from hypergraph_grpc.workers import needs_shared_coordination, run_workers

__all__ = ["FALLBACK_GRAPHS", "load_default_graphs", "serve_from_args"]

FALLBACK_GRAPHS = "hypergraph_grpc.demo.testing:GRAPHS"
log = logging.getLogger("hypergraph_grpc.server")


def load_default_graphs() -> tuple[dict[str, Any], str]:
    """The demo graphs; the test graphs when this install has no demo package."""
    module = DEFAULT_GRAPHS.partition(":")[0]
    if importlib.util.find_spec(module) is not None:
        return load_specs([DEFAULT_GRAPHS]), DEFAULT_GRAPHS
    log.warning(
        "demo graphs not installed, serving the test graphs instead",
        extra={"wanted": DEFAULT_GRAPHS, "serving": FALLBACK_GRAPHS},
    )
    return load_specs([FALLBACK_GRAPHS]), FALLBACK_GRAPHS


def serve_from_args(args: argparse.Namespace) -> int:
    """Run the server until a signal; 0 on a clean shutdown."""
    configure_logging(args.log_level, args.log_format)
    refusal = needs_shared_coordination(args.workers, args.coordination)
    if refusal is not None:
        print(f"hypergraph-grpc serve: {refusal}", file=sys.stderr)
        return 2
    if args.workers > 1 and args.http_port == 0:
        print(
            f"hypergraph-grpc serve: --workers {args.workers} share one HTTP port, and with "
            "--http-port 0 each would pick its own. How to fix: give a port number "
            "(--http-port 8080).",
            file=sys.stderr,
        )
        return 2
    if args.workers > 1:
        return run_workers(args.argv, args.host, args.port, args.workers, args.metrics_port)
    try:
        tracing = None
        if _tracing_requested(args.otel):
            from hypergraph_grpc.tracing import configure_tracing, current_log_fields

            tracing = configure_tracing()
            # Lines written while a call is handled name its span.
            configure_logging(args.log_level, args.log_format, context_fields=current_log_fields)
        metrics = None
        if args.metrics_port is not None:
            from hypergraph_grpc.metrics import ServiceMetrics

            metrics = ServiceMetrics()
    except ImportError as exc:
        print(
            f"hypergraph-grpc serve: metrics and traces need the 'observability' extra "
            f"({exc.name} is missing). How to fix: pip install 'hypergraph-grpc[observability]', "
            "or serve without --metrics-port, --otel and OTEL_EXPORTER_* variables",
            file=sys.stderr,
        )
        return 2
    if args.provider:
        os.environ["HYPERGRAPH_PROVIDER"] = args.provider  # read by the demo graphs at import
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
        auth = _auth(args, graphs)
    except AuthTokenError as exc:
        print(f"hypergraph-grpc serve: {exc}", file=sys.stderr)
        return 2
    try:
        tls = _server_tls(args.tls_cert, args.tls_key, args.tls_client_ca)
        capabilities = _capability_keys(args.capability_key_file, auth)
    except (TlsError, CapabilityKeyError) as exc:
        print(f"hypergraph-grpc serve: {exc}", file=sys.stderr)
        return 2
    config = ServiceConfig(
        max_runs=args.max_runs,
        max_streams=args.max_streams,
        max_loop_lag_ms=args.max_loop_lag_ms,
        max_request_bytes=args.max_request_bytes,
        drain_seconds=args.drain_seconds,
        event_log=EventLogLimits(args.event_log_length, args.event_log_ttl),
        lease_seconds=args.lease_seconds,
        max_connection_age_s=args.max_connection_age_seconds,
    )
    try:
        loop_factory = _loop_factory(args.loop)
    except ImportError as exc:
        print(f"hypergraph-grpc serve: --loop {args.loop}: {exc}", file=sys.stderr)
        return 2
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(
                _serve(
                    graphs,
                    source,
                    args.host,
                    args.port,
                    config,
                    not args.no_health,
                    not args.no_reflection,
                    args.coordination,
                    auth,
                    args.reuse_port,
                    tls,
                    http_port=args.http_port,
                    cors_origins=args.cors_origin or (),
                    capabilities=capabilities,
                    observability=_Observability(
                        metrics, args.metrics_host or args.host, args.metrics_port, tracing
                    ),
                    gc_threshold=args.gc_threshold,
                )
            )
    finally:
        if tracing is not None:
            tracing.shutdown()  # export the spans still batched


def _loop_factory(name: str):
    """The event loop ``--loop`` names: None for asyncio's own. ``auto`` is uvloop when
    it is installed (it holds more streams per process: docs/performance.md), else
    asyncio's."""
    if name == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if name == "auto":
            return None
        raise ImportError(
            "uvloop is not installed. How to fix: pip install uvloop, or use --loop asyncio"
        ) from None
    return uvloop.new_event_loop


def _capability_keys(path: str | None, auth: object) -> CapabilityKeys | None:
    if path is None:
        return None
    if not auth:
        raise CapabilityKeyError(
            "--capability-key-file needs --auth-file or --auth-token: without authentication "
            "every caller may already watch and stop every run"
        )
    return CapabilityKeys(path)


def _tracing_requested(flag: bool) -> bool:
    """``--otel`` or the OTEL_* variables (read without importing OpenTelemetry when off)."""
    if not flag and not any(name.startswith("OTEL_") for name in os.environ):
        return False
    from hypergraph_grpc.tracing import tracing_requested as requested

    return requested(flag)


class _Observability:
    """What ``serve`` exports: metrics (and where to serve them), tracing."""

    def __init__(self, metrics: Any, host: str, port: int | None, tracing: Any) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self.tracing = tracing


def _auth(args: argparse.Namespace, graphs: dict[str, Any]) -> AuthTokens | AuthFile | None:
    """--auth-file, or the --auth-token flags and HYPERGRAPH_AUTH_TOKENS (not both)."""
    env = os.environ.get("HYPERGRAPH_AUTH_TOKENS", "")
    if args.auth_file is None:
        if args.auth_token:
            log.warning(
                "--auth-token puts tokens on the command line, where other local users can "
                "read them (ps); use --auth-file (or HYPERGRAPH_AUTH_TOKENS) beyond a quick start"
            )
        return AuthTokens.parse(args.auth_token, env, graphs) or None
    if args.auth_token or env.strip():
        raise AuthTokenError(
            "--auth-file replaces --auth-token and HYPERGRAPH_AUTH_TOKENS. How to fix: move "
            "those tokens into the auth file (docs/security.md)"
        )
    auth = AuthFile(args.auth_file, graphs)
    if auth.current().subjects and args.tls_client_ca is None:
        log.warning(
            "the auth file lists [[client]] certificate subjects, but without --tls-client-ca "
            "no client presents a certificate: those entries match nobody"
        )
    return auth


def _server_tls(cert: str | None, key: str | None, client_ca: str | None) -> ServerTls | None:
    """The --tls-* flags as a ServerTls (None: plaintext)."""
    if cert is None and key is None and client_ca is None:
        return None
    if cert is None or key is None:
        raise TlsError(
            "TLS needs both --tls-cert and --tls-key (--tls-client-ca adds mTLS to them). "
            "How to fix: give the certificate file and its private key file"
        )
    return ServerTls(cert, key, client_ca)


async def _serve(
    graphs: dict[str, Any],
    source: str,
    host: str,
    port: int,
    config: ServiceConfig,
    health: bool,
    reflection_enabled: bool,
    coordination: str = "memory",
    auth: AuthTokens | AuthFile | None = None,
    reuse_port: bool = False,
    tls: ServerTls | None = None,
    *,
    http_port: int | None = None,
    cors_origins: Sequence[str] = (),
    capabilities: CapabilityKeys | None = None,
    observability: _Observability | None = None,
    gc_threshold: int = 0,
) -> int:
    observability = observability or _Observability(None, host, None, None)
    try:
        running = await start_server(
            graphs,
            host=host,
            port=port,
            config=config,
            health=health,
            reflection_enabled=reflection_enabled,
            coordination=coordination,
            auth=auth,
            reuse_port=reuse_port,
            tls=tls,
            http_port=http_port,
            cors_origins=cors_origins,
            capabilities=capabilities,
            metrics=observability.metrics,
            tracing=observability.tracing,
        )
    except (OSError, RuntimeError, TlsError) as exc:  # TlsError: files changed since checked
        print(f"hypergraph-grpc serve: {exc}", file=sys.stderr)
        return 1
    metrics_server = heartbeat = None
    if observability.metrics is not None:
        from hypergraph_grpc.metrics import serve_metrics

        try:
            metrics_server, metrics_port = serve_metrics(
                observability.metrics, observability.host, observability.port
            )
        except OSError as exc:
            await running.shutdown()
            print(
                f"hypergraph-grpc serve: cannot serve metrics on {observability.host}:"
                f"{observability.port} ({exc}). How to fix: pick another --metrics-port "
                "(0 = any free one)",
                file=sys.stderr,
            )
            return 1
        heartbeat = asyncio.get_running_loop().create_task(observability.metrics.beat())
        log.info(
            "serving metrics",
            extra={"metrics_url": f"http://{observability.host}:{metrics_port}/metrics"},
        )
    # Everything built so far lives as long as the server: frozen out of collections.
    gc_fields, collector = tune_garbage_collector(gc_threshold, asyncio.get_running_loop())
    log.info("garbage collector set", extra=gc_fields)
    sys.stdout.write(f"listening on {running.address}\n")
    if running.http is not None:
        sys.stdout.write(f"http listening on {running.http.url}\n")
    sys.stdout.flush()
    security = "plaintext" if tls is None else "mtls" if tls.requires_client_certificate else "tls"
    log.info(
        "serving",
        extra={
            "address": running.address,
            "graphs": ",".join(graphs),
            "source": source,
            "transport": security,
            "loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
        },
    )
    if running.http is not None:
        log.info(
            "serving Connect (JSON, binary), gRPC-Web and the web page",
            extra={"url": running.http.url, "cors_origins": ",".join(cors_origins) or "(none)"},
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
    reloadable = [
        part
        for part in (tls, auth, capabilities)
        if isinstance(part, (ServerTls, AuthFile, CapabilityKeys))
    ]
    if reloadable:
        # SIGHUP re-reads the certificate and auth files (rotation without a restart).
        loop.add_signal_handler(signal.SIGHUP, lambda: [part.reload() for part in reloadable])
    await stop.wait()
    started = time.monotonic()
    await running.shutdown(config.drain_seconds, force)
    if collector is not None:
        collector.stop()
    if metrics_server is not None:
        heartbeat.cancel()
        metrics_server.shutdown()
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
