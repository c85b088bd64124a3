"""The idempotent consumer on a real broker and PostgreSQL: once per event, bad input to the DLQ."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
import uuid
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

import psycopg
import psycopg.sql
import pytest

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_platform.consumer import MAX_ATTEMPTS, BatchHandler, IncomingRecord, Projection
from eungdapso_platform.db import Database
from eungdapso_platform.readmodel import ProjectionTx, ReadModel, ReadModels
from eungdapso_platform.service import make_broker
from eungdapso_publisher.projection import PublicStatusQueries
from eungdapso_publisher.settings import PublisherSettings
from eungdapso_schemas.envelope import Envelope, encode
from eungdapso_schemas.events import Citizen, ComplaintAssignedV1, ComplaintReceivedV1, Office, Place
from eungdapso_schemas.streams import DEAD_LETTER, INTAKE_EVENTS, ROUTER_EVENTS
from tests.conftest import settings_for
from tests.support.kafka import produce, read_topic
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def received_envelope(
    kind: str = "complaint", text: str = "버스 정류장 파손 — 연락처 010-9999-8888"
) -> Envelope:  # type: ignore[type-arg]
    cid = uuid.uuid4()
    payload = ComplaintReceivedV1(
        complaint_id=cid,
        receipt_no="2026-0000042",
        received_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
        channel="sns",
        kind=kind,
        confidential=kind in {"corruption_report", "whistleblowing", "human_rights"},
        field="roads_traffic",
        text=text,
        place=Place(address="서울 마포구 어딘가 12", district="mapo"),
        citizen=Citizen(name="김시민", phone="010-9999-8888", sns_handle="@kimcitizen"),
    )
    return Envelope(
        id=str(uuid.uuid4()), source="/test", time=payload.received_at, subject=str(cid), data=payload
    )


def assigned_envelope(cid: uuid.UUID) -> Envelope[ComplaintAssignedV1]:
    payload = ComplaintAssignedV1(
        complaint_id=cid,
        receipt_no="2026-0000042",
        assigned_at=datetime(2026, 11, 20, 9, 5, tzinfo=UTC),
        office=Office(code="seoul.transport", name="도시교통실", level="headquarters"),
        rule="field:roads_traffic",
    )
    return Envelope(
        id=str(uuid.uuid4()), source="/test", time=payload.assigned_at, subject=str(cid), data=payload
    )


def as_record(env: Envelope) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:  # type: ignore[type-arg]
    r = encode(env)
    return r.key, r.value, r.headers


APPLIED = ReadModel("applied", shape=1, tables={"applied": ("CREATE TABLE {table} (text text)",)})


async def _eq(a: object, b: object) -> bool:
    return a == b


async def test_each_event_applied_once_and_garbage_dead_lettered(
    database: PostgresTarget, broker: str, running_publisher: tuple[Projection, PublicStatusQueries]
) -> None:
    consumer, projection = running_publisher
    received = received_envelope()
    cid = received.data.complaint_id
    # Out of order across topics: the assignment arrives first; the received event twice.
    await produce(broker, ROUTER_EVENTS.name, [as_record(assigned_envelope(cid))])
    await produce(
        broker,
        INTAKE_EVENTS.name,
        [
            (b"junk", b"\x00\xffnot an event", [("content-type", b"application/json")]),
            # A binary header the framework cannot decode: must not wedge the consumer.
            (b"binary", b"{}", [("ce_specversion", b"\xff\xfe\xfd")]),
            as_record(received),
            as_record(received),
        ],
    )

    async def row() -> dict | None:  # type: ignore[type-arg]
        got = await projection.by_receipt_no("2026-0000042")
        return got if got and got["status"] == "assigned" and got["received_at"] else None

    public = await eventually(row, what="projection has both events")
    assert public["office_code"] == "seoul.transport" and public["district"] == "mapo"
    await eventually(lambda: _eq(consumer.stats.duplicates, 1), what="duplicate seen")
    with psycopg.connect(database.conninfo()) as conn:
        ledger = conn.execute("SELECT count(*) FROM publisher.processed_messages").fetchone()
    assert ledger is not None and ledger[0] == 2

    dead = {r.key: r for r in await read_topic(broker, DEAD_LETTER.name, at_least=2)}
    assert set(dead) == {b"junk", b"binary"}
    headers = dict(dead[b"junk"].headers)
    assert headers["dlq_topic"] == INTAKE_EVENTS.name.encode()
    assert headers["dlq_consumer"] == b"eungdapso-publisher.public_status"
    assert b"not a CloudEvent" in headers["dlq_reason"]
    assert dead[b"junk"].value == b"\x00\xffnot an event"
    assert b"specversion" in dict(dead[b"binary"].headers)["dlq_reason"]


async def test_confidential_reports_and_personal_data_never_reach_the_public_projection(
    database: PostgresTarget, broker: str, running_publisher: tuple[Projection, PublicStatusQueries]
) -> None:
    consumer, _ = running_publisher
    report = received_envelope(kind="corruption_report")
    await produce(broker, INTAKE_EVENTS.name, [as_record(report)])
    await produce(broker, ROUTER_EVENTS.name, [as_record(assigned_envelope(report.data.complaint_id))])
    await eventually(lambda: _eq(consumer.stats.applied, 2), what="both applied")
    with psycopg.connect(database.conninfo()) as conn:
        dump = str(conn.execute("SELECT * FROM publisher.public_complaints").fetchall())
    for secret in (
        "김시민",
        "010-9999-8888",
        "@kimcitizen",
        "버스 정류장",
        "마포구",
        "corruption",
        "seoul.transport",
    ):
        assert secret not in dump
    assert "confidential" in dump


async def test_a_record_that_keeps_failing_is_dead_lettered_and_the_partition_moves_on(
    database: PostgresTarget, broker: str, publisher_db: Database
) -> None:
    kafka = make_broker(settings_for(PublisherSettings, database, kafka_bootstrap_servers=broker))
    await ReadModels(publisher_db).ensure(APPLIED)

    async def fragile(tx: ProjectionTx, envelope: Envelope[ComplaintReceivedV1]) -> None:
        # The effect is written in the consumer's transaction: a failed batch leaves nothing.
        await tx.execute("INSERT INTO {applied} VALUES (%s)", (envelope.data.text,))
        if "poison" in envelope.data.text:
            raise RuntimeError("cannot handle this one")

    async def applied_exactly_once() -> bool:
        async with publisher_db.pool.connection() as conn:
            cur = await conn.execute("SELECT text FROM publisher.applied ORDER BY text")
            return [row["text"] for row in await cur.fetchall()] == sorted(["첫째", "셋째"])

    consumer = Projection("fragile", service="publisher", db=publisher_db, read_model=APPLIED)
    consumer.on(ComplaintReceivedV1, fragile)
    consumer.subscribe(kafka)
    await kafka.start()
    try:
        # One key, one partition: the poison sits between two good records.
        records = [as_record(received_envelope(text=text)) for text in ("첫째", "poison", "셋째")]
        await produce(broker, INTAKE_EVENTS.name, [(b"same-key", v, h) for _, v, h in records])
        await eventually(applied_exactly_once, timeout=60, what="good ones applied, once")
        [dead] = await read_topic(broker, DEAD_LETTER.name, at_least=1)
        reason = dict(dead.headers)["dlq_reason"].decode()
        assert f"attempt {MAX_ATTEMPTS}" in reason and "cannot handle this one" in reason
        with psycopg.connect(database.conninfo()) as conn:
            ledger = conn.execute("SELECT count(*) FROM publisher.processed_messages").fetchone()
        assert ledger is not None and ledger[0] == 2  # the poison left no trace but in the DLQ
    finally:
        await kafka.stop()


async def test_infrastructure_failures_are_retried_for_as_long_as_they_last(
    publisher_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database outage must delay events, never dead-letter them (however many attempts)."""
    from eungdapso_platform import consumer as consumer_module

    monkeypatch.setattr(consumer_module, "RETRY_DELAY_S", 0)
    outage = {"left": MAX_ATTEMPTS * 2}

    async def flaky(conn, envelope) -> None:  # type: ignore[no-untyped-def]
        if outage["left"] > 0:
            outage["left"] -= 1
            raise psycopg.OperationalError("connection to server lost")

    await ReadModels(publisher_db).ensure(APPLIED)
    # No broker: dead-lettering would raise.
    consumer = Projection("flaky", service="publisher", db=publisher_db, read_model=APPLIED)
    consumer.on(ComplaintReceivedV1, flaky)
    key, value, headers = as_record(received_envelope())
    record = IncomingRecord(INTAKE_EVENTS.name, 0, 0, key, value, headers)
    attempts = 0
    while True:
        attempts += 1
        try:
            await consumer.handle(record)
            break
        except psycopg.OperationalError:
            continue
    assert attempts == MAX_ATTEMPTS * 2 + 1
    assert consumer.stats.applied == 1 and consumer.stats.dead_lettered == 0


