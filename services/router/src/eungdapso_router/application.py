"""The router's event-sourced application and what it publishes."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eungdapso_platform.domain import EventSourcedApplication
from eungdapso_platform.outbox import Outbox
from eungdapso_router.directory import DirectoryOffice
from eungdapso_router.domainmodel import DirectoryVersion, Reading, Routing, routing_id
from eungdapso_schemas.codes import OfficeLevel
from eungdapso_schemas.events import (
    ComplaintAnsweredInstantlyV1,
    ComplaintAssignedV1,
    ComplaintAssignedV2,
    ComplaintLinkedV1,
    DirectoryOfficeV1,
    DirectoryPublishedV1,
    Office,
    OfficeKind,
)

SOURCE = "/eungdapso/router"


class RouterApplication(EventSourcedApplication):
    name = "Router"
    transcoded_types = (DirectoryOffice, Reading)

    def routing(self, complaint_id: UUID) -> Routing | None:
        found = self.find(routing_id(complaint_id))
        return found if isinstance(found, Routing) else None


def assignment(
    *,
    complaint_id: UUID,
    receipt_no: str,
    at: datetime,
    office: Office,
    rule: str,
    reading: Reading | None,
    decided_by: str,
    reassignment: int,
) -> ComplaintAssignedV1:
    """An assignment as other services read it: v2 with what the router read, v1 for the
    assignments recorded before it read anything (history replays as it was published)."""
    v1 = ComplaintAssignedV1(
        complaint_id=complaint_id, receipt_no=receipt_no, assigned_at=at, office=office, rule=rule[:200]
    )
    if reading is None:
        return v1
    return ComplaintAssignedV2(
        **v1.model_dump(),
        **reading.model_dump(),
        decided_by=decided_by,
        reassignment=reassignment,
    )


def assigned(e: Routing.Assigned) -> ComplaintAssignedV1:
    return assignment(
        complaint_id=e.complaint_id,
        receipt_no=e.receipt_no,
        at=e.assigned_at,
        office=e.office,
        rule=e.rule,
        # Assignments recorded before contract 2.3 have neither.
        reading=getattr(e, "reading", None),
        decided_by=getattr(e, "decided_by", "router"),
        reassignment=0,
    )


def reassigned(e: Routing.Reassigned | Routing.Transferred) -> ComplaintAssignedV1:
    """A reassignment, and a transfer (이송: an assignment to the agency, level `external`)."""
    return assignment(
        complaint_id=e.complaint_id,
        receipt_no=e.receipt_no,
        at=e.at,
        office=e.office,
        rule=e.rule,
        reading=e.reading,
        decided_by=e.decided_by,
        reassignment=e.reassignment,
    )


def answered_instantly(e: Routing.AnsweredInstantly) -> ComplaintAnsweredInstantlyV1:
    return ComplaintAnsweredInstantlyV1(
        complaint_id=e.complaint_id,
        receipt_no=e.receipt_no,
        answered_at=e.at,
        answer_id=e.answer_id,
        answer=e.answer,
        confidence=e.confidence,
    )


def linked(e: Routing.LinkedAsDuplicate) -> ComplaintLinkedV1:
    return ComplaintLinkedV1(
        complaint_id=e.complaint_id,
        receipt_no=e.receipt_no,
        linked_at=e.at,
        duplicate_of=e.duplicate_of,
        duplicate_of_receipt_no=e.duplicate_of_receipt_no,
        similarity=e.similarity,
        distance_m=e.distance_m,
    )


def office_kind(office: DirectoryOffice) -> OfficeKind:
    if office.level is OfficeLevel.EXTERNAL:
        return "local_government" if office.local_government else "agency"
    return "office" if office.parent is None else "division"


def directory_published(e: DirectoryVersion.Published) -> DirectoryPublishedV1:
    """A directory version as other services read it (casework checks transfers against it):
    code, name, level and kind of each office; routing's roles and aliases stay the router's."""
    return DirectoryPublishedV1(
        version=e.version,
        edition=e.edition,
        content_hash=e.content_hash,
        published_at=e.timestamp,
        offices=tuple(
            DirectoryOfficeV1(code=o.code, name=o.ko, level=o.level, kind=office_kind(o)) for o in e.offices
        ),
    )


#: What other services learn of the router's events (the outbox translation).
OUTBOX = Outbox(SOURCE)
OUTBOX.translate(Routing.Assigned, assigned)
OUTBOX.translate(Routing.Reassigned, reassigned)
OUTBOX.translate(Routing.Transferred, reassigned)
OUTBOX.translate(Routing.AnsweredInstantly, answered_instantly)
OUTBOX.translate(Routing.LinkedAsDuplicate, linked)
OUTBOX.translate(DirectoryVersion.Published, directory_published)
