"""The platform's own cost, each figure next to a raw baseline on the same records, same run.

The records are the workload's complaints as intake records them: recorded in an intake
event store on PostgreSQL (schema `bench_intake`), translated by intake's `OUTBOX` and
encoded. On a broker of its own (a fresh Tansu process, so that the system's topics and
this section's do not mix):

- **consumer components**, reading those N records from `eungdapso.intake.events`:
  - raw: a bare aiokafka consumer (manual assignment, no group, the services' fetch wait,
    batches of `MAX_BATCH`), consuming only, and consuming + `envelope.decode` of each;
  - the same consumer handing each fetched batch to a component's `handle_batch` (the
    ledger transaction per batch, the `ce_type` check, decoding and validation, the
    message context: structlog ids, OpenTelemetry span, actor): a `Projection` whose
    handler does nothing, one whose handler inserts one row, a `Process` whose handler
    decides nothing (its batch records only ledger entries, in the PostgreSQL event store),
    and the router's `assignment` process as its bootstrap builds it (its handler, which reads
    each complaint: classification, place, standard answers, duplicates; its batch lookup; its
    tables; every complaint new to it: an event store of its own each round);
  - the no-op `Projection` subscribed the way services run it (a faststream `KafkaBroker`,
    consumer group, offsets committed per batch), timed from its first batch (the group
    join is not counted) next to the raw consume + decode timed from its first record;
- **outbox relay**: `OutboxRelay` from its start until its position reaches the N
  recorded events, next to a bare aiokafka produce of the same N encoded records (the
  relay's producer settings; producer start counted in both).

The consumers run first (the relay then adds its copies to the stream, which no consumer
reads any more). Each measure runs `--rounds` times, raw and platform interleaved, with
fresh ledgers, read models and relay positions every round; the table shows medians, the
JSON every sample. Besides events/s, each sample has the bench process's CPU time per event
(every thread; PostgreSQL and the broker not counted): on a shared machine it moves much
less than the wall-clock rate. Tracing is configured as in the services (an SDK tracer
provider, no exporter); logs at `--log-level` (WARNING, as the system section runs them).
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import NewTopic
from pydantic import SecretStr

from eungdapso_devstack.infra import PostgresTarget, TansuBroker, ensure_topics
from eungdapso_intake.application import OUTBOX, IntakeApplication
from eungdapso_intake.domainmodel import Complaint
from eungdapso_platform.consumer import MAX_BATCH, IncomingRecord, Process, Projection, Unit
from eungdapso_platform.db import Database
from eungdapso_platform.domain import EventSourcedApplication
from eungdapso_platform.kafka import KafkaSettings, kafka_admin, kafka_consumer, kafka_producer
from eungdapso_platform.outbox import OutboxRelay, make_producer
from eungdapso_platform.readmodel import ProjectionTx, ReadModel, ReadModels
from eungdapso_platform.service import make_broker
from eungdapso_platform.settings import ServiceSettings
from eungdapso_platform.tracing import configure_tracing
from eungdapso_router.application import RouterApplication
from eungdapso_router.bootstrap import build as build_router
from eungdapso_router.settings import RouterSettings
from eungdapso_schemas.codes import Channel, District, Field, Kind, Language
from eungdapso_schemas.envelope import Envelope, KafkaRecord, decode, encode
from eungdapso_schemas.events import Citizen, Payload, Place
from eungdapso_schemas.streams import INTAKE_EVENTS

#: The bench's own progress lines: always shown, whatever level the platform logs at.
progress = structlog.wrap_logger(
    structlog.PrintLogger(sys.stderr),
    processors=[
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.JSONRenderer(ensure_ascii=False),
    ],
    wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    context_class=dict,
).bind(service="bench")

RAW_PRODUCE_TOPIC = "bench.raw.produce"
SERVICE = "bench"
SAVE_CHUNK = 100
WAIT_LIMIT_S = 300.0


@dataclass(frozen=True)
class Mark:
    """A moment: wall clock and this process's CPU time (every thread)."""

    wall: float
    cpu: float

    @classmethod
    def now(cls) -> Mark:
        return cls(time.perf_counter(), time.process_time())

    def until(self, end: Mark) -> Span:
        return Span(end.wall - self.wall, end.cpu - self.cpu)


@dataclass(frozen=True)
class Span:
    seconds: float
    cpu_s: float


