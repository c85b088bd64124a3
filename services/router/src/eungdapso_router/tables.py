"""The router's own tables beside its event store (read models of its decisions), each row
written in the same transaction as the decision it follows (`Unit.write`, or the writes of
`Application.save`):

- `routing_inputs`: what the router read of each complaint (text, kind, place, the subject
  chosen), for the triage desk; never the citizen's contact. A confidential report's text is
  not kept: its content stays with the investigators.
- `duplicate_index`: open complaints by subject, place and text sketch (no text), to find
  duplicates (duplicates.py).
- `triage_queue`: the complaints waiting at the triage desk.

`PostgresTables` is the real thing; `MemoryTables` stands in with the in-memory event store
(unit tests), applying each change at once.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID
from weakref import WeakKeyDictionary

from eventsourcing.domain import Aggregate

from eungdapso_platform.consumer import Unit
from eungdapso_platform.db import Database
from eungdapso_platform.eventstore import Write
from eungdapso_platform.migrations import Migration, schema_sql
from eungdapso_router.application import RouterApplication
from eungdapso_router.duplicates import Indexed, Rules
from eungdapso_schemas.codes import District

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "router",
        1,
        "what the router read of each complaint, the duplicate index and the triage desk's queue",
        (
            "CREATE TABLE {schema}.routing_inputs ("
            " complaint_id uuid PRIMARY KEY,"
            " receipt_no text NOT NULL,"
            " kind text NOT NULL,"
            " channel text NOT NULL,"
            " received_at timestamptz NOT NULL,"
            # NULL for confidential reports (see the module).
            " text text,"
            " address text,"
            " lat double precision,"
            " lon double precision,"
            " district text,"
            " chosen_subject text)",
            "CREATE TABLE {schema}.duplicate_index ("
            " complaint_id uuid PRIMARY KEY,"
            " receipt_no text NOT NULL,"
            " subject text NOT NULL,"
            " district text,"
            " lat double precision,"
            " lon double precision,"
            " places text[] NOT NULL,"
            " sketch integer[] NOT NULL,"
            " received_at timestamptz NOT NULL,"
            " office text NOT NULL,"
            " open boolean NOT NULL)",
            "CREATE INDEX duplicate_index_open ON {schema}.duplicate_index (subject, received_at) WHERE open",
            "CREATE TABLE {schema}.triage_queue ("
            " complaint_id uuid PRIMARY KEY,"
            " receipt_no text NOT NULL,"
            " since timestamptz NOT NULL,"
            " reason text NOT NULL,"
            " subject text,"
            " confidence double precision,"
            " reassignment integer NOT NULL)",
            "CREATE INDEX triage_queue_since ON {schema}.triage_queue (since, complaint_id)",
        ),
    ),
)


# ---------------------------------------------------------------------- rows
@dataclass(frozen=True)
class Remembered:
    """What the router read of a complaint (`routing_inputs`)."""

    complaint_id: UUID
    receipt_no: str
    kind: str
    channel: str
    received_at: datetime
    text: str | None
    address: str | None
    lat: float | None
    lon: float | None
    district: str | None
    chosen_subject: str | None


@dataclass(frozen=True)
class Queued:
    """A complaint waiting at the triage desk (`triage_queue`)."""

    complaint_id: UUID
    receipt_no: str
    since: datetime
    reason: str
    subject: str | None
    confidence: float | None
    reassignment: int


# ---------------------------------------------------------------------- changes
class Change(ABC):
    """One row change, as SQL (PostgreSQL) and as a change of `MemoryTables`."""

    @abstractmethod
    def write(self) -> Write: ...

    @abstractmethod
    def apply(self, memory: MemoryTables) -> None: ...


@dataclass(frozen=True)
class Remember(Change):
    row: Remembered

    def write(self) -> Write:
        r = self.row
        return Write(
            "INSERT INTO {schema}.routing_inputs (complaint_id, receipt_no, kind, channel, received_at,"
            " text, address, lat, lon, district, chosen_subject)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (
                r.complaint_id,
                r.receipt_no,
                r.kind,
                r.channel,
                r.received_at,
                r.text,
                r.address,
                r.lat,
                r.lon,
                r.district,
                r.chosen_subject,
            ),
        )

    def apply(self, memory: MemoryTables) -> None:
        memory.inputs.setdefault(self.row.complaint_id, self.row)


@dataclass(frozen=True)
class Index(Change):
    """An open complaint others may duplicate."""

    row: Indexed

    def write(self) -> Write:
        r = self.row
        return Write(
            "INSERT INTO {schema}.duplicate_index (complaint_id, receipt_no, subject, district, lat, lon,"
            " places, sketch, received_at, office, open)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, true) ON CONFLICT DO NOTHING",
            (
                r.complaint_id,
                r.receipt_no,
                r.subject,
                r.district.value if r.district else None,
                r.lat,
                r.lon,
                list(r.places),
                list(r.sketch),
                r.received_at,
                r.office,
            ),
        )

    def apply(self, memory: MemoryTables) -> None:
        memory.index.setdefault(self.row.complaint_id, (self.row, True))


@dataclass(frozen=True)
class Reindex(Change):
    """The complaint went to another office (and subject): new duplicates follow it there;
    `open=False` when it is no longer a city office's to answer (transferred, at triage)."""

    complaint_id: UUID
    subject: str
    district: District | None
    office: str
    open: bool

    def write(self) -> Write:
        return Write(
            "UPDATE {schema}.duplicate_index SET subject=%s, district=%s, office=%s, open=%s"
            " WHERE complaint_id=%s",
            (
                self.subject,
                self.district.value if self.district else None,
                self.office,
                self.open,
                self.complaint_id,
            ),
        )

    def apply(self, memory: MemoryTables) -> None:
        found = memory.index.get(self.complaint_id)
        if found is not None:
            row = replace(found[0], subject=self.subject, district=self.district, office=self.office)
            memory.index[self.complaint_id] = (row, self.open)


