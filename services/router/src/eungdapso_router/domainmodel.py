"""The router's aggregate: how one complaint was routed (배정, later 이송/재배정)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from eungdapso_platform.domain import DomainError, RecordedAggregate
from eungdapso_platform.eventstore import derived_id
from eungdapso_schemas.events import Office


def routing_id(complaint_id: UUID) -> UUID:
    """One routing per complaint: its id is derived from the complaint's, so a complaint
    can never be assigned twice by accident."""
    return derived_id("routing", str(complaint_id))


class Routing(RecordedAggregate):
    class Assigned(RecordedAggregate.Created):
        complaint_id: UUID
        receipt_no: str
        office: Office
        rule: str
        assigned_at: datetime

    @classmethod
    def assign(
        cls, *, complaint_id: UUID, receipt_no: str, office: Office, rule: str, at: datetime
    ) -> Routing:
        """Assign a complaint to the office that handles it, saying by which rule."""
        if not rule.strip():
            raise DomainError("an assignment records the rule that made it")
        if at.tzinfo is None:
            raise DomainError("the moment of assignment must carry its time zone")
        return cls(
            id=routing_id(complaint_id),
            complaint_id=complaint_id,
            receipt_no=receipt_no,
            office=office,
            rule=rule,
            assigned_at=at,
        )

    @event(Assigned)
    def __init__(
        self,
        id: UUID,
        complaint_id: UUID,
        receipt_no: str,
        office: Office,
        rule: str,
        assigned_at: datetime,
    ) -> None:
        self.complaint_id = complaint_id
        self.receipt_no = receipt_no
        self.office = office
        self.rule = rule
        self.assigned_at = assigned_at
