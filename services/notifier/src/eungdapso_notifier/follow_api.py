"""`GET /api/v1/follow/{receipt_no}`: the citizen's own page, for whoever presents the
follow key handed out at filing (`Authorization: Follow <key>`). A wrong key and an
unknown receipt number get the same 404: the API tells nobody which receipts exist."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from pydantic import BaseModel

from eungdapso_notifier.citizen_page import CitizenPages
from eungdapso_platform.follow import KEY_PATTERN, FollowKeys
from eungdapso_platform.problems import Problem
from eungdapso_schemas.events import RECEIPT_NO_PATTERN

router = APIRouter(prefix="/api/v1/follow", tags=["citizen page (나의 민원)"])
_SCHEME = re.compile(r"^Follow (?P<key>\S+)$")


class OfficeOut(BaseModel):
    code: str
    name: str | None


class AnswerOut(BaseModel):
    text: str
    resolution: str | None
    #: How to object (이의신청), when the answer did not fully resolve the complaint.
    objection: str | None
    #: `office`, `instant` (the desk's standard answer) or `duplicate` (the answer to the
    #: complaint this one duplicates).
    answered_by: str | None
    answered_at: datetime | None


class NoticeOut(BaseModel):
    stage: str
    medium: str
    sent_at: datetime


class CitizenPage(BaseModel):
    receipt_no: str
    status: str
    language: str | None
    text: str | None
    received_at: datetime | None
    office: OfficeOut | None
    deadline: datetime | None
    transferred_to: str | None
    answer: AnswerOut | None
    closed_at: datetime | None
    #: Where to rate the answer (single use, until it expires), once answered.
    rating_url: str | None
    notices: list[NoticeOut]


def _not_found() -> Problem:
    return Problem(
        404,
        "Not found",
        "No complaint with this receipt number opens with this key. Use the link you were given "
        "when you filed it; the public status needs only the receipt number (/api/v1/complaints/…).",
        type_="follow-not-found",
    )


@router.get("/{receipt_no}", response_model=CitizenPage, summary="The citizen's own complaint (private link)")
async def citizen_page(
    request: Request,
    receipt_no: Annotated[str, Path(pattern=RECEIPT_NO_PATTERN, max_length=20)],
    authorization: Annotated[str | None, Header(max_length=200)] = None,
) -> CitizenPage:
    keys: FollowKeys | None = request.app.state.follow_keys
    if keys is None:
        raise Problem(
            503, "Not configured", "Follow links are not configured here.", type_="follow-not-configured"
        )
    match = _SCHEME.match(authorization or "")
    if match is None or not re.fullmatch(KEY_PATTERN, match["key"]):
        raise Problem(
            401,
            "Follow key required",
            "Send the key of your follow link as `Authorization: Follow <key>`.",
            type_="follow-key-required",
            headers={"WWW-Authenticate": "Follow"},
        )
    pages: CitizenPages = request.app.state.citizen_pages
    row: dict[str, Any] | None = await pages.by_receipt_no(receipt_no)
    if row is None or not keys.matches(row["complaint_id"], match["key"]):
        raise _not_found()
    notices = await pages.notices(row["complaint_id"])
    rating_url = None
    if row["rating_token"] and (
        row["rating_expires_at"] is None or row["rating_expires_at"] > datetime.now(UTC)
    ):
        rating_url = f"/rate#token={row['rating_token']}"
    return CitizenPage(
        receipt_no=row["receipt_no"],
        status=row["status"],
        language=row["language"],
        text=row["text"],
        received_at=row["received_at"],
        office=OfficeOut(code=row["office_code"], name=row["office_name"]) if row["office_code"] else None,
        deadline=row["deadline"],
        transferred_to=row["transferred_to"],
        answer=AnswerOut(
            text=row["answer_text"],
            resolution=row["resolution"],
            objection=row["objection"],
            answered_by=row["answered_by"],
            answered_at=row["answered_at"],
        )
        if row["answer_text"]
        else None,
        closed_at=row["closed_at"],
        rating_url=rating_url,
        notices=[NoticeOut(**n) for n in notices],
    )
