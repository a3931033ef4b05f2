"""stream_reply: one streamed model answer inside a node, stoppable at once.

What it guarantees, whatever the provider:

- every text delta goes to ``ctx.stream()`` as it arrives, and the returned
  text is exactly what was streamed (plus the error note below, also streamed);
- when ``ctx.stop_requested`` turns true the upstream HTTP stream is closed at
  once: checked on every delta, and by a shared 5 ms watch while waiting for
  one (a stalled provider is cut too); the partial text is returned;
- retries (bounded, short backoff) happen only before the first token: once
  text has been shown to a user, repeating the request would show it twice;
- a provider failure becomes a ProviderError naming the provider, the HTTP
  status and what to do. If text was already streamed, the text is kept: the
  node returns it plus a streamed note "[Error: ...]" (the guide's
  safe_stream pattern) and reports ``stop_reason="error"``; if nothing was
  streamed, the error is raised and the run fails;
- usage is reported with ``ctx.report_usage(input_tokens=..., output_tokens=...,
  stop_reason=..., provider=..., model=...)`` in every case.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import TYPE_CHECKING

from . import config
from .backends import BACKENDS
from .call import Call, to_messages
from .errors import ProviderError, missing_key_error, to_provider_error
from .tracing import call_span, record_usage

if TYPE_CHECKING:
    from hypergraph import NodeContext

__all__ = ["stream_reply", "STOP_POLL_SECONDS"]

STOP_POLL_SECONDS = (
    0.005  # how often a silent upstream is checked for a stop (one shared timer per loop)
)
_MAX_BACKOFF = 2.0


async def stream_reply(
    ctx: NodeContext,
    prompt_or_messages: str | list,
    *,
    system: str = "",
    provider: str = "",
    model: str = "",
    max_tokens: int = 0,
    tokens_per_second: float | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
) -> str:
    """Stream one answer through `ctx`; return its text (see module doc)."""
    name = config.resolve_provider(provider)
    call = Call(
        provider=name,
        model=config.resolve_model(name, model),
        max_tokens=config.resolve_max_tokens(max_tokens),
        messages=to_messages(prompt_or_messages),
        system=system or "",
    )
    if name == "offline":
        call.tokens_per_second = config.resolve_rate(tokens_per_second)
    else:
        call.api_key = config.api_key_for(name, api_key)
        call.base_url = config.base_url_for(name, base_url)
        if not call.api_key:
            raise missing_key_error(name)
    return await _Reply(ctx, call).run()


class _Reply:
    """Runs the reader task; the loop's stop watch cancels it if a stop comes while it waits."""

    def __init__(self, ctx: NodeContext, call: Call) -> None:
        self.ctx, self.call = ctx, call
        self.parts: list[str] = []
        self.stopped = False
        self.retries = 0  # attempts after the first (reported in usage)
        self.reader: asyncio.Future | None = None
        self.span = None

    async def run(self) -> str:
        with call_span(self.call) as span:
            self.span = span
            return await self._run()

    async def _run(self) -> str:
        self.reader = reader = asyncio.ensure_future(self._read())
        watch = _StopWatch.for_running_loop()
        watch.add(self)
        try:
            await asyncio.wait((reader,))  # returns when the reader ends, however it ends
        finally:
            watch.discard(self)
            if not reader.done():  # our own task was cancelled (e.g. a stop's grace ran out)
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader
        return self._finish(reader)

    def stop_now(self) -> None:
        """Called by the stop watch: cancelling the read closes the upstream stream."""
        if self.reader is not None and not self.reader.done():
            self.stopped = True
            self.reader.cancel()

    async def _read(self) -> None:
        call, ctx = self.call, self.ctx
        attempts = config.retries() + 1
        for attempt in range(1, attempts + 1):
            if ctx.stop_requested:  # stopped before (or between) attempts: send nothing
                self.stopped = True
                return
            try:
                async with contextlib.aclosing(BACKENDS[call.provider](call)) as deltas:
                    async for text in deltas:
                        if ctx.stop_requested:
                            self.stopped = True
                            return  # leaving the block closes the upstream stream
                        self.parts.append(text)
                        try:
                            ctx.stream(text)
                        except Exception as exc:
                            raise _NotTheProvider(exc) from exc
                return
            except _NotTheProvider as wrapped:  # a failure of ours, not the provider's
                raise wrapped.__cause__ from None
            except Exception as exc:
                error = to_provider_error(
                    call.provider, exc, model=call.model, attempts=attempt, streamed=len(self.parts)
                )
                if self.parts or not error.retryable or attempt == attempts:
                    raise error from exc
                self.retries += 1
                await asyncio.sleep(_backoff(attempt, error.retry_after))

    def _finish(self, reader: asyncio.Future) -> str:
        call = self.call
        error = None if reader.cancelled() else reader.exception()
        if error is not None and not isinstance(error, ProviderError):
            raise error
        if error is not None:
            if not self.parts:
                self._report("error")
                raise error
            note = f"\n\n[Error: {error}]"
            self.ctx.stream(note)
            self._report("error")
            return "".join(self.parts) + note
        if self.stopped:
            self._report("stop_requested")
        else:
            self._report(call.stop_reason or "end_turn")
        return "".join(self.parts)

    def _report(self, stop_reason: str) -> None:
        call = self.call
        usage = {"stop_reason": stop_reason, "provider": call.provider, "model": call.model}
        if call.input_tokens is not None:
            usage["input_tokens"] = int(call.input_tokens)
        # A stopped or failed stream never gets the provider's final count:
        # then output_tokens counts the text deltas received.
        done = stop_reason not in ("stop_requested", "error")
        output = call.output_tokens if done and call.output_tokens is not None else len(self.parts)
        usage["output_tokens"] = int(output)
        if self.retries:
            usage["retries"] = self.retries
        self.ctx.report_usage(**usage)
        record_usage(self.span, usage)


class _NotTheProvider(Exception):
    """Carries an exception raised by ctx.stream() past the provider error handling."""


class _StopWatch:
    """One task per event loop that checks every streaming reply's ctx.stop_requested.

    The reply itself checks before each delta; this catches a stop while it
    waits for one (a slow or stalled provider). One shared poll every
    STOP_POLL_SECONDS costs the same for 1 or 1,000 streams, instead of a timer
    per stream; the task ends when no reply is streaming.
    """

    _by_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def __init__(self) -> None:
        self.replies: set[_Reply] = set()
        self.task: asyncio.Task | None = None

    @classmethod
    def for_running_loop(cls) -> _StopWatch:
        loop = asyncio.get_running_loop()
        watch = cls._by_loop.get(loop)
        if watch is None:
            watch = cls._by_loop[loop] = cls()
        return watch

    def add(self, reply: _Reply) -> None:
        self.replies.add(reply)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(
                self._watch(), name="hypergraph-llm-stop-watch"
            )

    def discard(self, reply: _Reply) -> None:
        self.replies.discard(reply)

    async def _watch(self) -> None:
        while self.replies:
            await asyncio.sleep(STOP_POLL_SECONDS)
            for reply in [r for r in self.replies if r.ctx.stop_requested]:
                reply.stop_now()
                self.replies.discard(reply)


def _backoff(attempt: int, retry_after: float | None) -> float:
    """Short: 0.25 s, 0.5 s, 1 s ... capped at 2 s; a provider's retry-after wins if shorter than the cap."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), _MAX_BACKOFF)
    return min(0.25 * 2 ** (attempt - 1), _MAX_BACKOFF)
