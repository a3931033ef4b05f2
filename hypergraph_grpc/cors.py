"""Cross-origin access to the HTTP port: which web origins may call RunnerService.

A page served by the HTTP port itself (``/``) is same-origin and needs nothing.
A page elsewhere (``https://app.example.com``) may call the service only when
its origin is on the allow-list (``serve --cors-origin``): its preflight is
answered with the methods and headers a Connect or gRPC-Web client sends, and
its responses let the browser read the status headers. A preflight from any
other origin is refused (403) and its responses carry no CORS headers, so the
browser keeps them from the page.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["ANY_ORIGIN", "CorsPolicy"]

ANY_ORIGIN = "*"

# What Connect, gRPC-Web and gRPC clients send, plus the service's own headers.
_ALLOWED_HEADERS = frozenset(
    {
        "authorization",
        "content-type",
        "connect-protocol-version",
        "connect-timeout-ms",
        "connect-content-encoding",
        "connect-accept-encoding",
        "grpc-timeout",
        "grpc-accept-encoding",
        "x-grpc-web",
        "x-user-agent",
        "x-hypergraph-echo",
    }
)
# Response headers a cross-origin page may read (status and the echo, gRPC-Web's in headers).
_EXPOSED_HEADERS = b"grpc-status, grpc-message, grpc-status-details-bin, x-hypergraph-echo"
_MAX_AGE = b"7200"


class CorsPolicy:
    """The origins allowed to call the service from a browser (``*``: any origin)."""

    def __init__(self, origins: Iterable[str] = ()) -> None:
        self.origins = frozenset(origin.rstrip("/") for origin in origins)

    def allows(self, origin: str) -> bool:
        return ANY_ORIGIN in self.origins or origin in self.origins

    def wrap(self, app):
        """``app`` (an ASGI application) behind this policy."""

        async def with_cors(scope, receive, send):
            headers = dict(scope.get("headers") or ())
            origin = headers.get(b"origin", b"").decode("latin-1")
            if not origin or _same_origin(origin, scope, headers):
                await app(scope, receive, send)
                return
            if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
                await self._preflight(origin, headers, send)
                return
            if not self.allows(origin):
                await app(scope, receive, send)
                return
            added = [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-expose-headers", _EXPOSED_HEADERS),
                (b"vary", b"Origin"),
            ]

            async def send_with_cors(message):
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", ()), *added]}
                await send(message)

            await app(scope, receive, send_with_cors)

        return with_cors

    async def _preflight(self, origin: str, headers: dict[bytes, bytes], send) -> None:
        requested = [
            name.strip().lower()
            for name in headers.get(b"access-control-request-headers", b"")
            .decode("latin-1")
            .split(",")
            if name.strip()
        ]
        refused = [name for name in requested if name not in _ALLOWED_HEADERS]
        if not self.allows(origin) or refused:
            why = (
                f"origin {origin[:200]!r} is not allowed (serve --cors-origin)"
                if not self.allows(origin)
                else f"request headers not allowed: {', '.join(refused)[:200]}"
            )
            await _respond(send, 403, [(b"content-type", b"text/plain; charset=utf-8")], why)
            return
        allow = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", b"POST, GET"),
            (b"access-control-allow-headers", ", ".join(requested).encode("latin-1")),
            (b"access-control-max-age", _MAX_AGE),
            (b"vary", b"Origin, Access-Control-Request-Headers"),
        ]
        await _respond(send, 204, allow, "")


def _same_origin(origin: str, scope, headers: dict[bytes, bytes]) -> bool:
    host = headers.get(b"host", b"").decode("latin-1")
    return bool(host) and origin == f"{scope.get('scheme', 'http')}://{host}"


async def _respond(send, status: int, headers: list[tuple[bytes, bytes]], text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
