"""Casework's aggregates: what casework has learned of a complaint (`ComplaintFile`), and one
office's handling of one assignment of it (`Case`, 처리).

A case moves: assigned → accepted → answered → closed; or assigned → rejected (the router
reassigns the complaint); or accepted → transferred (이송, to the agency that handles it). An
extension may be requested once while the case is accepted. When the router reassigns the
complaint, the current case is withdrawn from its office (the office can no longer see or act
on it) and a new case opens for the new office. Every action out of order is refused with a
`CaseRefused` that says which rule, in words an HTTP problem can carry.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from eungdapso_platform.domain import DomainError, RecordedAggregate
from eungdapso_platform.eventstore import derived_id
from eungdapso_schemas.codes import District, Field, MessageClass, Resolution
from eungdapso_schemas.events import ComplaintReceivedV2, Office


def file_id(complaint_id: UUID) -> UUID:
    """One file per complaint, whichever of its events casework hears of first."""
    return derived_id("complaint-file", str(complaint_id))


def case_id(complaint_id: UUID, number: int) -> UUID:
    """The complaint's n-th case: derived, so that opening it twice is a conflict, not a copy."""
    return derived_id("case", f"{complaint_id}:{number}")


def is_outside_agency(office_code: str) -> bool:
    """Outside agencies (police, ministries, neighbouring governments) have `ext.` codes."""
    return office_code.startswith("ext.")


class CaseStatus(StrEnum):
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TRANSFERRED = "transferred"
    ANSWERED = "answered"
    CLOSED = "closed"


#: Where the office's part ends: nothing more is done on the case.
FINISHED = frozenset({CaseStatus.REJECTED, CaseStatus.TRANSFERRED, CaseStatus.CLOSED})


class CaseRefused(DomainError):
    """An action the case's rules refuse: `title` and `detail` say which rule (an HTTP problem
    carries them); `status` is 409 for an action out of order, 422 for one that is incomplete."""

    def __init__(
        self, title: str, detail: str, *, status: int = 409, type_: str = "case-action-refused"
    ) -> None:
        super().__init__(detail)
        self.title = title
        self.detail = detail
        self.status = status
        self.type = type_


class ComplaintFile(RecordedAggregate):
    """What casework knows of one complaint: its content as intake received it (personal data,
    kept in casework's own store only) and which case is its current one."""

    class Opened(RecordedAggregate.Created):
        complaint_id: UUID
        receipt_no: str

    class Received(RecordedAggregate.Event):
        complaint: ComplaintReceivedV2

        def apply(self, file: ComplaintFile) -> None:
            file.complaint = self.complaint

    class CaseNoted(RecordedAggregate.Event):
        case_id: UUID
        number: int

        def apply(self, file: ComplaintFile) -> None:
            file.current_case = self.case_id
            file.cases = self.number

    @classmethod
    def open(cls, complaint_id: UUID, receipt_no: str) -> ComplaintFile:
        return cls(id=file_id(complaint_id), complaint_id=complaint_id, receipt_no=receipt_no)

    @event(Opened)
    def __init__(self, id: UUID, complaint_id: UUID, receipt_no: str) -> None:
        self.complaint_id = complaint_id
        self.receipt_no = receipt_no
        self.complaint: ComplaintReceivedV2 | None = None
        self.current_case: UUID | None = None
        self.cases = 0

    def learn(self, complaint: ComplaintReceivedV2) -> bool:
        """Keep what intake received; False when it is known already (published again)."""
        if self.complaint is not None:
            return False
        self.trigger_event(self.Received, complaint=complaint)
        return True

    def note(self, case: Case) -> None:
        if case.number != self.cases + 1:
            raise DomainError(f"case {case.number} of a complaint that has {self.cases}")
        self.trigger_event(self.CaseNoted, case_id=case.id, number=case.number)


