"""Kafka client settings and the one place that turns them into clients.

Every Kafka client of the system (the services' faststream broker, the outbox relay's
producer, the read-model rebuild's consumer, the topic set-up's admin client) is built
here, from the same `KafkaSettings`: the same bootstrap servers, TLS and SASL settings,
and timeouts. The settings are flat environment variables (`KAFKA_*`), read with the
rest of a service's settings (`ServiceSettings` is a `KafkaSettings`) and checked when
they are loaded, so a bad combination stops a process at start with a message naming
the variables, never at the first connection.

`KafkaSettings(...)` alone reads nothing from the environment (plaintext by default);
`KafkaEnvSettings()` reads the `KAFKA_*` variables, for tools that need only Kafka.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient
    from faststream.kafka import KafkaBroker
    from faststream.security import BaseSecurity

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

#: A client in a consumer group sends JoinGroup, which the broker may hold for the group's
#: rebalance timeout (30 s in aiokafka); aiokafka bounds every request, JoinGroup included,
#: by `request_timeout_ms`. A group client therefore never gets less than aiokafka's own
#: default, whatever KAFKA_REQUEST_TIMEOUT_MS says (that bounds the relay and the tools).
GROUP_REQUEST_TIMEOUT_MS = 40_000

_TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})
_SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})


class KafkaSettings(BaseModel):
    """How to reach Kafka: `KAFKA_*` variables (see README, "Kafka security")."""

    model_config = ConfigDict(frozen=True)

    #: Comma-separated host:port list.
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    #: CA bundle (PEM) the broker's certificate must chain to; unset: the system's CAs.
    kafka_ssl_cafile: FilePath | None = None
    #: Client certificate (PEM), for brokers that require one (mutual TLS); it may hold the key too.
    kafka_ssl_certfile: FilePath | None = None
    kafka_ssl_keyfile: FilePath | None = None
    kafka_ssl_key_password: SecretStr | None = None
    kafka_ssl_check_hostname: bool = True
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None

    kafka_request_timeout_ms: int = Field(default=5000, ge=100, le=600_000)
    #: How long a fetch may wait for data. Apache Kafka answers as soon as data arrives;
    #: the development broker holds the fetch, so a short wait keeps latency low.
    kafka_fetch_max_wait_ms: int = Field(default=50, ge=1, le=10_000)

    @field_validator(
        "kafka_ssl_cafile",
        "kafka_ssl_certfile",
        "kafka_ssl_keyfile",
        "kafka_ssl_key_password",
        "kafka_sasl_mechanism",
        "kafka_sasl_username",
        "kafka_sasl_password",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # Deployment manifests often set a variable to "" to mean "not set".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _servers(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        if not servers:
            raise ValueError("needs at least one host:port")
        return ",".join(servers)

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSettings:
        protocol = self.kafka_security_protocol
        sasl_given = {
            "KAFKA_SASL_MECHANISM": self.kafka_sasl_mechanism,
            "KAFKA_SASL_USERNAME": self.kafka_sasl_username,
            "KAFKA_SASL_PASSWORD": self.kafka_sasl_password,
        }
        if protocol in _SASL_PROTOCOLS:
            missing = [name for name, value in sasl_given.items() if not value]
            if missing:
                raise ValueError(f"KAFKA_SECURITY_PROTOCOL={protocol} needs {', '.join(missing)}")
        elif any(sasl_given.values()):
            given = ", ".join(name for name, value in sasl_given.items() if value)
            raise ValueError(
                f"{given} given but KAFKA_SECURITY_PROTOCOL={protocol} does not authenticate: "
                "use SASL_SSL (or SASL_PLAINTEXT), or unset them"
            )
        tls_given = {
            "KAFKA_SSL_CAFILE": self.kafka_ssl_cafile,
            "KAFKA_SSL_CERTFILE": self.kafka_ssl_certfile,
            "KAFKA_SSL_KEYFILE": self.kafka_ssl_keyfile,
            "KAFKA_SSL_KEY_PASSWORD": self.kafka_ssl_key_password,
        }
        if protocol not in _TLS_PROTOCOLS and any(tls_given.values()):
            given = ", ".join(name for name, value in tls_given.items() if value)
            raise ValueError(
                f"{given} given but KAFKA_SECURITY_PROTOCOL={protocol} does not use TLS: "
                "use SSL or SASL_SSL, or unset them"
            )
        if self.kafka_ssl_certfile is None and (self.kafka_ssl_keyfile or self.kafka_ssl_key_password):
            raise ValueError("KAFKA_SSL_KEYFILE and KAFKA_SSL_KEY_PASSWORD need KAFKA_SSL_CERTFILE")
        # Load the files now: a wrong CA bundle or key password fails at start, by name.
        self.ssl_context()
        return self

    # -- what the clients get ----------------------------------------------------------
    @property
    def bootstrap_servers(self) -> list[str]:
        return self.kafka_bootstrap_servers.split(",")

    @property
    def uses_tls(self) -> bool:
        return self.kafka_security_protocol in _TLS_PROTOCOLS

    @property
    def uses_sasl(self) -> bool:
        return self.kafka_security_protocol in _SASL_PROTOCOLS

    def ssl_context(self) -> ssl.SSLContext | None:
        """A verifying client TLS context (None without TLS): the broker's certificate
        must chain to KAFKA_SSL_CAFILE (or the system's CAs) and, unless
        KAFKA_SSL_CHECK_HOSTNAME=false, name the host connected to."""
        if not self.uses_tls:
            return None
        try:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=_str(self.kafka_ssl_cafile))
        except (ssl.SSLError, OSError) as exc:
            raise ValueError(f"KAFKA_SSL_CAFILE: cannot load a PEM CA bundle from it ({exc})") from None
        context.check_hostname = self.kafka_ssl_check_hostname
        context.verify_mode = ssl.CERT_REQUIRED
        if self.kafka_ssl_certfile is not None:
            password = self.kafka_ssl_key_password
            try:
                context.load_cert_chain(
                    str(self.kafka_ssl_certfile),
                    _str(self.kafka_ssl_keyfile),
                    password.get_secret_value() if password is not None else None,
                )
            except (ssl.SSLError, OSError) as exc:
                raise ValueError(
                    "KAFKA_SSL_CERTFILE/KAFKA_SSL_KEYFILE: cannot load the client certificate and key "
                    f"(wrong KAFKA_SSL_KEY_PASSWORD, or not a matching PEM pair: {exc})"
                ) from None
        return context

    def client_options(self) -> dict[str, Any]:
        """Connection and security keyword arguments of every aiokafka client."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.kafka_security_protocol,
            "ssl_context": self.ssl_context(),
        }
        if self.uses_sasl:
            assert self.kafka_sasl_password is not None  # checked at load
            options.update(
                sasl_mechanism=self.kafka_sasl_mechanism,
                sasl_plain_username=self.kafka_sasl_username,
                sasl_plain_password=self.kafka_sasl_password.get_secret_value(),
            )
        return options

    def faststream_security(self) -> BaseSecurity | None:
        """The same settings as faststream's security object (it also documents them in
        the broker's AsyncAPI server description)."""
        from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

        context = self.ssl_context()
        if not self.uses_sasl:
            return BaseSecurity(ssl_context=context, use_ssl=True) if context is not None else None
        assert self.kafka_sasl_username is not None and self.kafka_sasl_password is not None
        kinds: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
            "PLAIN": SASLPlaintext,
            "SCRAM-SHA-256": SASLScram256,
            "SCRAM-SHA-512": SASLScram512,
        }
        kind = kinds[str(self.kafka_sasl_mechanism)]
        return kind(
            self.kafka_sasl_username,
            self.kafka_sasl_password.get_secret_value(),
            ssl_context=context,
            use_ssl=self.uses_tls,
        )


