"""The grpc.aio server: the RunnerService with its interceptors, health, reflection, drain.

:func:`start_server` builds and starts a server in the running loop (tests use
it in-process on port 0; ``hypergraph-grpc serve`` is :mod:`hypergraph_grpc.serve`).
With ``http_port`` the same servicer, behind the same call policies, is also
served over the Connect protocol on an HTTP port (:mod:`http_server`).
:meth:`RunningServer.shutdown` drains it (docs/protocol.md, "Shutdown").
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health as grpc_health
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from hypergraph import AsyncRunner
from hypergraph_grpc.admission import core_options
from hypergraph_grpc.auth import AuthFile, AuthInterceptor, AuthTokens, tenant_run_limit
from hypergraph_grpc.capabilities import CapabilityKeys
from hypergraph_grpc.config import ServiceConfig
from hypergraph_grpc.coordination import Coordination, make_coordination
from hypergraph_grpc.interceptors import (
    DecodeInterceptor,
    InternalErrorInterceptor,
    RunnerServiceInterceptor,
)
from hypergraph_grpc.registry import GraphRegistry
from hypergraph_grpc.service import SERVICE_NAME, RunnerService, add_to_server
from hypergraph_grpc.tls import ServerTls

if TYPE_CHECKING:
    from hypergraph_grpc.http_server import HttpServer

__all__ = ["RunningServer", "start_server"]


@dataclasses.dataclass
class RunningServer:
    """A started server: its port, its parts, and how to stop it."""

    server: grpc.aio.Server
    service: RunnerService
    health: grpc_health.aio.HealthServicer | None
    host: str
    port: int
    coordination: Coordination
    http: HttpServer | None = None  # the Connect port, when started with http_port

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
        if self.http is not None:
            await self.http.stop()
        await self.server.stop(grace=1.0)
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
    auth: AuthTokens | AuthFile | None = None,
    reuse_port: bool = False,
    tls: ServerTls | None = None,
    http_port: int | None = None,
    cors_origins: Sequence[str] = (),
    capabilities: CapabilityKeys | None = None,
    metrics: Any = None,
    tracing: Any = None,
) -> RunningServer:
    """Build and start a server in the running loop (port 0 picks a free port).

    ``auth``: the tokens (or client certificates) RunnerService calls must carry, fixed
    or an auth file (None: no authentication).
    ``reuse_port``: other processes may listen on the same port (``serve --workers``).
    ``tls``: serve TLS (mTLS when it has a client CA) instead of plaintext.
    ``http_port``: also serve the Connect protocol and the web page there (0: a free port);
    ``cors_origins`` are the web origins allowed to call it from other pages; with ``tls``
    it serves HTTPS with the same certificate (and client CA).
    ``capabilities``: the keys that sign and verify per-run capability tokens.
    ``metrics``: a :class:`hypergraph_grpc.metrics.ServiceMetrics` to count into (its
    registry gains the service's gauges); ``tracing``: a
    :class:`hypergraph_grpc.tracing.Tracing` (a span per call, run and node).
    """
    config = config or ServiceConfig()
    runner = AsyncRunner() if runner is None else runner
    coord = make_coordination(
        coordination,
        runner.stop,
        config.event_log,
        lease_seconds=config.lease_seconds,
        on_call=metrics.count_coordination_call if metrics is not None else None,
        run_limit=tenant_run_limit(auth) if auth is not None else None,
    )
    await coord.start()
    service = RunnerService(
        GraphRegistry(graphs),
        runner,
        coord,
        config,
        capabilities=capabilities,
        metrics=metrics,
        tracing=tracing,
    )
    receive_limit = _receive_limit(config.max_request_bytes)
    # Calls on the gRPC port are traced and counted outside the safety net, so a span
    # and a count see the status the caller gets.
    observers: list[RunnerServiceInterceptor] = []
    if tracing is not None:
        observers.append(tracing.interceptor(SERVICE_NAME))
    if metrics is not None:
        from hypergraph_grpc.metrics import MetricsInterceptor, ServiceCollector

        metrics.registry.register(
            ServiceCollector(
                coord.live_count,
                lambda: service.sinks,
                lambda: service.open_watches,
                metrics.stream_totals,
            )
        )
        observers.append(MetricsInterceptor(SERVICE_NAME, metrics))
    # What every call goes through on either port, in order.
    policies: list[RunnerServiceInterceptor] = (
        [AuthInterceptor(auth, coord, capabilities)] if auth else []
    )
    # Last, so a request that does not parse is refused after authentication.
    policies.append(DecodeInterceptor(SERVICE_NAME))
    # The safety net before the policies: it also turns a bug in the auth check into INTERNAL.
    server = grpc.aio.server(
        interceptors=[*observers, InternalErrorInterceptor(SERVICE_NAME), *policies],
        options=[
            ("grpc.max_receive_message_length", receive_limit),
            ("grpc.so_reuseport", 1 if reuse_port else 0),
            ("grpc.keepalive_permit_without_calls", 1),
            # A client pinging more often than this gets GOAWAY (too_many_pings) after
            # gRPC core's two strikes.
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            *_connection_age(config.max_connection_age_s),
            *core_options(),
        ],
    )
    add_to_server(service, server)
    names = [SERVICE_NAME]
    health_servicer = None
    if health:
        health_servicer = grpc_health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        names.append(health_pb2.DESCRIPTOR.services_by_name["Health"].full_name)
    if reflection_enabled:
        names.append(reflection.SERVICE_NAME)
        reflection.enable_server_reflection(names, server)
    try:
        address = _bind_address(host, port)
        if tls is None:
            bound = server.add_insecure_port(address)
        else:
            bound = server.add_secure_port(address, tls.credentials())
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
    http = None
    if http_port is not None:
        try:
            on_call_end = metrics.count_connect_call if metrics is not None else None
            http = await _start_http(
                service,
                policies,
                config,
                host,
                http_port,
                cors_origins,
                reuse_port,
                tls,
                on_call_end,
            )
        except BaseException:
            await server.stop(grace=None)
            await coord.close()
            raise
    if health_servicer is not None:
        serving = health_pb2.HealthCheckResponse.SERVING
        await health_servicer.set("", serving)
        await health_servicer.set(SERVICE_NAME, serving)
    return RunningServer(server, service, health_servicer, host, bound, coord, http)


async def _start_http(
    service, policies, config, host, port, cors_origins, reuse_port, tls, on_call_end
) -> HttpServer:
    # Imported here: the HTTP port needs the `http` extra, the gRPC port does not.
    try:
        from hypergraph_grpc.connect_service import connect_application
        from hypergraph_grpc.cors import CorsPolicy
        from hypergraph_grpc.http_server import start_http_server
    except ImportError as exc:
        raise RuntimeError(
            f"the HTTP port needs the 'http' extra ({exc.name} is missing). How to fix: "
            "pip install 'hypergraph-grpc[http]', or serve without --http-port."
        ) from None

    limit = _receive_limit(config.max_request_bytes)
    app = connect_application(
        service,
        policies,
        read_max_bytes=None if limit < 0 else limit,
        on_call_end=on_call_end,
    )
    return await start_http_server(
        app, host=host, port=port, cors=CorsPolicy(cors_origins), reuse_port=reuse_port, tls=tls
    )


def _connection_age(seconds: float) -> list[tuple[str, int]]:
    """GOAWAY after ``seconds`` (jittered by gRPC core); open streams keep the default,
    unlimited grace, so only new calls move to a new connection."""
    return [("grpc.max_connection_age_ms", round(seconds * 1000))] if seconds > 0 else []


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
