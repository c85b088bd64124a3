"""The SLA service's figures (issue 8), each next to a raw baseline from the same run.

**Open deadlines at scale.** N open deadlines (default 100,000; `--sla-deadlines 1000000`
for the recorded figure) are counted by the service's own code (`PeriodTable.choose`, `due`,
`Deadline.set_when_known`, `row_of`) for a realistic mix of kinds, subjects, message classes
and channels received over the last half day, and COPYed into sla's read model
(`sla.open_deadlines`, its primary key and `next_at` index, created by sla's own migrations);
the raw baseline COPYs the same rows into a bare table without indexes. Then a real `sla`
process (`python -m eungdapso_sla serve`, its scheduler every second) runs over them: its
resident memory (RSS and peak) and its CPU while idle, next to the same process over an empty
read model, and the scheduler's claim query timed on both. Distinct receipt moments are
counted once each (`TEMPLATES`); every row has its own ids.

**Breach lag.** A burst of `--sla-burst` deadlines (default 10,000) falls due in the same
second: SNS complaints (24 clock hours) received at the same moment, recorded through the real
consumer path (receipts and assignments on the broker → the `deadlines` process) by an
in-process sla whose clock is held at the moment of receipt. The clock is then moved to the
due moment; the lag is the wall time from that move to each `DeadlineBreached` record read on
`eungdapso.sla.events`, p50/p99. Raw baseline, same run, same broker: 10,000 records produced at
once from one moment and read back by the same kind of bare consumer, the time from that moment
to each record read.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import httpx
import psycopg
from aiokafka import TopicPartition
from aiokafka.admin import NewTopic
from asgi_lifespan import LifespanManager
from measure import pct
from platform_cost import progress as log

from eungdapso_devstack.infra import PostgresTarget, TansuBroker, ensure_topics, free_port
from eungdapso_platform.clock import FixedClock
from eungdapso_platform.db import Database
from eungdapso_platform.kafka import KafkaSettings, kafka_admin, kafka_consumer, kafka_producer
from eungdapso_platform.service import Overrides
from eungdapso_platform.settings import ServiceSettings
from eungdapso_schemas.codes import Channel, Kind, MessageClass, OfficeLevel
from eungdapso_schemas.envelope import Envelope, encode
from eungdapso_schemas.events import ComplaintAssignedV2, ComplaintReceivedV2, Office
from eungdapso_schemas.streams import INTAKE_EVENTS, ROUTER_EVENTS, SLA_EVENTS
from eungdapso_schemas.subjects import SUBJECTS
from eungdapso_sla.bootstrap import MIGRATIONS, bootstrap
from eungdapso_sla.calendar import SEOUL, BusinessCalendar
from eungdapso_sla.domainmodel import Deadline
from eungdapso_sla.opendeadlines import row_of
from eungdapso_sla.periods import PeriodTable
from eungdapso_sla.scheduler import CLAIM_DUE
from eungdapso_sla.settings import SlaSettings

#: Distinct receipt moments counted with the service's code; rows reuse them with fresh ids.
TEMPLATES = 5000
COPY_CHUNK = 50_000
#: How long the sla process runs over the rows before its memory and CPU are read.
SETTLE_S = 10.0
OFFICE = Office(code="district.jongno.roads", name="종로구 도로과", level=OfficeLevel.DISTRICT)
_COLUMNS = (
    "deadline_id, complaint_id, office, due, warn_at, warn_stage, next_at, claimed_until,"
    " calendar_version, version"
)
#: The kinds, classes and channels in roughly the mix DOMAIN.md gives (SNS 56 %).
_MIX = (
    [(Kind.COMPLAINT, MessageClass.FIELD, Channel.WEB)] * 30
    + [(Kind.COMPLAINT, MessageClass.GENERAL, Channel.PHONE)] * 10
    + [(Kind.COMPLAINT, MessageClass.FIELD, Channel.SNS)] * 40
    + [(Kind.INQUIRY, MessageClass.COMMUNICATION, Channel.WEB)] * 10
    + [(Kind.PROPOSAL, MessageClass.PROPOSAL, Channel.APP)] * 10
)


# -- (a) open deadlines at scale -----------------------------------------------------------
def templates(now: datetime, count: int) -> list[tuple[Any, ...]]:
    """Rows of the read model as the service writes them, for `count` receipts in the last
    half day (all still open at `now`)."""
    table, calendar, rng = PeriodTable.packaged(), BusinessCalendar(), random.Random(8)
    subjects = [s.code for s in SUBJECTS]
    rows = []
    while len(rows) < count:
        kind, message_class, channel = rng.choice(_MIX)
        deadline = Deadline.start(uuid.uuid4(), "2026-0000001")
        deadline.learn_receipt(now - timedelta(seconds=rng.randrange(12 * 3600)), kind, channel)
        deadline.learn_assignment(OFFICE.code, rng.choice(subjects), message_class)
        deadline.set_when_known(table, calendar)
        assert deadline.due is not None
        if deadline.due <= now + timedelta(hours=1):
            continue  # falls due while measuring: not an idle open deadline
        rows.append(row_of(deadline, calendar, 0.75).params)
    return rows


def rows(n: int, made: list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    for i in range(n):
        _, _, office, due, warn_at, stage, next_at, version, recorded = made[i % len(made)]
        yield (uuid.uuid4(), uuid.uuid4(), office, due, warn_at, stage, next_at, None, version, recorded)


def copy_rows(conninfo: str, table: str, n: int, made: list[tuple[Any, ...]], what: str) -> float:
    """COPY n rows made from the templates into `table`, with progress; seconds taken (making
    each row's ids included)."""
    t0 = time.perf_counter()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        copied = 0
        chunk: list[tuple[Any, ...]] = []

        def flush() -> None:
            nonlocal copied
            with conn.cursor() as cur, cur.copy(f"COPY {table} ({_COLUMNS}) FROM STDIN") as copy:
                for row in chunk:
                    copy.write_row(row)
            copied += len(chunk)
            chunk.clear()
            log.info("sla_loading", into=what, rows=copied, of=n, s=round(time.perf_counter() - t0, 1))

        for row in rows(n, made):
            chunk.append(row)
            if len(chunk) == COPY_CHUNK:
                flush()
        if chunk:
            flush()
        conn.execute(f"ANALYZE {table}")
    return time.perf_counter() - t0


def proc_figures(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    kb = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines() if line.endswith("kB")}
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return {
        "rss_mib": kb["VmRSS"] / 1024,
        "peak_mib": kb["VmHWM"] / 1024,
        "cpu_s": (int(fields[11]) + int(fields[12])) / ticks,
    }


def sla_process_figures(postgres: PostgresTarget, bootstrap_servers: str) -> dict[str, float]:
    """Start `python -m eungdapso_sla`, wait until ready, let it run SETTLE_S; its RSS, peak
    RSS and CPU share over that time."""
    port = free_port()
    env = {
        **os.environ,
        **postgres.env(),
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
        "HTTP_PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    logs = Path(tempfile.mkdtemp(prefix="eds-bench-sla-")) / "sla.log"
    with logs.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "eungdapso_sla", "serve"], env=env, stdout=out, stderr=out
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"sla exited with {process.returncode}; see {logs}")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sla not ready in 120 s; see {logs}")
                time.sleep(0.2)
            before = proc_figures(process.pid)
            time.sleep(SETTLE_S)
            after = proc_figures(process.pid)
        finally:
            process.terminate()
            process.wait(30)
    return {
        "rss_mib": after["rss_mib"],
        "peak_mib": after["peak_mib"],
        "idle_cpu_percent": (after["cpu_s"] - before["cpu_s"]) / SETTLE_S * 100,
    }


