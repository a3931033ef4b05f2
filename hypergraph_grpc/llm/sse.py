"""A small Server-Sent Events decoder (WHATWG framing) over an async byte stream.

Why our own: the SDKs turn every event into a pydantic model, about half of
the CPU a server spends per streamed token (28 vs 14 us measured). The LLM
nodes still use the SDK for everything else (request, auth, base URL, HTTP
errors as SDK exceptions, closing); only the event payloads are read as plain
JSON here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

__all__ = ["sse_events"]


async def sse_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[str, str]]:
    """Yield (event name, data) per event; lines may end in LF, CRLF or CR."""
    buf = b""
    event, data = "", []
    async for chunk in chunks:
        buf += chunk
        if b"\r" in buf:
            # CRLF or a lone CR end a line too; a CR at the very end may be half a CRLF
            keep_cr = buf.endswith(b"\r")
            buf = (buf[:-1] if keep_cr else buf).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            lines = buf.split(b"\n")
            buf = lines.pop() + (b"\r" if keep_cr else b"")
        else:
            lines = buf.split(b"\n")
            buf = lines.pop()
        for line in lines:
            if not line:  # a blank line dispatches the event
                if data:
                    yield event or "message", "\n".join(data)
                event, data = "", []
            elif line[0] != 0x3A:  # not a ":" comment
                name, _, value = line.partition(b":")
                if value[:1] == b" ":
                    value = value[1:]
                if name == b"data":
                    data.append(value.decode())
                elif name == b"event":
                    event = value.decode()
    # an event not ended by a blank line is incomplete: dropped, as the spec says
