"""Consumer components: how every service reads events from Kafka, exactly once in effect.

A service runs one or more named components, each with its own consumer group
(`eungdapso-<service>.<component>`) and its own ledger:
- a `Projection` changes read-model rows; the ledger rows of the messages it applies are
  written in the same PostgreSQL transaction (one per batch);
- a `Process` decides: its handlers get → change aggregates of the service's event store
  (and may add read-model rows), and the new events, those rows and the ledger entries are
  recorded in one transaction. Deciding runs in a worker thread, off the event loop. Which
  aggregates a batch's handlers ask about is looked up in one query before they run (see
  `Process.on`), not one read per event.

Handlers are registered per payload type (several per type, in order; the same handler
twice is an error, never a silent replacement). A component subscribes to the streams
that carry the types it handles (the stream registry) and skips other types by their
`ce_type` header, before decoding anything.

Failures:
- a record that breaks its contract (not a CloudEvent, unknown type, invalid payload,
  oversized ids, undecodable CloudEvents headers, a type published on another owner's
  stream) goes to the dead-letter topic with the reason, and the component moves on;
- a data error (a value the database refuses, a rule an aggregate enforces) is found
  record by record at once, and the failing record is dead-lettered;
- an infrastructure failure (database or broker unavailable) is retried for as long as it
  lasts: the offsets are not committed and the batch comes again; what was already applied
  is skipped through the ledger;
- any other failure is retried, and after `MAX_ATTEMPTS` the failing record is found and
  dead-lettered, so one bad message never stops a partition.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypedDict, TypeVar, Unpack
from uuid import UUID

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from eventsourcing.domain import Aggregate
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber
from opentelemetry.trace import SpanKind

from eungdapso_platform.db import Database
from eungdapso_platform.domain import EventSourcedApplication, acting_as
from eungdapso_platform.errors import Fault, classify
from eungdapso_platform.eventstore import IntegrityError, LedgerEntry, Write
from eungdapso_platform.logging import get_logger
from eungdapso_platform.readmodel import Generation, ProjectionTx, ReadModel, ReadModels
from eungdapso_platform.tracing import causation_id_var, continued_trace, correlation_id_var
from eungdapso_schemas.envelope import ContractViolation, Envelope, decode, event_type_of
from eungdapso_schemas.events import ComplaintEvent, Payload
from eungdapso_schemas.streams import DEAD_LETTER, STREAMS, Stream, payload_type, stream_for

log = get_logger("eungdapso.consumer")

P = TypeVar("P", bound=Payload)
H = TypeVar("H")
A = TypeVar("A", bound=Aggregate)

#: Apply one event to a read model inside the batch's transaction.
ProjectionHandler = Callable[[ProjectionTx, Envelope[Any]], Awaitable[None]]
#: Apply a batch's events (in the order they came) to a read model inside its transaction.
BatchApply = Callable[[ProjectionTx, list[Envelope[Any]]], Awaitable[None]]


class BatchHandler:
    """A projection handler that takes a batch's events of all the types it is registered
    for at once (`Projection.on_batch`), in the order they came, after the batch's
    per-event handlers: for a read model of its own, where one read and one write for the
    whole batch do what a round trip or two per event did. Called with one event (as any
    handler may be), it applies a batch of one."""

    def __init__(self, apply: BatchApply) -> None:
        self.apply = apply

    async def __call__(self, tx: ProjectionTx, envelope: Envelope[Any]) -> None:
        await self.apply(tx, [envelope])

    def __repr__(self) -> str:
        return f"BatchHandler({getattr(self.apply, '__qualname__', self.apply)})"


RETRY_DELAY_S = 0.5
#: After this many failures of the same batch for an unknown reason, the failing record is
#: dead-lettered instead of blocking its partition forever.
MAX_ATTEMPTS = 5
#: Records fetched and applied together, in one transaction.
MAX_BATCH = 500
#: How long a component's batch loop waits for records before it looks again (records that
#: arrive meanwhile end the wait at once: see `PromptBatchSubscriber`).
IDLE_WAIT_MS = 200


class PromptBatchSubscriber(BatchSubscriber):
    """faststream's batch subscriber without its blind sleep. faststream 0.7's loop, finding
    no record within its wait, sleeps as long again without looking: a complaint reaching an
    idle consumer waited up to that long more (200 ms), at every hop, which is how a city's
    quiet hours look to most complaints. Here the loop looks again at once; it pauses only
    when the consumer answers empty before the wait is half over (stopped, or its broker
    gone), so that it never spins."""

    __slots__ = ()

    async def get_msg(self, consumer: AIOKafkaConsumer) -> tuple[ConsumerRecord[Any, Any], ...]:
        started = time.monotonic()
        batches = await consumer.getmany(timeout_ms=self.batch_timeout_ms, max_records=self.max_records)
        if batches:
            return tuple(record for records in batches.values() for record in records)
        if time.monotonic() - started < self.batch_timeout_ms / 2000:
            await asyncio.sleep(self.batch_timeout_ms / 1000)
        return ()


class DecodedRecords:
    """Envelopes decoded lately, by the record's content (headers, key and value): the
    components of one process that read the same streams (the publisher's two projections)
    decode each record once. By content, not position: a development broker that restarts
    empty hands out the same offsets again for other records. Envelopes are immutable."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._envelopes: OrderedDict[tuple[Any, ...], Envelope[Any]] = OrderedDict()

    def decode(self, record: IncomingRecord) -> Envelope[Any]:
        """The record's envelope; raises ContractViolation as `decode` does (never kept)."""
        content = (tuple(record.headers), record.key, record.value)
        try:
            envelope = self._envelopes.get(content)
        except TypeError:  # a header that is not (str, bytes): decode says what is wrong
            return decode(record.headers, record.key, record.value)
        if envelope is None:
            envelope = decode(record.headers, record.key, record.value)
            self._envelopes[content] = envelope
            if len(self._envelopes) > self.size:
                self._envelopes.popitem(last=False)
        return envelope


def share_decoding(components: Iterable[Component[Any]]) -> None:
    """Components of one process that read a stream in common decode its records once, through
    one `DecodedRecords` (the publisher's two projections). The others decode each record as it
    comes: a cache nobody else reads from never hits, and its thousands of envelopes would
    only lengthen every full garbage collection (heap.py)."""
    readers: dict[str, list[Component[Any]]] = {}
    for component in components:
        for stream in component.streams:
            readers.setdefault(stream.name, []).append(component)
    shared = DecodedRecords()
    for together in readers.values():
        if len(together) > 1:
            for component in together:
                component.decoded = shared


@dataclass(frozen=True)
class IncomingRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]

    @classmethod
    def from_consumer_record(cls, record: Any) -> IncomingRecord:
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=tuple(record.headers or ()),
        )