def claim_ms(conninfo: str, schema: str) -> float:
    """The scheduler's claim of what is due (nothing is), median of 5, each rolled back."""
    now = datetime.now(UTC)
    sql = CLAIM_DUE.replace("{schema}", schema)
    times = []
    with psycopg.connect(conninfo) as conn:
        for _ in range(5):
            t0 = time.perf_counter()
            conn.execute(sql, (now + timedelta(seconds=60), now, now, 500)).fetchall()
            times.append((time.perf_counter() - t0) * 1000)
            conn.rollback()
    return sorted(times)[2]


async def open_deadlines(postgres: PostgresTarget, bootstrap_servers: str, n: int) -> dict[str, Any]:
    settings = SlaSettings(**{k.lower(): v for k, v in postgres.env().items()})
    db = Database.for_service(settings, migrations=MIGRATIONS)
    await db.open()  # sla's own migrations: the table and its indexes as the service has them
    await db.close()
    conninfo = postgres.conninfo()
    log.info("sla_process_empty")
    empty = await asyncio.to_thread(sla_process_figures, postgres, bootstrap_servers)
    empty_claim = claim_ms(conninfo, settings.db_schema)
    now = datetime.now(SEOUL)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE bench_sla_raw (deadline_id uuid, complaint_id uuid, office text, due timestamptz,"
            " warn_at timestamptz, warn_stage text, next_at timestamptz, claimed_until timestamptz,"
            " calendar_version integer, version integer)"
        )
    made = templates(now, min(n, TEMPLATES))
    # A first COPY warms the connection and the caches: neither measured run pays for it.
    copy_rows(conninfo, "bench_sla_raw", min(n, COPY_CHUNK), made, "warm-up")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("TRUNCATE bench_sla_raw")
    raw_s = copy_rows(conninfo, "bench_sla_raw", n, made, "bare table")
    loaded_s = copy_rows(conninfo, f"{settings.db_schema}.open_deadlines", n, made, "sla.open_deadlines")
    with psycopg.connect(conninfo) as conn:
        size = conn.execute(
            "SELECT pg_total_relation_size(%s), pg_total_relation_size('bench_sla_raw')",
            (f"{settings.db_schema}.open_deadlines",),
        ).fetchone()
        assert size is not None
    log.info("sla_process_loaded", rows=n)
    loaded = await asyncio.to_thread(sla_process_figures, postgres, bootstrap_servers)
    return {
        "n": n,
        "load_s": loaded_s,
        "load_rows_per_s": n / loaded_s,
        "raw_copy_s": raw_s,
        "raw_copy_rows_per_s": n / raw_s,
        "table_mib": size[0] / 2**20,
        "raw_table_mib": size[1] / 2**20,
        "process": loaded,
        "process_empty": empty,
        "claim_ms": claim_ms(conninfo, settings.db_schema),
        "claim_empty_ms": empty_claim,
    }


