"""The publisher's cost (bench/run.py's `publisher` section), on a broker of its own.

- **Rebuild of the public projection from the topics**: a whole lifecycle history of the
  workload's complaints (received v2 — half of them disclosed, so redacted and cut by kiwi —,
  assigned, accepted, deadline set, answered, closed, rated) on the five streams the projection
  reads; `rebuild_read_model` (what `python -m eungdapso_publisher rebuild` and a shape change
  run) builds the next generation from them and swaps it in: events/s, with a progress bar on
  stderr (from the new generation's ledger). Next to it, in the same run: a bare aiokafka
  consumer reading the same topics from the beginning and decoding every record
  (`envelope.decode`), events/s. kiwi's load (once per process) is not counted.
- **Feed fan-out**: the publisher as its own process (as in a pod), 200 SSE clients on
  `/api/v1/feed`; new complaints are published at a steady 20/s (200), then in a burst (500 at
  once); each client notes when each change reaches it. Deliveries/s (changes × clients over
  the span from the first publish to the last delivery) and the delivery latency from the
  publish to the client, p50/p99: it includes the projection's consume and commit and the
  feed's poll interval (100 ms).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from aiokafka import TopicPartition

from eungdapso_devstack.infra import PostgresTarget, ServiceProcess, TansuBroker, ensure_topics, free_port
from eungdapso_platform.db import Database
from eungdapso_platform.kafka import KafkaSettings, kafka_consumer, kafka_producer
from eungdapso_platform.readmodel import ReadModels
from eungdapso_platform.rebuild import rebuild_read_model
from eungdapso_publisher.bootstrap import public_status
from eungdapso_publisher.projection import PUBLIC_STATUS
from eungdapso_publisher.search_terms import shared_terms
from eungdapso_publisher.settings import PublisherSettings
from eungdapso_schemas.codes import Channel, Disclosure, District, Kind, OfficeLevel, Resolution
from eungdapso_schemas.codes import Field as AdminField
from eungdapso_schemas.envelope import Envelope, decode, encode
from eungdapso_schemas.events import (
    CaseAcceptedV1,
    CaseAnsweredV1,
    CaseClosedV1,
    Citizen,
    ComplaintAssignedV1,
    ComplaintReceivedV2,
    DeadlineSetV1,
    Office,
    Payload,
    Place,
    RatedV1,
)
from eungdapso_schemas.streams import stream_for

SCHEMA = "bench_publisher"
T0 = datetime(2026, 11, 2, 0, 30, tzinfo=UTC)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _envelope(payload: Payload, at: datetime) -> tuple[str, Any]:
    subject = str(getattr(payload, "complaint_id", ""))
    envelope = Envelope(id=str(uuid.uuid4()), source="/bench", time=at, subject=subject, data=payload)
    return stream_for(type(payload)).name, encode(envelope)


def _received(
    i: int, item: dict[str, Any], receipt_no: str, cid: uuid.UUID, at: datetime
) -> ComplaintReceivedV2:
    s = item["submission"]
    place = s.get("place") or {}
    return ComplaintReceivedV2(
        complaint_id=cid,
        receipt_no=receipt_no,
        received_at=at,
        channel=Channel(item["channel"]),
        kind=Kind(s["kind"]),
        confidential=Kind(s["kind"]).confidential,
        field=AdminField(s["field"]) if s.get("field") else None,
        text=s["text"] + " 연락처 010-1234-5678, 저는 김철수입니다.",
        place=Place(address=place.get("address"), district=District(place["district"])) if place else None,
        citizen=Citizen(**s["contact"]) if s.get("contact") else None,
        disclosure=Disclosure.PUBLIC if i % 2 == 0 else Disclosure.PRIVATE,
    )


def lifecycle(items: list[dict[str, Any]], first: int = 1) -> list[tuple[str, Any]]:
    """Each complaint's history: received, assigned, accepted, deadline set; then answered
    (4 in 5), closed (3 in 5) and rated (2 in 5)."""
    out: list[tuple[str, Any]] = []
    office = Office(code="district.yongsan.roads", name="용산구 건설관리과", level=OfficeLevel.DISTRICT)
    for n, item in enumerate(items):
        cid, receipt_no = uuid.uuid4(), f"2026-{first + n:07d}"
        at = T0 + timedelta(seconds=n)
        ids = {"complaint_id": cid, "receipt_no": receipt_no}
        case = {**ids, "case_id": uuid.uuid5(cid, "case"), "office": office.code, "staff": "bench-1"}
        out.append(_envelope(_received(n, item, receipt_no, cid, at), at))
        out.append(_envelope(ComplaintAssignedV1(**ids, assigned_at=at, office=office, rule="bench"), at))
        out.append(_envelope(CaseAcceptedV1(**case, at=at + timedelta(minutes=5)), at))
        deadline = DeadlineSetV1.example().model_copy(update={**ids, "received_at": at})
        out.append(_envelope(deadline, at))
        if n % 5 < 4:
            text = "현장을 확인하고 만리재로 193 앞 파손 부위를 보수했습니다. 담당 이영희 주무관 02-2133-1234"
            answer = CaseAnsweredV1(
                **case, at=at + timedelta(days=1), text=text, resolution=Resolution.RESOLVED
            )
            out.append(_envelope(answer, at))
        if n % 5 < 3:
            out.append(_envelope(CaseClosedV1(**case, at=at + timedelta(days=2)), at))
        if n % 5 < 2:
            rated = RatedV1.example().model_copy(update={**ids, "score": 1 + n % 5, "comment": "비밀 의견"})
            out.append(_envelope(rated, at))
    return out


async def publish(kafka: KafkaSettings, records: list[tuple[str, Any]]) -> None:
    producer = kafka_producer(kafka, client_id="bench-publisher-history", linger_ms=5)
    await producer.start()
    try:
        sent = [
            await producer.send(topic, value=r.value, key=r.key, headers=r.headers) for topic, r in records
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def raw_consume_decode(kafka: KafkaSettings, topics: list[str], expected: int) -> dict[str, float]:
    consumer = kafka_consumer(kafka, client_id="bench-raw", enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [
            TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        started, seen = time.perf_counter(), 0
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            if not batches:
                raise RuntimeError(f"raw consume: {seen} of {expected} records")
            for records in batches.values():
                for r in records:
                    decode(list(r.headers or ()), r.key, r.value)
                seen += len(records)
        seconds = time.perf_counter() - started
    finally:
        await consumer.stop()
    return {"events": seen, "seconds": round(seconds, 3), "events_per_s": seen / seconds}


class ProgressBar:
    """A line on stderr, redrawn: how much of the history the rebuild has applied."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.started = total, label, time.perf_counter()

    def show(self, done: int) -> None:
        width = 30
        filled = min(width, int(width * done / max(self.total, 1)))
        rate = done / max(time.perf_counter() - self.started, 1e-6)
        sys.stderr.write(
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
            f"{done}/{self.total} events, {rate:,.0f}/s"
        )
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