@dataclass
class ComponentStats:
    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    skipped: int = 0
    #: Since when the current batch keeps failing (monotonic seconds), or None.
    failing_since: float | None = None
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        stalled = None if self.failing_since is None else round(time.monotonic() - self.failing_since, 1)
        return {
            "applied": self.applied,
            "duplicates": self.duplicates,
            "dead_lettered": self.dead_lettered,
            "skipped": self.skipped,
            "failing_for_s": stalled,
            "last_error": self.last_error,
        }


class ComponentOptions(TypedDict, total=False):
    """How a component consumes (`Component`'s keyword arguments, for its kinds)."""

    fetch_max_wait_ms: int
    cadence_s: float
    max_batch: int


class Component(ABC, Generic[H]):
    kind: ClassVar[str]

    def __init__(
        self,
        name: str,
        *,
        service: str,
        fetch_max_wait_ms: int = 50,
        cadence_s: float = 0.0,
        max_batch: int = MAX_BATCH,
    ) -> None:
        if not name.replace("_", "").isalnum():
            raise ValueError(f"component names are [a-z0-9_]: {name!r}")
        if cadence_s < 0:
            raise ValueError(f"{name}: the cadence is a number of seconds, not {cadence_s}")
        if not 1 <= max_batch <= MAX_BATCH:
            raise ValueError(f"{name}: a batch is 1 to {MAX_BATCH} records, not {max_batch}")
        #: At most this many records a batch. A component whose records each cost much (the
        #: router reads every complaint) commits, and passes on, what it decided sooner.
        self.max_batch = max_batch
        self.name = name
        self.service = service
        # A component on a cadence need not ask the broker for more any sooner: its consumer's
        # idle polls (answered after the full wait by the development broker) cost less.
        self.fetch_max_wait_ms = max(fetch_max_wait_ms, min(round(cadence_s * 1000), 1000))
        #: At least this long from one batch's start to the next one's: a component nobody
        #: waits on (statistics) takes what arrived meanwhile as one batch, so under load it
        #: pays its per-batch cost (a transaction, a ledger claim, an offset commit) once a
        #: cadence instead of once per trickle, and leaves the machine to those on the path a
        #: citizen waits on. 0: as soon as records arrive.
        self.cadence_s = cadence_s
        self.broker: KafkaBroker | None = None
        self.handlers: dict[type[Payload], list[H]] = {}
        self.stats = ComponentStats()
        self._failures: dict[tuple[str, int, int], int] = {}
        #: Records already dead-lettered, so a redelivered batch does not send them twice.
        self._dead: OrderedDict[tuple[str, int, int], None] = OrderedDict()
        #: Cleared while the component must not apply anything yet (a read model rebuilding).
        self.open = asyncio.Event()
        self.open.set()
        #: Decoded records shared with the process's other readers of a stream, if any
        #: (`share_decoding`); None: each record is decoded as it comes.
        self.decoded: DecodedRecords | None = None

    # -- identity --------------------------------------------------------------------
    @property
    def id(self) -> str:
        return f"{self.service}.{self.name}"

    @property
    def group_id(self) -> str:
        return f"eungdapso-{self.id}"

    @property
    @abstractmethod
    def ledger(self) -> str: ...

    # -- registration ----------------------------------------------------------------
    def on(self, payload: type[P], handler: H) -> None:
        """Handle events of `payload` type with `handler` (after any registered before)."""
        stream_for(payload)  # only registered types: fails at start-up, not at the first event
        registered = self.handlers.setdefault(payload, [])
        if handler in registered:
            raise ValueError(f"{self.id}: this handler is already registered for {payload.__name__}")
        registered.append(handler)

    @property
    def handled_types(self) -> frozenset[str]:
        return frozenset(p.cloudevents_type() for p in self.handlers)

    @property
    def streams(self) -> tuple[Stream, ...]:
        topics = {stream_for(p).name for p in self.handlers}
        return tuple(s for s in STREAMS if s.name in topics)

    def subscribe(self, broker: KafkaBroker) -> None:
        """One Kafka consumer for all the component's streams (one group member per replica)."""
        if self.broker is not None:
            raise RuntimeError(f"{self.id} is already subscribed")
        if not self.handlers:
            raise ValueError(f"{self.id} handles no event type")
        self.broker = broker

        subscriber = broker.subscriber(
            *(s.name for s in self.streams),
            group_id=self.group_id,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            batch=True,
            max_records=self.max_batch,
            batch_timeout_ms=IDLE_WAIT_MS,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
            parser=_tolerant_parser,
            decoder=_raw_bodies,
            title=self.id,
        )
        if type(subscriber) is not BatchSubscriber:
            made = type(subscriber).__name__
            raise TypeError(f"{self.id}: faststream made a {made}, not a BatchSubscriber")
        subscriber.__class__ = PromptBatchSubscriber  # the same object, its loop without the blind sleep

        @subscriber
        async def on_batch(body: list[bytes], message: KafkaMessage) -> None:
            started = time.monotonic()
            raw = message.raw_message
            records = raw if isinstance(raw, tuple | list) else (raw,)
            await self.handle_batch([IncomingRecord.from_consumer_record(r) for r in records])
            if self.cadence_s:
                # The consumer keeps fetching meanwhile: the next batch is what came since.
                await asyncio.sleep(self.cadence_s - (time.monotonic() - started))

    # -- handling --------------------------------------------------------------------
    async def handle(self, record: IncomingRecord, *, dead_letter: bool = True) -> None:
        await self.handle_batch([record], dead_letter=dead_letter)

    async def handle_batch(self, records: Sequence[IncomingRecord], *, dead_letter: bool = True) -> None:
        await self.open.wait()
        pairs: list[tuple[IncomingRecord, Envelope[Any]]] = []
        for record in records:
            envelope = await self._validated(record, dead_letter)
            if envelope is not None:
                pairs.append((record, envelope))
        if not pairs:
            return
        first = (records[0].topic, records[0].partition, records[0].offset)
        try:
            await self._apply([envelope for _, envelope in pairs])
            self._failures.pop(first, None)
            self.stats.failing_since = None
        except Exception as exc:
            fault = classify(exc)
            attempts = self._failures.get(first, 0) + 1
            self.stats.last_error = f"{type(exc).__name__}: {str(exc)[:300]}"
            if self.stats.failing_since is None:
                self.stats.failing_since = time.monotonic()
            retry = fault is Fault.INFRASTRUCTURE or (fault is Fault.UNKNOWN and attempts < MAX_ATTEMPTS)
            if retry:
                self._failures[first] = attempts
                log.warning(
                    "batch_failed_will_retry",
                    component=self.id,
                    size=len(pairs),
                    attempt=attempts,
                    fault=fault.value,
                    error=self.stats.last_error,
                )
                await asyncio.sleep(RETRY_DELAY_S)
                raise
            # The record's own fault (or an unknown one, MAX_ATTEMPTS times): find the
            # failing records one by one and dead-letter them; apply the others.
            self._failures.pop(first, None)
            for record, envelope in pairs:
                try:
                    await self._apply([envelope])
                except Exception as single:
                    if classify(single) is Fault.INFRASTRUCTURE:
                        raise
                    reason = (
                        f"processing failed ({classify(single).value} error, attempt {attempts}): "
                        f"{type(single).__name__}: {str(single)[:1000]}"
                    )
                    if dead_letter:
                        await self._dead_letter(record, reason)
                    else:
                        log.warning("skipped_failing_record", component=self.id, reason=reason[:500])
            self.stats.failing_since = None

    @abstractmethod
    async def _apply(self, envelopes: list[Envelope[Any]]) -> None: ...

    async def _validated(self, record: IncomingRecord, dead_letter: bool) -> Envelope[Any] | None:
        ce_type = event_type_of(record.headers)
        if ce_type is not None and ce_type not in self.handled_types and payload_type(ce_type) is not None:
            self.stats.skipped += 1  # a registered type this component does not handle
            return None
        reason: str | None = None
        envelope: Envelope[Any] | None = None
        try:
            if self.decoded is not None:
                envelope = self.decoded.decode(record)
            else:
                envelope = decode(record.headers, record.key, record.value)
        except ContractViolation as exc:
            reason = str(exc)
        if envelope is not None and stream_for(type(envelope.data)).name != record.topic:
            reason = f"{envelope.type} does not belong on {record.topic} (its stream is its owner's)"
        if reason is None:
            return envelope
        if dead_letter:
            await self._dead_letter(record, reason)
        else:
            log.info("skipped_invalid_record", topic=record.topic, offset=record.offset, reason=reason)
        return None

    def _duplicate(self, envelope: Envelope[Any]) -> None:
        self.stats.duplicates += 1
        log.info(
            "duplicate_event_skipped", component=self.id, event_id=envelope.id, complaint_id=envelope.subject
        )

    def _applied(self, applied: Sequence[Envelope[Any]]) -> None:
        # Only now is it true: a batch that fails rolls back every event in it.
        self.stats.applied += len(applied)
        for envelope in applied:
            with structlog.contextvars.bound_contextvars(**log_ids(envelope)):
                log.info("event_applied", component=self.id, topic=stream_for(type(envelope.data)).name)

    async def _dead_letter(self, record: IncomingRecord, reason: str) -> None:
        position = (record.topic, record.partition, record.offset)
        if position in self._dead:
            return
        log.warning(
            "dead_lettered",
            component=self.id,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason[:500],
        )
        if self.broker is None:
            raise RuntimeError(f"no broker to dead-letter to: {reason}")
        # The original headers are kept as they came (bytes, whatever they hold).
        headers: dict[str, str] = {name: _RawHeader(raw) for name, raw in record.headers}
        headers.update(
            {
                "dlq_reason": reason[:2000],
                "dlq_topic": record.topic,
                "dlq_partition": str(record.partition),
                "dlq_offset": str(record.offset),
                "dlq_consumer": self.group_id,
            }
        )
        await self.broker.publish(record.value or b"", DEAD_LETTER.name, key=record.key, headers=headers)
        self.stats.dead_lettered += 1
        self._dead[position] = None
        if len(self._dead) > 10_000:
            self._dead.popitem(last=False)


