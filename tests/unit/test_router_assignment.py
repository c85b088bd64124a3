"""The router's `assignment` process, in milliseconds: the real bootstrap with its test
seams (in-memory event store and ledger, faststream's TestKafkaBroker, a fixed clock), fed
CloudEvents records the way the outbox relay publishes them. No PostgreSQL, no broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from eungdapso_platform.clock import FixedClock
from eungdapso_platform.consumer import Process
from eungdapso_platform.service import Overrides
from eungdapso_router.application import RouterApplication
from eungdapso_router.bootstrap import build
from eungdapso_router.domainmodel import Routing
from eungdapso_router.settings import RouterSettings
from eungdapso_schemas.codes import Channel, Field, Kind
from eungdapso_schemas.envelope import Envelope, encode
from eungdapso_schemas.events import ComplaintReceivedV1
from eungdapso_schemas.streams import INTAKE_EVENTS

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
CORRELATION = "req-7f3a9c"


@dataclass
class Router:
    broker: KafkaBroker
    assignment: Process
    application: RouterApplication
    clock: FixedClock

    async def publish(self, envelope: Envelope[ComplaintReceivedV1]) -> None:
        """As the outbox relay does: the CloudEvents record on the owner's stream."""
        record = encode(envelope)
        await self.broker.publish(
            record.value,
            INTAKE_EVENTS.name,
            key=record.key,
            headers={name: value.decode() for name, value in record.headers},
        )

    def routings(self) -> list[Routing.Assigned]:
        """Every routing decision the router's event store recorded."""
        notifications = self.application.recorder.select_notifications(1, 1000)
        events = [self.application.mapper.to_domain_event(n) for n in notifications]
        return [e for e in events if isinstance(e, Routing.Assigned)]


@pytest.fixture
async def router() -> AsyncIterator[Router]:
    clock = FixedClock(NOW)
    broker = KafkaBroker()
    parts = build(RouterSettings(), Overrides(in_memory_ledger=True, broker=broker, clock=clock))
    [assignment] = parts.components
    assert isinstance(assignment, Process) and assignment.name == "assignment"
    assignment.subscribe(broker)
    application = parts.state["application"]
    assert isinstance(application, RouterApplication)
    async with TestKafkaBroker(broker):
        yield Router(broker, assignment, application, clock)


def received(
    complaint_id: uuid.UUID | None = None,
    *,
    kind: Kind = Kind.COMPLAINT,
    field: Field | None = Field.ROADS_TRAFFIC,
    event_id: str | None = None,
) -> Envelope[ComplaintReceivedV1]:
    payload = ComplaintReceivedV1(
        complaint_id=complaint_id or uuid.uuid4(),
        receipt_no="2026-0000042",
        received_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        channel=Channel.WEB,
        kind=kind,
        confidential=kind.confidential,
        field=field,
        text="만리재로 193 앞 육교 계단에 구멍이 났어요",
    )
    return Envelope(
        id=event_id or str(uuid.uuid4()),
        source="/eungdapso/intake",
        time=payload.received_at,
        subject=str(payload.complaint_id),
        data=payload,
        correlation_id=CORRELATION,
    )


async def test_a_received_complaint_is_routed_once_to_its_office_at_the_clocks_time(router: Router) -> None:
    event = received(field=Field.ROADS_TRAFFIC)
    await router.publish(event)

    [decision] = router.routings()
    assert decision.complaint_id == event.data.complaint_id
    assert decision.receipt_no == "2026-0000042"
    assert (decision.office.code, decision.office.name) == ("seoul.transport", "도시교통실")
    assert decision.rule == "field:roads_traffic"
    assert decision.assigned_at == router.clock.now() == NOW
    routing = router.application.routing(event.data.complaint_id)
    assert routing is not None and routing.office.code == "seoul.transport"
    assert router.assignment.stats.applied == 1 and router.assignment.stats.dead_lettered == 0


async def test_the_office_follows_the_kind_for_confidential_reports(router: Router) -> None:
    report = received(kind=Kind.CORRUPTION_REPORT, field=Field.ROADS_TRAFFIC)
    await router.publish(report)
    [decision] = router.routings()
    assert decision.office.code == "seoul.audit" and decision.rule == "kind:corruption_report"


async def test_the_same_event_twice_is_decided_once(router: Router) -> None:
    event = received()
    await router.publish(event)
    await router.publish(event)

    assert len(router.routings()) == 1
    assert router.assignment.stats.applied == 1
    assert router.assignment.stats.duplicates == 1


async def test_the_same_complaint_under_two_event_ids_is_routed_once(router: Router) -> None:
    cid = uuid.uuid4()
    first, second = received(cid), received(cid)
    await router.publish(first)
    router.clock.at = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # a second decision would show
    await router.publish(second)

    [decision] = router.routings()
    assert decision.assigned_at == NOW  # the first decision stands
    # Both messages are in the ledger: neither is decided again when redelivered.
    ledger = router.application.recorder.processed_among(  # type: ignore[attr-defined]
        router.assignment.ledger, [first.id, second.id]
    )
    assert ledger == {first.id, second.id}
    assert router.assignment.stats.applied == 2 and router.assignment.stats.duplicates == 0


async def test_the_recorded_decision_carries_its_actor_correlation_and_cause(router: Router) -> None:
    event = received()
    await router.publish(event)

    [decision] = router.routings()
    assert decision.meta["actor"] == "router.assignment"
    assert decision.meta["correlation_id"] == CORRELATION
    assert decision.meta["causation_id"] == event.id
