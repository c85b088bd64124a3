"""The outbox relay: from an `eventsourcing` application's notification log to Kafka.

One relay per service publishes at a time (`Leadership`): when the leader dies another
replica takes over from the recorded position. Each integration event goes to its owner's
stream, picked from the payload type by the stream registry.

The broker must keep what it acknowledged. When it does not (a development broker that
forgets everything when it stops, a cluster restored from an old backup), the relay finds
out by reading back the last record it recorded as published; if that record is gone, it
publishes its notification log again from the beginning, and the consumers' ledgers drop
what they had already applied. It checks on taking over, after every broker error, and
every `RELAY_HISTORY_CHECK_INTERVAL_S` seconds.

A relay may also copy events to a family of topics instead of the owner's stream (`topic_for`
picks each event's topic, or none; `TopicMaker` creates a topic the first time it is used):
casework's per-office feeds are such a relay, with its own position and leadership.

The notification log is the outbox: a decision is committed once, in the service's own
event store, and the relay publishes it afterwards. The relay records how far it has
published (`outbox_positions`) only after the broker acknowledged the batch, so a crash
or a broker outage delays events and loses none. A batch that was sent but not
acknowledged is sent again after a restart; consumers deduplicate on the CloudEvents
id, which is derived from the recorded event and so is the same on every send.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol

from eungdapso_platform.db import Database
from eungdapso_platform.eventstore import Published, integration_event
from eungdapso_platform.leadership import Leadership
from eungdapso_platform.logging import get_logger
from eungdapso_platform.settings import ServiceSettings
from eungdapso_schemas.envelope import Envelope, encode
from eungdapso_schemas.streams import stream_for

log = get_logger("eungdapso.outbox")

E = TypeVar("E")
#: Turns a recorded domain event into the integration event to publish, or None
#: for internal events that no other service needs.
Translator = Callable[[DomainEventProtocol[Any]], Envelope[Any] | None]

#: Where an integration event goes (its owner's stream unless the relay says otherwise), or
#: None: not published by this relay.
TopicFor = Callable[[Envelope[Any]], str | None]

#: How often a standby replica tries to become the relay.
FOLLOWER_POLL_S = 1.0
#: Kafka's TOPIC_ALREADY_EXISTS: another replica (or an earlier run) created it first.
_TOPIC_ALREADY_EXISTS = 36


def owners_stream(envelope: Envelope[Any]) -> str:
    return stream_for(type(envelope.data)).name


class TopicMaker:
    """Creates topics the first time a relay publishes to them (a feed's topic per office):
    topics no topic set-up could list in advance."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        partitions: int,
        replication_factor: int,
        configs: Mapping[str, str],
    ) -> None:
        self.settings = settings
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.configs = dict(configs)
        self._known: set[str] = set()

    def forget(self) -> None:
        """After a broker error: the broker may have lost its topics meanwhile."""
        self._known.clear()

    async def ensure(self, topics: Iterable[str]) -> None:
        wanted = set(topics) - self._known
        if not wanted:
            return
        from aiokafka.admin import NewTopic

        from eungdapso_platform.kafka import kafka_admin

        admin = kafka_admin(self.settings, client_id=f"eungdapso-{self.settings.service_name}-topics")
        await admin.start()
        try:
            missing = sorted(wanted - set(await admin.list_topics()))
            if missing:
                response = await admin.create_topics(
                    [
                        NewTopic(
                            name=topic,
                            num_partitions=self.partitions,
                            replication_factor=self.replication_factor,
                            topic_configs=self.configs,
                        )
                        for topic in missing
                    ]
                )
                failed = [e for e in response.topic_errors if e[1] not in (0, _TOPIC_ALREADY_EXISTS)]
                if failed:
                    raise RuntimeError(f"cannot create topics: {failed}")
                log.info("topics_created", topics=missing)
        finally:
            await admin.close()
        self._known |= wanted


