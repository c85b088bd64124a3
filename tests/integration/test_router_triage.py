"""The triage desk's API on the router as it runs on a real PostgreSQL (migrations, staff keys
hashed in `router.staff_keys`, the router's tables): who may use it, what a case shows, and
that a decision is recorded with who made it. (No broker: what the router publishes is
tests/integration/test_router_flow.py's.)"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_platform.consumer import Unit
from eungdapso_platform.db import Database
from eungdapso_platform.service import create_app
from eungdapso_router.bootstrap import MIGRATIONS, build
from eungdapso_router.domainmodel import routing_id
from eungdapso_router.settings import RouterSettings
from eungdapso_router.staff import StaffKeys
from eungdapso_schemas.codes import Kind
from eungdapso_schemas.events import Place
from tests.conftest import settings_for
from tests.support.routing import create_staff_keys, received, routing_models

pytestmark = pytest.mark.integration

VAGUE = "그냥 좀 그래요"


@dataclass
class AtTheDesk:
    client: TestClient
    keys: dict[str, str]

    @property
    def state(self) -> Any:
        return self.client.app.state  # type: ignore[attr-defined]

    def as_(self, staff: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[staff]}"}

    def send_to_triage(self, text: str = VAGUE, **more: Any) -> uuid.UUID:
        """A complaint decided and recorded as the `assignment` process records it (the event
        and the rows it writes, in one transaction)."""
        unit = Unit(self.state.application)
        envelope = received(text, **more)
        self.state.assignment.on_received(unit, envelope)
        self.state.application.save(*unit.aggregates.values(), writes=unit.writes)
        return envelope.data.complaint_id


def settings(database: PostgresTarget) -> RouterSettings:
    # No broker here: the consumer and the relay keep retrying in the background.
    return settings_for(RouterSettings, database, kafka_bootstrap_servers="127.0.0.1:9", staff_key_cache_s=0)


@pytest.fixture
def desk(database: PostgresTarget) -> Iterator[AtTheDesk]:
    keys = asyncio.run(create_staff_keys(settings(database), "eds-0412", "eds-0777", "eds-gone"))
    with TestClient(create_app(build(settings(database), models=routing_models()), title="router")) as client:
        yield AtTheDesk(client, keys)


def revoke(database: PostgresTarget, name: str) -> None:
    async def work() -> None:
        db = Database.for_service(settings(database), migrations=MIGRATIONS)
        await db.open()
        try:
            assert await StaffKeys(db).revoke(name)
        finally:
            await db.close()

    asyncio.run(work())


def requests(client: TestClient, cid: uuid.UUID, headers: dict[str, str]) -> list[Any]:
    return [
        client.get("/api/v1/triage/cases", headers=headers),
        client.get(f"/api/v1/triage/cases/{cid}", headers=headers),
        client.post(f"/api/v1/triage/cases/{cid}/decision", json={"office": "seoul.metro"}, headers=headers),
    ]


def test_no_key_a_wrong_or_revoked_one_or_another_services_key_is_refused(
    desk: AtTheDesk, database: PostgresTarget
) -> None:
    cid = desk.send_to_triage()
    revoke(database, "eds-gone")
    real = desk.keys["eds-0412"]
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")  # right prefix, wrong secret
    for headers in (
        {},
        {"Authorization": "Bearer not-a-key"},
        {"X-Api-Key": forged},
        desk.as_("eds-gone"),
        {"Authorization": "Basic " + real},
    ):
        for answer in requests(desk.client, cid, headers):
            assert answer.status_code == 401, (headers, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert real not in answer.text
    assert desk.state.application.routing(cid).at_triage  # nothing was decided


def test_staff_list_read_and_decide_and_the_decision_records_who(desk: AtTheDesk) -> None:
    cid = desk.send_to_triage(place=Place(address="서울특별시 마포구 망원로 50"))
    listed = desk.client.get("/api/v1/triage/cases", headers=desk.as_("eds-0412")).json()
    assert [c["complaint_id"] for c in listed["cases"]] == [str(cid)] and listed["next"] is None
    case = desk.client.get(f"/api/v1/triage/cases/{cid}", headers={"X-Api-Key": desk.keys["eds-0412"]}).json()
    assert case["text"] == VAGUE and case["office"]["code"] == "seoul.eungdapso_triage"
    assert case["place"]["address"] == "서울특별시 마포구 망원로 50"
    assert case["reading"]["evidence"]["scores"] and case["candidates"]
    assert case["reason"].startswith("confidence ")
    assert {"citizen", "reply_to", "contact"}.isdisjoint(case)

    decided = desk.client.post(
        f"/api/v1/triage/cases/{cid}/decision",
        json={"subject": "noise", "district": "mapo"},
        headers=desk.as_("eds-0412"),
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["office"]["code"] == "district.mapo.environment"
    assert decided.json()["decided_by"] == "eds-0412" and decided.json()["reassignment"] == 1
    application = desk.state.application
    routing = application.routing(cid)
    assert routing.decided_by == "eds-0412" and routing.reading.confidence == 1.0
    [*_, decision] = application.recorder.select_events(routing_id(cid))
    assert application.mapper.to_domain_event(decision).meta["actor"] == "staff:eds-0412"
    assert desk.client.get("/api/v1/triage/cases", headers=desk.as_("eds-0777")).json()["cases"] == []
    # Decided: another staff member finds it gone.
    again = desk.client.post(
        f"/api/v1/triage/cases/{cid}/decision", json={"office": "seoul.metro"}, headers=desk.as_("eds-0777")
    )
    assert again.status_code == 404 and again.headers["content-type"] == "application/problem+json"


def test_a_confidential_reports_text_is_never_kept_for_the_desk(desk: AtTheDesk) -> None:
    """A report reaches the desk only after both investigators refused it; even then its text
    stays with them."""
    cid = desk.send_to_triage("회사가 몰래 폐수를 방류합니다", kind=Kind.WHISTLEBLOWING)
    assert desk.state.application.routing(cid).office.code == "seoul.audit"  # not at the desk
    assert desk.client.get(f"/api/v1/triage/cases/{cid}", headers=desk.as_("eds-0412")).status_code == 404
    [(text,)] = rows(desk, "SELECT text FROM router.routing_inputs WHERE complaint_id=%s", cid)
    assert text is None


def rows(desk: AtTheDesk, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conninfo = desk.state.parts.db.conninfo
    with psycopg.connect(conninfo) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.mark.parametrize(
    "body",
    [
        {"office": "seoul.no_such_office"},
        {"office": "seoul.eungdapso_triage"},
        {"office": "seoul.metro", "subject": "subway"},
        {},
        {"office": "seoul.metro", "note": "x"},
        {"subject": "ufo_sighting"},
        {"office": "Seoul Metro!"},
    ],
)
def test_a_decision_names_one_known_office(desk: AtTheDesk, body: dict[str, Any]) -> None:
    cid = desk.send_to_triage()
    answer = desk.client.post(f"/api/v1/triage/cases/{cid}/decision", json=body, headers=desk.as_("eds-0412"))
    assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"
    assert desk.state.application.routing(cid).at_triage


def test_pages_of_waiting_cases_and_a_bad_cursor(desk: AtTheDesk) -> None:
    waiting = {desk.send_to_triage() for _ in range(3)}
    staff = desk.as_("eds-0412")
    first = desk.client.get("/api/v1/triage/cases", params={"limit": 2}, headers=staff).json()
    second = desk.client.get(
        "/api/v1/triage/cases", params={"limit": 2, "after": first["next"]}, headers=staff
    )
    seen = [c["complaint_id"] for c in first["cases"] + second.json()["cases"]]
    assert sorted(seen) == sorted(str(c) for c in waiting) and second.json()["next"] is None
    bad = desk.client.get("/api/v1/triage/cases", params={"after": "!!"}, headers=staff)
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


def test_two_people_deciding_the_same_complaint_one_decision_stands(desk: AtTheDesk) -> None:
    cid = desk.send_to_triage()

    def decide(staff: str, office: str) -> int:
        url = f"/api/v1/triage/cases/{cid}/decision"
        answer: Any = desk.client.post(url, json={"office": office}, headers=desk.as_(staff))
        return int(answer.status_code)

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(
            pool.map(decide, ("eds-0412", "eds-0777"), ("seoul.metro", "seoul.transport.bus_policy"))
        )
    assert statuses[0] == 200 and statuses[1] in (404, 409)
    routing = desk.state.application.routing(cid)
    assert routing.reassignment == 1 and routing.decided_by in ("eds-0412", "eds-0777")
    assert rows(desk, "SELECT count(*) FROM router.triage_queue") == [(0,)]


def test_staff_keys_from_the_command_line(database: PostgresTarget) -> None:
    env = {**os.environ, **database.env()}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "eungdapso_router", "staff", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    created = cli("create", "--name", "eds-0412")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("eds_") and "eds-0412" in created.stdout
    listed = cli("list")
    assert listed.returncode == 0 and "eds-0412" in listed.stdout and key not in listed.stdout
    assert cli("create", "--name", "eds-0412").returncode == 1  # a name is one staff member
    assert cli("revoke", "--name", "eds-0412").returncode == 0
    assert cli("revoke", "--name", "eds-0412").returncode == 1
