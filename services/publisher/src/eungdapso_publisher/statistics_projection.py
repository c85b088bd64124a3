"""The `publisher.statistics` projection: each complaint's `ComplaintFacts` and each rating,
kept in PostgreSQL; the figures are computed from them per request by `statistics.figures`.

A handler reads the complaint's row (locking it), folds the event in with
`statistics.fold` (the arithmetic the `statistics` command runs on the topics) and writes it
back. The row is inserted empty first, so two replicas handling two streams' events of the
same complaint at once take turns instead of overwriting each other. The read model is
rebuildable like any other (`python -m eungdapso_publisher rebuild --read-model statistics`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from datetime import datetime
from typing import Any

from eungdapso_platform.consumer import Projection
from eungdapso_platform.db import Database
from eungdapso_platform.readmodel import ProjectionTx, ReadModel
from eungdapso_publisher.statistics import (
    COMPLAINT_EVENTS,
    COMPLAINT_FACT_COLUMNS,
    RATING_EVENTS,
    RATING_FACT_COLUMNS,
    ComplaintFacts,
    Dimension,
    RatingFact,
    StatisticsReport,
    figures,
    fold,
    month_bounds,
)
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import ComplaintEvent, RatedV1

STATISTICS = ReadModel(
    name="statistics",
    shape=1,
    tables={
        "stat_complaints": (
            "CREATE TABLE {table} ("
            " complaint_id uuid PRIMARY KEY,"
            " receipt_no text,"
            " received_at timestamptz,"
            " channel text,"
            " kind text,"
            " confidential boolean NOT NULL DEFAULT false,"
            " receipt_field text,"
            " receipt_district text,"
            " first_contact boolean NOT NULL DEFAULT false,"
            " assigned_at timestamptz,"
            " assigned_office text,"
            " classified_field text,"
            " classified_district text,"
            " answered_at timestamptz,"
            " office_answered_at timestamptz,"
            " answering_office text,"
            " instant boolean NOT NULL DEFAULT false,"
            " statutory_days double precision,"
            " actual_days double precision,"
            " overdue_due timestamptz)",
            "CREATE INDEX ON {table} (received_at)",
            "CREATE INDEX ON {table} (answered_at)",
            "CREATE INDEX ON {table} (overdue_due)",
        ),
        "stat_ratings": (
            "CREATE TABLE {table} ("
            " invitation_id uuid PRIMARY KEY,"
            " complaint_id uuid NOT NULL,"
            " score smallint NOT NULL,"
            " rated_at timestamptz NOT NULL,"
            " office text)",
            "CREATE INDEX ON {table} (rated_at)",
        ),
    },
)
if COMPLAINT_FACT_COLUMNS[0] != "complaint_id" or RATING_FACT_COLUMNS[0] != "invitation_id":
    raise RuntimeError("the facts' first field is their table's key")


def _upsert(table: str, columns: tuple[str, ...]) -> str:
    key, rest = columns[0], columns[1:]
    return (
        f"INSERT INTO {{{table}}} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        f" ON CONFLICT ({key}) DO UPDATE SET " + ", ".join(f"{c}=EXCLUDED.{c}" for c in rest)
    )


UPSERT_COMPLAINT = _upsert("stat_complaints", COMPLAINT_FACT_COLUMNS)
UPSERT_RATING = _upsert("stat_ratings", RATING_FACT_COLUMNS)
INSERT_COMPLAINT = (
    f"INSERT INTO {{stat_complaints}} ({', '.join(COMPLAINT_FACT_COLUMNS)})"
    f" VALUES ({', '.join(['%s'] * len(COMPLAINT_FACT_COLUMNS))})"
    " ON CONFLICT (complaint_id) DO NOTHING RETURNING complaint_id"
)


async def on_complaint_event(tx: ProjectionTx, envelope: Envelope[ComplaintEvent]) -> None:
    """Fold the event into the complaint's facts: two statements (read and lock, then write),
    and one when the event changes no fact (a row is written only when something changed)."""
    e = envelope.data
    lock = tx.sql("SELECT * FROM {stat_complaints} WHERE complaint_id=%s FOR UPDATE")
    row = await (await tx.conn.execute(lock, (e.complaint_id,))).fetchone()
    if row is None:
        facts = fold(ComplaintFacts(e.complaint_id), e)
        cur = await tx.conn.execute(tx.sql(INSERT_COMPLAINT), tuple(asdict(facts).values()))
        if await cur.fetchone() is not None:
            return
        # Another consumer inserted it since the read (a rebalance): fold into theirs.
        row = await (await tx.conn.execute(lock, (e.complaint_id,))).fetchone()
    known = ComplaintFacts(**row) if row else ComplaintFacts(e.complaint_id)
    facts = fold(known, e)
    if facts != known:
        await tx.execute(UPSERT_COMPLAINT, tuple(asdict(facts).values()))


async def on_rated(tx: ProjectionTx, envelope: Envelope[RatedV1]) -> None:
    await tx.execute(UPSERT_RATING, tuple(asdict(RatingFact.of(envelope.data)).values()))


def statistics(
    db: Database, *, service: str, fetch_max_wait_ms: int = 50, cadence_s: float = 0.0
) -> Projection:
    """The `statistics` projection over intake's, the router's, casework's, sla's and rating's streams."""
    component = Projection(
        "statistics",
        service=service,
        db=db,
        read_model=STATISTICS,
        fetch_max_wait_ms=fetch_max_wait_ms,
        cadence_s=cadence_s,
    )
    for payload in COMPLAINT_EVENTS:
        component.on(payload, on_complaint_event)
    for payload in RATING_EVENTS:
        component.on(payload, on_rated)
    return component


