"""The HTTP port: RunnerService over Connect and the web page, on hypercorn in the running loop.

:func:`start_http_server` serves, on one port and in the gRPC server's event loop
(so both ports share one servicer, runner and coordination):

- ``/hypergraph.v1.RunnerService/*``: the Connect application of
  :mod:`connect_service` (Connect JSON and binary, gRPC-Web, gRPC), behind the
  :class:`~hypergraph_grpc.cors.CorsPolicy`;
- ``/``, ``/app.js``, ``/app.css``: the live-runs page (``hypergraph_grpc/web``,
  built from ``clients/typescript/web`` by ``make gen``).

hypercorn speaks HTTP/1.1 and HTTP/2 without TLS (prior knowledge or ``Upgrade: h2c``).
With ``tls`` (the gRPC port's ``--tls-*`` files) it serves HTTPS instead, HTTP/2 by
ALPN, and asks for client certificates when the gRPC port does; a SIGHUP reload of
the files reaches both ports (:meth:`ServerTls.follow`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from pathlib import Path

from hypercorn.asyncio import serve
from hypercorn.config import Config

from hypergraph_grpc.cors import CorsPolicy
from hypergraph_grpc.tls import ServerTls, TlsError

__all__ = ["PAGE_DIR", "HttpServer", "start_http_server"]

PAGE_DIR = Path(__file__).resolve().parent / "web"
log = logging.getLogger("hypergraph_grpc.http")

_PAGE_FILES = {
    "/": ("index.html", b"text/html; charset=utf-8"),
    "/app.js": ("app.js", b"text/javascript; charset=utf-8"),
    "/app.css": ("app.css", b"text/css; charset=utf-8"),
}
# The page loads only its own files and calls only its own origin.
_PAGE_HEADERS = [
    (b"cache-control", b"no-cache"),
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
]
# Seconds open HTTP requests get to finish once the server stops (streams have
# ended by then: the service drains first).
_GRACEFUL_S = 1.0


class HttpServer:
    """A started HTTP port: its address, and how to stop it."""

    def __init__(
        self, host: str, port: int, task: asyncio.Task, stop: asyncio.Event, scheme: str = "http"
    ) -> None:
        self.host = host
        self.port = port
        self.scheme = scheme
        self._task = task
        self._stop = stop

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    async def stop(self) -> None:
        """Close the port; requests still open get a moment, then are cancelled."""
        self._stop.set()
        await self._task


class _Routes:
    """The ASGI application of the port: Connect calls, else the page's files."""

    def __init__(self, connect_app, cors: CorsPolicy, page_dir: Path) -> None:
        self._prefix = connect_app.path + "/"
        self._connect = connect_app
        self._cors = cors
        self._files = {
            path: (page_dir / name, content_type)
            for path, (name, content_type) in _PAGE_FILES.items()
        }

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._connect(scope, receive, send)
        elif scope["type"] != "http":
            raise RuntimeError(f"the HTTP port serves no {scope['type']} connections")
        elif scope["path"].startswith(self._prefix):
            await self._rpc(scope, receive, send)
        else:
            await self._page(scope, send)

    async def _rpc(self, scope, receive, send) -> None:
        preflight = self._cors.preflight(scope)
        if preflight is not None:
            await _respond(send, *preflight)
            return
        added = self._cors.response_headers(scope)
        if added:
            plain_send = send

            async def send(message) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", ()), *added]}
                await plain_send(message)

        await self._connect(scope, receive, send)

    async def _page(self, scope, send) -> None:
        found = self._files.get(scope["path"])
        text = [(b"content-type", b"text/plain")]
        if scope["method"] not in ("GET", "HEAD"):
            await _respond(send, 405, [*text, (b"allow", b"GET, HEAD")], b"only GET and HEAD")
        elif found is None or not found[0].is_file():
            await _respond(send, 404, text, b"not found")
        else:
            body = found[0].read_bytes() if scope["method"] == "GET" else b""
            await _respond(send, 200, [(b"content-type", found[1]), *_PAGE_HEADERS], body)


async def _respond(send, status: int, headers, body: bytes) -> None:
    length = (b"content-length", str(len(body)).encode())
    await send({"type": "http.response.start", "status": status, "headers": [*headers, length]})
    await send({"type": "http.response.body", "body": body})


async def start_http_server(
    connect_app,
    *,
    host: str,
    port: int,
    cors: CorsPolicy | None = None,
    reuse_port: bool = False,
    tls: ServerTls | None = None,
    page_dir: Path = PAGE_DIR,
) -> HttpServer:
    """Serve ``connect_app`` and the page on ``host:port`` (0 picks a free port) until stopped."""
    config = Config() if tls is None else _TlsConfig(tls)
    listener = _listen(host, port, reuse_port)
    bound = listener.getsockname()[1]
    config.bind = [f"fd://{listener.detach()}"]  # hypercorn owns the socket from here
    config.errorlog = log
    config.accesslog = None
    config.graceful_timeout = _GRACEFUL_S
    config.include_server_header = False
    stop = asyncio.Event()
    app = _Routes(connect_app, cors or CorsPolicy(), page_dir)
    task = asyncio.get_running_loop().create_task(serve(app, config, shutdown_trigger=stop.wait))
    task.add_done_callback(_report_end)
    return HttpServer(host, bound, task, stop, "https" if tls is not None else "http")


class _TlsConfig(Config):
    """hypercorn's configuration with a TLS context built now, from the files the
    server checked at start, and following its certificate reloads. hypercorn would
    read the files itself once its task runs, after the server reports it is
    listening: files changed in between failed the port with nothing answering."""

    def __init__(self, tls: ServerTls) -> None:
        super().__init__()
        self.certfile = tls.cert_file
        self.keyfile = tls.key_file
        if tls.client_ca_file is not None:
            self.ca_certs = tls.client_ca_file
            self.verify_mode = ssl.CERT_REQUIRED
        try:
            self._context = super().create_ssl_context()
        except (OSError, ssl.SSLError) as exc:  # the files changed since the server read them
            raise TlsError(
                f"cannot serve HTTPS with --tls-cert {tls.cert_file!r}: {exc}. How to fix: "
                "give readable PEM files, the certificate (chain) and its own private key"
            ) from None
        tls.follow(self._context)

    def create_ssl_context(self) -> ssl.SSLContext:
        return self._context


def _report_end(task: asyncio.Task) -> None:
    """The port stops only when told to; if hypercorn ends on its own, say so loudly."""
    if not task.cancelled() and task.exception() is not None:
        log.error("the HTTP port stopped serving", exc_info=task.exception())


def _listen(host: str, port: int, reuse_port: bool) -> socket.socket:
    """A listening socket, so a busy port is refused here with a message that says what to do."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise OSError(
            f"cannot bind the HTTP port {host}:{port}: {exc.strerror or exc}. How to fix: pick "
            "another --http-port (0 = any free one) or another --host."
        ) from None
    return sock
