"""Casework on a real PostgreSQL and broker: every office action from HTTP to its event on
`eungdapso.casework.events`, to the office's own feed topic and to the public status; the
scoping of office keys (another office's key sees 404 and cannot act; revoked or no key 401);
assignments before receipts; reassignment after a rejection; the `offices` command."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from eungdapso_casework.bootstrap import bootstrap
from eungdapso_casework.offices import OfficeKeys
from eungdapso_casework.settings import CaseworkSettings
from eungdapso_devstack.infra import PostgresTarget
from eungdapso_platform.consumer import Projection
from eungdapso_platform.credentials import Unauthenticated
from eungdapso_platform.db import Database
from eungdapso_publisher.projection import PublicStatusQueries
from eungdapso_schemas.codes import District, Field, Kind, OfficeLevel, ReplyMedium
from eungdapso_schemas.envelope import Envelope, decode, encode
from eungdapso_schemas.events import (
    DIRECTORY_KEY,
    ComplaintAssignedV1,
    ComplaintAssignedV2,
    ComplaintReceivedV2,
    DirectoryPublishedV1,
    Office,
    ReplyAddress,
)
from eungdapso_schemas.streams import CASEWORK_EVENTS, INTAKE_EVENTS, OFFICE_FEEDS, ROUTER_EVENTS
from tests.conftest import settings_for
from tests.support.kafka import produce, read_topic
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

PARKING = Office(code="district.gangnam.parking", name="강남구 주차관리과", level=OfficeLevel.DISTRICT)
ROADS = Office(code="district.gangnam.roads", name="강남구 도로관리과", level=OfficeLevel.DISTRICT)
T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
NOTICE = "이 처분에 이의가 있으면 통지를 받은 날부터 90일 이내에 행정심판을 청구할 수 있습니다."


def received(cid: uuid.UUID, receipt_no: str, **values: Any) -> Envelope[ComplaintReceivedV2]:
    payload = ComplaintReceivedV2.example().model_copy(
        update={
            "complaint_id": cid,
            "receipt_no": receipt_no,
            "text": "강남대로 123 앞 불법 주차 차량 때문에 버스가 못 지나가요",
            "reply_to": ReplyAddress(medium=ReplyMedium.SMS, address="010-1234-5678", consent=True),
            **values,
        }
    )
    return Envelope(id=str(uuid.uuid4()), source="/test/intake", time=T0, subject=str(cid), data=payload)


def assigned(
    cid: uuid.UUID, receipt_no: str, office: Office, minutes: int = 1
) -> Envelope[ComplaintAssignedV1]:
    payload = ComplaintAssignedV2.example().model_copy(
        update={
            "complaint_id": cid,
            "receipt_no": receipt_no,
            "office": office,
            "assigned_at": T0 + timedelta(minutes=minutes),
            "district": District.GANGNAM,
            "subject": "illegal_parking",
            "field": Field.ROADS_TRAFFIC,
        }
    )
    return Envelope(id=str(uuid.uuid4()), source="/test/router", time=T0, subject=str(cid), data=payload)


async def publish(broker: str, topic: str, *envelopes: Envelope[Any]) -> None:
    records = [encode(e) for e in envelopes]
    await produce(broker, topic, [(r.key, r.value, r.headers) for r in records])


class Casework:
    """Casework as it runs, with a key per office and an HTTP client."""

    def __init__(self, app: FastAPI, http: httpx.AsyncClient, keys: dict[str, str]) -> None:
        self.app = app
        self.http = http
        self.keys = keys

    def as_(self, office: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[office]}"}

    async def get(self, path: str, office: str) -> httpx.Response:
        return await self.http.get(f"/api/v1/inbox{path}", headers=self.as_(office))

    async def post(self, path: str, office: str, body: dict[str, Any]) -> httpx.Response:
        return await self.http.post(f"/api/v1/inbox{path}", headers=self.as_(office), json=body)

    async def case_of(self, office: str, receipt_no: str) -> dict[str, Any] | None:
        listed = await self.get("/cases", office)
        assert listed.status_code == 200, listed.text
        found = [c for c in listed.json()["cases"] if c["receipt_no"] == receipt_no]
        return found[0] if found else None


@pytest.fixture
async def casework(database: PostgresTarget, broker: str) -> AsyncIterator[Casework]:
    async with running_casework(database, broker) as running:
        yield running


@asynccontextmanager
async def running_casework(database: PostgresTarget, broker: str) -> AsyncIterator[Casework]:
    settings = settings_for(
        CaseworkSettings,
        database,
        kafka_bootstrap_servers=broker,
        relay_poll_interval_s=0.1,
        office_key_cache_s=0,
    )
    app = bootstrap(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://casework") as http:

            async def ready() -> bool:
                return (await http.get("/readyz")).status_code == 200

            await eventually(ready, what="casework ready", timeout=60)
            keys: OfficeKeys = app.state.office_keys
            made = {
                office.code: (await keys.create(name, [office.code]))[1]
                for office, name in ((PARKING, "gangnam-parking"), (ROADS, "gangnam-roads"))
            }
            yield Casework(app, http, made)


def assert_problem(response: httpx.Response, status: int, title: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    if title is not None:
        assert problem["title"] == title, problem
    return problem


async def events_on(broker: str, topic: str, at_least: int) -> list[Envelope[Any]]:
    return [decode(r.headers, r.key, r.value) for r in await read_topic(broker, topic, at_least=at_least)]


async def test_every_action_from_http_to_its_event_the_office_feed_and_the_public_status(
    casework: Casework, broker: str, running_publisher: tuple[Projection, PublicStatusQueries]
) -> None:
    _, public = running_publisher
    cid, receipt_no = uuid.uuid4(), "2026-0000101"
    # The assignment comes before the receipt (two owners' streams are never ordered together).
    await publish(broker, ROUTER_EVENTS.name, assigned(cid, receipt_no, PARKING))
    case = await eventually(lambda: casework.case_of(PARKING.code, receipt_no), what="the case in the inbox")
    assert case["status"] == "assigned" and case["deadline"] is None and case["received_at"] is None
    assert case["classification"]["subject"] == "illegal_parking"
    path = f"/cases/{case['case_id']}"
    assert (await casework.get(path, PARKING.code)).json()["complaint"] is None

    await publish(broker, INTAKE_EVENTS.name, received(cid, receipt_no))

    async def with_content() -> dict[str, Any] | None:
        shown: dict[str, Any] = (await casework.get(path, PARKING.code)).json()
        return shown if shown["complaint"] is not None else None

    shown = await eventually(with_content, what="the receipt in the case")
    assert shown["complaint"]["text"].startswith("강남대로 123")
    assert shown["complaint"]["attachments"][0]["sha256"] == "ab" * 32
    assert (
        shown["classification"]["district"] == "gangnam" and shown["contact"] is None
    )  # not before accepting
    assert "홍길동" not in str(shown)
    assert (await casework.case_of(PARKING.code, receipt_no))["received_at"] is not None  # type: ignore[index]

    staff = {"staff": "gangnam-0412"}
    # Out of order: each refused with a clear 409, nothing recorded.
    assert_problem(
        await casework.post(f"{path}/answer", PARKING.code, {**staff, "text": "x", "resolution": "resolved"}),
        409,
        "Case not accepted",
    )
    assert_problem(await casework.post(f"{path}/close", PARKING.code, staff), 409, "Case not accepted")
    assert_problem(await casework.post(f"{path}/extension", PARKING.code, {**staff, "reason": "x"}), 409)

    accepted = await casework.post(f"{path}/accept", PARKING.code, staff)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["contact"] == {"medium": "sms", "address": "010-1234-5678"}
    assert_problem(await casework.post(f"{path}/accept", PARKING.code, staff), 409, "Case already accepted")
    assert (
        await casework.post(f"{path}/extension", PARKING.code, {**staff, "reason": "현장 확인"})
    ).status_code == 200
    assert_problem(
        await casework.post(f"{path}/extension", PARKING.code, {**staff, "reason": "또"}),
        409,
        "Extension already requested",
    )
    refusal = {**staff, "text": "사유지라 단속할 수 없습니다", "resolution": "not_possible"}
    problem = assert_problem(
        await casework.post(f"{path}/answer", PARKING.code, refusal), 422, "Objection notice required"
    )
    assert problem["type"].endswith("/objection-notice-required")
    answered = await casework.post(f"{path}/answer", PARKING.code, {**refusal, "objection": NOTICE})
    assert answered.status_code == 200 and answered.json()["answer"]["objection"] == NOTICE
    assert_problem(
        await casework.post(f"{path}/answer", PARKING.code, {**refusal, "objection": NOTICE}),
        409,
        "Case already answered",
    )
    closed = await casework.post(f"{path}/close", PARKING.code, staff)
    assert (
        closed.status_code == 200 and closed.json()["status"] == "closed" and closed.json()["contact"] is None
    )
    assert_problem(await casework.post(f"{path}/accept", PARKING.code, staff), 409, "Case closed")
    listed = (
        await casework.http.get("/api/v1/inbox/cases?status=closed", headers=casework.as_(PARKING.code))
    ).json()
    assert [c["receipt_no"] for c in listed["cases"]] == [receipt_no] and listed["total"] == 1

    # Each action is an event on casework's stream, with the office, the staff member and time.
    events = await events_on(broker, CASEWORK_EVENTS.name, at_least=5)
    types = [e.type.rsplit(".", 2)[-2] for e in events]
    assert types == ["opened", "accepted", "extension_requested", "answered", "closed"]
    for e in events:
        assert (
            e.subject == str(cid)
            and e.data.office == PARKING.code
            and e.data.case_id == uuid.UUID(case["case_id"])
        )
    assert [getattr(e.data, "staff", None) for e in events[1:]] == ["gangnam-0412"] * 4
    assert events[3].data.resolution == "not_possible" and events[3].data.objection == NOTICE
    assert len({e.id for e in events}) == len(events)

    # The office's own feed carries the same events (same ce_id).
    feed = await events_on(broker, OFFICE_FEEDS.topic(PARKING.code), at_least=5)
    assert [e.id for e in feed] == [e.id for e in events]

    # The public status follows: closed, with the office, field and district as classified,
    # and nothing personal.
    async def closed_publicly() -> dict[str, Any] | None:
        row = await public.by_receipt_no(receipt_no)
        return row if row is not None and row["status"] == "closed" else None

    row = await eventually(closed_publicly, what="the public status closed")
    assert row["office_code"] == PARKING.code and row["office_name"] == PARKING.name
    assert row["field"] == "roads_traffic" and row["district"] == "gangnam"
    assert (
        row["accepted_at"] and row["answered_at"] and row["closed_at"] and row["resolution"] == "not_possible"
    )
    assert "010-1234-5678" not in str(row)
    # The citizen chose disclosure (the example receipt's): the answer is public, redacted.
    assert row["answer_redacted"] == "사유지라 단속할 수 없습니다" and row["disclosure"] == "public"


async def test_another_offices_key_sees_404_and_cannot_act_revoked_or_no_key_401(
    casework: Casework, broker: str
) -> None:
    cid, receipt_no = uuid.uuid4(), "2026-0000102"
    await publish(broker, INTAKE_EVENTS.name, received(cid, receipt_no))
    await publish(broker, ROUTER_EVENTS.name, assigned(cid, receipt_no, PARKING))
    case = await eventually(lambda: casework.case_of(PARKING.code, receipt_no), what="the case in the inbox")
    path = f"/cases/{case['case_id']}"
    staff = {"staff": "roads-7"}

    # The other office: not in its list, 404 on read and on every action, exactly as for a
    # case that does not exist.
    assert await casework.case_of(ROADS.code, receipt_no) is None
    nowhere = str(uuid.uuid4())
    missing = assert_problem(await casework.get(f"/cases/{nowhere}", ROADS.code), 404, "Case not found")
    seen = assert_problem(await casework.get(path, ROADS.code), 404, "Case not found")
    assert seen["type"] == missing["type"]
    assert seen["detail"].replace(case["case_id"], "…") == missing["detail"].replace(nowhere, "…")
    for action, body in (
        ("accept", staff),
        ("reject", {**staff, "reason": "우리 소관 아님"}),
        ("extension", {**staff, "reason": "x"}),
        ("transfer", {**staff, "reason": "x", "to_office": "ext.seoul_police"}),
        ("answer", {**staff, "text": "x", "resolution": "resolved"}),
        ("close", staff),
    ):
        assert_problem(await casework.post(f"{path}/{action}", ROADS.code, body), 404, "Case not found")
    assert (await casework.get(path, PARKING.code)).json()["status"] == "assigned"  # untouched

    # No key, a malformed or unknown one, a revoked one: 401 alike.
    keys: OfficeKeys = casework.app.state.office_keys
    _, old = await keys.create("gangnam-parking-old", [PARKING.code])
    assert (await casework.http.get(f"/api/v1/inbox{path}", headers={"X-Api-Key": old})).status_code == 200
    assert await keys.revoke("gangnam-parking-old")
    refusals = set()
    for headers in (
        {},
        {"X-Api-Key": "nonsense"},
        {"Authorization": "Bearer eds_000000000000_" + "A" * 43},
        {"X-Api-Key": old},
    ):
        for response in (
            await casework.http.get(f"/api/v1/inbox{path}", headers=headers),
            await casework.http.get("/api/v1/inbox/cases", headers=headers),
            await casework.http.post(f"/api/v1/inbox{path}/accept", headers=headers, json=staff),
        ):
            problem = assert_problem(response, 401, "Unauthenticated")
            assert response.headers["www-authenticate"].startswith("Bearer")
            refusals.add(problem["detail"])
    assert len(refusals) == 1

    # Bad input is a 422 naming the field, never a 5xx.
    bad = await casework.post(f"{path}/reject", PARKING.code, {"staff": "x", "reason": "   "})
    assert any(e["field"] == "reason" for e in assert_problem(bad, 422)["errors"])
    assert assert_problem(
        await casework.http.get("/api/v1/inbox/cases/not-a-uuid", headers=casework.as_(PARKING.code)), 422
    )
    assert_problem(
        await casework.http.get("/api/v1/inbox/cases?status=lost", headers=casework.as_(PARKING.code)), 422
    )


async def test_a_rejection_then_reassignment_moves_the_case_and_a_transfer_names_the_agency(
    casework: Casework, broker: str, running_publisher: tuple[Projection, PublicStatusQueries]
) -> None:
    _, public = running_publisher
    cid, receipt_no = uuid.uuid4(), "2026-0000103"
    await publish(broker, INTAKE_EVENTS.name, received(cid, receipt_no))
    await publish(broker, ROUTER_EVENTS.name, assigned(cid, receipt_no, PARKING))
    first = await eventually(lambda: casework.case_of(PARKING.code, receipt_no), what="the first case")
    rejected = await casework.post(
        f"/cases/{first['case_id']}/reject",
        PARKING.code,
        {"staff": "p-1", "reason": "도로 파손은 도로관리과 소관"},
    )
    assert rejected.status_code == 200 and rejected.json()["rejection"]["reason"].startswith("도로 파손")
    [_, rejection] = await events_on(broker, CASEWORK_EVENTS.name, at_least=2)
    assert rejection.data.rejections == 1 and rejection.data.reason == "도로 파손은 도로관리과 소관"

    # The router reassigns (another engineer wires it to CaseRejected): the old office loses
    # the case, the new one gets case 2, knowing one office refused it before.
    await publish(broker, ROUTER_EVENTS.name, assigned(cid, receipt_no, ROADS, minutes=30))
    second = await eventually(lambda: casework.case_of(ROADS.code, receipt_no), what="the reassigned case")
    assert second["number"] == 2 and second["case_id"] != first["case_id"]
    assert await casework.case_of(PARKING.code, receipt_no) is None
    assert_problem(await casework.get(f"/cases/{first['case_id']}", PARKING.code), 404)
    path = f"/cases/{second['case_id']}"
    assert (await casework.get(path, ROADS.code)).json()["rejections_before"] == 1

    staff = {"staff": "r-9"}
    assert (await casework.post(f"{path}/accept", ROADS.code, staff)).status_code == 200
    # Transfers are checked against the directory the router publishes (its example names the police).
    directory = DirectoryPublishedV1.example()
    await publish(
        broker,
        ROUTER_EVENTS.name,
        Envelope(id=str(uuid.uuid4()), source="/test/router", time=T0, subject=DIRECTORY_KEY, data=directory),
    )
    await eventually(casework.app.state.directory.in_force, what="the directory in casework")
    unknown = {**staff, "to_office": "district.nowhere.office", "reason": "x"}
    assert_problem(await casework.post(f"{path}/transfer", ROADS.code, unknown), 422, "Unknown office")
    to_police = {**staff, "to_office": "ext.seoul_police", "reason": "교통사고 신고는 경찰 소관"}
    transferred = await casework.post(f"{path}/transfer", ROADS.code, to_police)
    assert (
        transferred.status_code == 200 and transferred.json()["transfer"]["to_office"] == "ext.seoul_police"
    )
    assert_problem(
        await casework.post(f"{path}/answer", ROADS.code, {**staff, "text": "x", "resolution": "resolved"}),
        409,
        "Case transferred",
    )

    events = await events_on(broker, CASEWORK_EVENTS.name, at_least=6)
    kinds = [(e.type.rsplit(".", 2)[-2], e.data.office) for e in events]
    assert kinds == [
        ("opened", PARKING.code),
        ("rejected", PARKING.code),
        ("withdrawn", PARKING.code),
        ("opened", ROADS.code),
        ("accepted", ROADS.code),
        ("transferred", ROADS.code),
    ]
    assert events[2].data.to_office == ROADS.code and events[3].data.rejections_before == 1

    # Each office's feed holds its own cases only.
    parking_feed = await events_on(broker, OFFICE_FEEDS.topic(PARKING.code), at_least=3)
    roads_feed = await events_on(broker, OFFICE_FEEDS.topic(ROADS.code), at_least=3)
    assert {e.data.office for e in parking_feed} == {PARKING.code} and len(parking_feed) == 3
    assert {e.data.office for e in roads_feed} == {ROADS.code} and len(roads_feed) == 3

    async def transferred_publicly() -> dict[str, Any] | None:
        row = await public.by_receipt_no(receipt_no)
        return row if row is not None and row["status"] == "transferred" else None

    row = await eventually(transferred_publicly, what="the public status transferred")
    assert row["transferred_to"] == "ext.seoul_police" and row["office_code"] == ROADS.code


async def test_a_confidential_report_shows_only_its_existence_and_status(
    casework: Casework, broker: str, running_publisher: tuple[Projection, PublicStatusQueries]
) -> None:
    _, public = running_publisher
    cid, receipt_no = uuid.uuid4(), "2026-0000104"
    await publish(broker, ROUTER_EVENTS.name, assigned(cid, receipt_no, PARKING))
    case = await eventually(lambda: casework.case_of(PARKING.code, receipt_no), what="the case")
    assert (
        await casework.post(f"/cases/{case['case_id']}/accept", PARKING.code, {"staff": "a"})
    ).status_code == 200
    # The receipt says it is a corruption report; it comes last.
    await publish(
        broker, INTAKE_EVENTS.name, received(cid, receipt_no, kind=Kind.CORRUPTION_REPORT, confidential=True)
    )

    async def hidden() -> dict[str, Any] | None:
        row = await public.by_receipt_no(receipt_no)
        return (
            row if row is not None and row["status"] == "accepted" and row["kind"] == "confidential" else None
        )

    row = await eventually(hidden, what="the confidential report, accepted")
    assert row["office_code"] is row["office_name"] is row["field"] is row["district"] is None
    assert row["accepted_at"] is not None  # its status shows, nothing else

    # The office knows what it handles (once casework, not only the publisher, read the receipt).
    async def known_confidential() -> bool:
        shown = (await casework.get(f"/cases/{case['case_id']}", PARKING.code)).json()
        return bool(shown["classification"]["confidential"])

    assert await eventually(known_confidential, what="the case known to be confidential")


def run_cli(database: PostgresTarget, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eungdapso_casework", "offices", *args],
        env={**os.environ, **database.env()},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_offices_command_prints_the_key_alone_on_its_last_line_and_revokes(
    database: PostgresTarget,
) -> None:
    created = await asyncio.to_thread(
        run_cli, database, "create", "--office", "district.gangnam.parking", "--name", "gangnam-parking"
    )
    assert created.returncode == 0, created.stderr
    lines = created.stdout.splitlines()
    key = lines[-1]
    assert len(lines) >= 2 and "district.gangnam.parking" in lines[0] and key not in lines[0]
    assert key == key.strip() and key.startswith("eds_") and key not in created.stderr

    db = Database.for_service(settings_for(CaseworkSettings, database))
    await db.open()
    try:
        keys = OfficeKeys(db)
        assert (await keys.authenticate(key, None)).scopes == {"district.gangnam.parking"}
        with psycopg.connect(database.conninfo()) as conn:
            known = conn.execute("SELECT code FROM casework.offices").fetchall()
            stored = conn.execute("SELECT key_hash FROM casework.office_keys").fetchall()
        assert known == [("district.gangnam.parking",)] and key.encode() not in stored[0][0]

        listed = await asyncio.to_thread(run_cli, database, "list")
        assert "gangnam-parking" in listed.stdout and "district.gangnam.parking" in listed.stdout
        assert key not in listed.stdout
        taken = await asyncio.to_thread(
            run_cli, database, "create", "--office", "district.x", "--name", "gangnam-parking"
        )
        assert taken.returncode == 1 and "already exists" in taken.stderr
        bad = await asyncio.to_thread(
            run_cli, database, "create", "--office", "Gangnam Parking", "--name", "n"
        )
        assert bad.returncode == 2 and "office code" in bad.stderr

        revoked = await asyncio.to_thread(run_cli, database, "revoke", "--name", "gangnam-parking")
        assert revoked.returncode == 0, revoked.stderr
        with pytest.raises(Unauthenticated):
            await keys.authenticate(key, None)
        again = await asyncio.to_thread(run_cli, database, "revoke", "--name", "gangnam-parking")
        assert again.returncode == 1 and "Traceback" not in again.stderr
    finally:
        await db.close()