class StatisticsQueries:
    """The month's facts from the live generation's views, and the figures made of them.

    Counting a busy month takes seconds (every complaint of it is read and counted), so a
    report is kept `cache_s` seconds, counted once however many ask at the same time, and
    counted in a worker thread (the service keeps answering meanwhile)."""

    MAX_CACHED = 256

    def __init__(self, db: Database, *, cache_s: float = 0.0) -> None:
        self.db = db
        self.cache_s = cache_s
        self._cached: dict[tuple[str, Dimension], tuple[float, StatisticsReport]] = {}
        self._counting: dict[tuple[str, Dimension], asyncio.Lock] = {}

    async def report(self, month: str, by: Dimension) -> StatisticsReport:
        key = (month, by)
        async with self._counting.setdefault(key, asyncio.Lock()):
            kept = self._cached.get(key)
            if kept is not None and time.monotonic() - kept[0] < self.cache_s:
                return kept[1]
            complaints, ratings = await self.facts(*month_bounds(month))
            report = await asyncio.to_thread(figures, month, by, complaints, ratings)
            if self.cache_s > 0:
                if len(self._cached) >= self.MAX_CACHED:
                    self._cached.pop(min(self._cached, key=lambda k: self._cached[k][0]))
                self._cached[key] = (time.monotonic(), report)
            return report

    async def facts(self, start: datetime, end: datetime) -> tuple[list[ComplaintFacts], list[RatingFact]]:
        async with self.db.pool.connection() as conn:
            cur = await conn.execute(
                self.db.sql(
                    "SELECT * FROM {schema}.stat_ratings WHERE rated_at >= %(start)s AND rated_at < %(end)s"
                ),
                {"start": start, "end": end},
            )
            ratings = [RatingFact(**row) for row in await cur.fetchall()]
            cur = await conn.execute(
                self.db.sql(
                    "SELECT * FROM {schema}.stat_complaints WHERE"
                    " (received_at >= %(start)s AND received_at < %(end)s)"
                    " OR (answered_at >= %(start)s AND answered_at < %(end)s)"
                    " OR (overdue_due >= %(start)s AND overdue_due < %(end)s)"
                    " OR complaint_id = ANY(%(rated)s)"
                ),
                {"start": start, "end": end, "rated": [r.complaint_id for r in ratings]},
            )
            complaints = [ComplaintFacts(**_facts(row)) for row in await cur.fetchall()]
        return complaints, ratings


def _facts(row: dict[str, Any]) -> dict[str, Any]:
    return {c: row[c] for c in COMPLAINT_FACT_COLUMNS}
