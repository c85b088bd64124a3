"""The real services behind the gateway, served as `make run` serves it: what a client
sends reaches the service that judges it, and the public GET answers HEAD."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from eungdapso_devstack.gateway import Gateway
from eungdapso_devstack.infra import free_port
from tests.e2e.conftest import StackFactory
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


@pytest.fixture
async def base_url(make_stack: StackFactory, broker: str) -> AsyncIterator[str]:
    stack = await make_stack(broker, services=("intake", "router", "publisher"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(Gateway(stack.upstreams), port=port, log_config=None))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done()
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await serving


async def test_a_non_ascii_idempotency_key_reaches_intake_which_refuses_it(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        r = await client.post(
            "/api/v1/complaints",
            json={"text": "가로등이 꺼졌어요", "kind": "complaint"},
            headers={"Idempotency-Key": "민원-42".encode(), "X-Anything": "café".encode()},
        )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert [e["field"] for e in problem["errors"]] == ["header.Idempotency-Key"]


async def test_the_public_status_answers_head_like_get(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        r = await client.post("/api/v1/complaints", json={"text": "가로등이 꺼졌어요", "kind": "complaint"})
        assert r.status_code == 201
        path = f"/api/v1/complaints/{r.json()['receipt_no']}"

        async def assigned() -> httpx.Response | None:
            got = await client.get(path)
            return got if got.status_code == 200 and got.json()["status"] == "assigned" else None

        got = await eventually(assigned, what="assigned")
        head = await client.head(path)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == got.headers["content-length"] == str(len(got.content))
        assert head.headers["content-type"] == got.headers["content-type"]

        missing = await client.head("/api/v1/complaints/2026-9999999")
        assert missing.status_code == 404 and missing.content == b""
        assert missing.headers["content-type"] == "application/problem+json"
        for name in ("/healthz", "/services/publisher/readyz"):
            assert (await client.head(name)).status_code == 200
