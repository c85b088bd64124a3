"""Intake's HTTP entry point (web channel): thin, it turns a request into a command."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel

from eungdapso_intake.attachments import Attachments
from eungdapso_intake.ratelimit import RateLimits, unavailable_problem
from eungdapso_intake.services import (
    ComplaintIntake,
    ComplaintSubmission,
    Idempotency,
    IdempotencyKeyReused,
    OutcomeUnknown,
    ReceiveComplaint,
    SubmissionFailed,
    SubmissionResult,
    new_idempotency_key,
)
from eungdapso_platform.follow import FollowKeys
from eungdapso_platform.problems import Problem, problem_response
from eungdapso_schemas.codes import Channel

router = APIRouter()

#: A client's `Idempotency-Key` header (printable ASCII, at most 255 characters).
IdempotencyKeyHeader = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")
]


class ReceiptOut(BaseModel):
    complaint_id: UUID
    receipt_no: str
    #: The citizen's private page for this complaint (text, answer, deadline, notices): only
    #: whoever holds this link can open it. Keep it; it is not shown again anywhere else.
    follow_url: str | None = None


async def get_intake(request: Request) -> ComplaintIntake:
    intake: ComplaintIntake = request.app.state.intake
    return intake


async def get_rate_limits(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.rate_limits
    return limits


@router.post(
    "/api/v1/complaints",
    status_code=201,
    response_model=ReceiptOut,
    summary="Register a complaint (web channel)",
    responses={
        422: {"description": "Invalid field, or an attachment never uploaded (RFC 9457 problem)"},
        429: {
            "description": "Too many complaints from this address; retry after `Retry-After` seconds "
            "(RFC 9457 problem)"
        },
        503: {
            "description": "Not recorded, or outcome unknown; retry with the `idempotency_key` it gives "
            "(RFC 9457 problem)"
        },
    },
)
async def submit_complaint(
    submission: ComplaintSubmission,
    request: Request,
    response: Response,
    intake: Annotated[ComplaintIntake, Depends(get_intake)],
    limits: Annotated[RateLimits, Depends(get_rate_limits)],
    idempotency_key: IdempotencyKeyHeader = None,
) -> ReceiptOut | Response:
    # Anonymous: limited per client address. Checked once the body is valid, so only what
    # would reach the database counts.
    await limits.enforce(
        request,
        f"web:{limits.client_address(request)}",
        limits.web_rate_per_minute,
        what="complaints from one address",
        idempotency_key=idempotency_key or new_idempotency_key(),
    )
    attachments: Attachments = request.app.state.attachments
    refs = await attachments.resolve(submission.attachments)
    try:
        result = await intake.submit(
            ReceiveComplaint.from_web(submission, Channel.WEB, refs),
            Idempotency.client_key(idempotency_key),
            deadline=limits.deadline(request),
        )
    except IdempotencyKeyReused as exc:
        raise Problem(
            422,
            "Idempotency-Key reused",
            "This Idempotency-Key was already used for a different complaint "
            f"(receipt {exc.args[0]}); use a new key for a new complaint.",
            type_="idempotency-key-reused",
        ) from exc
    except SubmissionFailed as exc:
        return unavailable(request, exc)
    structlog.contextvars.bind_contextvars(complaint_id=str(result.complaint_id))
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/complaints/{result.receipt_no}"
    return receipt_out(request, result)


def receipt_out(request: Request, result: SubmissionResult) -> ReceiptOut:
    """The receipt, with the citizen's private follow link where one is configured (the web
    form shows it; a desk hands it to the citizen, printed or read out)."""
    follow: FollowKeys | None = request.app.state.follow_keys
    return ReceiptOut(
        complaint_id=result.complaint_id,
        receipt_no=result.receipt_no,
        follow_url=None
        if follow is None
        else FollowKeys.link("", result.receipt_no, follow.key_for(result.complaint_id)),
    )


def unavailable(request: Request, failure: SubmissionFailed) -> Response:
    """503 with the key to retry with: a retry with it and the same body is always safe."""
    key = failure.idempotency_key
    if isinstance(failure, OutcomeUnknown):
        problem = Problem(
            503,
            "Outcome unknown",
            "The connection to the database failed while the complaint was being saved: it may or "
            "may not have been recorded. Send the same complaint again with the header "
            f"'Idempotency-Key: {key}': if it was recorded you get its receipt, otherwise it is "
            "recorded now, never twice.",
            type_="outcome-unknown",
            idempotency_key=key,
        )
    else:
        problem = unavailable_problem(key)
    answer = problem_response(request, problem)
    answer.headers["Retry-After"] = "5"
    return answer