async def rebuild(settings: PublisherSettings, postgres: PostgresTarget, expected: int) -> dict[str, Any]:
    db = Database.for_service(settings)
    await db.open()
    try:
        component = public_status(settings, db)
        await ReadModels(db).ensure(PUBLIC_STATUS)
        loading = time.perf_counter()
        await asyncio.to_thread(shared_terms)
        kiwi_s = time.perf_counter() - loading
        bar = ProgressBar(expected, "rebuild public_status")
        done = asyncio.Event()

        async def progress() -> None:
            async with await psycopg.AsyncConnection.connect(postgres.conninfo(), autocommit=True) as conn:
                while not done.is_set():
                    cur = await conn.execute(
                        f"SELECT count(*) FROM {SCHEMA}.processed_messages"
                        " WHERE consumer LIKE 'publisher.public_status@%%'"
                    )
                    row = await cur.fetchone()
                    bar.show(row[0] if row else 0)
                    await asyncio.sleep(0.25)

        watcher = asyncio.create_task(progress())
        started = time.perf_counter()
        try:
            report = await rebuild_read_model(component, settings, idle_ms=300)
        finally:
            done.set()
            await watcher
        seconds = time.perf_counter() - started
        bar.show(report.records)
        bar.close()
        async with db.pool.connection() as conn:
            cur = await conn.execute(f"SELECT count(*) AS n FROM {SCHEMA}.public_complaints")
            row = await cur.fetchone()
        return {
            "events": report.records,
            "seconds": round(seconds, 3),
            "events_per_s": report.records / seconds,
            "complaints": row["n"] if row else 0,
            "kiwi_load_s": round(kiwi_s, 2),
        }
    finally:
        await db.close()


