"""The router's aggregates: how one complaint was routed (배정, 재배정, 이송, 즉시 답변, 중복
연결), and the editions of the organisation directory it routes by."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from eventsourcing.domain import event
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField

from eungdapso_platform.domain import DomainError, RecordedAggregate
from eungdapso_platform.eventstore import derived_id
from eungdapso_router.directory import TRIAGE, DirectoryOffice
from eungdapso_schemas.codes import District, MessageClass, OfficeLevel
from eungdapso_schemas.codes import Field as AdminField
from eungdapso_schemas.events import Office, RoutingEvidence
from eungdapso_schemas.subjects import SubjectCode


def routing_id(complaint_id: UUID) -> UUID:
    """One routing per complaint: its id is derived from the complaint's, so a complaint
    can never be assigned twice by accident."""
    return derived_id("routing", str(complaint_id))


class Reading(BaseModel):
    """What the router read in a complaint (or what a person at the triage desk decided it
    is about): the fields `complaint.assigned.v2` carries besides the office. Stored with the
    routing events as `model:Reading`: keep the name."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    message_class: MessageClass
    field: AdminField
    subject: SubjectCode
    district: District | None = None
    confidential: bool = False
    confidence: Annotated[float, PydanticField(ge=0.0, le=1.0)]
    evidence: RoutingEvidence = RoutingEvidence()


class RoutingState(StrEnum):
    """Where a complaint's routing stands."""

    ASSIGNED = "assigned"  # an office has it (or it was assigned for the record, see below)
    TRIAGE = "triage"  # waiting at the Eung-Dap-So triage desk for a person to decide
    TRANSFERRED = "transferred"  # with an outside agency (이송; also outside Seoul at once)
    ANSWERED = "answered"  # answered at once from the standard answers (즉시 답변)
    LINKED = "linked"  # a duplicate of an open complaint: it follows that one


#: After this many rejections of a complaint, a person at the triage desk decides.
REJECTIONS_TO_TRIAGE = 2


