"""Rebuilding a read model without downtime (issue 5, point 5), on the real broker and
PostgreSQL, with the publisher's `public_status` projection: the next generation is built
from the topics beside the live one while the live one keeps serving and consuming, then
swapped in; readers never see fewer rows; a model built from less history than the live
one has seen is refused; the CLI says what it does and exits 3 when it refuses."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaProducer

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_platform import rebuild as rebuild_module
from eungdapso_platform.consumer import Projection
from eungdapso_platform.readmodel import IncompleteRebuild
from eungdapso_platform.rebuild import rebuild_read_model
from eungdapso_publisher.projection import PublicStatusQueries
from eungdapso_publisher.settings import PublisherSettings
from eungdapso_schemas.codes import Channel, Field, Kind, OfficeLevel
from eungdapso_schemas.envelope import Envelope, encode
from eungdapso_schemas.events import ComplaintAssignedV1, ComplaintReceivedV1, Office
from eungdapso_schemas.streams import stream_for
from tests.conftest import service_env, settings_for
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

OFFICE = Office(code="seoul.transport", name="도시교통실", level=OfficeLevel.HEADQUARTERS)
T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


@dataclass
class History:
    """What the test published, and so what the public read model must show."""

    bootstrap: str
    producer: AIOKafkaProducer
    #: receipt_no → (complaint id, status, office code)
    expected: dict[str, tuple[uuid.UUID, str, str | None]] = field(default_factory=dict)
    count: int = 0
    #: Events published (each applied once: one ledger row each).
    events: int = 0

    async def complaints(self, n: int, *, assigned_every: int = 2) -> list[str]:
        """n complaints received, every `assigned_every`-th of them assigned too."""
        envelopes: list[Envelope[Any]] = []
        receipts = []
        for _ in range(n):
            self.count += 1
            receipt_no = f"2026-{self.count:07d}"
            cid = uuid.uuid4()
            at = T0 + timedelta(seconds=self.count)
            envelopes.append(
                envelope(
                    ComplaintReceivedV1(
                        complaint_id=cid,
                        receipt_no=receipt_no,
                        received_at=at,
                        channel=Channel.WEB,
                        kind=Kind.COMPLAINT,
                        confidential=False,
                        field=Field.ROADS_TRAFFIC,
                        text="가로등이 꺼졌어요",
                    )
                )
            )
            self.expected[receipt_no] = (cid, "received", None)
            if self.count % assigned_every == 0:
                envelopes.append(
                    envelope(
                        ComplaintAssignedV1(
                            complaint_id=cid,
                            receipt_no=receipt_no,
                            assigned_at=at + timedelta(minutes=1),
                            office=OFFICE,
                            rule="field:roads_traffic",
                        )
                    )
                )
                self.expected[receipt_no] = (cid, "assigned", OFFICE.code)
            receipts.append(receipt_no)
        await self.send(envelopes)
        return receipts

    async def send(self, envelopes: Iterable[Envelope[Any]]) -> None:
        sent = []
        for e in envelopes:
            r = encode(e)
            topic = stream_for(type(e.data)).name
            sent.append(await self.producer.send(topic, value=r.value, key=r.key, headers=r.headers))
        await asyncio.gather(*sent)
        self.events += len(sent)

    def rows(self) -> list[tuple[str, str, str | None]]:
        return sorted(
            (receipt_no, status, office) for receipt_no, (_, status, office) in self.expected.items()
        )


def envelope(payload: ComplaintReceivedV1 | ComplaintAssignedV1) -> Envelope[Any]:
    return Envelope(
        id=str(uuid.uuid4()),
        source="/test",
        time=T0,
        subject=str(payload.complaint_id),
        data=payload,
    )


@pytest.fixture
async def history(broker: str) -> AsyncIterator[History]:
    producer = AIOKafkaProducer(bootstrap_servers=broker, acks="all", linger_ms=5)
    await producer.start()
    yield History(broker, producer)
    await producer.stop()


def view_rows(database: PostgresTarget) -> list[tuple[str, str, str | None]]:
    with psycopg.connect(database.conninfo()) as conn:
        rows = conn.execute(
            "SELECT receipt_no, status, office_code FROM publisher.public_complaints ORDER BY receipt_no"
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def lifecycle(database: PostgresTarget) -> dict[str, Any]:
    """Which generation the view reads, the generations recorded, and the physical tables."""
    with psycopg.connect(database.conninfo()) as conn:
        view = conn.execute(
            "SELECT definition FROM pg_views WHERE schemaname='publisher' AND viewname='public_complaints'"
        ).fetchone()
        generations = conn.execute(
            "SELECT version, state FROM publisher.read_models WHERE name='public_status' ORDER BY version"
        ).fetchall()
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema='publisher'"
            " AND table_name LIKE 'public_complaints_g%' ORDER BY 1"
        ).fetchall()
        ledgers = conn.execute(
            "SELECT consumer, count(*) FROM publisher.processed_messages GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert view is not None
    reads = [g for g in range(1, 10) if f"public_complaints_g{g}" in view[0]]
    return {
        "view_reads": reads,
        "generations": [tuple(g) for g in generations],
        "tables": [t[0] for t in tables],
        "ledgers": dict(ledgers),
    }


async def settled(database: PostgresTarget, history: History, timeout: float = 60) -> None:
    async def equal() -> bool:
        return await asyncio.to_thread(view_rows, database) == history.rows()

    await eventually(equal, timeout=timeout, what="the public read model shows every published event")


class LogSpy:
    """Records what the rebuild logs (event name and fields), and still logs it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append((event, fields))
        self.inner.info(event, **fields)

    def named(self, event: str) -> list[dict[str, Any]]:
        return [f for e, f in self.lines if e == event]