#: The feed's phases: a steady rate (latency as it runs day to day), then a burst (capacity).
PHASES = (("steady", 200, 20.0), ("burst", 500, 10_000.0))


async def fan_out(
    env: dict[str, str], kafka: KafkaSettings, items: list[dict[str, Any]], *, clients: int, already: int
) -> dict[str, Any]:
    process = ServiceProcess("publisher", free_port(), env, Path(tempfile.mkdtemp()) / "publisher.log")
    process.start()
    try:
        await process.wait_ready(timeout=120)
        async with httpx.AsyncClient(base_url=process.base_url, timeout=10) as http:
            # The fresh process replays the history into its ledger first (all duplicates).
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                stats = (await http.get("/readyz")).json()["components"]["publisher.public_status"]
                if stats["applied"] + stats["duplicates"] >= already:
                    break
                await asyncio.sleep(0.5)
        received: list[dict[str, float]] = [{} for _ in range(clients)]
        connected = 0
        all_connected = asyncio.Event()

        async def listen(index: int) -> None:
            # A bare HTTP/1.1 client (asyncio streams): 200 httpx streams would cost the bench
            # process more CPU than the publisher spends, and measure the clients.
            nonlocal connected
            reader, writer = await asyncio.open_connection("127.0.0.1", process.port)
            writer.write(b"GET /api/v1/feed HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n")
            await writer.drain()
            try:
                while line := await reader.readline():
                    if line.startswith(b"retry:"):
                        connected += 1
                        if connected == clients:
                            all_connected.set()
                    elif line.startswith(b"data:"):
                        at = line.index(b'"receipt_no": "') + 15
                        received[index][line[at : at + 12].decode()] = time.perf_counter()
            finally:
                writer.close()

        results: dict[str, Any] = {"clients": clients}
        listeners = [asyncio.create_task(listen(i)) for i in range(clients)]
        try:
            await asyncio.wait_for(all_connected.wait(), 60)
            await asyncio.sleep(0.5)  # past the catch-up read of every listener
            first = already + 1
            for name, changes, rate in PHASES:
                results[name] = await _phase(kafka, items[:changes], first, rate, received)
                first += changes
        finally:
            for task in listeners:
                task.cancel()
        return results
    finally:
        process.stop()