async def test_the_router_decides_a_complaint_once_with_one_lookup_per_batch_on_postgresql(
    database: PostgresTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The router's `assignment` on the PostgreSQL event store: a batch asks which routings
    exist in one query; the first decision for a complaint stands, whether it was recorded
    before, earlier in the same batch, or by someone else between the lookup and the commit
    (then the event store's unique key refuses the second and each event is decided alone)."""
    from eungdapso_platform.clock import FixedClock
    from eungdapso_platform.consumer import Process
    from eungdapso_platform.service import Overrides
    from eungdapso_router.application import RouterApplication
    from eungdapso_router.bootstrap import build
    from eungdapso_router.settings import RouterSettings

    clock = FixedClock(datetime(2026, 11, 20, 9, 30, tzinfo=UTC))
    parts = build(settings_for(RouterSettings, database), Overrides(clock=clock))
    [assignment] = parts.components
    application = parts.state["application"]
    assert isinstance(assignment, Process) and isinstance(application, RouterApplication)
    recorder: Any = application.recorder
    real_lookup = recorder.recorded_among
    lookups: list[int] = []
    stale = {"left": 0}

    def counted_lookup(ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        lookups.append(len(ids))
        if stale["left"]:
            stale["left"] -= 1
            return set()
        found: set[uuid.UUID] = real_lookup(ids)
        return found

    real_checks = recorder.processed_and_recorded

    def counted_checks(
        ledger: str, message_ids: list[str], ids: Collection[uuid.UUID]
    ) -> tuple[set[str], set[uuid.UUID]]:
        # The batch's lookup is read with the ledger, in the same round trip.
        lookups.append(len(ids))
        done, found = real_checks(ledger, message_ids, ids)
        if stale["left"]:
            stale["left"] -= 1
            return done, set()
        return done, found

    monkeypatch.setattr(recorder, "recorded_among", counted_lookup)
    monkeypatch.setattr(recorder, "processed_and_recorded", counted_checks)

    async def deliver(*envelopes: Envelope) -> None:  # type: ignore[type-arg]
        batch = [IncomingRecord(INTAKE_EVENTS.name, 0, n, *as_record(e)) for n, e in enumerate(envelopes)]
        await assignment.handle_batch(batch, dead_letter=False)

    def another_id(envelope: Envelope) -> Envelope:  # type: ignore[type-arg]
        return dataclasses.replace(envelope, id=str(uuid.uuid4()))

    def assigned_at(envelope: Envelope) -> datetime:  # type: ignore[type-arg]
        routing = application.routing(envelope.data.complaint_id)
        assert routing is not None
        return routing.assigned_at

    await parts.db.open()  # the router's own tables, written with its decisions
    try:
        routed_before = received_envelope()
        await deliver(routed_before)
        first_time = clock.now()
        clock.at = datetime(2026, 11, 20, 10, tzinfo=UTC)
        twice = received_envelope()
        again = another_id(twice)  # the same complaint under another event id, same batch
        fresh = [received_envelope() for _ in range(5)]
        repeat = another_id(routed_before)
        lookups.clear()
        await deliver(twice, *fresh, again, repeat)

        assert lookups == [7]  # one query for the batch (its 7 distinct routings), with the ledger
        assert assigned_at(routed_before) == first_time
        assert all(assigned_at(e) == clock.now() for e in (twice, *fresh))

        # A routing recorded after the batch's lookup, before its commit.
        late = received_envelope()
        other = received_envelope()
        await deliver(late)
        late_again = another_id(late)
        stale["left"] = 1
        lookups.clear()
        clock.at = datetime(2026, 11, 20, 11, tzinfo=UTC)
        await deliver(late_again, other)

        assert lookups == [2, 1, 1]  # the batch's (stale), then each event's alone
        assert assigned_at(late) == datetime(2026, 11, 20, 10, tzinfo=UTC)
        assert assigned_at(other) == clock.now()
        every = [routed_before, twice, again, *fresh, repeat, late, late_again, other]
        assert recorder.processed_among(assignment.ledger, [e.id for e in every]) == {e.id for e in every}
        assert assignment.stats.applied == len(every) and assignment.stats.duplicates == 0
        with psycopg.connect(database.conninfo()) as conn:
            table = psycopg.sql.Identifier("router", recorder.events_table_name)
            # Each routing is created once (its later events, a duplicate link, count apart).
            created = psycopg.sql.SQL("SELECT count(*) FROM {} WHERE originator_version = 1").format(table)
            stored = conn.execute(created).fetchone()
        assert stored is not None and stored[0] == 1 + 6 + 1 + 1  # one routing per complaint
    finally:
        await parts.db.close()
        application.close()


async def test_a_component_on_a_cadence_takes_a_trickle_as_few_batches_and_loses_nothing(
    database: PostgresTarget, broker: str, publisher_db: Database
) -> None:
    """A component nobody waits on (the statistics) pays its per-batch cost once a cadence: no
    two of its batches start closer together than the cadence, whatever trickles in, and every
    record is still applied once."""
    cadence_s = 0.5
    kafka = make_broker(settings_for(PublisherSettings, database, kafka_bootstrap_servers=broker))
    await ReadModels(publisher_db).ensure(APPLIED)
    batch_starts: list[float] = []

    async def note(tx: ProjectionTx, envelope: Envelope[ComplaintReceivedV1]) -> None:
        await tx.execute("INSERT INTO {applied} VALUES (%s)", (envelope.data.text,))

    consumer = Projection(
        "paced", service="publisher", db=publisher_db, read_model=APPLIED, cadence_s=cadence_s
    )
    consumer.on(ComplaintReceivedV1, note)
    handle_batch = consumer.handle_batch

    async def timed(records, *, dead_letter=True):  # type: ignore[no-untyped-def]
        batch_starts.append(time.monotonic())
        await handle_batch(records, dead_letter=dead_letter)

    consumer.handle_batch = timed  # type: ignore[method-assign]
    consumer.subscribe(kafka)
    await kafka.start()
    texts = [f"민원 {n}" for n in range(12)]
    try:
        for text in texts:  # one record every 50 ms: twelve fetches' worth without a cadence
            await produce(broker, INTAKE_EVENTS.name, [as_record(received_envelope(text=text))])
            await asyncio.sleep(0.05)

        async def all_applied_once() -> bool:
            async with publisher_db.pool.connection() as conn:
                cur = await conn.execute("SELECT text FROM publisher.applied ORDER BY text")
                return [row["text"] for row in await cur.fetchall()] == sorted(texts)

        await eventually(all_applied_once, timeout=60, what="every record applied, once")
    finally:
        await kafka.stop()
    gaps = [b - a for a, b in itertools.pairwise(batch_starts)]
    assert gaps and min(gaps) >= cadence_s * 0.99, batch_starts
    assert len(batch_starts) < len(texts)
    with pytest.raises(ValueError, match="cadence"):
        Projection("bad", service="publisher", db=publisher_db, read_model=APPLIED, cadence_s=-1)


def incoming(envelopes: list[Envelope], offset: int = 0) -> list[IncomingRecord]:  # type: ignore[type-arg]
    out = []
    for n, env in enumerate(envelopes):
        topic = INTAKE_EVENTS.name if isinstance(env.data, ComplaintReceivedV1) else ROUTER_EVENTS.name
        key, value, headers = as_record(env)
        out.append(IncomingRecord(topic, 0, offset + n, key, value, headers))
    return out


async def test_a_batch_handler_takes_a_batch_once_after_the_per_event_handlers_in_its_transaction(
    publisher_db: Database,
) -> None:
    """`Projection.on_batch`: one call per batch with the batch's new events of its types, in
    the order they came (a duplicate in the batch and an event applied before are not in it),
    after the per-event handlers, in the same transaction (it sees what they wrote)."""
    await ReadModels(publisher_db).ensure(APPLIED)
    calls: list[tuple[list[str], int]] = []

    async def per_event(tx: ProjectionTx, envelope: Envelope[ComplaintReceivedV1]) -> None:
        await tx.execute("INSERT INTO {applied} VALUES (%s)", (envelope.data.text,))

    async def whole_batch(tx: ProjectionTx, envelopes: list[Envelope[Any]]) -> None:
        cur = await tx.conn.execute(tx.sql("SELECT count(*) AS n FROM {applied}"))
        row = await cur.fetchone()
        assert row is not None
        calls.append(([type(e.data).__name__ + ":" + e.id for e in envelopes], row["n"]))

    consumer = Projection("batched", service="publisher", db=publisher_db, read_model=APPLIED)
    consumer.on(ComplaintReceivedV1, per_event)
    handler = consumer.on_batch((ComplaintReceivedV1, ComplaintAssignedV1), whole_batch)
    assert consumer.handlers[ComplaintAssignedV1] == [handler]
    assert consumer.handlers[ComplaintReceivedV1] == [per_event, handler]

    first, second = received_envelope(text="하나"), received_envelope(text="둘")
    assigned = assigned_envelope(first.data.complaint_id)
    await consumer.handle_batch(incoming([first, assigned, first, second]))
    assert calls == [
        (
            [
                f"ComplaintReceivedV1:{first.id}",
                f"ComplaintAssignedV1:{assigned.id}",
                f"ComplaintReceivedV1:{second.id}",
            ],
            2,  # both per-event rows were written before, in this transaction
        )
    ]
    # Redelivered with one new event: the batch handler gets the new one only.
    third = received_envelope(text="셋")
    await consumer.handle_batch(incoming([second, assigned, third], offset=4))
    assert calls[1] == ([f"ComplaintReceivedV1:{third.id}"], 3)
    assert consumer.stats.applied == 4 and consumer.stats.duplicates == 3


async def test_two_statistics_replicas_folding_the_same_complaints_at_once_lose_no_fact(
    publisher_db: Database,
) -> None:
    """The statistics projection folds a batch at once. Two replicas (one with the receipts,
    one with the assignments of the same new complaints, as a rebalance can have it) insert
    the same complaints' rows at the same time: one's inserts wait for the other's and
    conflict, and it folds its events into the rows the other wrote, so every complaint ends
    with both events' facts."""
    from eungdapso_publisher.statistics_projection import STATISTICS, statistics

    await ReadModels(publisher_db).ensure(STATISTICS)
    receipts = [received_envelope(text=f"민원 {n}") for n in range(30)]
    assignments = [assigned_envelope(r.data.complaint_id) for r in receipts]
    one = statistics(publisher_db, service="publisher")
    other = statistics(publisher_db, service="publisher")
    (folding,) = {h for h in one.handlers[ComplaintReceivedV1] if isinstance(h, BatchHandler)}
    apply = folding.apply

    async def slow_to_commit(tx: ProjectionTx, envelopes: list[Envelope[Any]]) -> None:
        await apply(tx, envelopes)
        await asyncio.sleep(0.5)  # the other replica reads meanwhile and finds no row

    folding.apply = slow_to_commit  # type: ignore[method-assign]

    async def later() -> None:
        await asyncio.sleep(0.1)
        await other.handle_batch(incoming(list(reversed(assignments))))

    await asyncio.gather(one.handle_batch(incoming(receipts)), later())
    assert one.stats.applied == other.stats.applied == 30
    async with publisher_db.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT complaint_id, channel, receipt_district, assigned_office FROM publisher.stat_complaints"
        )
        rows = {row["complaint_id"]: row for row in await cur.fetchall()}
    assert set(rows) == {r.data.complaint_id for r in receipts}
    for row in rows.values():
        assert (row["channel"], row["receipt_district"], row["assigned_office"]) == (
            "sns",
            "mapo",
            "seoul.transport",
        )
