"""Faults end to end: a consumer killed mid-stream, and the broker cut off from everyone."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import psycopg
import pytest

from eungdapso_devstack.infra import PostgresTarget, ServiceProcess, TansuBroker, ensure_topics, free_port
from eungdapso_schemas.envelope import decode
from eungdapso_schemas.streams import INTAKE_EVENTS, ROUTER_EVENTS
from tests.e2e.conftest import StackFactory
from tests.support.kafka import read_topic
from tests.support.tcpproxy import TcpProxy
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

FIELDS = ["roads_traffic", "housing_building", "environment_parks", "safety", None]


def body(i: int) -> dict[str, object]:
    return {
        "text": f"민원 번호 {i}: 가로등이 꺼져 있어요",
        "kind": "complaint",
        "field": FIELDS[i % len(FIELDS)],
    }


def count(database: PostgresTarget, query: str) -> int:
    with psycopg.connect(database.conninfo()) as conn:
        row = conn.execute(query).fetchone()
        return int(row[0]) if row else 0


def assigned(database: PostgresTarget) -> int:
    return count(database, "SELECT count(*) FROM publisher.public_complaints WHERE status='assigned'")


#: The router's first decision about each complaint (its store also records the directory's
#: versions, and a decision may be followed by an instant answer or a duplicate link).
ROUTINGS = (
    "SELECT count(*) FROM router.router_events WHERE topic = 'eungdapso_router.domainmodel:Routing.Assigned'"
)


def assert_each_applied_exactly_once(database: PostgresTarget, n: int) -> None:
    assert count(database, "SELECT count(*) FROM intake.intake_events") == n
    # One routing decision per complaint: none lost, none made twice.
    assert count(database, ROUTINGS) == n
    assert count(database, "SELECT count(DISTINCT message_id) FROM router.processed_messages") == n
    assert count(database, "SELECT count(*) FROM router.processed_messages") == n
    assert count(database, "SELECT count(*) FROM publisher.public_complaints WHERE status='assigned'") == n
    # Two events per complaint reached the public projection, each applied once (the
    # publisher's statistics keep a ledger of their own).
    public_status = "SELECT count(*) FROM publisher.processed_messages WHERE consumer LIKE '%public_status@%'"
    assert count(database, public_status) == 2 * n


async def test_router_killed_while_events_flow_loses_nothing_and_applies_nothing_twice(
    make_stack: StackFactory, broker: str, database: PostgresTarget
) -> None:
    stack = await make_stack(broker)
    n = 60
    async with httpx.AsyncClient(base_url=stack["intake"].base_url) as client:

        async def submit(range_: range) -> None:
            for i in range_:
                r = await client.post("/api/v1/complaints", json=body(i))
                assert r.status_code == 201

        await submit(range(0, 20))
        await eventually(
            lambda: asyncio.sleep(0, count(database, ROUTINGS) >= 5),
            what="router has started assigning",
        )
        stack["router"].stop(kill=True)  # SIGKILL: no graceful commit of anything
        await submit(range(20, 40))
        stack["router"].start()
        await submit(range(40, n))
        await stack["router"].wait_ready()
    await eventually(
        lambda: asyncio.sleep(
            0,
            count(database, "SELECT count(*) FROM publisher.public_complaints WHERE status='assigned'") == n,
        ),
        timeout=90,
        what="every complaint assigned",
    )
    await asyncio.sleep(1.0)  # let any redelivery land before counting
    assert_each_applied_exactly_once(database, n)


async def test_intake_accepts_while_the_broker_is_unreachable_and_everything_arrives_once(
    make_stack: StackFactory, database: PostgresTarget, proxied_broker: tuple[str, TcpProxy]
) -> None:
    bootstrap, proxy = proxied_broker
    stack = await make_stack(bootstrap)
    async with httpx.AsyncClient(base_url=stack["intake"].base_url) as client:
        for i in range(10):
            assert (await client.post("/api/v1/complaints", json=body(i))).status_code == 201
        await eventually(lambda: asyncio.sleep(0, assigned(database) == 10), what="first ten assigned")
        proxy.cut()
        receipts = []
        for i in range(10, 40):
            r = await client.post("/api/v1/complaints", json=body(i))
            assert r.status_code == 201, r.text
            receipts.append(r.json()["receipt_no"])
        await asyncio.sleep(3)
        assert count(database, "SELECT count(*) FROM publisher.public_complaints") == 10
        proxy.restore()
    await eventually(
        lambda: asyncio.sleep(0, assigned(database) == 40),
        timeout=120,
        what="all forty assigned after the broker is back",
    )
    await asyncio.sleep(1.0)
    assert_each_applied_exactly_once(database, 40)
    records = await read_topic(bootstrap, INTAKE_EVENTS.name, at_least=40)
    published = Counter(decode(r.headers, r.key, r.value).data.receipt_no for r in records)
    assert set(receipts) <= set(published)


async def test_two_router_replicas_share_the_work_and_survive_losing_one(
    make_stack: StackFactory, broker: str, database: PostgresTarget
) -> None:
    stack = await make_stack(broker)
    first = stack["router"]
    second = ServiceProcess(
        name="router",
        port=free_port(),
        env=first.env,
        log_file=first.log_file.with_name("router-2.log"),  # type: ignore[union-attr]
    )
    second.start()
    try:
        await second.wait_ready()
        await asyncio.sleep(8)  # let the consumer group rebalance over both replicas
        async with httpx.AsyncClient(base_url=stack["intake"].base_url) as client:
            for i in range(40):
                assert (await client.post("/api/v1/complaints", json=body(i))).status_code == 201
            await eventually(
                lambda: asyncio.sleep(0, assigned(database) == 40), timeout=60, what="forty assigned"
            )
            logs = [p.log_file.read_text() for p in (first, second)]  # type: ignore[union-attr]
            assert all('"assignment_decided"' in log for log in logs), "both replicas took partitions"
            first.stop(kill=True)
            for i in range(40, 60):
                assert (await client.post("/api/v1/complaints", json=body(i))).status_code == 201
        await eventually(
            lambda: asyncio.sleep(0, assigned(database) == 60), timeout=90, what="sixty assigned"
        )
        await asyncio.sleep(1.0)
        assert_each_applied_exactly_once(database, 60)
    finally:
        second.stop()


async def test_a_broker_that_lost_its_history_gets_it_again_and_nothing_is_applied_twice(
    make_stack: StackFactory, database: PostgresTarget, tmp_path: Path
) -> None:
    """What restarting `make run` does: the development broker comes back empty while the
    event stores, relay positions and read models persist. The relays find the broker
    lacking what they recorded as published and publish their logs again; the consumers'
    ledgers drop the repeats; a rebuild afterwards has the whole history."""
    port = free_port()
    broker = TansuBroker(port=port, log_file=tmp_path / "broker-1.log")
    broker.start()
    try:
        await ensure_topics(broker.bootstrap_servers)
        stack = await make_stack(broker.bootstrap_servers, env={"RELAY_HISTORY_CHECK_INTERVAL_S": "1"})
        async with httpx.AsyncClient(base_url=stack["intake"].base_url) as client:
            for i in range(9):
                assert (await client.post("/api/v1/complaints", json=body(i))).status_code == 201
            await eventually(lambda: asyncio.sleep(0, assigned(database) == 9), what="nine assigned")

            broker.stop()  # memory only: topics, records and consumer offsets are gone
            broker = TansuBroker(port=port, log_file=tmp_path / "broker-2.log")
            broker.start()
            await ensure_topics(broker.bootstrap_servers)

            # Both relays publish their history again: the new broker has the nine complaints
            # and the router's nine assignments.
            received = await read_topic(broker.bootstrap_servers, INTAKE_EVENTS.name, at_least=9, timeout=60)
            assert len({decode(r.headers, r.key, r.value).id for r in received}) == 9
            await read_topic(broker.bootstrap_servers, ROUTER_EVENTS.name, at_least=9, timeout=60)
            r = await client.post("/api/v1/complaints", json=body(9))
            assert r.status_code == 201
        await eventually(lambda: asyncio.sleep(0, assigned(database) == 10), timeout=60, what="ten assigned")
        await asyncio.sleep(1.0)
        assert_each_applied_exactly_once(database, 10)
        async with httpx.AsyncClient() as probe:
            relay = (await probe.get(stack["intake"].base_url + "/readyz")).json()["relays"]["intake"]
        assert relay["republished_from_start"] >= 1

        # The history is whole again, so a rebuild has everything the live model has seen.
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "eungdapso_publisher", "rebuild"],
            env={**os.environ, **stack["publisher"].env},
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        assert assigned(database) == 10
    finally:
        broker.stop()
