"""Casework's event-sourced application and what it publishes."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict
from uuid import UUID

from eungdapso_casework.domainmodel import Case, ComplaintFile, Outcome, file_id
from eungdapso_platform.domain import EventSourcedApplication
from eungdapso_platform.outbox import Outbox
from eungdapso_schemas.codes import Resolution
from eungdapso_schemas.events import (
    CaseAcceptedV1,
    CaseAnsweredV1,
    CaseClosedV1,
    CaseOpenedV1,
    CaseRejectedV1,
    CaseTransferredV1,
    CaseWithdrawnV1,
    ComplaintReceivedV2,
    DuplicateAnsweredV1,
    ExtensionRequestedV1,
)

SOURCE = "/eungdapso/casework"


class CaseworkApplication(EventSourcedApplication):
    name = "Casework"
    transcoded_types = (Resolution, ComplaintReceivedV2, Outcome)

    def case(self, case_id: UUID) -> Case | None:
        found = self.find(case_id)
        return found if isinstance(found, Case) else None

    def file(self, complaint_id: UUID) -> ComplaintFile | None:
        found = self.find(file_id(complaint_id))
        return found if isinstance(found, ComplaintFile) else None


# The recorded event's originator is the case (one aggregate per case): its `case_id`.
def opened_v1(e: Case.Opened) -> CaseOpenedV1:
    return CaseOpenedV1(
        complaint_id=e.complaint_id,
        receipt_no=e.receipt_no,
        case_id=e.originator_id,
        office=e.office.code,
        at=e.assigned_at,
        number=e.number,
        rejections_before=e.rejections_before,
        message_class=e.message_class,
        field=e.field,
        subject=e.subject,
        district=e.district,
        confidential=e.confidential,
    )


class _CaseFields(TypedDict):
    complaint_id: UUID
    receipt_no: str
    case_id: UUID
    office: str
    at: datetime


def _case(e: Case.Happened) -> _CaseFields:
    return {
        "complaint_id": e.complaint_id,
        "receipt_no": e.receipt_no,
        "case_id": e.originator_id,
        "office": e.office_code,
        "at": e.at,
    }


def withdrawn_v1(e: Case.Withdrawn) -> CaseWithdrawnV1:
    return CaseWithdrawnV1(**_case(e), to_office=e.to_office)


def answered_instantly_v1(e: Case.AnsweredInstantly) -> CaseWithdrawnV1:
    return CaseWithdrawnV1(**_case(e), to_office=e.to_office, because="answered_instantly")


def linked_v1(e: Case.Linked) -> CaseWithdrawnV1:
    return CaseWithdrawnV1(**_case(e), to_office=e.to_office, because="linked")


# A linked complaint's file records what it got from its original (the originator is the file).
def duplicate_answered_v1(e: ComplaintFile.AnsweredAsDuplicate) -> DuplicateAnsweredV1:
    return DuplicateAnsweredV1(
        complaint_id=e.complaint_id,
        receipt_no=e.receipt_no,
        case_id=e.case_id,
        office=e.office_code,
        at=e.at,
        duplicate_of=e.duplicate_of,
        duplicate_of_receipt_no=e.duplicate_of_receipt_no,
        text=e.text,
        resolution=e.resolution,
        objection=e.objection,
    )


def transferred_with_original_v1(e: ComplaintFile.TransferredWithOriginal) -> CaseTransferredV1:
    return CaseTransferredV1(
        complaint_id=e.complaint_id,
        receipt_no=e.receipt_no,
        case_id=e.case_id,
        office=e.office_code,
        at=e.at,
        staff=e.staff,
        to_office=e.to_office,
        reason=e.reason[:2000],
    )


def accepted_v1(e: Case.Accepted) -> CaseAcceptedV1:
    return CaseAcceptedV1(**_case(e), staff=e.staff)


def rejected_v1(e: Case.Rejected) -> CaseRejectedV1:
    return CaseRejectedV1(**_case(e), staff=e.staff, reason=e.reason, rejections=e.rejections)


def extension_requested_v1(e: Case.ExtensionRequested) -> ExtensionRequestedV1:
    return ExtensionRequestedV1(**_case(e), staff=e.staff, reason=e.reason)


def transferred_v1(e: Case.Transferred) -> CaseTransferredV1:
    return CaseTransferredV1(**_case(e), staff=e.staff, to_office=e.to_office, reason=e.reason)


def answered_v1(e: Case.Answered) -> CaseAnsweredV1:
    return CaseAnsweredV1(
        **_case(e), staff=e.staff, text=e.text, resolution=e.resolution, objection=e.objection
    )


def closed_v1(e: Case.Closed) -> CaseClosedV1:
    return CaseClosedV1(**_case(e), staff=e.staff)


#: What other services learn of casework's events (the outbox translation). What it learned
#: of complaints (`ComplaintFile`) is its own: never published, except what a linked duplicate
#: got from its original (answered, or transferred, with it).
OUTBOX = Outbox(SOURCE)
OUTBOX.translate(Case.Opened, opened_v1)
OUTBOX.translate(Case.Withdrawn, withdrawn_v1)
OUTBOX.translate(Case.Accepted, accepted_v1)
OUTBOX.translate(Case.Rejected, rejected_v1)
OUTBOX.translate(Case.ExtensionRequested, extension_requested_v1)
OUTBOX.translate(Case.Transferred, transferred_v1)
OUTBOX.translate(Case.Answered, answered_v1)
OUTBOX.translate(Case.Closed, closed_v1)
OUTBOX.translate(Case.AnsweredInstantly, answered_instantly_v1)
OUTBOX.translate(Case.Linked, linked_v1)
OUTBOX.translate(ComplaintFile.AnsweredAsDuplicate, duplicate_answered_v1)
OUTBOX.translate(ComplaintFile.TransferredWithOriginal, transferred_with_original_v1)
