"""The review queue (재검토): after a citizen rated an office's answer 1 or 2, the rating
service asks the office to review how it handled the case (`ReviewRequestedV1`). The `reviews`
projection keeps each request for the office concerned only: the score and the citizen's
comment (personal: the office may read it, nobody else) are shown to that office's keys, and
to no other. A review of the desk's instant answers names no office: no office key sees it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eungdapso_casework.domainmodel import Case
from eungdapso_platform.db import Database
from eungdapso_platform.eventstore import Write
from eungdapso_platform.migrations import Migration
from eungdapso_platform.readmodel import ProjectionTx, ReadModel
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import ReviewRequestedV1

REVIEWS = ReadModel(
    name="reviews",
    shape=1,
    tables={
        "reviews": (
            "CREATE TABLE {table} ("
            " invitation_id uuid PRIMARY KEY,"
            " complaint_id uuid NOT NULL,"
            " receipt_no text NOT NULL,"
            " office_code text,"
            " score integer NOT NULL,"
            " comment text,"
            " rated_at timestamptz NOT NULL)",
            "CREATE INDEX ON {table} (office_code, rated_at)",
        )
    },
)


#: What the office noted on a review is its own action: written with its event (casework's store),
#: not part of the projection (a rebuild from the rating stream must not lose it).
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "casework",
        5,
        "the offices' notes on review requests (재검토), written with the case's event",
        (
            "CREATE TABLE {schema}.review_notes ("
            " invitation_id uuid PRIMARY KEY,"
            " case_id uuid NOT NULL,"
            " staff text NOT NULL,"
            " note text NOT NULL,"
            " noted_at timestamptz NOT NULL)",
        ),
    ),
)


def note_row(case: Case, invitation_id: UUID) -> Write:
    note, staff, at = case.reviews_noted[invitation_id]
    return Write(
        "INSERT INTO {schema}.review_notes (invitation_id, case_id, staff, note, noted_at)"
        " VALUES (%s, %s, %s, %s, %s)",
        (invitation_id, case.id, staff, note, at),
    )


async def on_review_requested(tx: ProjectionTx, envelope: Envelope[ReviewRequestedV1]) -> None:
    e = envelope.data
    await tx.execute(
        "INSERT INTO {reviews}"
        " (invitation_id, complaint_id, receipt_no, office_code, score, comment, rated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (invitation_id) DO NOTHING",
        (e.invitation_id, e.complaint_id, e.receipt_no, e.office, e.score, e.comment, e.rated_at),
    )


#: The office's own case of the reviewed complaint (the latest it had), if it has one.
_REVIEW_COLUMNS = (
    "r.invitation_id, r.complaint_id, r.receipt_no, r.score, r.comment, r.rated_at,"
    " (SELECT json_build_object('staff', n.staff, 'note', n.note, 'noted_at', n.noted_at)"
    " FROM {schema}.review_notes n WHERE n.invitation_id=r.invitation_id) AS noted,"
    " (SELECT i.case_id FROM {schema}.inbox i WHERE i.complaint_id=r.complaint_id"
    " AND i.office_code=r.office_code ORDER BY i.number DESC LIMIT 1) AS case_id"
)


class ReviewQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def for_office(
        self, office: str, *, limit: int, offset: int, deadline: float | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """The office's review requests, newest first, and how many there are."""

        async def read(conn: Any) -> tuple[list[dict[str, Any]], int]:
            cur = await conn.execute(
                self.db.sql(
                    f"SELECT {_REVIEW_COLUMNS} FROM {{schema}}.reviews r WHERE r.office_code=%s"
                    " ORDER BY r.rated_at DESC, r.invitation_id LIMIT %s OFFSET %s"
                ),
                (office, limit, offset),
            )
            rows = list(await cur.fetchall())
            cur = await conn.execute(
                self.db.sql("SELECT count(*) AS n FROM {schema}.reviews WHERE office_code=%s"), (office,)
            )
            total = await cur.fetchone()
            return rows, int(total["n"]) if total else 0

        return await self.db.run(read, deadline=deadline)

    async def one(
        self, office: str, invitation_id: UUID, *, deadline: float | None = None
    ) -> dict[str, Any] | None:
        """One of the office's review requests (None: not the office's, or unknown)."""

        async def read(conn: Any) -> dict[str, Any] | None:
            cur = await conn.execute(
                self.db.sql(
                    f"SELECT {_REVIEW_COLUMNS} FROM {{schema}}.reviews r"
                    " WHERE r.office_code=%s AND r.invitation_id=%s"
                ),
                (office, invitation_id),
            )
            found: dict[str, Any] | None = await cur.fetchone()
            return found

        return await self.db.run(read, deadline=deadline)

    async def of_complaint(
        self, office: str, complaint_id: Any, *, deadline: float | None = None
    ) -> list[dict[str, Any]]:
        """The office's review requests about one complaint (shown with its case)."""

        async def read(conn: Any) -> list[dict[str, Any]]:
            cur = await conn.execute(
                self.db.sql(
                    f"SELECT {_REVIEW_COLUMNS} FROM {{schema}}.reviews r"
                    " WHERE r.office_code=%s AND r.complaint_id=%s ORDER BY r.rated_at"
                ),
                (office, complaint_id),
            )
            return list(await cur.fetchall())

        return await self.db.run(read, deadline=deadline)
