"""The public projection (공개 처리현황): what anyone may see of a complaint.

Only whitelisted, non-personal fields are projected: never the citizen's contact data,
never the text (it may name people), never the address, never the office's answer or its
reasons. Confidential kinds (corruption, whistleblowing, human-rights reports, and whatever
the router's kind check flags) show only that a confidential report exists and its status.
Events arrive in any order across streams (intake's, the router's, casework's); each sets
its own columns and the status only moves forward: received → assigned → accepted →
transferred / answered → closed. The field and district are the router's classification
when it gave one (assigned.v2), else what the receipt said.
"""

from __future__ import annotations

from typing import Any

from eungdapso_platform.db import Database
from eungdapso_platform.readmodel import ProjectionTx, ReadModel
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import (
    CaseAcceptedV1,
    CaseAnsweredV1,
    CaseClosedV1,
    CaseTransferredV1,
    ComplaintAssignedV1,
    ComplaintAssignedV2,
    ComplaintReceivedV1,
    StaffAction,
)

#: The public lifecycle, in order; a later status never goes back to an earlier one.
STATUSES = ("received", "assigned", "accepted", "transferred", "answered", "closed")
CONFIDENTIAL_KIND = "confidential"

#: The read model's tables. A change of shape is a new shape number, built beside the live
#: one by a rebuild (readers keep the old one until the swap). Shape 2: casework's stages
#: (accepted, transferred, answered, closed, with their times, the agency transferred to and
#: the resolution), the router's classification, and a sticky confidentiality flag.
PUBLIC_STATUS = ReadModel(
    name="public_status",
    shape=2,
    tables={
        "public_complaints": (
            "CREATE TABLE {table} ("
            " complaint_id uuid PRIMARY KEY,"
            " receipt_no text NOT NULL UNIQUE,"
            " status text NOT NULL,"
            " confidential boolean NOT NULL DEFAULT false,"
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
            " received_at timestamptz,"
            " assigned_at timestamptz,"
            " accepted_at timestamptz,"
            " transferred_at timestamptz,"
            " transferred_to text,"
            " answered_at timestamptz,"
            " resolution text,"
            " closed_at timestamptz)",
        )
    },
)
_RANK = "array_position(ARRAY[" + ", ".join(f"'{s}'" for s in STATUSES) + "], {})"
_NEWER_STATUS = (
    "CASE WHEN "
    + _RANK.format("EXCLUDED.status")
    + " > "
    + _RANK.format("t.status")
    + " THEN EXCLUDED.status ELSE t.status END"
)
UPSERT_RECEIVED = (
    "INSERT INTO {public_complaints} AS t"
    " (complaint_id, receipt_no, status, confidential, channel, kind, field, district, received_at)"
    " VALUES (%s, %s, 'received', %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (complaint_id) DO UPDATE SET"
    " confidential=t.confidential OR EXCLUDED.confidential,"
    " channel=EXCLUDED.channel, kind=EXCLUDED.kind, field=EXCLUDED.field,"
    " district=EXCLUDED.district, received_at=EXCLUDED.received_at,"
    " status=" + _NEWER_STATUS
)
UPSERT_ASSIGNED = (
    "INSERT INTO {public_complaints} AS t"
    " (complaint_id, receipt_no, status, confidential, classified_field, classified_district,"
    " office_code, office_name, office_level, assigned_at)"
    " VALUES (%s, %s, 'assigned', %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (complaint_id) DO UPDATE SET"
    " confidential=t.confidential OR EXCLUDED.confidential,"
    " classified_field=coalesce(EXCLUDED.classified_field, t.classified_field),"
    " classified_district=coalesce(EXCLUDED.classified_district, t.classified_district),"
    " office_code=EXCLUDED.office_code, office_name=EXCLUDED.office_name,"
    " office_level=EXCLUDED.office_level, assigned_at=EXCLUDED.assigned_at,"
    " status=" + _NEWER_STATUS
)
#: A stage of casework: its status and time; the office's code until the assignment (which
#: names the office in full) is there.
UPSERT_STAGE = (
    "INSERT INTO {public_complaints} AS t (complaint_id, receipt_no, status, office_code, {at_column})"
    " VALUES (%s, %s, %s, %s, %s)"
    " ON CONFLICT (complaint_id) DO UPDATE SET {at_column}=EXCLUDED.{at_column},"
    " office_code=coalesce(t.office_code, EXCLUDED.office_code),"
    " status=" + _NEWER_STATUS
)
#: Whatever told first that a report is confidential, nothing but its existence and status
#: stays (the office that investigates it, or the agency it went to, would reveal its kind).
HIDE_CONFIDENTIAL = (
    "UPDATE {public_complaints} SET kind='" + CONFIDENTIAL_KIND + "', field=NULL, district=NULL,"
    " classified_field=NULL, classified_district=NULL, office_code=NULL, office_name=NULL,"
    " office_level=NULL, transferred_to=NULL, resolution=NULL WHERE complaint_id=%s AND confidential"
)
COLUMNS = (
    "complaint_id, receipt_no, status, confidential, channel, kind,"
    " coalesce(classified_field, field) AS field, coalesce(classified_district, district) AS district,"
    " office_code, office_name, office_level, received_at, assigned_at, accepted_at, transferred_at,"
    " transferred_to, answered_at, resolution, closed_at"
)


