"""The real services behind the gateway, served as `make run` serves it: what a client
sends reaches the service that judges it, and the public GET answers HEAD."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn

from eungdapso_devstack.gateway import Gateway
from eungdapso_devstack.infra import PostgresTarget, free_port
from eungdapso_schemas.envelope import decode
from eungdapso_schemas.streams import RATING_LINKS
from tests.e2e.conftest import StackFactory
from tests.support.kafka import read_topic
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


@pytest.fixture
async def broker_and_base_url(make_stack: StackFactory, broker: str) -> AsyncIterator[tuple[str, str]]:
    stack = await make_stack(broker, services=("intake", "router", "publisher", "casework", "rating"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(Gateway(stack.upstreams), port=port, log_config=None))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done()
        await asyncio.sleep(0.05)
    yield broker, f"http://127.0.0.1:{port}"
    server.should_exit = True
    await serving


@pytest.fixture
def base_url(broker_and_base_url: tuple[str, str]) -> str:
    return broker_and_base_url[1]


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


def office_key(database: PostgresTarget, office: str) -> str:
    """A key made as an operator makes it: `python -m eungdapso_casework offices create`."""
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "eungdapso_casework",
            "offices",
            "create",
            "--office",
            office,
            "--name",
            "e2e",
        ],
        env={**os.environ, **database.env()},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    return made.stdout.splitlines()[-1]


STAFF = {"staff": "transport-1"}


async def answered_bus_stop_complaint(client: httpx.AsyncClient, key: dict[str, str]) -> tuple[str, str]:
    """A complaint about a bus stop, submitted, accepted and answered by the bus policy
    division (the office of `key`): its receipt number and its case's inbox path."""
    r = await client.post(
        "/api/v1/complaints",
        json={"text": "버스 정류장 안내판이 꺼졌어요", "kind": "complaint", "subject": "bus_stop"},
    )
    assert r.status_code == 201
    receipt_no = r.json()["receipt_no"]

    async def in_inbox() -> dict[str, Any] | None:
        cases = (await client.get("/api/v1/inbox/cases", headers=key)).json()["cases"]
        return next((c for c in cases if c["receipt_no"] == receipt_no), None)

    case = await eventually(in_inbox, what="the case in the bus policy division's inbox")
    path = f"/api/v1/inbox/cases/{case['case_id']}"
    assert (await client.post(f"{path}/accept", headers=key, json=STAFF)).status_code == 200
    answer = {**STAFF, "text": "안내판을 교체했습니다.", "resolution": "resolved"}
    assert (await client.post(f"{path}/answer", headers=key, json=answer)).status_code == 200
    return receipt_no, path


async def test_an_office_works_its_case_through_the_gateway_and_the_public_status_follows(
    base_url: str, database: PostgresTarget
) -> None:
    key = {"X-Api-Key": await asyncio.to_thread(office_key, database, "seoul.transport.bus_policy")}
    async with httpx.AsyncClient(base_url=base_url) as client:
        assert (await client.get("/api/v1/inbox/cases")).status_code == 401  # casework answers, not 404
        receipt_no, path = await answered_bus_stop_complaint(client, key)
        assert (await client.post(f"{path}/close", headers=key, json=STAFF)).status_code == 200

        async def closed() -> dict[str, Any] | None:
            got = await client.get(f"/api/v1/complaints/{receipt_no}")
            return got.json() if got.status_code == 200 and got.json()["status"] == "closed" else None

        public = await eventually(closed, what="the public status closed")
        assert public["office"]["code"] == "seoul.transport.bus_policy" and public["resolution"] == "resolved"
        assert public["accepted_at"] and public["answered_at"] and public["closed_at"]
        assert "안내판을 교체" not in str(public)  # the answer itself is not in the status


async def test_the_citizen_rates_the_answer_with_the_link_and_the_office_figures_count_it(
    broker_and_base_url: tuple[str, str], database: PostgresTarget
) -> None:
    broker, base_url = broker_and_base_url
    office = "seoul.transport.bus_policy"
    key = {"X-Api-Key": await asyncio.to_thread(office_key, database, office)}
    async with httpx.AsyncClient(base_url=base_url) as client:
        receipt_no, _ = await answered_bus_stop_complaint(client, key)

        # The link as the notifier reads it.
        async def link() -> str | None:
            for record in await read_topic(broker, RATING_LINKS.name, at_least=0, timeout=1):
                issued = decode(record.headers, record.key, record.value).data
                if issued.receipt_no == receipt_no:
                    return str(issued.token)
            return None

        token = await eventually(link, what="the rating link")

        async def named() -> dict[str, Any] | None:
            # The office's name comes from the router's stream, in no order with casework's.
            got = await client.get("/api/v1/ratings/invitation", params={"token": token})
            shown: dict[str, Any] = got.json()
            return shown if shown["office_name"] is not None else None

        shown = await eventually(named, what="the office's name")
        assert shown["receipt_no"] == receipt_no and (shown["office"], shown["office_name"]) == (
            office,
            "버스정책과",
        )
        rated = await client.post(
            "/api/v1/ratings", json={"token": token, "score": 1, "comment": "안 고쳐졌어요"}
        )
        assert rated.status_code == 201 and rated.json()["review_requested"] is True
        again = await client.post("/api/v1/ratings", json={"token": token, "score": 5})
        assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
        month = (
            datetime.fromisoformat(rated.json()["rated_at"])
            .astimezone(ZoneInfo("Asia/Seoul"))
            .strftime("%Y-%m")
        )
        summary = (
            await client.get("/api/v1/ratings/summary", params={"month": month, "office": office})
        ).json()
        assert [(o["office"], o["count"], o["mean"], o["low"]) for o in summary["offices"]] == [
            (office, 1, 1.0, 1)
        ]
