"""The Open311 read model (`open311_requests`): what `GET requests` and
`GET servicerequestupdates` answer, about every complaint from every channel.

Intake owns /open311/, so it keeps its own public read model, built like any projection
from the streams (intake's `complaint.received`, the router's `complaint.assigned`) and
rebuilt from them. It holds only what may be public, decided as each event is applied:
- never the citizen's name, phone, e-mail, device or account ids, reply address;
- the text and the address only if the citizen chose disclosure, and then masked
  (`privacy.mask_contacts`); coordinates rounded to ~100 m (`privacy.rounded`);
- confidential reports (corruption, whistleblowing, human rights): that a report exists
  and its status, nothing else: no text, address, coordinates, type or office (the office
  that investigates a report would tell its kind).
Events arrive in any order across the two streams: a request is shown only once its
receipt has been applied (until then nobody knows whether it is confidential).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from eungdapso_intake.open311 import catalogue
from eungdapso_intake.open311.privacy import mask_contacts, rounded
from eungdapso_platform.db import Database
from eungdapso_platform.readmodel import ProjectionTx, ReadModel
from eungdapso_schemas.codes import Disclosure
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import ComplaintAssignedV1, ComplaintReceivedV1, ComplaintReceivedV2

#: The spec's limit on a description.
MAX_DESCRIPTION = 4000

OPEN311_REQUESTS = ReadModel(
    name="open311_requests",
    # 2: the service code is the complaint's subject (it was read from a label in the text).
    shape=2,
    tables={
        "open311_requests": (
            "CREATE TABLE {table} ("
            " complaint_id uuid PRIMARY KEY,"
            " service_request_id text NOT NULL UNIQUE,"
            " status text NOT NULL,"
            # NULL until the receipt is applied (an assignment may come first).
            " service_code text,"
            " confidential boolean,"
            " requested_datetime timestamptz,"
            " updated_datetime timestamptz NOT NULL,"
            " description text,"
            " address text,"
            " lat double precision,"
            " long double precision,"
            " agency_responsible text)",
            "CREATE INDEX ON {table} (requested_datetime)",
        ),
        "open311_request_updates": (
            "CREATE TABLE {table} ("
            # The event's id: stable across rebuilds, so clients can tell updates apart.
            " update_id text PRIMARY KEY,"
            " complaint_id uuid NOT NULL,"
            " service_request_id text NOT NULL,"
            " status text NOT NULL,"
            " updated_datetime timestamptz NOT NULL,"
            " description text,"
            " media_url text)",
            "CREATE INDEX ON {table} (updated_datetime)",
            "CREATE INDEX ON {table} (complaint_id)",
        ),
    },
)

UPSERT_RECEIVED = (
    "INSERT INTO {open311_requests} AS t (complaint_id, service_request_id, status, service_code,"
    " confidential, requested_datetime, updated_datetime, description, address, lat, long)"
    " VALUES (%s, %s, 'open', %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (complaint_id) DO UPDATE SET"
    " service_code=EXCLUDED.service_code, confidential=EXCLUDED.confidential,"
    " requested_datetime=EXCLUDED.requested_datetime,"
    " updated_datetime=greatest(t.updated_datetime, EXCLUDED.updated_datetime),"
    " description=EXCLUDED.description, address=EXCLUDED.address, lat=EXCLUDED.lat, long=EXCLUDED.long,"
    " agency_responsible=CASE WHEN EXCLUDED.confidential THEN NULL ELSE t.agency_responsible END"
)
UPSERT_ASSIGNED = (
    "INSERT INTO {open311_requests} AS t"
    " (complaint_id, service_request_id, status, updated_datetime, agency_responsible)"
    " VALUES (%s, %s, 'open', %s, %s)"
    " ON CONFLICT (complaint_id) DO UPDATE SET"
    " updated_datetime=greatest(t.updated_datetime, EXCLUDED.updated_datetime),"
    " agency_responsible=CASE WHEN t.confidential THEN NULL ELSE EXCLUDED.agency_responsible END"
)
INSERT_UPDATE = (
    "INSERT INTO {open311_request_updates}"
    " (update_id, complaint_id, service_request_id, status, updated_datetime, description)"
    " VALUES (%s, %s, %s, 'open', %s, CASE WHEN coalesce(("
    "   SELECT confidential FROM {open311_requests} WHERE complaint_id=%s), false)"
    " THEN NULL ELSE %s END)"
    " ON CONFLICT (update_id) DO NOTHING"
)


def public_text(text: str | None) -> str | None:
    if not text:
        return None
    masked = mask_contacts(text)
    return masked if len(masked) <= MAX_DESCRIPTION else masked[: MAX_DESCRIPTION - 1] + "…"


async def on_received(tx: ProjectionTx, envelope: Envelope[ComplaintReceivedV1]) -> None:
    e = envelope.data
    confidential = e.confidential or e.kind.confidential
    if confidential:
        code, description, address, lat, lon = catalogue.CONFIDENTIAL, None, None, None, None
    else:
        v2 = e if isinstance(e, ComplaintReceivedV2) else None
        # Redaction is a later issue: until then only text the citizen chose to publish,
        # masked. A v1 record never had the choice: private.
        disclosed = v2 is not None and v2.disclosure is Disclosure.PUBLIC
        place = e.place
        code = catalogue.service_for(v2.subject if v2 is not None else None, e.field).code
        description = public_text(e.text) if disclosed else None
        address = public_text(place.address) if disclosed and place is not None else None
        lat = rounded(place.lat) if place is not None else None
        lon = rounded(place.lon) if place is not None else None
    await tx.execute(
        UPSERT_RECEIVED,
        (
            e.complaint_id,
            e.receipt_no,
            code,
            confidential,
            e.received_at,
            e.received_at,
            description,
            address,
            lat,
            lon,
        ),
    )
    if confidential:
        # An update that came first named the office: hide it, as `INSERT_UPDATE` does later.
        await tx.execute(
            "UPDATE {open311_request_updates} SET description=NULL WHERE complaint_id=%s", (e.complaint_id,)
        )


def assigned_note(office_name: str) -> str:
    return f"{office_name}에 배정되었습니다. (Assigned to {office_name}.)"


async def on_assigned(tx: ProjectionTx, envelope: Envelope[ComplaintAssignedV1]) -> None:
    e = envelope.data
    await tx.execute(UPSERT_ASSIGNED, (e.complaint_id, e.receipt_no, e.assigned_at, e.office.name))
    await tx.execute(
        INSERT_UPDATE,
        (
            envelope.id,
            e.complaint_id,
            e.receipt_no,
            e.assigned_at,
            e.complaint_id,
            assigned_note(e.office.name),
        ),
    )


_REQUEST_COLUMNS = (
    "service_request_id, status, service_code, confidential, requested_datetime, updated_datetime,"
    " description, address, lat, long, agency_responsible"
)
#: Shown only once the receipt is applied (before, nobody knows if it is confidential).
_KNOWN = "requested_datetime IS NOT NULL"


def as_request(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the spec's `request`, field by field in the spec's order."""
    hidden = bool(row["confidential"])
    return {
        "service_request_id": row["service_request_id"],
        "status": row["status"],
        "status_notes": None,
        "service_name": catalogue.service_name(row["service_code"]),
        "service_code": row["service_code"],
        "description": None if hidden else row["description"],
        "agency_responsible": None if hidden else row["agency_responsible"],
        "service_notice": None,
        "requested_datetime": row["requested_datetime"],
        "updated_datetime": row["updated_datetime"],
        "expected_datetime": None,
        "address": None if hidden else row["address"],
        "address_id": None,
        "zipcode": None,
        "lat": None if hidden else row["lat"],
        "long": None if hidden else row["long"],
        # Photos may show faces or number plates, and nothing blurs them yet.
        "media_url": None,
    }