async def on_received(tx: ProjectionTx, envelope: Envelope[ComplaintReceivedV1]) -> None:
    e = envelope.data
    confidential = e.confidential or e.kind.confidential
    await tx.execute(
        UPSERT_RECEIVED,
        (
            e.complaint_id,
            e.receipt_no,
            confidential,
            e.channel.value,
            e.kind.value,
            None if e.field is None else e.field.value,
            None if e.place is None or e.place.district is None else e.place.district.value,
            e.received_at,
        ),
    )
    await tx.execute(HIDE_CONFIDENTIAL, (e.complaint_id,))


async def on_assigned(tx: ProjectionTx, envelope: Envelope[ComplaintAssignedV1]) -> None:
    e = envelope.data
    classified = e if isinstance(e, ComplaintAssignedV2) else None
    await tx.execute(
        UPSERT_ASSIGNED,
        (
            e.complaint_id,
            e.receipt_no,
            classified is not None and classified.confidential,
            classified.field.value if classified else None,
            classified.district.value if classified and classified.district else None,
            e.office.code,
            e.office.name,
            e.office.level.value,
            e.assigned_at,
        ),
    )
    await tx.execute(HIDE_CONFIDENTIAL, (e.complaint_id,))


async def _stage(tx: ProjectionTx, e: StaffAction, status: str, at_column: str) -> None:
    statement = UPSERT_STAGE.replace("{at_column}", at_column)
    await tx.execute(statement, (e.complaint_id, e.receipt_no, status, e.office, e.at))


async def on_accepted(tx: ProjectionTx, envelope: Envelope[CaseAcceptedV1]) -> None:
    await _stage(tx, envelope.data, "accepted", "accepted_at")
    await tx.execute(HIDE_CONFIDENTIAL, (envelope.data.complaint_id,))


async def on_transferred(tx: ProjectionTx, envelope: Envelope[CaseTransferredV1]) -> None:
    e = envelope.data
    await _stage(tx, e, "transferred", "transferred_at")
    await tx.execute(
        "UPDATE {public_complaints} SET transferred_to=%s WHERE complaint_id=%s",
        (e.to_office, e.complaint_id),
    )
    await tx.execute(HIDE_CONFIDENTIAL, (e.complaint_id,))


async def on_answered(tx: ProjectionTx, envelope: Envelope[CaseAnsweredV1]) -> None:
    e = envelope.data
    await _stage(tx, e, "answered", "answered_at")
    await tx.execute(
        "UPDATE {public_complaints} SET resolution=%s WHERE complaint_id=%s",
        (e.resolution.value, e.complaint_id),
    )
    await tx.execute(HIDE_CONFIDENTIAL, (e.complaint_id,))


async def on_closed(tx: ProjectionTx, envelope: Envelope[CaseClosedV1]) -> None:
    await _stage(tx, envelope.data, "closed", "closed_at")
    await tx.execute(HIDE_CONFIDENTIAL, (envelope.data.complaint_id,))


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
