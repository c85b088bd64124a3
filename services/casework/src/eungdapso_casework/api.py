"""The inbox API (민원함): an office lists, reads and works its own cases with its office key.

Another office's case, a case reassigned away and a case that does not exist are answered
alike (404): a key never learns that a case it may not see exists. An action out of order is
refused with a 409 problem saying which rule; an incomplete one (a refusal without the
objection notice) with 422.

The citizen's contact: only the reply address, only when the citizen agreed to be contacted
on it, and only to the office that accepted the case, until the case is closed (or leaves it).

A case shows its deadline as the SLA service keeps it (due, extended, warned, breached, met),
the complaints linked to it as duplicates (answered with it), and the review requests after a
low rating of its answer; `/reviews` lists the office's review requests. A transfer names an
office of the organisation directory in force (the router's latest version).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict

from eungdapso_casework.directory import DirectoryQueries
from eungdapso_casework.domainmodel import Case, CaseRefused, CaseStatus, ComplaintFile
from eungdapso_casework.inbox import InboxQueries, Sort
from eungdapso_casework.offices import OfficeKeys, request_deadline
from eungdapso_casework.reviews import ReviewQueries, note_row
from eungdapso_casework.services import Acting, Action, CaseNotFound, Casework
from eungdapso_platform import credentials
from eungdapso_platform.problems import Problem
from eungdapso_schemas.codes import Channel, Disclosure, Kind, Language, ReplyMedium, Resolution
from eungdapso_schemas.events import AnswerText, AttachmentRef, OfficeCode, Place, Reason, StaffRef

router = APIRouter(prefix="/api/v1/inbox", tags=["inbox (민원함)"])

CONTACT_RULE = (
    "The citizen's reply address is shown only where the citizen agreed to be contacted on it, "
    "and only to the office that accepted the case, until the case is closed or leaves it; never "
    "the citizen's name or other details."
)


async def acting_office(
    request: Request, key: Annotated[str | None, Depends(credentials.presented_key)]
) -> Acting:
    """A dependency: the office whose key the request presents (401 without a valid one)."""
    keys: OfficeKeys = request.app.state.office_keys
    client = await credentials.admit(keys, key, None, deadline=request_deadline(request))
    if len(client.scopes) != 1:
        # Every key is made for one office; one that names none acts for none.
        raise Problem(403, "Not permitted", "This API key acts for no single office.", type_="not-permitted")
    [office] = client.scopes
    return Acting(office=office, key=client.name)


Office = Annotated[Acting, Depends(acting_office)]


# -- what is answered -------------------------------------------------------------------
class OfficeRef(BaseModel):
    code: str
    name: str
    level: str


class Classification(BaseModel):
    """What the router read in the complaint (or, before it said, what the receipt says)."""

    message_class: str | None
    field: str | None
    subject: str | None
    district: str | None
    confidential: bool


class LinkedComplaint(BaseModel):
    """A complaint linked to this case's as its duplicate (중복 민원): not a case of its own; it
    is answered (or transferred) with this one (`followed`, null until then)."""

    complaint_id: UUID
    receipt_no: str
    linked_at: datetime
    followed: str | None


class CaseSummary(BaseModel):
    case_id: UUID
    receipt_no: str
    number: int
    status: CaseStatus
    extension_requested: bool
    kind: str | None
    classification: Classification
    received_at: datetime | None
    assigned_at: datetime
    #: The due moment as the SLA service set it (after any extension or move); null until set.
    deadline: datetime | None
    #: Breached, or due and not met.
    overdue: bool
    extended: bool
    warned: bool
    breached: bool
    linked: list[LinkedComplaint]


class CaseList(BaseModel):
    office: str
    total: int
    limit: int
    offset: int
    cases: list[CaseSummary]


class Content(BaseModel):
    """The complaint as received: its text is personal by default, for the office's eyes only."""

    received_at: datetime
    channel: Channel
    kind: Kind
    language: Language
    text: str
    place: Place | None
    attachments: list[AttachmentRef]
    disclosure: Disclosure


class Contact(BaseModel):
    medium: ReplyMedium
    address: str


class Rejection(BaseModel):
    reason: str
    rejected_at: datetime | None


class Extension(BaseModel):
    reason: str
    requested_at: datetime


class Transfer(BaseModel):
    to_office: str
    reason: str
    transferred_at: datetime | None


class Answer(BaseModel):
    text: str
    resolution: Resolution
    objection: str | None
    answered_at: datetime


class Deadline(BaseModel):
    """The complaint's deadline (처리기한) as the SLA service keeps it."""

    due: datetime
    category: str | None
    basis: str | None
    overdue: bool
    extended_at: datetime | None
    previous_due: datetime | None
    extension_reason: str | None
    warned_at: datetime | None
    warned_stage: str | None
    breached_at: datetime | None
    met_at: datetime | None
    met_within: bool | None