# -- (b) breach lag ------------------------------------------------------------------------
def envelope(payload: Any) -> Envelope[Any]:
    return Envelope(
        id=str(uuid.uuid4()),
        source="/bench",
        time=datetime.now(UTC),
        subject=str(payload.complaint_id),
        data=payload,
    )


def burst_records(count: int, received: datetime) -> tuple[list[Any], list[Any]]:
    base_r, base_a = ComplaintReceivedV2.example(), ComplaintAssignedV2.example()
    receipts, assignments = [], []
    for i in range(count):
        cid, no = uuid.uuid4(), f"2026-{i + 1:07d}"
        common = {"complaint_id": cid, "receipt_no": no}
        receipts.append(
            encode(
                envelope(
                    base_r.model_copy(
                        update={
                            **common,
                            "received_at": received,
                            "channel": Channel.SNS,
                            "kind": Kind.COMPLAINT,
                        }
                    )
                )
            )
        )
        assignments.append(
            encode(
                envelope(
                    base_a.model_copy(
                        update={
                            **common,
                            "office": OFFICE,
                            "assigned_at": received,
                            "subject": "bus",
                            "message_class": MessageClass.FIELD,
                        }
                    )
                )
            )
        )
    return receipts, assignments


class TopicReader:
    """A bare consumer (manual assignment, no group, the services' fetch wait) of one topic,
    noting when each record of a CloudEvents type is read."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self.topic = topic
        self.consumer = kafka_consumer(
            KafkaSettings(kafka_bootstrap_servers=bootstrap_servers),
            client_id="bench-sla",
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=ServiceSettings().kafka_fetch_max_wait_ms,
        )
        self.read: dict[str, list[float]] = {}

    async def start(self) -> None:
        await self.consumer.start()
        await self.consumer.topics()
        partitions = [
            TopicPartition(self.topic, p)
            for p in sorted(self.consumer.partitions_for_topic(self.topic) or ())
        ]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_beginning(*partitions)

    async def run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batches.values():
                for r in records:
                    kind = dict(r.headers).get("ce_type", b"").decode()
                    self.read.setdefault(kind, []).append(now)

    def of(self, part: str) -> list[float]:
        """When each record whose type contains `part` was read ("" for every record)."""
        return [t for kind, times in self.read.items() if part in kind for t in times]

    def count(self, part: str) -> int:
        return sum(len(times) for kind, times in self.read.items() if part in kind)

    async def wait(self, part: str, count: int, limit_s: float) -> None:
        # Counting, not copying, every 10 ms: the reader shares the process with what it times.
        stop = time.monotonic() + limit_s
        while self.count(part) < count:
            if time.monotonic() > stop:
                raise TimeoutError(f"{self.count(part)} of {count} {part!r} read in {limit_s} s")
            await asyncio.sleep(0.01)


async def raw_burst(bootstrap_servers: str, records: list[Any]) -> list[float]:
    """10,000 records produced at once from one moment: the moment → each record read."""
    topic = "bench.sla.raw"
    reader = TopicReader(bootstrap_servers, topic)
    producer = kafka_producer(
        KafkaSettings(kafka_bootstrap_servers=bootstrap_servers),
        client_id="bench-sla",
        acks="all",
        linger_ms=2,
    )
    admin = kafka_admin(KafkaSettings(kafka_bootstrap_servers=bootstrap_servers), client_id="bench-sla")
    await admin.start()
    try:  # partitioned as the system's topics
        await admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
    finally:
        await admin.close()
    await producer.start()
    await producer.send_and_wait(topic, b"warm-up")
    await reader.start()
    task = asyncio.create_task(reader.run())
    try:
        await reader.wait("", 1, 60)
        reader.read.clear()
        t0 = time.perf_counter()
        futures = [await producer.send(topic, value=r.value, key=r.key, headers=r.headers) for r in records]
        await asyncio.gather(*futures)
        await reader.wait("", len(records), 300)
        return [t - t0 for t in reader.of("")]
    finally:
        task.cancel()
        await reader.consumer.stop()
        await producer.stop()


async def breach_lag(postgres: PostgresTarget, bootstrap_servers: str, count: int) -> dict[str, Any]:
    received = datetime.combine(datetime(2026, 11, 2).date(), clock_time(10), SEOUL)
    due = received + timedelta(hours=24)  # SNS: 24 clock hours
    clock = FixedClock(received)
    settings = SlaSettings(
        **{k.lower(): v for k, v in postgres.env().items()},
        postgres_schema="sla_burst",
        kafka_bootstrap_servers=bootstrap_servers,
        log_level="WARNING",
    )
    receipts, assignments = burst_records(count, received)
    raw = await raw_burst(bootstrap_servers, receipts)
    reader = TopicReader(bootstrap_servers, SLA_EVENTS.name)
    await reader.start()
    watching = asyncio.create_task(reader.run())
    producer = kafka_producer(
        KafkaSettings(kafka_bootstrap_servers=bootstrap_servers),
        client_id="bench-sla",
        acks="all",
        linger_ms=5,
    )
    await producer.start()
    app = bootstrap(settings, Overrides(clock=clock))
    try:
        async with LifespanManager(app, startup_timeout=120, shutdown_timeout=60):
            log.info("sla_burst_recording", deadlines=count)
            t0 = time.perf_counter()
            for topic, records in ((INTAKE_EVENTS.name, receipts), (ROUTER_EVENTS.name, assignments)):
                futures = [
                    await producer.send(topic, value=r.value, key=r.key, headers=r.headers) for r in records
                ]
                await asyncio.gather(*futures)
            while reader.count(".deadline.set.") < count:
                await asyncio.sleep(2)
                log.info("sla_burst_recording", set=reader.count(".deadline.set."), of=count)
            set_s = time.perf_counter() - t0
            log.info("sla_burst_due", deadlines=count, due=due.isoformat())
            moved = time.perf_counter()
            clock.at = due
            await reader.wait(".deadline.breached.", count, 900)
            lags = [t - moved for t in reader.of(".deadline.breached.")]
    finally:
        watching.cancel()
        await reader.consumer.stop()
        await producer.stop()
    return {
        "n": count,
        "set_s": set_s,
        "breach_p50_ms": pct(lags, 50) * 1000,
        "breach_p99_ms": pct(lags, 99) * 1000,
        "breach_last_ms": max(lags) * 1000,
        "raw_p50_ms": pct(raw, 50) * 1000,
        "raw_p99_ms": pct(raw, 99) * 1000,
        "raw_last_ms": max(raw) * 1000,
    }


async def sla_section(postgres: PostgresTarget, deadlines: int, burst: int) -> dict[str, Any]:
    broker = TansuBroker(log_file=Path(tempfile.mkdtemp()) / "broker.log")
    broker.start()
    try:
        await ensure_topics(broker.bootstrap_servers)
        log.info("sla_open_deadlines", deadlines=deadlines)
        scale = await open_deadlines(postgres, broker.bootstrap_servers, deadlines)
        log.info("sla_breach_lag", deadlines=burst)
        lag = await breach_lag(postgres, broker.bootstrap_servers, burst)
    finally:
        broker.stop()
    return {"open_deadlines": scale, "breach_lag": lag}


def report(result: dict[str, Any]) -> str:
    s, lag = result["open_deadlines"], result["breach_lag"]
    p, e = s["process"], s["process_empty"]
    rows = [
        (
            f"Load {s['n']:,} open deadlines into sla.open_deadlines (rows/s)",
            f"{s['load_rows_per_s']:,.0f} ({s['load_s']:.1f} s, {s['table_mib']:.0f} MiB)",
            f"COPY into a bare table {s['raw_copy_rows_per_s']:,.0f}"
            f" ({s['raw_copy_s']:.1f} s, {s['raw_table_mib']:.0f} MiB)",
            f"{s['load_rows_per_s'] / s['raw_copy_rows_per_s']:.2f}x",
        ),
        (
            f"sla process RSS / peak with {s['n']:,} open (MiB)",
            f"{p['rss_mib']:.0f} / {p['peak_mib']:.0f}",
            f"same process, empty read model {e['rss_mib']:.0f} / {e['peak_mib']:.0f}",
            f"{p['rss_mib'] / e['rss_mib']:.2f}x",
        ),
        (
            "sla process idle CPU (%, scheduler every 1 s)",
            f"{p['idle_cpu_percent']:.1f}",
            f"empty {e['idle_cpu_percent']:.1f}",
            "",
        ),
        (
            "Scheduler claim query, nothing due (ms)",
            f"{s['claim_ms']:.2f}",
            f"empty {s['claim_empty_ms']:.2f}",
            "",
        ),
        (
            f"Due → DeadlineBreached on the topic, {lag['n']:,} due in one second, p50 / p99 (ms)",
            f"{lag['breach_p50_ms']:.0f} / {lag['breach_p99_ms']:.0f}",
            f"raw produce→consume of {lag['n']:,} at once"
            f" p50 {lag['raw_p50_ms']:.0f} / p99 {lag['raw_p99_ms']:.0f}",
            f"{lag['breach_p50_ms'] / lag['raw_p50_ms']:.1f}x",
        ),
    ]
    lines = ["| SLA measure | sla | raw baseline (same run) | ratio |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    lines.append(
        f"\nburst: {lag['n']:,} SNS deadlines recorded through the consumer path in {lag['set_s']:.1f} s; "
        f"last breach {lag['breach_last_ms']:.0f} ms after the due moment"
        f" (raw last {lag['raw_last_ms']:.0f} ms)"
    )
    return "\n".join(lines)
