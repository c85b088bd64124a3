"""The router's event-sourced application and what it publishes."""

from __future__ import annotations

from uuid import UUID

from eungdapso_platform.domain import EventSourcedApplication
from eungdapso_platform.outbox import Outbox
from eungdapso_router.directory import DirectoryOffice
from eungdapso_router.domainmodel import Routing, routing_id
from eungdapso_schemas.events import ComplaintAssignedV1

SOURCE = "/eungdapso/router"


class RouterApplication(EventSourcedApplication):
    name = "Router"
    transcoded_types = (DirectoryOffice,)

    def routing(self, complaint_id: UUID) -> Routing | None:
        found = self.find(routing_id(complaint_id))
        return found if isinstance(found, Routing) else None


def assigned_v1(e: Routing.Assigned) -> ComplaintAssignedV1:
    return ComplaintAssignedV1(
        complaint_id=e.complaint_id,
        receipt_no=e.receipt_no,
        assigned_at=e.assigned_at,
        office=e.office,
        rule=e.rule,
    )


#: What other services learn of the router's events (the outbox translation).
OUTBOX = Outbox(SOURCE)
OUTBOX.translate(Routing.Assigned, assigned_v1)
