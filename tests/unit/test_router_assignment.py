"""The router's `assignment` process, in milliseconds: the real bootstrap with its test
seams (in-memory event store and ledger, faststream's TestKafkaBroker, a fixed clock), fed
CloudEvents records the way the outbox relay publishes them. No PostgreSQL, no broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from eungdapso_platform.clock import FixedClock
from eungdapso_platform.consumer import IncomingRecord, Process
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

    async def deliver_together(self, *envelopes: Envelope[ComplaintReceivedV1]) -> None:
        """As one fetched batch: one unit, one transaction."""
        batch = []
        for offset, envelope in enumerate(envelopes):
            record = encode(envelope)
            batch.append(
                IncomingRecord(INTAKE_EVENTS.name, 0, offset, record.key, record.value, record.headers)
            )
        await self.assignment.handle_batch(batch)

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


async def test_the_same_complaint_twice_in_one_batch_is_routed_once_by_the_first(router: Router) -> None:
    cid = uuid.uuid4()
    first = received(cid, field=Field.ROADS_TRAFFIC)
    second = received(cid, field=Field.ENVIRONMENT_PARKS)  # would go to another office
    await router.deliver_together(first, second)

    [decision] = router.routings()
    assert decision.office.code == "seoul.transport"  # the first decision stands
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
    routed_before = received()
    await router.publish(routed_before)
    reads = CountingReads(router.application.recorder, monkeypatch)
    again = received(routed_before.data.complaint_id)  # the same complaint, another event id
    batch = [received() for _ in range(20)] + [again]

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
    first, second, other = received(cid), received(cid), received()
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
