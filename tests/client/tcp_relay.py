"""A loopback TCP relay whose connections a test can cut, to lose a stream mid-way.

:class:`Relay` runs on the caller's event loop; :class:`ThreadedRelay` runs one
in a thread of its own, for blocking clients."""

from __future__ import annotations

import asyncio
import contextlib
import threading


class Relay:
    """Listens on a free loopback port and forwards every connection to ``target``."""

    def __init__(self, target: str) -> None:
        host, _, port = target.rpartition(":")
        self._target = (host, int(port))
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.address = ""
        self.accepted = 0  # connections made through the relay so far

    async def start(self) -> Relay:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.address = f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def _serve(self, reader, writer) -> None:
        self.accepted += 1
        upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        self._writers |= {writer, upstream_writer}
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )

    async def _pipe(self, reader, writer) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()
        self._writers.discard(writer)

    def cut(self) -> None:
        """Drop every open connection (new ones are still accepted)."""
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class ThreadedRelay:
    """A :class:`Relay` on an event loop in its own thread (``address``, ``cut``, ``close``)."""

    def __init__(self, target: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._relay = self._call(Relay(target).start())
        self.address = self._relay.address

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    @property
    def accepted(self) -> int:
        return self._relay.accepted

    def cut(self) -> None:
        self._loop.call_soon_threadsafe(self._relay.cut)

    def close(self) -> None:
        self._call(self._relay.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
