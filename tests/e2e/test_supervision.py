"""The local stack notices a dead process: it reaps it, says so, and restarts it (same
port, with backoff), gives up loudly on one that keeps dying, and /healthz shows which
process is down and why. The same for the local broker, which comes back on its port with
every topic."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import structlog
from aiokafka.admin import AIOKafkaAdminClient

from eungdapso_devstack.gateway import Gateway
from eungdapso_devstack.infra import PostgresTarget, TansuBroker, ensure_topics
from eungdapso_devstack.stack import RestartPolicy, Stack
from eungdapso_schemas.streams import ALL_TOPICS
from tests.e2e.conftest import StackFactory
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

LogLines = list[dict[str, Any]]


@pytest.fixture
def logged() -> Iterator[LogLines]:
    with structlog.testing.capture_logs() as lines:
        yield lines


def events(lines: LogLines, event: str, name: str) -> LogLines:
    return [line for line in lines if line["event"] == event and line.get("name") == name]


async def healthz(stack: Stack) -> httpx.Response:
    gateway = Gateway(stack.upstreams, supervision=stack.health)
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://eungdapso") as client:
        return await client.get("/healthz")


def is_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_a_killed_service_is_reaped_reported_and_restarted(
    make_stack: StackFactory, broker: str, logged: LogLines
) -> None:
    stack = await make_stack(broker, services=("intake", "sla"))
    sla = stack["sla"]
    old_pid, port = sla.pid, sla.port
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)

    async def shown_down() -> dict[str, Any] | None:
        r = await healthz(stack)
        down: dict[str, Any] | None = r.json().get("down", {}).get("sla")
        return down if r.status_code == 503 and down and down["state"] == "restarting" else None

    down = await eventually(shown_down, timeout=10, what="/healthz shows sla restarting")
    assert down["exit_status"] == -signal.SIGKILL and down["log_file"] == str(sla.log_file)

    async def back() -> bool:
        return sla.pid != old_pid and (await healthz(stack)).status_code == 200

    await eventually(back, timeout=60, what="sla restarted and ready")
    assert sla.port == port and not is_zombie(old_pid)
    [exited] = events(logged, "service_exited", "sla")
    assert exited["status"] == -9 and exited["signal"] == "SIGKILL"
    assert exited["log_file"] == str(sla.log_file) and exited["log_level"] == "error"
    assert events(logged, "service_restarted", "sla")
    assert (await healthz(stack)).json() == {"ready": True, "services": {"intake": True, "sla": True}}


async def test_a_service_stopped_on_purpose_is_not_restarted(
    make_stack: StackFactory, broker: str, logged: LogLines
) -> None:
    stack = await make_stack(broker, services=("sla",))
    stack["sla"].stop(kill=True)
    await asyncio.sleep(2)
    assert stack["sla"].exit_status is not None and not events(logged, "service_exited", "sla")
    r = await healthz(stack)
    assert r.status_code == 503 and r.json()["down"]["sla"]["state"] == "stopped"


@pytest.fixture
async def quick_stack(database: PostgresTarget, broker: str, tmp_path: Path) -> AsyncIterator[Stack]:
    stack = Stack(
        postgres=database,
        bootstrap_servers=broker,
        logs=tmp_path / "logs",
        services=("sla",),
        restart=RestartPolicy(first_delay_s=0.1, max_quick_restarts=2),
    )
    await stack.start()
    yield stack
    stack.stop()


async def test_a_service_that_keeps_dying_is_given_up_on_and_reported(
    quick_stack: Stack, logged: LogLines
) -> None:
    sla = quick_stack["sla"]
    sla.env["KAFKA_FETCH_MAX_WAIT_MS"] = "-5"  # from now on it exits at once (status 2)
    assert sla.pid is not None
    os.kill(sla.pid, signal.SIGKILL)

    async def failed() -> dict[str, Any] | None:
        r = await healthz(quick_stack)
        down: dict[str, Any] | None = r.json().get("down", {}).get("sla")
        return down if r.status_code == 503 and down and down["state"] == "failed" else None

    down = await eventually(failed, timeout=30, what="sla given up on")
    assert down["exit_status"] == 2 and down["restarts"] == 2
    [given_up] = events(logged, "service_given_up", "sla")
    assert given_up["log_level"] == "critical" and str(sla.log_file) in given_up["detail"]
    assert [e["status"] for e in events(logged, "service_exited", "sla")] == [-9, 2, 2]
    assert "KAFKA_FETCH_MAX_WAIT_MS" in sla.log_file.read_text()  # type: ignore[union-attr]
    # Not restarted forever: nothing more happens, and it is not left a zombie.
    pid = sla.pid
    await asyncio.sleep(2)
    assert sla.pid == pid and len(events(logged, "service_exited", "sla")) == 3
    assert pid is not None and not is_zombie(pid)


@pytest.fixture
async def own_broker(tmp_path: Path) -> AsyncIterator[TansuBroker]:
    process = TansuBroker(log_file=tmp_path / "broker.log")
    process.start()
    await ensure_topics(process.bootstrap_servers)
    yield process
    process.stop()


async def topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_a_killed_broker_comes_back_on_its_port_with_every_topic(
    database: PostgresTarget, own_broker: TansuBroker, tmp_path: Path, logged: LogLines
) -> None:
    stack = Stack(
        postgres=database,
        bootstrap_servers=own_broker.bootstrap_servers,
        logs=tmp_path / "logs",
        services=("sla",),
        broker=own_broker,
    )
    await stack.start()
    try:
        old_pid = own_broker.pid
        assert old_pid is not None
        os.kill(old_pid, signal.SIGKILL)

        async def back() -> bool:
            health = stack.health()["broker"]
            return own_broker.pid != old_pid and health["state"] == "running"

        await eventually(back, timeout=30, what="broker restarted")
        wanted = {t.name for t in ALL_TOPICS}
        assert wanted <= await topics(own_broker.bootstrap_servers)
        [exited] = events(logged, "broker_exited", "broker")
        assert exited["status"] == -9 and exited["log_file"] == str(own_broker.log_file)
        assert not is_zombie(old_pid)
        # The services reconnect to it: the stack is healthy again.
        await eventually(
            lambda: _status(healthz(stack), 200), timeout=60, what="healthy again after the broker restart"
        )
    finally:
        stack.stop()


async def _status(response: Any, status: int) -> bool:
    return (await response).status_code == status  # type: ignore[no-any-return]
