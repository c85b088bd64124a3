"""Desks that register complaints on the citizen's behalf: the 120 Dasan call centre's
agents (phone), the Open Civil Affairs Office's counters (visit, 열린민원실), the fax and the
mail rooms.

Every desk is a client with its own API key and scope (`clients.py`); its name and the
staff member's id become `registered_by`. The desk's own reference (a call id, a visit
ticket, a fax id, a mail registry number) is the channel reference and the idempotency
key: sending the same registration again answers the first receipt (200,
`Idempotent-Replayed: true`) and records nothing new.

Visit, fax and mail share one handler: the differences are one row each in `DESKS`.
"""

# No `from __future__ import annotations`: each registration endpoint's dependency is built
# per desk in a closure, which FastAPI can only see in an evaluated annotation.
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    ConfigDict,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic import Field as PydanticField
from starlette.datastructures import UploadFile

from eungdapso_intake.api import ReceiptOut, receipt_out
from eungdapso_intake.attachments import AttachmentRefused, Attachments
from eungdapso_intake.channels.delivery import parse_json, redeliver_later, request_body
from eungdapso_intake.clients import Client, Scope, require_client
from eungdapso_intake.ratelimit import RateLimits
from eungdapso_intake.services import (
    ComplaintBody,
    ComplaintContent,
    ComplaintIntake,
    Idempotency,
    ReceiveComplaint,
    SubmissionFailed,
)
from eungdapso_platform.problems import Problem
from eungdapso_schemas.codes import Channel, Disclosure, Kind, Language, ReplyMedium
from eungdapso_schemas.codes import Field as AdminField
from eungdapso_schemas.events import (
    MAX_ATTACHMENTS,
    AttachmentRef,
    Citizen,
    FirstContactResolution,
    Place,
    ReplyAddress,
    Sha256,
)

router = APIRouter(tags=["desks"])

#: A desk's own reference: call id, visit ticket, fax id, mail registry number.
DeskReference = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,128}$")]
#: A staff member's id (agent, counter officer, clerk): with the desk's client name (≤ 64)
#: and the counter it fits in `registered_by` (≤ 100).
StaffId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._\-]{1,24}$")]
Answer = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
PostalAddress = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The same registration again: the first receipt (`Idempotent-Replayed: true`)"},
    401: {"description": "No API key, or an unknown or revoked one (RFC 9457 problem)"},
    403: {"description": "The key is not this desk's (another scope) (RFC 9457 problem)"},
    422: {"description": "Invalid field, named in `errors` (RFC 9457 problem)"},
    503: {"description": "Not recorded, or outcome unknown: send the same call or registration again"},
}


def _phone_number(value: str | None) -> str | None:
    # The same rule as a citizen's number anywhere else.
    return None if value is None else Citizen(phone=value).phone


# -- 120 Dasan call centre ---------------------------------------------------------------


