"""The citizen's own page (나의 민원): what the citizen who filed a complaint may read of it
through the private follow link — the text they wrote, where it is, by when, the answer,
and the rating link. Personal data: kept by the notifier (one of the three services that
may read it, DESIGN.md), served only to whoever presents the follow key
(`eungdapso_platform.follow`), which nothing on any stream carries.

Events arrive in any order across owners: each sets its own columns, and the status only
moves forward (received → assigned → accepted → transferred / answered → closed).
"""

from __future__ import annotations

from typing import Any

from eungdapso_platform.consumer import Projection
from eungdapso_platform.db import Database
from eungdapso_platform.readmodel import ProjectionTx, ReadModel
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import (
    CaseAcceptedV1,
    CaseAnsweredV1,
    CaseClosedV1,
    CaseTransferredV1,
    ComplaintAnsweredInstantlyV1,
    ComplaintAssignedV1,
    ComplaintAssignedV2,
    ComplaintReceivedV1,
    ComplaintReceivedV2,
    DeadlineEvent,
    DeadlineExtendedV1,
    DeadlineMovedV1,
    DeadlineSetV1,
    DuplicateAnsweredV1,
    NoticeSentV1,
    RatingLinkIssuedV1,
)

STATUSES = ("received", "assigned", "accepted", "transferred", "answered", "closed")

CITIZEN_PAGE = ReadModel(
    name="citizen_page",
    shape=1,
    tables={
        "citizen_pages": (
            "CREATE TABLE {table} ("
            " complaint_id uuid PRIMARY KEY,"
            " receipt_no text NOT NULL UNIQUE,"
            " status text NOT NULL,"
            " language text,"
            " text text,"
            " received_at timestamptz,"
            " office_code text,"
            " office_name text,"
            " deadline timestamptz,"
            " transferred_to text,"
            " answer_text text,"
            " resolution text,"
            " objection text,"
            " answered_by text,"
            " answered_at timestamptz,"
            " closed_at timestamptz,"
            " rating_token text,"
            " rating_expires_at timestamptz)",
        ),
        # What the citizen was told, and where (the notifier's own notices sent).
        "citizen_page_notices": (
            "CREATE TABLE {table} ("
            " notice_id uuid PRIMARY KEY,"
            " complaint_id uuid NOT NULL,"
            " stage text NOT NULL,"
            " medium text NOT NULL,"
            " sent_at timestamptz NOT NULL)",
            "CREATE INDEX ON {table} (complaint_id, sent_at)",
        ),
    },
)
_RANK = "array_position(ARRAY[" + ", ".join(f"'{s}'" for s in STATUSES) + "], {})"
_NEWER = (
    f"CASE WHEN {_RANK.format('EXCLUDED.status')} > {_RANK.format('t.status')}"
    " THEN EXCLUDED.status ELSE t.status END"
)


def _upsert(status: str, **columns: str) -> str:
    names = ", ".join(columns)
    return (
        "INSERT INTO {citizen_pages} AS t (complaint_id, receipt_no, status"
        + (", " + names if names else "")
        + ") VALUES (%s, %s, '"
        + status
        + "'"
        + ", %s" * len(columns)
        + ") ON CONFLICT (complaint_id) DO UPDATE SET status="
        + _NEWER
        + "".join(f", {name}={expr}" for name, expr in columns.items())
    )


RECEIVED = _upsert(
    "received", language="EXCLUDED.language", text="EXCLUDED.text", received_at="EXCLUDED.received_at"
)
ASSIGNED = _upsert("assigned", office_code="EXCLUDED.office_code", office_name="EXCLUDED.office_name")
ACCEPTED = _upsert("accepted", office_code="coalesce(t.office_code, EXCLUDED.office_code)")
TRANSFERRED = _upsert("transferred", transferred_to="EXCLUDED.transferred_to")
ANSWERED = _upsert(
    "answered",
    answer_text="EXCLUDED.answer_text",
    resolution="EXCLUDED.resolution",
    objection="EXCLUDED.objection",
    answered_by="EXCLUDED.answered_by",
    answered_at="EXCLUDED.answered_at",
)
CLOSED = _upsert("closed", closed_at="EXCLUDED.closed_at")
#: A deadline event (set, extended, moved, ...) says the current due moment.
DEADLINE = _upsert("received", deadline="EXCLUDED.deadline")
RATING_LINK = _upsert(
    "received",
    rating_token="EXCLUDED.rating_token",  # noqa: S106 (a column, not a password)
    rating_expires_at="EXCLUDED.rating_expires_at",
)


