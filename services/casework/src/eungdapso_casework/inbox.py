"""The inbox (민원함): every case by office, status, deadline and time of receipt, for the
list an office works from; and the offices casework knows (where a case may be transferred).

Rows are written in the same transaction as the events that change them (the `inbox`
process's, an HTTP action's), so an office reads its own action back at once, and a row never
says what the event store does not. Each row is computed from the case (and what casework
learned of its complaint), so the table can be recomputed from the event store. Reading one
case goes to the event store itself; only lists come from here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from eungdapso_casework.domainmodel import Case, ComplaintFile
from eungdapso_platform.db import Database
from eungdapso_platform.eventstore import Write
from eungdapso_platform.migrations import Migration
from eungdapso_schemas.events import ComplaintReceivedV2, Office

#: Casework migrations 2 to 4 (1 is the office keys', `offices.MIGRATIONS`).
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "casework",
        2,
        "the inbox: one row per case (office, status, classification, receipt and deadline)",
        (
            "CREATE TABLE {schema}.inbox ("
            " case_id uuid PRIMARY KEY,"
            " complaint_id uuid NOT NULL,"
            " receipt_no text NOT NULL,"
            " number integer NOT NULL,"
            " office_code text NOT NULL,"
            " status text NOT NULL,"
            " withdrawn boolean NOT NULL,"
            " extension_requested boolean NOT NULL,"
            " message_class text,"
            " field text,"
            " subject text,"
            " district text,"
            " confidential boolean NOT NULL,"
            " kind text,"
            " received_at timestamptz,"
            " assigned_at timestamptz NOT NULL,"
            # The SLA service's deadline, once it exists: until then lists sort it last.
            " deadline timestamptz,"
            " updated_at timestamptz NOT NULL,"
            " version integer NOT NULL)",
            "CREATE INDEX inbox_by_office ON {schema}.inbox (office_code, status) WHERE NOT withdrawn",
            "CREATE INDEX inbox_by_complaint ON {schema}.inbox (complaint_id)",
        ),
    ),
    Migration(
        "casework",
        3,
        "offices casework knows: assigned a case, or given an office key",
        (
            "CREATE TABLE {schema}.offices ("
            " code text PRIMARY KEY,"
            " name text,"
            " level text,"
            " first_seen timestamptz NOT NULL DEFAULT now())",
        ),
    ),
    Migration(
        "casework",
        4,
        "linked duplicates, shown under the original complaint's case, and what they followed",
        (
            "CREATE TABLE {schema}.links ("
            " duplicate_id uuid PRIMARY KEY,"
            " original_id uuid NOT NULL,"
            " receipt_no text NOT NULL,"
            " linked_at timestamptz NOT NULL,"
            # answered / transferred (with the original), and when.
            " followed text,"
            " followed_at timestamptz)",
            "CREATE INDEX links_by_original ON {schema}.links (original_id)",
        ),
    ),
)

_UPSERT_CASE = (
    "INSERT INTO {schema}.inbox AS t (case_id, complaint_id, receipt_no, number, office_code, status,"
    " withdrawn, extension_requested, message_class, field, subject, district, confidential, kind,"
    " received_at, assigned_at, updated_at, version)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now(), %s)"
    " ON CONFLICT (case_id) DO UPDATE SET status=EXCLUDED.status, withdrawn=EXCLUDED.withdrawn,"
    " extension_requested=EXCLUDED.extension_requested,"
    " field=coalesce(EXCLUDED.field, t.field), subject=coalesce(EXCLUDED.subject, t.subject),"
    " district=coalesce(EXCLUDED.district, t.district),"
    " confidential=EXCLUDED.confidential OR t.confidential, kind=coalesce(EXCLUDED.kind, t.kind),"
    " received_at=coalesce(EXCLUDED.received_at, t.received_at), updated_at=now(), version=EXCLUDED.version"
    " WHERE t.version <= EXCLUDED.version"
)
# What the receipt says fills in what no classification said (an assigned.v1 has none).
_RECEIVED = (
    "UPDATE {schema}.inbox SET received_at=%s, kind=%s, confidential=confidential OR %s,"
    " field=coalesce(field, %s), subject=coalesce(subject, %s), district=coalesce(district, %s)"
    " WHERE complaint_id=%s"
)
_KNOW_OFFICE = (
    "INSERT INTO {schema}.offices AS o (code, name, level) VALUES (%s, %s, %s)"
    " ON CONFLICT (code) DO UPDATE SET name=coalesce(EXCLUDED.name, o.name),"
    " level=coalesce(EXCLUDED.level, o.level)"
)


def case_row(case: Case, file: ComplaintFile | None = None) -> Write:
    """The case's row as the case now is (`file`: what the receipt says, where known)."""
    received = file.complaint if file is not None else None
    return Write(
        _UPSERT_CASE,
        (
            case.id,
            case.complaint_id,
            case.receipt_no,
            case.number,
            case.office.code,
            case.status.value,
            case.withdrawn,
            case.extension_requested_at is not None,
            _value(case.message_class),
            _value(case.field or (received.field if received else None)),
            case.subject or (received.subject if received else None),
            _value(case.district or _district(received)),
            case.confidential or _confidential(received),
            received.kind.value if received else None,
            received.received_at if received else None,
            case.assigned_at,
            case.version,
        ),
    )