class Review(BaseModel):
    """A review request after the citizen rated the office's answer 1–2. The comment is the
    citizen's words: personal, shown to this office only."""

    invitation_id: UUID
    complaint_id: UUID
    receipt_no: str
    case_id: UUID | None
    score: int
    comment: str | None
    rated_at: datetime
    #: What the office noted when it reviewed its handling; null until then.
    noted: ReviewNote | None = None


class ReviewNote(BaseModel):
    staff: str
    note: str
    noted_at: datetime


class ReviewList(BaseModel):
    office: str
    total: int
    limit: int
    offset: int
    reviews: list[Review]


class CaseDetail(BaseModel):
    case_id: UUID
    complaint_id: UUID
    receipt_no: str
    number: int
    office: OfficeRef
    status: CaseStatus
    #: Offices that refused this complaint before this case.
    rejections_before: int
    classification: Classification
    #: Null until intake's receipt reaches casework (an assignment may come first).
    complaint: Content | None
    contact: Contact | None
    contact_rule: str = CONTACT_RULE
    assigned_at: datetime
    accepted_at: datetime | None
    #: The due moment (null until the SLA service set it), and the deadline in full.
    deadline: datetime | None = None
    deadline_detail: Deadline | None = None
    linked: list[LinkedComplaint] = []
    reviews: list[Review] = []
    extension: Extension | None
    rejection: Rejection | None
    transfer: Transfer | None
    answer: Answer | None
    closed_at: datetime | None


def _classification(case: Case, file: ComplaintFile | None) -> Classification:
    received = file.complaint if file is not None else None
    district = case.district or (received.place.district if received and received.place else None)
    return Classification(
        message_class=case.message_class,
        field=case.field or (received.field if received else None),
        subject=case.subject or (received.subject if received else None),
        district=district,
        confidential=case.confidential
        or bool(received and (received.confidential or received.kind.confidential)),
    )


def contact_for(case: Case, file: ComplaintFile | None) -> Contact | None:
    """The rule of `CONTACT_RULE`."""
    reply = file.complaint.reply_to if file is not None and file.complaint is not None else None
    if reply is None or not reply.consent or not case.in_hand:
        return None
    return Contact(medium=reply.medium, address=reply.address)


def linked_to(file: ComplaintFile | None) -> list[LinkedComplaint]:
    """The complaints linked to the case's complaint (the links follow the complaint, whichever
    of its cases is shown)."""
    if file is None:
        return []
    followed = file.outcome.how if file.outcome is not None else None
    return [
        LinkedComplaint(
            complaint_id=link.complaint_id,
            receipt_no=link.receipt_no,
            linked_at=link.linked_at,
            followed=followed,
        )
        for link in sorted(file.links.values(), key=lambda link: link.linked_at)
    ]


def detail(
    case: Case,
    file: ComplaintFile | None,
    *,
    deadline: Deadline | None = None,
    reviews: list[Review] | None = None,
) -> CaseDetail:
    received = file.complaint if file is not None else None
    finished = case.finished_at
    return CaseDetail(
        case_id=case.id,
        complaint_id=case.complaint_id,
        receipt_no=case.receipt_no,
        number=case.number,
        office=OfficeRef(code=case.office.code, name=case.office.name, level=case.office.level.value),
        status=case.status,
        rejections_before=case.rejections_before,
        classification=_classification(case, file),
        complaint=Content(
            received_at=received.received_at,
            channel=received.channel,
            kind=received.kind,
            language=received.language,
            text=received.text,
            place=received.place,
            attachments=list(received.attachments),
            disclosure=received.disclosure,
        )
        if received is not None
        else None,
        contact=contact_for(case, file),
        assigned_at=case.assigned_at,
        accepted_at=case.accepted_at,
        deadline=deadline.due if deadline is not None else None,
        deadline_detail=deadline,
        linked=linked_to(file),
        reviews=reviews or [],
        extension=Extension(reason=case.extension, requested_at=case.extension_requested_at)
        if case.extension is not None and case.extension_requested_at is not None
        else None,
        rejection=Rejection(reason=case.rejection, rejected_at=finished)
        if case.rejection is not None
        else None,
        transfer=Transfer(
            to_office=case.transferred_to, reason=case.transfer_reason or "", transferred_at=finished
        )
        if case.transferred_to is not None
        else None,
        answer=Answer(
            text=case.answer_text,
            resolution=case.resolution,
            objection=case.objection,
            answered_at=case.answered_at,
        )
        if case.answer_text is not None and case.resolution is not None and case.answered_at is not None
        else None,
        closed_at=finished if case.status is CaseStatus.CLOSED else None,
    )


