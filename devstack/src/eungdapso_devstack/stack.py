"""The whole system as local processes: every service, on one PostgreSQL and one broker.

Once started, the stack supervises its children: a service (or the local broker) that
dies is reaped, logged (`service_exited` / `broker_exited`, with its exit status and log
file) and restarted with backoff, on the same port. One that keeps dying soon after each
start is left down after a bounded number of tries, and said so at CRITICAL level
(`service_given_up`). `health()` tells the gateway's /healthz which child is down and why.
Stopping a child on purpose (`stop()`) is not a death: it is not restarted.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eungdapso_devstack.infra import (
    SERVICES,
    PostgresTarget,
    ServiceProcess,
    TansuBroker,
    ensure_topics,
    free_port,
)
from eungdapso_platform.kafka import KafkaSettings
from eungdapso_platform.logging import get_logger

log = get_logger("eungdapso.devstack")

Child = ServiceProcess | TansuBroker


@dataclass(frozen=True)
class RestartPolicy:
    """How the stack restarts a child process that died."""

    #: Backoff before the n-th restart in a row: first_delay_s * 2**(n-1), at most max_delay_s.
    first_delay_s: float = 0.5
    max_delay_s: float = 10.0
    #: A child that dies within this long of its start died "quickly"; one that ran longer
    #: starts a fresh count.
    quick_exit_s: float = 30.0
    #: After this many quick restarts in a row, a child that dies again is left down.
    max_quick_restarts: int = 5
    poll_interval_s: float = 0.25
    ready_timeout_s: float = 60.0

    def delay(self, attempt: int) -> float:
        return float(min(self.first_delay_s * 2 ** (attempt - 1), self.max_delay_s))


@dataclass
class _Record:
    restarts: int = 0
    exit_status: int | None = None
    #: The process given up on: while it is the child's process, the child is "failed".
    abandoned: subprocess.Popen[bytes] | None = None


class Stack:
    def __init__(
        self,
        *,
        postgres: PostgresTarget,
        bootstrap_servers: str,
        logs: Path,
        services: tuple[str, ...] = SERVICES,
        extra_env: dict[str, str] | None = None,
        partitions: int = 4,
        broker: TansuBroker | None = None,
        restart: RestartPolicy | None = None,
        kafka: KafkaSettings | None = None,
    ) -> None:
        self.postgres = postgres
        self.bootstrap_servers = bootstrap_servers
        #: TLS/SASL for the topic set-up; the services read the same KAFKA_* variables.
        self.kafka = kafka
        self.partitions = partitions
        #: The local broker, if this stack runs one: started by the caller, restarted (same
        #: port, topics recreated) by the stack if it dies, stopped by the caller.
        self.broker = broker
        self.restart = restart or RestartPolicy()
        logs.mkdir(parents=True, exist_ok=True)
        self.processes = {
            name: ServiceProcess(
                name=name,
                port=free_port(),
                env={
                    **postgres.env(),
                    "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
                    **(extra_env or {}),
                },
                log_file=logs / f"{name}.log",
            )
            for name in services
        }
        self._records: dict[str, _Record] = {name: _Record() for name in self._children()}
        self._restarting: dict[str, asyncio.Task[None]] = {}
        self._supervisor: asyncio.Task[None] | None = None

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.processes[name]

    @property
    def upstreams(self) -> dict[str, str]:
        return {name: p.base_url for name, p in self.processes.items()}

    async def start(self) -> None:
        await ensure_topics(self.kafka or self.bootstrap_servers, self.partitions)
        for process in self.processes.values():
            process.start()
        await asyncio.gather(*(p.wait_ready() for p in self.processes.values()))
        self._supervisor = asyncio.create_task(self._supervise(), name="stack-supervisor")

    def stop(self) -> None:
        for task in [*self._restarting.values(), *([self._supervisor] if self._supervisor else [])]:
            task.cancel()
        self._supervisor = None
        for process in self.processes.values():
            process.stop()

    def health(self) -> dict[str, dict[str, Any]]:
        """Each child's state as the supervisor sees it: `running`, `restarting` (died,
        being restarted), `failed` (kept dying; left down) or `stopped` (on purpose)."""
        out: dict[str, dict[str, Any]] = {}
        for name, child in self._children().items():
            record = self._records[name]
            if name in self._restarting:
                state = "restarting"
            elif child.process is not None and child.process is record.abandoned:
                state = "failed"
            elif child.process is not None and child.exit_status is None:
                state = "running"
            else:
                state = "stopped"
            out[name] = {
                "state": state,
                "exit_status": record.exit_status,
                "restarts": record.restarts,
                "log_file": str(child.log_file) if child.log_file else None,
            }
        return out

    def _children(self) -> dict[str, Child]:
        children: dict[str, Child] = dict(self.processes)
        if self.broker is not None:
            children[self.broker.name] = self.broker
        return children

    async def _supervise(self) -> None:
        while True:
            try:
                for name, child in self._children().items():
                    if name in self._restarting or not child.wanted or child.process is None:
                        continue
                    if child.process is self._records[name].abandoned:
                        continue
                    status = child.exit_status  # reaps it: no zombie
                    if status is not None:
                        self._restarting[name] = asyncio.create_task(self._revive(name, child, status))
            except Exception:
                log.exception("supervisor_error")  # keep supervising the others
            await asyncio.sleep(self.restart.poll_interval_s)

    async def _revive(self, name: str, child: Child, status: int) -> None:
        kind = "broker" if isinstance(child, TansuBroker) else "service"
        record = self._records[name]
        record.exit_status = status
        policy = self.restart
        lived = time.monotonic() - child.started_at
        log_file = str(child.log_file) if child.log_file else None
        log.error(
            f"{kind}_exited",
            name=name,
            status=status,
            signal=_signal_name(status),
            pid=child.pid,
            ran_s=round(lived, 1),
            log_file=log_file,
        )
        try:
            if lived >= policy.quick_exit_s:
                record.restarts = 0
            if record.restarts >= policy.max_quick_restarts:
                record.abandoned = child.process
                log.critical(
                    f"{kind}_given_up",
                    name=name,
                    status=status,
                    restarts=record.restarts,
                    log_file=log_file,
                    detail=(
                        f"{name} died {record.restarts + 1} times within {policy.quick_exit_s:g}s of "
                        f"starting; it is left down: read {log_file}, fix the cause, restart make run"
                    ),
                )
                return
            record.restarts += 1
            delay = policy.delay(record.restarts)
            log.warning(f"{kind}_restarting", name=name, attempt=record.restarts, delay_s=delay)
            await asyncio.sleep(delay)
            if not child.wanted or child.exit_status is None:
                return  # stopped on purpose, or started again by someone else, meanwhile
            if isinstance(child, TansuBroker):
                child.spawn()
                await child.wait_ready(policy.ready_timeout_s)
                # Memory only: it comes back empty. The relays republish what it lost.
                await ensure_topics(self.kafka or self.bootstrap_servers, self.partitions)
            else:
                child.start()
                await child.wait_ready(policy.ready_timeout_s)
            log.info(f"{kind}_restarted", name=name, pid=child.pid, attempt=record.restarts)
        except OSError as exc:
            # It died again while starting: the next round sees the exit and counts it.
            log.warning(f"{kind}_restart_failed", name=name, error=str(exc))
        except Exception as exc:
            # Not ready in time, or the topics could not be created: kill it, so that the
            # next round restarts it with a longer delay, or gives up.
            log.error(f"{kind}_restart_failed", name=name, error=f"{type(exc).__name__}: {exc}")
            if child.process is not None and child.exit_status is None:
                child.process.kill()
        finally:
            self._restarting.pop(name, None)


def _signal_name(status: int) -> str | None:
    if status >= 0:
        return None
    try:
        return signal.Signals(-status).name
    except ValueError:
        return None
