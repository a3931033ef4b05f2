"""FakeProvider: a fake Anthropic + OpenAI endpoint in a background thread.

One server answers both APIs (``POST /v1/messages`` and ``POST /v1/responses``);
`kind` only decides which base URL and environment it hands out. The server runs
its own event loop in a daemon thread, so sync SDK clients (which block the
test's loop, as the guide's examples do) and async ones both work against it.

Control from another process (benchmarks): ``POST /_fake/script`` with a JSON
object of :class:`Script` fields, ``GET /_fake/records``, ``POST /_fake/reset``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import threading
import time
from dataclasses import dataclass, field

from . import anthropic_wire, openai_wire
from .http_server import Connection, Request, start_server

__all__ = ["FakeProvider", "RecordedRequest", "Script", "StreamRecord", "DEFAULT_TOKENS"]

DEFAULT_TOKENS = ["Hello", ",", " I", " am", " a", " fake", " model", "."]


@dataclass
class Script:
    """How the fake answers the next requests (change it at any time)."""

    tokens: list[str] = field(default_factory=lambda: list(DEFAULT_TOKENS))
    delay: float = 0.0  # seconds between tokens
    first_token_delay: float = 0.0  # seconds before the first token
    errors: list[int] = field(
        default_factory=list
    )  # statuses for the next requests, one each, then normal
    always_error: int | None = None  # every request gets this status
    retry_after: str | None = None  # "retry-after" header on error replies
    cut_after: int | None = None  # drop the connection after this many tokens
    error_event_after: int | None = None  # an SSE error event (overloaded) after this many tokens
    input_tokens: int | None = None  # None: count the words of the request
    stop_reason: str = "end_turn"  # Anthropic stop_reason ("max_tokens" makes OpenAI "incomplete")
    require_api_key: str | None = None  # only this key is accepted (None: any non-empty key)

    @classmethod
    def numbered(cls, count: int, **kw) -> Script:
        """`count` tokens "t0 ", "t1 ", ...: easy to check order and completeness."""
        return cls(tokens=[f"t{i} " for i in range(count)], **kw)


@dataclass
class RecordedRequest:
    """A request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: object
    at: float  # time.monotonic()


@dataclass
class StreamRecord:
    """What happened to one streamed answer, as seen from the server."""

    api: str  # "anthropic" | "openai"
    model: str
    tokens_total: int
    started_at: float  # time.monotonic() when the headers went out
    tokens_sent: int = 0
    completed: bool = False  # the whole stream, final chunk included, was written
    cut: bool = False  # the fake dropped the connection on purpose
    client_disconnected: bool = False  # the client hung up before the stream completed
    disconnected_at: float | None = None  # time.monotonic() of that hang-up


