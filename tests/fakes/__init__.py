"""Fake LLM provider endpoints for tests and benchmarks.

Real HTTP servers on free loopback ports that speak each provider's streaming
wire format (Server-Sent Events over chunked HTTP/1.1), so the real
``anthropic`` and ``openai`` SDKs run against them unchanged:

- Anthropic Messages: ``POST /v1/messages`` (``ANTHROPIC_BASE_URL=http://HOST:PORT``)
- OpenAI Responses:  ``POST /v1/responses`` (``OPENAI_BASE_URL=http://HOST:PORT/v1``)

Behaviour is set by a :class:`Script` (tokens, pacing, an HTTP error before
the first token, a cut mid-stream, ...); every request and every stream is
recorded (:class:`StreamRecord` says whether the client hung up early and
when), so a test can observe what the client did on the wire.
"""

from .provider import FakeProvider, RecordedRequest, Script, StreamRecord

__all__ = ["FakeProvider", "RecordedRequest", "Script", "StreamRecord"]
