"""Intake's event-sourced application: records complaints and says what to publish."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol

from eungdapso_intake.domainmodel import Complaint
from eungdapso_platform.eventstore import integration_event
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import ComplaintReceivedV1

SOURCE = "/eungdapso/intake"


class IntakeApplication(Application[UUID]):
    name = "Intake"

    def receive(self, **details: Any) -> Complaint:
        """Record a complaint in its own transaction (details as `Complaint` takes them).
        The HTTP path builds the `Complaint` itself and saves it through group commit."""
        complaint = Complaint(**details)
        self.save(complaint)
        return complaint

    def find(self, complaint_id: UUID) -> Complaint | None:
        try:
            return self.repository.get(complaint_id)
        except AggregateNotFoundError:
            return None


def to_integration_event(domain_event: DomainEventProtocol[Any]) -> Envelope[Any] | None:
    """Outbox translation: Complaint.Received → ComplaintReceived v1."""
    if not isinstance(domain_event, Complaint.Received):
        return None
    e: Any = domain_event
    payload = ComplaintReceivedV1(
        complaint_id=e.originator_id,
        receipt_no=e.receipt_no,
        received_at=e.received_at,
        channel=e.channel,
        kind=e.kind,
        confidential=e.confidential,
        field=e.field,
        language=e.language,
        text=e.text,
        place=e.place,
        citizen=e.citizen,
    )
    return integration_event(e, payload, source=SOURCE, subject=e.originator_id)
