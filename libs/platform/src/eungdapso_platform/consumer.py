"""The idempotent consumer every service uses to read events from Kafka.

- Records arrive in batches (one Kafka fetch); each batch is applied in one PostgreSQL
  transaction, so a busy consumer pays one commit per batch, not one per event.
- A record that does not honour its contract (not a CloudEvent, unknown type, payload
  failing its schema, undecodable headers) goes to the dead-letter topic with the reason,
  and the consumer moves on: one bad message never stops a service.
- A projection (read-model change) runs in the same transaction as the ledger rows of the
  messages it applies, so each is applied at most once; delivery is at least once, so
  each is applied exactly once.
- A process step (a decision recorded in the service's own event store) hands the ledger
  entries to the event store, which writes them in the same transaction as the new events.
- Any other failure (database down, ...) is retried: the offsets are not committed and the
  batch is delivered again; what was already applied is skipped through the ledger.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry.trace import SpanKind
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from eungdapso_platform.db import Database
from eungdapso_platform.errors import is_transient
from eungdapso_platform.eventstore import IntegrityError, LedgerEntry
from eungdapso_platform.logging import get_logger
from eungdapso_platform.settings import ServiceSettings
from eungdapso_platform.tracing import causation_id_var, continued_trace, correlation_id_var
from eungdapso_schemas.envelope import ContractViolation, Envelope, decode
from eungdapso_schemas.topics import DEAD_LETTER, Topic

log = get_logger("eungdapso.consumer")

#: Apply one event to a read model inside the caller's transaction.
ProjectionHandler = Callable[[AsyncConnection[DictRow], Envelope[Any]], Awaitable[None]]
#: Decide what one event causes: the new or changed aggregate to record, or None.
Decider = Callable[[Envelope[Any]], Any]
#: Record aggregates together with the ledger entries of the messages that caused them.
Recorder = Callable[[list[Any], list[LedgerEntry]], None]

RETRY_DELAY_S = 0.5
#: After this many failures of the same batch for a non-infrastructure reason, the
#: failing record is dead-lettered instead of blocking its partition forever.
MAX_ATTEMPTS = 5
#: Records fetched and applied together, in one transaction.
MAX_BATCH = 500


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


@dataclass(frozen=True)
class _Projection:
    handler: ProjectionHandler


@dataclass(frozen=True)
class _Process:
    decide: Decider
    record: Recorder


class EventConsumer:
    def __init__(
        self, *, service: str, db: Database, broker: KafkaBroker | None, fetch_max_wait_ms: int = 50
    ) -> None:
        self.service = service
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.db = db
        self.broker = broker
        self.routes: dict[str, _Projection | _Process] = {}
        self.topics: list[Topic] = []
        self.dead_lettered = 0
        self.applied = 0
        self.duplicates = 0
        self._subscribed = False
        #: Failed attempts per batch, keyed by the batch's first record.
        self._failures: dict[tuple[str, int, int], int] = {}
        #: Records already dead-lettered, so a redelivered batch does not send them twice.
        self._dead: OrderedDict[tuple[str, int, int], None] = OrderedDict()

    @classmethod
    def for_service(
        cls, settings: ServiceSettings, db: Database, broker: KafkaBroker | None
    ) -> EventConsumer:
        return cls(
            service=settings.service_name,
            db=db,
            broker=broker,
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        )

    @property
    def group_id(self) -> str:
        return f"eungdapso-{self.service}"

    # -- registration ----------------------------------------------------------------
    def project(self, topic: Topic, handler: ProjectionHandler) -> None:
        """Apply events of `topic` to a read model, exactly once each."""
        self._register(topic, _Projection(handler))

    def process(self, topic: Topic, decide: Decider, record: Recorder) -> None:
        """Record the decisions events of `topic` cause, exactly once each."""
        self._register(topic, _Process(decide, record))

    def _register(self, topic: Topic, route: _Projection | _Process) -> None:
        if topic.payload is None:
            raise ValueError(f"{topic.name} carries no event payload")
        if self.routes and {type(r) for r in self.routes.values()} != {type(route)}:
            # One transaction per batch: it is either the read model's or the event store's.
            raise ValueError("a consumer either projects or processes, not both")
        self.routes[topic.name] = route
        self.topics.append(topic)

    def subscribe(self) -> None:
        """One Kafka consumer for all the service's topics: one group member per replica,
        not one per topic (members with different subscriptions would rebalance each other)."""
        if self.broker is None or self._subscribed or not self.topics:
            return
        self._subscribed = True

        @self.broker.subscriber(
            *(t.name for t in self.topics),
            group_id=self.group_id,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            batch=True,
            max_records=MAX_BATCH,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
            parser=_tolerant_parser,
            decoder=_raw_bodies,
        )
        async def on_batch(body: list[bytes], message: KafkaMessage) -> None:
            await self.handle_batch([IncomingRecord.from_consumer_record(r) for r in message.raw_message])

    # -- handling --------------------------------------------------------------------
    async def handle(self, record: IncomingRecord, *, dead_letter: bool = True) -> None:
        await self.handle_batch([record], dead_letter=dead_letter)

    async def handle_batch(self, records: Sequence[IncomingRecord], *, dead_letter: bool = True) -> None:
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
        except Exception as exc:
            attempts = self._failures.get(first, 0) + 1
            if is_transient(exc) or not dead_letter or attempts < MAX_ATTEMPTS:
                self._failures[first] = attempts
                log.warning(
                    "batch_failed_will_retry",
                    size=len(pairs),
                    attempt=attempts,
                    error=f"{type(exc).__name__}: {exc}",
                )
                await asyncio.sleep(RETRY_DELAY_S)
                raise
            # The same batch failed MAX_ATTEMPTS times for a reason that is not the
            # infrastructure: find the poison record one by one and dead-letter it.
            self._failures.pop(first, None)
            for record, envelope in pairs:
                try:
                    await self._apply([envelope])
                except Exception as single:
                    if is_transient(single):
                        raise
                    await self._dead_letter(
                        record, f"processing failed {attempts} times: {type(single).__name__}: {single}"
                    )

    async def _apply(self, envelopes: list[Envelope[Any]]) -> None:
        if isinstance(self.routes[self.topic_of(envelopes[0])], _Projection):
            await self._project(envelopes)
        else:
            await self._process(envelopes)

    def topic_of(self, envelope: Envelope[Any]) -> str:
        name: str = next(t.name for t in self.topics if t.payload and isinstance(envelope.data, t.payload))
        return name

    async def _validated(self, record: IncomingRecord, dead_letter: bool) -> Envelope[Any] | None:
        reason: str | None = None
        envelope: Envelope[Any] | None = None
        try:
            envelope = decode(record.headers, record.key, record.value)
        except ContractViolation as exc:
            reason = str(exc)
        expected = next((t.payload for t in self.topics if t.name == record.topic), None)
        if envelope is not None and expected is not None and not isinstance(envelope.data, expected):
            reason = f"{envelope.type} does not belong on {record.topic}"
        if reason is None:
            return envelope
        if dead_letter:
            await self._dead_letter(record, reason)
        else:
            log.info("skipped_invalid_record", topic=record.topic, offset=record.offset, reason=reason)
        return None

    async def _project(self, envelopes: list[Envelope[Any]]) -> None:
        applied: list[tuple[Envelope[Any], str]] = []
        async with self.db.transaction() as conn:
            for envelope in envelopes:
                with message_context(envelope, "project"):
                    if not await self.db.claim(conn, self.service, envelope.id):
                        self._duplicate(envelope)
                        continue
                    topic = self.topic_of(envelope)
                    route = self.routes[topic]
                    assert isinstance(route, _Projection)
                    await route.handler(conn, envelope)
                    applied.append((envelope, topic))
        # Only now is it true: a batch that fails rolls back every event in it.
        self.applied += len(applied)
        for envelope, topic in applied:
            with structlog.contextvars.bound_contextvars(**log_ids(envelope)):
                log.info("event_applied", topic=topic)

    async def _process(self, envelopes: list[Envelope[Any]]) -> None:
        done = await self.db.processed_among(self.service, [e.id for e in envelopes])
        decided: list[tuple[Any, LedgerEntry, Envelope[Any]]] = []
        for envelope in envelopes:
            if envelope.id in done:
                self._duplicate(envelope)
                continue
            done.add(envelope.id)  # the same event twice in one batch
            with message_context(envelope, "decide"):
                route = self.routes[self.topic_of(envelope)]
                assert isinstance(route, _Process)
                decision = route.decide(envelope)
            decided.append((decision, LedgerEntry(self.service, envelope.id), envelope))
        if not decided:
            return
        record = self._recorder()
        try:
            await asyncio.to_thread(
                record, [d for d, _, _ in decided if d is not None], [entry for _, entry, _ in decided]
            )
            self.applied += len(decided)
        except IntegrityError:
            # Somewhere in the batch a decision was already recorded (a redelivery, or the
            # same cause published twice): record one by one and skip the ones that conflict.
            for decision, entry, envelope in decided:
                try:
                    await asyncio.to_thread(record, [decision] if decision is not None else [], [entry])
                    self.applied += 1
                except IntegrityError:
                    self._duplicate(envelope)

    def _recorder(self) -> Recorder:
        route = next(iter(self.routes.values()))
        assert isinstance(route, _Process)
        return route.record

    def _duplicate(self, envelope: Envelope[Any]) -> None:
        self.duplicates += 1
        log.info("duplicate_event_skipped", event_id=envelope.id, complaint_id=envelope.subject)

    async def _dead_letter(self, record: IncomingRecord, reason: str) -> None:
        position = (record.topic, record.partition, record.offset)
        if position in self._dead:
            return
        log.warning(
            "dead_lettered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason,
        )
        if self.broker is None:
            raise RuntimeError(f"no broker to dead-letter to: {reason}")
        headers = {name: raw.decode("utf-8", "replace") for name, raw in record.headers}
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
        self.dead_lettered += 1
        self._dead[position] = None
        if len(self._dead) > 10_000:
            self._dead.popitem(last=False)


def log_ids(envelope: Envelope[Any]) -> dict[str, str | None]:
    """The ids every log line about a message carries."""
    ids: dict[str, str | None] = {
        "complaint_id": envelope.subject,
        "correlation_id": envelope.correlation_id,
        "event_id": envelope.id,
        "event_type": envelope.type,
    }
    parts = (envelope.traceparent or "").split("-")
    if len(parts) == 4 and len(parts[1]) == 32:
        ids["trace_id"] = parts[1]  # outside the message's span, keep its trace
    return ids


@contextmanager
def message_context(envelope: Envelope[Any], step: str) -> Iterator[None]:
    """Logs, trace and event metadata of what one message causes carry its ids."""
    with (
        structlog.contextvars.bound_contextvars(**log_ids(envelope)),
        continued_trace(
            f"{envelope.type} {step}",
            traceparent=envelope.traceparent,
            tracestate=envelope.tracestate,
            kind=SpanKind.CONSUMER,
            attributes={"messaging.system": "kafka", "cloudevents.event_id": envelope.id},
        ),
    ):
        cid_token = correlation_id_var.set(envelope.correlation_id)
        cause_token = causation_id_var.set(envelope.id)
        try:
            yield
        finally:
            correlation_id_var.reset(cid_token)
            causation_id_var.reset(cause_token)


async def _raw_bodies(msg: Any) -> Any:
    # Envelopes are parsed by EventConsumer, not by the framework, so that a malformed
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
