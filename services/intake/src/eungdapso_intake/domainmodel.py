"""The intake's aggregate: a complaint as it was received (민원 접수).

Personal data (`citizen`, `reply_to`, `channel_ref`) is kept apart from the public part of
the complaint, so every projection can leave it out by construction.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from eungdapso_platform.domain import DomainError, RecordedAggregate
from eungdapso_schemas import subjects
from eungdapso_schemas.codes import Channel, Disclosure, Kind, Language
from eungdapso_schemas.codes import Field as AdminField
from eungdapso_schemas.events import (
    MAX_ATTACHMENTS,
    RECEIPT_NO_PATTERN,
    AttachmentRef,
    Citizen,
    FirstContactResolution,
    Place,
    ReplyAddress,
)

_RECEIPT_NO = re.compile(RECEIPT_NO_PATTERN)


def subject_field(subject: str, field: AdminField | None = None) -> AdminField:
    """The field of a complaint about `subject` (a code of the taxonomy): the subject's. A
    field said as well must be the same."""
    try:
        expected = subjects.subject(subject).field
    except LookupError as exc:
        raise DomainError(str(exc)) from None
    if field is not None and AdminField(field) is not expected:
        raise DomainError(
            f"subject {subject!r} is in field {expected.value!r}, not {AdminField(field).value!r}"
        )
    return expected


class Complaint(RecordedAggregate):
    class Received(RecordedAggregate.Created):
        # v2: how the complaint came in, what it is about and how to answer it (every
        # channel of issue 6).
        class_version = 2

        receipt_no: str
        received_at: datetime
        channel: Channel
        kind: Kind
        confidential: bool
        field: AdminField | None
        language: Language
        text: str
        place: Place | None
        citizen: Citizen | None
        #: Tells a retry of a keyed request from a different request with the same key.
        request_fingerprint: str | None
        channel_ref: str | None
        registered_by: str | None
        disclosure: Disclosure
        attachments: tuple[AttachmentRef, ...]
        reply_to: ReplyAddress | None
        first_contact: FirstContactResolution | None
        interpreted: bool
        #: The subject's code (민원 유형) the citizen or the desk chose, if any.
        subject: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Complaints recorded before v2 came through the web form, private."""
            state.update(
                channel_ref=None,
                registered_by=None,
                disclosure=Disclosure.PRIVATE,
                attachments=(),
                reply_to=None,
                first_contact=None,
                interpreted=False,
                subject=None,
            )

    @classmethod
    def receive(
        cls,
        *,
        id: UUID,
        receipt_no: str,
        received_at: datetime,
        channel: Channel,
        kind: Kind,
        text: str,
        field: AdminField | None = None,
        language: Language = Language.KO,
        place: Place | None = None,
        citizen: Citizen | None = None,
        request_fingerprint: str | None = None,
        channel_ref: str | None = None,
        registered_by: str | None = None,
        disclosure: Disclosure = Disclosure.PRIVATE,
        attachments: tuple[AttachmentRef, ...] = (),
        reply_to: ReplyAddress | None = None,
        first_contact: FirstContactResolution | None = None,
        interpreted: bool = False,
        subject: str | None = None,
    ) -> Complaint:
        """Take in a complaint. Confidential kinds are always confidential, and never public.
        A chosen subject says the field (one the taxonomy knows, and no other)."""
        if not _RECEIPT_NO.match(receipt_no):
            raise DomainError(f"receipt number {receipt_no!r} is not of the form YYYY-NNNNNNN")
        if received_at.tzinfo is None:
            raise DomainError("the moment of receipt must carry its time zone")
        if not text.strip():
            raise DomainError("a complaint needs its text")
        if len(attachments) > MAX_ATTACHMENTS:
            raise DomainError(f"a complaint carries at most {MAX_ATTACHMENTS} attachments")
        if len({a.sha256 for a in attachments}) != len(attachments):
            raise DomainError("the same attachment is attached twice")
        if first_contact is not None and Channel(channel) is not Channel.PHONE:
            raise DomainError("only a call to the 120 center is resolved at first contact")
        if subject is not None:
            field = subject_field(subject, field)
        confidential = Kind(kind).confidential
        return cls(
            id=id,
            receipt_no=receipt_no,
            received_at=received_at,
            channel=Channel(channel),
            kind=Kind(kind),
            confidential=confidential,
            field=AdminField(field) if field is not None else None,
            language=Language(language),
            text=text,
            place=place,
            citizen=citizen,
            request_fingerprint=request_fingerprint,
            channel_ref=channel_ref,
            registered_by=registered_by,
            # A confidential report is never published, whatever was chosen.
            disclosure=Disclosure.PRIVATE if confidential else Disclosure(disclosure),
            attachments=tuple(attachments),
            reply_to=reply_to,
            first_contact=first_contact,
            interpreted=interpreted,
            subject=subject,
        )

    @event(Received)
    def __init__(
        self,
        id: UUID,
        receipt_no: str,
        received_at: datetime,
        channel: Channel,
        kind: Kind,
        confidential: bool,
        field: AdminField | None,
        language: Language,
        text: str,
        place: Place | None,
        citizen: Citizen | None,
        request_fingerprint: str | None,
        channel_ref: str | None,
        registered_by: str | None,
        disclosure: Disclosure,
        attachments: tuple[AttachmentRef, ...],
        reply_to: ReplyAddress | None,
        first_contact: FirstContactResolution | None,
        interpreted: bool,
        subject: str | None,
    ) -> None:
        self.receipt_no = receipt_no
        self.received_at = received_at
        self.channel = channel
        self.kind = kind
        self.confidential = confidential
        self.field = field
        self.language = language
        self.text = text
        self.place = place
        self.citizen = citizen
        self.request_fingerprint = request_fingerprint
        self.channel_ref = channel_ref
        self.registered_by = registered_by
        self.disclosure = disclosure
        self.attachments = attachments
        self.reply_to = reply_to
        self.first_contact = first_contact
        self.interpreted = interpreted
        self.subject = subject

    @property
    def resolved_at_first_contact(self) -> bool:
        return self.first_contact is not None
