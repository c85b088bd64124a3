"""The router's `assignment` process, in milliseconds: the real bootstrap with its test
seams (in-memory event store, ledger and tables, faststream's TestKafkaBroker, a fixed
clock) and the real models, fed CloudEvents records the way the outbox relay publishes them.
No PostgreSQL, no broker (tests/integration/test_router_flow.py runs the same on both)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent
from faststream.kafka import KafkaBroker, TestKafkaBroker

from eungdapso_platform.clock import FixedClock
from eungdapso_platform.consumer import IncomingRecord, Process
from eungdapso_platform.service import Overrides
from eungdapso_router.application import OUTBOX, RouterApplication
from eungdapso_router.bootstrap import build
from eungdapso_router.consumers import Assignment
from eungdapso_router.decision import Models, RoutingModels
from eungdapso_router.directory import TRIAGE
from eungdapso_router.domainmodel import Routing, RoutingState
from eungdapso_router.settings import RouterSettings
from eungdapso_router.tables import MemoryTables
from eungdapso_schemas.codes import Kind, OfficeLevel
from eungdapso_schemas.envelope import Envelope, encode
from eungdapso_schemas.events import (
    ComplaintAnsweredInstantlyV1,
    ComplaintAssignedV1,
    ComplaintAssignedV2,
    ComplaintLinkedV1,
    ComplaintReceivedV1,
    Office,
    Place,
)
from eungdapso_schemas.streams import INTAKE_EVENTS, stream_for
from tests.support.routing import RECEIVED_AT, answered, received, rejected, routing_models, transferred

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
CORRELATION = "req-7f3a9c"
POTHOLE = "망원동 골목 도로에 포트홀이 생겨서 자전거가 넘어질 뻔했어요"
MANGWON = Place(address="서울특별시 마포구 망원로 50", lat=37.5556, lon=126.9016)


@dataclass
class Router:
    broker: KafkaBroker
    assignment: Process
    assigning: Assignment
    application: RouterApplication
    tables: MemoryTables
    clock: FixedClock

    async def publish(self, envelope: Envelope[Any]) -> None:
        """As the outbox relay does: the CloudEvents record on the owner's stream."""
        record = encode(envelope)
        await self.broker.publish(
            record.value,
            stream_for(type(envelope.data)).name,
            key=record.key,
            headers={name: value.decode() for name, value in record.headers},
        )

    async def deliver_together(self, *envelopes: Envelope[Any]) -> None:
        """As one fetched batch: one unit, one transaction."""
        batch = []
        for offset, envelope in enumerate(envelopes):
            record = encode(envelope)
            batch.append(
                IncomingRecord(INTAKE_EVENTS.name, 0, offset, record.key, record.value, record.headers)
            )
        await self.assignment.handle_batch(batch)

    def events(self) -> list[Any]:
        notifications = self.application.recorder.select_notifications(1, 1000)
        return [self.application.mapper.to_domain_event(n) for n in notifications]

    def routings(self) -> list[Routing.Assigned]:
        """Every first assignment the router's event store recorded."""
        return [e for e in self.events() if isinstance(e, Routing.Assigned)]

    def published(self) -> list[Any]:
        """What the outbox relay would publish, in order."""
        return [envelope.data for e in self.events() if (envelope := OUTBOX(e)) is not None]


@pytest.fixture
async def router() -> AsyncIterator[Router]:
    clock = FixedClock(NOW)
    broker = KafkaBroker()
    parts = build(
        RouterSettings(),
        Overrides(in_memory_ledger=True, broker=broker, clock=clock),
        models=routing_models(),
    )
    [assignment] = parts.components
    assert isinstance(assignment, Process) and assignment.name == "assignment"
    assignment.subscribe(broker)
    state = parts.state
    async with TestKafkaBroker(broker):
        yield Router(broker, assignment, state["assignment"], state["application"], state["tables"], clock)


async def test_a_received_complaint_is_read_and_routed_once_with_its_evidence(router: Router) -> None:
    event = received(POTHOLE, place=MANGWON, correlation_id=CORRELATION)
    await router.publish(event)

    [decision] = router.routings()
    assert decision.complaint_id == event.data.complaint_id and decision.receipt_no == "2026-0000042"
    assert decision.office.code == "district.mapo.roads" and decision.rule == "subject:pothole district:mapo"
    assert decision.assigned_at == NOW and decision.decided_by == "router"
    assert decision.meta["actor"] == "router.assignment"
    assert decision.meta["correlation_id"] == CORRELATION and decision.meta["causation_id"] == event.id
    [published] = router.published()
    assert isinstance(published, ComplaintAssignedV2)
    assert (published.subject, published.district, published.field.value) == (
        "pothole",
        "mapo",
        "roads_traffic",
    )
    assert published.message_class.value == "field" and published.confidence > 0.5
    assert (
        published.evidence.place.method == "coordinates" and published.evidence.scores[0].subject == "pothole"
    )
    assert published.reassignment == 0 and not published.confidential
    assert router.assignment.stats.applied == 1 and router.assignment.stats.dead_lettered == 0