def received_rows(complaint: ComplaintReceivedV2) -> Write:
    """The receipt arrived after the complaint's cases: fill in their rows."""
    return Write(
        _RECEIVED,
        (
            complaint.received_at,
            complaint.kind.value,
            _confidential(complaint),
            _value(complaint.field),
            complaint.subject,
            _value(_district(complaint)),
            complaint.complaint_id,
        ),
    )


_LINK = (
    "INSERT INTO {schema}.links AS l"
    " (duplicate_id, original_id, receipt_no, linked_at, followed, followed_at)"
    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (duplicate_id) DO UPDATE SET"
    " followed=coalesce(EXCLUDED.followed, l.followed),"
    " followed_at=coalesce(EXCLUDED.followed_at, l.followed_at)"
)


def link_row(duplicate: ComplaintFile) -> Write:
    """The linked complaint under its original, as its file now is."""
    return Write(
        _LINK,
        (
            duplicate.complaint_id,
            duplicate.duplicate_of,
            duplicate.receipt_no,
            duplicate.linked_at,
            duplicate.followed,
            duplicate.followed_at,
        ),
    )


def office_known(office: Office) -> Write:
    return Write(_KNOW_OFFICE, (office.code, office.name, office.level.value))


def _value(code: Any) -> str | None:
    return None if code is None else str(code.value)


def _district(received: ComplaintReceivedV2 | None) -> Any:
    return received.place.district if received is not None and received.place is not None else None


def _confidential(received: ComplaintReceivedV2 | None) -> bool:
    return received is not None and (received.confidential or received.kind.confidential)


Sort = Literal["deadline", "received"]
_ORDER: dict[str, str] = {
    # Most urgent first; cases without a deadline yet after those with one, oldest first.
    "deadline": "d.due ASC NULLS LAST, i.assigned_at ASC, i.case_id",
    # Longest waiting first.
    "received": "i.received_at ASC NULLS LAST, i.assigned_at ASC, i.case_id",
}
#: Overdue: the SLA service recorded the breach, or the due moment passed unanswered (the
#: breach event may be a moment behind).
OVERDUE = "(d.breached_at IS NOT NULL OR (d.met_at IS NULL AND d.due < %s))"
LIST_COLUMNS = (
    "i.case_id, i.complaint_id, i.receipt_no, i.number, i.office_code, i.status, i.extension_requested,"
    " i.message_class, i.field, i.subject, i.district, i.confidential, i.kind, i.received_at, i.assigned_at,"
    " d.due, d.extended_at, d.warned_at, d.breached_at, d.met_at, " + OVERDUE + " AS overdue,"
    " coalesce((SELECT json_agg(json_build_object('complaint_id', l.duplicate_id, 'receipt_no', l.receipt_no,"
    " 'linked_at', l.linked_at, 'followed', l.followed) ORDER BY l.linked_at)"
    " FROM {schema}.links l WHERE l.original_id=i.complaint_id), '[]'::json) AS linked"
)
_FROM = "{schema}.inbox i LEFT JOIN {schema}.deadlines d ON d.complaint_id=i.complaint_id"


class InboxQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def cases(
        self,
        office: str,
        *,
        now: datetime,
        statuses: tuple[str, ...] = (),
        sort: Sort = "deadline",
        overdue: bool | None = None,
        due_before: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
        deadline: float | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """The office's cases (never another's, never one that left its inbox) and how many
        there are in all; `overdue` and `due_before` filter by the SLA service's deadline."""
        where = ["i.office_code=%s", "NOT i.withdrawn"]
        params: list[Any] = [office]
        if statuses:
            where.append("i.status = ANY(%s)")
            params.append(list(statuses))
        if overdue is not None:
            where.append(OVERDUE if overdue else f"NOT coalesce({OVERDUE}, false)")
            params.append(now)
        if due_before is not None:
            where.append("d.due < %s")
            params.append(due_before)
        condition = " AND ".join(where)

        async def read(conn: Any) -> tuple[list[dict[str, Any]], int]:
            cur = await conn.execute(
                self.db.sql(
                    f"SELECT {LIST_COLUMNS} FROM {_FROM} WHERE {condition}"
                    f" ORDER BY {_ORDER[sort]} LIMIT %s OFFSET %s"
                ),
                (now, *params, limit, offset),
            )
            rows = list(await cur.fetchall())
            cur = await conn.execute(
                self.db.sql(f"SELECT count(*) AS n FROM {_FROM} WHERE {condition}"), tuple(params)
            )
            total = await cur.fetchone()
            return rows, int(total["n"]) if total else 0

        return await self.db.run(read, deadline=deadline)

    async def deadline_of(self, complaint_id: Any, *, deadline: float | None = None) -> dict[str, Any] | None:
        """The complaint's deadline as the SLA service keeps it, or None before it is set."""

        async def read(conn: Any) -> dict[str, Any] | None:
            cur = await conn.execute(
                self.db.sql("SELECT * FROM {schema}.deadlines WHERE complaint_id=%s"), (complaint_id,)
            )
            found: dict[str, Any] | None = await cur.fetchone()
            return found

        return await self.db.run(read, deadline=deadline)

    async def know_office(self, code: str) -> None:
        """An office given a key is known (its name and level come with its first case)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                self.db.sql("INSERT INTO {schema}.offices (code) VALUES (%s) ON CONFLICT DO NOTHING"), (code,)
            )
