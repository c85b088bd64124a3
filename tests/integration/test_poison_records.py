"""Nothing a producer can send stops a partition (issue 5, point 9): on the real broker and
PostgreSQL, through the publisher's `public_status` projection and the router's
`assignment` process, each poison record is dead-lettered with its reason (or, when only a
header the contract does not cover is odd, applied), and the good records behind it in the
same partition are applied."""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_platform.consumer import Process, Projection, Unit
from eungdapso_platform.db import Database
from eungdapso_platform.readmodel import ProjectionTx, ReadModel, ReadModels
from eungdapso_platform.service import make_broker
from eungdapso_publisher.projection import PublicStatusQueries
from eungdapso_publisher.settings import PublisherSettings
from eungdapso_router.application import RouterApplication
from eungdapso_router.bootstrap import build as build_router
from eungdapso_router.directory import packaged_directory
from eungdapso_router.domainmodel import Routing
from eungdapso_router.settings import RouterSettings
from eungdapso_schemas.envelope import Envelope, encode
from eungdapso_schemas.events import ComplaintReceivedV1
from eungdapso_schemas.streams import DEAD_LETTER, INTAKE_EVENTS
from tests.conftest import settings_for
from tests.support.kafka import produce, read_topic
from tests.support.routing import routing_models
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

#: Every record of a test goes to one partition, poison first: what follows must get through.
KEY = b"one-partition"
Record = tuple[bytes | None, bytes, list[tuple[str, bytes]]]
PUBLISHER = "eungdapso-publisher.public_status"
ROUTER = "eungdapso-router.assignment"


def received(receipt_no: str, *, event_id: str | None = None, text: str | None = None) -> Envelope[Any]:
    example = ComplaintReceivedV1.example()
    # model_copy does not validate: the payload may be one the contract refuses (the point).
    payload = example.model_copy(
        update={"complaint_id": uuid.uuid4(), "receipt_no": receipt_no, "text": text or example.text}
    )
    return Envelope(
        id=event_id or str(uuid.uuid4()),
        source="/eungdapso/intake",
        time=datetime(2026, 11, 20, 9, tzinfo=UTC),
        subject=str(payload.complaint_id),
        data=payload,
    )


def incompressible(alphabet: str, length: int) -> str:
    """Random text PostgreSQL cannot compress below a btree entry's limit (~2.7 kB)."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def record(envelope: Envelope[Any], *, value: bytes | None = None) -> Record:
    r = encode(envelope)
    return KEY, r.value if value is None else value, list(r.headers)


@dataclass
class Router:
    assignment: Process
    application: RouterApplication

    async def routed(self, complaint_id: uuid.UUID) -> bool:
        return self.application.routing(complaint_id) is not None


@pytest.fixture
async def running_router(database: PostgresTarget, broker: str) -> AsyncIterator[Router]:
    """The router's real `assignment` process (event store on PostgreSQL), on the test's broker."""
    parts = build_router(
        settings_for(RouterSettings, database, kafka_bootstrap_servers=broker), models=routing_models()
    )
    [assignment] = parts.components
    application = parts.state["application"]
    assert isinstance(assignment, Process) and isinstance(application, RouterApplication)
    assert parts.broker is not None
    await parts.db.open()  # the router's own tables, written with its decisions
    assignment.subscribe(parts.broker)
    await parts.broker.start()
    yield Router(assignment, application)
    await parts.broker.stop()
    await parts.db.close()
    application.close()


async def dead_letters(broker: str, at_least: int) -> dict[str, dict[str, str]]:
    """The dead-letter topic's records by consumer group: their `dlq_*` headers as text."""
    letters: dict[str, dict[str, str]] = {}
    for r in await read_topic(broker, DEAD_LETTER.name, at_least=at_least):
        headers = {k: v.decode("utf-8", "replace") for k, v in r.headers}
        assert headers["dlq_consumer"] not in letters, "dead-lettered twice"
        letters[headers["dlq_consumer"]] = headers
    return letters


def nested(depth: int) -> bytes:
    return b"[" * depth


