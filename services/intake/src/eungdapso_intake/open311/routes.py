"""Open311 GeoReport v2 at /open311/v2/ (http://wiki.open311.org/GeoReport_v2), with
mySociety's `servicerequestupdates` extension. Every path takes `.json` or `.xml`.

Reads are public (no `api_key`, as the spec says) and come from the privacy-safe read
model (`readmodel.py`); `POST requests` needs a client's `api_key` (scope `open311`) and
ends in intake's one command, like every channel.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AwareDatetime

from eungdapso_intake.api import IdempotencyKeyHeader, unavailable
from eungdapso_intake.attachments import AttachmentRefused, Attachments
from eungdapso_intake.clients import Scope, admit
from eungdapso_intake.open311 import catalogue, submission
from eungdapso_intake.open311.errors import Invalid, as_open311
from eungdapso_intake.open311.readmodel import Open311Queries
from eungdapso_intake.open311.render import Format, answer
from eungdapso_intake.services import (
    ComplaintIntake,
    Idempotency,
    IdempotencyKeyReused,
    OutcomeUnknown,
    SubmissionFailed,
)
from eungdapso_platform.eventstore import within
from eungdapso_platform.logging import get_logger
from eungdapso_platform.problems import Problem
from eungdapso_schemas.events import RECEIPT_NO_PATTERN, AttachmentRef

log = get_logger("eungdapso.intake.open311")
router = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"])

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
#: The spec's default window for `GET requests`, and the longest one may ask for.
WINDOW = timedelta(days=90)
#: How many service_request_ids one `GET requests` may name.
MAX_IDS = 100
_RECEIPT_NO = re.compile(RECEIPT_NO_PATTERN)


@dataclass(frozen=True)
class Open311:
    """What the Open311 routes work with (`app.state.open311`)."""

    intake: ComplaintIntake
    queries: Open311Queries
    jurisdiction_id: str
    #: The most requests one answer holds (discovery's `max_requests`).
    max_requests: int


def get_open311(request: Request) -> Open311:
    open311: Open311 = request.app.state.open311
    return open311


async def answer_format(fmt: Annotated[str, Path(description="`json` or `xml`")]) -> Format:
    try:
        return Format(fmt)
    except ValueError:
        raise Problem(404, "Unknown format", f"No '.{fmt[:20]}' format here: use .xml or .json.") from None


def check_jurisdiction(open311: Open311, jurisdiction_id: str | None) -> None:
    if jurisdiction_id and jurisdiction_id.strip() != open311.jurisdiction_id:
        raise Problem(
            404,
            "Jurisdiction not found",
            f"jurisdiction_id {jurisdiction_id[:100]!r} not found: this endpoint serves "
            f"{open311.jurisdiction_id!r} only (and may be called without it).",
        )


async def jurisdiction(
    open311: Annotated[Open311, Depends(get_open311)],
    jurisdiction_id: Annotated[str | None, Query(max_length=200)] = None,
) -> Open311:
    check_jurisdiction(open311, jurisdiction_id)
    return open311


Fmt = Annotated[Format, Depends(answer_format)]
Jurisdiction = Annotated[Open311, Depends(jurisdiction)]


@router.get("/discovery.{fmt}", summary="Service discovery")
async def discovery(fmt: Fmt, open311: Jurisdiction, request: Request) -> Response:
    url = str(request.base_url).rstrip("/") + router.prefix
    return answer(
        fmt,
        "discovery",
        {
            "changeset": catalogue.CHANGESET,
            "contact": "응답소 (Eung-Dap-So), Seoul Metropolitan Government: 120 Dasan call center, "
            "https://eungdapso.seoul.go.kr",
            "key_service": "API keys for POST requests: ask the Eung-Dap-So operators (scope open311).",
            "max_requests": open311.max_requests,
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": url,
                    "changeset": catalogue.CHANGESET,
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        },
    )


@router.get("/services.{fmt}", summary="Service list (our taxonomy)")
async def services(fmt: Fmt, _: Jurisdiction) -> Response:
    return answer(fmt, "services", [s.as_open311() for s in catalogue.SERVICES])


@router.get("/services/{service_code}.{fmt}", summary="Service definition (attributes)")
async def service_definition(fmt: Fmt, _: Jurisdiction, service_code: str) -> Response:
    found = catalogue.service(service_code)
    if found is None:
        raise Problem(
            404,
            "Service not found",
            f"service_code {service_code[:100]!r} not found: GET services lists them.",
        )
    return answer(fmt, "service_definition", found.definition())


def _listed(value: str | None, name: str, allowed: frozenset[str] | None = None) -> list[str]:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    unknown = sorted({v for v in items if allowed is not None and v not in allowed})
    if unknown:
        raise Invalid([(name, f"unknown: {', '.join(u[:40] for u in unknown[:10])}")])
    return items


def window(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """The spec's date range: the most recent 90 days unless told, never more than 90 days."""
    end = end or (start + WINDOW if start is not None else now)
    start = start or end - WINDOW
    if start > end:
        raise Invalid([("start_date", "must not be after end_date")])
    if end - start > WINDOW:
        raise Invalid([("end_date", f"at most {WINDOW.days} days after start_date")])
    return start, end


