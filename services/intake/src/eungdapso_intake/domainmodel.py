"""The intake's aggregate: a complaint as it was received (민원 접수).

Personal data (`citizen`) is kept apart from the public part of the complaint, so every
projection can leave it out by construction.
"""

from __future__ import annotations

import re
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from eungdapso_platform.domain import DomainError, RecordedAggregate
from eungdapso_schemas.codes import Channel, Kind, Language
from eungdapso_schemas.codes import Field as AdminField
from eungdapso_schemas.events import RECEIPT_NO_PATTERN, Citizen, Place

_RECEIPT_NO = re.compile(RECEIPT_NO_PATTERN)


class Complaint(RecordedAggregate):
    class Received(RecordedAggregate.Created):
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
    ) -> Complaint:
        """Take in a complaint. Confidential kinds are always confidential."""
        if not _RECEIPT_NO.match(receipt_no):
            raise DomainError(f"receipt number {receipt_no!r} is not of the form YYYY-NNNNNNN")
        if received_at.tzinfo is None:
            raise DomainError("the moment of receipt must carry its time zone")
        if not text.strip():
            raise DomainError("a complaint needs its text")
        return cls(
            id=id,
            receipt_no=receipt_no,
            received_at=received_at,
            channel=Channel(channel),
            kind=Kind(kind),
            confidential=Kind(kind).confidential,
            field=AdminField(field) if field is not None else None,
            language=Language(language),
            text=text,
            place=place,
            citizen=citizen,
            request_fingerprint=request_fingerprint,
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