class CallRecord(BaseModel):
    """A call to 120 as the agent records it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    call_id: DeskReference
    agent_id: StaffId
    #: None when the caller withheld the number.
    caller_number: str | None = None
    #: Korean, or one of 120+9's languages (en, zh, ja, vi, mn).
    language: Language = Language.KO
    #: The call went through an interpreter (120+9, sign language).
    interpreted: bool = False
    #: What the caller said, as the agent summed it up.
    summary: ComplaintBody
    #: Most calls to 120 are questions.
    kind: Kind = Kind.INQUIRY
    field: AdminField | None = None
    place: Place | None = None
    #: The caller agreed to be called back on this number.
    callback_consent: bool = False
    disclosure: Disclosure = Disclosure.PRIVATE
    #: The agent answered on the call from the counselling database (1차 상담 종결).
    resolved_at_first_contact: bool = False
    #: The answer given, when (and only when) the call was resolved at first contact.
    answer: Annotated[Answer | None, PydanticField(validate_default=True)] = None

    @field_validator("caller_number")
    @classmethod
    def _a_phone_number(cls, value: str | None) -> str | None:
        try:
            return _phone_number(value)
        except ValidationError:
            raise ValueError("not a phone number") from None

    @field_validator("answer")
    @classmethod
    def _answer_when_resolved(cls, answer: str | None, info: ValidationInfo) -> str | None:
        resolved = info.data.get("resolved_at_first_contact", False)
        if resolved and answer is None:
            raise ValueError("a call resolved at first contact records the answer given")
        if not resolved and answer is not None:
            raise ValueError("an answer is recorded only when resolved_at_first_contact is true")
        return answer

    def command(self, desk: Client, intake: ComplaintIntake) -> ReceiveComplaint:
        agent = f"{desk.name}/{self.agent_id}"
        caller = self.caller_number
        return ReceiveComplaint(
            channel=Channel.PHONE,
            text=self.summary,
            kind=self.kind,
            field=self.field,
            language=self.language,
            place=self.place,
            disclosure=self.disclosure,
            citizen=Citizen(phone=caller) if caller else None,
            channel_ref=f"call:{self.call_id}",
            registered_by=agent,
            reply_to=(
                ReplyAddress(medium=ReplyMedium.PHONE, address=caller, consent=self.callback_consent)
                if caller
                else None
            ),
            first_contact=(
                FirstContactResolution(agent=agent, answer=self.answer, answered_at=intake.clock.now())
                if self.answer is not None
                else None
            ),
            interpreted=self.interpreted,
        )


@router.post(
    "/api/v1/channels/phone/calls",
    status_code=201,
    response_model=ReceiptOut,
    summary="Record a call to the 120 Dasan call centre (agent desk)",
    responses=_RESPONSES,
)
async def record_call(
    call: CallRecord,
    request: Request,
    response: Response,
    desk: Annotated[Client, Depends(require_client(Scope.PHONE))],
) -> ReceiptOut | Response:
    intake: ComplaintIntake = request.app.state.intake
    # Call ids are the call centre's, unique across its desks.
    idempotency = Idempotency.channel_message(Channel.PHONE, "120", call.call_id)
    return await _record(request, response, call.command(desk, intake), idempotency)


# -- Visit, fax and mail -----------------------------------------------------------------


class CitizenAtDesk(Citizen):
    """The citizen as the desk took their details down (personal data)."""

    postal_address: PostalAddress | None = None
    #: How the citizen chose to be answered (`post`, `sms`, `email`); none: the receipt
    #: number only.
    reply_by: Annotated[ReplyMedium | None, PydanticField(validate_default=True)] = None

    @field_validator("reply_by")
    @classmethod
    def _address_for_the_reply(cls, medium: ReplyMedium | None, info: ValidationInfo) -> ReplyMedium | None:
        if medium is None:
            return None
        needed = _REPLY_ADDRESS.get(medium)
        if needed is None:
            raise ValueError(f"a desk takes replies by {', '.join(m.value for m in _REPLY_ADDRESS)}")
        if not info.data.get(needed):
            raise ValueError(f"a reply by {medium.value} needs the citizen's {needed}")
        return medium

    def contact(self) -> Citizen:
        return Citizen(name=self.name, phone=self.phone, email=self.email)

    def reply_to(self) -> ReplyAddress | None:
        if self.reply_by is None:
            return None
        address = getattr(self, _REPLY_ADDRESS[self.reply_by])
        # The citizen chose it: consent to be answered there.
        return ReplyAddress(medium=self.reply_by, address=address, consent=True)


_REPLY_ADDRESS = {ReplyMedium.POST: "postal_address", ReplyMedium.SMS: "phone", ReplyMedium.EMAIL: "email"}


class DeskRegistration(ComplaintContent):
    """A complaint a desk registers on the citizen's behalf: as JSON, with attachments
    uploaded first (`POST /api/v1/attachments`) named by their sha256; or as
    multipart/form-data: this JSON in the part `registration`, the scanned documents in
    parts `scan` (one or more)."""

    #: The desk's reference: the visit ticket, the fax id, the mail registry number.
    reference: DeskReference
    staff_id: StaffId
    citizen: CitizenAtDesk | None = None
    attachments: Annotated[tuple[Sha256, ...], PydanticField(max_length=MAX_ATTACHMENTS)] = ()

    def staff(self) -> str:
        return self.staff_id


class VisitRegistration(DeskRegistration):
    #: The counter (창구) the citizen came to.
    counter: Annotated[int, PydanticField(ge=1, le=99)]

    def staff(self) -> str:
        return f"counter {self.counter}/{self.staff_id}"


@dataclass(frozen=True)
class Desk:
    channel: Channel
    scope: Scope
    form: type[DeskRegistration]
    #: What the reference is, in the channel reference (`ticket:A-0042`).
    reference: str
    title: str


DESKS = (
    Desk(Channel.VISIT, Scope.VISIT, VisitRegistration, "ticket", "in person at a counter (열린민원실)"),
    Desk(Channel.FAX, Scope.FAX, DeskRegistration, "fax", "by fax"),
    Desk(Channel.MAIL, Scope.MAIL, DeskRegistration, "registry", "by post"),
)


def _registration_endpoint(desk: Desk) -> Callable[..., Awaitable[ReceiptOut | Response]]:
    async def register(
        request: Request,
        response: Response,
        client: Annotated[Client, Depends(require_client(desk.scope))],
    ) -> ReceiptOut | Response:
        registration, scans = await _read(request, desk.form)
        attachments = await _attachments(
            request, registration.attachments, scans, f"{desk.channel}:{client.name}"
        )
        citizen = registration.citizen
        command = ReceiveComplaint(
            **{name: getattr(registration, name) for name in ComplaintContent.model_fields},
            channel=desk.channel,
            citizen=citizen.contact() if citizen else None,
            channel_ref=f"{desk.reference}:{registration.reference}",
            registered_by=f"{client.name}/{registration.staff()}",
            attachments=attachments,
            reply_to=citizen.reply_to() if citizen else None,
        )
        # A desk numbers its own references: two offices' tickets never collide.
        idempotency = Idempotency.channel_message(desk.channel, client.name, registration.reference)
        return await _record(request, response, command, idempotency, scanned=bool(scans))

    return register


def _request_body(form: type[DeskRegistration]) -> dict[str, Any]:
    schema = request_body(form)["requestBody"]["content"]["application/json"]["schema"]
    multipart = {
        "type": "object",
        "required": ["registration"],
        "properties": {
            "registration": {**schema, "description": "The registration (JSON)"},
            "scan": {"type": "array", "items": {"type": "string", "format": "binary"}},
        },
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schema},
                "multipart/form-data": {
                    "schema": multipart,
                    "encoding": {"registration": {"contentType": "application/json"}},
                },
            },
        }
    }


for _desk in DESKS:
    router.add_api_route(
        f"/api/v1/channels/{_desk.channel.value}/registrations",
        _registration_endpoint(_desk),
        methods=["POST"],
        status_code=201,
        response_model=ReceiptOut,
        summary=f"Register a complaint made {_desk.title}",
        responses={**_RESPONSES, 415: {"description": "Neither JSON nor multipart/form-data"}},
        openapi_extra=_request_body(_desk.form),
    )


async def _read(request: Request, form: type[DeskRegistration]) -> tuple[DeskRegistration, list[UploadFile]]:
    """The registration and its scans, from JSON or multipart/form-data."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    scans: list[UploadFile] = []
    if content_type == "multipart/form-data":
        # The scans, and the registration when it comes as a file part.
        parts = await request.form(max_files=MAX_ATTACHMENTS + 1, max_fields=1)
        raw = parts.get("registration")
        if isinstance(raw, UploadFile):  # sent as a file part (`curl -F registration=@r.json`)
            raw = (await raw.read()).decode("utf-8", "replace")
        if not isinstance(raw, str):
            raise RequestValidationError(
                [
                    {
                        "loc": ("body", "registration"),
                        "msg": "the registration (JSON) is missing",
                        "type": "missing",
                    }
                ]
            )
        scans = [part for part in parts.getlist("scan") if isinstance(part, UploadFile)]
        body = raw.encode()
    elif content_type == "application/json":
        body = await request.body()
    else:
        raise Problem(
            415,
            "Unsupported media type",
            "Send the registration as application/json, or as multipart/form-data with the scans.",
            type_="unsupported-media-type",
        )
    return parse_json(form, body), scans


