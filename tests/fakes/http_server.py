"""A minimal HTTP/1.1 server on asyncio, built for observing clients.

Why not a framework: a fake provider must notice the instant a client hangs up
mid-stream (that is what "Stop closes the upstream connection" means on the
wire) and must be able to cut a connection without finishing the chunked body.
An ``asyncio.Protocol`` gives both directly: ``connection_lost`` fires when
the peer closes, and ``transport.abort()`` drops the connection.

Supports keep-alive, Content-Length request bodies and chunked responses.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

__all__ = ["Connection", "Request", "Handler", "start_server"]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    529: "Overloaded",
}


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body or b"null")


Handler = Callable[["Request", "Connection"], Awaitable[None]]


@dataclass
class Connection(asyncio.Protocol):
    """One client connection: parses requests, writes responses, sees hang-ups."""

    handler: Handler
    transport: asyncio.Transport | None = None
    lost_at: float | None = None  # time.monotonic() when the peer went away
    _buf: bytearray = field(default_factory=bytearray)
    _busy: bool = False
    _can_write: asyncio.Event = field(default_factory=asyncio.Event)
    _lost: asyncio.Event = field(default_factory=asyncio.Event)

    # -- asyncio.Protocol ----------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._can_write.set()

    def data_received(self, data: bytes) -> None:
        self._buf += data
        self._next_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost_at = time.monotonic()
        self._lost.set()
        self._can_write.set()  # wake a writer so it sees the loss

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    # -- request parsing -----------------------------------------------------
    def _next_request(self) -> None:
        if self._busy:
            return  # HTTP/1.1 without pipelining: one request at a time
        head_end = self._buf.find(b"\r\n\r\n")
        if head_end < 0:
            return
        lines = bytes(self._buf[:head_end]).decode("latin-1").split("\r\n")
        method, path, _version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        size = int(headers.get("content-length", "0"))
        if len(self._buf) < head_end + 4 + size:
            return  # wait for the rest of the body
        body = bytes(self._buf[head_end + 4 : head_end + 4 + size])
        del self._buf[: head_end + 4 + size]
        self._busy = True
        request = Request(method, path.split("?", 1)[0], headers, body)
        asyncio.get_running_loop().create_task(self._serve(request))

    async def _serve(self, request: Request) -> None:
        try:
            await self.handler(request, self)
        finally:
            self._busy = False
            if not self.closed:
                self._next_request()

    # -- writing -------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._lost.is_set() or self.transport is None or self.transport.is_closing()

    async def wait_lost(self, timeout: float) -> bool:
        """Wait up to `timeout` s for the peer to hang up; True if it did."""
        try:
            await asyncio.wait_for(self._lost.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def write(self, data: bytes) -> bool:
        """Write and respect flow control; False once the peer is gone."""
        if self.closed:
            return False
        self.transport.write(data)
        if not self._can_write.is_set():
            await self._can_write.wait()
        return not self.closed

    async def send_json(self, status: int, payload: object, headers: dict | None = None) -> None:
        body = json.dumps(payload).encode()
        head = self._head(
            status,
            {
                "content-type": "application/json",
                "content-length": str(len(body)),
                **(headers or {}),
            },
        )
        await self.write(head + body)

    async def start_chunked(self, status: int, content_type: str) -> bool:
        head = self._head(
            status,
            {
                "content-type": content_type,
                "transfer-encoding": "chunked",
                "cache-control": "no-cache",
            },
        )
        return await self.write(head)

    async def send_chunk(self, data: bytes) -> bool:
        return await self.write(b"%x\r\n%s\r\n" % (len(data), data))

    async def end_chunked(self) -> bool:
        return await self.write(b"0\r\n\r\n")

    def abort(self) -> None:
        """Drop the connection without finishing the response (a cut mid-stream)."""
        if self.transport is not None:
            self.transport.abort()

    @staticmethod
    def _head(status: int, headers: dict[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def start_server(handler: Handler, host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    """Listen on `host:port` (0 = a free port) and serve `handler`."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: Connection(handler), host, port)