def as_update(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "update_id": row["update_id"],
        "service_request_id": row["service_request_id"],
        "status": row["status"],
        "updated_datetime": row["updated_datetime"],
        "description": None if row["confidential"] else row["description"],
        "media_url": None,
    }


class Open311Queries:
    """Reads through the views of the live generation (never empty or partial)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _rows(self, query: str, params: Sequence[object]) -> list[dict[str, Any]]:
        async with self.db.pool.connection() as conn:
            cur = await conn.execute(self.db.sql(query), params)
            return list(await cur.fetchall())

    async def by_ids(self, service_request_ids: Sequence[str]) -> list[dict[str, Any]]:
        rows = await self._rows(
            f"SELECT {_REQUEST_COLUMNS} FROM {{schema}}.open311_requests"
            f" WHERE {_KNOWN} AND service_request_id = ANY(%s) ORDER BY service_request_id",
            (list(service_request_ids),),
        )
        return [as_request(r) for r in rows]

    async def search(
        self,
        *,
        start: datetime,
        end: datetime,
        service_codes: Sequence[str] = (),
        statuses: Sequence[str] = (),
        limit: int,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Most recent first, by the time of the request."""
        rows = await self._rows(
            f"SELECT {_REQUEST_COLUMNS} FROM {{schema}}.open311_requests"
            f" WHERE {_KNOWN} AND requested_datetime BETWEEN %s AND %s"
            " AND (cardinality(%s::text[]) = 0 OR service_code = ANY(%s::text[]))"
            " AND (cardinality(%s::text[]) = 0 OR status = ANY(%s::text[]))"
            " ORDER BY requested_datetime DESC, service_request_id DESC LIMIT %s OFFSET %s",
            (
                start,
                end,
                list(service_codes),
                list(service_codes),
                list(statuses),
                list(statuses),
                limit,
                offset,
            ),
        )
        return [as_request(r) for r in rows]

    async def updates(self, *, start: datetime, end: datetime, limit: int) -> list[dict[str, Any]]:
        """Oldest first, so a client can go on from the last one it saw."""
        rows = await self._rows(
            "SELECT u.update_id, u.service_request_id, u.status, u.updated_datetime, u.description,"
            " r.confidential FROM {schema}.open311_request_updates u"
            " JOIN {schema}.open311_requests r ON r.complaint_id = u.complaint_id"
            " WHERE r.requested_datetime IS NOT NULL AND u.updated_datetime BETWEEN %s AND %s"
            " ORDER BY u.updated_datetime, u.update_id LIMIT %s",
            (start, end, limit),
        )
        return [as_update(r) for r in rows]