@dataclass(frozen=True)
class Close(Change):
    """Answered (or gone from the city): nothing links to it any more."""

    complaint_id: UUID

    def write(self) -> Write:
        return Write(
            "UPDATE {schema}.duplicate_index SET open=false WHERE complaint_id=%s", (self.complaint_id,)
        )

    def apply(self, memory: MemoryTables) -> None:
        found = memory.index.get(self.complaint_id)
        if found is not None:
            memory.index[self.complaint_id] = (found[0], False)


@dataclass(frozen=True)
class Enqueue(Change):
    row: Queued

    def write(self) -> Write:
        r = self.row
        return Write(
            "INSERT INTO {schema}.triage_queue (complaint_id, receipt_no, since, reason, subject, confidence,"
            " reassignment) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (complaint_id) DO UPDATE SET since=EXCLUDED.since, reason=EXCLUDED.reason,"
            " subject=EXCLUDED.subject, confidence=EXCLUDED.confidence, reassignment=EXCLUDED.reassignment",
            (r.complaint_id, r.receipt_no, r.since, r.reason, r.subject, r.confidence, r.reassignment),
        )

    def apply(self, memory: MemoryTables) -> None:
        memory.queue_rows[self.row.complaint_id] = self.row


@dataclass(frozen=True)
class Dequeue(Change):
    complaint_id: UUID

    def write(self) -> Write:
        return Write("DELETE FROM {schema}.triage_queue WHERE complaint_id=%s", (self.complaint_id,))

    def apply(self, memory: MemoryTables) -> None:
        memory.queue_rows.pop(self.complaint_id, None)


# ---------------------------------------------------------------------- the tables
class RouterTables(ABC):
    """Where the router keeps its tables. Blocking methods run in the process's worker
    thread (or in one started for an HTTP command); the `async` ones serve HTTP reads."""

    @abstractmethod
    def open_like(self, unit: Unit, new: Indexed, rules: Rules) -> list[Indexed]:
        """Open complaints of `new`'s subject received within the window before it, near it
        or in its district (candidates for `duplicates.best_match`), those the unit is about
        to index included."""

    def look_up_like(self, unit: Unit, news: Sequence[Indexed], rules: Rules) -> None:
        """Read the recorded candidates of all these complaints at once, for `open_like` to
        answer from within this unit (a batch: one query instead of one per complaint).
        Where the candidates are at hand anyway (in memory), nothing to do."""
        return None

    @abstractmethod
    def change(self, unit: Unit, *changes: Change) -> None:
        """Record the changes with what the unit records."""

    @abstractmethod
    def save(self, application: RouterApplication, aggregates: Sequence[Aggregate], *changes: Change) -> None:
        """Record aggregates and the changes in one transaction (an HTTP command)."""

    @abstractmethod
    async def queue(self, limit: int, after: tuple[datetime, UUID] | None = None) -> builtins.list[Queued]:
        """The triage desk's queue, longest waiting first."""

    @abstractmethod
    async def queued(self, complaint_id: UUID) -> Queued | None: ...

    @abstractmethod
    async def remembered(self, complaint_id: UUID) -> Remembered | None: ...


