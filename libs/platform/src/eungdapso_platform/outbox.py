"""The outbox relay: from an `eventsourcing` application's notification log to Kafka.

One relay per service publishes at a time: replicas compete for a PostgreSQL advisory
lock, held on a dedicated connection; when the leader dies its connection closes, the
lock is released and another replica takes over from the recorded position.

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
from collections.abc import Callable
from typing import Any

import psycopg
from aiokafka import AIOKafkaProducer
from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol

from eungdapso_platform.db import Database
from eungdapso_platform.logging import get_logger
from eungdapso_platform.settings import ServiceSettings
from eungdapso_schemas.envelope import Envelope, encode
from eungdapso_schemas.topics import topic_for_payload

log = get_logger("eungdapso.outbox")

#: Turns a recorded domain event into the integration event to publish, or None
#: for internal events that no other service needs.
Translator = Callable[[DomainEventProtocol[Any]], Envelope[Any] | None]

#: How often a standby replica tries to become the relay.
FOLLOWER_POLL_S = 1.0

CREATE_POSITIONS = (
    "CREATE TABLE IF NOT EXISTS {schema}.outbox_positions ("
    " relay text PRIMARY KEY,"
    " last_notification_id bigint NOT NULL,"
    " updated_at timestamptz NOT NULL DEFAULT now())"
)


def make_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    # enable_idempotence stays off: the development broker rejects InitProducerId.
    # Duplicates from retries are removed by the consumers' ledgers instead.
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        linger_ms=2,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        client_id=f"eungdapso-{settings.service_name}-relay",
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
    ) -> None:
        self.name = name
        self.application = application
        self.translate = translate
        self.db = db
        self.settings = settings
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._producer: AIOKafkaProducer | None = None
        self.position = 0
        self.published = 0
        self.leader = False
        self._lock_conn: psycopg.AsyncConnection[Any] | None = None
        self._lock_checked_at = 0.0
        self.connected = False
        self.last_error: str | None = None

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(self.db.sql(CREATE_POSITIONS))
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
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self._close_producer()
        await self._release_leadership()

    def wake(self) -> None:
        """Ask the relay to look now (thread-safe); it also polls on its own."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wakeup.set)

    def status(self) -> dict[str, Any]:
        return {
            "leader": self.leader,
            "position": self.position,
            "published": self.published,
            "broker_connected": self.connected,
            "last_error": self.last_error,
        }

    # -- work ------------------------------------------------------------------------
    async def _run(self) -> None:
        backoff = 0.2
        while True:
            try:
                if not await self._lead():
                    await asyncio.sleep(FOLLOWER_POLL_S)
                    continue
                sent = await self._relay_once()
                backoff = 0.2
                if sent == 0:
                    await self._idle()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database unavailable: wait, keep everything
                self.connected = False
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("relay_retrying", relay=self.name, error=self.last_error, backoff_s=backoff)
                await self._close_producer()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _lead(self) -> bool:
        """Hold (or take) the relay's advisory lock; re-checked at most once a second."""
        now = time.monotonic()
        if self.leader and self._lock_conn is not None and now - self._lock_checked_at < 1.0:
            return True
        try:
            if self._lock_conn is None or self._lock_conn.closed:
                self.leader = False
                self._lock_conn = await psycopg.AsyncConnection.connect(
                    self.db.conninfo,
                    autocommit=True,
                    connect_timeout=self.settings.postgres_connect_timeout_s,
                )
            if self.leader:
                await self._lock_conn.execute("SELECT 1")
            else:
                cur = await self._lock_conn.execute(
                    "SELECT pg_try_advisory_lock(hashtext(%s)) AS taken",
                    (f"eungdapso.outbox.{self.db.schema}.{self.name}",),
                )
                row = await cur.fetchone()
                if row is not None and row[0]:
                    self.leader = True
                    self.position = await self._recorded_position()
                    log.info("relay_leading", relay=self.name, position=self.position)
        except psycopg.Error:
            await self._release_leadership()
            raise
        self._lock_checked_at = now
        return self.leader

    async def _release_leadership(self) -> None:
        self.leader = False
        conn, self._lock_conn = self._lock_conn, None
        if conn is not None and not conn.closed:
            await conn.close()  # closing the session releases the advisory lock

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

    async def _relay_once(self) -> int:
        notifications = await asyncio.to_thread(
            self.application.recorder.select_notifications,
            self.position + 1,
            self.settings.relay_batch_size,
        )
        if not notifications:
            return 0
        producer = await self._ensure_producer()
        pending = []
        for notification in notifications:
            domain_event = self.application.mapper.to_domain_event(notification)
            envelope = self.translate(domain_event)
            if envelope is None:
                continue
            record = encode(envelope)
            topic = topic_for_payload(type(envelope.data)).name
            pending.append(
                await producer.send(topic, value=record.value, key=record.key, headers=record.headers)
            )
        await asyncio.gather(*pending)
        last = notifications[-1].id
        async with self.db.transaction() as conn:
            await conn.execute(
                self.db.sql(
                    "UPDATE {schema}.outbox_positions"
                    " SET last_notification_id=GREATEST(last_notification_id, %s), updated_at=now()"
                    " WHERE relay=%s"
                ),
                (last, self.name),
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
