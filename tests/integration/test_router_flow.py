"""The router as it runs (its app with the lifespan: migrations, the directory, the
`assignment` process subscribed, the outbox relay) on a real PostgreSQL and broker: received
complaints come in on intake's stream, what the router decided goes out on its own, and its
tables are written with its decisions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_platform.consumer import IncomingRecord
from eungdapso_platform.service import create_app
from eungdapso_router.bootstrap import build
from eungdapso_router.directory import TRIAGE
from eungdapso_router.domainmodel import RoutingState, routing_id
from eungdapso_router.settings import RouterSettings
from eungdapso_schemas.codes import District, Kind
from eungdapso_schemas.envelope import Envelope, decode, encode
from eungdapso_schemas.events import (
    ComplaintAnsweredInstantlyV1,
    ComplaintAssignedV2,
    ComplaintLinkedV1,
    DirectoryPublishedV1,
    Payload,
    Place,
)
from eungdapso_schemas.streams import INTAKE_EVENTS, ROUTER_EVENTS, stream_for
from tests.conftest import settings_for
from tests.support.kafka import produce, read_topic
from tests.support.routing import (
    RECEIVED_AT,
    answered,
    create_staff_keys,
    received,
    rejected,
    routing_models,
    transferred,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

POTHOLE = "망원동 골목 도로에 포트홀이 생겨서 자전거가 넘어질 뻔했어요"
MANGWON = Place(address="서울특별시 마포구 망원로 50", lat=37.5556, lon=126.9016)


@pytest.fixture
def router(database: PostgresTarget, broker: str) -> Iterator[TestClient]:
    settings = settings_for(
        RouterSettings,
        database,
        kafka_bootstrap_servers=broker,
        relay_poll_interval_s=0.05,
        staff_key_cache_s=0,
    )
    with TestClient(create_app(build(settings, models=routing_models()), title="router")) as client:
        client.keys = asyncio.run(create_staff_keys(settings, "eds-0412"))  # type: ignore[attr-defined]
        yield client


async def send(broker: str, *envelopes: Envelope[Any]) -> None:
    """As their owners' relays publish them: each on its owner's stream."""
    for e in envelopes:
        r = encode(e)
        await produce(broker, stream_for(type(e.data)).name, [(r.key, r.value, list(r.headers))])


async def published(broker: str, at_least: int) -> list[Payload]:
    """What the router published so far about complaints, in order per complaint (besides the
    directory version it publishes when it starts)."""
    records = await read_topic(broker, ROUTER_EVENTS.name, at_least=at_least + 1, timeout=60)
    decoded = [
        decode(r.headers, r.key, r.value).data for r in sorted(records, key=lambda r: (r.partition, r.offset))
    ]
    assert sum(isinstance(p, DirectoryPublishedV1) for p in decoded) == 1
    return [p for p in decoded if not isinstance(p, DirectoryPublishedV1)]


def rows(database: PostgresTarget, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(database.conninfo()) as conn:
        return conn.execute(sql, params).fetchall()


async def test_a_received_complaint_is_assigned_v2_with_its_evidence_on_the_routers_stream(
    router: TestClient, broker: str, database: PostgresTarget
) -> None:
    complaint = received(POTHOLE, place=MANGWON, correlation_id="req-1")
    await send(broker, complaint)

    [assigned] = await published(broker, 1)
    assert isinstance(assigned, ComplaintAssignedV2)
    assert assigned.complaint_id == complaint.data.complaint_id
    assert assigned.office.code == "district.mapo.roads" and assigned.office.level.value == "district"
    assert (assigned.subject, assigned.district, assigned.message_class.value) == ("pothole", "mapo", "field")
    assert assigned.evidence.scores[0].subject == "pothole" and assigned.evidence.matched_terms
    assert (
        assigned.evidence.place.method == "coordinates" and assigned.rule == "subject:pothole district:mapo"
    )
    assert assigned.decided_by == "router" and assigned.reassignment == 0
    # Beside the decision, in the same transaction: what the triage desk may read, the index.
    [(text, address)] = rows(database, "SELECT text, address FROM router.routing_inputs")
    assert text == POTHOLE and address == MANGWON.address
    [(subject, is_open)] = rows(database, "SELECT subject, open FROM router.duplicate_index")
    assert (subject, is_open) == ("pothole", True)


async def test_an_everyday_question_is_assigned_for_the_record_then_answered_at_once(
    router: TestClient, broker: str
) -> None:
    await send(broker, received("대형폐기물은 어떻게 버리나요?", kind=Kind.INQUIRY))
    assigned, answered = await published(broker, 2)
    assert isinstance(assigned, ComplaintAssignedV2) and assigned.subject == "bulky_waste"
    assert (
        isinstance(answered, ComplaintAnsweredInstantlyV1) and answered.complaint_id == assigned.complaint_id
    )
    assert answered.answer_id.startswith("faq-") and answered.answer


async def test_the_same_pothole_reported_again_nearby_is_linked_to_the_open_one(
    router: TestClient, broker: str, database: PostgresTarget
) -> None:
    first = received(POTHOLE, place=MANGWON, receipt_no="2026-0000100")
    await send(broker, first)
    await published(broker, 1)
    again = received(
        "망원로 골목에 도로가 움푹 파였어요",
        place=Place(lat=37.5559, lon=126.9019),
        receipt_no="2026-0000101",
        received_at=RECEIVED_AT + timedelta(days=1),
    )
    await send(broker, again)

    events = await published(broker, 3)
    [link] = [e for e in events if isinstance(e, ComplaintLinkedV1)]
    assert link.complaint_id == again.data.complaint_id and link.duplicate_of == first.data.complaint_id
    assert link.duplicate_of_receipt_no == "2026-0000100" and link.distance_m is not None
    offices = [e.office.code for e in events if isinstance(e, ComplaintAssignedV2)]
    assert offices == ["district.mapo.roads", "district.mapo.roads"]
    # Only the first is an original others may duplicate.
    assert rows(database, "SELECT receipt_no FROM router.duplicate_index") == [("2026-0000100",)]


async def test_rejected_then_rejected_again_goes_to_triage_where_a_person_decides(
    router: TestClient, broker: str, database: PostgresTarget
) -> None:
    complaint = received(POTHOLE, place=MANGWON)
    cid = complaint.data.complaint_id
    await send(broker, complaint)
    [first] = await published(broker, 1)
    assert isinstance(first, ComplaintAssignedV2)

    await send(broker, rejected(cid, first.office.code))
    second = (await published(broker, 2))[-1]
    assert isinstance(second, ComplaintAssignedV2) and second.reassignment == 1
    assert second.office.code not in (first.office.code, TRIAGE)
    await send(broker, rejected(cid, second.office.code, rejections=2))
    third = (await published(broker, 3))[-1]
    assert isinstance(third, ComplaintAssignedV2) and third.office.code == TRIAGE and third.reassignment == 2
    assert rows(database, "SELECT complaint_id FROM router.triage_queue") == [(cid,)]

    staff = {"Authorization": f"Bearer {router.keys['eds-0412']}"}  # type: ignore[attr-defined]
    [waiting] = router.get("/api/v1/triage/cases", headers=staff).json()["cases"]
    assert waiting["complaint_id"] == str(cid) and waiting["reason"] == "rejected 2 times: triage desk"
    case = router.get(f"/api/v1/triage/cases/{cid}", headers=staff).json()
    assert case["text"] == POTHOLE and case["place"]["address"] == MANGWON.address
    decided = router.post(
        f"/api/v1/triage/cases/{cid}/decision", json={"office": "seoul.road_offices"}, headers=staff
    )
    assert decided.status_code == 200, decided.text

    fourth = (await published(broker, 4))[-1]
    assert isinstance(fourth, ComplaintAssignedV2)
    assert fourth.office.code == "seoul.road_offices" and fourth.decided_by == "eds-0412"
    assert fourth.reassignment == 3 and fourth.confidence == 1.0
    assert rows(database, "SELECT count(*) FROM router.triage_queue") == [(0,)]
    application = router.app.state.application  # type: ignore[attr-defined]
    recorded = application.recorder.select_events(routing_id(cid))
    decision = application.mapper.to_domain_event(recorded[-1])
    assert decision.decided_by == "eds-0412" and decision.meta["actor"] == "staff:eds-0412"


async def test_a_transfer_goes_to_the_agency_and_an_answer_closes_the_complaint_for_duplicates(
    router: TestClient, broker: str, database: PostgresTarget
) -> None:
    moved, answered_one = (
        received(POTHOLE, place=MANGWON),
        received("강남역 11번 출구 앞 불법주차 단속해주세요"),
    )
    await send(broker, moved, answered_one)
    firsts = await published(broker, 2)
    office = {e.complaint_id: e.office.code for e in firsts if isinstance(e, ComplaintAssignedV2)}
    await send(
        broker,
        transferred(moved.data.complaint_id, office[moved.data.complaint_id], "ext.seoul_police"),
        answered(answered_one.data.complaint_id, office[answered_one.data.complaint_id]),
    )
    [agency] = [
        e for e in await published(broker, 3) if isinstance(e, ComplaintAssignedV2) and e.reassignment
    ]
    assert agency.complaint_id == moved.data.complaint_id and agency.office.code == "ext.seoul_police"
    assert agency.office.level.value == "external" and agency.decided_by == "mapo-0412"

    async def both_closed() -> bool:
        open_ones = await asyncio.to_thread(
            rows, database, "SELECT count(*) FROM router.duplicate_index WHERE open"
        )
        return open_ones == [(0,)]

    await eventually(both_closed, what="the transferred and the answered complaints closed for duplicates")


async def test_two_reports_of_the_same_pothole_in_one_batch_are_linked(database: PostgresTarget) -> None:
    """A burst brings duplicates in the same batch: the second finds the first, which the
    batch indexes in its own transaction (not yet committed when the second is decided)."""
    parts = build(settings_for(RouterSettings, database), models=routing_models())
    await parts.db.open()
    try:
        [process] = parts.components
        first = received(POTHOLE, place=MANGWON, receipt_no="2026-0000200")
        again = received(POTHOLE, place=Place(lat=37.5557, lon=126.9017), receipt_no="2026-0000201")
        records = [encode(first), encode(again)]
        await process.handle_batch(
            [
                IncomingRecord(INTAKE_EVENTS.name, 0, n, r.key, r.value, r.headers)
                for n, r in enumerate(records)
            ]
        )
        application = parts.state["application"]
        linked = application.routing(again.data.complaint_id)
        assert linked is not None and linked.state is RoutingState.LINKED
        assert linked.duplicate_of == first.data.complaint_id
        assert rows(database, "SELECT receipt_no FROM router.duplicate_index") == [("2026-0000200",)]
    finally:
        await parts.db.close()
        parts.state["application"].close()


PARKING = "역삼동 이면도로에 불법주차 차량이 매일 세워져 있어서 차가 못 지나가요"
GANGNAM = Place(address="서울특별시 강남구 역삼동", district=District.GANGNAM)


async def test_a_batch_reads_its_duplicate_candidates_in_one_query_and_links_as_one_by_one(
    database: PostgresTarget,
) -> None:
    """The router reads a batch's complaints before their handlers run, so that the open
    complaints they may duplicate are read in one query for the whole batch: the links are
    those of deciding each alone (by distance, by text in the same district, within the
    batch), and a complaint like none of them is left alone."""
    parts = build(settings_for(RouterSettings, database), models=routing_models())
    await parts.db.open()
    tables = parts.state["tables"]
    lookups: list[int] = []
    looked_up = tables._recorded_like

    def counted(news: Any, rules: Any) -> Any:
        lookups.append(len(news))
        return looked_up(news, rules)

    tables._recorded_like = counted

    async def batch(*envelopes: Envelope[Any]) -> None:
        records = [encode(e) for e in envelopes]
        await process.handle_batch(
            [
                IncomingRecord(INTAKE_EVENTS.name, 0, n, r.key, r.value, r.headers)
                for n, r in enumerate(records)
            ]
        )

    try:
        [process] = parts.components
        pothole = received(POTHOLE, place=MANGWON, receipt_no="2026-0000300")
        parking = received(PARKING, place=GANGNAM, receipt_no="2026-0000301")
        await batch(pothole, parking)
        assert lookups == [2]

        near = received(POTHOLE, place=Place(lat=37.5557, lon=126.9017), receipt_no="2026-0000302")
        again = received(PARKING + " 단속 부탁드려요", place=GANGNAM, receipt_no="2026-0000303")
        elsewhere = received(PARKING.replace("역삼동", "망원동"), place=MANGWON, receipt_no="2026-0000304")
        twice = received(PARKING.replace("역삼동", "망원동") + "!", place=MANGWON, receipt_no="2026-0000305")
        await batch(near, again, elsewhere, twice)
        assert lookups == [2, 4]  # one query for the four

        application = parts.state["application"]
        links = {}
        for envelope in (near, again, elsewhere, twice):
            routing = application.routing(envelope.data.complaint_id)
            assert routing is not None
            linked = routing.state is RoutingState.LINKED
            links[envelope.data.receipt_no] = routing.duplicate_of if linked else None
        assert links == {
            "2026-0000302": pothole.data.complaint_id,
            "2026-0000303": parking.data.complaint_id,
            "2026-0000304": None,
            "2026-0000305": elsewhere.data.complaint_id,
        }
        indexed = rows(database, "SELECT receipt_no FROM router.duplicate_index ORDER BY receipt_no")
        assert indexed == [("2026-0000300",), ("2026-0000301",), ("2026-0000304",)]
    finally:
        await parts.db.close()
