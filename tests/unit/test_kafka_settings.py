"""Kafka client settings: checked when loaded, and handed the same way to every client.

What the clients then do with them on the wire (TLS, SASL logins and refusals) is tried
in tests/integration/test_kafka_tls.py and test_kafka_sasl.py.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import ValidationError

from eungdapso_platform.kafka import (
    GROUP_REQUEST_TIMEOUT_MS,
    KafkaEnvSettings,
    KafkaSettings,
    kafka_admin,
    kafka_consumer,
)
from eungdapso_platform.outbox import make_producer
from eungdapso_platform.service import make_broker
from eungdapso_platform.settings import ServiceSettings
from tests.support.certs import Pki, make_pki, openssl_available


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    if not openssl_available():
        pytest.skip("needs the openssl command")
    return make_pki(tmp_path_factory.mktemp("pki"))


def _client(client: Any) -> Any:
    """The aiokafka connection-level client inside a producer, consumer or admin client."""
    return client.client if isinstance(client, AIOKafkaProducer) else client._client


@pytest.fixture
async def clients() -> AsyncIterator[list[Any]]:
    """Clients a test builds (never started), closed afterwards as aiokafka wants."""
    built: list[Any] = []
    yield built
    for client in built:
        await (client.close() if isinstance(client, AIOKafkaAdminClient) else client.stop())


def _consumer_and_producer_options(broker: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """What faststream will hand to its aiokafka consumers and to its producer."""
    return broker.config.broker_config.builder.keywords, broker._connection_kwargs


# -- defaults ------------------------------------------------------------------------------
def test_defaults_are_plaintext_with_no_credentials() -> None:
    settings = KafkaSettings()
    assert settings.client_options() == {
        "bootstrap_servers": ["127.0.0.1:9092"],
        "security_protocol": "PLAINTEXT",
        "ssl_context": None,
    }
    assert settings.faststream_security() is None


async def test_every_client_gets_every_bootstrap_server(clients: list[Any]) -> None:
    # faststream takes a string as ONE server: "a:1,b:2" reached aiokafka as host "a:1,b".
    settings = ServiceSettings(kafka_bootstrap_servers=" kafka-1:9092, kafka-2:9093 ,")
    servers = ["kafka-1:9092", "kafka-2:9093"]
    consumer_options, producer_options = _consumer_and_producer_options(make_broker(settings))
    assert consumer_options["bootstrap_servers"] == servers
    assert producer_options["bootstrap_servers"] == servers
    clients += [
        make_producer(settings),
        kafka_consumer(settings, client_id="t"),
        kafka_admin(settings, client_id="t"),
    ]
    for client in clients:
        assert sorted((host, port) for host, port, _ in _client(client).hosts) == [
            ("kafka-1", 9092),
            ("kafka-2", 9093),
        ]


async def test_timeouts_and_fetch_wait_come_from_the_settings(clients: list[Any]) -> None:
    settings = ServiceSettings(kafka_request_timeout_ms=1234, kafka_fetch_max_wait_ms=77)
    producer, admin = make_producer(settings), kafka_admin(settings, client_id="t")
    assigned = kafka_consumer(settings, client_id="t", group_id=None)
    grouped = kafka_consumer(settings, client_id="t", group_id="g")
    clients += [producer, admin, assigned, grouped]
    assert _client(producer)._request_timeout_ms == 1234
    assert _client(admin)._request_timeout_ms == 1234
    assert _client(assigned)._request_timeout_ms == 1234
    assert assigned._fetch_max_wait_ms == 77
    # In a group, JoinGroup may be held for the rebalance: never less than aiokafka's default.
    assert _client(grouped)._request_timeout_ms == GROUP_REQUEST_TIMEOUT_MS
    consumer_options, producer_options = _consumer_and_producer_options(make_broker(settings))
    assert consumer_options["request_timeout_ms"] == producer_options["request_timeout_ms"]
    assert consumer_options["request_timeout_ms"] == GROUP_REQUEST_TIMEOUT_MS


# -- TLS ---------------------------------------------------------------------------------
async def test_tls_hands_one_verifying_context_to_every_client(pki: Pki, clients: list[Any]) -> None:
    settings = ServiceSettings(kafka_security_protocol="ssl", kafka_ssl_cafile=pki.ca)
    assert settings.kafka_security_protocol == "SSL"
    context = settings.ssl_context()
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "test-ca"),),)]

    security = settings.faststream_security()
    assert type(security) is BaseSecurity and security.use_ssl
    consumer_options, producer_options = _consumer_and_producer_options(make_broker(settings))
    for options in (consumer_options, producer_options):
        assert options["security_protocol"] == "SSL"
        assert isinstance(options["ssl_context"], ssl.SSLContext)
    clients += [
        make_producer(settings),
        kafka_consumer(settings, client_id="t"),
        kafka_admin(settings, client_id="t"),
    ]
    for client in clients:
        assert _client(client)._security_protocol == "SSL"
        assert isinstance(_client(client)._ssl_context, ssl.SSLContext)


def test_hostname_check_can_be_switched_off_but_the_chain_is_still_verified(pki: Pki) -> None:
    context = KafkaSettings(
        kafka_security_protocol="SSL", kafka_ssl_cafile=pki.ca, kafka_ssl_check_hostname=False
    ).ssl_context()
    assert context is not None and not context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_client_certificate_with_an_encrypted_key(pki: Pki) -> None:
    settings = KafkaSettings(
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=pki.ca,
        kafka_ssl_certfile=pki.client_cert,
        kafka_ssl_keyfile=pki.client_key,
        kafka_ssl_key_password=pki.client_key_password,
    )
    assert settings.ssl_context() is not None
    assert pki.client_key_password not in repr(settings)
    with pytest.raises(ValidationError, match="wrong KAFKA_SSL_KEY_PASSWORD"):
        KafkaSettings(
            kafka_security_protocol="SSL",
            kafka_ssl_certfile=pki.client_cert,
            kafka_ssl_keyfile=pki.client_key,
            kafka_ssl_key_password="not it",
        )


def test_a_ca_file_that_is_not_pem_is_refused_at_load(tmp_path: Path) -> None:
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ValidationError, match="KAFKA_SSL_CAFILE: cannot load"):
        KafkaSettings(kafka_security_protocol="SSL", kafka_ssl_cafile=junk)


# -- SASL --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mechanism", "security_type"),
    [("PLAIN", SASLPlaintext), ("SCRAM-SHA-256", SASLScram256), ("SCRAM-SHA-512", SASLScram512)],
)
@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
async def test_sasl_mechanism_and_credentials_reach_every_client(
    mechanism: str, security_type: type[BaseSecurity], protocol: str, clients: list[Any]
) -> None:
    settings = ServiceSettings(
        kafka_security_protocol=protocol,
        kafka_sasl_mechanism=mechanism.lower(),
        kafka_sasl_username="eungdapso-intake",
        kafka_sasl_password="s3cret",
    )
    tls = protocol == "SASL_SSL"
    assert "s3cret" not in repr(settings)

    security = settings.faststream_security()
    assert type(security) is security_type
    assert security.use_ssl is tls and (security.ssl_context is not None) is tls
    consumer_options, producer_options = _consumer_and_producer_options(make_broker(settings))
    for options in (consumer_options, producer_options):
        assert options["security_protocol"] == protocol
        assert options["sasl_mechanism"] == mechanism
        assert options["sasl_plain_username"] == "eungdapso-intake"
        assert options["sasl_plain_password"] == "s3cret"
        assert isinstance(options["ssl_context"], ssl.SSLContext) is tls

    clients += [
        make_producer(settings),
        kafka_consumer(settings, client_id="t"),
        kafka_admin(settings, client_id="t"),
    ]
    for client in clients:
        inner = _client(client)
        assert inner._security_protocol == protocol
        assert inner._sasl_mechanism == mechanism
        assert inner._sasl_plain_username == "eungdapso-intake"
        assert inner._sasl_plain_password == "s3cret"
        assert isinstance(inner._ssl_context, ssl.SSLContext) is tls


# -- refused at load -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "says"),
    [
        (
            {"kafka_security_protocol": "SASL_SSL"},
            "KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, "
            "KAFKA_SASL_PASSWORD",
        ),
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "SCRAM-SHA-512",
             "kafka_sasl_username": "u"},
            "KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT needs KAFKA_SASL_PASSWORD",
        ),
        (
            {"kafka_sasl_mechanism": "SCRAM-SHA-256"},
            "KAFKA_SASL_MECHANISM given but KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not authenticate",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_sasl_username": "u", "kafka_sasl_password": "p"},
            "KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD given but KAFKA_SECURITY_PROTOCOL=SSL",
        ),
        ({"kafka_sasl_mechanism": "GSSAPI", "kafka_security_protocol": "SASL_SSL"}, "kafka_sasl_mechanism"),
        ({"kafka_security_protocol": "TLS"}, "kafka_security_protocol"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/nonexistent/ca.pem"}, "not point to a"),
        ({"kafka_bootstrap_servers": " , "}, "needs at least one host:port"),
    ],
)  # fmt: skip
def test_bad_combinations_are_refused_by_name(values: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        KafkaSettings(**values)


def test_tls_files_without_tls_are_refused(pki: Pki) -> None:
    with pytest.raises(ValidationError, match="KAFKA_SSL_CAFILE given but KAFKA_SECURITY_PROTOCOL=PLAINTEXT"):
        KafkaSettings(kafka_ssl_cafile=pki.ca)
    with pytest.raises(ValidationError, match="KAFKA_SSL_KEYFILE and KAFKA_SSL_KEY_PASSWORD need"):
        KafkaSettings(kafka_security_protocol="SSL", kafka_ssl_keyfile=pki.client_key)


def test_empty_variables_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_SSL_CAFILE", "KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092")
    settings = KafkaEnvSettings()
    assert settings.bootstrap_servers == ["kafka-1:9092"]
    assert settings.kafka_ssl_cafile is None and settings.kafka_sasl_mechanism is None


@pytest.mark.parametrize("module", ["eungdapso_intake", "eungdapso_devstack"])
def test_a_service_refuses_incomplete_sasl_settings_at_start_without_showing_the_password(
    module: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_USERNAME": "intake",
        "KAFKA_SASL_PASSWORD": "hunter2-do-not-print",
        "RUN_DIR": str(tmp_path / "run"),
    }
    done = subprocess.run([sys.executable, "-m", module], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_MECHANISM" in done.stderr
    assert "hunter2" not in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()  # the local stack started nothing
