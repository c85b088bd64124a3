"""The outbox relay on a real PostgreSQL and a real broker process."""

from __future__ import annotations

import asyncio

import pytest

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_intake.application import OUTBOX, IntakeApplication
from eungdapso_intake.settings import IntakeSettings
from eungdapso_platform.db import Database
from eungdapso_platform.outbox import OutboxRelay
from eungdapso_schemas.envelope import decode
from eungdapso_schemas.streams import INTAKE_EVENTS
from tests.support.complaints import a_complaint
from tests.support.kafka import read_topic
from tests.support.tcpproxy import TcpProxy
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def receive(app: IntakeApplication, n: int) -> None:
    app.receive(a_complaint(receipt_no=f"2026-{n:07d}", text=f"민원 {n}"))


async def test_relay_publishes_resumes_and_loses_nothing_while_the_broker_is_down(
    database: PostgresTarget, proxied_broker: tuple[str, TcpProxy]
) -> None:
    bootstrap, proxy = proxied_broker
    settings = IntakeSettings(
        **{k.lower(): v for k, v in database.env().items()},  # type: ignore[arg-type]
        kafka_bootstrap_servers=bootstrap,
        kafka_request_timeout_ms=2000,
        relay_poll_interval_s=0.1,
    )
    app = IntakeApplication(env=settings.eventsourcing_env())
    db = Database.for_service(settings)
    await db.open()

    def new_relay() -> OutboxRelay:
        return OutboxRelay(name="intake", application=app, translate=OUTBOX, db=db, settings=settings)

    for n in range(1, 21):
        receive(app, n)
    relay = new_relay()
    await relay.start()
    records = await read_topic(bootstrap, INTAKE_EVENTS.name, at_least=20)
    assert sorted(decode(r.headers, r.key, r.value).data.receipt_no for r in records) == [
        f"2026-{n:07d}" for n in range(1, 21)
    ]
    await eventually(lambda: asyncio.sleep(0, relay.position == 20), what="position 20 recorded")
    await relay.stop()

    # Restart: it resumes from the recorded position and sends nothing again.
    relay = new_relay()
    await relay.start()
    assert relay.position == 20
    await asyncio.sleep(0.5)
    assert len(await read_topic(bootstrap, INTAKE_EVENTS.name, at_least=20)) == 20

    # Broker unreachable: complaints are still recorded; the relay waits, then delivers.
    proxy.cut()
    for n in range(21, 31):
        receive(app, n)
    relay.wake()
    await eventually(lambda: asyncio.sleep(0, relay.last_error is not None), what="relay notices the outage")
    assert relay.position == 20
    proxy.restore()
    await eventually(lambda: asyncio.sleep(0, relay.position == 30), timeout=60, what="relay catches up")
    records = await read_topic(bootstrap, INTAKE_EVENTS.name, at_least=30)
    ids = [decode(r.headers, r.key, r.value).data.receipt_no for r in records]
    assert sorted(set(ids)) == [f"2026-{n:07d}" for n in range(1, 31)]
    await relay.stop()
    await db.close()


async def test_one_replica_relays_at_a_time_and_another_takes_over(
    database: PostgresTarget, broker: str
) -> None:
    settings = IntakeSettings(
        **{k.lower(): v for k, v in database.env().items()},  # type: ignore[arg-type]
        kafka_bootstrap_servers=broker,
        relay_poll_interval_s=0.1,
    )
    # Two replicas of intake: each its own application and pool on the same store.
    replicas = []
    for _ in range(2):
        app = IntakeApplication(env=settings.eventsourcing_env())
        db = Database.for_service(settings)
        await db.open()
        relay = OutboxRelay(name="intake", application=app, translate=OUTBOX, db=db, settings=settings)
        await relay.start()
        replicas.append((app, db, relay))
    try:
        await eventually(lambda: asyncio.sleep(0, any(r.leader for _, _, r in replicas)), what="a leader")
        for n in range(1, 21):
            receive(replicas[n % 2][0], n)
        records = await read_topic(broker, INTAKE_EVENTS.name, at_least=20)
        assert len(records) == 20  # published once, not once per replica
        assert [r.leader for _, _, r in replicas].count(True) == 1

        leader = next(r for _, _, r in replicas if r.leader)
        follower = next(r for _, _, r in replicas if not r.leader)
        await eventually(lambda: asyncio.sleep(0, leader.position == 20), what="leader recorded its position")
        await leader.stop()
        for n in range(21, 31):
            receive(replicas[0][0], n)
        await eventually(lambda: asyncio.sleep(0, follower.leader), timeout=10, what="the standby takes over")
        records = await read_topic(broker, INTAKE_EVENTS.name, at_least=30)
        receipts = sorted(decode(r.headers, r.key, r.value).data.receipt_no for r in records)
        assert receipts == [f"2026-{n:07d}" for n in range(1, 31)]  # none lost, none sent twice
    finally:
        for _, db, relay in replicas:
            await relay.stop()
            await db.close()


async def test_event_topics_keep_their_history_for_replay(broker: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    from eungdapso_schemas.streams import ALL_TOPICS

    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t.name) for t in ALL_TOPICS]
        )
    finally:
        await admin.close()
    retention = {
        resource[3]: {entry[0]: entry[1] for entry in resource[4]}["retention.ms"]
        for resource in response.resources
    }
    assert retention == {t.name: "-1" for t in ALL_TOPICS}
