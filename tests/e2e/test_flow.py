"""End to end: every service as its own process, one base URL, real PostgreSQL and broker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import psycopg
import pytest

from eungdapso_devstack.gateway import Gateway
from eungdapso_devstack.infra import PostgresTarget
from eungdapso_devstack.stack import Stack
from eungdapso_schemas.streams import INTAKE_EVENTS, ROUTER_EVENTS, SLA_EVENTS
from tests.e2e.conftest import StackFactory
from tests.support.kafka import read_topic
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

COMPLAINT = {
    "text": "만리재로 193 앞 육교 계단에 구멍이 났어요",
    "kind": "complaint",
    "field": "roads_traffic",
    "language": "ko",
    "place": {
        "address": "서울특별시 용산구 만리재로 193",
        "lat": 37.5536,
        "lon": 126.9680,
        "district": "yongsan",
    },
    "contact": {"name": "홍길동", "phone": "010-1234-5678", "email": "hong@example.kr"},
}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
async def system(make_stack: StackFactory, broker: str) -> AsyncIterator[tuple[Stack, httpx.AsyncClient]]:
    stack = await make_stack(
        broker, services=("intake", "router", "sla", "notifier", "publisher", "rating", "casework")
    )
    gateway = Gateway(stack.upstreams)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway), base_url="http://eungdapso"
    ) as c:
        yield stack, c


async def status_of(client: httpx.AsyncClient, receipt_no: str, wanted: str = "assigned") -> dict | None:  # type: ignore[type-arg]
    response = await client.get(f"/api/v1/complaints/{receipt_no}")
    if response.status_code == 200 and response.json()["status"] == wanted:
        return response.json()  # type: ignore[no-any-return]
    return None


async def test_submit_then_public_status_shows_the_assigned_office_and_no_personal_data(
    system: tuple[Stack, httpx.AsyncClient], broker: str
) -> None:
    stack, client = system
    assert (await client.get("/healthz")).json()["ready"] is True
    router_ready = (await client.get("/services/router/readyz")).json()
    assert router_ready["service"] == "router" and router_ready["checks"] == {
        "database": True,
        "broker": True,
        "consumers": True,
    }
    assert router_ready["components"]["router.assignment"]["kind"] == "process"
    correlation_id = "e2e0correlation01"
    submitted = await client.post(
        "/api/v1/complaints",
        json=COMPLAINT,
        headers={"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01", "X-Correlation-Id": correlation_id},
    )
    assert submitted.status_code == 201, submitted.text
    receipt_no = submitted.json()["receipt_no"]
    complaint_id = submitted.json()["complaint_id"]

    public = await eventually(lambda: status_of(client, receipt_no), what="public status assigned")
    assert public["receipt_no"] == receipt_no
    # Read from the text and the place: a footbridge in Yongsan is the district's road division.
    assert public["office"] == {
        "code": "district.yongsan.roads",
        "name": "용산구 도로과",
        "level": "district",
    }
    assert public["kind"] == "complaint" and public["field"] == "roads_traffic" and public["channel"] == "web"
    assert public["received_at"] and public["assigned_at"] and public["assigned_at"] >= public["received_at"]
    text = json.dumps(public, ensure_ascii=False)
    for personal in ("홍길동", "010-1234-5678", "hong@example.kr", "만리재로", "구멍"):
        assert personal not in text

    # Trace context and correlation id travelled HTTP → intake → Kafka → router → Kafka.
    # (The router's stream also carries the directory version it published when it started.)
    records = await read_topic(broker, ROUTER_EVENTS.name, at_least=2)
    headers = next(dict(r.headers) for r in records if r.key == str(complaint_id).encode())
    assert headers["ce_subject"] == complaint_id.encode()
    assert TRACE_ID.encode() in headers["ce_traceparent"]
    assert headers["ce_correlationid"] == correlation_id.encode()
    # ... and every log line about it carries both ids.
    intake_log = stack["intake"].log_file.read_text().splitlines()  # type: ignore[union-attr]
    received_lines = [json.loads(line) for line in intake_log if '"complaint_received"' in line]
    assert [(line["complaint_id"], line["correlation_id"]) for line in received_lines] == [
        (complaint_id, correlation_id)
    ]
    router_log = (stack["router"].log_file.read_text()).splitlines()  # type: ignore[union-attr]
    assigned_lines = [json.loads(line) for line in router_log if '"assignment_decided"' in line]
    assert assigned_lines and all(
        line["complaint_id"] == complaint_id and line["correlation_id"] == correlation_id
        for line in assigned_lines
    )
    # The publisher, two hops downstream, continued the same trace for both events.
    publisher_log = stack["publisher"].log_file.read_text().splitlines()  # type: ignore[union-attr]
    applied = [json.loads(line) for line in publisher_log if '"event_applied"' in line]
    # (and the deadline the SLA service set from them)
    assert {line["topic"] for line in applied} == {INTAKE_EVENTS.name, ROUTER_EVENTS.name, SLA_EVENTS.name}
    for line in [*received_lines, *assigned_lines, *applied]:
        assert (line["trace_id"], line["correlation_id"], line["complaint_id"]) == (
            TRACE_ID,
            correlation_id,
            complaint_id,
        )

    missing = await client.get("/api/v1/complaints/2026-9999999")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith(
        "application/problem+json"
    )
    malformed = await client.get("/api/v1/complaints/not-a-receipt")
    assert malformed.status_code == 422
    unknown = await client.get("/api/v2/anything")
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
    huge = await client.post("/api/v1/complaints", content=b"x" * (2 * 1024 * 1024))
    assert huge.status_code == 413 and huge.json()["status"] == 413


async def test_confidential_report_shows_status_only(system: tuple[Stack, httpx.AsyncClient]) -> None:
    _, client = system
    submitted = await client.post("/api/v1/complaints", json={**COMPLAINT, "kind": "whistleblowing"})
    public = await eventually(lambda: status_of(client, submitted.json()["receipt_no"]), what="assigned")
    assert public["kind"] == "confidential"
    assert public["office"] is None and public["field"] is None and public["district"] is None


async def test_replay_rebuilds_the_public_read_model_beside_the_live_one_and_swaps_it_in(
    system: tuple[Stack, httpx.AsyncClient], database: PostgresTarget
) -> None:
    stack, client = system
    kinds = ["complaint", "inquiry", "proposal", "human_rights", "welfare_report"]
    receipts = []
    for i in range(25):
        body = {**COMPLAINT, "kind": kinds[i % len(kinds)], "field": ["safety", "roads_traffic", None][i % 3]}
        receipts.append((await client.post("/api/v1/complaints", json=body)).json()["receipt_no"])
    for receipt_no in receipts:
        await eventually(lambda r=receipt_no: status_of(client, r), what=f"{receipt_no} assigned")

    def snapshot() -> list[tuple]:  # type: ignore[type-arg]
        with psycopg.connect(database.conninfo()) as conn:
            return conn.execute("SELECT * FROM publisher.public_complaints ORDER BY receipt_no").fetchall()

    live = snapshot()
    assert len(live) == 25

    # The publisher keeps running and serving while its read model is rebuilt from history.
    env = {**stack["publisher"].env}
    import os
    import sys

    rebuild = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "eungdapso_publisher",
        "rebuild",
        env={**os.environ, **env},
        stderr=asyncio.subprocess.PIPE,
    )
    seen_while_rebuilding = []
    while rebuild.returncode is None:
        response = await client.get(f"/api/v1/complaints/{receipts[0]}")
        seen_while_rebuilding.append(response.status_code)
        seen_while_rebuilding.append(len(snapshot()))
        try:
            await asyncio.wait_for(rebuild.wait(), timeout=0.05)
        except TimeoutError:
            pass
    _, err = await rebuild.communicate()
    assert rebuild.returncode == 0, err.decode()
    # Readers never saw an empty or partial model: always the 25 rows, always found.
    assert set(seen_while_rebuilding) <= {200, 25}, seen_while_rebuilding
    assert b"rebuild_finished" in err
    assert snapshot() == live
    with psycopg.connect(database.conninfo()) as conn:
        generations = conn.execute(
            "SELECT version, state FROM publisher.read_models WHERE name='public_status' ORDER BY version"
        ).fetchall()
    assert generations == [(1, "retired"), (2, "live")]

    # The live service follows the swap: what arrives now lands in the new generation, once.
    late = (await client.post("/api/v1/complaints", json=COMPLAINT)).json()["receipt_no"]
    await eventually(lambda: status_of(client, late), what="late complaint assigned")
    after = snapshot()
    assert after[:25] == live and len(after) == 26
