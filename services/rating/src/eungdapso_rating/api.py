"""The rating API (만족도 평가): a citizen's page reads what its link rates and posts the
score; anyone reads the figures per office and month.

A link that does not entitle to rate is answered with a problem that says why (forged 403,
for another complaint 403, expired 410, already used 409) and records nothing. Nothing here
answers or logs the citizen's comment or anything else of theirs: the token opens the answer's
receipt number, office and time, no more.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, TypeVar
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from eungdapso_platform.problems import Problem
from eungdapso_rating.domainmodel import LOW_SCORES, AlreadyRated, AnsweredBy, Invitation, InvitationExpired
from eungdapso_rating.links import ExpiredLink, ForeignLink, ForgedLink
from eungdapso_rating.services import Ratings, UnknownInvitation
from eungdapso_rating.tables import OfficeFigures, RatingQueries
from eungdapso_schemas.events import OfficeCode, RatingComment, RatingToken, Score

router = APIRouter(prefix="/api/v1/ratings", tags=["ratings (만족도)"])

T = TypeVar("T")
Month = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM (Seoul time)")]
#: The complaint the page's address names, if it names one: a link for another is refused.
ForComplaint = Annotated[UUID | None, Query(alias="complaint")]


class WhatIsRated(BaseModel):
    receipt_no: str
    #: The office's code; null for the desk's instant answers (no office answered).
    office: str | None
    #: As the router's assignments name it; null until one reached the rating service.
    office_name: str | None
    answered_by: AnsweredBy
    answered_at: datetime
    expires_at: datetime


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: RatingToken
    score: Score
    #: Personal by default: only the office that answered reads it.
    comment: RatingComment | None = None


class RatingOut(BaseModel):
    receipt_no: str
    score: int
    rated_at: datetime
    #: A score of 1–2 asks the office to review how it handled the case.
    review_requested: bool


class Summary(BaseModel):
    month: str
    offices: list[OfficeFigures]


def _deadline(request: Request) -> float:
    return time.monotonic() + float(request.app.state.request_deadline_s)


@contextmanager
def _link_problems() -> Iterator[None]:
    """The refusals of a link or an invitation, as problems that say why."""
    try:
        yield
    except ForgedLink:
        raise Problem(
            403,
            "Invalid rating link",
            "This rating link is not one the city issued (it may be incomplete: open it from the message).",
            type_="rating-link-invalid",
        ) from None
    except ForeignLink:
        raise Problem(
            403,
            "Rating link for another complaint",
            "This rating link belongs to another complaint than the one in the address.",
            type_="rating-link-foreign",
        ) from None
    except (ExpiredLink, InvitationExpired) as exc:
        raise Problem(
            410,
            "Rating link expired",
            "The time to rate this answer is over.",
            type_="rating-link-expired",
            expired_at=exc.expired_at.isoformat(),
        ) from None
    except AlreadyRated as exc:
        raise Problem(
            409,
            "Already rated",
            "This answer has been rated with this link already; a rating link is used once.",
            type_="rating-link-used",
            rated_at=exc.rated_at.isoformat(),
        ) from None
    except UnknownInvitation:
        raise Problem(
            404, "Not found", "No invitation to rate matches this link.", type_="not-found"
        ) from None


async def _refusing(work: Awaitable[T]) -> T:
    with _link_problems():
        return await work


def _ratings(request: Request) -> Ratings:
    ratings: Ratings = request.app.state.ratings
    return ratings


@router.get("/summary", response_model=Summary)
async def summary(
    request: Request, month: Month, office: Annotated[OfficeCode | None, Query()] = None
) -> Summary:
    """Count and mean score per office for the month of the ratings (Seoul time); no comment."""
    queries: RatingQueries = request.app.state.queries
    figures = await queries.summary(month, office, deadline=_deadline(request))
    return Summary(month=month, offices=figures)


@router.get("/invitation", response_model=WhatIsRated)
async def what_is_rated(
    request: Request, token: Annotated[RatingToken, Query()], complaint: ForComplaint = None
) -> WhatIsRated:
    """What the link's token rates, while it may still be used (the rating page asks first)."""
    deadline = _deadline(request)
    invitation = await _refusing(_ratings(request).invitation(token, complaint, deadline=deadline))
    return WhatIsRated(
        receipt_no=invitation.receipt_no,
        office=invitation.office,
        office_name=await _office_name(request, invitation, deadline),
        answered_by=invitation.answered_by,
        answered_at=invitation.answered_at,
        expires_at=invitation.expires_at,
    )


@router.post("", response_model=RatingOut, status_code=201)
async def rate(request: Request, body: RatingIn, complaint: ForComplaint = None) -> RatingOut:
    """Rate the answer 1–5, once per link."""
    invitation = await _refusing(
        _ratings(request).rate(body.token, complaint, body.score, body.comment, deadline=_deadline(request))
    )
    assert invitation.score is not None and invitation.rated_at is not None
    return RatingOut(
        receipt_no=invitation.receipt_no,
        score=invitation.score,
        rated_at=invitation.rated_at,
        review_requested=invitation.score in LOW_SCORES,
    )


async def _office_name(request: Request, invitation: Invitation, deadline: float) -> str | None:
    if invitation.office is None:
        return None
    queries: RatingQueries = request.app.state.queries
    return await queries.office_name(invitation.office, deadline=deadline)
