"""The public status of a complaint, by receipt number. No personal data, ever: everything
shown comes through `projection.public_view`, the one whitelist of the public outputs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel

from eungdapso_platform.problems import Problem
from eungdapso_publisher.projection import PublicStatusQueries, public_view
from eungdapso_schemas.events import RECEIPT_NO_PATTERN

router = APIRouter()


class PublicOffice(BaseModel):
    code: str
    name: str | None
    level: str | None


class PublicDeadline(BaseModel):
    #: The due moment in force (처리기한), after any extension or move.
    due: datetime
    extended: bool
    #: The due moment before the extension.
    previous_due: datetime | None


class DuplicateOf(BaseModel):
    receipt_no: str
    #: The original's status, which this one follows until it is answered with it.
    status: str | None = None


class PublicRating(BaseModel):
    #: 1–5, the citizen's satisfaction with the answer (never the comment).
    score: int
    rated_at: datetime | None


class PublicStatus(BaseModel):
    receipt_no: str
    #: received → assigned → accepted → extended / overdue → transferred / answered → closed;
    #: a duplicate (linked) shows its original's status.
    status: str
    channel: str | None
    kind: str | None
    #: As the router classified them, else as the receipt said; null for a confidential report.
    field: str | None
    district: str | None
    #: The office handling it (its code alone until the assignment is known).
    office: PublicOffice | None
    #: public: the citizen let the text and answer be published (redacted); private: not.
    disclosure: str | None
    received_at: datetime | None
    assigned_at: datetime | None
    accepted_at: datetime | None
    deadline: PublicDeadline | None
    extended_at: datetime | None
    #: Past its due moment without an answer, since then.
    overdue_since: datetime | None
    #: Transferred (이송) to an outside agency, by its code.
    transferred_at: datetime | None
    transferred_to: str | None
    #: A duplicate (중복 민원) of this complaint, which it follows.
    duplicate_of: DuplicateOf | None
    answered_at: datetime | None
    #: office / instant (the desk's standard answer) / duplicate (the original's answer) /
    #: first_contact (the 120 agent on the call).
    answered_by: str | None
    #: resolved / partly / not_possible
    resolution: str | None
    closed_at: datetime | None
    rating: PublicRating | None
    #: The complaint's text, redacted, when the citizen chose disclosure; else null.
    text: str | None
    #: The answer, redacted, when the citizen chose disclosure (the desk's standard answer always).
    answer: str | None


async def get_queries(request: Request) -> PublicStatusQueries:
    queries: PublicStatusQueries = request.app.state.queries
    return queries


def to_public(row: dict[str, Any]) -> PublicStatus:
    return PublicStatus.model_validate(public_view(row))


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
    shown = to_public(row)
    if shown.duplicate_of is not None:
        original = await queries.by_receipt_no(shown.duplicate_of.receipt_no)
        if original is not None and not original["confidential"]:
            shown.duplicate_of.status = str(original["status"])
            if shown.status == "linked":
                shown.status = shown.duplicate_of.status
    return shown