@dataclass
class Samples:
    """Events/s of one measure, and the bench process's CPU per event, one sample per round.
    The CPU figure leaves out PostgreSQL and the broker, and is the one that other load on the
    machine disturbs least."""

    per_s: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)

    def add(self, events: int, span: Span) -> None:
        self.per_s.append(events / span.seconds)
        self.cpu_us.append(span.cpu_s / events * 1e6)

    @property
    def median(self) -> float:
        return statistics.median(self.per_s) if self.per_s else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {
            "per_s": self.median,
            "min_per_s": min(self.per_s, default=float("nan")),
            "max_per_s": max(self.per_s, default=float("nan")),
            "cpu_us_per_event": statistics.median(self.cpu_us) if self.cpu_us else float("nan"),
            "samples": self.per_s,
            "cpu_us_samples": self.cpu_us,
        }


# -- the records -----------------------------------------------------------------------
def record_complaints(app: IntakeApplication, items: list[dict[str, Any]]) -> None:
    """The workload's complaints, recorded the way intake records them (group commit)."""
    complaints: list[Complaint] = []
    for n, item in enumerate(items, start=1):
        s = item["submission"]
        complaints.append(
            Complaint.receive(
                id=uuid.uuid4(),
                receipt_no=f"2026-{n:07d}",
                received_at=datetime.now(UTC),
                channel=Channel(item["channel"]),
                kind=Kind(s["kind"]),
                field=Field(s["field"]) if s.get("field") else None,
                language=Language(s.get("language", "ko")),
                text=s["text"],
                place=_place(s.get("place") or {}),
                citizen=_citizen(s.get("contact") or {}),
            )
        )
    for start in range(0, len(complaints), SAVE_CHUNK):
        app.save(*complaints[start : start + SAVE_CHUNK])


def _place(place: dict[str, Any]) -> Place | None:
    if not place:
        return None
    district = place.get("district")
    return Place(address=place.get("address"), district=District(district) if district else None)


def _citizen(contact: dict[str, Any]) -> Citizen | None:
    return Citizen.model_validate(contact) if contact else None


def published_type(records: Sequence[KafkaRecord]) -> type[Payload]:
    """The payload type of the records (the version intake's OUTBOX publishes now): what
    the components are registered for, so that none of the records is skipped."""
    types = {type(decode(r.headers, r.key, r.value).data) for r in records}
    if len(types) != 1:
        raise RuntimeError(f"expected records of one type, got {sorted(t.__name__ for t in types)}")
    return types.pop()


def encoded_records(app: IntakeApplication) -> list[KafkaRecord]:
    """What the relay will publish for every recorded event (intake's OUTBOX, encoded)."""
    out: list[KafkaRecord] = []
    position = 0
    while True:
        notifications = app.recorder.select_notifications(position + 1, 1000)
        if not notifications:
            return out
        for notification in notifications:
            envelope = OUTBOX(app.mapper.to_domain_event(notification))
            if envelope is not None:
                out.append(encode(envelope))
        position = notifications[-1].id


# -- raw baselines -----------------------------------------------------------------------
def raw_consumer(settings: KafkaSettings) -> AIOKafkaConsumer:
    """The services' consumer settings (kafka.py: fetch wait, timeouts), without a group
    (the floor: no rebalancing, no offsets committed)."""
    return kafka_consumer(settings, client_id="eungdapso-bench", group_id=None, enable_auto_commit=False)


async def from_the_beginning(consumer: AIOKafkaConsumer, topic: str) -> None:
    await consumer.topics()
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)


@dataclass(frozen=True)
class ConsumeTiming:
    from_start: Span
    from_first_record: Span


async def consume_all(
    settings: KafkaSettings, expected: int, on_batch: Callable[[list[Any]], Awaitable[int]]
) -> ConsumeTiming:
    """Fetch `expected` records of the intake stream from its start, in batches of
    MAX_BATCH, handing each fetched batch to `on_batch` (returns how many it took)."""
    consumer = raw_consumer(settings)
    await consumer.start()
    try:
        await from_the_beginning(consumer, INTAKE_EVENTS.name)
        taken = 0
        start = Mark.now()
        first: Mark | None = None
        while taken < expected:
            if time.perf_counter() - start.wall > WAIT_LIMIT_S:
                raise TimeoutError(f"{taken} of {expected} records after {WAIT_LIMIT_S}s")
            fetched = await consumer.getmany(timeout_ms=200, max_records=MAX_BATCH)
            records = [r for recs in fetched.values() for r in recs]
            if not records:
                continue
            if first is None:
                first = Mark.now()
            taken += await on_batch(records)
        end = Mark.now()
    finally:
        await consumer.stop()
    assert first is not None
    return ConsumeTiming(start.until(end), first.until(end))


