"""The idempotent consumer every service uses to read events from Kafka.

- A record that does not honour its contract (not a CloudEvent, unknown type, payload
  failing its schema) goes to the dead-letter topic with the reason, and the consumer
  moves on: one bad message never stops a service.
- A projection (read-model change) runs in one PostgreSQL transaction together with the
  ledger row for the message, so it is applied at most once; delivery is at least once,
  so it is applied exactly once.
- A process step (a decision recorded in the service's own event store) hands the ledger
  entry to the event store, which writes it in the same transaction as the new events.
- Any other failure (database down, ...) is retried: the offset is not committed and
  the record is delivered again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from eungdapso_schemas.envelope import ContractViolation, Envelope, decode
from eungdapso_schemas.events import Payload
from eungdapso_schemas.topics import DEAD_LETTER, Topic
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry.trace import SpanKind
from psycopg import AsyncConnection

from eungdapso_platform.db import Database
from eungdapso_platform.eventstore import LedgerEntry
from eungdapso_platform.logging import get_logger
from eungdapso_platform.tracing import causation_id_var, continued_trace, correlation_id_var

log = get_logger("eungdapso.consumer")

ProjectionHandler = Callable[[AsyncConnection, Envelope[Any]], Awaitable[None]]  # type: ignore[type-arg]
ProcessHandler = Callable[[Envelope[Any], LedgerEntry], Awaitable[None]]

RETRY_DELAY_S = 0.5


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


class EventConsumer:
    def __init__(self, *, service: str, db: Database, broker: KafkaBroker | None) -> None:
        self.service = service
        self.db = db
        self.broker = broker
        self.handlers: dict[str, Callable[[Envelope[Any]], Awaitable[None]]] = {}
        self.topics: list[Topic] = []
        self.dead_lettered = 0
        self.applied = 0
        self.duplicates = 0
        self._subscribed = False

    @property
    def group_id(self) -> str:
        return f"eungdapso-{self.service}"

    # -- registration ----------------------------------------------------------------
    def project(self, topic: Topic, handler: ProjectionHandler) -> None:
        """Apply events of `topic` to a read model, at most once each."""

        async def apply(envelope: Envelope[Any]) -> None:
            async with self.db.transaction() as conn:
                if not await self.db.claim(conn, self.service, envelope.id):
                    self._duplicate(envelope)
                    return
                await handler(conn, envelope)
            self.applied += 1

        self._register(topic, apply)

    def process(self, topic: Topic, handler: ProcessHandler) -> None:
        """Record decisions caused by events of `topic`; the handler saves with the ledger entry."""

        async def apply(envelope: Envelope[Any]) -> None:
            entry = LedgerEntry(self.service, envelope.id)
            if await self.db.was_processed(entry.consumer, entry.message_id):
                self._duplicate(envelope)
                return
            await handler(envelope, entry)
            self.applied += 1

        self._register(topic, apply)

    def _register(self, topic: Topic, apply: Callable[[Envelope[Any]], Awaitable[None]]) -> None:
        if topic.payload is None:
            raise ValueError(f"{topic.name} carries no event payload")
        self.handlers[topic.name] = apply
        self.topics.append(topic)

    def subscribe(self) -> None:
        """One Kafka consumer for all the service's topics: one group member per replica,
        not one per topic (members with different subscriptions would rebalance each other)."""
        if self.broker is None or self._subscribed or not self.topics:
            return
        self._subscribed = True

        async def raw_body(msg: Any) -> Any:
            # The envelope is parsed here, not by the framework, so that a malformed
            # record reaches dead-lettering instead of failing inside the framework.
            return msg.body

        @self.broker.subscriber(
            *(t.name for t in self.topics),
            group_id=self.group_id,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            decoder=raw_body,
        )
        async def on_record(body: bytes, message: KafkaMessage) -> None:
            await self.handle(IncomingRecord.from_consumer_record(message.raw_message))

    # -- handling --------------------------------------------------------------------
    async def handle(self, record: IncomingRecord, *, dead_letter: bool = True) -> None:
        try:
            envelope = decode(record.headers, record.key, record.value)
        except ContractViolation as exc:
            if dead_letter:
                await self._dead_letter(record, str(exc))
            else:
                log.info("skipped_invalid_record", topic=record.topic, offset=record.offset, reason=str(exc))
            return
        apply = self.handlers.get(record.topic)
        if apply is None:
            return
        expected = next(t.payload for t in self.topics if t.name == record.topic)
        if not isinstance(envelope.data, expected or Payload):
            if dead_letter:
                await self._dead_letter(record, f"{envelope.type} does not belong on {record.topic}")
            return
        with (
            structlog.contextvars.bound_contextvars(
                complaint_id=envelope.subject,
                correlation_id=envelope.correlation_id,
                event_id=envelope.id,
                event_type=envelope.type,
            ),
            continued_trace(
                f"{record.topic} process",
                traceparent=envelope.traceparent,
                tracestate=envelope.tracestate,
                kind=SpanKind.CONSUMER,
                attributes={"messaging.system": "kafka", "messaging.destination.name": record.topic},
            ),
        ):
            cid_token = correlation_id_var.set(envelope.correlation_id)
            cause_token = causation_id_var.set(envelope.id)
            try:
                await apply(envelope)
            except Exception as exc:
                log.warning("event_apply_failed_will_retry", error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(RETRY_DELAY_S)
                raise
            finally:
                correlation_id_var.reset(cid_token)
                causation_id_var.reset(cause_token)
            log.debug("event_applied", topic=record.topic, offset=record.offset)

    def _duplicate(self, envelope: Envelope[Any]) -> None:
        self.duplicates += 1
        log.info("duplicate_event_skipped", event_id=envelope.id)

    async def _dead_letter(self, record: IncomingRecord, reason: str) -> None:
        log.warning(
            "dead_lettered", topic=record.topic, partition=record.partition, offset=record.offset, reason=reason
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
