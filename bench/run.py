"""`make bench`: throughput and latency of the system next to raw baselines from the same run.

System:   complaints/s accepted by intake (HTTP, concurrent clients), and the time from
          receipt (the 201) to the public read model showing the assignment, p50/p99,
          both under a burst and at a steady rate.
Baselines (same payloads, same machine, same run):
          bare aiokafka produce + consume of the ComplaintReceived records;
          bare PostgreSQL inserts of the same rows, one transaction each.
Platform: the shared machinery's own cost (bench/platform_cost.py): events/s through
          consumer components (projection, process) and the outbox relay, each next to a
          raw aiokafka consume + decode or produce of the same records.
Routing:  what reading a complaint costs the router, in process (bench/routing_cost.py):
          classification and the whole decision per complaint, p50/p99 ms, next to kiwi's
          raw tokenizer on the same texts.
Notifier: notices/s and answered → notice sent latency (bench/notifier.py), next to raw aiokafka.
SLA:      open deadlines at scale (load, the sla process's memory) and the lag from a due
          moment to its DeadlineBreached for a burst due in one second (bench/sla.py).
Publisher: rebuild of the public projection from the topics (events/s, progress bar) next to a
          raw consume + decode of the same topics; the feed's fan-out to 200 SSE clients
          (deliveries/s, publish → client p50/p99) (bench/publisher.py).
Prints the tables and writes bench/results/latest.json (with --only: only-<section>.json, not kept).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from aiokafka import TopicPartition
from aiokafka.admin import NewTopic
from psycopg_pool import AsyncConnectionPool

sys.path.insert(0, str(Path(__file__).resolve().parent))
import channels
import notifier
import platform_cost
import publisher as publisher_cost
import routing_cost
import sla
from measure import CpuTimes, cpu_of, first_record_times, ms_per, pct, postgres_pids
from workload import complaints

from eungdapso_devstack.infra import (
    PostgresTarget,
    ServiceProcess,
    TansuBroker,
    embedded_postgres,
    ensure_topics,
    free_port,
)
from eungdapso_devstack.stack import Stack
from eungdapso_platform.kafka import KafkaSettings, kafka_admin, kafka_consumer, kafka_producer
from eungdapso_platform.logging import configure_logging
from eungdapso_platform.settings import ServiceSettings
from eungdapso_schemas.envelope import Envelope, encode
from eungdapso_schemas.events import ComplaintReceivedV1
from eungdapso_schemas.streams import INTAKE_EVENTS, ROUTER_EVENTS

log = platform_cost.progress
RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
SERVICES = ("intake", "router", "publisher")
#: How long a consumer group takes to take in a new member on the development broker (~5 s).
GROUP_SETTLE_S = 12.0


def records_for(items: list[dict[str, Any]]) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    out = []
    for i, item in enumerate(items):
        s = item["submission"]
        payload = ComplaintReceivedV1(
            complaint_id=uuid.uuid4(),
            receipt_no=f"2026-{i + 1:07d}",
            received_at=datetime.now(UTC),
            channel=item["channel"],
            kind=s["kind"],
            confidential=s["kind"] in {"corruption_report", "whistleblowing", "human_rights"},
            field=s["field"],
            language="ko",
            text=s["text"],
            place=s["place"],
            citizen=s["contact"],
        )
        r = encode(
            Envelope(
                id=str(uuid.uuid4()),
                source="/bench",
                time=payload.received_at,
                subject=str(payload.complaint_id),
                data=payload,
            )
        )
        out.append((r.key, r.value, r.headers))
    return out


# -- raw baselines ---------------------------------------------------------------------
async def kafka_baseline(bootstrap: str, records: list[Any], steady: int, rate: float) -> dict[str, float]:
    topic = "bench.raw"
    # The clients the system builds (kafka.py), with aiokafka's own request timeout.
    kafka = KafkaSettings(kafka_bootstrap_servers=bootstrap)
    admin = kafka_admin(kafka, client_id="bench", request_timeout_ms=40_000)
    await admin.start()
    try:  # the same partitioning as the system's topics
        await admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
    finally:
        await admin.close()
    producer = kafka_producer(kafka, client_id="bench", acks="all", linger_ms=2, request_timeout_ms=40_000)
    await producer.start()
    # Manual assignment, no group: the raw floor, without rebalancing; the same fetch
    # wait as the services' consumers (ServiceSettings).
    consumer = kafka_consumer(
        kafka,
        client_id="bench",
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=ServiceSettings().kafka_fetch_max_wait_ms,
        request_timeout_ms=40_000,
    )
    await consumer.start()
    await consumer.topics()
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    seen: dict[bytes, float] = {}

    async def consume(expected: int) -> None:
        while len(seen) < expected:
            r = await consumer.getone()
            seen.setdefault(r.key, time.perf_counter())

    try:
        # Burst: produce everything as fast as the client allows.
        sent_at: dict[bytes, float] = {}
        reader = asyncio.create_task(consume(len(records)))
        t0 = time.perf_counter()
        futures = []
        for key, value, headers in records:
            futures.append(await producer.send(topic, value=value, key=key, headers=headers))
            sent_at[key] = time.perf_counter()
        await asyncio.gather(*futures)
        produce_s = time.perf_counter() - t0
        await asyncio.wait_for(reader, 120)
        burst_lat = [seen[k] - sent_at[k] for k in sent_at]
        # Steady: one record at a time at the system's steady rate, produce→consume latency.
        seen.clear()
        steady_records = [(uuid.uuid4().bytes, v, h) for _, v, h in records[:steady]]
        reader = asyncio.create_task(consume(len(steady_records)))
        sent_at = {}
        for key, value, headers in steady_records:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
            sent_at[key] = time.perf_counter()
            await asyncio.sleep(1 / rate)
        await asyncio.wait_for(reader, 60)
        steady_lat = [seen[k] - sent_at[k] for k in sent_at]
    finally:
        await consumer.stop()
        await producer.stop()
    return {
        "produce_per_s": len(records) / produce_s,
        "burst_p50_ms": pct(burst_lat, 50) * 1000,
        "burst_p99_ms": pct(burst_lat, 99) * 1000,
        "steady_p50_ms": pct(steady_lat, 50) * 1000,
        "steady_p99_ms": pct(steady_lat, 99) * 1000,
    }


async def postgres_baseline(conninfo: str, items: list[dict[str, Any]], concurrency: int) -> dict[str, float]:
    async with AsyncConnectionPool(conninfo, min_size=concurrency, max_size=concurrency, open=False) as pool:
        await pool.open(wait=True)
        async with pool.connection() as conn:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS bench_raw (id uuid PRIMARY KEY, receipt_no text, body jsonb)"
            )
            await conn.execute("TRUNCATE bench_raw")
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for i, item in enumerate(items):
            queue.put_nowait({**item, "n": i})

        async def worker() -> None:
            while not queue.empty():
                item = queue.get_nowait()
                async with pool.connection() as conn, conn.transaction():
                    await conn.execute(
                        "INSERT INTO bench_raw VALUES (%s, %s, %s)",
                        (
                            uuid.uuid4(),
                            f"2026-{item['n']:07d}",
                            json.dumps(item["submission"], ensure_ascii=False),
                        ),
                    )

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return {"inserts_per_s": len(items) / (time.perf_counter() - t0)}


# -- the system ------------------------------------------------------------------------
class AssignmentWatch:
    """Notes when each receipt's public status first shows the assignment.

    It reads the publisher's change log (`public_changes`, the feed's source: one row per
    public status change, ids in commit order) from where it last read, so each poll costs
    what changed since the last one. An earlier watch asked the read model for every receipt
    still waiting: with a backlog of 2,000 that query took 3 ms of PostgreSQL's CPU every 5 ms,
    more than the whole system's statements, and it slowed what it measured the more the
    system fell behind."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.receipt_at: dict[str, float] = {}
        self.assigned_at: dict[str, float] = {}
        #: The same two moments on the wall clock, to set beside the router's decision time.
        self.receipt_wall: dict[str, float] = {}
        self.assigned_wall: dict[str, float] = {}
        #: Changes seen before their 201 was (the publisher can be faster than the client).
        self._early: dict[str, tuple[float, float]] = {}
        self._stop = False

    async def run(self) -> None:
        after = 0
        async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
            while not self._stop:
                # Any status past `received` shows the assignment (a duplicate shows `linked`,
                # an instant answer `answered`; the row can be created by the assignment).
                cur = await conn.execute(
                    "SELECT change_id, receipt_no FROM publisher.public_changes"
                    " WHERE change_id > %s AND status <> 'received' ORDER BY change_id",
                    (after,),
                    # Planned for the value each time: a generic plan scans the whole log.
                    prepare=False,
                )
                now, wall = time.perf_counter(), time.time()
                for change_id, receipt_no in await cur.fetchall():
                    after = max(after, change_id)
                    if receipt_no in self.receipt_at:
                        self.assigned_at.setdefault(receipt_no, now)
                        self.assigned_wall.setdefault(receipt_no, wall)
                    else:
                        self._early.setdefault(receipt_no, (now, wall))
                for receipt_no in [r for r in self._early if r in self.receipt_at]:
                    now, wall = self._early.pop(receipt_no)
                    self.assigned_at.setdefault(receipt_no, now)
                    self.assigned_wall.setdefault(receipt_no, wall)
                await asyncio.sleep(0.005)

    def reset(self) -> None:
        """Forget every receipt before the next phase (late changes of the last one included)."""
        self.receipt_at.clear()
        self.assigned_at.clear()
        self.receipt_wall.clear()
        self.assigned_wall.clear()
        self._early.clear()

    def stop(self) -> None:
        self._stop = True

    def received(self, receipt_no: str) -> None:
        self.receipt_at[receipt_no] = time.perf_counter()
        self.receipt_wall[receipt_no] = time.time()

    async def stages(self, bootstrap: str) -> dict[str, float]:
        """Where the wait went, p50 / p99 ms, in four hops: the 201 → ComplaintReceived on the
        broker (intake's relay), → the router's decision (the `assigned_at` it recorded: its
        queue and its reading), → the assignment on the broker (the rest of the router's batch,
        its commit, its relay), → the public change (the publisher's queue and projection).
        The broker's times are the records' own (set when the relay sends them). Read once,
        after the phase: it costs the run nothing."""
        async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
            cur = await conn.execute(
                "SELECT receipt_no, complaint_id::text, extract(epoch FROM assigned_at)::float8"
                " FROM publisher.public_complaints WHERE receipt_no = ANY(%s) AND assigned_at IS NOT NULL",
                (list(self.assigned_wall),),
            )
            rows = await cur.fetchall()
        sent = await first_record_times(bootstrap, {r[1] for r in rows})
        hops: dict[str, list[float]] = {
            "to_received_on_broker": [],
            "to_decision": [],
            "to_assigned_on_broker": [],
            "to_public": [],
        }
        #: From the 201 to the assignment on the router's stream: receipt → assigned as issue 7
        #: names it (the publisher's hop after it came with the public face).
        routed: list[float] = []
        for receipt_no, complaint_id, decided in rows:
            received_on, assigned_on = (
                sent.get((INTAKE_EVENTS.name, complaint_id)),
                sent.get((ROUTER_EVENTS.name, complaint_id)),
            )
            if received_on is None or assigned_on is None:
                continue
            marks = [
                self.receipt_wall[receipt_no],
                received_on,
                decided,
                assigned_on,
                self.assigned_wall[receipt_no],
            ]
            for name, a, b in zip(hops, marks, marks[1:], strict=False):
                hops[name].append(max(0.0, b - a))
            routed.append(max(0.0, assigned_on - self.receipt_wall[receipt_no]))
        out: dict[str, float] = {
            "routed_p50_ms": pct(routed, 50) * 1000,
            "routed_p99_ms": pct(routed, 99) * 1000,
        }
        for name, values in hops.items():
            out[f"{name}_p50_ms"] = pct(values, 50) * 1000
            out[f"{name}_p99_ms"] = pct(values, 99) * 1000
        return out

    def latencies(self) -> list[float]:
        # Shown before its 201 reached the client: no wait at all.
        return [
            max(0.0, self.assigned_at[r] - t) for r, t in self.receipt_at.items() if r in self.assigned_at
        ]


