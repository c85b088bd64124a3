"""One base URL for every service, routed the way the Kubernetes Ingress routes.

The route table is the single place that says which service answers which path;
`deploy/k8s` mirrors it. `GET /healthz` answers 200 only when every service is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import httpx

from eungdapso_platform.http import headers_only
from eungdapso_platform.logging import get_logger
from eungdapso_schemas.system import ingress_routes

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

log = get_logger("eungdapso.gateway")


@dataclass(frozen=True)
class Route:
    path: str
    exact: bool
    service: str

    def matches(self, path: str) -> bool:
        return path == self.path if self.exact else path.startswith(self.path)


#: Ingress rules from the service registry, most specific first (pathType Exact before
#: Prefix), then each service's own endpoints (readiness detail, OpenAPI docs) under
#: /services/<name>/.
ROUTES: tuple[Route, ...] = tuple(Route(rule.path, rule.exact, name) for rule, name in ingress_routes())
#: Like an Ingress's body-size limit; each service enforces its own, per path: large enough
#: for intake's uploads (photos, videos, scans: `UPLOAD_MAX_BODY_BYTES`), 64 KiB for its form.
MAX_BODY_BYTES = 32 * 1024 * 1024
HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"transfer-encoding",
    b"te",
    b"upgrade",
    b"host",
    b"content-length",
}
#: Upstream headers not passed back: hop-by-hop ones, `content-encoding` (httpx decodes the
#: body), and `date`/`server`, which the gateway's own server sends.
NOT_PASSED_BACK = HOP_BY_HOP | {b"content-encoding", b"date", b"server"}
#: C0 controls and DEL: never part of a path a service answers; CR/LF would split headers.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class Gateway:
    def __init__(
        self,
        upstreams: dict[str, str],
        supervision: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None,
    ) -> None:
        self.upstreams = upstreams
        #: The local stack's view of its processes (`Stack.health`), shown by /healthz.
        self.supervision = supervision
        self.client = httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200))

    async def ready(self) -> dict[str, bool]:
        async def one(name: str, base: str) -> tuple[str, bool]:
            try:
                return name, (await self.client.get(base + "/readyz", timeout=2)).status_code == 200
            except httpx.HTTPError:
                return name, False

        return dict(await asyncio.gather(*(one(n, b) for n, b in self.upstreams.items())))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.client.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["method"] == "HEAD":
            send = headers_only(send)
        started = False

        async def tracked(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._http(scope, receive, tracked)
        except Exception:
            # Whatever went wrong, the client gets a problem, never the server's plain text.
            log.exception("gateway_error", method=scope["method"], path=scope["path"])
            if started:
                raise
            await _problem(
                send, 500, "Internal error", "The gateway could not complete the request.", scope["path"]
            )

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if path == "/healthz":
            await self._healthz(send)
            return
        if _CONTROL_CHARACTERS.search(path):
            await _problem(
                send, 400, "Bad request", "The path may not contain control characters (CR, LF, NUL…).", path
            )
            return
        route = next((r for r in ROUTES if r.matches(path)), None)
        if route is None:
            await _problem(send, 404, "Not found", f"No service answers {path}", path)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                await _problem(
                    send, 413, "Request too large", f"The body may be at most {MAX_BODY_BYTES} bytes.", path
                )
                return
            if not message.get("more_body"):
                break
        # Headers go on as the bytes that came in: values may be any octets (RFC 9110
        # obs-text), which the upstream judges, e.g. intake's 422 on a non-ASCII
        # Idempotency-Key.
        headers = _forwarded_for(
            [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP], scope.get("client")
        )
        # Server-sent events (the publisher's feed) are passed on as they come, for as long as
        # the client stays; everything else is read whole, as an Ingress buffers it.
        streaming = any(
            k.lower() == b"accept" and b"text/event-stream" in v.lower() for k, v in scope["headers"]
        )
        timeout = httpx.Timeout(30.0, read=None) if streaming else httpx.Timeout(30.0)
        try:
            url = httpx.URL(self.upstreams[route.service]).copy_with(raw_path=_target(scope, route.service))
            request = self.client.build_request(
                scope["method"], url, headers=headers, content=bytes(body), timeout=timeout
            )
            upstream = await self.client.send(request, stream=True)
        except httpx.InvalidURL as exc:
            await _problem(send, 400, "Bad request", f"The request target cannot be forwarded: {exc}", path)
            return
        except httpx.HTTPError as exc:
            await _problem(
                send,
                503,
                "Service unavailable",
                f"{route.service} is not reachable: {type(exc).__name__}",
                path,
            )
            return
        try:
            # The gateway's server sends its own `date` and `server`; the upstream's would repeat them.
            out_headers = [(k, v) for k, v in upstream.headers.raw if k.lower() not in NOT_PASSED_BACK]
            start = {"type": "http.response.start", "status": upstream.status_code, "headers": out_headers}
            if upstream.headers.get("content-type", "").startswith("text/event-stream"):
                await send(start)
                await _pass_on_events(upstream, receive, send)
                return
            content = await upstream.aread()
            if scope["method"] == "HEAD":
                length = upstream.headers.get("content-length")
            else:
                length = str(len(content))
            if length is not None:
                out_headers.append((b"content-length", length.encode()))
            await send(start)
            await send({"type": "http.response.body", "body": content})
        finally:
            await upstream.aclose()

    async def _healthz(self, send: Send) -> None:
        """200 when every service answers ready; otherwise 503 and, under `down`, each
        process that is not: dead and `restarting`, `failed` (kept dying, left down),
        `stopped`, or running but `not ready`, with its last exit status and log file."""
        checks = await self.ready()
        down: dict[str, Any] = {
            name: dict(info)
            for name, info in (self.supervision() if self.supervision else {}).items()
            if info["state"] != "running"
        }
        for name, ok in checks.items():
            if not ok and name not in down:
                down[name] = {"state": "not ready"}
        ready = all(checks.values()) and not down
        body: dict[str, Any] = {"ready": ready, "services": checks}
        if down:
            body["down"] = down
        await _json(send, 200 if ready else 503, body)


async def _pass_on_events(upstream: httpx.Response, receive: Receive, send: Send) -> None:
    """Each chunk of an event stream as it arrives, until the upstream ends it or the client
    goes away (then the upstream connection is closed, so the service stops sending)."""

    async def client_gone() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    async def forward() -> None:
        with contextlib.suppress(httpx.HTTPError):
            async for chunk in upstream.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    watcher = asyncio.create_task(client_gone())
    forwarder = asyncio.create_task(forward())
    try:
        await asyncio.wait({watcher, forwarder}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (watcher, forwarder):
            task.cancel()
        await asyncio.gather(watcher, forwarder, return_exceptions=True)


def _target(scope: Scope, service: str) -> bytes:
    """The path and query to ask the upstream for, as the client sent them (so `%2F` stays
    `%2F`), without the /services/<name> prefix, with any byte that may not appear in a
    request target percent-encoded."""
    path: str = scope["path"]
    raw: bytes = scope.get("raw_path") or path.encode()
    prefix = f"/services/{service}"
    if path.startswith(prefix + "/"):
        if raw.startswith(prefix.encode() + b"/"):
            raw = raw[len(prefix) :]
        else:  # the client percent-encoded part of the prefix itself
            raw = path[len(prefix) :].encode()
    target = _percent_encoded(raw)
    if scope.get("query_string"):
        target += b"?" + _percent_encoded(scope["query_string"])
    return target


def _forwarded_for(headers: list[tuple[bytes, bytes]], client: Any) -> list[tuple[bytes, bytes]]:
    """As an Ingress does: the peer's address appended to `X-Forwarded-For`, so a service
    that trusts the gateway (intake's `TRUSTED_PROXIES`) sees the client's, e.g. to limit
    the web form per address."""
    if not client:
        return headers
    forwarded = [v for k, v in headers if k.lower() == b"x-forwarded-for"]
    others = [(k, v) for k, v in headers if k.lower() != b"x-forwarded-for"]
    return [*others, (b"x-forwarded-for", b", ".join([*forwarded, str(client[0]).encode()]))]


def _percent_encoded(raw: bytes) -> bytes:
    return b"".join(bytes([b]) if 0x21 <= b <= 0x7E else b"%%%02X" % b for b in raw)


async def _problem(send: Send, status: int, title: str, detail: str, instance: str) -> None:
    """An RFC 9457 problem, as every service answers them."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "instance": instance}
    await _json(send, status, body, content_type="application/problem+json")


async def _json(
    send: Send, status: int, payload: dict[str, Any], content_type: str = "application/json"
) -> None:
    import json

    body = json.dumps(payload, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