class Routing(RecordedAggregate):
    """How one complaint was routed: assigned (배정), reassigned after a rejection or by the
    triage desk (재배정), transferred to an outside agency (이송), answered at once, linked to
    the complaint it duplicates. Every event names the complaint, so each one translates to
    what other services read without the aggregate."""

    class Event(RecordedAggregate.Event):
        complaint_id: UUID
        receipt_no: str

    class Assigned(RecordedAggregate.Created):
        complaint_id: UUID
        receipt_no: str
        office: Office
        rule: str
        assigned_at: datetime
        #: None in assignments recorded before the router read complaints (published as v1).
        reading: Reading | None
        decided_by: str

    class Reassigned(Event):
        office: Office
        rule: str
        reading: Reading | None
        decided_by: str
        reassignment: int
        #: The office whose rejection caused it (None: the triage desk decided).
        rejected_by: str | None
        at: datetime

        def apply(self, routing: Routing) -> None:
            if self.rejected_by is not None:
                routing.rejections += 1
                routing.rejected_by = (*routing.rejected_by, self.rejected_by)
            routing.moved(self.office, self.rule, self.reading, self.decided_by, self.reassignment)

    class Transferred(Event):
        """To an outside agency (level `external`) or, rarely, another office of the city."""

        office: Office
        rule: str
        from_office: str
        reason: str
        reading: Reading | None
        decided_by: str
        reassignment: int
        at: datetime

        def apply(self, routing: Routing) -> None:
            routing.moved(self.office, self.rule, self.reading, self.decided_by, self.reassignment)

    class AnsweredInstantly(Event):
        answer_id: str
        answer: str
        confidence: float
        at: datetime

        def apply(self, routing: Routing) -> None:
            routing.state = RoutingState.ANSWERED
            routing.answer_id = self.answer_id

    class LinkedAsDuplicate(Event):
        duplicate_of: UUID
        duplicate_of_receipt_no: str
        similarity: float
        distance_m: float | None
        at: datetime

        def apply(self, routing: Routing) -> None:
            routing.state = RoutingState.LINKED
            routing.duplicate_of = self.duplicate_of

    @classmethod
    def assign(
        cls,
        *,
        complaint_id: UUID,
        receipt_no: str,
        office: Office,
        rule: str,
        at: datetime,
        reading: Reading | None = None,
        decided_by: str = "router",
    ) -> Routing:
        """Assign a complaint to the office that handles it, saying by which rule."""
        _check(rule, at)
        return cls(
            id=routing_id(complaint_id),
            complaint_id=complaint_id,
            receipt_no=receipt_no,
            office=office,
            rule=rule,
            assigned_at=at,
            reading=reading,
            decided_by=decided_by,
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
        # Defaults: assignments recorded before contract 2.3 have neither.
        reading: Reading | None = None,
        decided_by: str = "router",
    ) -> None:
        self.complaint_id = complaint_id
        self.receipt_no = receipt_no
        self.office = office
        self.rule = rule
        self.assigned_at = assigned_at
        self.reading = reading
        self.decided_by = decided_by
        self.reassignment = 0
        self.rejections = 0
        #: Offices that refused the complaint, in order.
        self.rejected_by: tuple[str, ...] = ()
        self.state = state_at(office)
        self.answer_id: str | None = None
        self.duplicate_of: UUID | None = None

    # ------------------------------------------------------------------ commands
    def reassign(
        self,
        *,
        office: Office,
        rule: str,
        reading: Reading | None,
        at: datetime,
        decided_by: str = "router",
        rejected_by: str | None = None,
    ) -> None:
        """Send the complaint to another office: after `rejected_by` refused it, or as the
        triage desk decided (`decided_by`, a person)."""
        _check(rule, at)
        if self.state is RoutingState.TRANSFERRED:
            raise DomainError("a transferred complaint is the agency's: it is not reassigned")
        if rejected_by is not None and rejected_by != self.office.code:
            raise DomainError(f"{rejected_by} cannot reject a complaint assigned to {self.office.code}")
        if rejected_by is None and self.state is not RoutingState.TRIAGE:
            raise DomainError("only a complaint waiting at the triage desk is decided there")
        self._trigger(
            self.Reassigned,
            office=office,
            rule=rule,
            reading=reading,
            decided_by=decided_by,
            reassignment=self.reassignment + 1,
            rejected_by=rejected_by,
            at=at,
        )

    def transfer(self, *, to: Office, from_office: str, reason: str, decided_by: str, at: datetime) -> None:
        """The office that has the complaint transferred it to an outside agency (이송)."""
        if from_office != self.office.code:
            raise DomainError(f"{from_office} cannot transfer a complaint assigned to {self.office.code}")
        if not reason.strip():
            raise DomainError("a transfer says why")
        _check("transfer", at)
        self._trigger(
            self.Transferred,
            office=to,
            rule=f"transfer:{from_office}",
            from_office=from_office,
            reason=reason,
            reading=self.reading,
            decided_by=decided_by,
            reassignment=self.reassignment + 1,
            at=at,
        )

    def answer_instantly(self, *, answer_id: str, answer: str, confidence: float, at: datetime) -> None:
        """Answered at once from the standard answers: the complaint is closed by it. (An
        outside agency's matter too: the answer says where to turn.)"""
        if self.reassignment or self.state not in (RoutingState.ASSIGNED, RoutingState.TRANSFERRED):
            raise DomainError("only a complaint just assigned is answered at once")
        _check("instant answer", at)
        self._trigger(
            self.AnsweredInstantly, answer_id=answer_id, answer=answer, confidence=confidence, at=at
        )

    def link_as_duplicate(
        self,
        *,
        duplicate_of: UUID,
        duplicate_of_receipt_no: str,
        similarity: float,
        distance_m: float | None,
        at: datetime,
    ) -> None:
        """A duplicate of an open complaint: it follows that one from now on."""
        if duplicate_of == self.complaint_id:
            raise DomainError("a complaint does not duplicate itself")
        if self.state is not RoutingState.ASSIGNED or self.reassignment:
            raise DomainError("only a complaint just assigned to a city office is linked as a duplicate")
        _check("duplicate", at)
        self._trigger(
            self.LinkedAsDuplicate,
            duplicate_of=duplicate_of,
            duplicate_of_receipt_no=duplicate_of_receipt_no,
            similarity=similarity,
            distance_m=distance_m,
            at=at,
        )

    def _trigger(self, event_class: type[Routing.Event], **values: Any) -> None:
        # Every event names the complaint (see the class).
        self.trigger_event(event_class, complaint_id=self.complaint_id, receipt_no=self.receipt_no, **values)

    def moved(
        self, office: Office, rule: str, reading: Reading | None, decided_by: str, reassignment: int
    ) -> None:
        """The complaint is now `office`'s (applied by the events that move it)."""
        self.office = office
        self.rule = rule
        self.reading = reading
        self.decided_by = decided_by
        self.reassignment = reassignment
        self.state = state_at(office)

    @property
    def at_triage(self) -> bool:
        return self.state is RoutingState.TRIAGE

    @property
    def rejections_left(self) -> int:
        """Rejections after which the complaint still goes to another office, not to triage."""
        return max(0, REJECTIONS_TO_TRIAGE - 1 - self.rejections)