async def system_burst(
    intake_url: str, items: list[dict[str, Any]], concurrency: int, watch: AssignmentWatch
) -> dict[str, float]:
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    errors = 0

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while not queue.empty():
            item = queue.get_nowait()
            r = await client.post("/api/v1/complaints", json=item["submission"])
            if r.status_code != 201:
                errors += 1
                continue
            watch.received(r.json()["receipt_no"])

    async with httpx.AsyncClient(
        base_url=intake_url, timeout=60, limits=httpx.Limits(max_connections=concurrency)
    ) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
        accept_s = time.perf_counter() - t0
    return {"accepted_per_s": (len(items) - errors) / accept_s, "errors": errors}


async def system_steady(
    intake_url: str, items: list[dict[str, Any]], rate: float, watch: AssignmentWatch
) -> None:
    async with httpx.AsyncClient(base_url=intake_url, timeout=60) as client:
        for item in items:
            r = await client.post("/api/v1/complaints", json=item["submission"])
            if r.status_code == 201:
                watch.received(r.json()["receipt_no"])
            await asyncio.sleep(1 / rate)


class CpuClock:
    """CPU time (user + system, every thread; /proc) of the services, their replicas summed,
    and of `others`: name → how to list its processes now (PostgreSQL starts a backend per
    connection: those started in between count from zero), so that where the machine's time
    goes is seen whole."""

    def __init__(
        self,
        stack: Stack,
        services: Sequence[str],
        extra: Sequence[ServiceProcess],
        others: dict[str, Callable[[], list[int]]],
    ) -> None:
        self.processes = [*(stack[name] for name in services), *extra]
        self.others = others

    def read(self) -> CpuTimes:
        out: CpuTimes = {}
        for process in self.processes:
            if process.pid is not None:
                out.setdefault(process.name, {})[process.pid] = cpu_of(process.pid)
        for name, pids in self.others.items():
            out[name] = {pid: cpu_of(pid) for pid in pids()}
        return out