async def _attachments(
    request: Request, sha256s: tuple[str, ...], scans: list[UploadFile], uploaded_by: str
) -> tuple[AttachmentRef, ...]:
    """The scans uploaded with the registration, stored, and the attachments it names."""
    if not sha256s and not scans:
        return ()
    attachments: Attachments = request.app.state.attachments
    stored = [
        await attachments.store(await scan.read(), declared_type=scan.content_type, uploaded_by=uploaded_by)
        for scan in scans
    ]
    named = await attachments.resolve(sha256s)
    everything = tuple({ref.sha256: ref for ref in (*named, *stored)}.values())
    if len(everything) > MAX_ATTACHMENTS:
        raise AttachmentRefused(
            422,
            "Too many attachments",
            f"A complaint may have at most {MAX_ATTACHMENTS} attachments; this one has {len(everything)}.",
            type_="too-many-attachments",
        )
    return everything


async def _record(
    request: Request,
    response: Response,
    command: ReceiveComplaint,
    idempotency: Idempotency,
    *,
    scanned: bool = False,
) -> ReceiptOut | Response:
    intake: ComplaintIntake = request.app.state.intake
    limits: RateLimits = request.app.state.rate_limits
    # The request's deadline, shared with the key check; scans stored meanwhile (a blob store
    # write, up to megabytes) do not eat into the submission's.
    deadline = None if scanned else limits.deadline(request)
    try:
        result = await intake.submit(command, idempotency, deadline=deadline)
    except SubmissionFailed as exc:
        return redeliver_later(request, exc)
    structlog.contextvars.bind_contextvars(complaint_id=str(result.complaint_id))
    if result.replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/complaints/{result.receipt_no}"
    return receipt_out(request, result)