class Projection(Component[ProjectionHandler]):
    """Applies events to a read model, exactly once each, one transaction per batch."""

    kind = "projection"

    def __init__(
        self,
        name: str,
        *,
        service: str,
        db: Database,
        read_model: ReadModel,
        generation: int | None = None,
        **options: Unpack[ComponentOptions],
    ) -> None:
        super().__init__(name, service=service, **options)
        self.db = db
        self.read_model = read_model
        self.read_models = ReadModels(db)
        #: Pinned to one generation (a rebuild), or None: the live one, looked up per batch.
        self.pinned = generation
        self._generation = generation or 1

    @property
    def ledger(self) -> str:
        return self.ledger_of(self._generation)

    def ledger_of(self, generation: int) -> str:
        return f"{self.id}@{generation}"

    def on_batch(self, payloads: Iterable[type[Payload]], apply: BatchApply) -> BatchHandler:
        """Handle events of these types a batch at once (`BatchHandler`). Only for tables no
        per-event handler of this projection writes: the batch handler runs after them."""
        handler = BatchHandler(apply)
        for payload in payloads:
            self.on(payload, handler)
        return handler

    async def _apply(self, envelopes: list[Envelope[Any]]) -> None:
        applied: list[Envelope[Any]] = []
        batched: dict[BatchHandler, list[Envelope[Any]]] = {}
        async with self.db.transaction() as conn:
            number = self.pinned or await self.read_models.live_generation(conn, self.read_model)
            self._generation = number
            tx = ProjectionTx(conn, Generation(self.read_model, number, self.db.schema))
            # One ledger statement per batch, not one round trip per message.
            fresh = await self.db.claim(conn, self.ledger_of(number), [e.id for e in envelopes])
            # Pipeline mode: a statement whose result nobody reads is sent without waiting for
            # the server, so a batch costs a round trip per result read, not per statement
            # (an error still fails the whole batch: at the next read, or at the pipeline's end).
            async with conn.pipeline():
                for envelope in envelopes:
                    with message_context(envelope, "project", actor=self.id):
                        if envelope.id not in fresh:
                            self._duplicate(envelope)  # applied before, or earlier in this batch
                            continue
                        fresh.discard(envelope.id)
                        for handler in self.handlers[type(envelope.data)]:
                            if isinstance(handler, BatchHandler):
                                batched.setdefault(handler, []).append(envelope)
                            else:
                                await handler(tx, envelope)
                        applied.append(envelope)
                for batch_handler, batch in batched.items():
                    await batch_handler.apply(tx, batch)
        self._applied(applied)


