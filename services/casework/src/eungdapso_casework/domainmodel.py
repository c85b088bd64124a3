"""Casework's aggregates: what casework has learned of a complaint (`ComplaintFile`), and one
office's handling of one assignment of it (`Case`, 처리).

A case moves: assigned → accepted → answered → closed; or assigned → rejected (the router
reassigns the complaint); or accepted → transferred (이송, to the agency that handles it). An
extension may be requested once while the case is accepted. When the router reassigns the
complaint, the current case is withdrawn from its office (the office can no longer see or act
on it) and a new case opens for the new office. Every action out of order is refused with a
`CaseRefused` that says which rule, in words an HTTP problem can carry.

A complaint the desk answered at once (즉시 답변), or linked as a duplicate of an open one (중복
민원), is assigned by the router "for the record": its case leaves the inbox as soon as casework
hears of the answer or the link, as a reassigned case does. The links are kept on the original
complaint's file, so they follow that complaint wherever it goes (a rejection and reassignment
moves them with it to the next office's case). When the original's case is answered, each
linked complaint is answered with that answer (`ComplaintFile.AnsweredAsDuplicate`, once per
linked complaint: the linked complaint's file refuses a second); when it is transferred outside
(이송), each linked complaint is transferred with it. A link that arrives after either is
answered or transferred at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from eventsourcing.domain import event
from pydantic import BaseModel, ConfigDict

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


#: The Eung-Dap-So desk (응답소) of the directory: it gives the instant answers.
DESK = "seoul.eungdapso"
#: Why a case left its office's inbox without the office letting it go.
LeftBecause = Literal["reassigned", "answered_instantly", "linked"]


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
        #: As a duplicate: the complaint it duplicates, its own case then, what it followed.
        self.duplicate_of: UUID | None = None
        self.duplicate_of_receipt_no: str | None = None
        self.linked_case: tuple[UUID | None, str | None] = (None, None)
        self.linked_at: datetime | None = None
        self.followed: str | None = None
        self.followed_at: datetime | None = None
        #: As an original: the complaints linked to it, and its outcome for them.
        self.links: dict[UUID, Link] = {}
        self.outcome: Outcome | None = None

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

    # -- duplicates (중복 민원) -------------------------------------------------------------
    class LinkedTo(RecordedAggregate.Event):
        """This complaint duplicates `duplicate_of`: it is answered with it. `case_id` and
        `office_code`: its own case, which left the inbox (None if it had none yet)."""

        duplicate_of: UUID
        duplicate_of_receipt_no: str
        case_id: UUID | None
        office_code: str | None
        at: datetime

        def apply(self, file: ComplaintFile) -> None:
            file.duplicate_of = self.duplicate_of
            file.duplicate_of_receipt_no = self.duplicate_of_receipt_no
            file.linked_case = (self.case_id, self.office_code)
            file.linked_at = self.at

    class LinkNoted(RecordedAggregate.Event):
        """A complaint was linked to this one as its duplicate."""

        duplicate_id: UUID
        duplicate_receipt_no: str
        at: datetime

        def apply(self, file: ComplaintFile) -> None:
            file.links[self.duplicate_id] = Link(self.duplicate_id, self.duplicate_receipt_no, self.at)

    class Concluded(RecordedAggregate.Event):
        """This complaint's case was answered, or transferred outside: what its linked
        complaints get (the first outcome stands)."""

        outcome: Outcome

        def apply(self, file: ComplaintFile) -> None:
            file.outcome = self.outcome

    class AnsweredAsDuplicate(RecordedAggregate.Event):
        """This linked complaint was answered with the answer to the one it duplicates."""

        complaint_id: UUID
        receipt_no: str
        case_id: UUID
        office_code: str
        at: datetime
        duplicate_of: UUID
        duplicate_of_receipt_no: str
        text: str
        resolution: Resolution
        objection: str | None

        def apply(self, file: ComplaintFile) -> None:
            file.followed = "answered"
            file.followed_at = self.at

    class TransferredWithOriginal(RecordedAggregate.Event):
        """This linked complaint was transferred with the one it duplicates (its own case
        moves: `case_id`, `office_code` are its own)."""

        complaint_id: UUID
        receipt_no: str
        case_id: UUID
        office_code: str
        at: datetime
        staff: str
        to_office: str
        reason: str

        def apply(self, file: ComplaintFile) -> None:
            file.followed = "transferred"
            file.followed_at = self.at

    def link_to(self, original: ComplaintFile, case: Case | None, at: datetime) -> bool:
        """Link this complaint to `original` (its duplicate); False when it is linked already."""
        if self.duplicate_of is not None or original.id == self.id:
            return False
        self.trigger_event(
            self.LinkedTo,
            duplicate_of=original.complaint_id,
            duplicate_of_receipt_no=original.receipt_no,
            case_id=case.id if case is not None else None,
            office_code=case.office.code if case is not None else None,
            at=_aware(at),
        )
        if self.complaint_id not in original.links:
            original.trigger_event(
                original.LinkNoted,
                duplicate_id=self.complaint_id,
                duplicate_receipt_no=self.receipt_no,
                at=at,
            )
        return True

    def conclude(self, case: Case) -> bool:
        """The complaint's case was answered or transferred outside: recorded once, for its
        linked complaints. False when it is not (yet) either, or concluded already."""
        if self.outcome is not None or case.withdrawn:
            return False
        common = {"case_id": case.id, "office_code": case.office.code, "staff": case.last_staff or ""}
        if case.status is CaseStatus.ANSWERED and case.answered_at is not None:
            outcome = Outcome(
                how="answered",
                at=case.answered_at,
                text=case.answer_text,
                resolution=case.resolution,
                objection=case.objection,
                **common,
            )
        elif case.status is CaseStatus.TRANSFERRED and case.finished_at is not None:
            outcome = Outcome(
                how="transferred",
                at=case.finished_at,
                to_office=case.transferred_to,
                reason=case.transfer_reason,
                **common,
            )
        else:
            return False
        self.trigger_event(self.Concluded, outcome=outcome)
        return True

    def follow(self, original: ComplaintFile) -> bool:
        """Take the outcome of the complaint this one duplicates, once: False when there is
        none yet, or this one followed it already (a redelivery, a replay, a race lost)."""
        outcome = original.outcome
        if outcome is None or self.followed is not None or self.duplicate_of != original.complaint_id:
            return False
        if outcome.how == "answered" and outcome.text is not None and outcome.resolution is not None:
            self.trigger_event(
                self.AnsweredAsDuplicate,
                complaint_id=self.complaint_id,
                receipt_no=self.receipt_no,
                case_id=outcome.case_id,
                office_code=outcome.office_code,
                at=outcome.at,
                duplicate_of=original.complaint_id,
                duplicate_of_receipt_no=original.receipt_no,
                text=outcome.text,
                resolution=outcome.resolution,
                objection=outcome.objection,
            )
            return True
        case_id, office_code = self.linked_case
        if outcome.how == "transferred" and case_id is not None and office_code is not None:
            self.trigger_event(
                self.TransferredWithOriginal,
                complaint_id=self.complaint_id,
                receipt_no=self.receipt_no,
                case_id=case_id,
                office_code=office_code,
                at=outcome.at,
                staff=outcome.staff,
                to_office=outcome.to_office or "",
                reason=f"{outcome.reason} (중복 민원 {original.receipt_no}와 함께 이송)",
            )
            return True
        return False


@dataclass(frozen=True)
class Link:
    complaint_id: UUID
    receipt_no: str
    linked_at: datetime


class Outcome(BaseModel):
    """How a complaint's case ended for its linked duplicates: its answer, or its transfer."""

    model_config = ConfigDict(frozen=True)

    how: Literal["answered", "transferred"]
    case_id: UUID
    office_code: str
    staff: str
    at: datetime
    text: str | None = None
    resolution: Resolution | None = None
    objection: str | None = None
    to_office: str | None = None
    reason: str | None = None


