"""`/api/v1/triage/...`: the triage desk's work through HTTP, with staff keys (staff.py).

    GET  /api/v1/triage/cases                       the complaints waiting, longest first
    GET  /api/v1/triage/cases/{complaint_id}        one: its text, place, what the router read
    POST /api/v1/triage/cases/{complaint_id}/decision
                                                    {"office": code} or {"subject": ..., "district": ...}

A case shows the text and the place the citizen gave, never their contact (the router never
has it). A confidential report's text is not shown: its content stays with the investigators.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import datetime
from typing import Annotated, Self
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, model_validator

from eungdapso_platform.problems import Problem
from eungdapso_router.directory import Directory
from eungdapso_router.directory_store import LiveDirectory
from eungdapso_router.domainmodel import Reading
from eungdapso_router.staff import require_staff
from eungdapso_router.tables import Queued, RouterTables
from eungdapso_router.triage import AlreadyDecided, NotAtTriage, TriageDesk, UnknownOffice
from eungdapso_schemas.codes import District
from eungdapso_schemas.events import Office as OfficeRef
from eungdapso_schemas.events import OfficeCode, Place, ReceiptNo
from eungdapso_schemas.subjects import SubjectCode

router = APIRouter(prefix="/api/v1/triage", tags=["triage"], dependencies=[Depends(require_staff)])
Staff = Annotated[str, Depends(require_staff)]
MAX_PAGE = 200


class WaitingCase(BaseModel):
    complaint_id: UUID
    receipt_no: ReceiptNo
    since: datetime
    #: Why it is here (low confidence, rejected twice, ...).
    reason: str
    subject: str | None
    confidence: float | None
    reassignment: int


class Waiting(BaseModel):
    cases: list[WaitingCase]
    #: Pass as `after` for the next page; null on the last.
    next: str | None


class Candidate(BaseModel):
    subject: str
    score: float
    #: Where that subject would go at the complaint's place.
    office: OfficeRef


class CaseDetail(WaitingCase):
    kind: str
    channel: str
    received_at: datetime
    #: Null for a confidential report.
    text: str | None
    place: Place | None
    chosen_subject: str | None
    office: OfficeRef
    reading: Reading | None
    candidates: list[Candidate]


class TriageDecision(BaseModel):
    """Where the complaint goes: an office of the directory, or a subject (and district) for
    the directory to say which office."""

    model_config = ConfigDict(extra="forbid")

    office: OfficeCode | None = None
    subject: SubjectCode | None = None
    district: District | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if (self.office is None) == (self.subject is None):
            raise ValueError("name the office, or the subject (with the district, if the place matters)")
        return self


class Decided(BaseModel):
    complaint_id: UUID
    receipt_no: ReceiptNo
    office: OfficeRef
    subject: str | None
    district: District | None
    decided_by: str
    reassignment: int


def _desk(request: Request) -> TriageDesk:
    desk: TriageDesk = request.app.state.triage
    return desk


def _cursor(q: Queued) -> str:
    return base64.urlsafe_b64encode(f"{q.since.isoformat()}|{q.complaint_id}".encode()).decode()


def _after(cursor: str) -> tuple[datetime, UUID]:
    try:
        since, complaint_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(since), UUID(complaint_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Problem(
            422, "Invalid cursor", "`after` is not a cursor this API gave.", type_="validation-error"
        ) from None


def _not_waiting(complaint_id: UUID) -> Problem:
    return Problem(
        404,
        "Not at the triage desk",
        f"No complaint {complaint_id} waits at the triage desk.",
        type_="not-found",
    )


@router.get("/cases", response_model=Waiting, summary="Complaints waiting at the triage desk, longest first")
async def waiting(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> Waiting:
    tables: RouterTables = request.app.state.tables
    rows = await tables.queue(limit + 1, _after(after) if after else None)
    page = rows[:limit]
    return Waiting(
        cases=[WaitingCase.model_validate(q, from_attributes=True) for q in page],
        next=_cursor(page[-1]) if len(rows) > limit else None,
    )


@router.get("/cases/{complaint_id}", response_model=CaseDetail, summary="One waiting complaint, to decide")
async def case(request: Request, complaint_id: UUID) -> CaseDetail:
    tables: RouterTables = request.app.state.tables
    queued = await tables.queued(complaint_id)
    read = await tables.remembered(complaint_id)
    if queued is None or read is None:
        raise _not_waiting(complaint_id)
    try:
        routing = await asyncio.to_thread(_desk(request).waiting, complaint_id)
    except NotAtTriage:
        raise _not_waiting(complaint_id) from None
    live: LiveDirectory = request.app.state.directory
    reading = routing.reading
    place = None
    if any(v is not None for v in (read.address, read.lat, read.lon, read.district)):
        place = Place(address=read.address, lat=read.lat, lon=read.lon, district=read.district)
    return CaseDetail(
        **WaitingCase.model_validate(queued, from_attributes=True).model_dump(),
        kind=read.kind,
        channel=read.channel,
        received_at=read.received_at,
        text=read.text,
        place=place,
        chosen_subject=read.chosen_subject,
        office=routing.office,
        reading=reading,
        candidates=_candidates(reading, live.current),
    )


def _candidates(reading: Reading | None, directory: Directory) -> list[Candidate]:
    if reading is None:
        return []
    return [
        Candidate(
            subject=s.subject, score=s.score, office=directory.office_for(s.subject, reading.district).ref
        )
        for s in reading.evidence.scores
    ]


@router.post(
    "/cases/{complaint_id}/decision",
    response_model=Decided,
    summary="Decide where a waiting complaint goes (recorded with who decided)",
    responses={
        404: {"description": "No such complaint waits at the desk"},
        409: {"description": "Someone decided it meanwhile"},
        422: {"description": "An office the directory lacks, or an invalid body"},
    },
)
async def decide(request: Request, complaint_id: UUID, body: TriageDecision, staff: Staff) -> Decided:
    try:
        routing = await asyncio.to_thread(
            _desk(request).decide,
            complaint_id,
            staff=staff,
            office=body.office,
            subject=body.subject,
            district=body.district,
        )
    except NotAtTriage:
        raise _not_waiting(complaint_id) from None
    except AlreadyDecided:
        raise Problem(
            409,
            "Already decided",
            f"Complaint {complaint_id} left the triage desk meanwhile.",
            type_="conflict",
        ) from None
    except UnknownOffice as exc:
        raise Problem(422, "Unknown office", str(exc), type_="unknown-office") from None
    reading = routing.reading
    return Decided(
        complaint_id=routing.complaint_id,
        receipt_no=routing.receipt_no,
        office=routing.office,
        subject=reading.subject if reading is not None else None,
        district=reading.district if reading is not None else None,
        decided_by=routing.decided_by,
        reassignment=routing.reassignment,
    )
