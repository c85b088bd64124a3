"""Intake's event-sourced application: records complaints and says what to publish."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol

from eungdapso_intake.domainmodel import Complaint
from eungdapso_platform.eventstore import event_id
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import ComplaintReceivedV1

SOURCE = "/eungdapso/intake"


class IntakeApplication(Application[UUID]):
    name = "Intake"

    def receive(self, **details: Any) -> Complaint:
        """Record a complaint now (one transaction); the HTTP path uses group commit."""
        complaint = self.register(**details)
        self.save(complaint)
        return complaint

    def register(
        self,
        *,
        complaint_id: UUID,
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
    ) -> Complaint:
        """A new complaint, not yet saved."""
        complaint = Complaint(
            id=complaint_id,
            receipt_no=receipt_no,
            received_at=received_at,
            channel=channel,
            kind=kind,
            confidential=confidential,
            field=field,
            language=language,
            text=text,
            place=place,
            citizen=citizen,
            request_fingerprint=request_fingerprint,
            meta=meta,
        )
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
    meta: dict[str, str] = e.meta
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
    return Envelope(
        id=event_id(e.originator_id, e.originator_version),
        source=SOURCE,
        time=e.timestamp,
        subject=str(e.originator_id),
        data=payload,
        correlation_id=meta.get("correlation_id"),
        causation_id=meta.get("causation_id"),
        traceparent=meta.get("traceparent"),
        tracestate=meta.get("tracestate"),
    )
