"""The HTTP edge every service shares, as plain ASGI middleware (no per-request task
group, unlike Starlette's BaseHTTPMiddleware): the correlation id, the server span that
continues the caller's W3C trace, a hard limit on request body size (one for every path,
or a larger one for the paths that carry media: the longest matching prefix), and HEAD answered
like GET without a body on every GET route (RFC 9110 §9.3.2; FastAPI routes GET only).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import structlog
from opentelemetry.trace import SpanKind
from starlette.exceptions import HTTPException

from eungdapso_platform.tracing import continued_trace, correlation_id_var, new_correlation_id

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CORRELATION_HEADER = "X-Correlation-Id"
_VALID_CORRELATION_ID = re.compile(r"^[A-Za-z0-9\-]{8,64}$")


class BodyTooLarge(HTTPException):
    """Raised while the body is read; FastAPI passes HTTP exceptions through untouched,
    and the problem handler answers 413 (RFC 9457)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The body may be at most {limit} bytes.")


class RequestContext:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int | None = None,
        body_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        #: Path prefix → its own limit; the longest prefix that matches wins.
        self.body_limits = sorted((body_limits or {}).items(), key=lambda rule: -len(rule[0]))

    def body_limit(self, path: str) -> int | None:
        for prefix, limit in self.body_limits:
            if path.startswith(prefix):
                return limit
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        supplied = headers.get(CORRELATION_HEADER.lower(), "")
        correlation_id = supplied if _VALID_CORRELATION_ID.match(supplied) else new_correlation_id()
        limit = self.body_limit(scope["path"])
        if limit is not None:
            length = headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > limit):
                receive = _refuse(limit)
            else:
                receive = _counting(receive, limit)

        span_name = f"{scope['method']} {scope['path']}"
        if scope["method"] == "HEAD":
            # Route as GET; the answer keeps GET's status and headers (Content-Length
            # included) and loses its body. A route that does not answer GET stays 405.
            scope = {**scope, "method": "GET"}
            send = headers_only(send)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-correlation-id", correlation_id.encode())]
            await send(message)

        token = correlation_id_var.set(correlation_id)
        try:
            with (
                structlog.contextvars.bound_contextvars(correlation_id=correlation_id),
                continued_trace(
                    span_name,
                    traceparent=headers.get("traceparent"),
                    tracestate=headers.get("tracestate"),
                    kind=SpanKind.SERVER,
                ),
            ):
                await self.app(scope, receive, send_with_id)
        finally:
            correlation_id_var.reset(token)


def headers_only(send: Send) -> Send:
    """The answer to a HEAD: status and headers as given (Content-Length included), one
    empty body. Servers differ on a body sent for HEAD (h11 refuses it), so none is sent."""

    async def send_headers(message: Message) -> None:
        if message["type"] == "http.response.body":
            if message.get("more_body", False):
                return
            message = {**message, "body": b""}
        await send(message)

    return send_headers


def _refuse(limit: int) -> Receive:
    async def receive() -> Message:
        raise BodyTooLarge(limit)

    return receive


def _counting(receive: Receive, limit: int) -> Receive:
    """Enforce the limit on bodies without Content-Length (chunked) as they stream in."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise BodyTooLarge(limit)
        return message

    return counted
