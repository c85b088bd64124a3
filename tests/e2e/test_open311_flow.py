"""Open311 end to end: intake and router as their own processes on the real broker and
PostgreSQL, behind the gateway. A FixMyStreet-shaped form POST; the GET answers show the
router's assignment, from intake's own `open311_requests` read model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from eungdapso_devstack.gateway import Gateway
from eungdapso_devstack.infra import PostgresTarget
from eungdapso_intake.clients import ClientDirectory, Scope
from eungdapso_intake.settings import IntakeSettings
from eungdapso_platform.db import Database
from eungdapso_schemas.envelope import decode
from eungdapso_schemas.events import ComplaintReceivedV2
from eungdapso_schemas.streams import INTAKE_EVENTS
from tests.conftest import settings_for
from tests.e2e.conftest import StackFactory
from tests.support.kafka import read_topic
from tests.support.open311 import as_xml_text, validate, xml_value
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

DESCRIPTION = "만리재로 193 앞 도로에 구멍, 연락은 010-1234-5678"


@pytest.fixture
async def open311(
    make_stack: StackFactory, broker: str, database: PostgresTarget
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    stack = await make_stack(broker, services=("intake", "router"))
    # The key an operator would create with `python -m eungdapso_intake clients create`.
    db = Database.for_service(settings_for(IntakeSettings, database))
    await db.open()
    try:
        _, key = await ClientDirectory(db).create("fixmystreet", [Scope.OPEN311])
    finally:
        await db.close()
    transport = httpx.ASGITransport(app=Gateway(stack.upstreams))
    async with httpx.AsyncClient(transport=transport, base_url="http://eungdapso") as client:
        yield client, key


async def test_a_form_post_shows_the_routers_assignment_in_the_get_answers(
    open311: tuple[httpx.AsyncClient, str], broker: str
) -> None:
    client, key = open311
    posted = await client.post(
        "/open311/v2/requests.xml",
        data={
            "jurisdiction_id": "seoul.go.kr",
            "api_key": key,
            "service_code": "pothole",
            "lat": "37.553600",
            "long": "126.968000",
            "description": DESCRIPTION,
            "first_name": "길동",
            "last_name": "홍",
            "email": "hong@example.kr",
            "attribute[disclosure]": "public",
        },
    )
    assert posted.status_code == 200, posted.text
    receipt_no = xml_value(posted.content)[1][0]["service_request_id"]
    # Intake published what the citizen wrote, exactly, and the service chosen as the subject.
    [record] = await read_topic(broker, INTAKE_EVENTS.name, at_least=1)
    received = decode(record.headers, record.key, record.value).data
    assert isinstance(received, ComplaintReceivedV2) and received.receipt_no == receipt_no
    assert received.text == DESCRIPTION and received.subject == "pothole"

    async def assigned() -> dict[str, Any] | None:
        answer = await client.get(f"/open311/v2/requests/{receipt_no}.json")
        if answer.status_code == 200 and answer.json()[0]["agency_responsible"]:
            return answer.json()[0]  # type: ignore[no-any-return]
        return None

    request = await eventually(assigned, timeout=60, what="the assignment in GET requests")
    validate([request], "requests.json")
    assert request["agency_responsible"] == "용산구 도로과" and request["status"] == "open"
    assert request["service_code"] == "pothole"
    assert request["description"] == "만리재로 193 앞 도로에 구멍, 연락은 [비공개]"
    assert (request["lat"], request["long"]) == (37.554, 126.968)
    as_xml = await client.get(f"/open311/v2/requests/{receipt_no}.xml")
    assert xml_value(as_xml.content) == ("service_requests", as_xml_text([request]))

    now = datetime.now(UTC)
    updates = await client.get(
        "/open311/v2/servicerequestupdates.json",
        params={"start_date": (now - timedelta(hours=1)).isoformat(), "end_date": now.isoformat()},
    )
    [update] = [u for u in updates.json() if u["service_request_id"] == receipt_no]
    assert update["status"] == "open" and "용산구 도로과" in update["description"]
    listed = (await client.get("/open311/v2/requests.json")).json()
    validate(listed, "requests.json")
    assert receipt_no in {r["service_request_id"] for r in listed}
    everything = (await client.get("/open311/v2/requests.xml")).text + updates.text
    for personal in ("홍길동", "길동", "010-1234-5678", "hong@example.kr"):
        assert personal not in everything
