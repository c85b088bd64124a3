"""Intake's service layer: take in a submission from any channel, exactly once.

Every channel ends in the same command (`ReceiveComplaint`) and the same event. Every
submission has an idempotency key within a scope (`Idempotency`): the channel's own
message id (a provider's message id, an SNS post id, a call id, an integrator's CloudEvents
source + id), a client's `Idempotency-Key` (scoped per client, so two integrators using the
same key never collide), or one intake makes up. The complaint id derives from scope and
key, so a redelivery or a retry can never record the complaint twice.

A submission that cannot be recorded within its deadline (`deadline_s`, database
unreachable or too slow) fails with `NotRecorded` or, when the connection failed while
committing, `OutcomeUnknown`; both carry the key to retry with.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationInfo, field_validator
from pydantic import Field as PydanticField

from eungdapso_intake.application import IntakeApplication
from eungdapso_intake.domainmodel import Complaint, subject_field
from eungdapso_intake.receipts import ReceiptBook
from eungdapso_platform.clock import Clock, SystemClock
from eungdapso_platform.domain import DomainError, acting_as
from eungdapso_platform.errors import is_transient
from eungdapso_platform.eventstore import CommitOutcomeUnknown, IntegrityError, derived_id, within
from eungdapso_platform.groupcommit import GroupCommit
from eungdapso_platform.logging import get_logger
from eungdapso_platform.outbox import OutboxRelay
from eungdapso_schemas.codes import Channel, Disclosure, Field, Kind, Language, ReplyMedium
from eungdapso_schemas.events import (
    MAX_ATTACHMENTS,
    AttachmentRef,
    ChannelRef,
    Citizen,
    FirstContactResolution,
    Place,
    ReplyAddress,
    Sha256,
    StaffRef,
)
from eungdapso_schemas.subjects import SubjectCode

log = get_logger("eungdapso.intake")


ComplaintBody = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class ComplaintContent(BaseModel):
    """What a complaint says, whoever registers it. Codes as in DOMAIN.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: ComplaintBody
    kind: Kind
    field: Field | None = None
    language: Language = Language.KO
    place: Place | None = None
    #: Publish the text and the answer (redacted)? Private unless the citizen chooses so.
    disclosure: Disclosure = Disclosure.PRIVATE
    #: What it is about (민원 유형), when the citizen or the desk chose it from the list;
    #: it implies its field (`field` may be left out, and may not say another).
    subject: SubjectCode | None = None

    @field_validator("subject")
    @classmethod
    def _within_its_field(cls, subject: str | None, info: ValidationInfo) -> str | None:
        if subject is not None:
            try:
                subject_field(subject, info.data.get("field"))
            except DomainError as exc:
                raise ValueError(str(exc)) from None
        return subject


class ComplaintSubmission(ComplaintContent):
    """What a citizen submits on the web form or the app (the native API)."""

    contact: Citizen | None = None
    #: What was uploaded first (POST /api/v1/attachments), by the sha256 it answered.
    attachments: Annotated[tuple[Sha256, ...], PydanticField(max_length=MAX_ATTACHMENTS)] = ()


class ReceiveComplaint(ComplaintContent):
    """The one intake command every channel ends in (민원 접수)."""

    channel: Channel
    citizen: Citizen | None = None
    channel_ref: ChannelRef | None = None
    registered_by: StaffRef | None = None
    attachments: Annotated[tuple[AttachmentRef, ...], PydanticField(max_length=MAX_ATTACHMENTS)] = ()
    reply_to: ReplyAddress | None = None
    first_contact: FirstContactResolution | None = None
    interpreted: bool = False

    @classmethod
    def from_web(
        cls,
        submission: ComplaintSubmission,
        channel: Channel = Channel.WEB,
        attachments: tuple[AttachmentRef, ...] = (),
    ) -> ReceiveComplaint:
        """`attachments`: the submission's, resolved (`Attachments.resolve`)."""
        return cls(
            **submission.model_dump(exclude={"contact", "attachments"}),
            channel=channel,
            attachments=attachments,
            citizen=submission.contact,
            reply_to=reply_address_of(submission.contact),
        )


def reply_address_of(contact: Citizen | None) -> ReplyAddress | None:
    """A web or app citizen who left an address asked to be answered there: e-mail first
    (no length limit), else their mobile number by SMS."""
    if contact is None:
        return None
    if contact.email:
        return ReplyAddress(medium=ReplyMedium.EMAIL, address=contact.email, consent=True)
    if contact.phone:
        return ReplyAddress(medium=ReplyMedium.SMS, address=contact.phone, consent=True)
    return None


@dataclass(frozen=True)
class Idempotency:
    """Which earlier submission a new one may be a repeat of.

    `scope` keeps keys of different senders apart; `on_reuse` says what a repeat with a
    different body means: for a client's `Idempotency-Key` a misuse (refused); for a
    channel's message id a redelivery (the first record stands, as platforms resend)."""

    scope: str
    key: str | None
    on_reuse: Literal["refuse", "replay"] = "refuse"

    @classmethod
    def client_key(cls, key: str | None, client: str | None = None) -> Idempotency:
        """A client's `Idempotency-Key`; anonymous web submissions share the `web` scope."""
        return cls(scope=f"client:{client}" if client else "web", key=key)

    @classmethod
    def channel_message(cls, channel: Channel, sender: str, message_id: str) -> Idempotency:
        """A message id of a channel's sender (an SMS gateway, an SNS platform, a desk)."""
        return cls(scope=f"{channel.value}:{sender}", key=message_id, on_reuse="replay")

    def complaint_id(self, key: str) -> uuid.UUID:
        """The id of the complaint submitted with `key` in this scope (recorded or not)."""
        return derived_id(f"submission:{self.scope}", key)


