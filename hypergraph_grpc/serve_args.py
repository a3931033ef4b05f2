"""The ``serve`` subcommand's flags (docs/protocol.md, "Limits and server flags")."""

from __future__ import annotations

import argparse

from hypergraph_grpc.config import ServiceConfig
from hypergraph_grpc.gc_tuning import GC_YOUNG_THRESHOLD

__all__ = ["DEFAULT_GRAPHS", "add_serve_arguments"]

DEFAULT_GRAPHS = "hypergraph_grpc.demo:GRAPHS"


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``serve`` subcommand's flags."""
    defaults = ServiceConfig()
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=50051, help="port (0 picks a free one; default 50051)"
    )
    parser.add_argument(
        "--http-port",
        type=_non_negative(int),
        help="also serve RunnerService over the Connect protocol (JSON and binary, for browsers "
        "and curl), gRPC-Web and the web page on this HTTP port (0 picks a free one; "
        "default: no HTTP port)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="a web origin (https://app.example.com) whose pages may call the HTTP port "
        "(repeatable; '*' allows any origin); default: only the port's own page",
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
        help="most open Iter and Watch streams (0 = no limit)",
    )
    parser.add_argument(
        "--max-loop-lag-ms",
        type=_non_negative(float),
        default=defaults.max_loop_lag_ms,
        help="refuse new runs (RESOURCE_EXHAUSTED with a retry hint) while the event loop runs "
        f"more than this many ms behind (default {defaults.max_loop_lag_ms:g}; 0 = never)",
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
        "--max-connection-age-seconds",
        type=_non_negative(float),
        default=defaults.max_connection_age_s,
        help="tell each client connection to go away after this long (behind a balancer, so "
        "long-lived clients spread over new replicas); open streams go on (default 0 = never)",
    )
    parser.add_argument(
        "--auth-file",
        metavar="TOML",
        help="tokens and mTLS client subjects with scopes (run, watch, stop, admin) and graph "
        "allowlists (docs/security.md); re-read on SIGHUP; not together with --auth-token",
    )
    parser.add_argument(
        "--capability-key-file",
        metavar="TOML",
        help="keys that sign per-run capability tokens (IterRequest.capability: Watch/Stop of "
        "one run, with an expiry); re-read on SIGHUP; needs --auth-file or --auth-token",
    )
    parser.add_argument(
        "--tls-cert",
        metavar="PEM",
        help="serve TLS with this certificate (chain) file; needs --tls-key; reloaded on SIGHUP "
        "(new connections get the new certificate, open streams go on)",
    )
    parser.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    parser.add_argument(
        "--tls-client-ca",
        metavar="PEM",
        help="mTLS: every client must present a certificate signed by this CA (needs --tls-cert)",
    )
    parser.add_argument(
        "--coordination",
        default="memory",
        help="where live runs are coordinated: memory (one process, default) or "
        "redis://HOST:PORT/DB (a cluster: every replica on the same Redis)",
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
    parser.add_argument(
        "--lease-seconds",
        type=_positive_float,
        default=defaults.lease_seconds,
        help="with Redis coordination: how long a claim on a workflow id lasts unrenewed; a "
        f"dead replica's runs end as replica_lost after about this (default {defaults.lease_seconds:g})",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="server processes sharing the port (SO_REUSEPORT); one process uses one core. "
        "More than 1 needs --coordination redis://... (default 1)",
    )
    parser.add_argument(
        "--reuse-port",
        action="store_true",
        help="let other processes listen on the same port (what each --workers process uses)",
    )
    parser.add_argument(
        "--loop",
        choices=["auto", "asyncio", "uvloop"],
        default="auto",
        help="event loop: auto (default: uvloop when installed, else asyncio's), asyncio, or "
        "uvloop (pip install uvloop; holds more streams per process, measured in "
        "make bench-capacity)",
    )
    parser.add_argument(
        "--gc-threshold",
        type=_non_negative(int),
        default=GC_YOUNG_THRESHOLD,
        metavar="N",
        help="set the garbage collector for many live streams: start-up objects frozen out of "
        "collections, young collections every 100 ms on the event loop, older ones every few "
        "minutes, and Python's own young trigger at N net allocations "
        f"(default {GC_YOUNG_THRESHOLD}; Python's is 700) for a loop too busy for the timer "
        "(docs/performance.md). 0 leaves Python's settings",
    )
    parser.add_argument(
        "--metrics-port",
        type=_non_negative(int),
        metavar="PORT",
        help="serve Prometheus metrics over HTTP on PORT at /metrics (0 picks a free one, "
        "named in the log; with --workers N, worker i uses PORT+i); default: no metrics",
    )
    parser.add_argument(
        "--metrics-host",
        metavar="HOST",
        help="address of the metrics endpoint (default: the --host address)",
    )
    parser.add_argument(
        "--otel",
        action="store_true",
        help="export OpenTelemetry traces over OTLP/HTTP (configured by the standard OTEL_* "
        "variables; setting OTEL_EXPORTER_OTLP_ENDPOINT alone also turns tracing on)",
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


def _positive_float(text: str) -> float:
    """An argparse type: seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not above 0 seconds")
    return value