async def raw_consume(settings: KafkaSettings, expected: int, *, decoding: bool) -> ConsumeTiming:
    async def take(records: list[Any]) -> int:
        if decoding:
            for r in records:
                decode(r.headers, r.key, r.value)
        return len(records)

    return await consume_all(settings, expected, take)


async def raw_produce(settings: ServiceSettings, records: Sequence[KafkaRecord]) -> Span:
    """How long a bare producer (the relay's settings) takes to have every record acknowledged."""
    start = Mark.now()
    producer = make_producer(settings)
    await producer.start()
    try:
        futures = [
            await producer.send(RAW_PRODUCE_TOPIC, value=r.value, key=r.key, headers=r.headers)
            for r in records
        ]
        await asyncio.gather(*futures)
        return start.until(Mark.now())
    finally:
        await producer.stop()


# -- the platform's components ------------------------------------------------------------
class TimedProjection(Projection):
    """A projection that notes when its first batch arrived (faststream-driven runs)."""

    first_batch_at: Mark | None = None

    async def handle_batch(self, records: Sequence[IncomingRecord], *, dead_letter: bool = True) -> None:
        if self.first_batch_at is None:
            self.first_batch_at = Mark.now()
        await super().handle_batch(records, dead_letter=dead_letter)


def seen_model(name: str) -> ReadModel:
    """A trivial read model: one table of event ids."""
    return ReadModel(name=name, shape=1, tables={name: ("CREATE TABLE {table} (event_id text PRIMARY KEY)",)})


async def do_nothing(tx: ProjectionTx, envelope: Envelope[Any]) -> None:
    return None


def insert_one(table: str) -> Callable[[ProjectionTx, Envelope[Any]], Awaitable[None]]:
    statement = "INSERT INTO {" + table + "} (event_id) VALUES (%s)"

    async def handler(tx: ProjectionTx, envelope: Envelope[Any]) -> None:
        await tx.execute(statement, (envelope.id,))

    return handler


def decide_nothing(unit: Unit, envelope: Envelope[Any]) -> None:
    return None


class BenchProcessStore(EventSourcedApplication):
    name = "BenchProcess"


async def projection(
    db: Database, settings: KafkaSettings, name: str, payload: type[Payload], *, inserting: bool
) -> TimedProjection:
    model = seen_model(name)
    await ReadModels(db).ensure(model)
    component = TimedProjection(
        name, service=SERVICE, db=db, read_model=model, fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms
    )
    component.on(payload, insert_one(name) if inserting else do_nothing)
    return component


async def router_assignment(
    postgres: PostgresTarget, bootstrap: str, schema: str
) -> tuple[Process, RouterApplication, Database]:
    """The router's `assignment` process as its bootstrap builds it, on an event store (schema)
    of its own, with its tables (its decisions write them) and its models loaded before timing."""
    settings = RouterSettings(**service_values(postgres, bootstrap, schema))
    parts = build_router(settings)
    [component] = parts.components
    application = parts.state["application"]
    if not isinstance(component, Process) or not isinstance(application, RouterApplication):
        raise RuntimeError(f"the router's bootstrap changed: {parts.components}, {application!r}")
    await parts.db.open()
    await parts.state["decider"].models.warm()  # once per process: not a cost per complaint
    return component, application, parts.db


async def drive(component: Projection | Process, settings: KafkaSettings, expected: int) -> Span:
    """How long it takes to apply `expected` records, fetched by the raw consumer, through `handle_batch`."""

    async def take(records: list[Any]) -> int:
        await component.handle_batch([IncomingRecord.from_consumer_record(r) for r in records])
        return len(records)

    timing = await consume_all(settings, expected, take)
    check_applied(component, expected)
    return timing.from_start


async def subscribed(component: TimedProjection, settings: ServiceSettings, expected: int) -> Span:
    """From the first batch to the last, the component subscribed as services run it."""
    broker = make_broker(settings)
    component.subscribe(broker)
    await broker.start()
    try:
        deadline = time.monotonic() + WAIT_LIMIT_S
        while component.stats.applied < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{component.id}: {component.stats.applied} of {expected} applied")
            await asyncio.sleep(0.002)
        end = Mark.now()
    finally:
        await broker.stop()
    check_applied(component, expected)
    assert component.first_batch_at is not None
    return component.first_batch_at.until(end)


def check_applied(component: Projection | Process, expected: int) -> None:
    s = component.stats
    if (s.applied, s.duplicates, s.dead_lettered, s.skipped) != (expected, 0, 0, 0):
        raise RuntimeError(f"{component.id}: {s.as_dict()}, expected {expected} applied and nothing else")


