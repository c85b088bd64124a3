"""How handlers are registered on a consumer component, and which records reach them.
In memory (event store, ledger) and through faststream's TestKafkaBroker: milliseconds."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from eungdapso_platform.clock import FixedClock
from eungdapso_platform.consumer import DecodedRecords, IncomingRecord, Process, Unit, share_decoding
from eungdapso_platform.settings import ServiceSettings
from eungdapso_router.application import RouterApplication
from eungdapso_router.consumers import Assignment
from eungdapso_router.decision import Decider, RoutingModels
from eungdapso_router.directory import packaged_directory
from eungdapso_router.tables import MemoryTables
from eungdapso_schemas.envelope import ContractViolation, Envelope, encode
from eungdapso_schemas.events import ComplaintAssignedV1, ComplaintEvent, ComplaintReceivedV1
from eungdapso_schemas.streams import DEAD_LETTER, INTAKE_EVENTS, ROUTER_EVENTS


def a_process(name: str = "probe") -> Process:
    return Process(name, service="router", application=RouterApplication(env=ServiceSettings.in_memory_env()))


def received() -> Envelope[ComplaintReceivedV1]:
    payload = ComplaintReceivedV1.example().model_copy(update={"complaint_id": uuid.uuid4()})
    return Envelope(
        id=str(uuid.uuid4()),
        source="/eungdapso/intake",
        time=payload.received_at,
        subject=str(payload.complaint_id),
        data=payload,
    )


def incoming(envelope: Envelope[Any], offset: int = 0) -> IncomingRecord:
    record = encode(envelope)
    return IncomingRecord(INTAKE_EVENTS.name, 0, offset, record.key, record.value, record.headers)


def test_the_same_handler_twice_for_a_type_is_refused() -> None:
    process = a_process()
    assignment = Assignment(
        FixedClock(datetime(2026, 11, 20, tzinfo=UTC)),
        Decider(RoutingModels()),  # never loaded: nothing is decided here
        packaged_directory,
        MemoryTables(),
    )
    process.on(ComplaintReceivedV1, assignment.on_received)
    with pytest.raises(ValueError, match="already registered"):
        process.on(ComplaintReceivedV1, assignment.on_received)  # a new bound method, same handler
    assert process.handlers[ComplaintReceivedV1] == [assignment.on_received]


def test_a_type_no_stream_carries_is_refused_at_registration() -> None:
    class ComplaintWithdrawnV1(ComplaintEvent):
        event_type: ClassVar[str] = "kr.go.seoul.eungdapso.complaint.withdrawn"
        schema_version: ClassVar[int] = 1

    def handler(unit: Unit, envelope: Envelope[Any]) -> None:
        raise AssertionError("never called")

    process = a_process()
    with pytest.raises(LookupError, match="no stream carries ComplaintWithdrawnV1"):
        process.on(ComplaintWithdrawnV1, handler)
    assert process.handlers == {}
    with pytest.raises(ValueError, match="handles no event type"):
        process.subscribe(KafkaBroker())


async def test_two_handlers_for_one_type_both_run_in_the_order_registered() -> None:
    calls: list[tuple[str, str]] = []

    def first(unit: Unit, envelope: Envelope[Any]) -> None:
        calls.append(("first", envelope.id))

    def second(unit: Unit, envelope: Envelope[Any]) -> None:
        calls.append(("second", envelope.id))

    process = a_process()
    process.on(ComplaintReceivedV1, first)
    process.on(ComplaintReceivedV1, second)
    one, two = received(), received()
    await process.handle_batch([incoming(one, 0), incoming(two, 1)])

    assert calls == [("first", one.id), ("second", one.id), ("first", two.id), ("second", two.id)]
    assert process.stats.applied == 2


async def test_a_preparer_gets_the_whole_batch_of_its_type_once_before_any_handler() -> None:
    calls: list[tuple[str, tuple[str, ...]]] = []

    def prepare(unit: Unit, envelopes: list[Envelope[Any]]) -> None:
        calls.append(("prepare", tuple(e.id for e in envelopes)))

    def handler(unit: Unit, envelope: Envelope[Any]) -> None:
        calls.append(("handle", (envelope.id,)))

    def assigned(unit: Unit, envelope: Envelope[Any]) -> None:
        calls.append(("assigned", (envelope.id,)))

    process = a_process()
    process.on(ComplaintReceivedV1, handler, prepare=prepare)
    process.on(ComplaintAssignedV1, assigned)
    one, two = received(), received()
    payload = ComplaintAssignedV1.example()
    other = Envelope(
        id=str(uuid.uuid4()),
        source="/eungdapso/router",
        time=payload.assigned_at,
        subject=str(payload.complaint_id),
        data=payload,
    )
    r = encode(other)
    from_router = IncomingRecord(ROUTER_EVENTS.name, 0, 0, r.key, r.value, r.headers)
    await process.handle_batch([incoming(one, 0), from_router, incoming(two, 1)])

    assert calls == [
        ("prepare", (one.id, two.id)),  # its type only, in order, before any handler
        ("handle", (one.id,)),
        ("assigned", (other.id,)),
        ("handle", (two.id,)),
    ]
    assert process.stats.applied == 3


@pytest.fixture
async def wired() -> AsyncIterator[tuple[KafkaBroker, Process, list[dict[str, str]]]]:
    """A process that handles only `complaint.received`, on a test broker whose dead-letter
    topic is watched."""
    broker = KafkaBroker()
    dead: list[dict[str, str]] = []

    async def raw(message: Any) -> Any:  # a dead letter's value may be anything
        return message.body

    @broker.subscriber(DEAD_LETTER.name, decoder=raw)
    async def watch(body: Any, message: KafkaMessage) -> None:
        dead.append(dict(message.headers))

    def on_received(unit: Unit, envelope: Envelope[Any]) -> None:
        pass

    process = a_process()
    process.on(ComplaintReceivedV1, on_received)
    process.subscribe(broker)
    async with TestKafkaBroker(broker):
        yield broker, process, dead


async def test_a_registered_type_the_component_does_not_handle_is_skipped_by_ce_type_undecoded(
    wired: tuple[KafkaBroker, Process, list[dict[str, str]]],
) -> None:
    broker, process, dead = wired
    assigned = encode(
        Envelope(
            id="x" * 4000,  # oversized: decoding it would dead-letter it
            source="/eungdapso/router",
            time=datetime(2026, 11, 20, tzinfo=UTC),
            subject=str(uuid.uuid4()),
            data=ComplaintAssignedV1.example(),
        )
    )
    headers = {k: v.decode() for k, v in assigned.headers}
    # A stream may carry types a component does not handle: their values are not its business.
    await broker.publish(b"\x00\xff[[[[ not json", INTAKE_EVENTS.name, key=b"k", headers=headers)

    assert process.stats.skipped == 1
    assert process.stats.dead_lettered == 0 and dead == []
    assert process.stats.applied == 0


async def test_an_unknown_type_with_the_same_garbage_is_dead_lettered(
    wired: tuple[KafkaBroker, Process, list[dict[str, str]]],
) -> None:
    """The contrast to the skip: only types of the registry are skipped undecoded."""
    broker, process, dead = wired
    record = encode(received())
    headers = {k: v.decode() for k, v in record.headers}
    headers["ce_type"] = "kr.go.seoul.eungdapso.complaint.teleported.v1"
    await broker.publish(b"\x00\xff[[[[ not json", INTAKE_EVENTS.name, key=record.key, headers=headers)

    assert process.stats.skipped == 0 and process.stats.dead_lettered == 1
    [letter] = dead
    assert letter["dlq_consumer"] == "eungdapso-router.probe"
    assert letter["dlq_topic"] == INTAKE_EVENTS.name
    assert "JSON" in letter["dlq_reason"]


def test_components_of_one_process_share_a_records_decoding() -> None:
    """Two components reading the same record get the same (immutable) envelope, decoded once;
    a record with other content at the same position (a broker that restarted empty) is
    decoded anew."""
    decoded = DecodedRecords(size=2)
    first = incoming(received(), offset=7)
    a, b = decoded.decode(first), decoded.decode(first)
    assert a is b and a.data.receipt_no
    other = incoming(received(), offset=7)
    assert decoded.decode(other).id != a.id
    # Bounded: the oldest is forgotten, and decoded again when it comes back.
    decoded.decode(incoming(received(), offset=8))
    assert decoded.decode(first) is not a and decoded.decode(first).id == a.id


async def test_only_components_reading_a_stream_in_common_share_decoded_records() -> None:
    """The publisher's two projections read the same streams: one cache, each record decoded
    once for both. A component alone on its streams (the router's assignment) keeps none, and
    decodes each record as it comes."""
    from eungdapso_platform.db import Database
    from eungdapso_publisher.bootstrap import public_status, statistics
    from eungdapso_publisher.settings import PublisherSettings

    settings = PublisherSettings()
    db = Database.for_service(settings)  # never opened: nothing here reaches the database
    status, counts = public_status(settings, db), statistics(settings, db)
    application = RouterApplication(env=ServiceSettings.in_memory_env())
    alone = Process("alone", service="router", application=application)
    alone.on(ComplaintReceivedV1, lambda unit, envelope: None)

    share_decoding([status, counts])  # the publisher's process
    share_decoding([alone])  # the router's

    assert status.decoded is not None and status.decoded is counts.decoded
    assert alone.decoded is None
    record = incoming(received())
    assert await alone._validated(record, dead_letter=False) == await alone._validated(record, False)
    first = await status._validated(record, dead_letter=False)
    assert first is not None and await counts._validated(record, dead_letter=False) is first


def test_a_record_that_breaks_the_contract_is_never_remembered() -> None:
    decoded = DecodedRecords()
    bad = dataclasses.replace(incoming(received()), value=b"{not json")
    for _ in range(2):
        with pytest.raises(ContractViolation):
            decoded.decode(bad)


def test_a_component_on_a_cadence_polls_the_broker_no_more_often_than_its_cadence() -> None:
    application = RouterApplication(env=ServiceSettings.in_memory_env())
    eager = Process("eager", service="router", application=application, fetch_max_wait_ms=50)
    paced = Process("paced", service="router", application=application, fetch_max_wait_ms=50, cadence_s=0.5)
    slow = Process("slow", service="router", application=application, fetch_max_wait_ms=50, cadence_s=30)
    assert (eager.fetch_max_wait_ms, paced.fetch_max_wait_ms) == (50, 500)
    assert slow.fetch_max_wait_ms == 1000  # the broker still hears from it every second
    with pytest.raises(ValueError, match="cadence"):
        Process("bad", service="router", application=application, cadence_s=-0.1)


#: Captured before a test patches `asyncio.sleep` (the module is the same everywhere).
_real_sleep = asyncio.sleep


class _Consumer:
    """A consumer's `getmany`: with records, hands them out; without, waits its whole timeout,
    as aiokafka's does, or, `stopped`, answers empty at once."""

    def __init__(self, *, stopped: bool = False, records: dict[str, list[str]] | None = None) -> None:
        self.stopped, self.records, self.calls = stopped, records or {}, 0

    async def getmany(self, *, timeout_ms: int, max_records: int | None) -> dict[str, list[str]]:
        self.calls += 1
        if not self.stopped and not self.records:
            await _real_sleep(timeout_ms / 1000)
        return self.records


async def test_an_idle_consumer_looks_again_at_once_without_faststreams_blind_sleep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """faststream's batch loop, finding nothing within its wait, sleeps as long again without
    looking: a complaint reaching an idle consumer waited up to 200 ms more, at every hop.
    Every component's loop looks again at once; it pauses only when the consumer answers
    empty early (stopped), so that it never spins."""
    from eungdapso_platform import consumer as consumer_module
    from eungdapso_platform.consumer import IDLE_WAIT_MS, PromptBatchSubscriber

    application = RouterApplication(env=ServiceSettings.in_memory_env())
    component = Process("eager", service="router", application=application)
    component.on(ComplaintReceivedV1, lambda unit, envelope: None)
    broker = KafkaBroker()
    component.subscribe(broker)
    (subscriber,) = broker.subscribers
    assert isinstance(subscriber, PromptBatchSubscriber)
    assert subscriber.batch_timeout_ms == IDLE_WAIT_MS

    subscriber.batch_timeout_ms = 20  # the test's own wait, short
    sleeps: list[float] = []

    async def recorded_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await _real_sleep(0)

    monkeypatch.setattr(consumer_module.asyncio, "sleep", recorded_sleep)
    idle = _Consumer()
    assert await subscriber.get_msg(idle) == ()  # type: ignore[arg-type]
    assert (idle.calls, sleeps) == (1, [])  # waited on the consumer, then no sleep at all
    stopped = _Consumer(stopped=True)
    assert await subscriber.get_msg(stopped) == ()  # type: ignore[arg-type]
    assert sleeps == [0.02]  # an early empty answer: a pause, not a spin
    ready = _Consumer(records={"p0": ["a", "b"], "p1": ["c"]})
    assert await subscriber.get_msg(ready) == ("a", "b", "c")  # type: ignore[arg-type]
    assert sleeps == [0.02]


def test_the_router_reads_and_commits_a_burst_in_batches_of_at_most_its_setting() -> None:
    """Each complaint costs the router about a millisecond to read: a batch of hundreds would
    hold its first assignments back until the last complaint is read. The consumer fetches at
    most `ASSIGNMENT_MAX_BATCH` records a batch; other components keep the platform's cap."""
    from eungdapso_platform.consumer import MAX_BATCH
    from eungdapso_platform.service import Overrides
    from eungdapso_router.bootstrap import build
    from eungdapso_router.settings import RouterSettings

    for settings in (RouterSettings(), RouterSettings(assignment_max_batch=7)):
        (assignment,) = build(settings, Overrides(in_memory_ledger=True)).components
        broker = KafkaBroker()
        assignment.subscribe(broker)
        (subscriber,) = broker.subscribers
        assert subscriber.max_records == assignment.max_batch == settings.assignment_max_batch < MAX_BATCH  # type: ignore[attr-defined]
    application = RouterApplication(env=ServiceSettings.in_memory_env())
    assert Process("any", service="router", application=application).max_batch == MAX_BATCH
    for bad in (0, MAX_BATCH + 1):
        with pytest.raises(ValueError, match="batch"):
            Process("bad", service="router", application=application, max_batch=bad)


def test_the_public_status_applies_a_burst_in_transactions_of_at_most_its_setting() -> None:
    """The public status shows a burst's first changes without waiting for hundreds behind
    them: its consumer fetches at most `PUBLIC_STATUS_MAX_BATCH` records a batch."""
    from eungdapso_platform.consumer import MAX_BATCH
    from eungdapso_platform.db import Database
    from eungdapso_publisher.bootstrap import public_status
    from eungdapso_publisher.settings import PublisherSettings

    for settings in (PublisherSettings(), PublisherSettings(public_status_max_batch=9)):
        component = public_status(settings, Database.for_service(settings))
        broker = KafkaBroker()
        component.subscribe(broker)
        (subscriber,) = broker.subscribers
        assert subscriber.max_records == component.max_batch == settings.public_status_max_batch < MAX_BATCH  # type: ignore[attr-defined]


def test_the_copies_of_the_directory_take_the_router_stream_on_their_cadence() -> None:
    """Casework's and the notifier's copies of the organisation directory read the router's
    stream, where every assignment is skipped: on a cadence they do it once a second instead
    of once per 50 ms fetch. Nobody waits on a directory version to the millisecond."""
    from eungdapso_casework.bootstrap import build as build_casework
    from eungdapso_casework.settings import CaseworkSettings
    from eungdapso_notifier.bootstrap import build as build_notifier
    from eungdapso_notifier.settings import NotifierSettings
    from eungdapso_platform.service import Overrides

    in_memory = Overrides(in_memory_ledger=True)
    for settings, build in ((CaseworkSettings(), build_casework), (NotifierSettings(), build_notifier)):
        (copy,) = [c for c in build(settings, in_memory).components if c.name == "directory"]  # type: ignore[operator]
        assert copy.cadence_s == settings.directory_cadence_s > 0
        assert copy.fetch_max_wait_ms >= settings.directory_cadence_s * 1000
    off = CaseworkSettings(directory_cadence_s=0)
    (copy,) = [c for c in build_casework(off, in_memory).components if c.name == "directory"]
    assert copy.cadence_s == 0
