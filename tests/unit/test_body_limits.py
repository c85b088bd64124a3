"""Request body limits by path: uploads and media webhooks may be large, a JSON form may
not. The shared HTTP edge (`RequestContext`) refuses a body over its path's limit with a
413 problem, whether it declares its length or streams without one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request

from eungdapso_platform.db import Database
from eungdapso_platform.service import ServiceParts, create_app
from eungdapso_platform.settings import ServiceSettings

KIB = 1024


def service_app() -> FastAPI:
    router = APIRouter()

    @router.post("/api/v1/complaints")
    @router.post("/api/v1/attachments")
    @router.post("/api/v1/channels/sms/inbound")
    @router.post("/api/v1/channels/scan/huge")
    async def take(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    settings = ServiceSettings(service_name="things")
    parts = ServiceParts(
        settings=settings, db=Database(settings.postgres_conninfo(), "things"), routers=[router]
    )
    return create_app(
        parts,
        title="things",
        max_body_bytes=64 * KIB,
        # The longest prefix wins: one channel path gets more than the others.
        body_limits={
            "/api/v1/attachments": 512 * KIB,
            "/api/v1/channels/": 256 * KIB,
            "/api/v1/channels/scan/": 1024 * KIB,
        },
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=service_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://things") as c:
        yield c


async def streamed(size: int) -> AsyncIterator[bytes]:
    """A body without Content-Length (chunked), in 16 KiB pieces."""
    for start in range(0, size, 16 * KIB):
        yield bytes(min(16 * KIB, size - start))


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/api/v1/complaints", 64 * KIB),
        ("/api/v1/attachments", 512 * KIB),
        ("/api/v1/channels/sms/inbound", 256 * KIB),
        ("/api/v1/channels/scan/huge", 1024 * KIB),
    ],
)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_each_path_has_its_limit(
    client: httpx.AsyncClient, path: str, limit: int, chunked: bool
) -> None:
    def body(size: int) -> bytes | AsyncIterator[bytes]:
        return streamed(size) if chunked else bytes(size)

    fits = await client.post(path, content=body(limit))
    assert fits.status_code == 200 and fits.json() == {"received": limit}
    over = await client.post(path, content=body(limit + 1))
    assert over.status_code == 413
    assert over.headers["content-type"].startswith("application/problem+json")
    assert str(limit) in over.json()["detail"]