class KafkaEnvSettings(KafkaSettings, BaseSettings):
    """`KafkaSettings` read from the `KAFKA_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


# -- the clients -----------------------------------------------------------------------
# `options` are the client's own (acks, group_id, ...); they may change the defaults here
# but not the connection and security settings, which come from the settings only.
def kafka_broker(settings: KafkaSettings, *, client_id: str, **options: Any) -> KafkaBroker:
    """A faststream broker (consumer groups, and its own producer for dead letters)."""
    from faststream.kafka import KafkaBroker

    defaults: dict[str, Any] = {
        "request_timeout_ms": max(settings.kafka_request_timeout_ms, GROUP_REQUEST_TIMEOUT_MS)
    }
    return KafkaBroker(
        settings.bootstrap_servers,
        **{**defaults, **options},
        security=settings.faststream_security(),
        client_id=client_id,
    )


def kafka_producer(settings: KafkaSettings, *, client_id: str, **options: Any) -> AIOKafkaProducer:
    from aiokafka import AIOKafkaProducer

    defaults: dict[str, Any] = {"request_timeout_ms": settings.kafka_request_timeout_ms}
    return AIOKafkaProducer(**{**defaults, **options, **settings.client_options()}, client_id=client_id)


def kafka_consumer(settings: KafkaSettings, *topics: str, client_id: str, **options: Any) -> AIOKafkaConsumer:
    """An aiokafka consumer; in a consumer group (`group_id`) it gets the group's request timeout."""
    from aiokafka import AIOKafkaConsumer

    timeout = settings.kafka_request_timeout_ms
    if options.get("group_id") is not None:
        timeout = max(timeout, GROUP_REQUEST_TIMEOUT_MS)
    defaults: dict[str, Any] = {
        "request_timeout_ms": timeout,
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
    }
    return AIOKafkaConsumer(
        *topics, **{**defaults, **options, **settings.client_options()}, client_id=client_id
    )


def kafka_admin(settings: KafkaSettings, *, client_id: str, **options: Any) -> AIOKafkaAdminClient:
    from aiokafka.admin import AIOKafkaAdminClient

    defaults: dict[str, Any] = {"request_timeout_ms": settings.kafka_request_timeout_ms}
    return AIOKafkaAdminClient(**{**defaults, **options, **settings.client_options()}, client_id=client_id)
