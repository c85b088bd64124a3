from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_devstack.stack import Stack

StackFactory = Callable[..., Awaitable[Stack]]


@pytest.fixture
async def make_stack(database: PostgresTarget, tmp_path: Path) -> AsyncIterator[StackFactory]:
    """Start service processes on the test's database and a given broker."""
    stacks: list[Stack] = []

    async def start(
        bootstrap: str,
        services: tuple[str, ...] = ("intake", "router", "publisher"),
        env: dict[str, str] | None = None,
    ) -> Stack:
        stack = Stack(
            postgres=database,
            bootstrap_servers=bootstrap,
            logs=tmp_path / "logs",
            services=services,
            extra_env={
                "RELAY_POLL_INTERVAL_S": "0.1",
                "KAFKA_REQUEST_TIMEOUT_MS": "2000",
                # Every test posts from 127.0.0.1: the web form's per-address limit stays out of the way.
                "WEB_RATE_PER_MINUTE": "1000000",
                # Seven services per stack: small pools keep a stack well inside PostgreSQL's
                # default 100 connections, whatever else runs on the machine.
                "POSTGRES_POOL_SIZE": "3",
                **(env or {}),
            },
        )
        stacks.append(stack)
        await stack.start()
        return stack

    yield start
    for stack in stacks:
        stack.stop()