async def on_received(tx: ProjectionTx, envelope: Envelope[ComplaintReceivedV1]) -> None:
    e = envelope.data
    await tx.execute(RECEIVED, (e.complaint_id, e.receipt_no, e.language.value, e.text, e.received_at))


async def on_assigned(tx: ProjectionTx, envelope: Envelope[ComplaintAssignedV1]) -> None:
    e = envelope.data
    await tx.execute(ASSIGNED, (e.complaint_id, e.receipt_no, e.office.code, e.office.name))


async def on_accepted(tx: ProjectionTx, envelope: Envelope[CaseAcceptedV1]) -> None:
    e = envelope.data
    await tx.execute(ACCEPTED, (e.complaint_id, e.receipt_no, e.office))


async def on_transferred(tx: ProjectionTx, envelope: Envelope[CaseTransferredV1]) -> None:
    e = envelope.data
    await tx.execute(TRANSFERRED, (e.complaint_id, e.receipt_no, e.to_office))


async def on_answered(tx: ProjectionTx, envelope: Envelope[CaseAnsweredV1]) -> None:
    e = envelope.data
    params = (e.complaint_id, e.receipt_no, e.text, e.resolution.value, e.objection, "office", e.at)
    await tx.execute(ANSWERED, params)


async def on_duplicate_answered(tx: ProjectionTx, envelope: Envelope[DuplicateAnsweredV1]) -> None:
    e = envelope.data
    params = (e.complaint_id, e.receipt_no, e.text, e.resolution.value, e.objection, "duplicate", e.at)
    await tx.execute(ANSWERED, params)


async def on_answered_instantly(tx: ProjectionTx, envelope: Envelope[ComplaintAnsweredInstantlyV1]) -> None:
    e = envelope.data
    params = (e.complaint_id, e.receipt_no, e.answer, "resolved", None, "instant", e.answered_at)
    await tx.execute(ANSWERED, params)


async def on_closed(tx: ProjectionTx, envelope: Envelope[CaseClosedV1]) -> None:
    e = envelope.data
    await tx.execute(CLOSED, (e.complaint_id, e.receipt_no, e.at))


async def on_deadline(tx: ProjectionTx, envelope: Envelope[DeadlineEvent]) -> None:
    e = envelope.data
    await tx.execute(DEADLINE, (e.complaint_id, e.receipt_no, e.due))


async def on_rating_link(tx: ProjectionTx, envelope: Envelope[RatingLinkIssuedV1]) -> None:
    e = envelope.data
    await tx.execute(RATING_LINK, (e.complaint_id, e.receipt_no, e.token, e.expires_at))


async def on_notice_sent(tx: ProjectionTx, envelope: Envelope[NoticeSentV1]) -> None:
    e = envelope.data
    if e.recipient != "citizen":
        return
    await tx.execute(
        "INSERT INTO {citizen_page_notices} (notice_id, complaint_id, stage, medium, sent_at)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (notice_id) DO NOTHING",
        (e.notice_id, e.complaint_id, e.stage, e.medium, e.at),
    )


def register(component: Projection) -> None:
    for received in (ComplaintReceivedV1, ComplaintReceivedV2):
        component.on(received, on_received)
    for assigned in (ComplaintAssignedV1, ComplaintAssignedV2):
        component.on(assigned, on_assigned)
    component.on(CaseAcceptedV1, on_accepted)
    component.on(CaseTransferredV1, on_transferred)
    component.on(CaseAnsweredV1, on_answered)
    component.on(DuplicateAnsweredV1, on_duplicate_answered)
    component.on(ComplaintAnsweredInstantlyV1, on_answered_instantly)
    component.on(CaseClosedV1, on_closed)
    for deadline in (DeadlineSetV1, DeadlineExtendedV1, DeadlineMovedV1):
        component.on(deadline, on_deadline)
    component.on(RatingLinkIssuedV1, on_rating_link)
    component.on(NoticeSentV1, on_notice_sent)


class CitizenPages:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def by_receipt_no(self, receipt_no: str) -> dict[str, Any] | None:
        async with self.db.pool.connection() as conn:
            cur = await conn.execute(
                self.db.sql("SELECT * FROM {schema}.citizen_pages WHERE receipt_no=%s"), (receipt_no,)
            )
            return await cur.fetchone()

    async def notices(self, complaint_id: object) -> list[dict[str, Any]]:
        async with self.db.pool.connection() as conn:
            cur = await conn.execute(
                self.db.sql(
                    "SELECT stage, medium, sent_at FROM {schema}.citizen_page_notices"
                    " WHERE complaint_id=%s ORDER BY sent_at"
                ),
                (complaint_id,),
            )
            return list(await cur.fetchall())