class Unit:
    """What a process's handlers decide within one batch: the aggregates they changed (got
    once, shared by the batch's events), the read-model rows they add, the ledger entries."""

    def __init__(self, application: EventSourcedApplication) -> None:
        self.application = application
        self.aggregates: dict[UUID, Aggregate] = {}
        self.writes: list[Write] = []
        self.entries: list[LedgerEntry] = []
        #: Aggregates `look_up` found recorded, and found not recorded, when it looked.
        self._recorded: set[UUID] = set()
        self._unrecorded: set[UUID] = set()

    def look_up(self, aggregate_ids: Iterable[UUID]) -> None:
        """Learn which of these aggregates are recorded, all in one query (the process does
        it for its whole batch before the handlers run: see `Process.on`)."""
        ids = set(aggregate_ids) - self.aggregates.keys() - self._recorded - self._unrecorded
        if not ids:
            return
        recorded = self.application.recorded_among(ids)
        self._recorded |= recorded
        self._unrecorded |= ids - recorded

    def known(self, recorded: set[UUID], unrecorded: set[UUID]) -> None:
        """What a lookup made elsewhere found (`Process` reads it with the ledger)."""
        self._recorded |= recorded
        self._unrecorded |= unrecorded

    def exists(self, aggregate_id: UUID) -> bool:
        """Whether the aggregate is recorded or added by this batch (no read if looked up)."""
        if aggregate_id not in self._unrecorded:
            self.look_up([aggregate_id])
        return aggregate_id in self.aggregates or aggregate_id in self._recorded

    def get(self, aggregate_type: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate as this batch has changed it so far, or as recorded, or None."""
        found = self.aggregates.get(aggregate_id)
        if found is None:
            if aggregate_id in self._unrecorded:
                return None  # looked up for the batch: not recorded, so nothing to read
            found = self.application.find(aggregate_id)
            if found is None:
                return None
            self.aggregates[aggregate_id] = found
        if not isinstance(found, aggregate_type):
            raise TypeError(f"{aggregate_id} is a {type(found).__name__}, not a {aggregate_type.__name__}")
        return found

    def add(self, aggregate: Aggregate) -> None:
        """A new aggregate (or one got elsewhere) to record with the batch."""
        self.aggregates[aggregate.id] = aggregate

    def write(self, statement: str, *params: Any) -> None:
        self.writes.append(Write(statement, params))


#: Decide what one event causes, inside the batch's unit (runs in a worker thread).
ProcessHandler = Callable[[Unit, Envelope[Any]], None]
#: The ids of the aggregates a handler asks the unit about for one event.
AggregateIds = Callable[[Envelope[Any]], Iterable[UUID]]
#: Work for a whole batch's events of one type, done before their handlers run.
BatchPreparer = Callable[[Unit, list[Envelope[Any]]], None]


class Process(Component[ProcessHandler]):
    """Records what events cause in the service's event store, exactly once each."""

    kind = "process"

    def __init__(
        self,
        name: str,
        *,
        service: str,
        application: EventSourcedApplication,
        on_recorded: Callable[[], None] = lambda: None,
        **options: Unpack[ComponentOptions],
    ) -> None:
        super().__init__(name, service=service, **options)
        self.application = application
        #: Called after new events are committed (wakes the outbox relay).
        self.on_recorded = on_recorded
        self.aggregate_ids: dict[type[Payload], list[AggregateIds]] = {}
        self.preparers: dict[type[Payload], list[BatchPreparer]] = {}

    @property
    def ledger(self) -> str:
        return self.id

    def on(
        self,
        payload: type[P],
        handler: ProcessHandler,
        *,
        aggregate_ids: AggregateIds | None = None,
        prepare: BatchPreparer | None = None,
    ) -> None:
        """Handle events of `payload` type with `handler`. With `aggregate_ids`, the ids of
        the aggregates the handler asks about for an event: the batch's are looked up in one
        query before any handler runs, and `unit.exists` / `unit.get` of one found not
        recorded cost no read (otherwise each costs a read of the event store). With
        `prepare`, called once per batch with the unit and the batch's events of that type
        (after the lookup, before any handler): what a handler would otherwise do event by
        event and is cheaper done for all at once (one query for the batch). It only
        prepares: the handlers still decide, each event in order."""
        super().on(payload, handler)
        if aggregate_ids is not None:
            self.aggregate_ids.setdefault(payload, []).append(aggregate_ids)
        if prepare is not None:
            self.preparers.setdefault(payload, []).append(prepare)

    async def _apply(self, envelopes: list[Envelope[Any]]) -> None:
        duplicates, recorded = await asyncio.to_thread(self._check_decide_and_record, envelopes)
        for envelope in duplicates:
            self._duplicate(envelope)
        if not recorded:
            return
        self._applied(recorded)
        self.on_recorded()

    def _check_decide_and_record(
        self, envelopes: list[Envelope[Any]]
    ) -> tuple[list[Envelope[Any]], list[Envelope[Any]]]:
        """The batch's redeliveries (the ledger has them) and what the rest recorded. Which
        messages the ledger has and which of the aggregates the handlers ask about are
        recorded are read together, in one round trip, in the same worker thread."""
        recorder: Any = self.application.recorder
        aggregate_ids = set(self._aggregate_ids(envelopes))
        done, recorded = recorder.processed_and_recorded(
            self.ledger, [e.id for e in envelopes], aggregate_ids
        )
        duplicates: list[Envelope[Any]] = []
        fresh: list[Envelope[Any]] = []
        for envelope in envelopes:
            if envelope.id in done:
                duplicates.append(envelope)
                continue
            done.add(envelope.id)  # the same event twice in one batch
            fresh.append(envelope)
        if not fresh:
            return duplicates, []
        return duplicates, self._decide_and_record(fresh, known=(recorded, aggregate_ids - recorded))

    def _aggregate_ids(self, envelopes: list[Envelope[Any]]) -> Iterator[UUID]:
        return (
            aggregate_id
            for envelope in envelopes
            for ids_of in self.aggregate_ids.get(type(envelope.data), ())
            for aggregate_id in ids_of(envelope)
        )

    def _decide_and_record(
        self, envelopes: list[Envelope[Any]], known: tuple[set[UUID], set[UUID]] | None = None
    ) -> list[Envelope[Any]]:
        try:
            self._record(self._decide(envelopes, known))
            return envelopes
        except IntegrityError:
            # Somewhere in the batch a decision was already recorded (a redelivery, or the
            # same cause published twice): decide and record one by one, skipping conflicts.
            recorded = []
            for envelope in envelopes:
                try:
                    self._record(self._decide([envelope]))
                    recorded.append(envelope)
                except IntegrityError:
                    self._duplicate(envelope)
            return recorded

    def _decide(
        self, envelopes: list[Envelope[Any]], known: tuple[set[UUID], set[UUID]] | None = None
    ) -> Unit:
        unit = Unit(self.application)
        if known is not None:
            unit.known(*known)
        # One read for the batch instead of one per event. It is only a read: another
        # consumer (a rebalance hands the partition over, the same aggregate decided from
        # another stream) may record one of these aggregates before this batch commits. The
        # event store's unique (originator_id, originator_version) is the guard that holds
        # then: the batch's save conflicts and rolls back, and `_decide_and_record` decides
        # each event again alone, with a lookup that sees what the other one recorded.
        # The conflict alone would not do: a second decision in the same batch would replace
        # the first in the unit (the unit's own aggregates answer that one), a conflicting
        # event would be dropped instead of ledgered, and one repeated aggregate would turn
        # a batch into one transaction per event. Redelivered messages never get here: the
        # ledger filtered them out (`_check_decide_and_record`).
        unit.look_up(self._aggregate_ids(envelopes))
        for payload, preparers in self.preparers.items():
            of_type = [e for e in envelopes if type(e.data) is payload]
            for prepare in preparers if of_type else ():
                prepare(unit, of_type)
        for envelope in envelopes:
            with message_context(envelope, "decide", actor=self.id):
                for handler in self.handlers[type(envelope.data)]:
                    handler(unit, envelope)
            unit.entries.append(LedgerEntry(self.ledger, envelope.id))
        return unit

    def _record(self, unit: Unit) -> None:
        self.application.save(*unit.aggregates.values(), ledger_entries=unit.entries, writes=unit.writes)


def log_ids(envelope: Envelope[Any]) -> dict[str, str | None]:
    """The ids every log line about a message carries."""
    ids: dict[str, str | None] = {
        # Only a complaint event's subject is a complaint id (a submission has none yet).
        "complaint_id": envelope.subject if isinstance(envelope.data, ComplaintEvent) else None,
        "correlation_id": envelope.correlation_id,
        "event_id": envelope.id,
        "event_type": envelope.type,
    }
    parts = (envelope.traceparent or "").split("-")
    if len(parts) == 4 and len(parts[1]) == 32:
        ids["trace_id"] = parts[1]  # outside the message's span, keep its trace
    return ids


@contextmanager
def message_context(envelope: Envelope[Any], step: str, *, actor: str) -> Iterator[None]:
    """Logs, trace and the metadata of what one message causes carry its ids and actor."""
    with (
        structlog.contextvars.bound_contextvars(**log_ids(envelope)),
        continued_trace(
            f"{envelope.type} {step}",
            traceparent=envelope.traceparent,
            tracestate=envelope.tracestate,
            kind=SpanKind.CONSUMER,
            attributes={"messaging.system": "kafka", "cloudevents.event_id": envelope.id},
        ),
        acting_as(actor),
    ):
        cid_token = correlation_id_var.set(envelope.correlation_id)
        cause_token = causation_id_var.set(envelope.id)
        try:
            yield
        finally:
            correlation_id_var.reset(cid_token)
            causation_id_var.reset(cause_token)


class _RawHeader(str):
    """A header value the framework will `.encode()` back to its original bytes: it takes
    headers as text, but a dead letter must keep a binary header exactly as it came."""

    raw: bytes

    def __new__(cls, raw: bytes) -> _RawHeader:
        value = super().__new__(cls, raw.decode("utf-8", "replace"))
        value.raw = raw
        return value

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self.raw


async def _raw_bodies(msg: Any) -> Any:
    # Envelopes are parsed by the component, not by the framework, so that a malformed
    # record reaches dead-lettering instead of failing inside the framework.
    return msg.body


async def _tolerant_parser(records: Any, original: Callable[[Any], Awaitable[Any]]) -> Any:
    """The framework decodes every header as UTF-8 and would fail (and redeliver forever)
    on a record with a binary header. Parse a sanitized copy, keep the original bytes."""
    try:
        return await original(records)
    except UnicodeDecodeError:

        def clean(r: Any) -> Any:
            return dataclasses.replace(
                r, headers=[(k, v.decode("utf-8", "replace").encode()) for k, v in (r.headers or ())]
            )

        sanitized = tuple(clean(r) for r in records) if isinstance(records, tuple) else clean(records)
        message = await original(sanitized)
        message.raw_message = records
        return message


__all__ = [
    "BatchHandler",
    "ComponentStats",
    "IncomingRecord",
    "Process",
    "Projection",
    "ProjectionTx",
    "Unit",
    "share_decoding",
]
