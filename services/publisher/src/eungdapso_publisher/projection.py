"""The public projection (공개 처리현황): what anyone may see of a complaint.

Only whitelisted, non-personal fields are projected: never the citizen's contact data,
never the address, never a rating's comment, never the reasons of offices. The text and
the office's answer only for a complaint whose citizen chose disclosure, and then redacted
before they are stored (`redaction`); the desk's instant answer is the city's standard text
and public. Confidential kinds (corruption, whistleblowing, human-rights reports, and
whatever the router's kind check flags) show only that a report exists and its status.

Events arrive in any order across owners (intake's, the router's, casework's, sla's,
rating's streams): each handler records the facts it carries in their own columns, and the
status is computed from all the facts known (`STATUS`), never from the order they came in.
An answer that arrives before the assignment is still an answer; an acceptance counts only
while the office that accepted still holds the complaint (a reassignment takes it back).

Every change of a complaint's public status is appended to `public_changes`, the feed's
log: ids come from one sequence and are taken under a per-generation lock held to commit,
so they become visible in increasing order (a reader that resumes after id N misses none).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from eungdapso_platform.db import Database
from eungdapso_platform.readmodel import ProjectionTx, ReadModel
from eungdapso_publisher.redaction import redact
from eungdapso_publisher.search_terms import as_document, shared_terms
from eungdapso_schemas.codes import Disclosure
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import (
    CaseAcceptedV1,
    CaseAnsweredV1,
    CaseClosedV1,
    CaseTransferredV1,
    ComplaintAnsweredInstantlyV1,
    ComplaintAssignedV1,
    ComplaintAssignedV2,
    ComplaintEvent,
    ComplaintLinkedV1,
    ComplaintReceivedV1,
    ComplaintReceivedV2,
    DeadlineBreachedV1,
    DeadlineExtendedV1,
    DeadlineMovedV1,
    DeadlineSetV1,
    DuplicateAnsweredV1,
    RatedV1,
)

#: Every public status. `linked` (a duplicate of another complaint) shows the original's
#: status in the API; `overdue` is an open complaint past its due moment.
STATUSES = (
    "received",
    "assigned",
    "accepted",
    "extended",
    "overdue",
    "linked",
    "transferred",
    "answered",
    "closed",
)
#: Statuses in which the complaint is done with (no longer open).
DONE = ("transferred", "answered", "closed")
CONFIDENTIAL_KIND = "confidential"

#: The read model's tables. A change of shape is a new shape number, built beside the live
#: one by a rebuild (readers keep the old one until the swap). Shape 3: the whole lifecycle
#: (deadline, extension, breach, instant and duplicate answers, links, rating score), the
#: redacted text and answer of disclosed complaints with their search terms, and the
#: change log of the feed.
PUBLIC_STATUS = ReadModel(
    name="public_status",
    shape=3,
    tables={
        "public_complaints": (
            "CREATE TABLE {table} ("
            " complaint_id uuid PRIMARY KEY,"
            " receipt_no text NOT NULL UNIQUE,"
            " status text NOT NULL,"
            " confidential boolean NOT NULL DEFAULT false,"
            # public / private; NULL until the receipt says (an answer may come first).
            " disclosure text,"
            " channel text,"
            " kind text,"
            # As the receipt said, and as the router classified (shown first when known).
            " field text,"
            " district text,"
            " classified_field text,"
            " classified_district text,"
            " office_code text,"
            " office_name text,"
            " office_level text,"
            # Which assignment the office is from (a later reassignment wins, whatever the order).
            " reassignment integer NOT NULL DEFAULT -1,"
            " received_at timestamptz,"
            " assigned_at timestamptz,"
            " accepted_at timestamptz,"
            " accepted_office text,"
            " due timestamptz,"
            " deadline_set_at timestamptz,"
            " extended_at timestamptz,"
            " previous_due timestamptz,"
            " breached_at timestamptz,"
            " breached_due timestamptz,"
            " transferred_at timestamptz,"
            " transferred_from text,"
            " transferred_to text,"
            " linked_at timestamptz,"
            " duplicate_of_receipt_no text,"
            " answered_at timestamptz,"
            # office / instant / duplicate / first_contact
            " answered_by text,"
            " answer_id text,"
            " resolution text,"
            " closed_at timestamptz,"
            " rating_score smallint,"
            " rated_at timestamptz,"
            # Redacted at projection time: the raw text never reaches this table.
            " text_redacted text,"
            " answer_redacted text,"
            " text_terms text,"
            " answer_terms text,"
            " search tsvector,"
            " changed_at timestamptz)",
            "CREATE INDEX ON {table} USING gin (search)",
            "CREATE INDEX ON {table} (answered_at)",
        ),
        "public_changes": (
            # One sequence for every generation: a rebuilt log never reuses an id a client saw.
            "CREATE SEQUENCE IF NOT EXISTS {schema}.public_change_ids",
            "CREATE TABLE {table} ("
            " change_id bigint PRIMARY KEY DEFAULT nextval('{schema}.public_change_ids'),"
            " complaint_id uuid NOT NULL,"
            " receipt_no text NOT NULL,"
            " status text NOT NULL,"
            " at timestamptz NOT NULL,"
            # The public view of the complaint as it was then (the same whitelist as the API).
            " public jsonb NOT NULL)",
        ),
    },
)

#: The status from the facts known, latest stage first.
STATUS = """CASE
 WHEN t.closed_at IS NOT NULL THEN 'closed'
 WHEN t.answered_at IS NOT NULL THEN 'answered'
 WHEN t.transferred_at IS NOT NULL
  AND (t.office_code IS NULL OR t.transferred_from = t.office_code) THEN 'transferred'
 WHEN t.duplicate_of_receipt_no IS NOT NULL THEN 'linked'
 WHEN t.breached_at IS NOT NULL AND (t.due IS NULL OR t.breached_due >= t.due) THEN 'overdue'
 WHEN t.extended_at IS NOT NULL THEN 'extended'
 WHEN t.accepted_at IS NOT NULL
  AND (t.office_code IS NULL OR t.accepted_office = t.office_code) THEN 'accepted'
 WHEN t.assigned_at IS NOT NULL THEN 'assigned'
 ELSE 'received' END"""

#: What a confidential report hides: everything but its existence, status and times (the
#: office that investigates it, or the agency it went to, would reveal its kind).
CONFIDENTIAL_HIDES = (
    "field", "district", "classified_field", "classified_district", "office_code", "office_name",
    "office_level", "accepted_office", "transferred_from", "transferred_to", "resolution", "due",
    "previous_due", "breached_due", "duplicate_of_receipt_no", "answer_id", "rating_score",
)  # fmt: skip
#: What search matches: an answered, disclosed complaint's text (weighing more) and answer.
SEARCH_DOCUMENT = (
    "CASE WHEN t.disclosure='public' AND NOT t.confidential AND t.answered_at IS NOT NULL THEN"
    " setweight(to_tsvector('simple', coalesce(t.text_terms, '')), 'A')"
    " || setweight(to_tsvector('simple', coalesce(t.answer_terms, '')), 'B') END"
)
#: In one statement, from the facts as they stand: hide what may not show (a confidential
#: report: see above; a private complaint: its text, and any answer but the desk's standard
#: one), recompute the status and the search document; return the row with its status before.
SETTLE = (
    "WITH before AS (SELECT status FROM {public_complaints} WHERE complaint_id=%s)"
    " UPDATE {public_complaints} AS t SET status=" + STATUS + ","
    " kind=CASE WHEN t.confidential THEN '"
    + CONFIDENTIAL_KIND
    + "' ELSE t.kind END,"
    + "".join(f" {c}=CASE WHEN t.confidential THEN NULL ELSE t.{c} END," for c in CONFIDENTIAL_HIDES)
    + "".join(
        f" {c}=CASE WHEN t.confidential OR t.disclosure='private' THEN NULL ELSE t.{c} END,"
        for c in ("text_redacted", "text_terms")
    )
    + "".join(
        f" {c}=CASE WHEN t.confidential OR (t.disclosure='private' AND t.answered_by IS DISTINCT FROM"
        f" 'instant') THEN NULL ELSE t.{c} END,"
        for c in ("answer_redacted", "answer_terms")
    )
    + " search="
    + SEARCH_DOCUMENT
    + ", changed_at=greatest(t.changed_at, %s)"
    " WHERE t.complaint_id=%s RETURNING t.*, (SELECT status FROM before) AS previous"
)
COLUMNS = (
    "complaint_id, receipt_no, status, confidential, disclosure, channel, kind,"
    " coalesce(classified_field, field) AS field, coalesce(classified_district, district) AS district,"
    " office_code, office_name, office_level, received_at, assigned_at, accepted_at, due, deadline_set_at,"
    " extended_at, previous_due, breached_at, transferred_at, transferred_to, linked_at,"
    " duplicate_of_receipt_no, answered_at, answered_by, answer_id, resolution, closed_at, rating_score,"
    " rated_at, text_redacted, answer_redacted, changed_at"
)


async def _facts(
    tx: ProjectionTx, e: ComplaintEvent, values: dict[str, object], merge: dict[str, str] | None = None
) -> None:
    """Record the facts this event carries: the complaint's row is created by whichever event
    comes first (any owner may be first); on a known complaint each column takes the new value,
    or what `merge` says (an SQL expression of `t.<column>`, the old, and `EXCLUDED.<column>`)."""
    merge = merge or {}
    columns = list(values)
    await tx.execute(
        "INSERT INTO {public_complaints} AS t (complaint_id, receipt_no, status, " + ", ".join(columns) + ")"
        " VALUES (%s, %s, 'new', " + ", ".join(["%s"] * len(columns)) + ")"
        " ON CONFLICT (complaint_id) DO UPDATE SET "
        + ", ".join(f"{c}={merge.get(c, 'EXCLUDED.' + c)}" for c in columns),
        (e.complaint_id, e.receipt_no, *values.values()),
    )


#: The first office to be heard of stays until the assignment names one.
KEEP_OFFICE = {"office_code": "coalesce(t.office_code, EXCLUDED.office_code)"}


async def settle(tx: ProjectionTx, complaint_id: UUID, at: datetime) -> None:
    """Hide what may not show, recompute the status, and log a change of it for the feed."""
    cur = await tx.conn.execute(tx.sql(SETTLE), (complaint_id, at, complaint_id))
    row = await cur.fetchone()
    if row is not None and _text_unindexed(row):
        # Only answered public complaints are searchable, so the text is read for search
        # (kiwi, a worker thread) when the answer is known, whichever arrives first: once per
        # answered complaint, and never on the path from receipt to the public status.
        await tx.execute(
            "UPDATE {public_complaints} SET text_terms=%s WHERE complaint_id=%s",
            (await _terms(row["text_redacted"]), complaint_id),
        )
        await tx.execute(
            "UPDATE {public_complaints} AS t SET search=" + SEARCH_DOCUMENT + " WHERE t.complaint_id=%s",
            (complaint_id,),
        )
    if row is None or row["status"] == row["previous"]:
        return
    if not getattr(tx, "_changes_locked", False):
        # Held to commit: ids are taken in the order the batches commit.
        await tx.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", (str(tx.generation.table("public_changes")),)
        )
        setattr(tx, "_changes_locked", True)  # noqa: B010 - a mark on this batch's transaction
    await tx.execute(
        "INSERT INTO {public_changes} (complaint_id, receipt_no, status, at, public)"
        " VALUES (%s, %s, %s, %s, %s)",
        (complaint_id, row["receipt_no"], row["status"], at, json.dumps(public_view(row), default=str)),
    )


def _text_unindexed(row: dict[str, Any]) -> bool:
    """Answered, with a text that may show (`SETTLE` clears it otherwise), not yet read for search."""
    return row["answered_at"] is not None and row["text_redacted"] is not None and row["text_terms"] is None


async def _terms(text: str) -> str:
    terms = shared_terms()
    return as_document(await asyncio.to_thread(terms.of, text))


async def on_received(tx: ProjectionTx, envelope: Envelope[ComplaintReceivedV1]) -> None:
    e = ComplaintReceivedV2.from_v1(envelope.data)
    confidential = e.confidential or e.kind.confidential
    disclosed = e.disclosure is Disclosure.PUBLIC and not confidential
    text = redact(e.text) if disclosed else None
    values: dict[str, object] = {
        "confidential": confidential,
        "disclosure": e.disclosure.value,
        "channel": e.channel.value,
        "kind": e.kind.value,
        "field": None if e.field is None else e.field.value,
        "district": None if e.place is None or e.place.district is None else e.place.district.value,
        "received_at": e.received_at,
        "text_redacted": text,
    }
    await _facts(tx, e, values, STICKY_CONFIDENTIAL)
    if e.first_contact is not None:
        # Answered on the call by the 120 agent (1차 상담 종결): the answer is the agent's words.
        await _answer(tx, e, e.first_contact.answered_at, "first_contact", e.first_contact.answer, "resolved")
    await settle(tx, e.complaint_id, e.received_at)


#: Whatever told first that a report is confidential, it stays confidential.
STICKY_CONFIDENTIAL = {"confidential": "t.confidential OR EXCLUDED.confidential"}
_LATER = "CASE WHEN t.reassignment <= EXCLUDED.reassignment THEN {new} ELSE t.{c} END"
#: What only an assignment at least as late as the one known may change.
LATEST_ASSIGNMENT = {
    **STICKY_CONFIDENTIAL,
    **{
        c: _LATER.format(new=f"EXCLUDED.{c}", c=c)
        for c in ("office_code", "office_name", "office_level", "assigned_at")
    },
    **{
        c: _LATER.format(new=f"coalesce(EXCLUDED.{c}, t.{c})", c=c)
        for c in ("classified_field", "classified_district")
    },
    "reassignment": "greatest(t.reassignment, EXCLUDED.reassignment)",
}


async def on_assigned(tx: ProjectionTx, envelope: Envelope[ComplaintAssignedV1]) -> None:
    e = envelope.data
    classified = e if isinstance(e, ComplaintAssignedV2) else None
    values: dict[str, object] = {
        "confidential": classified is not None and classified.confidential,
        "classified_field": classified.field.value if classified else None,
        "classified_district": classified.district.value if classified and classified.district else None,
        "office_code": e.office.code,
        "office_name": e.office.name,
        "office_level": e.office.level.value,
        "assigned_at": e.assigned_at,
        "reassignment": classified.reassignment if classified else 0,
    }
    await _facts(tx, e, values, LATEST_ASSIGNMENT)
    await settle(tx, e.complaint_id, e.assigned_at)


async def on_accepted(tx: ProjectionTx, envelope: Envelope[CaseAcceptedV1]) -> None:
    e = envelope.data
    values: dict[str, object] = {"accepted_at": e.at, "accepted_office": e.office, "office_code": e.office}
    await _facts(tx, e, values, KEEP_OFFICE)
    await settle(tx, e.complaint_id, e.at)


async def on_transferred(tx: ProjectionTx, envelope: Envelope[CaseTransferredV1]) -> None:
    e = envelope.data
    values: dict[str, object] = {
        "transferred_at": e.at,
        "transferred_from": e.office,
        "transferred_to": e.to_office,
        "office_code": e.office,
    }
    await _facts(tx, e, values, KEEP_OFFICE)
    await settle(tx, e.complaint_id, e.at)


#: An answer keeps the office and the original already known.
KEEP_ANSWERED = {
    **KEEP_OFFICE,
    "duplicate_of_receipt_no": "coalesce(t.duplicate_of_receipt_no, EXCLUDED.duplicate_of_receipt_no)",
}


async def _answer(
    tx: ProjectionTx,
    e: ComplaintEvent,
    at: datetime,
    by: str,
    text: str,
    resolution: str,
    more: dict[str, object] | None = None,
) -> None:
    # The desk's standard answer is the city's text; any other answer is redacted. It is kept
    # until the receipt says whether the citizen disclosed (`SETTLE` drops it for a private one).
    shown = text if by == "instant" else redact(text)
    values: dict[str, object] = {
        "answered_at": at,
        "answered_by": by,
        "answer_redacted": shown,
        "answer_terms": await _terms(shown),
        "resolution": resolution,
        **(more or {}),
    }
    await _facts(tx, e, values, KEEP_ANSWERED)


async def on_answered(tx: ProjectionTx, envelope: Envelope[CaseAnsweredV1]) -> None:
    e = envelope.data
    await _answer(tx, e, e.at, "office", e.text, e.resolution.value, {"office_code": e.office})
    await settle(tx, e.complaint_id, e.at)


async def on_answered_instantly(tx: ProjectionTx, envelope: Envelope[ComplaintAnsweredInstantlyV1]) -> None:
    e = envelope.data
    await _answer(tx, e, e.answered_at, "instant", e.answer, "resolved", {"answer_id": e.answer_id})
    await settle(tx, e.complaint_id, e.answered_at)


async def on_duplicate_answered(tx: ProjectionTx, envelope: Envelope[DuplicateAnsweredV1]) -> None:
    e = envelope.data
    more: dict[str, object] = {"office_code": e.office, "duplicate_of_receipt_no": e.duplicate_of_receipt_no}
    await _answer(tx, e, e.at, "duplicate", e.text, e.resolution.value, more)
    await settle(tx, e.complaint_id, e.at)


async def on_linked(tx: ProjectionTx, envelope: Envelope[ComplaintLinkedV1]) -> None:
    e = envelope.data
    await _facts(tx, e, {"linked_at": e.linked_at, "duplicate_of_receipt_no": e.duplicate_of_receipt_no})
    await settle(tx, e.complaint_id, e.linked_at)


async def on_closed(tx: ProjectionTx, envelope: Envelope[CaseClosedV1]) -> None:
    e = envelope.data
    await _facts(tx, e, {"closed_at": e.at, "office_code": e.office}, KEEP_OFFICE)
    await settle(tx, e.complaint_id, e.at)


# sla's events about one complaint come in order (one owner, keyed by complaint): the latest
# due moment is the one in force.
async def on_deadline_set(tx: ProjectionTx, envelope: Envelope[DeadlineSetV1]) -> None:
    e = envelope.data
    await _facts(tx, e, {"due": e.due, "deadline_set_at": envelope.time})
    await settle(tx, e.complaint_id, envelope.time)


async def on_deadline_extended(tx: ProjectionTx, envelope: Envelope[DeadlineExtendedV1]) -> None:
    e = envelope.data
    await _facts(tx, e, {"due": e.due, "extended_at": envelope.time, "previous_due": e.previous_due})
    await settle(tx, e.complaint_id, envelope.time)


async def on_deadline_moved(tx: ProjectionTx, envelope: Envelope[DeadlineMovedV1]) -> None:
    e = envelope.data
    await _facts(tx, e, {"due": e.due})
    await settle(tx, e.complaint_id, envelope.time)


async def on_deadline_breached(tx: ProjectionTx, envelope: Envelope[DeadlineBreachedV1]) -> None:
    e = envelope.data
    await _facts(tx, e, {"breached_at": e.at, "breached_due": e.due})
    await settle(tx, e.complaint_id, e.at)


async def on_rated(tx: ProjectionTx, envelope: Envelope[RatedV1]) -> None:
    e = envelope.data
    # The score only: the comment is personal (casework's, for the office).
    await _facts(tx, e, {"rating_score": e.score, "rated_at": e.rated_at})
    await settle(tx, e.complaint_id, e.rated_at)


def public_view(row: dict[str, Any]) -> dict[str, Any]:
    """What anyone may see of a complaint, from its row: the one whitelist of every public
    output (status API, feeds, search)."""
    confidential = bool(row["confidential"])
    office = (
        {"code": row["office_code"], "name": row["office_name"], "level": row["office_level"]}
        if row["office_code"] and not confidential
        else None
    )
    disclosed = row["disclosure"] == Disclosure.PUBLIC.value and not confidential
    shown_answer = row["answered_by"] == "instant" or disclosed
    return {
        "receipt_no": row["receipt_no"],
        "status": row["status"],
        "channel": row["channel"],
        "kind": CONFIDENTIAL_KIND if confidential else row["kind"],
        # The router's classification first (rows of `COLUMNS` have it under field, district).
        "field": None if confidential else row.get("classified_field") or row["field"],
        "district": None if confidential else row.get("classified_district") or row["district"],
        "office": office,
        "disclosure": None if confidential else row["disclosure"],
        "received_at": row["received_at"],
        "assigned_at": row["assigned_at"],
        "accepted_at": row["accepted_at"],
        "deadline": None
        if confidential or row["due"] is None
        else {
            "due": row["due"],
            "extended": row["extended_at"] is not None,
            "previous_due": row["previous_due"],
        },
        "extended_at": row["extended_at"],
        "overdue_since": row["breached_at"] if row["status"] == "overdue" else None,
        "transferred_at": row["transferred_at"],
        "transferred_to": None if confidential else row["transferred_to"],
        "duplicate_of": None
        if confidential or row["duplicate_of_receipt_no"] is None
        else {"receipt_no": row["duplicate_of_receipt_no"]},
        "answered_at": row["answered_at"],
        "answered_by": None if confidential else row["answered_by"],
        "resolution": None if confidential else row["resolution"],
        "closed_at": row["closed_at"],
        "rating": None
        if confidential or row["rating_score"] is None
        else {"score": row["rating_score"], "rated_at": row["rated_at"]},
        "text": row["text_redacted"] if disclosed else None,
        "answer": row["answer_redacted"] if shown_answer and not confidential else None,
    }


class PublicStatusQueries:
    """Reads through the view of the live generation: never empty or partial."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def by_receipt_no(self, receipt_no: str) -> dict[str, Any] | None:
        async with self.db.pool.connection() as conn:
            cur = await conn.execute(
                self.db.sql(f"SELECT {COLUMNS} FROM {{schema}}.public_complaints WHERE receipt_no=%s"),
                (receipt_no,),
            )
            return await cur.fetchone()

    async def status_of(self, receipt_no: str) -> str | None:
        row = await self.by_receipt_no(receipt_no)
        return None if row is None else str(row["status"])

    async def all_rows(self) -> list[dict[str, Any]]:
        async with self.db.pool.connection() as conn:
            cur = await conn.execute(
                self.db.sql(f"SELECT {COLUMNS} FROM {{schema}}.public_complaints ORDER BY receipt_no")
            )
            return list(await cur.fetchall())

    async def changes_after(self, change_id: int, limit: int) -> list[dict[str, Any]]:
        """The feed's log after `change_id`, oldest first."""
        async with self.db.pool.connection() as conn:
            cur = await conn.execute(
                self.db.sql(
                    "SELECT change_id, receipt_no, status, at, public FROM {schema}.public_changes"
                    " WHERE change_id > %s ORDER BY change_id LIMIT %s"
                ),
                (change_id, limit),
            )
            return list(await cur.fetchall())

    async def latest_changes(self, limit: int) -> list[dict[str, Any]]:
        """The newest changes, newest first (the Atom feed)."""
        async with self.db.pool.connection() as conn:
            cur = await conn.execute(
                self.db.sql(
                    "SELECT change_id, receipt_no, status, at, public FROM {schema}.public_changes"
                    " ORDER BY change_id DESC LIMIT %s"
                ),
                (limit,),
            )
            return list(await cur.fetchall())

    async def last_change_id(self) -> int:
        async with self.db.pool.connection() as conn:
            cur = await conn.execute(
                self.db.sql("SELECT coalesce(max(change_id), 0) AS last FROM {schema}.public_changes")
            )
            row = await cur.fetchone()
            return int(row["last"]) if row else 0

    async def search(self, query: str, limit: int) -> list[dict[str, Any]]:
        """Answered, disclosed complaints matching any of the query's terms, best first
        (terms of the text weigh more than those of the answer; more matches rank higher)."""
        async with self.db.pool.connection() as conn:
            cur = await conn.execute(
                self.db.sql(
                    f"SELECT {COLUMNS}, ts_rank_cd(search, q) AS rank"
                    " FROM {schema}.public_complaints, to_tsquery('simple', %s) AS q"
                    " WHERE search @@ q AND answered_at IS NOT NULL AND disclosure='public'"
                    " AND NOT confidential ORDER BY rank DESC, answered_at DESC LIMIT %s"
                ),
                (query, limit),
            )
            return list(await cur.fetchall())