class FakeProvider:
    """A fake provider endpoint on a free loopback port (see module doc)."""

    def __init__(
        self,
        kind: str = "anthropic",
        script: Script | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        if kind not in ("anthropic", "openai"):
            raise ValueError(f"FakeProvider kind must be 'anthropic' or 'openai', not {kind!r}")
        self.kind, self.host, self.port = kind, host, port
        self.script = script or Script()
        self.requests: list[RecordedRequest] = []
        self.streams: list[StreamRecord] = []
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> FakeProvider:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name=f"fake-{self.kind}", daemon=True
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake provider did not start within 10 s")
        return self

    def _run(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(
            start_server(self._handle, self.host, self.port)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()
        self._server.close()
        self._loop.run_until_complete(asyncio.sleep(0))
        self._loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what tests use ----------------------------------------------------------
    @property
    def base_url(self) -> str:
        root = f"http://{self.host}:{self.port}"
        return root if self.kind == "anthropic" else root + "/v1"

    def env(self, api_key: str = "sk-fake-key") -> dict[str, str]:
        """Environment variables that point the real SDK at this fake."""
        if self.kind == "anthropic":
            return {"ANTHROPIC_BASE_URL": self.base_url, "ANTHROPIC_API_KEY": api_key}
        return {"OPENAI_BASE_URL": self.base_url, "OPENAI_API_KEY": api_key}

    def reset(self) -> None:
        self.requests.clear()
        self.streams.clear()

    def wait_for(self, predicate, timeout: float = 5.0, interval: float = 0.002) -> bool:
        """Poll `predicate()` until true or `timeout` s pass (from any thread)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(interval)
        return bool(predicate())

    def wait_disconnect(self, timeout: float = 5.0) -> StreamRecord:
        """Wait until the latest stream ended (completed, cut or hung up); return it."""
        self.wait_for(lambda: self.streams and self._ended(self.streams[-1]), timeout)
        return self.streams[-1]

    @staticmethod
    def _ended(record: StreamRecord) -> bool:
        return record.completed or record.cut or record.client_disconnected

    def records_json(self) -> dict:
        return {
            "requests": [dataclasses.asdict(r) for r in self.requests],
            "streams": [dataclasses.asdict(s) for s in self.streams],
        }

    # -- serving -----------------------------------------------------------------
    async def _handle(self, request: Request, conn: Connection) -> None:
        body = request.json() if request.body else None
        if request.path.startswith("/_fake/"):
            await self._control(request, body, conn)
            return
        self.requests.append(
            RecordedRequest(request.method, request.path, request.headers, body, time.monotonic())
        )
        if request.method == "POST" and request.path.endswith("/v1/messages"):
            await self._answer("anthropic", request, body, conn)
        elif request.method == "POST" and request.path.endswith("/v1/responses"):
            await self._answer("openai", request, body, conn)
        else:
            await conn.send_json(
                404, {"error": {"message": f"no route {request.method} {request.path}"}}
            )

    async def _control(self, request: Request, body: object, conn: Connection) -> None:
        if request.path == "/_fake/script" and isinstance(body, dict):
            self.script = Script(**body)
        elif request.path == "/_fake/reset":
            self.reset()
        await conn.send_json(
            200, self.records_json() if request.path == "/_fake/records" else {"ok": True}
        )

    def _refusal(self, api: str, request: Request) -> int | None:
        """The HTTP error status to answer with, if any."""
        script = self.script
        # Anthropic SDKs send x-api-key (older) or a Bearer token (newer); OpenAI a Bearer token.
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        key = request.headers.get("x-api-key", "") or bearer
        if not key or (script.require_api_key is not None and key != script.require_api_key):
            return 401
        if script.errors:
            return script.errors.pop(0)
        return script.always_error

    async def _answer(self, api: str, request: Request, body: dict, conn: Connection) -> None:
        wire = anthropic_wire if api == "anthropic" else openai_wire
        status = self._refusal(api, request)
        if status is not None:
            headers = {"retry-after": self.script.retry_after} if self.script.retry_after else None
            await conn.send_json(status, wire.error_body(status), headers)
            return
        script = self.script
        model = str(body.get("model", "fake-model"))
        input_tokens = (
            script.input_tokens if script.input_tokens is not None else _count_words(body)
        )
        if not body.get("stream"):
            await self._whole(api, model, input_tokens, conn)
            return
        record = StreamRecord(api, model, len(script.tokens), time.monotonic())
        self.streams.append(record)
        await _Streamer(api, script, record, conn, next(self._ids), model, input_tokens).run()

    async def _whole(self, api: str, model: str, input_tokens: int, conn: Connection) -> None:
        script, n = self.script, next(self._ids)
        text = "".join(script.tokens)
        if api == "anthropic":
            reply = anthropic_wire.message(
                model, text, input_tokens, len(script.tokens), script.stop_reason, f"msg_fake{n}"
            )
        else:
            usage = {
                "input_tokens": input_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": len(script.tokens),
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": input_tokens + len(script.tokens),
            }
            reply = openai_wire.response_object(
                f"resp_fake{n}", model, "completed", text, usage, f"msg_fake{n}"
            )
        await conn.send_json(200, reply)


class _Streamer:
    """Writes one SSE stream following the script, recording what happened."""

    def __init__(
        self,
        api,
        script: Script,
        record: StreamRecord,
        conn: Connection,
        n: int,
        model: str,
        input_tokens: int,
    ):
        self.api, self.script, self.record, self.conn = api, script, record, conn
        self.model, self.input_tokens, self.n = model, input_tokens, n
        self.seqr = openai_wire.Sequencer(f"resp_fake{n}", model, f"msg_fake{n}")

    async def run(self) -> None:
        conn, record = self.conn, self.record
        try:
            if not await conn.start_chunked(200, "text/event-stream"):
                return self._lost()
            if not await self._send_all(self._head()):
                return self._lost()
            if self.script.first_token_delay and await conn.wait_lost(
                self.script.first_token_delay
            ):
                return self._lost()
            if not await self._tokens():
                return
            if await self._send_all(self._tail()) and await conn.end_chunked():
                record.completed = True
            else:
                self._lost()
        except (ConnectionError, OSError):
            self._lost()

    async def _tokens(self) -> bool:
        script, conn, record = self.script, self.conn, self.record
        for i, token in enumerate(script.tokens):
            if i == script.cut_after:
                record.cut = True
                conn.abort()
                return False
            if i == script.error_event_after:
                event = (
                    anthropic_wire.midstream_error_event(529)
                    if self.api == "anthropic"
                    else self.seqr.midstream_error(503)
                )
                await self._send_all([event])
                await conn.end_chunked()
                record.cut = True
                return False
            if i and script.delay and await conn.wait_lost(script.delay):
                return self._lost()
            if not await self._send_all([self._delta(token)]):
                return self._lost()
            record.tokens_sent += 1
        return True

    def _lost(self) -> bool:
        if not self.record.completed and not self.record.cut:
            self.record.client_disconnected = True
            self.record.disconnected_at = self.conn.lost_at or time.monotonic()
        return False

    async def _send_all(self, events: list[tuple[str, dict]]) -> bool:
        data = b"".join(
            b"event: %s\ndata: %s\n\n" % (name.encode(), json.dumps(payload).encode())
            for name, payload in events
        )
        return await self.conn.send_chunk(data)

    def _head(self):
        if self.api == "anthropic":
            return anthropic_wire.head_events(self.model, self.input_tokens, f"msg_fake{self.n}")
        return self.seqr.head()

    def _delta(self, token: str):
        return (
            anthropic_wire.delta_event(token) if self.api == "anthropic" else self.seqr.delta(token)
        )

    def _tail(self):
        sent = self.record.tokens_sent
        if self.api == "anthropic":
            return anthropic_wire.tail_events(self.script.stop_reason, sent)
        status = "incomplete" if self.script.stop_reason == "max_tokens" else "completed"
        return self.seqr.tail("".join(self.script.tokens[:sent]), self.input_tokens, sent, status)


def _count_words(body: dict) -> int:
    """A stand-in for input token counting: words in the request's text fields."""

    def words(value) -> int:
        if isinstance(value, str):
            return len(value.split())
        if isinstance(value, dict):
            return sum(
                words(v)
                for k, v in value.items()
                if k in ("messages", "content", "text", "input", "system", "instructions")
            )
        if isinstance(value, list):
            return sum(words(v) for v in value)
        return 0

    return max(1, words(body))
