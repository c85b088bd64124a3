"""HEAD answers like GET without a body, on every GET route of every service: the shared
HTTP edge (`RequestContext`) does it once for all of them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, FastAPI

from eungdapso_devstack.infra import free_port
from eungdapso_platform.db import Database
from eungdapso_platform.problems import Problem
from eungdapso_platform.service import ServiceParts, create_app
from eungdapso_platform.settings import ServiceSettings


def service_app() -> FastAPI:
    router = APIRouter()

    @router.get("/api/v1/things/{thing}")
    async def thing(thing: str) -> dict[str, str]:
        if thing == "missing":
            raise Problem(404, "Thing not found", "No such thing.", type_="thing-not-found")
        return {"thing": thing, "note": "상태 조회"}

    @router.post("/api/v1/things")
    async def make_thing() -> dict[str, str]:
        return {"made": "yes"}

    settings = ServiceSettings(service_name="things")
    # The database is never opened: no lifespan runs here, and these routes do not use it.
    parts = ServiceParts(settings=settings, db=Database(settings.postgres_conninfo(), "things"))
    parts.routers.append(router)
    return create_app(parts, title="things")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=service_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://things") as c:
        yield c


@pytest.mark.parametrize("path", ["/api/v1/things/2026-0000001", "/healthz"])
async def test_head_answers_like_get_without_a_body(client: httpx.AsyncClient, path: str) -> None:
    got = await client.get(path)
    head = await client.head(path)
    assert got.status_code == head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"] == str(len(got.content))
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["x-correlation-id"]


async def test_head_of_a_missing_resource_is_the_problem_status_without_a_body(
    client: httpx.AsyncClient,
) -> None:
    head = await client.head("/api/v1/things/missing")
    assert head.status_code == 404 and head.content == b""
    assert head.headers["content-type"] == "application/problem+json"


async def test_head_does_not_open_routes_that_only_post(client: httpx.AsyncClient) -> None:
    head = await client.head("/api/v1/things")
    assert head.status_code == 405 and head.content == b""
    assert (await client.get("/api/v1/things")).status_code == 405


async def test_head_over_a_real_server_keeps_the_content_length() -> None:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(service_app(), port=port, log_config=None, lifespan="off"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not serving.done()
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
            got = await c.get("/api/v1/things/a")
            head = await c.head("/api/v1/things/a")
            # The connection is still usable: no stray body bytes were written after the HEAD.
            again = await c.get("/api/v1/things/a")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == got.headers["content-length"]
        assert again.json() == got.json()
    finally:
        server.should_exit = True
        await serving


async def test_the_app_itself_sends_no_body_for_head() -> None:
    """Servers differ in what they do with a body sent for HEAD (h11 refuses it): send none."""
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "HEAD",
        "scheme": "http",
        "path": "/api/v1/things/a",
        "raw_path": b"/api/v1/things/a",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"things")],
        "server": ("things", 80),
        "client": ("127.0.0.1", 5000),
    }
    await service_app()(scope, receive, send)  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 200
    length = dict(start["headers"])[b"content-length"]  # type: ignore[call-overload]
    assert int(length) > 0
    assert [m.get("body", b"") for m in sent if m["type"] == "http.response.body"] == [b""]