def state_at(office: Office) -> RoutingState:
    """Where a complaint stands with `office`: an outside agency's is transferred (이송)."""
    if office.code == TRIAGE:
        return RoutingState.TRIAGE
    if office.level is OfficeLevel.EXTERNAL:
        return RoutingState.TRANSFERRED
    return RoutingState.ASSIGNED


def _check(rule: str, at: datetime) -> None:
    if not rule.strip():
        raise DomainError("an assignment records the rule that made it")
    if at.tzinfo is None:
        raise DomainError("the moment of assignment must carry its time zone")


def directory_version_id(version: int) -> UUID:
    """Version n of the organisation directory has this id: two publishers cannot both record
    version n (the second conflicts and reads again), and versions count 1, 2, 3… without gaps."""
    return derived_id("directory-version", str(version))


class DirectoryVersion(RecordedAggregate):
    """One published edition of the organisation directory (조직 디렉터리), never changed
    afterwards: each version is its own aggregate, so reading the current one reads one event."""

    class Published(RecordedAggregate.Created):
        version: int
        content_hash: str
        edition: str
        #: What published it: `package` (the file a router started with) or `file:<name>` (the CLI).
        source: str
        #: Content hashes of every version published so far, this one's included: a router
        #: starting with a packaged file whose content was published before (a restart, an older
        #: replica during a rolling deploy) leaves a later publication in force.
        published_hashes: tuple[str, ...]
        offices: tuple[DirectoryOffice, ...]

    @classmethod
    def publish(
        cls,
        *,
        version: int,
        content_hash: str,
        edition: str,
        source: str,
        published_hashes: tuple[str, ...],
        offices: tuple[DirectoryOffice, ...],
    ) -> DirectoryVersion:
        if version < 1:
            raise DomainError("directory versions count from 1")
        if not offices:
            raise DomainError("a directory has offices")
        return cls(
            id=directory_version_id(version),
            version=version,
            content_hash=content_hash,
            edition=edition,
            source=source,
            published_hashes=published_hashes,
            offices=offices,
        )

    @event(Published)
    def __init__(
        self,
        id: UUID,
        version: int,
        content_hash: str,
        edition: str,
        source: str,
        published_hashes: tuple[str, ...],
        offices: tuple[DirectoryOffice, ...],
    ) -> None:
        # The offices stay in the event (read from it when the version is loaded): the
        # aggregate keeps only what deciding the next version needs.
        self.version = version
        self.content_hash = content_hash
        self.published_hashes = tuple(published_hashes)
