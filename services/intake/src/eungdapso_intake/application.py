"""Intake's event-sourced application: records complaints and says what to publish."""

from __future__ import annotations

from uuid import UUID

from eungdapso_intake.domainmodel import Complaint
from eungdapso_platform.domain import EventSourcedApplication
from eungdapso_platform.outbox import Outbox
from eungdapso_schemas.events import ComplaintReceivedV2

SOURCE = "/eungdapso/intake"


class IntakeApplication(EventSourcedApplication):
    name = "Intake"

    def receive(self, complaint: Complaint) -> Complaint:
        """Record a complaint in its own transaction. The HTTP path saves through group
        commit instead (many requests, one transaction)."""
        self.save(complaint)
        return complaint

    def complaint(self, complaint_id: UUID) -> Complaint | None:
        found = self.find(complaint_id)
        return found if isinstance(found, Complaint) else None


def received_v2(e: Complaint.Received) -> ComplaintReceivedV2:
    return ComplaintReceivedV2(
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
        channel_ref=e.channel_ref,
        registered_by=e.registered_by,
        disclosure=e.disclosure,
        attachments=tuple(e.attachments),
        reply_to=e.reply_to,
        first_contact=e.first_contact,
        interpreted=e.interpreted,
        subject=e.subject,
    )


#: What other services learn of intake's events (the outbox translation).
OUTBOX = Outbox(SOURCE)
OUTBOX.translate(Complaint.Received, received_v2)