#: name → (how the poison record is made from a valid envelope, what its dlq_reason says)
POISON: dict[str, tuple[Callable[[], Record], str]] = {
    "ce_id of 4,000 characters": (
        lambda: record(received("2026-0000001", event_id=incompressible(string.ascii_letters, 4000))),
        "ce_id must be 1-256 printable ASCII characters",
    ),
    "receipt_no of 30,000 characters": (
        lambda: record(received("2026-" + incompressible(string.digits, 29_995))),
        "receipt_no",
    ),
    "value of 100,000 nested [": (
        lambda: record(received("2026-0000001"), value=nested(100_000)),
        "nested too deeply",
    ),
}


@pytest.mark.parametrize("poison", list(POISON))
async def test_a_poison_record_is_dead_lettered_and_the_partition_moves_on(
    poison: str,
    broker: str,
    running_publisher: tuple[Projection, PublicStatusQueries],
    running_router: Router,
) -> None:
    publisher, queries = running_publisher
    make, reason = POISON[poison]
    good = [received(f"2026-000010{i}") for i in range(3)]
    await produce(broker, INTAKE_EVENTS.name, [make(), *(record(e) for e in good)])

    async def all_good_applied() -> bool:
        rows = [await queries.by_receipt_no(e.data.receipt_no) for e in good]
        routed = [await running_router.routed(e.data.complaint_id) for e in good]
        return all(rows) and all(routed)

    await eventually(all_good_applied, timeout=60, what="the good records behind the poison applied")
    letters = await dead_letters(broker, at_least=2)
    assert set(letters) == {PUBLISHER, ROUTER}
    for letter in letters.values():
        assert reason in letter["dlq_reason"], letter["dlq_reason"]
        assert letter["dlq_topic"] == INTAKE_EVENTS.name
    for component in (publisher, running_router.assignment):
        assert component.stats.dead_lettered == 1
        assert component.stats.applied == len(good)
        assert component.stats.failing_since is None


async def test_a_valid_event_with_a_binary_vendor_header_is_applied_not_dead_lettered(
    broker: str,
    running_publisher: tuple[Projection, PublicStatusQueries],
    running_router: Router,
) -> None:
    publisher, queries = running_publisher
    traced = received("2026-0000200")
    key, value, headers = record(traced)
    after = received("2026-0000201")
    await produce(
        broker,
        INTAKE_EVENTS.name,
        [(key, value, [*headers, ("x-vendor-trace", b"\xff\xfe\x00")]), record(after)],
    )

    async def both_applied() -> bool:
        rows = [await queries.by_receipt_no(e.data.receipt_no) for e in (traced, after)]
        routed = [await running_router.routed(e.data.complaint_id) for e in (traced, after)]
        return all(rows) and all(routed)

    await eventually(both_applied, timeout=60, what="the event with a vendor header applied")
    row = await queries.by_receipt_no("2026-0000200")
    assert row is not None and row["status"] in {"received", "assigned"}
    for component in (publisher, running_router.assignment):
        assert component.stats.applied == 2 and component.stats.dead_lettered == 0


INDEXED = ReadModel(
    "indexed",
    shape=1,
    tables={"indexed": ("CREATE TABLE {table} (text text NOT NULL)", "CREATE INDEX ON {table} (text)")},
)


