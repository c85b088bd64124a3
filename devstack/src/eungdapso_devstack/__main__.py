"""`make run`: the whole system on this machine, behind one base URL.

With no POSTGRES_HOST it starts an embedded PostgreSQL in .run/pgdata; with no
KAFKA_BOOTSTRAP_SERVERS it starts a local Kafka-compatible broker (memory only).
Set them to use a real PostgreSQL and Apache Kafka instead. A service or local broker
that dies is restarted (see `Stack`); /healthz names what is down. Ctrl-C stops
everything it started.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import sys
from pathlib import Path

import uvicorn
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from eungdapso_devstack.gateway import Gateway
from eungdapso_devstack.infra import PostgresTarget, TansuBroker, embedded_postgres
from eungdapso_devstack.stack import Stack
from eungdapso_platform.kafka import KafkaEnvSettings, KafkaSettings
from eungdapso_platform.logging import configure_logging, get_logger
from eungdapso_platform.settings import load_settings

log = get_logger("eungdapso.devstack")


class StartupFailed(RuntimeError):
    pass


class DevstackSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    port: int = Field(default=8000, ge=1, le=65535)
    run_dir: Path = Path(".run")
    postgres_host: str | None = None
    postgres_port: int = 5432
    postgres_user: str = "postgres"
    postgres_password: str = ""
    postgres_dbname: str = "eungdapso"
    kafka_bootstrap_servers: str | None = None
    kafka_topic_partitions: int = 4
    log_level: str = "INFO"
    #: Passed on to intake: the gateway runs on this machine.
    trusted_proxies: str = "127.0.0.1,::1"


def run_secret(run_dir: Path, name: str) -> str:
    """A secret the services share on this machine (e.g. the follow-link key of intake and the
    notifier): the environment's if set, else made once and kept in the run directory, so
    links handed out stay valid across restarts of the stack."""
    if value := os.environ.get(name.upper()):
        return value
    path = run_dir / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


async def run(settings: DevstackSettings, kafka: KafkaSettings | None = None) -> None:
    """`kafka`: TLS/SASL settings for an external Kafka (KAFKA_BOOTSTRAP_SERVERS set)."""
    _check_port_free(settings.port)
    run_dir = settings.run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    started: list[object] = []
    broker: TansuBroker | None = None
    stack: Stack | None = None
    server_handle: object | None = None
    try:
        if settings.postgres_host:
            postgres = PostgresTarget(
                settings.postgres_host,
                settings.postgres_port,
                settings.postgres_user,
                settings.postgres_password,
                settings.postgres_dbname,
            )
            postgres.create_database()
            log.info("postgres_configured", host=postgres.host, dbname=postgres.dbname)
        else:
            log.info("postgres_embedded_starting", datadir=str(run_dir / "pgdata"))
            postgres, server_handle = await asyncio.to_thread(embedded_postgres, run_dir / "pgdata")
            log.info("postgres_embedded_started", socket_dir=postgres.host)
        if settings.kafka_bootstrap_servers:
            bootstrap = settings.kafka_bootstrap_servers
        else:
            broker = TansuBroker(log_file=run_dir / "broker.log")
            broker.start()
            started.append(broker)
            bootstrap = broker.bootstrap_servers
        stack = Stack(
            postgres=postgres,
            bootstrap_servers=bootstrap,
            logs=run_dir / "logs",
            # Intake believes the gateway's X-Forwarded-For (the web form is limited per address).
            extra_env={
                "LOG_LEVEL": settings.log_level,
                "TRUSTED_PROXIES": settings.trusted_proxies,
                "FOLLOW_LINK_SECRET": run_secret(run_dir, "follow_link_secret"),
            },
            partitions=settings.kafka_topic_partitions,
            broker=broker,
            kafka=kafka,
        )
        log.info("services_starting", logs=str(run_dir / "logs"))
        await stack.start()
        gateway = Gateway(stack.upstreams, supervision=stack.health)
        server = uvicorn.Server(
            uvicorn.Config(
                gateway,
                host="127.0.0.1",
                port=settings.port,
                log_config=None,
                access_log=False,
                # The edge: it appends the peer to X-Forwarded-For and believes none it receives.
                proxy_headers=False,
            )
        )
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.05)
        if serving.done():
            raise StartupFailed(f"the gateway could not listen on port {settings.port} (set PORT)")
        base_url = f"http://127.0.0.1:{settings.port}"
        log.info("eungdapso_ready", base_url=base_url)
        sys.stdout.write(f"Eung-Dap-So is running at {base_url}  (Ctrl-C stops it)\n")
        sys.stdout.flush()
        await stop.wait()
        server.should_exit = True
        await serving
    finally:
        log.info("stopping")
        if stack is not None:
            stack.stop()
        if broker is not None:
            broker.stop()
        if server_handle is not None:
            server_handle.cleanup()  # type: ignore[attr-defined]
        log.info("stopped")


def _check_port_free(port: int) -> None:
    """Refuse at once, before starting anything, if the base URL's port is taken.

    Binds as the gateway's server will (SO_REUSEADDR, like uvicorn): a port that only the
    last run's closed connections hold (TIME_WAIT, about a minute) is free; a port with a
    live listener is still refused."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise StartupFailed(f"port {port} is in use ({exc.strerror}); set PORT to a free one") from None


def main() -> None:
    settings = load_settings(DevstackSettings)
    # An external Kafka: the same KAFKA_* variables (TLS, SASL) as the services read,
    # checked before anything starts.
    kafka = load_settings(KafkaEnvSettings) if settings.kafka_bootstrap_servers else None
    configure_logging("devstack", settings.log_level)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        asyncio.run(run(settings, kafka))
    except (StartupFailed, TimeoutError, OSError) as exc:
        # Everything started has been stopped (run's finally); say why, without a traceback.
        sys.stderr.write(f"Eung-Dap-So could not start: {exc}\n")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
