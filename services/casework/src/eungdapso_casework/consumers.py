"""Casework's entry points from Kafka: the `inbox` process records what casework learns of
complaints (intake's receipts) and of assignments (the router's), in whichever order they come:
an assignment may arrive before its receipt (two owners' streams are never ordered together).
The router's instant answers and duplicate links come after the complaint's assignment on the
same partition: they take its case out of the inbox."""

from __future__ import annotations

from uuid import UUID

from eungdapso_casework import inbox
from eungdapso_casework.domainmodel import FINISHED, Case, ComplaintFile, file_id
from eungdapso_platform.consumer import Unit
from eungdapso_platform.logging import get_logger
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import (
    ComplaintAnsweredInstantlyV1,
    ComplaintAssignedV1,
    ComplaintAssignedV2,
    ComplaintLinkedV1,
    ComplaintReceivedV1,
    ComplaintReceivedV2,
)

log = get_logger("eungdapso.casework")


def _file(unit: Unit, complaint_id: UUID, receipt_no: str) -> ComplaintFile:
    """The complaint's file as this batch has it, opened by whichever event comes first."""
    found = unit.get(ComplaintFile, file_id(complaint_id))
    if found is None:
        found = ComplaintFile.open(complaint_id, receipt_no)
        unit.add(found)
    return found


def on_received(unit: Unit, envelope: Envelope[ComplaintReceivedV1]) -> None:
    """Keep the complaint's content (text, attachments, reply address, citizen) for the office
    that will handle it; fill in the rows of cases opened before it arrived."""
    received = ComplaintReceivedV2.from_v1(envelope.data)
    file = _file(unit, received.complaint_id, received.receipt_no)
    if not file.learn(received):
        log.info("receipt_already_known")  # published again: nothing new
        return
    unit.add(file)
    if file.cases:
        unit.writes.append(inbox.received_rows(received))


def on_assigned(unit: Unit, envelope: Envelope[ComplaintAssignedV1]) -> None:
    """Open the case in the office's inbox. A reassignment (another office) withdraws the
    current case from its office and opens a new one; the same office again changes nothing."""
    assigned = envelope.data
    file = _file(unit, assigned.complaint_id, assigned.receipt_no)
    current = unit.get(Case, file.current_case) if file.current_case is not None else None
    if (
        current is not None
        and current.office.code == assigned.office.code
        and not current.withdrawn
        and current.status not in FINISHED
    ):
        log.info("already_in_inbox", office=assigned.office.code)
        return
    classified = assigned if isinstance(assigned, ComplaintAssignedV2) else None
    case = Case.open(
        complaint_id=assigned.complaint_id,
        receipt_no=assigned.receipt_no,
        number=file.cases + 1,
        office=assigned.office,
        assigned_at=assigned.assigned_at,
        rejections_before=current.rejections_so_far if current is not None else 0,
        message_class=classified.message_class if classified else None,
        field=classified.field if classified else None,
        subject=classified.subject if classified else None,
        district=classified.district if classified else None,
        confidential=classified.confidential if classified else False,
    )
    if current is not None and current.withdraw(to_office=assigned.office.code, at=assigned.assigned_at):
        unit.writes.append(inbox.case_row(current))
        log.info("case_withdrawn", case_id=str(current.id), office=current.office.code)
    file.note(case)
    unit.add(file)
    unit.add(case)
    unit.writes.append(inbox.office_known(assigned.office))
    unit.writes.append(inbox.case_row(case, file))
    log.info("case_opened", case_id=str(case.id), office=case.office.code, number=case.number)


def _current(unit: Unit, file: ComplaintFile) -> Case | None:
    return unit.get(Case, file.current_case) if file.current_case is not None else None


def on_answered_instantly(unit: Unit, envelope: Envelope[ComplaintAnsweredInstantlyV1]) -> None:
    """The desk answered the complaint at once: its case (assigned for the record) leaves the
    office's inbox."""
    answered = envelope.data
    file = _file(unit, answered.complaint_id, answered.receipt_no)
    case = _current(unit, file)
    if case is None or not case.answered_instantly(answer_id=answered.answer_id, at=answered.answered_at):
        log.info("instant_answer_leaves_no_case", has_case=case is not None)
        return
    unit.writes.append(inbox.case_row(case, file))
    log.info("case_answered_instantly", case_id=str(case.id), office=case.office.code)


def on_linked(unit: Unit, envelope: Envelope[ComplaintLinkedV1]) -> None:
    """The complaint duplicates an open one: its case leaves the inbox, and it is shown under
    the original's case. If the original was answered (or transferred) already, it follows it
    at once."""
    link = envelope.data
    file = _file(unit, link.complaint_id, link.receipt_no)
    original = _file(unit, link.duplicate_of, link.duplicate_of_receipt_no)
    if file.duplicate_of is not None or link.duplicate_of == link.complaint_id:
        log.info("already_linked")  # published again (or nonsense): nothing new
        return
    case = _current(unit, file)
    if case is not None and not case.linked(duplicate_of=link.duplicate_of, at=link.linked_at):
        # The office answered it (or let it go) before the link came: its own record stands.
        log.info("link_too_late", case_id=str(case.id), status=case.status.value)
        return
    file.link_to(original, case, link.linked_at)
    unit.add(original)
    if case is not None:
        unit.writes.append(inbox.case_row(case, file))
    if file.follow(original):
        log.info("duplicate_followed_at_once", how=file.followed, duplicate_of=str(original.complaint_id))
    unit.writes.append(inbox.link_row(file))
    log.info("complaint_linked", duplicate_of=str(original.complaint_id))
