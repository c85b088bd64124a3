"""Intake's HTTP entry point (web channel): thin, it turns a request into a command."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel

from eungdapso_intake.services import ComplaintIntake, ComplaintSubmission, IdempotencyKeyReused
from eungdapso_platform.problems import Problem
from eungdapso_schemas.codes import Channel

router = APIRouter()


class ReceiptOut(BaseModel):
    complaint_id: UUID
    receipt_no: str


async def get_intake(request: Request) -> ComplaintIntake:
    intake: ComplaintIntake = request.app.state.intake
    return intake


@router.post(
    "/api/v1/complaints",
    status_code=201,
    response_model=ReceiptOut,
    summary="Register a complaint (web channel)",
    responses={422: {"description": "Invalid field (RFC 9457 problem)"}},
)
async def submit_complaint(
    submission: ComplaintSubmission,
    response: Response,
    intake: Annotated[ComplaintIntake, Depends(get_intake)],
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")
    ] = None,
) -> ReceiptOut:
    try:
        result = await intake.submit(submission, channel=Channel.WEB, idempotency_key=idempotency_key)
    except IdempotencyKeyReused as exc:
        raise Problem(
            422,
            "Idempotency-Key reused",
            "This Idempotency-Key was already used for a different complaint "
            f"(receipt {exc.args[0]}); use a new key for a new complaint.",
            type_="idempotency-key-reused",
        ) from exc
    structlog.contextvars.bind_contextvars(complaint_id=str(result.complaint_id))
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/complaints/{result.receipt_no}"
    return ReceiptOut(complaint_id=result.complaint_id, receipt_no=result.receipt_no)
