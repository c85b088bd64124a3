"""The router's event-sourced application: decide, record, say what to publish."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol

from eungdapso_platform.eventstore import LedgerEntry, derived_id, integration_event
from eungdapso_router.domainmodel import Routing
from eungdapso_router.rules import choose_office
from eungdapso_schemas.codes import Field, Kind
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import ComplaintAssignedV1, Office

SOURCE = "/eungdapso/router"


class RouterApplication(Application[UUID]):
    name = "Router"

    def assign(
        self,
        *,
        complaint_id: UUID,
        receipt_no: str,
        kind: Kind,
        field: Field | None,
        meta: dict[str, str],
    ) -> Routing:
        """Decide which office handles the complaint. The caller saves the aggregate
        (with the ledger entries of the messages that caused it, see `record`)."""
        office, rule = choose_office(kind, field)
        return Routing(
            id=routing_id(complaint_id),
            complaint_id=complaint_id,
            receipt_no=receipt_no,
            office_code=office.code,
            office_name=office.name,
            office_level=office.level.value,
            rule=rule,
            assigned_at=datetime.now(UTC),
            meta=meta,
        )

    def record(self, routings: list[Routing], ledger_entries: list[LedgerEntry]) -> None:
        """Save decisions and the ledger entries of their causes in one transaction."""
        self.save(*routings, ledger_entries=ledger_entries)

    def find(self, complaint_id: UUID) -> Routing | None:
        try:
            return self.repository.get(routing_id(complaint_id))
        except AggregateNotFoundError:
            return None


def routing_id(complaint_id: UUID) -> UUID:
    return derived_id("routing", str(complaint_id))


def to_integration_event(domain_event: DomainEventProtocol[Any]) -> Envelope[Any] | None:
    if not isinstance(domain_event, Routing.Assigned):
        return None
    e: Any = domain_event
    payload = ComplaintAssignedV1(
        complaint_id=e.complaint_id,
        receipt_no=e.receipt_no,
        assigned_at=e.assigned_at,
        office=Office(code=e.office_code, name=e.office_name, level=e.office_level),
        rule=e.rule,
    )
    return integration_event(e, payload, source=SOURCE, subject=e.complaint_id)
