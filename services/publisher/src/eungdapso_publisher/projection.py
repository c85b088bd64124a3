"""The public projection (공개 처리현황): what anyone may see of a complaint.

Only whitelisted, non-personal fields are projected: never the citizen's contact data,
never the text (it may name people), never the address. Confidential kinds (corruption,
whistleblowing, human-rights reports) show only that a confidential report exists and its
status. Events may arrive in any order across streams; the status only moves forward.
"""

from __future__ import annotations

from typing import Any

from eungdapso_platform.db import Database
from eungdapso_platform.readmodel import ProjectionTx, ReadModel
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import ComplaintAssignedV1, ComplaintReceivedV1

#: The public lifecycle, in order; a later status never goes back to an earlier one.
STATUSES = ("received", "assigned")
CONFIDENTIAL_KIND = "confidential"

#: The read model's tables (shape 1). A change of shape is a new shape number, built
#: beside the live one by a rebuild (readers keep the old one until the swap).
PUBLIC_STATUS = ReadModel(
    name="public_status",
    shape=1,
    tables={
        "public_complaints": (
            "CREATE TABLE {table} ("
            " complaint_id uuid PRIMARY KEY,"
            " receipt_no text NOT NULL UNIQUE,"
            " status text NOT NULL,"
            " channel text,"
            " kind text,"
            " field text,"
            " district text,"
            " office_code text,"
            " office_name text,"
            " office_level text,"
            " received_at timestamptz,"
            " assigned_at timestamptz)",
        )
    },
)
_RANK = "array_position(ARRAY['received','assigned'], {})"
_NEWER_STATUS = (
    "CASE WHEN "
    + _RANK.format("EXCLUDED.status")
    + " > "
    + _RANK.format("t.status")
    + " THEN EXCLUDED.status ELSE t.status END"
)
UPSERT_RECEIVED = (
    "INSERT INTO {public_complaints} AS t"
    " (complaint_id, receipt_no, status, channel, kind, field, district, received_at)"
    " VALUES (%s, %s, 'received', %s, %s, %s, %s, %s)"
    " ON CONFLICT (complaint_id) DO UPDATE SET"
    " channel=EXCLUDED.channel, kind=EXCLUDED.kind, field=EXCLUDED.field,"
    " district=EXCLUDED.district, received_at=EXCLUDED.received_at,"
    " status=" + _NEWER_STATUS
)
UPSERT_ASSIGNED = (
    "INSERT INTO {public_complaints} AS t"
    " (complaint_id, receipt_no, status, office_code, office_name, office_level, assigned_at)"
    " VALUES (%s, %s, 'assigned', %s, %s, %s, %s)"
    " ON CONFLICT (complaint_id) DO UPDATE SET"
    " office_code=EXCLUDED.office_code, office_name=EXCLUDED.office_name,"
    " office_level=EXCLUDED.office_level, assigned_at=EXCLUDED.assigned_at,"
    " status=" + _NEWER_STATUS
)
COLUMNS = (
    "complaint_id, receipt_no, status, channel, kind, field, district,"
    " office_code, office_name, office_level, received_at, assigned_at"
)


async def on_received(tx: ProjectionTx, envelope: Envelope[ComplaintReceivedV1]) -> None:
    e = envelope.data
    confidential = e.confidential or e.kind.confidential
    await tx.execute(
        UPSERT_RECEIVED,
        (
            e.complaint_id,
            e.receipt_no,
            e.channel.value,
            CONFIDENTIAL_KIND if confidential else e.kind.value,
            None if confidential or e.field is None else e.field.value,
            None if confidential or e.place is None or e.place.district is None else e.place.district.value,
            e.received_at,
        ),
    )
    if confidential:
        # The office that investigates a report would reveal its kind: hide it too,
        # whichever of the two events arrived first.
        await tx.execute(
            "UPDATE {public_complaints} SET office_code=NULL, office_name=NULL, office_level=NULL"
            " WHERE complaint_id=%s",
            (e.complaint_id,),
        )


async def on_assigned(tx: ProjectionTx, envelope: Envelope[ComplaintAssignedV1]) -> None:
    e = envelope.data
    cur = await tx.conn.execute(
        tx.sql("SELECT kind FROM {public_complaints} WHERE complaint_id=%s"), (e.complaint_id,)
    )
    row = await cur.fetchone()
    hidden = row is not None and row["kind"] == CONFIDENTIAL_KIND
    await tx.execute(
        UPSERT_ASSIGNED,
        (
            e.complaint_id,
            e.receipt_no,
            None if hidden else e.office.code,
            None if hidden else e.office.name,
            None if hidden else e.office.level.value,
            e.assigned_at,
        ),
    )


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

    async def all_rows(self) -> list[dict[str, Any]]:
        async with self.db.pool.connection() as conn:
            cur = await conn.execute(
                self.db.sql(f"SELECT {COLUMNS} FROM {{schema}}.public_complaints ORDER BY receipt_no")
            )
            return list(await cur.fetchall())