class Case(RecordedAggregate):
    """One office's handling of one assignment of a complaint."""

    class Opened(RecordedAggregate.Created):
        complaint_id: UUID
        receipt_no: str
        number: int
        office: Office
        assigned_at: datetime
        rejections_before: int
        message_class: MessageClass | None
        field: Field | None
        subject: str | None
        district: District | None
        confidential: bool

    class Happened(RecordedAggregate.Event):
        """What every later event of a case says: whose case, and when (the events published
        are translated from one recorded event alone)."""

        complaint_id: UUID
        receipt_no: str
        office_code: str
        at: datetime

    class Accepted(Happened):
        staff: str

        def apply(self, case: Case) -> None:
            case.status = CaseStatus.ACCEPTED
            case.accepted_at = self.at

    class Rejected(Happened):
        staff: str
        reason: str
        rejections: int

        def apply(self, case: Case) -> None:
            case.status = CaseStatus.REJECTED
            case.rejection = self.reason
            case.finished_at = self.at

    class ExtensionRequested(Happened):
        staff: str
        reason: str

        def apply(self, case: Case) -> None:
            case.extension = self.reason
            case.extension_requested_at = self.at

    class Transferred(Happened):
        staff: str
        to_office: str
        reason: str

        def apply(self, case: Case) -> None:
            case.status = CaseStatus.TRANSFERRED
            case.transferred_to = self.to_office
            case.transfer_reason = self.reason
            case.finished_at = self.at

    class Answered(Happened):
        staff: str
        text: str
        resolution: Resolution
        objection: str | None

        def apply(self, case: Case) -> None:
            case.status = CaseStatus.ANSWERED
            case.answer_text = self.text
            case.resolution = self.resolution
            case.objection = self.objection
            case.answered_at = self.at

    class Closed(Happened):
        staff: str

        def apply(self, case: Case) -> None:
            case.status = CaseStatus.CLOSED
            case.finished_at = self.at

    class Withdrawn(Happened):
        """The router reassigned the complaint: the case leaves its office's inbox."""

        to_office: str

        def apply(self, case: Case) -> None:
            case.withdrawn_at = self.at
            case.withdrawn_to = self.to_office

    @classmethod
    def open(
        cls,
        *,
        complaint_id: UUID,
        receipt_no: str,
        number: int,
        office: Office,
        assigned_at: datetime,
        rejections_before: int = 0,
        message_class: MessageClass | None = None,
        field: Field | None = None,
        subject: str | None = None,
        district: District | None = None,
        confidential: bool = False,
    ) -> Case:
        """A case in `office`'s inbox: the complaint's `number`-th assignment."""
        if number < 1 or rejections_before < 0 or rejections_before >= number:
            raise DomainError(f"case {number} cannot follow {rejections_before} rejections")
        _aware(assigned_at)
        return cls(
            id=case_id(complaint_id, number),
            complaint_id=complaint_id,
            receipt_no=receipt_no,
            number=number,
            office=office,
            assigned_at=assigned_at,
            rejections_before=rejections_before,
            message_class=message_class,
            field=field,
            subject=subject,
            district=district,
            confidential=confidential,
        )

    @event(Opened)
    def __init__(
        self,
        id: UUID,
        complaint_id: UUID,
        receipt_no: str,
        number: int,
        office: Office,
        assigned_at: datetime,
        rejections_before: int,
        message_class: MessageClass | None,
        field: Field | None,
        subject: str | None,
        district: District | None,
        confidential: bool,
    ) -> None:
        self.complaint_id = complaint_id
        self.receipt_no = receipt_no
        self.number = number
        self.office = office
        self.assigned_at = assigned_at
        self.rejections_before = rejections_before
        self.message_class = message_class
        self.field = field
        self.subject = subject
        self.district = district
        self.confidential = confidential
        self.status = CaseStatus.ASSIGNED
        self.accepted_at: datetime | None = None
        self.rejection: str | None = None
        self.extension: str | None = None
        self.extension_requested_at: datetime | None = None
        self.transferred_to: str | None = None
        self.transfer_reason: str | None = None
        self.answer_text: str | None = None
        self.resolution: Resolution | None = None
        self.objection: str | None = None
        self.answered_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.withdrawn_at: datetime | None = None
        self.withdrawn_to: str | None = None

    # -- what the office may see -------------------------------------------------------
    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    def belongs_to(self, office_code: str) -> bool:
        """The office may see the case: it is its own, and was not reassigned away."""
        return self.office.code == office_code and not self.withdrawn

    @property
    def in_hand(self) -> bool:
        """The office has taken the case and not yet let it go (accepted or answered)."""
        return not self.withdrawn and self.status in (CaseStatus.ACCEPTED, CaseStatus.ANSWERED)

    @property
    def rejections_so_far(self) -> int:
        """Rejections of the complaint up to and including this case's."""
        return self.rejections_before + (1 if self.status is CaseStatus.REJECTED else 0)

    # -- what the office does ----------------------------------------------------------
    def accept(self, *, staff: str, at: datetime) -> None:
        self._may("accept", CaseStatus.ASSIGNED)
        self._happen(self.Accepted, at, staff=staff)

    def reject(self, *, staff: str, reason: str, at: datetime) -> None:
        self._may("reject", CaseStatus.ASSIGNED)
        self._happen(
            self.Rejected, at, staff=staff, reason=_said(reason), rejections=self.rejections_before + 1
        )

    def request_extension(self, *, staff: str, reason: str, at: datetime) -> None:
        self._may("request an extension for", CaseStatus.ACCEPTED)
        if self.extension_requested_at is not None:
            raise CaseRefused(
                "Extension already requested",
                "An extension is requested once per case; this case's was requested already.",
            )
        self._happen(self.ExtensionRequested, at, staff=staff, reason=_said(reason))

    def transfer(self, *, staff: str, to_office: str, reason: str, at: datetime) -> None:
        self._may("transfer", CaseStatus.ACCEPTED)
        if to_office == self.office.code:
            raise CaseRefused(
                "Transfer to another office",
                "A case is transferred to the agency that handles it, not to the office that has it.",
                status=422,
            )
        self._happen(self.Transferred, at, staff=staff, to_office=to_office, reason=_said(reason))

    def answer(
        self, *, staff: str, text: str, resolution: Resolution, objection: str | None, at: datetime
    ) -> None:
        self._may("answer", CaseStatus.ACCEPTED)
        objection = objection.strip() if objection and objection.strip() else None
        if resolution.needs_objection_notice and objection is None:
            raise CaseRefused(
                "Objection notice required",
                f"An answer that is {resolution.value.replace('_', ' ')} must tell the citizen how to "
                "object (이의신청): give `objection`.",
                status=422,
                type_="objection-notice-required",
            )
        self._happen(
            self.Answered, at, staff=staff, text=_said(text), resolution=resolution, objection=objection
        )

    def close(self, *, staff: str, at: datetime) -> None:
        self._may("close", CaseStatus.ANSWERED)
        self._happen(self.Closed, at, staff=staff)

    # -- what the router does ------------------------------------------------------------
    def withdraw(self, *, to_office: str, at: datetime) -> bool:
        """The complaint was reassigned: the case leaves its office. A closed case stays as it
        is (the office's record); one already withdrawn is not withdrawn twice."""
        if self.withdrawn or self.status is CaseStatus.CLOSED:
            return False
        self._happen(self.Withdrawn, at, to_office=to_office)
        return True

    def _happen(self, event_class: type[Case.Happened], at: datetime, **values: object) -> None:
        self.trigger_event(
            event_class,
            complaint_id=self.complaint_id,
            receipt_no=self.receipt_no,
            office_code=self.office.code,
            at=_aware(at),
            **values,
        )

    def _may(self, action: str, needed: CaseStatus) -> None:
        if self.withdrawn:
            raise CaseRefused(
                "Case reassigned",
                f"The complaint was reassigned to another office; you can no longer {action} this case.",
            )
        if self.status is needed:
            return
        raise CaseRefused(*_why_not(action, self.status, self.transferred_to))