async def relay_run(
    app: IntakeApplication, db: Database, settings: ServiceSettings, name: str, last: int
) -> Span:
    """From the relay's start until its position reaches the last recorded event."""
    relay = OutboxRelay(name=name, application=app, translate=OUTBOX, db=db, settings=settings)
    start = Mark.now()
    await relay.start()
    try:
        deadline = time.monotonic() + WAIT_LIMIT_S
        while relay.position < last:
            if time.monotonic() > deadline:
                raise TimeoutError(f"relay at {relay.position} of {last}: {relay.last_error}")
            await asyncio.sleep(0.002)
        return start.until(Mark.now())
    finally:
        await relay.stop()


# -- the section -------------------------------------------------------------------------
def service_values(postgres: PostgresTarget, bootstrap: str, schema: str) -> dict[str, Any]:
    return {
        "kafka_bootstrap_servers": bootstrap,
        "postgres_host": postgres.host,
        "postgres_port": postgres.port,
        "postgres_dbname": postgres.dbname,
        "postgres_user": postgres.user,
        "postgres_password": SecretStr(postgres.password),
        "postgres_schema": schema,
    }


def settings_for(postgres: PostgresTarget, bootstrap: str, schema: str) -> ServiceSettings:
    return ServiceSettings(service_name=SERVICE, **service_values(postgres, bootstrap, schema))


async def create_raw_topic(settings: KafkaSettings) -> None:
    admin = kafka_admin(settings, client_id="eungdapso-bench")
    await admin.start()
    try:  # the same partitioning as the streams
        await admin.create_topics([NewTopic(RAW_PRODUCE_TOPIC, num_partitions=4, replication_factor=1)])
    finally:
        await admin.close()


async def platform_cost(
    postgres: PostgresTarget, items: list[dict[str, Any]], *, rounds: int, log_level: str
) -> dict[str, Any]:
    # As the services run: an SDK tracer provider (spans get ids); logs at `log_level`
    # (configured by the caller; the system section runs its services at WARNING).
    configure_tracing(SERVICE)
    broker = TansuBroker(log_file=Path(tempfile.mkdtemp(prefix="eds-bench-platform-")) / "broker.log")
    broker.start()
    bootstrap = broker.bootstrap_servers
    intake_settings = settings_for(postgres, bootstrap, "bench_intake")
    kafka: KafkaSettings = intake_settings
    intake_app = IntakeApplication(env=intake_settings.eventsourcing_env())
    intake_db = Database.for_service(intake_settings)
    consumers_db = Database.for_service(settings_for(postgres, bootstrap, "bench_consumers"))
    process_settings = settings_for(postgres, bootstrap, "bench_process")
    store = BenchProcessStore(env=process_settings.eventsourcing_env())
    raw_consume_only, raw_decode = Samples(), Samples()
    noop, inserting, process, router = Samples(), Samples(), Samples(), Samples()
    raw_decode_first, subscribed_noop = Samples(), Samples()
    raw_produce_s, relay_s = Samples(), Samples()
    try:
        await ensure_topics(bootstrap)
        await create_raw_topic(kafka)
        await intake_db.open()
        await consumers_db.open()
        progress.info("platform_recording", complaints=len(items))
        await asyncio.to_thread(record_complaints, intake_app, items)
        records = await asyncio.to_thread(encoded_records, intake_app)
        last = intake_app.recorder.max_notification_id() or 0
        received = published_type(records)
        n = len(records)
        if n != len(items):
            raise RuntimeError(f"{len(items)} complaints recorded but {n} records to publish")
        # The records the components read: exactly those the relay publishes.
        producer = kafka_producer(kafka, client_id="eungdapso-bench", acks="all", linger_ms=2)
        await producer.start()
        try:
            for record in records:
                await producer.send(
                    INTAKE_EVENTS.name, value=record.value, key=record.key, headers=record.headers
                )
            await producer.flush()
        finally:
            await producer.stop()

        for r in range(1, rounds + 1):
            progress.info("platform_consumers", round=r, records=n)
            t = await raw_consume(kafka, n, decoding=False)
            raw_consume_only.add(n, t.from_start)
            t = await raw_consume(kafka, n, decoding=True)
            raw_decode.add(n, t.from_start)
            raw_decode_first.add(n, t.from_first_record)
            component = await projection(consumers_db, kafka, f"noop_{r}", received, inserting=False)
            noop.add(n, await drive(component, kafka, n))
            component = await projection(consumers_db, kafka, f"insert_{r}", received, inserting=True)
            inserting.add(n, await drive(component, kafka, n))
            decider = Process(
                f"noop_{r}",
                service=SERVICE,
                application=store,
                fetch_max_wait_ms=kafka.kafka_fetch_max_wait_ms,
            )
            decider.on(received, decide_nothing)
            process.add(n, await drive(decider, kafka, n))
            assignment, routings, router_db = await router_assignment(
                postgres, bootstrap, f"bench_router_{r}"
            )
            try:
                router.add(n, await drive(assignment, kafka, n))
            finally:
                routings.close()
                await router_db.close()
            component = await projection(consumers_db, kafka, f"subscribed_{r}", received, inserting=False)
            subscribed_noop.add(n, await subscribed(component, intake_settings, n))

        for r in range(1, rounds + 1):
            progress.info("platform_relay", round=r, events=n)
            raw_produce_s.add(n, await raw_produce(intake_settings, records))
            relay_s.add(n, await relay_run(intake_app, intake_db, intake_settings, f"bench_{r}", last))
    finally:
        await consumers_db.close()
        await intake_db.close()
        intake_app.close()
        store.close()
        broker.stop()

    result: dict[str, Any] = {
        "events": n,
        "rounds": rounds,
        "log_level": log_level,
        "raw_consume": raw_consume_only.as_dict(),
        "raw_consume_decode": raw_decode.as_dict(),
        "raw_consume_decode_from_first_record": raw_decode_first.as_dict(),
        "projection_noop": noop.as_dict(),
        "projection_insert": inserting.as_dict(),
        "process_noop": process.as_dict(),
        "process_router_assignment": router.as_dict(),
        "projection_noop_subscribed": subscribed_noop.as_dict(),
        "raw_produce": raw_produce_s.as_dict(),
        "relay": relay_s.as_dict(),
    }
    result["ratios"] = {
        "projection_noop_vs_raw_consume_decode": noop.median / raw_decode.median,
        "projection_insert_vs_raw_consume_decode": inserting.median / raw_decode.median,
        "process_noop_vs_raw_consume_decode": process.median / raw_decode.median,
        "process_router_assignment_vs_raw_consume_decode": router.median / raw_decode.median,
        "projection_noop_subscribed_vs_raw_consume_decode": subscribed_noop.median / raw_decode_first.median,
        "relay_vs_raw_produce": relay_s.median / raw_produce_s.median,
    }
    return result