@router.get("/requests.{fmt}", summary="Service requests (public, privacy-safe)")
async def requests(
    fmt: Fmt,
    open311: Jurisdiction,
    service_request_id: Annotated[str | None, Query(max_length=MAX_IDS * 16)] = None,
    service_code: Annotated[str | None, Query(max_length=2000)] = None,
    status: Annotated[str | None, Query(max_length=40)] = None,
    start_date: Annotated[
        AwareDatetime | None, Query(description="W3C datetime, e.g. 2026-11-01T00:00:00+09:00")
    ] = None,
    end_date: Annotated[AwareDatetime | None, Query(description="W3C datetime")] = None,
    page_size: Annotated[
        int | None, Query(ge=1, description="At most max_requests (discovery), 1000 by default")
    ] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    ids = _listed(service_request_id, "service_request_id")
    if ids:
        # "This overrides all other arguments" (the spec).
        bad = [i for i in ids if not _RECEIPT_NO.match(i)]
        if bad or len(ids) > MAX_IDS:
            raise Invalid(
                [("service_request_id", f"at most {MAX_IDS} receipt numbers (YYYY-NNNNNNN), comma separated")]
            )
        return answer(fmt, "service_requests", await open311.queries.by_ids(ids))
    limit = min(page_size or open311.max_requests, open311.max_requests)
    start, end = window(start_date, end_date, open311.intake.clock.now())
    rows = await open311.queries.search(
        start=start,
        end=end,
        service_codes=_listed(service_code, "service_code", catalogue.KNOWN_CODES),
        statuses=_listed(status, "status", frozenset({"open", "closed"})),
        limit=limit,
        offset=(page - 1) * limit,
    )
    return answer(fmt, "service_requests", rows)


@router.get("/requests/{service_request_id}.{fmt}", summary="One service request")
async def request_by_id(fmt: Fmt, open311: Jurisdiction, service_request_id: str) -> Response:
    rows = await open311.queries.by_ids([service_request_id]) if _RECEIPT_NO.match(service_request_id) else []
    if not rows:
        raise Problem(
            404,
            "Request not found",
            f"No request {service_request_id[:40]!r}: a new request appears within seconds of its receipt.",
        )
    return answer(fmt, "service_requests", rows)


@router.get("/tokens/{token}.{fmt}", summary="service_request_id of a token")
async def token(fmt: Fmt, open311: Jurisdiction, token: str) -> Response:
    try:
        complaint_id = uuid.UUID(token)
    except ValueError:
        complaint_id = None
    deadline = time.monotonic() + open311.intake.deadline_s
    complaint = (
        await asyncio.to_thread(within, deadline, open311.intake.app.complaint, complaint_id)
        if complaint_id is not None
        else None
    )
    if complaint is None:
        raise Problem(
            404,
            "Token not found",
            f"No request was recorded for token {token[:40]!r}: send the request again.",
        )
    return answer(fmt, "service_requests", [{"service_request_id": complaint.receipt_no, "token": token}])


@router.get("/servicerequestupdates.{fmt}", summary="Updates of service requests (mySociety extension)")
async def updates(
    fmt: Fmt,
    open311: Jurisdiction,
    start_date: Annotated[AwareDatetime | None, Query(description="W3C datetime")] = None,
    end_date: Annotated[AwareDatetime | None, Query(description="W3C datetime")] = None,
) -> Response:
    start, end = window(start_date, end_date, open311.intake.clock.now())
    rows = await open311.queries.updates(start=start, end=end, limit=open311.max_requests)
    return answer(fmt, "service_requests_updates", rows)


def _form_parameters() -> dict[str, object]:
    """The form of `POST requests` as the OpenAPI document shows it (the route reads the
    form itself: `attribute[CODE]` names are open-ended)."""
    text = {"type": "string"}
    properties: dict[str, object] = {
        name: text
        for name in (
            "api_key", "jurisdiction_id", "service_code", "address_string", "address_id", "description",
            "email", "first_name", "last_name", "phone", "device_id", "account_id",
        )
    }  # fmt: skip
    properties |= {"lat": {"type": "number"}, "long": {"type": "number"}}
    properties["media_url"] = {"type": "array", "items": {"type": "string", "format": "uri"}}
    for attribute in (catalogue.LANGUAGE, catalogue.DISCLOSURE):
        properties[f"attribute[{attribute.code}]"] = {
            "type": "string",
            "enum": [k for k, _ in attribute.values],
        }
    properties["attribute[kind]"] = {"type": "string", "enum": [k.value for k in catalogue.SUBMITTABLE_KINDS]}
    schema = {"type": "object", "required": ["api_key", "service_code"], "properties": properties}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": schema}},
        }
    }


