"""The `publisher.statistics` projection: each complaint's `ComplaintFacts` and each rating,
kept in PostgreSQL; the figures are computed from them per request by `statistics.figures`.

A batch's complaint events are folded at once (`on_complaint_events`): their complaints'
rows are read and locked in one statement, each event folded in with `statistics.fold` (the
arithmetic the `statistics` command runs on the topics), and the rows written back in one.
Two replicas handling two streams' events of the same complaints at once take turns (the
rows are locked in id order, a new one's insert conflicts) instead of overwriting each
other. The read model is rebuildable like any other
(`python -m eungdapso_publisher rebuild --read-model statistics`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from datetime import datetime
from typing import Any
from uuid import UUID

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


def _row(facts: ComplaintFacts | RatingFact, columns: tuple[str, ...]) -> tuple[object, ...]:
    # Not `dataclasses.asdict`: it deep-copies every value, and this runs for every event.
    return tuple(getattr(facts, column) for column in columns)


def _fold_into(
    facts: dict[UUID, ComplaintFacts], envelopes: list[Envelope[ComplaintEvent]], ids: Collection[UUID]
) -> None:
    """Fold the batch's events about these complaints into their facts, in order."""
    for envelope in envelopes:
        e = envelope.data
        if e.complaint_id in ids:
            facts[e.complaint_id] = fold(facts.get(e.complaint_id) or ComplaintFacts(e.complaint_id), e)


async def on_complaint_events(tx: ProjectionTx, envelopes: list[Envelope[ComplaintEvent]]) -> None:
    """Fold a batch's events into their complaints' facts, a round trip or two for the whole
    batch: the known rows read and locked in one statement, the new ones inserted and every
    changed one written back in one each (a row is written only when something changed)."""
    ids = sorted({envelope.data.complaint_id for envelope in envelopes})
    # Locked in the order of their ids: two replicas folding overlapping batches (two
    # streams' events of the same complaints) take turns instead of deadlocking.
    known = await _locked(tx, ids)
    facts = dict(known)
    _fold_into(facts, envelopes, set(ids))
    new = [facts[i] for i in ids if i not in known]
    if new:
        async with tx.conn.cursor() as cur:
            await cur.executemany(
                tx.sql(INSERT_COMPLAINT), [_row(f, COMPLAINT_FACT_COLUMNS) for f in new], returning=True
            )
            inserted = set()
            while True:
                row = await cur.fetchone()
                if row is not None:
                    inserted.add(row["complaint_id"])
                if not cur.nextset():
                    break
        taken = [f.complaint_id for f in new if f.complaint_id not in inserted]
        if taken:
            # Another consumer inserted them since the read (a rebalance): fold into theirs.
            theirs = await _locked(tx, taken)
            known |= theirs
            facts |= theirs
            _fold_into(facts, envelopes, theirs.keys())
    changed = [facts[i] for i in ids if i in known and facts[i] != known[i]]
    if changed:
        async with tx.conn.cursor() as cur:
            await cur.executemany(
                tx.sql(UPSERT_COMPLAINT), [_row(f, COMPLAINT_FACT_COLUMNS) for f in changed]
            )


async def _locked(tx: ProjectionTx, ids: list[UUID]) -> dict[UUID, ComplaintFacts]:
    """The complaints' facts as recorded, their rows locked to this transaction."""
    cur = await tx.conn.execute(
        tx.sql(
            "SELECT * FROM {stat_complaints} WHERE complaint_id = ANY(%s) ORDER BY complaint_id FOR UPDATE"
        ),
        (ids,),
    )
    return {row["complaint_id"]: ComplaintFacts(**row) for row in await cur.fetchall()}


async def on_rated(tx: ProjectionTx, envelope: Envelope[RatedV1]) -> None:
    await tx.execute(UPSERT_RATING, _row(RatingFact.of(envelope.data), RATING_FACT_COLUMNS))


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
    component.on_batch(COMPLAINT_EVENTS, on_complaint_events)
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