def _summary(row: dict[str, Any]) -> CaseSummary:
    return CaseSummary(
        case_id=row["case_id"],
        receipt_no=row["receipt_no"],
        number=row["number"],
        status=CaseStatus(row["status"]),
        extension_requested=row["extension_requested"],
        kind=row["kind"],
        classification=Classification(
            message_class=row["message_class"],
            field=row["field"],
            subject=row["subject"],
            district=row["district"],
            confidential=row["confidential"],
        ),
        received_at=row["received_at"],
        assigned_at=row["assigned_at"],
        deadline=row["due"],
        overdue=bool(row["overdue"]),
        extended=row["extended_at"] is not None,
        warned=row["warned_at"] is not None,
        breached=row["breached_at"] is not None,
        linked=[LinkedComplaint.model_validate(link) for link in row["linked"]],
    )


# -- what an office asks -------------------------------------------------------------------
class StaffAct(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The staff member acting (an employee id, kept with the event; not a name).
    staff: StaffRef


class Reasoned(StaffAct):
    reason: Reason


class TransferRequest(Reasoned):
    #: An outside agency (`ext.…`) or an office casework knows.
    to_office: OfficeCode


class ReviewNoteRequest(StaffAct):
    #: What the review found (and what the office will do differently).
    note: Reason


class AnswerRequest(StaffAct):
    text: AnswerText
    resolution: Resolution
    #: How to object (이의신청): required unless the answer is `resolved`.
    objection: Reason | None = None


def _casework(request: Request) -> Casework:
    casework: Casework = request.app.state.casework
    return casework


def _not_found(case_id: UUID) -> Problem:
    return Problem(
        404, "Case not found", f"No case {case_id} in your office's inbox.", type_="case-not-found"
    )


async def _shown(request: Request, acting: Acting, case: Case, file: ComplaintFile | None) -> CaseDetail:
    """The case with its deadline and the office's review requests about it."""
    deadline = request_deadline(request)
    queries: InboxQueries = request.app.state.inbox
    reviews: ReviewQueries = request.app.state.reviews
    row = await queries.deadline_of(case.complaint_id, deadline=deadline)
    shown = None
    if row is not None:
        now = _casework(request).clock.now()
        overdue = row["breached_at"] is not None or (row["met_at"] is None and row["due"] < now)
        shown = Deadline.model_validate({**row, "overdue": overdue})
    asked = await reviews.of_complaint(acting.office, case.complaint_id, deadline=deadline)
    return detail(case, file, deadline=shown, reviews=[Review.model_validate(r) for r in asked])


async def _act(request: Request, acting: Acting, case_id: UUID, action: Action) -> CaseDetail:
    try:
        case, file = await _casework(request).act(acting, case_id, action, deadline=request_deadline(request))
    except CaseNotFound:
        raise _not_found(case_id) from None
    except CaseRefused as refused:
        raise Problem(refused.status, refused.title, refused.detail, type_=refused.type) from None
    return await _shown(request, acting, case, file)


# -- the routes --------------------------------------------------------------------------
@router.get("/cases", response_model=CaseList, summary="The office's cases (민원함)")
async def list_cases(
    request: Request,
    acting: Office,
    status: Annotated[list[CaseStatus] | None, Query(description="only these statuses (repeat)")] = None,
    sort: Annotated[Sort, Query(description="most urgent deadline first, or longest waiting")] = "deadline",
    overdue: Annotated[bool | None, Query(description="only overdue cases (true) or none of them")] = None,
    due_before: Annotated[
        datetime | None, Query(description="only cases due before this moment (ISO 8601 with offset)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> CaseList:
    if due_before is not None and due_before.tzinfo is None:
        raise Problem(422, "Time zone required", "`due_before` must carry its offset, e.g. +09:00.")
    queries: InboxQueries = request.app.state.inbox
    rows, total = await queries.cases(
        acting.office,
        now=_casework(request).clock.now(),
        statuses=tuple(s.value for s in status or ()),
        sort=sort,
        overdue=overdue,
        due_before=due_before,
        limit=limit,
        offset=offset,
        deadline=request_deadline(request),
    )
    return CaseList(
        office=acting.office, total=total, limit=limit, offset=offset, cases=[_summary(r) for r in rows]
    )


@router.get("/cases/{case_id}", response_model=CaseDetail, summary="One case, as the office may see it")
async def read_case(request: Request, acting: Office, case_id: UUID) -> CaseDetail:
    try:
        case, file = await _casework(request).read(acting, case_id, deadline=request_deadline(request))
    except CaseNotFound:
        raise _not_found(case_id) from None
    return await _shown(request, acting, case, file)


@router.post("/cases/{case_id}/accept", response_model=CaseDetail, summary="Accept the case (접수)")
async def accept(request: Request, acting: Office, case_id: UUID, body: StaffAct) -> CaseDetail:
    return await _act(request, acting, case_id, lambda case, at: case.accept(staff=body.staff, at=at))


@router.post(
    "/cases/{case_id}/reject", response_model=CaseDetail, summary="Reject it as not the office's (반려)"
)
async def reject(request: Request, acting: Office, case_id: UUID, body: Reasoned) -> CaseDetail:
    return await _act(
        request, acting, case_id, lambda case, at: case.reject(staff=body.staff, reason=body.reason, at=at)
    )


@router.post("/cases/{case_id}/extension", response_model=CaseDetail, summary="Ask once for more time (연장)")
async def request_extension(request: Request, acting: Office, case_id: UUID, body: Reasoned) -> CaseDetail:
    return await _act(
        request,
        acting,
        case_id,
        lambda case, at: case.request_extension(staff=body.staff, reason=body.reason, at=at),
    )


@router.post(
    "/cases/{case_id}/transfer", response_model=CaseDetail, summary="Transfer to the agency in charge (이송)"
)
async def transfer(request: Request, acting: Office, case_id: UUID, body: TransferRequest) -> CaseDetail:
    deadline = request_deadline(request)
    try:
        await _casework(request).read(acting, case_id, deadline=deadline)
    except CaseNotFound:
        raise _not_found(case_id) from None
    directory: DirectoryQueries = request.app.state.directory
    target = body.to_office
    version = await directory.in_force(deadline=deadline)
    if version is None:
        # Casework has not yet heard of any version (the router publishes one when it starts).
        raise Problem(
            503,
            "Directory not yet known",
            "Casework has not yet received the organisation directory to check the transfer against: "
            "retry in a moment.",
            type_="directory-unavailable",
            headers={"Retry-After": "5"},
        )
    if await directory.office(target, deadline=deadline) is None:
        raise Problem(
            422,
            "Unknown office",
            f"{target} is not an office of the organisation directory in force (version {version}).",
            type_="unknown-office",
        )
    return await _act(
        request,
        acting,
        case_id,
        lambda case, at: case.transfer(staff=body.staff, to_office=target, reason=body.reason, at=at),
    )


@router.post("/cases/{case_id}/answer", response_model=CaseDetail, summary="Answer the citizen (답변)")
async def answer(request: Request, acting: Office, case_id: UUID, body: AnswerRequest) -> CaseDetail:
    return await _act(
        request,
        acting,
        case_id,
        lambda case, at: case.answer(
            staff=body.staff, text=body.text, resolution=body.resolution, objection=body.objection, at=at
        ),
    )


@router.post("/cases/{case_id}/close", response_model=CaseDetail, summary="Close the answered case (종결)")
async def close(request: Request, acting: Office, case_id: UUID, body: StaffAct) -> CaseDetail:
    return await _act(request, acting, case_id, lambda case, at: case.close(staff=body.staff, at=at))


@router.get("/reviews", response_model=ReviewList, summary="Review requests after low ratings (재검토)")
async def list_reviews(
    request: Request,
    acting: Office,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> ReviewList:
    queries: ReviewQueries = request.app.state.reviews
    rows, total = await queries.for_office(
        acting.office, limit=limit, offset=offset, deadline=request_deadline(request)
    )
    return ReviewList(
        office=acting.office,
        total=total,
        limit=limit,
        offset=offset,
        reviews=[Review.model_validate(r) for r in rows],
    )


@router.post(
    "/reviews/{invitation_id}/noted", response_model=Review, summary="Note the office's review (재검토 결과)"
)
async def note_review(
    request: Request, acting: Office, invitation_id: UUID, body: ReviewNoteRequest
) -> Review:
    deadline = request_deadline(request)
    queries: ReviewQueries = request.app.state.reviews
    found = await queries.one(acting.office, invitation_id, deadline=deadline)
    # Another office's review request is answered as one that does not exist (as is one whose
    # case has left the office).
    missing = Problem(
        404,
        "Review not found",
        f"No review request {invitation_id} for your office.",
        type_="review-not-found",
    )
    if found is None or found["case_id"] is None:
        raise missing
    try:
        await _casework(request).act(
            acting,
            found["case_id"],
            lambda case, at: case.note_review(
                invitation_id=invitation_id, staff=body.staff, note=body.note, at=at
            ),
            deadline=deadline,
            rows=lambda case: [note_row(case, invitation_id)],
        )
    except CaseNotFound:
        raise missing from None
    except CaseRefused as refused:
        raise Problem(refused.status, refused.title, refused.detail, type_=refused.type) from None
    return Review.model_validate(await queries.one(acting.office, invitation_id, deadline=deadline))