@dataclass(frozen=True)
class SubmissionResult:
    complaint_id: uuid.UUID
    receipt_no: str
    replayed: bool


class IdempotencyKeyReused(Exception):
    """The same Idempotency-Key came with a different request body."""


class SubmissionFailed(Exception):
    """The submission could not be recorded in time (database unreachable or too slow)."""

    def __init__(self, idempotency_key: str, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        #: Retrying the same body with this key is always safe.
        self.idempotency_key = idempotency_key


class NotRecorded(SubmissionFailed):
    """Nothing was recorded, and nothing will be."""


class OutcomeUnknown(SubmissionFailed):
    """The connection failed while the complaint was being committed: it may be recorded."""


def new_idempotency_key() -> str:
    """The key intake makes up for a submission that came without one."""
    return f"intake-{uuid.uuid4()}"


def fingerprint(command: ReceiveComplaint) -> str:
    canonical = json.dumps(command.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ComplaintIntake:
    def __init__(
        self,
        app: IntakeApplication,
        receipts: ReceiptBook,
        relay: OutboxRelay | None,
        clock: Clock | None = None,
        *,
        deadline_s: float = 5.0,
    ) -> None:
        self.app = app
        self.clock: Clock = clock or SystemClock()
        self.receipts = receipts
        self.relay = relay
        #: How long a submission may wait on the database before it fails.
        self.deadline_s = deadline_s
        self.commits = GroupCommit(app.save)

    async def submit(
        self, command: ReceiveComplaint, idempotency: Idempotency, *, deadline: float | None = None
    ) -> SubmissionResult:
        """`deadline` (`time.monotonic()`): the request's, when checks before the submission
        (credentials, rate limits) already spent part of it; by default `deadline_s` from now."""
        deadline = deadline if deadline is not None else time.monotonic() + self.deadline_s
        # Without a key, one made up here: the answer of a failed attempt gives it, so that
        # the client's retry cannot record the complaint twice.
        key = idempotency.key if idempotency.key is not None else new_idempotency_key()
        try:
            return await self._submit(
                command, idempotency, key, check_replay=idempotency.key is not None, deadline=deadline
            )
        except CommitOutcomeUnknown as exc:
            log.warning("submission_outcome_unknown", idempotency_key=key, error=str(exc))
            raise OutcomeUnknown(key, exc) from exc
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("submission_not_recorded", idempotency_key=key, error=f"{type(exc).__name__}: {exc}")
            raise NotRecorded(key, exc) from exc

    async def _submit(
        self,
        command: ReceiveComplaint,
        idempotency: Idempotency,
        key: str,
        *,
        check_replay: bool,
        deadline: float,
    ) -> SubmissionResult:
        # The fingerprint tells a retry (same body) from a misuse of the key (another body).
        request_print = fingerprint(command)
        complaint_id = idempotency.complaint_id(key)
        if check_replay:
            existing = await asyncio.to_thread(within, deadline, self.app.complaint, complaint_id)
            if existing is not None:
                return self._replay(existing, request_print, idempotency)

        received_at = self.clock.now()
        receipt_no = await self.receipts.next_number(received_at, deadline=deadline)
        channel = command.channel
        actor = command.registered_by or f"citizen via {channel.value}"
        with acting_as(actor):
            complaint = Complaint.receive(
                id=complaint_id,
                receipt_no=receipt_no,
                received_at=received_at,
                channel=channel,
                kind=command.kind,
                field=command.field,
                subject=command.subject,
                language=command.language,
                text=command.text,
                place=command.place,
                citizen=command.citizen,
                request_fingerprint=request_print,
                channel_ref=command.channel_ref,
                registered_by=command.registered_by,
                disclosure=command.disclosure,
                attachments=command.attachments,
                reply_to=command.reply_to,
                first_contact=command.first_contact,
                interpreted=command.interpreted,
            )
        try:
            await self.commits.save(complaint, deadline=deadline)
        except IntegrityError:
            # A concurrent request with the same Idempotency-Key won the race.
            existing = await asyncio.to_thread(within, deadline, self.app.complaint, complaint_id)
            if existing is None:
                raise
            return self._replay(existing, request_print, idempotency)
        if self.relay is not None:
            self.relay.wake()
        log.info(
            "complaint_received", complaint_id=str(complaint_id), receipt_no=receipt_no, channel=channel.value
        )
        return SubmissionResult(complaint_id, receipt_no, replayed=False)

    @staticmethod
    def _replay(existing: Complaint, request_print: str, idempotency: Idempotency) -> SubmissionResult:
        if idempotency.on_reuse == "refuse" and existing.request_fingerprint != request_print:
            raise IdempotencyKeyReused(existing.receipt_no)
        return SubmissionResult(existing.id, existing.receipt_no, replayed=True)