def _why_not(action: str, status: CaseStatus, transferred_to: str | None) -> tuple[str, str]:
    if status is CaseStatus.CLOSED:
        return "Case closed", f"The case is closed: nothing more is done on it, so you cannot {action} it."
    if status is CaseStatus.REJECTED:
        return (
            "Case rejected",
            f"Your office rejected this case (the router reassigns it): you cannot {action} it.",
        )
    if status is CaseStatus.TRANSFERRED:
        return "Case transferred", f"The case was transferred to {transferred_to}: you cannot {action} it."
    if status is CaseStatus.ASSIGNED:
        return "Case not accepted", f"Accept the case before you {action} it."
    if status is CaseStatus.ANSWERED:
        return "Case already answered", f"The case is answered: you can close it, not {action} it."
    if action == "accept":
        return "Case already accepted", "The case is accepted already."
    if action == "reject":
        return (
            "Case already accepted",
            "An accepted case is not rejected: transfer it to the agency that handles it, or answer it.",
        )
    return "Case not answered", f"Answer the case before you {action} it."


def _said(text: str) -> str:
    stripped = text.strip()
    if not stripped:
        raise CaseRefused(
            "Text required", "An empty text is no reason and no answer: say it in words.", status=422
        )
    return stripped


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise DomainError("the moment of an action must carry its time zone")
    return at