async def more_routers(stack: Stack, replicas: int, logs: Path) -> list[ServiceProcess]:
    """Routers beyond the stack's one, in the same consumer group: the intake stream's
    partitions are shared among them. Started before the burst, and given time for the
    group to settle, so that no rebalance pauses the burst."""
    one = stack["router"]
    extra = [
        ServiceProcess(name="router", port=free_port(), env=one.env, log_file=logs / f"router-{n}.log")
        for n in range(2, replicas + 1)
    ]
    for process in extra:
        process.start()
    await asyncio.gather(*(p.wait_ready() for p in extra))
    if extra:
        await asyncio.sleep(GROUP_SETTLE_S)
    return extra


async def wait_all(watch: AssignmentWatch, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(watch.assigned_at) < len(watch.receipt_at):
        await asyncio.sleep(0.1)


def local_postgres() -> tuple[PostgresTarget, Any]:
    target = PostgresTarget(
        os.environ.get("POSTGRES_HOST", "127.0.0.1"),
        int(os.environ.get("POSTGRES_PORT", "5432")),
        os.environ.get("POSTGRES_USER", "postgres"),
        os.environ.get("POSTGRES_PASSWORD", ""),
        f"eds_bench_{uuid.uuid4().hex[:8]}",
    )
    try:
        target.create_database()
        return target, None
    except psycopg.Error:
        log.info("no local PostgreSQL; using the embedded one")
        tmp = Path(tempfile.mkdtemp(prefix="eds-bench-pg-"))
        target, server = embedded_postgres(tmp, dbname=target.dbname)
        return target, server


async def system_section(
    args: argparse.Namespace, postgres: PostgresTarget, items: list[dict[str, Any]]
) -> dict[str, Any]:
    """Intake, router and publisher as processes, next to raw Kafka and PostgreSQL."""
    burst_items, steady_items = items[: args.burst], items[args.burst :]
    broker = TansuBroker(log_file=Path(tempfile.mkdtemp()) / "broker.log")
    broker.start()
    stack: Stack | None = None
    routers: list[ServiceProcess] = []
    try:
        await ensure_topics(broker.bootstrap_servers)
        log.info("baseline_kafka", records=len(burst_items))
        kafka = await kafka_baseline(
            broker.bootstrap_servers, records_for(burst_items), args.steady, args.rate
        )
        log.info("baseline_postgres", rows=len(burst_items))
        pg = await postgres_baseline(postgres.conninfo(), burst_items, args.concurrency)

        log.info("system_starting")
        logs = Path(tempfile.mkdtemp(prefix="eds-bench-logs-"))
        stack = Stack(
            postgres=postgres,
            bootstrap_servers=broker.bootstrap_servers,
            logs=logs,
            services=SERVICES,
            # Thousands of web complaints from 127.0.0.1: the per-address limit must not bite.
            extra_env={
                "LOG_LEVEL": "WARNING",
                "RELAY_POLL_INTERVAL_S": "0.05",
                "WEB_RATE_PER_MINUTE": "100000000",
                **channels.INTAKE_ENV,
            },
        )
        await stack.start()
        routers = await more_routers(stack, args.router_replicas, logs)
        watch = AssignmentWatch(postgres.conninfo())
        watcher = asyncio.create_task(watch.run())
        log.info("system_burst", complaints=len(burst_items), concurrency=args.concurrency)
        clock = CpuClock(
            stack,
            SERVICES,
            routers,
            {
                "postgres": postgres_pids,
                "bench clients": lambda: [os.getpid()],
                "broker": lambda: [] if broker.process is None else [broker.process.pid],
            },
        )
        cpu_before = clock.read()
        burst = await system_burst(stack["intake"].base_url, burst_items, args.concurrency, watch)
        await wait_all(watch, 300)
        cpu_after = clock.read()
        burst_lat = watch.latencies()
        burst_stages = await watch.stages(broker.bootstrap_servers)
        drained = len(watch.assigned_at)
        # CPU per complaint of each service over the burst and its drain: what the services
        # spend, far less sensitive to the other load on a shared machine than latency.
        cpu_ms = ms_per(cpu_before, cpu_after, drained)
        watch.reset()
        log.info("system_steady", complaints=len(steady_items), rate_per_s=args.rate)
        cpu_before = clock.read()
        await system_steady(stack["intake"].base_url, steady_items, args.rate, watch)
        await wait_all(watch, 120)
        cpu_after = clock.read()
        steady_lat = watch.latencies()
        steady_stages = await watch.stages(broker.bootstrap_servers)
        # The same at a rate the machine keeps up with: the cost without contention (idle
        # polling included, spread over the complaints).
        steady_cpu_ms = ms_per(cpu_before, cpu_after, len(steady_lat))
        watch.stop()
        await watcher
        per_channel: dict[str, Any] | None = None
        if args.channel_n > 0:
            channel_items = items[: args.channel_n]
            log.info("channels", complaints=len(channel_items), concurrency=args.concurrency)
            intake_url = stack["intake"].base_url
            per_channel = {"n": len(channel_items), "concurrency": args.concurrency}
            per_channel["web"] = await channels.web(intake_url, channel_items, args.concurrency)
            api_key = channels.create_client(postgres.env())
            per_channel["open311"] = await channels.open311(
                intake_url, channel_items, args.concurrency, api_key
            )
            per_channel["sms"] = await channels.sms(intake_url, channel_items, args.concurrency)
            per_channel["integrator"] = await channels.integrator(broker.bootstrap_servers, channel_items)
    finally:
        for process in routers:
            process.stop()
        if stack is not None:
            stack.stop()
        broker.stop()

    system: dict[str, Any] = {
        "accepted_per_s": burst["accepted_per_s"],
        "errors": burst["errors"],
        "burst_assigned": drained,
        "burst_p50_ms": pct(burst_lat, 50) * 1000,
        "burst_p99_ms": pct(burst_lat, 99) * 1000,
        "steady_p50_ms": pct(steady_lat, 50) * 1000,
        "steady_p99_ms": pct(steady_lat, 99) * 1000,
        "steady_assigned": len(steady_lat),
        "burst_stages": burst_stages,
        "steady_stages": steady_stages,
        "burst_cpu_ms_per_complaint": cpu_ms,
        "steady_cpu_ms_per_complaint": steady_cpu_ms,
    }
    return {
        "system": system,
        **({"channels": per_channel} if per_channel is not None else {}),
        "raw_kafka": kafka,
        "raw_postgres": pg,
        "ratios": {
            "intake_vs_raw_postgres_inserts": system["accepted_per_s"] / pg["inserts_per_s"],
            "intake_vs_raw_kafka_produce": system["accepted_per_s"] / kafka["produce_per_s"],
            "steady_p50_vs_raw_kafka": system["steady_p50_ms"] / kafka["steady_p50_ms"],
            "steady_p99_vs_raw_kafka": system["steady_p99_ms"] / kafka["steady_p99_ms"],
            "burst_p50_vs_raw_kafka": system["burst_p50_ms"] / kafka["burst_p50_ms"],
        },
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "params": vars(args),
    }
    if args.only in (None, "routing"):
        log.info("routing_section", complaints=args.events)
        result["routing"] = routing_cost.routing_cost(complaints(args.events))
        if args.only == "routing":
            return result
    postgres, server = local_postgres()
    try:
        if args.only in (None, "system"):
            result.update(await system_section(args, postgres, complaints(args.burst + args.steady)))
        if args.only in (None, "notifier"):
            log.info("notifier_section", complaints=args.notices)
            result["notifier"] = await notifier.notifier_cost(
                postgres, n=args.notices, steady=args.steady, rate=args.rate, kafka_baseline=kafka_baseline
            )
        if args.only in (None, "platform"):
            log.info("platform_section", events=args.events, rounds=args.rounds)
            result["platform"] = await platform_cost.platform_cost(
                postgres, complaints(args.events), rounds=args.rounds, log_level=args.log_level
            )
        if args.only in (None, "sla"):
            log.info("sla_section", deadlines=args.sla_deadlines, burst=args.sla_burst)
            result["sla"] = await sla.sla_section(postgres, args.sla_deadlines, args.sla_burst)
        if args.only in (None, "publisher"):
            log.info("publisher_section", complaints=args.events, clients=args.feed_clients)
            result["publisher"] = await publisher_cost.publisher_cost(
                postgres, complaints(args.events), clients=args.feed_clients
            )
    finally:
        if server is None:
            postgres.drop_database()
        else:
            server.cleanup()
    return result


def report(result: dict[str, Any]) -> str:
    parts = []
    if "system" in result:
        parts.append(system_report(result))
    if "platform" in result:
        parts.append(platform_cost.report(result["platform"]))
    if "routing" in result:
        parts.append(routing_cost.report(result["routing"]))
    if "notifier" in result:
        parts.append(notifier.report(result["notifier"]))
    if "sla" in result:
        parts.append(sla.report(result["sla"]))
    if "publisher" in result:
        parts.append(publisher_cost.report(result["publisher"]))
    return "\n\n".join(parts)


def system_report(result: dict[str, Any]) -> str:
    s, k, p, r = result["system"], result["raw_kafka"], result["raw_postgres"], result["ratios"]
    rows = [
        (
            "Intake accepted (burst, complaints/s)",
            f"{s['accepted_per_s']:.0f}",
            f"PG inserts {p['inserts_per_s']:.0f}/s; Kafka produce {k['produce_per_s']:.0f}/s",
            f"{r['intake_vs_raw_postgres_inserts']:.2f}x PG; {r['intake_vs_raw_kafka_produce']:.3f}x Kafka",
        ),
        (
            "Receipt → public 'assigned', steady p50 (ms)",
            f"{s['steady_p50_ms']:.1f}",
            f"Kafka produce→consume p50 {k['steady_p50_ms']:.1f}",
            f"{r['steady_p50_vs_raw_kafka']:.1f}x",
        ),
        (
            "Receipt → public 'assigned', steady p99 (ms)",
            f"{s['steady_p99_ms']:.1f}",
            f"Kafka produce→consume p99 {k['steady_p99_ms']:.1f}",
            f"{r['steady_p99_vs_raw_kafka']:.1f}x",
        ),
        (
            "Receipt → public 'assigned', burst p50 / p99 (ms)",
            f"{s['burst_p50_ms']:.0f} / {s['burst_p99_ms']:.0f}",
            f"Kafka burst p50 {k['burst_p50_ms']:.0f} / p99 {k['burst_p99_ms']:.0f}",
            f"{r['burst_p50_vs_raw_kafka']:.1f}x",
        ),
    ]
    for key, when, base in (
        ("steady_stages", "steady", "steady"),
        ("burst_stages", "burst", "burst"),
    ):
        st = s.get(key)
        if st and "routed_p50_ms" in st:
            rows.append(
                (
                    f"Receipt → assigned on the router's stream, {when} p50 / p99 (ms)",
                    f"{st['routed_p50_ms']:.0f} / {st['routed_p99_ms']:.0f}",
                    f"Kafka produce→consume p50 {k[base + '_p50_ms']:.0f} / p99 {k[base + '_p99_ms']:.0f}",
                    f"{st['routed_p50_ms'] / k[base + '_p50_ms']:.1f}x",
                )
            )
    lines = ["| measure | system | raw baseline (same run) | ratio |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    for key, when in (
        ("burst_cpu_ms_per_complaint", "the burst and its drain"),
        ("steady_cpu_ms_per_complaint", "the steady rate"),
    ):
        cpu = s.get(key, {})
        if cpu:
            lines.append(
                f"\nCPU per complaint over {when} (ms, each process, every thread; postgres: "
                "every PostgreSQL process of the machine): "
                + ", ".join(f"{name} {ms:.2f}" for name, ms in cpu.items())
                + f"; all {sum(cpu.values()):.2f}"
            )
    for key, when in (("burst_stages", "burst"), ("steady_stages", "steady")):
        st = s.get(key)
        if st:
            lines.append(
                f"\nWhere the {when} wait went, p50 / p99 ms, hop by hop: 201 → received on the broker "
                f"{st['to_received_on_broker_p50_ms']:.0f} / {st['to_received_on_broker_p99_ms']:.0f}; "
                f"→ the router's decision {st['to_decision_p50_ms']:.0f} / {st['to_decision_p99_ms']:.0f}; "
                f"→ assigned on the broker {st['to_assigned_on_broker_p50_ms']:.0f} / "
                f"{st['to_assigned_on_broker_p99_ms']:.0f}; → public {st['to_public_p50_ms']:.0f} / "
                f"{st['to_public_p99_ms']:.0f}"
            )
    if "channels" in result:
        lines.append("\n" + channels.report(result["channels"], p["inserts_per_s"]) + "\n")
    lines.append(
        f"\nburst: {result['params']['burst']} complaints, {result['params']['concurrency']} clients, "
        f"{result['params'].get('router_replicas', 1)} router(s), "
        f"{s['errors']} errors, {s['burst_assigned']} assigned; steady: {result['params']['steady']} "
        f"at {result['params']['rate']}/s, {s['steady_assigned']} assigned"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--burst", type=int, default=2000, help="complaints sent as fast as possible")
    parser.add_argument("--steady", type=int, default=200, help="complaints sent at --rate")
    parser.add_argument("--rate", type=float, default=20.0, help="steady rate, complaints per second")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--router-replicas", type=int, default=1, help="routers sharing the intake stream's partitions"
    )
    parser.add_argument(
        "--channel-n", type=int, default=600, help="complaints per channel (per-channel intake; 0: none)"
    )
    parser.add_argument(
        "--events", type=int, default=3000, help="records through the platform's components and relay"
    )
    parser.add_argument("--rounds", type=int, default=3, help="repetitions of each platform measure")
    parser.add_argument(
        "--log-level", default="WARNING", help="the platform's log level in this process (services: WARNING)"
    )
    parser.add_argument("--feed-clients", type=int, default=200, help="SSE clients of the publisher's feed")
    parser.add_argument("--notices", type=int, default=1000, help="complaints through the notifier")
    parser.add_argument(
        "--sla-deadlines", type=int, default=100_000, help="open deadlines loaded (recorded: 1000000)"
    )
    parser.add_argument("--sla-burst", type=int, default=10_000, help="deadlines falling due in one second")
    parser.add_argument(
        "--only",
        choices=("system", "platform", "routing", "notifier", "sla", "publisher"),
        help="run one section",
    )
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    args = parser.parse_args()
    configure_logging("bench", args.log_level)
    result = asyncio.run(main(args))
    out = RESULTS if args.only is None else RESULTS.with_name(f"only-{args.only}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    sys.stdout.write(report(result) + "\n")
    sys.stdout.write(f"(written to {out})\n")
