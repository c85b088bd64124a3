"""One base URL for every service, routed the way the Kubernetes Ingress routes.

The route table is the single place that says which service answers which path;
`deploy/k8s` mirrors it. `GET /healthz` answers 200 only when every service is ready.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import httpx

from eungdapso_schemas.system import ingress_routes

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


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
#: Like an Ingress's body-size limit; each service enforces its own, smaller one.
MAX_BODY_BYTES = 1024 * 1024
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host", "content-length"}


class Gateway:
    def __init__(self, upstreams: dict[str, str]) -> None:
        self.upstreams = upstreams
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
        path: str = scope["path"]
        if path == "/healthz":
            checks = await self.ready()
            ok = all(checks.values())
            await _json(send, 200 if ok else 503, {"ready": ok, "services": checks})
            return
        route = next((r for r in ROUTES if r.matches(path)), None)
        if route is None:
            await _problem(send, 404, "Not found", f"No service answers {path}", path)
            return
        upstream_path = path
        if path.startswith(f"/services/{route.service}/"):
            upstream_path = path[len(f"/services/{route.service}") :]
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                await _problem(
                    send, 413, "Request too large", f"The body may be at most {MAX_BODY_BYTES} bytes.", path
                )
                return
            if not message.get("more_body"):
                break
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.decode("latin-1").lower() not in HOP_BY_HOP
        ]
        url = self.upstreams[route.service] + upstream_path
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        try:
            upstream = await self.client.request(scope["method"], url, headers=headers, content=body)
        except httpx.HTTPError as exc:
            await _problem(
                send,
                503,
                "Service unavailable",
                f"{route.service} is not reachable: {type(exc).__name__}",
                path,
            )
            return
        out_headers = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in upstream.headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-encoding"
        ]
        out_headers.append((b"content-length", str(len(upstream.content)).encode()))
        await send({"type": "http.response.start", "status": upstream.status_code, "headers": out_headers})
        await send({"type": "http.response.body", "body": upstream.content})


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