_INDEXED = "complaint_id, receipt_no, subject, district, lat, lon, places, sketch, received_at, office"
_QUEUED = "complaint_id, receipt_no, since, reason, subject, confidence, reassignment"
_REMEMBERED = (
    "complaint_id, receipt_no, kind, channel, received_at, text, address, lat, lon, district, chosen_subject"
)
#: A burst of the same complaint should not make one lookup read thousands of rows: the
#: most recent ones are the likeliest originals.
CANDIDATES = 200


class PostgresTables(RouterTables):
    def __init__(self, application: RouterApplication, db: Database) -> None:
        self.application = application
        self.db = db
        #: What each unit indexes, until it commits: a duplicate in the same batch finds it.
        self._indexing: WeakKeyDictionary[Unit, list[Indexed]] = WeakKeyDictionary()
        #: The recorded candidates read for a unit's whole batch (`look_up_like`).
        self._looked_up: WeakKeyDictionary[Unit, dict[UUID, list[Indexed]]] = WeakKeyDictionary()

    def open_like(self, unit: Unit, new: Indexed, rules: Rules) -> list[Indexed]:
        pending = [
            row
            for row in self._indexing.get(unit, ())
            if row.subject == new.subject
            and rules.since(new.received_at) <= row.received_at <= new.received_at
        ]
        looked_up = self._looked_up.get(unit, {}).pop(new.complaint_id, None)
        recorded = looked_up if looked_up is not None else self._recorded_like([new], rules)[new.complaint_id]
        return pending + recorded

    def look_up_like(self, unit: Unit, news: Sequence[Indexed], rules: Rules) -> None:
        if news:
            self._looked_up.setdefault(unit, {}).update(self._recorded_like(news, rules))

    def _recorded_like(self, news: Sequence[Indexed], rules: Rules) -> dict[UUID, list[Indexed]]:
        """Each complaint's recorded candidates, all in one round trip (autocommit, prepared,
        as the platform's own batch lookup reads): its query's conditions as arrays, joined
        laterally so that each keeps its own `CANDIDATES` limit."""
        recorder: Any = self.application.recorder
        datastore = recorder.datastore
        dlat, dlon = rules.degrees
        columns: list[list[Any]] = [[] for _ in range(9)]
        for new in news:
            near = new.lat is not None and new.lon is not None
            for column, value in zip(
                columns,
                (
                    new.subject,
                    rules.since(new.received_at),
                    new.received_at,
                    new.district.value if new.district else None,
                    near,
                    (new.lat or 0.0) - dlat,
                    (new.lat or 0.0) + dlat,
                    (new.lon or 0.0) - dlon,
                    (new.lon or 0.0) + dlon,
                ),
                strict=True,
            ):
                column.append(value)
        found: dict[UUID, list[Indexed]] = {new.complaint_id: [] for new in news}
        with datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                schema_sql(
                    "SELECT q.n, d.* FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[],"
                    " %s::text[], %s::boolean[], %s::float8[], %s::float8[], %s::float8[], %s::float8[])"
                    " WITH ORDINALITY AS q(subject, since, until, district, near, lat_min, lat_max,"
                    " lon_min, lon_max, n)"
                    f" CROSS JOIN LATERAL (SELECT {_INDEXED} FROM {{schema}}.duplicate_index i"
                    " WHERE i.open AND i.subject = q.subject AND i.received_at >= q.since"
                    " AND i.received_at <= q.until AND (i.district = q.district OR (q.near"
                    " AND i.lat BETWEEN q.lat_min AND q.lat_max AND i.lon BETWEEN q.lon_min AND q.lon_max))"
                    f" ORDER BY i.received_at DESC LIMIT {CANDIDATES}) d",
                    datastore.schema,
                ),
                columns,
                prepare=True,
            )
            for row in curs.fetchall():
                found[news[row["n"] - 1].complaint_id].append(_indexed(row))
        return found

    def change(self, unit: Unit, *changes: Change) -> None:
        for c in changes:
            w = c.write()
            unit.write(w.statement, *w.params)
            if isinstance(c, Index):
                self._indexing.setdefault(unit, []).append(c.row)

    def save(self, application: RouterApplication, aggregates: Sequence[Aggregate], *changes: Change) -> None:
        application.save(*aggregates, writes=[c.write() for c in changes])

    async def queue(self, limit: int, after: tuple[datetime, UUID] | None = None) -> builtins.list[Queued]:
        async with self.db.connection() as conn:
            if after is None:
                cur = await conn.execute(
                    self.db.sql(
                        f"SELECT {_QUEUED} FROM {{schema}}.triage_queue ORDER BY since, complaint_id LIMIT %s"
                    ),
                    (limit,),
                )
            else:
                cur = await conn.execute(
                    self.db.sql(
                        f"SELECT {_QUEUED} FROM {{schema}}.triage_queue"
                        " WHERE (since, complaint_id) > (%s, %s) ORDER BY since, complaint_id LIMIT %s"
                    ),
                    (*after, limit),
                )
            return [Queued(**row) for row in await cur.fetchall()]

    async def queued(self, complaint_id: UUID) -> Queued | None:
        async with self.db.connection() as conn:
            cur = await conn.execute(
                self.db.sql(f"SELECT {_QUEUED} FROM {{schema}}.triage_queue WHERE complaint_id=%s"),
                (complaint_id,),
            )
            row = await cur.fetchone()
        return Queued(**row) if row is not None else None

    async def remembered(self, complaint_id: UUID) -> Remembered | None:
        async with self.db.connection() as conn:
            cur = await conn.execute(
                self.db.sql(f"SELECT {_REMEMBERED} FROM {{schema}}.routing_inputs WHERE complaint_id=%s"),
                (complaint_id,),
            )
            row = await cur.fetchone()
        return Remembered(**row) if row is not None else None