def _spread(m: dict[str, Any]) -> str:
    """events/s, median (min-max), and the bench process's CPU per event."""
    return f"{m['per_s']:.0f} ({m['min_per_s']:.0f}-{m['max_per_s']:.0f}); {m['cpu_us_per_event']:.0f} µs"


def report(p: dict[str, Any]) -> str:
    r = p["ratios"]
    raw = f"consume + decode {_spread(p['raw_consume_decode'])}"
    rows = [
        ("Projection, no-op handler", "projection_noop", raw, "projection_noop_vs_raw_consume_decode"),
        (
            "Projection, one INSERT per event",
            "projection_insert",
            raw,
            "projection_insert_vs_raw_consume_decode",
        ),
        ("Process, no-op, PostgreSQL event store", "process_noop", raw, "process_noop_vs_raw_consume_decode"),
        (
            "Process, the router's assignment, PostgreSQL event store",
            "process_router_assignment",
            raw,
            "process_router_assignment_vs_raw_consume_decode",
        ),
        (
            "Projection, no-op, faststream subscriber (from 1st batch)",
            "projection_noop_subscribed",
            f"consume + decode from 1st record {_spread(p['raw_consume_decode_from_first_record'])}",
            "projection_noop_subscribed_vs_raw_consume_decode",
        ),
        (
            "Outbox relay, start → position N",
            "relay",
            f"produce (acks=all) {_spread(p['raw_produce'])}",
            "relay_vs_raw_produce",
        ),
    ]
    lines = [
        "| platform measure (events/s; CPU/event) | platform | raw aiokafka (same run, records) | ratio |",
        "|---|---|---|---|",
    ]
    lines += [f"| {name} | {_spread(p[key])} | {base} | {r[ratio]:.2f}x |" for name, key, base, ratio in rows]
    lines.append(
        f"\n{p['events']} ComplaintReceived records, {p['rounds']} rounds: events/s median (min-max); "
        f"CPU µs per event of the bench process (median; PostgreSQL and broker not counted); "
        f"raw consume without decoding {_spread(p['raw_consume'])}; platform logs at {p['log_level']}"
    )
    return "\n".join(lines)
