"""The public status of a complaint, by receipt number. No personal data, ever."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel

from eungdapso_platform.problems import Problem
from eungdapso_publisher.projection import PublicStatusQueries
from eungdapso_schemas.events import RECEIPT_NO_PATTERN

router = APIRouter()


class PublicOffice(BaseModel):
    code: str
    name: str | None
    level: str | None


class PublicStatus(BaseModel):
    receipt_no: str
    #: received → assigned → accepted → transferred / answered → closed
    status: str
    channel: str | None
    kind: str | None
    #: As the router classified them, else as the receipt said; null for a confidential report.
    field: str | None
    district: str | None
    #: The office handling it (its code alone until the assignment is known).
    office: PublicOffice | None
    received_at: datetime | None
    assigned_at: datetime | None
    accepted_at: datetime | None
    #: Transferred (이송) to an outside agency, by its code.
    transferred_at: datetime | None
    transferred_to: str | None
    answered_at: datetime | None
    #: resolved / partly / not_possible (the answer itself is not public here).
    resolution: str | None
    closed_at: datetime | None


async def get_queries(request: Request) -> PublicStatusQueries:
    queries: PublicStatusQueries = request.app.state.queries
    return queries


def to_public(row: dict[str, Any]) -> PublicStatus:
    office = (
        PublicOffice(code=row["office_code"], name=row["office_name"], level=row["office_level"])
        if row["office_code"]
        else None
    )
    return PublicStatus(
        receipt_no=row["receipt_no"],
        status=row["status"],
        channel=row["channel"],
        kind=row["kind"],
        field=row["field"],
        district=row["district"],
        office=office,
        received_at=row["received_at"],
        assigned_at=row["assigned_at"],
        accepted_at=row["accepted_at"],
        transferred_at=row["transferred_at"],
        transferred_to=row["transferred_to"],
        answered_at=row["answered_at"],
        resolution=row["resolution"],
        closed_at=row["closed_at"],
    )


@router.get(
    "/api/v1/complaints/{receipt_no}",
    response_model=PublicStatus,
    summary="Public processing status of a complaint (처리현황)",
)
async def public_status(
    receipt_no: Annotated[str, Path(pattern=RECEIPT_NO_PATTERN, max_length=20)],
    queries: Annotated[PublicStatusQueries, Depends(get_queries)],
) -> PublicStatus:
    row = await queries.by_receipt_no(receipt_no)
    if row is None:
        raise Problem(
            404,
            "Complaint not found",
            f"No complaint with receipt number {receipt_no} is known yet; "
            "a new complaint appears within seconds of its receipt.",
            type_="complaint-not-found",
        )
    return to_public(row)
