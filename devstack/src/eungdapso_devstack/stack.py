"""The whole system as local processes: every service, on one PostgreSQL and one broker."""

from __future__ import annotations

import asyncio
from pathlib import Path

from eungdapso_devstack.infra import SERVICES, PostgresTarget, ServiceProcess, ensure_topics, free_port


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
    ) -> None:
        self.postgres = postgres
        self.bootstrap_servers = bootstrap_servers
        self.partitions = partitions
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

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.processes[name]

    @property
    def upstreams(self) -> dict[str, str]:
        return {name: p.base_url for name, p in self.processes.items()}

    async def start(self) -> None:
        await ensure_topics(self.bootstrap_servers, self.partitions)
        for process in self.processes.values():
            process.start()
        await asyncio.gather(*(p.wait_ready() for p in self.processes.values()))

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()