async def test_a_rebuild_swaps_in_a_new_generation_while_readers_and_the_live_projection_carry_on(
    database: PostgresTarget,
    history: History,
    running_publisher: tuple[Projection, PublicStatusQueries],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live, _ = running_publisher
    settings = settings_for(PublisherSettings, database, kafka_bootstrap_servers=history.bootstrap)
    await history.complaints(200)
    await settled(database, history)
    before = len(history.expected)
    assert lifecycle(database)["view_reads"] == [1]

    spy = LogSpy(rebuild_module.log)
    monkeypatch.setattr(rebuild_module, "log", spy)
    monkeypatch.setattr(rebuild_module, "PROGRESS_EVERY_S", 0.0)

    # A reader polls the view for the whole rebuild; a producer keeps events coming.
    done = asyncio.Event()
    seen: list[int] = []
    reader_errors: list[str] = []

    async def read() -> None:
        async with await psycopg.AsyncConnection.connect(database.conninfo(), autocommit=True) as conn:
            while not done.is_set():
                try:
                    cur = await conn.execute("SELECT count(*) FROM publisher.public_complaints")
                    row = await cur.fetchone()
                    seen.append(row[0] if row else -1)
                except psycopg.Error as exc:
                    reader_errors.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.005)

    async def keep_producing() -> None:
        while not done.is_set():
            await history.complaints(3)
            await asyncio.sleep(0.1)

    reader = asyncio.create_task(read())
    producer = asyncio.create_task(keep_producing())
    try:
        report = await asyncio.wait_for(rebuild_read_model(live, settings), timeout=120)
    finally:
        done.set()
        await asyncio.gather(reader, producer)

    assert report.generation == 2 and report.retired == 1
    # The live projection waited for the swap, and carried on: not one of its batches failed.
    assert live.stats.last_error is None, live.stats.last_error
    assert report.records >= before
    assert reader_errors == []
    assert seen and min(seen) >= before, f"a reader saw {min(seen)} rows, fewer than the {before} before"
    state = lifecycle(database)
    assert state["view_reads"] == [2]
    assert state["generations"] == [(1, "retired"), (2, "live")]
    assert state["tables"] == ["public_complaints_g2"]  # the old generation's table is dropped
    assert "publisher.public_status@1" not in state["ledgers"]  # and its ledger with it

    # What arrives after the swap lands in the new generation: the live component follows.
    after = await history.complaints(10, assigned_every=1)
    await settled(database, history)
    assert len(history.expected) > before + 10  # some arrived during the rebuild too
    assert live.ledger == "publisher.public_status@2"
    with psycopg.connect(database.conninfo()) as conn:
        in_g2 = conn.execute(
            "SELECT count(*) FROM publisher.public_complaints_g2 WHERE receipt_no = ANY(%s)", (after,)
        ).fetchone()
    assert in_g2 is not None and in_g2[0] == 10
    assert lifecycle(database)["ledgers"] == {"publisher.public_status@2": history.events}

    started, finished = spy.named("rebuild_started"), spy.named("rebuild_finished")
    assert len(started) == 1 and started[0]["generation"] == 2 and started[0]["partitions"] > 0
    assert len(finished) == 1 and finished[0]["records"] == report.records
    progress = spy.named("rebuild_progress")
    assert progress and {"events", "events_per_s", "remaining_at_least"} <= set(progress[-1])
    assert progress[-1]["events"] <= report.records