async def test_a_v1_record_is_read_the_same_way(router: Router) -> None:
    v2 = received("지하철 2호선 열차 냉방이 너무 세서 추워요").data
    v1 = ComplaintReceivedV1.model_validate(v2.model_dump(include=set(ComplaintReceivedV1.model_fields)))
    await router.publish(
        Envelope(
            id=str(uuid.uuid4()), source="/eungdapso/intake", time=NOW, subject=str(v1.complaint_id), data=v1
        )
    )
    [decision] = router.routings()
    assert decision.office.code == "seoul.metro"


async def test_a_confidential_report_goes_to_the_investigators_and_its_text_is_not_kept(
    router: Router,
) -> None:
    report = received("시청 앞 도로 포장 공사 입찰이 이상합니다", kind=Kind.CORRUPTION_REPORT)
    await router.publish(report)
    [decision] = router.routings()
    assert decision.office.code == "seoul.audit" and decision.reading is not None
    assert decision.reading.confidential and decision.reading.confidence == 1.0
    assert router.tables.inputs[report.data.complaint_id].text is None
    assert report.data.complaint_id not in router.tables.index  # never linked to anything


async def test_the_same_complaint_under_two_event_ids_is_routed_once(router: Router) -> None:
    cid = uuid.uuid4()
    first, second = received(POTHOLE, complaint_id=cid), received(POTHOLE, complaint_id=cid)
    await router.publish(first)
    await router.publish(first)  # redelivered: the ledger knows it
    router.clock.at = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # a second decision would show
    await router.publish(second)

    [decision] = router.routings()
    assert decision.assigned_at == NOW  # the first decision stands
    ledger = router.application.recorder.processed_among(  # type: ignore[attr-defined]
        router.assignment.ledger, [first.id, second.id]
    )
    assert ledger == {first.id, second.id}
    assert router.assignment.stats.applied == 2 and router.assignment.stats.duplicates == 1


async def test_the_same_complaint_twice_in_one_batch_is_routed_once_by_the_first(router: Router) -> None:
    cid = uuid.uuid4()
    first = received(POTHOLE, complaint_id=cid, place=MANGWON)
    second = received("지하철 2호선 열차 냉방이 너무 세서 추워요", complaint_id=cid)  # would go elsewhere
    await router.deliver_together(first, second)

    [decision] = router.routings()
    assert decision.office.code == "district.mapo.roads"  # the first decision stands
    ledger = router.application.recorder.processed_among(  # type: ignore[attr-defined]
        router.assignment.ledger, [first.id, second.id]
    )
    assert ledger == {first.id, second.id}
    assert router.assignment.stats.applied == 2 and router.assignment.stats.duplicates == 0