class Outbox:
    """Which recorded domain events other services learn about, and as what.

    `translate(Complaint.Received, received_v1)`: mypy checks that `received_v1` takes a
    `Complaint.Received` and returns a payload that names its subject, field by field."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._translations: dict[type, Callable[[Any], Published]] = {}

    def translate(self, event_class: type[E], to: Callable[[E], Published]) -> None:
        if event_class in self._translations:
            raise ValueError(f"{event_class.__qualname__} already has a translation")
        self._translations[event_class] = to

    def __call__(self, domain_event: DomainEventProtocol[Any]) -> Envelope[Any] | None:
        translate = self._translations.get(type(domain_event))
        if translate is None:
            return None
        return integration_event(domain_event, translate(domain_event), source=self.source)


def make_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    from eungdapso_platform.kafka import kafka_producer

    # enable_idempotence stays off: the development broker rejects InitProducerId.
    # Duplicates from retries are removed by the consumers' ledgers instead.
    return kafka_producer(
        settings, client_id=f"eungdapso-{settings.service_name}-relay", acks="all", linger_ms=2
    )


def make_history_reader(settings: ServiceSettings) -> AIOKafkaConsumer:
    from eungdapso_platform.kafka import kafka_consumer

    return kafka_consumer(
        settings,
        client_id=f"eungdapso-{settings.service_name}-relay-check",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="none",
    )


class OutboxRelay:
    def __init__(
        self,
        *,
        name: str,
        application: Application[Any],
        translate: Translator,
        db: Database,
        settings: ServiceSettings,
        topic_for: TopicFor = owners_stream,
        topics: TopicMaker | None = None,
    ) -> None:
        self.name = name
        self.application = application
        self.translate = translate
        self.topic_for = topic_for
        self.topics = topics
        self.db = db
        self.settings = settings
        self.leadership = Leadership(
            db.conninfo,
            scope=db.schema,
            role=f"outbox.{name}",
            connect_timeout_s=settings.postgres_connect_timeout_s,
        )
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._producer: AIOKafkaProducer | None = None
        self.position = 0
        self.published = 0
        self.republished_from_start = 0
        self.connected = False
        self.last_error: str | None = None
        self._history_checked_at: float | None = None
        self._stopping = False

    @property
    def leader(self) -> bool:
        return self.leadership.is_leader

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                self.db.sql(
                    "INSERT INTO {schema}.outbox_positions (relay, last_notification_id) "
                    "VALUES (%s, 0) ON CONFLICT DO NOTHING"
                ),
                (self.name,),
            )
        self.position = await self._recorded_position()
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.name}")
        log.info("relay_started", relay=self.name, position=self.position)

    async def stop(self) -> None:
        # Not the cancellation alone: on Python 3.11, `asyncio.wait_for` (here, and in
        # psycopg_pool's wait for a connection) can swallow a cancel that coincides with its
        # result or its timeout, and the relay would run on, and `stop` wait forever.
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self._close_producer()
        await self.leadership.release()

    def wake(self) -> None:
        """Ask the relay to look now (thread-safe); it also polls on its own."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wakeup.set)

    def status(self) -> dict[str, Any]:
        return {
            "leader": self.leader,
            "position": self.position,
            "published": self.published,
            "republished_from_start": self.republished_from_start,
            "broker_connected": self.connected,
            "last_error": self.last_error,
        }

    # -- work ------------------------------------------------------------------------
    async def _run(self) -> None:
        backoff = 0.2
        while not self._stopping:
            try:
                was_leader = self.leader
                if not await self.leadership.hold():
                    await asyncio.sleep(FOLLOWER_POLL_S)
                    continue
                if not was_leader:
                    self.position = await self._recorded_position()
                    self._history_checked_at = None  # a new leader checks the broker first
                    log.info("relay_leading", relay=self.name, position=self.position)
                await self._check_history_when_due()
                sent = await self._relay_once()
                backoff = 0.2
                if sent == 0:
                    await self._idle()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database unavailable: wait, keep everything
                self.connected = False
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._history_checked_at = None  # the broker may have restarted meanwhile
                log.warning("relay_retrying", relay=self.name, error=self.last_error, backoff_s=backoff)
                if self.topics is not None:
                    self.topics.forget()
                await self._close_producer()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _recorded_position(self) -> int:
        async with self.db.pool.connection() as conn:
            cur = await conn.execute(
                self.db.sql("SELECT last_notification_id FROM {schema}.outbox_positions WHERE relay=%s"),
                (self.name,),
            )
            row = await cur.fetchone()
        return int(row["last_notification_id"]) if row else 0

    async def _idle(self) -> None:
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout=self.settings.relay_poll_interval_s)
        except TimeoutError:
            pass
        self._wakeup.clear()

    # -- the broker's memory ---------------------------------------------------------
    async def _check_history_when_due(self) -> None:
        now = time.monotonic()
        interval = self.settings.relay_history_check_interval_s
        if self._history_checked_at is not None and now - self._history_checked_at < interval:
            return
        if not await self.history_intact():
            await self._start_over()
        self._history_checked_at = now

    async def history_intact(self) -> bool:
        """Does the broker still hold the last record this relay recorded as published?"""
        async with self.db.pool.connection() as conn:
            cur = await conn.execute(
                self.db.sql(
                    "SELECT last_topic, last_partition, last_offset, last_event_id"
                    " FROM {schema}.outbox_positions WHERE relay=%s"
                ),
                (self.name,),
            )
            row = await cur.fetchone()
        if row is None or row["last_topic"] is None:
            return True  # nothing published yet, or nothing to compare with
        tp = TopicPartition(row["last_topic"], int(row["last_partition"]))
        offset = int(row["last_offset"])
        reader = make_history_reader(self.settings)
        await reader.start()
        try:
            partitions = reader.partitions_for_topic(tp.topic)
            if partitions is None:
                await reader.topics()  # loads cluster metadata
                partitions = reader.partitions_for_topic(tp.topic)
            if not partitions or tp.partition not in partitions:
                log.warning("broker_history_lost", relay=self.name, reason=f"{tp.topic} is gone")
                return False
            end = (await reader.end_offsets([tp]))[tp]
            if end == 0:
                log.warning(
                    "broker_history_lost", relay=self.name, reason=f"{tp.topic}[{tp.partition}] is empty"
                )
                return False
            reader.assign([tp])
            reader.seek(tp, offset)
            try:
                batch = await reader.getmany(tp, timeout_ms=3000, max_records=1)
            except Exception as exc:  # offset out of range: the record is not there any more
                log.warning("broker_history_lost", relay=self.name, reason=f"{type(exc).__name__}: {exc}")
                return False
            records = batch.get(tp, [])
            if not records:
                # Nothing came back in time: inconclusive, not proof of loss; look again later.
                log.info("broker_history_unconfirmed", relay=self.name, topic=tp.topic, offset=offset)
                return True
            ce_id = dict(records[0].headers or ()).get("ce_id", b"").decode("utf-8", "replace")
            if records[0].offset != offset or ce_id != row["last_event_id"]:
                log.warning(
                    "broker_history_lost",
                    relay=self.name,
                    reason=f"{tp.topic}[{tp.partition}]@{offset} holds another record",
                )
                return False
            return True
        finally:
            await reader.stop()

    async def _start_over(self) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                self.db.sql(
                    "UPDATE {schema}.outbox_positions SET last_notification_id=0, last_topic=NULL,"
                    " last_partition=NULL, last_offset=NULL, last_event_id=NULL, updated_at=now()"
                    " WHERE relay=%s"
                ),
                (self.name,),
            )
        log.warning("relay_republishing_from_start", relay=self.name, was_at=self.position)
        if self.topics is not None:
            self.topics.forget()
        self.position = 0
        self.republished_from_start += 1

    # -- publishing ------------------------------------------------------------------
    async def _relay_once(self) -> int:
        notifications = await asyncio.to_thread(
            self.application.recorder.select_notifications,
            self.position + 1,
            self.settings.relay_batch_size,
        )
        if not notifications:
            return 0
        outgoing: list[tuple[str, Envelope[Any]]] = []
        for notification in notifications:
            envelope = self.translate(self.application.mapper.to_domain_event(notification))
            topic = self.topic_for(envelope) if envelope is not None else None
            if envelope is not None and topic is not None:
                outgoing.append((topic, envelope))
        producer = await self._ensure_producer()
        if self.topics is not None:
            await self.topics.ensure(topic for topic, _ in outgoing)
        pending = []
        last_sent: tuple[str, str] | None = None
        for topic, envelope in outgoing:
            record = encode(envelope)
            pending.append(
                await producer.send(topic, value=record.value, key=record.key, headers=record.headers)
            )
            last_sent = (topic, envelope.id)
        acks = await asyncio.gather(*pending)
        last = notifications[-1].id
        ack = acks[-1] if acks and last_sent is not None else None
        # One statement, autocommit: one round trip per batch, where a transaction of two
        # updates took four (BEGIN, UPDATE, UPDATE, COMMIT) while the next batch waited.
        async with self.db.pool.connection() as conn:
            await conn.execute(
                self.db.sql(
                    "UPDATE {schema}.outbox_positions SET"
                    " last_topic=coalesce(%(topic)s, last_topic),"
                    " last_partition=coalesce(%(partition)s, last_partition),"
                    " last_offset=coalesce(%(offset)s, last_offset),"
                    " last_event_id=coalesce(%(event_id)s, last_event_id),"
                    " last_notification_id=GREATEST(last_notification_id, %(last)s), updated_at=now()"
                    " WHERE relay=%(relay)s"
                ),
                {
                    "topic": None if ack is None else ack.topic,
                    "partition": None if ack is None else ack.partition,
                    "offset": None if ack is None else ack.offset,
                    "event_id": None if last_sent is None or ack is None else last_sent[1],
                    "last": last,
                    "relay": self.name,
                },
            )
        self.position = last
        self.published += len(pending)
        self.connected = True
        self.last_error = None
        log.debug("relay_published", relay=self.name, count=len(pending), position=last)
        return len(notifications)

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = make_producer(self.settings)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
            self.connected = True
        return self._producer

    async def _close_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await asyncio.wait_for(producer.stop(), timeout=5)
            except Exception as exc:
                log.debug("relay_producer_stop_failed", error=str(exc))