def lose_history(database: PostgresTarget, generation: int) -> None:
    """As if the broker had lost history: the live generation applied an event the topics
    no longer hold."""
    with psycopg.connect(database.conninfo()) as conn:
        conn.execute(
            "INSERT INTO publisher.processed_messages (consumer, message_id) VALUES (%s, %s)",
            (f"publisher.public_status@{generation}", str(uuid.uuid4())),
        )


async def test_a_rebuild_from_less_history_than_the_live_model_saw_is_refused_unless_forced(
    database: PostgresTarget, history: History, running_publisher: tuple[Projection, PublicStatusQueries]
) -> None:
    live, _ = running_publisher
    settings = settings_for(PublisherSettings, database, kafka_bootstrap_servers=history.bootstrap)
    await history.complaints(20)
    await settled(database, history)
    lose_history(database, 1)
    rows = view_rows(database)

    with pytest.raises(IncompleteRebuild, match="lacks 1 events"):
        await rebuild_read_model(live, settings, idle_ms=500)

    state = lifecycle(database)
    assert state["view_reads"] == [1]  # the live model stays
    assert state["generations"] == [(1, "live")]  # the building generation is forgotten
    assert state["tables"] == ["public_complaints_g1"]  # and its tables dropped
    assert view_rows(database) == rows
    # The live projection still applies events to the generation that stays live.
    await history.complaints(2)
    await settled(database, history)

    report = await rebuild_read_model(live, settings, idle_ms=500, force=True)
    state = lifecycle(database)
    assert state["view_reads"] == [report.generation] and report.generation != 1
    assert state["generations"] == [(1, "retired"), (report.generation, "live")]
    assert view_rows(database) == history.rows()  # everything the topics hold is there


def run_cli(database: PostgresTarget, broker: str, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    import subprocess

    env = {**os.environ, **service_env(database, broker), "LOG_LEVEL": "INFO"}
    done = subprocess.run(
        [sys.executable, "-m", "eungdapso_publisher", "rebuild", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = []
    for line in done.stderr.splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return done.returncode, lines, done.stderr


async def test_the_rebuild_command_reports_progress_and_exits_3_when_it_refuses(
    database: PostgresTarget, history: History, running_publisher: tuple[Projection, PublicStatusQueries]
) -> None:
    await history.complaints(30)
    await settled(database, history)

    code, lines, stderr = await asyncio.to_thread(run_cli, database, history.bootstrap)
    assert code == 0, stderr
    by_event = {line["event"]: line for line in lines if "event" in line}
    assert by_event["rebuild_started"]["generation"] == 2
    assert by_event["rebuild_started"]["service"] == "publisher-rebuild"
    assert by_event["rebuild_started"]["records_at_least"] <= history.events
    assert by_event["rebuild_finished"]["records"] == history.events
    assert by_event["rebuild_finished"]["retired"] == 1
    assert lifecycle(database)["view_reads"] == [2]
    assert view_rows(database) == history.rows()

    lose_history(database, 2)
    code, lines, stderr = await asyncio.to_thread(run_cli, database, history.bootstrap)
    assert code == 3, stderr
    assert "rebuild refused" in stderr and "lacks 1 events" in stderr
    assert "Traceback" not in stderr
    assert lifecycle(database)["view_reads"] == [2]

    code, _, stderr = await asyncio.to_thread(run_cli, database, history.bootstrap, "--force")
    assert code == 0, stderr
    assert lifecycle(database)["view_reads"] == [3]