async def test_a_value_the_database_refuses_is_dead_lettered_at_once_not_retried(
    database: PostgresTarget, broker: str, publisher_db: Database
) -> None:
    """An index row too large (SQLSTATE 54000) is the data's fault: dead-lettered on the
    first attempt, while the records around it in the partition are applied."""
    await ReadModels(publisher_db).ensure(INDEXED)
    calls: list[str] = []

    async def index_text(tx: ProjectionTx, envelope: Envelope[ComplaintReceivedV1]) -> None:
        calls.append(envelope.data.receipt_no)
        await tx.execute("INSERT INTO {indexed} VALUES (%s)", (envelope.data.text,))

    kafka = make_broker(settings_for(PublisherSettings, database, kafka_bootstrap_servers=broker))
    component = Projection("indexed", service="publisher", db=publisher_db, read_model=INDEXED)
    component.on(ComplaintReceivedV1, index_text)
    component.subscribe(kafka)
    huge = incompressible(string.ascii_letters + string.digits, 10_000)
    first, poison, last = (
        received("2026-0000301", text="첫째"),
        received("2026-0000302", text=huge),
        received("2026-0000303", text="셋째"),
    )
    await kafka.start()
    try:
        await produce(broker, INTAKE_EVENTS.name, [record(first), record(poison), record(last)])

        async def good_ones_applied() -> bool:
            async with publisher_db.pool.connection() as conn:
                cur = await conn.execute("SELECT text FROM publisher.indexed ORDER BY text")
                return [row["text"] for row in await cur.fetchall()] == sorted(["첫째", "셋째"])

        await eventually(good_ones_applied, timeout=60, what="the records around the refused one applied")
        [letter] = await read_topic(broker, DEAD_LETTER.name, at_least=1)
        reason = dict(letter.headers)["dlq_reason"].decode()
        assert "data error, attempt 1" in reason, reason
        assert "index row" in reason, reason
        assert dict(letter.headers)["ce_id"].decode() == poison.id
        # Tried in its batch, then once alone to find it: never retried as an outage.
        assert calls.count("2026-0000302") <= 2
        assert component.stats.dead_lettered == 1 and component.stats.applied == 2
    finally:
        await kafka.stop()
    with psycopg.connect(database.conninfo()) as conn:
        ledger = conn.execute(
            "SELECT count(*) FROM publisher.processed_messages WHERE consumer='publisher.indexed@1'"
        ).fetchone()
    assert ledger is not None and ledger[0] == 2  # the refused record left no trace but in the DLQ


async def test_a_value_the_database_refuses_in_a_process_is_dead_lettered_at_once(
    database: PostgresTarget, broker: str
) -> None:
    """The same for a process: what its handlers decide is recorded with read-model rows
    (`unit.write`) and the ledger in one event-store transaction; a row the database
    refuses is the record's fault, found at once, and the partition moves on."""
    settings = settings_for(RouterSettings, database, kafka_bootstrap_servers=broker)
    application = RouterApplication(env=settings.eventsourcing_env())
    with psycopg.connect(database.conninfo()) as conn:
        conn.execute("CREATE TABLE router.lookup (receipt_no text NOT NULL, text text NOT NULL)")
        conn.execute("CREATE INDEX ON router.lookup (text)")
    calls: list[str] = []

    def route_and_index(unit: Unit, envelope: Envelope[ComplaintReceivedV1]) -> None:
        e = envelope.data
        calls.append(e.receipt_no)
        unit.add(
            Routing.assign(
                complaint_id=e.complaint_id,
                receipt_no=e.receipt_no,
                office=packaged_directory().triage.ref,
                rule="test",
                at=e.received_at,
            )
        )
        unit.write("INSERT INTO {schema}.lookup VALUES (%s, %s)", e.receipt_no, e.text)

    process = Process("indexing", service="router", application=application)
    process.on(ComplaintReceivedV1, route_and_index)
    kafka = make_broker(settings)
    process.subscribe(kafka)
    first, poison, last = (
        received("2026-0000501", text="첫째"),
        received("2026-0000502", text=incompressible(string.ascii_letters + string.digits, 10_000)),
        received("2026-0000503", text="셋째"),
    )
    await kafka.start()
    try:
        await produce(broker, INTAKE_EVENTS.name, [record(first), record(poison), record(last)])

        async def good_ones_recorded() -> bool:
            with psycopg.connect(database.conninfo()) as conn:
                rows = conn.execute("SELECT receipt_no FROM router.lookup ORDER BY 1").fetchall()
            return [r[0] for r in rows] == ["2026-0000501", "2026-0000503"]

        await eventually(good_ones_recorded, timeout=90, what="the records around the refused one recorded")
        [letter] = await read_topic(broker, DEAD_LETTER.name, at_least=1)
        reason = dict(letter.headers)["dlq_reason"].decode()
        assert "data error, attempt 1" in reason, reason
        assert "index row" in reason, reason
        assert calls.count("2026-0000502") <= 2
        assert application.routing(first.data.complaint_id) is not None
        assert application.routing(last.data.complaint_id) is not None
        assert application.routing(poison.data.complaint_id) is None  # nothing of it recorded
        assert application.recorder.processed_among(  # type: ignore[attr-defined]
            process.ledger, [first.id, poison.id, last.id]
        ) == {first.id, last.id}
        assert process.stats.dead_lettered == 1 and process.stats.applied == 2
    finally:
        await kafka.stop()
        application.close()