#: The file of a complaint, recorded or new (opened with this receipt number).
FindFile = Callable[[UUID, str], ComplaintFile]


def settle_links(original: ComplaintFile, case: Case, find: FindFile) -> list[ComplaintFile]:
    """After an action on the original's `case`: if it answered or transferred the complaint,
    record that on its file and let each linked complaint follow. Returns the files changed
    (the original's first); none when nothing is concluded."""
    if not original.conclude(case):
        return []
    followers = [find(link.complaint_id, link.receipt_no) for link in original.links.values()]
    return [original, *(f for f in followers if f.follow(original))]


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
            case.last_staff = self.staff
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
            case.last_staff = self.staff
            case.answer_text = self.text
            case.resolution = self.resolution
            case.objection = self.objection
            case.answered_at = self.at

    class Closed(Happened):
        staff: str

        def apply(self, case: Case) -> None:
            case.status = CaseStatus.CLOSED
            case.finished_at = self.at

    class ReviewNoted(Happened):
        """The office reviewed its handling after a low rating (재검토), with what it found."""

        staff: str
        invitation_id: UUID
        note: str

        def apply(self, case: Case) -> None:
            case.reviews_noted[self.invitation_id] = (self.note, self.staff, self.at)

    class Withdrawn(Happened):
        """The router reassigned the complaint: the case leaves its office's inbox."""

        to_office: str

        def apply(self, case: Case) -> None:
            case.withdrawn_at = self.at
            case.withdrawn_to = self.to_office
            case.withdrawn_because = "reassigned"

    class AnsweredInstantly(Withdrawn):
        """The desk answered the complaint at once: nobody works on this case."""

        answer_id: str

        def apply(self, case: Case) -> None:
            super().apply(case)
            case.withdrawn_because = "answered_instantly"

    class Linked(Withdrawn):
        """The complaint was linked as a duplicate: it is shown under the original's case."""

        duplicate_of: UUID

        def apply(self, case: Case) -> None:
            super().apply(case)
            case.withdrawn_because = "linked"

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
        self.withdrawn_because: LeftBecause | None = None
        #: Review requests after low ratings the office has answered, and its notes.
        self.reviews_noted: dict[UUID, tuple[str, str, datetime]] = {}
        #: Who answered or transferred the case (what its linked complaints follow).
        self.last_staff: str | None = None

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

    def note_review(self, *, invitation_id: UUID, staff: str, note: str, at: datetime) -> None:
        """Record the office's review of a low-rated answer: once per review request."""
        if self.withdrawn:
            raise CaseRefused(
                "Case reassigned", "The complaint went to another office; its review is theirs."
            )
        if invitation_id in self.reviews_noted:
            raise CaseRefused("Review already noted", "This review request has its note already.")
        self._happen(self.ReviewNoted, at, staff=staff, invitation_id=invitation_id, note=_said(note))

    def answered_instantly(self, *, answer_id: str, at: datetime) -> bool:
        """The desk answered the complaint: the case leaves the inbox, unless the office has
        answered or let it go already (then its own record stands)."""
        if not self._may_leave():
            return False
        self._happen(self.AnsweredInstantly, at, to_office=DESK, answer_id=answer_id)
        return True

    def linked(self, *, duplicate_of: UUID, at: datetime) -> bool:
        """Linked as a duplicate: the case leaves the inbox (shown under the original's),
        unless the office has answered or let it go already."""
        if not self._may_leave():
            return False
        self._happen(self.Linked, at, to_office=self.office.code, duplicate_of=duplicate_of)
        return True

    def _may_leave(self) -> bool:
        return not self.withdrawn and self.status in (CaseStatus.ASSIGNED, CaseStatus.ACCEPTED)

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