class CountingReads:
    """The event store's reads a batch makes: per-aggregate reads and batched lookups."""

    def __init__(self, recorder: Any, monkeypatch: pytest.MonkeyPatch, *, stale_lookups: int = 0) -> None:
        self.select_events = 0
        self.lookups: list[int] = []
        self.stale_lookups = stale_lookups
        select_events, recorded_among = recorder.select_events, recorder.recorded_among

        def counted_select(*args: Any, **kwargs: Any) -> Any:
            self.select_events += 1
            return select_events(*args, **kwargs)

        def counted_lookup(ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
            self.lookups.append(len(ids))
            if self.stale_lookups:  # as if read before another consumer recorded them
                self.stale_lookups -= 1
                return set()
            found: set[uuid.UUID] = recorded_among(ids)
            return found

        monkeypatch.setattr(recorder, "select_events", counted_select)
        monkeypatch.setattr(recorder, "recorded_among", counted_lookup)


async def test_a_batch_asks_the_event_store_once_whatever_its_size(
    router: Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    routed_before = received(POTHOLE)
    await router.publish(routed_before)
    reads = CountingReads(router.application.recorder, monkeypatch)
    again = received(
        POTHOLE, complaint_id=routed_before.data.complaint_id
    )  # the same complaint, another event id
    batch = [received(POTHOLE) for _ in range(20)] + [again]

    await router.deliver_together(*batch)

    assert reads.lookups == [21] and reads.select_events == 0  # one lookup, no read per event
    assert len(router.routings()) == 21  # 20 new ones; the one routed before not again
    assert router.assignment.stats.applied == 22 and router.assignment.stats.duplicates == 0


async def test_a_decision_recorded_after_the_lookup_still_stands(
    router: Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lookup is only a read: if another consumer records the routing between it and the
    commit, the event store's unique (id, version) refuses the second, the batch rolls back
    and each event is decided again alone, this time seeing the recorded one."""
    cid = uuid.uuid4()
    first, second, other = (
        received(POTHOLE, complaint_id=cid),
        received(POTHOLE, complaint_id=cid),
        received(POTHOLE),
    )
    await router.publish(first)
    router.clock.at = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    reads = CountingReads(router.application.recorder, monkeypatch, stale_lookups=1)

    await router.deliver_together(second, other)

    assert reads.lookups == [2, 1, 1]  # the batch's (stale), then each event's alone
    decisions = {d.complaint_id: d for d in router.routings()}
    assert decisions[cid].assigned_at == NOW  # the first decision stands
    assert decisions[other.data.complaint_id].assigned_at == router.clock.now()
    ledger = router.application.recorder.processed_among(  # type: ignore[attr-defined]
        router.assignment.ledger, [first.id, second.id, other.id]
    )
    assert ledger == {first.id, second.id, other.id}
    assert router.assignment.stats.applied == 3 and router.assignment.stats.duplicates == 0


async def test_an_everyday_question_is_answered_at_once_and_closed(router: Router) -> None:
    question = received("대형폐기물은 어떻게 버리나요?", kind=Kind.INQUIRY)
    await router.publish(question)
    assigned, answered = router.published()
    assert isinstance(assigned, ComplaintAssignedV2) and assigned.subject == "bulky_waste"
    assert isinstance(answered, ComplaintAnsweredInstantlyV1) and answered.answer_id.startswith("faq-")
    assert answered.answer and answered.answered_at == NOW
    routing = router.application.routing(question.data.complaint_id)
    assert routing is not None and routing.state is RoutingState.ANSWERED
    assert question.data.complaint_id not in router.tables.index  # nothing links to an answered one


async def test_the_same_complaint_again_at_the_same_place_is_linked_to_the_open_one(router: Router) -> None:
    first = received(POTHOLE, place=MANGWON, receipt_no="2026-0000100")
    # Another citizen, 40 m away, a day later, in other words.
    again = received(
        "망원로 골목에 도로가 움푹 파였어요",
        place=Place(lat=37.5559, lon=126.9019),
        receipt_no="2026-0000101",
        received_at=RECEIVED_AT + timedelta(days=1),
    )
    # The same text three weeks later: the first is out of the window.
    late = received(
        POTHOLE, place=MANGWON, receipt_no="2026-0000102", received_at=RECEIVED_AT + timedelta(days=21)
    )
    for event in (first, again, late):
        await router.publish(event)

    published = router.published()
    links = [p for p in published if isinstance(p, ComplaintLinkedV1)]
    [link] = links
    assert link.complaint_id == again.data.complaint_id and link.duplicate_of == first.data.complaint_id
    assert (
        link.duplicate_of_receipt_no == "2026-0000100"
        and link.distance_m is not None
        and link.distance_m < 100
    )
    offices = {p.receipt_no: p.office.code for p in published if isinstance(p, ComplaintAssignedV2)}
    assert offices == {r: "district.mapo.roads" for r in ("2026-0000100", "2026-0000101", "2026-0000102")}
    linked = router.application.routing(again.data.complaint_id)
    assert linked is not None and linked.state is RoutingState.LINKED


async def test_once_the_first_is_answered_the_same_report_is_a_new_complaint(router: Router) -> None:
    first = received(POTHOLE, place=MANGWON, receipt_no="2026-0000100")
    await router.publish(first)
    await router.publish(answered(first.data.complaint_id, "district.mapo.roads"))
    again = received(
        POTHOLE, place=MANGWON, receipt_no="2026-0000101", received_at=RECEIVED_AT + timedelta(days=2)
    )
    await router.publish(again)
    assert not [p for p in router.published() if isinstance(p, ComplaintLinkedV1)]
    assert router.tables.index[first.data.complaint_id][1] is False  # closed
    assert router.assignment.stats.applied == 3 and router.assignment.stats.dead_lettered == 0


async def test_a_rejected_complaint_is_reassigned_and_after_two_rejections_waits_at_triage(
    router: Router,
) -> None:
    complaint = received(POTHOLE, place=MANGWON)
    await router.publish(complaint)
    cid = complaint.data.complaint_id

    await router.publish(rejected(cid, "district.mapo.roads"))
    routing = router.application.routing(cid)
    assert routing is not None and routing.office.code != "district.mapo.roads" and routing.rejections == 1
    second_office = routing.office.code
    await router.publish(rejected(cid, "district.mapo.roads"))  # late news: changes nothing
    await router.publish(rejected(cid, second_office, rejections=2))

    reassigned = [p for p in router.published() if isinstance(p, ComplaintAssignedV2)]
    assert [(p.office.code, p.reassignment) for p in reassigned] == [
        ("district.mapo.roads", 0),
        (second_office, 1),
        (TRIAGE, 2),
    ]
    assert reassigned[-1].rule == "rejected 2 times: triage desk"
    assert cid in router.tables.queue_rows and router.tables.queue_rows[cid].reassignment == 2


async def test_a_transfer_is_an_assignment_to_the_agency(router: Router) -> None:
    complaint = received(POTHOLE, place=MANGWON)
    await router.publish(complaint)
    cid = complaint.data.complaint_id
    await router.publish(transferred(cid, "district.mapo.roads", "ext.seoul_police"))
    to_agency = router.published()[-1]
    assert isinstance(to_agency, ComplaintAssignedV2)
    assert to_agency.office.code == "ext.seoul_police" and to_agency.office.level.value == "external"
    assert to_agency.rule == "transfer:district.mapo.roads" and to_agency.decided_by == "mapo-0412"
    assert to_agency.reassignment == 1 and to_agency.subject == "pothole"
    # The agency has it now: a late rejection by the district changes nothing.
    await router.publish(rejected(cid, "district.mapo.roads"))
    assert router.published()[-1] == to_agency


def test_an_assignment_recorded_before_the_router_read_complaints_still_reads_and_publishes_as_v1() -> None:
    """Routings recorded before contract 2.3 have no reading and no `decided_by`: they load,
    and the relay publishes them again (a replay) as the v1 they were."""
    application = RouterApplication(env=RouterSettings.in_memory_env())
    routing = Routing.assign(
        complaint_id=uuid.uuid4(),
        receipt_no="2026-0000007",
        office=Office(code="seoul.transport", name="도시교통실", level=OfficeLevel.HEADQUARTERS),
        rule="field:roads_traffic",
        at=NOW,
    )
    [event] = routing.collect_events()
    stored = application.mapper.to_stored_event(event)
    state = json.loads(stored.state)
    del state["reading"], state["decided_by"]  # as recorded then
    old = application.mapper.to_domain_event(
        StoredEvent(stored.originator_id, stored.originator_version, stored.topic, json.dumps(state).encode())
    )
    loaded = old.mutate(None)
    assert isinstance(loaded, Routing) and loaded.reading is None and loaded.decided_by == "router"
    envelope = OUTBOX(old)
    assert envelope is not None and type(envelope.data) is ComplaintAssignedV1
    assert envelope.data.office.code == "seoul.transport"


class Unreadable:
    def classify(self, text: object, kind: Kind) -> Any:
        raise IndexError("a text the model chokes on")


@pytest.mark.parametrize(
    ("kind", "office"), [(Kind.COMPLAINT, TRIAGE), (Kind.HUMAN_RIGHTS, "seoul.human_rights")]
)
async def test_a_complaint_the_router_cannot_read_goes_to_a_person_not_to_the_dead_letters(
    kind: Kind, office: str
) -> None:
    loaded = routing_models().get()
    models = RoutingModels(lambda: Models(Unreadable(), loaded.answers, loaded.places))
    broker = KafkaBroker()
    parts = build(RouterSettings(), Overrides(in_memory_ledger=True, broker=broker), models=models)
    [assignment] = parts.components
    assignment.subscribe(broker)
    async with TestKafkaBroker(broker):
        router = Router(
            broker, assignment, *(parts.state[k] for k in ("assignment", "application", "tables")), None
        )  # type: ignore[arg-type]
        await router.publish(received(POTHOLE, kind=kind))
        [decision] = router.routings()
    assert decision.office.code == office and decision.rule == f"reading failed (IndexError): {office}"
    assert assignment.stats.applied == 1 and assignment.stats.dead_lettered == 0