@router.post(
    "/requests.{fmt}",
    summary="Submit a service request (form-encoded; api_key required)",
    openapi_extra=_form_parameters(),
    responses={
        400: {"description": "Bad or missing parameter (Open311 errors)"},
        403: {"description": "Missing, invalid or revoked api_key (Open311 errors)"},
        404: {"description": "Unknown service_code or jurisdiction_id (Open311 errors)"},
        429: {"description": "Too many requests with this api_key; see Retry-After (Open311 errors)"},
        503: {"description": "Not recorded; send it again later (Open311 errors, Retry-After)"},
    },
)
async def post_request(
    fmt: Fmt,
    request: Request,
    open311: Annotated[Open311, Depends(get_open311)],
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    form = await request.form()
    # The spec sends `api_key` in the form; some clients put it in the query string.
    key = submission.value(form, "api_key") or request.query_params.get("api_key") or None
    client = await admit(request, key, Scope.OPEN311)
    check_jurisdiction(open311, submission.value(form, "jurisdiction_id"))
    parsed = submission.parse(form)
    attachments = await _fetch_media(request, parsed, uploaded_by=f"open311:{client.name}")
    command = parsed.command(client=client.name, attachments=attachments)
    idempotency = Idempotency.client_key(idempotency_key, client=client.name)
    try:
        # The database gets its whole deadline from here: fetching photos took some of the request's.
        result = await open311.intake.submit(command, idempotency)
    except IdempotencyKeyReused as exc:
        raise Problem(
            422,
            "Idempotency-Key reused",
            f"This Idempotency-Key was already used for a different request (receipt {exc.args[0]}); "
            "use a new key for a new request.",
        ) from exc
    except OutcomeUnknown as exc:
        # It may be recorded. A token lets the client find out (GET tokens/<token>): the
        # receipt number if it was, 404 if not, then sending again cannot record it twice.
        token = str(idempotency.complaint_id(exc.idempotency_key))
        notice = (
            "접수 여부를 확인하는 중입니다. tokens/<token>으로 접수번호를 조회하세요; "
            "404이면 다시 보내 주세요. "
            "(The outcome is not known yet: GET tokens/<token> gives the service_request_id if it was "
            "recorded; a 404 means it was not, and it is safe to send it again.)"
        )
        return answer(fmt, "service_requests", [{"token": token, "service_notice": notice}])
    except SubmissionFailed as exc:
        return as_open311(request, unavailable(request, exc))
    structlog.contextvars.bind_contextvars(complaint_id=str(result.complaint_id))
    log.info("open311_request_received", receipt_no=result.receipt_no, replayed=result.replayed)
    notice = " ".join(
        [
            f"접수번호 {result.receipt_no}로 접수되었습니다. 담당 부서가 정해지면 알려 드립니다. "
            f"(Received as {result.receipt_no}; the responsible office follows once it is assigned.)",
            *parsed.notes,
        ]
    )
    response = answer(
        fmt, "service_requests", [{"service_request_id": result.receipt_no, "service_notice": notice}]
    )
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


async def _fetch_media(
    request: Request, parsed: submission.Open311Submission, *, uploaded_by: str
) -> tuple[AttachmentRef, ...]:
    """The photos at `media_url`, fetched and stored like uploads (location stripped). One
    that cannot be fetched or is refused does not stop the request: it is recorded without
    it, and `service_notice` says so."""
    store: Attachments = request.app.state.attachments
    refs: dict[str, AttachmentRef] = {}
    for url in parsed.media_urls:
        try:
            ref = await store.fetch(url, uploaded_by=uploaded_by)
        except AttachmentRefused as refused:  # unreachable, too large, not a photo... (logged there)
            parsed.notes.append(
                "사진을 가져오지 못해 사진 없이 접수했습니다 "
                f"(media_url could not be fetched: {refused.detail} The request was recorded without it)."
            )
            continue
        refs.setdefault(ref.sha256, ref)  # the same photo twice is attached once
    return tuple(refs.values())