def _indexed(row: dict[str, Any]) -> Indexed:
    return Indexed(
        complaint_id=row["complaint_id"],
        receipt_no=row["receipt_no"],
        subject=row["subject"],
        district=District(row["district"]) if row["district"] else None,
        lat=row["lat"],
        lon=row["lon"],
        places=tuple(row["places"]),
        sketch=tuple(row["sketch"]),
        received_at=row["received_at"],
        office=row["office"],
    )


class MemoryTables(RouterTables):
    """The tables in memory, for the in-memory event store (unit tests): each change applies
    at once, not with the transaction (a batch decided again sees what the first try changed;
    the changes are idempotent)."""

    def __init__(self) -> None:
        self.inputs: dict[UUID, Remembered] = {}
        self.index: dict[UUID, tuple[Indexed, bool]] = {}
        self.queue_rows: dict[UUID, Queued] = {}

    def open_like(self, unit: Unit, new: Indexed, rules: Rules) -> list[Indexed]:
        since = rules.since(new.received_at)
        return [
            row
            for row, is_open in self.index.values()
            if is_open and row.subject == new.subject and since <= row.received_at <= new.received_at
        ]

    def change(self, unit: Unit, *changes: Change) -> None:
        for c in changes:
            c.apply(self)

    def save(self, application: RouterApplication, aggregates: Sequence[Aggregate], *changes: Change) -> None:
        application.save(*aggregates)
        for c in changes:
            c.apply(self)

    async def queue(self, limit: int, after: tuple[datetime, UUID] | None = None) -> builtins.list[Queued]:
        rows = sorted(self.queue_rows.values(), key=lambda q: (q.since, str(q.complaint_id)))
        if after is not None:
            rows = [q for q in rows if (q.since, str(q.complaint_id)) > (after[0], str(after[1]))]
        return rows[:limit]

    async def queued(self, complaint_id: UUID) -> Queued | None:
        return self.queue_rows.get(complaint_id)

    async def remembered(self, complaint_id: UUID) -> Remembered | None:
        return self.inputs.get(complaint_id)