async def _phase(
    kafka: KafkaSettings,
    items: list[dict[str, Any]],
    first: int,
    rate: float,
    received: list[dict[str, float]],
) -> dict[str, Any]:
    """Publish one new complaint per item at `rate`; wait until every listener has had each."""
    sent_at: dict[str, float] = {}
    receipts = [(t, r) for t, r in lifecycle(items, first=first) if t == "eungdapso.intake.events"]
    producer = kafka_producer(kafka, client_id="bench-feed", linger_ms=0)
    await producer.start()
    started = time.perf_counter()
    try:
        for n, (topic, record) in enumerate(receipts):
            sent_at[f"2026-{first + n:07d}"] = time.perf_counter()
            await producer.send_and_wait(topic, value=record.value, key=record.key, headers=record.headers)
            await asyncio.sleep(max(0.0, started + (n + 1) / rate - time.perf_counter()))
    finally:
        await producer.stop()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and any(not sent_at.keys() <= got.keys() for got in received):
        await asyncio.sleep(0.2)
    latencies = [(t - sent_at[r]) * 1000 for got in received for r, t in got.items() if r in sent_at]
    last = max((t for got in received for r, t in got.items() if r in sent_at), default=started)
    return {
        "changes": len(sent_at),
        "publish_rate_per_s": rate,
        "deliveries": len(latencies),
        "expected_deliveries": len(received) * len(sent_at),
        "deliveries_per_s": len(latencies) / (last - started),
        "p50_ms": _pct(latencies, 50),
        "p99_ms": _pct(latencies, 99),
        "mean_ms": statistics.fmean(latencies),
    }


async def publisher_cost(
    postgres: PostgresTarget, items: list[dict[str, Any]], *, clients: int = 200
) -> dict[str, Any]:
    broker = TansuBroker(log_file=Path(tempfile.mkdtemp()) / "broker.log")
    broker.start()
    try:
        await ensure_topics(broker.bootstrap_servers)
        kafka = KafkaSettings(kafka_bootstrap_servers=broker.bootstrap_servers)
        env = {
            **postgres.env(),
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "POSTGRES_SCHEMA": SCHEMA,
            "LOG_LEVEL": "WARNING",
        }
        settings = PublisherSettings(**{k.lower(): v for k, v in env.items()})  # type: ignore[arg-type]
        history = lifecycle(items)
        await publish(kafka, history)
        topics = sorted({topic for topic, _ in history})
        raw = await raw_consume_decode(kafka, topics, len(history))
        rebuilt = await rebuild(settings, postgres, len(history))
        feed = await fan_out(env, kafka, items, clients=clients, already=len(history))
        return {
            "history": {"complaints": len(items), "events": len(history), "topics": topics},
            "raw_consume_decode": raw,
            "rebuild": rebuilt,
            "rebuild_vs_raw": rebuilt["events_per_s"] / raw["events_per_s"],
            "feed": feed,
        }
    finally:
        broker.stop()


def report(p: dict[str, Any]) -> str:
    raw, rebuilt, feed = p["raw_consume_decode"], p["rebuild"], p["feed"]
    lines = [
        "| publisher measure | publisher | raw baseline (same run) | ratio |",
        "|---|---|---|---|",
        f"| Rebuild of the public projection from the topics (events/s) | {rebuilt['events_per_s']:,.0f} "
        f"| aiokafka consume + decode {raw['events_per_s']:,.0f}/s | {p['rebuild_vs_raw']:.3f}x |",
    ]
    for name in ("steady", "burst"):
        f = feed[name]
        lines.append(
            f"| Feed, {f['changes']} changes {name} ({f['publish_rate_per_s']:,.0f}/s) to "
            f"{feed['clients']} SSE clients: deliveries/s; publish → client p50 / p99 (ms) "
            f"| {f['deliveries_per_s']:,.0f}; "
            f"{f['p50_ms']:.0f} / {f['p99_ms']:.0f} | | |"
        )
    lines += [
        "",
        f"history: {p['history']['complaints']} complaints, {p['history']['events']} events on "
        f"{len(p['history']['topics'])} topics; rebuilt {rebuilt['complaints']} complaints in "
        f"{rebuilt['seconds']} s (kiwi loaded before, {rebuilt['kiwi_load_s']} s); feed deliveries: "
        + ", ".join(
            f"{n} {feed[n]['deliveries']} of {feed[n]['expected_deliveries']}" for n in ("steady", "burst")
        ),
    ]
    return "\n".join(lines)
