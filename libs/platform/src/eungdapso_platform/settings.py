"""Settings every service shares, read from the environment (pydantic-settings).

Each service subclasses `ServiceSettings` once, with its own defaults. The same code
runs on the embedded stack and on PostgreSQL + Apache Kafka; only these values change.
"""

from __future__ import annotations

import sys
from typing import Annotated, TypeVar

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from eungdapso_platform.kafka import KafkaSettings

S = TypeVar("S", bound=BaseModel)
#: A TCP port; services override the default, never the bounds.
Port = Annotated[int, Field(ge=1, le=65535)]


class ServiceSettings(KafkaSettings, BaseSettings):
    """A service's settings; the `KAFKA_*` ones are `KafkaSettings`'s (kafka.py)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    service_name: str = "eungdapso"
    http_host: str = "127.0.0.1"
    http_port: Port = 8080
    log_level: str = "INFO"

    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_dbname: str = "eungdapso"
    postgres_user: str = "postgres"
    postgres_password: SecretStr = SecretStr("")
    #: Each service keeps its event store and read models in its own schema.
    postgres_schema: str | None = None
    postgres_pool_size: int = 5
    #: How long to wait for a database connection before giving up on the work at hand
    #: (HTTP answers 503, consumers retry): an outage fails fast instead of hanging.
    postgres_connect_timeout_s: int = Field(default=2, ge=1, le=60)
    #: How long a request may wait on the database, queueing, connecting, locks and retries
    #: included, before it is answered 503 (well under the gateway's 30 s): an outage fails
    #: fast, and a request answered 503 is never recorded later.
    request_deadline_s: float = Field(default=5.0, gt=0, le=25)

    #: A consumer component failing the same batch for longer than this makes /readyz fail.
    consumer_stall_alarm_s: float = Field(default=60.0, gt=0)
    #: A service's copy of the organisation directory (`eungdapso_platform.directory`) takes
    #: what reached the router's stream once per this many seconds: the directory changes a
    #: few times a year, and every assignment on that stream is skipped a fetch at a time.
    directory_cadence_s: float = Field(default=1.0, ge=0, le=60)
    #: Freeze what start-up made out of the garbage collector's sight (`heap.settle`): full
    #: collections then scan only what the service made since, in tens of milliseconds at
    #: most instead of the 156-410 ms pauses measured over a whole service's heap.
    heap_settle: bool = True

    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    relay_poll_interval_s: float = Field(default=0.5, gt=0)
    #: How often the leading relay checks that the broker still holds what it published.
    relay_history_check_interval_s: float = Field(default=10.0, gt=0)

    @property
    def db_schema(self) -> str:
        return self.postgres_schema or self.service_name

    def postgres_conninfo(self) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.postgres_host,
            port=self.postgres_port,
            dbname=self.postgres_dbname,
            user=self.postgres_user,
            password=self.postgres_password.get_secret_value() or None,
        )

    def eventsourcing_env(self) -> dict[str, str]:
        """Persistence for an `eventsourcing` application, chosen by environment."""
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.postgres_dbname,
            "POSTGRES_HOST": self.postgres_host,
            "POSTGRES_PORT": str(self.postgres_port),
            "POSTGRES_USER": self.postgres_user,
            "POSTGRES_PASSWORD": self.postgres_password.get_secret_value(),
            "POSTGRES_SCHEMA": self.db_schema,
            "POSTGRES_POOL_SIZE": str(self.postgres_pool_size),
            "POSTGRES_CONNECT_TIMEOUT": str(self.postgres_connect_timeout_s),
            "APPLICATION_RECORDER_TOPIC": "eungdapso_platform.eventstore:LedgeredPostgresRecorder",
        }

    @staticmethod
    def in_memory_env() -> dict[str, str]:
        """An in-memory event store with the same ledger rule, for fast unit tests."""
        return {
            "PERSISTENCE_MODULE": "eungdapso_platform.eventstore:LedgeredPOPOFactory",
        }


def load_settings(settings_cls: type[S]) -> S:
    """Read settings from the environment; on bad values say which variable and why, and
    exit with status 2 instead of a traceback."""
    try:
        return settings_cls()
    except ValidationError as exc:
        lines = [f"invalid configuration for {settings_cls.__name__}:"]
        for error in exc.errors():
            if not error["loc"]:
                # A rule across several variables: its message names them. (Its input is
                # every value, secrets included: never echoed.)
                lines.append(f"  {error['msg'].removeprefix('Value error, ')}")
                continue
            name = "_".join(str(part) for part in error["loc"]).upper()
            shown = "'…'" if _secret(settings_cls, error["loc"]) else repr(error.get("input"))
            lines.append(f"  {name}={shown}: {error['msg']}")
        sys.stderr.write("\n".join(lines) + "\n")
        raise SystemExit(2) from None
    except SettingsError as exc:
        # A value that is not the JSON its field needs; the message names the field only.
        sys.stderr.write(f"invalid configuration for {settings_cls.__name__}:\n  {exc}\n")
        raise SystemExit(2) from None


def _secret(settings_cls: type[BaseModel], loc: tuple[int | str, ...]) -> bool:
    """A password, or any field holding a SecretStr (a mapping of gateway secrets too)."""
    field = settings_cls.model_fields.get(str(loc[0]))
    return "password" in str(loc[0]).lower() or (field is not None and "SecretStr" in repr(field.annotation))
