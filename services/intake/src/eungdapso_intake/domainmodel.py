"""The intake's aggregate: a complaint as it was received (민원 접수).

Personal data (`citizen`) is kept apart from the public part of the complaint, so
every projection can leave it out by construction.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event


class Complaint(Aggregate):
    if TYPE_CHECKING:  # created by the @event decorator below
        Received: ClassVar[type[Aggregate.Created]]

    @event("Received")
    def __init__(
        self,
        id: UUID,
        receipt_no: str,
        received_at: datetime,
        channel: str,
        kind: str,
        confidential: bool,
        field: str | None,
        language: str,
        text: str,
        place: dict[str, Any] | None,
        citizen: dict[str, Any] | None,
        request_fingerprint: str | None,
        meta: dict[str, str],
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
