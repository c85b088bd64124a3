"""The SLA service's aggregate: one complaint's statutory deadline (처리기한).

What it needs comes from two owners in no guaranteed order: the receipt (intake: when, what
kind, which channel) and the assignment (router: the subject and message class that choose
the period). Whichever comes first starts the aggregate; the deadline is set once both are
known. Casework's events then extend it (once), stop it (a transfer to an outside agency) or
meet it (an answer — kept and applied when the deadline is set, if it came first). The
scheduler warns and breaches it. Every decision is an event here, so a replay of the same
events with the same declared holidays computes the same deadlines.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypedDict
from uuid import UUID

from eventsourcing.domain import event

from eungdapso_platform.domain import DomainError, RecordedAggregate
from eungdapso_platform.eventstore import derived_id
from eungdapso_schemas.codes import Channel, Kind, MessageClass
from eungdapso_sla.calendar import BusinessCalendar
from eungdapso_sla.periods import Period, PeriodTable, Rule, StatutoryPeriod, Unit, due, extended_due, measure


def deadline_id(complaint_id: UUID) -> UUID:
    return derived_id("deadline", str(complaint_id))


class _Ids(TypedDict):
    complaint_id: UUID
    receipt_no: str
    office: str | None


class Status(StrEnum):
    WAITING = "waiting"  # receipt or assignment still unknown
    OPEN = "open"
    STOPPED = "stopped"  # transferred to an outside agency (이송)
    MET = "met"


class Deadline(RecordedAggregate):
    class Started(RecordedAggregate.Created):
        complaint_id: UUID
        receipt_no: str

    class ReceiptLearned(RecordedAggregate.Event):
        received_at: datetime
        kind: Kind
        channel: Channel

    class AssignmentLearned(RecordedAggregate.Event):
        office: str
        subject: str | None
        message_class: MessageClass | None

    class Published(RecordedAggregate.Event):
        """What the outbox publishes: each carries the complaint's ids and its office."""

        complaint_id: UUID
        receipt_no: str
        office: str | None

    class Set(Published):
        received_at: datetime
        due: datetime
        amount: int
        unit: Unit
        rule: Rule
        category: str
        basis: str
        #: Holidays declared at run time when it was counted (a replay needs them), and the
        #: version of the declarations they are.
        declared: tuple[str, ...]
        calendar_version: int

    class Extended(Published):
        previous_due: datetime
        due: datetime
        reason: str

    class Moved(Published):
        """Counted again with holidays declared since: the due moment moved."""

        previous_due: datetime
        due: datetime
        declared: tuple[str, ...]
        calendar_version: int

    class Recounted(RecordedAggregate.Event):
        """Counted again with holidays declared since: the due moment stays."""

        declared: tuple[str, ...]
        calendar_version: int

    class ExtensionPending(RecordedAggregate.Event):
        """An extension asked for before the deadline was set: granted when it is."""

        reason: str
        office: str

    class ExtensionRefused(RecordedAggregate.Event):
        reason: str
        office: str

    class Stopped(RecordedAggregate.Event):
        at: datetime
        to_office: str

    class AnswerLearned(RecordedAggregate.Event):
        answered_at: datetime
        office: str

    class Warned(Published):
        due: datetime
        at: datetime
        stage: str

    class Breached(Published):
        due: datetime
        at: datetime

    class Met(Published):
        due: datetime
        answered_at: datetime
        statutory: float
        actual: float
        measured_in: str
        within: bool

    @event(Started)
    def __init__(self, id: UUID, complaint_id: UUID, receipt_no: str) -> None:
        self.complaint_id = complaint_id
        self.receipt_no = receipt_no
        self.received_at: datetime | None = None
        self.kind: Kind | None = None
        self.channel: Channel | None = None
        self.office: str | None = None
        self.assigned = False
        self.subject: str | None = None
        self.message_class: MessageClass | None = None
        self.status = Status.WAITING
        self.period: Period | None = None
        self.due: datetime | None = None
        self.declared: tuple[str, ...] = ()
        self.calendar_version = 0
        self.pending_extension: tuple[str, str] | None = None
        self.extended = False
        self.warned_stages: tuple[str, ...] = ()
        self.breached = False
        self.answered_at: datetime | None = None
        self.stopped_at: datetime | None = None

    @classmethod
    def start(cls, complaint_id: UUID, receipt_no: str) -> Deadline:
        return cls(id=deadline_id(complaint_id), complaint_id=complaint_id, receipt_no=receipt_no)

    # -- what it learns -------------------------------------------------------------------
    @event(ReceiptLearned)
    def _receipt(self, received_at: datetime, kind: Kind, channel: Channel) -> None:
        self.received_at, self.kind, self.channel = received_at, kind, channel

    @event(AssignmentLearned)
    def _assignment(self, office: str, subject: str | None, message_class: MessageClass | None) -> None:
        self.assigned = True
        self.office, self.subject, self.message_class = office, subject, message_class

    def learn_receipt(self, received_at: datetime, kind: Kind, channel: Channel) -> None:
        if self.received_at is None:  # the same receipt published again teaches nothing
            self._receipt(received_at, kind, channel)

    def learn_assignment(self, office: str, subject: str | None, message_class: MessageClass | None) -> None:
        """The first assignment chooses the period; a reassignment inside the city moves the
        case (warnings go to the new office) but does not restart the clock."""
        if not self.assigned:
            self._assignment(office, subject, message_class)
        elif office != self.office:
            self._assignment(office, self.subject, self.message_class)

    # -- setting ---------------------------------------------------------------------------
    def _published(self) -> _Ids:
        return {"complaint_id": self.complaint_id, "receipt_no": self.receipt_no, "office": self.office}

    @event(Set)
    def _set(
        self,
        complaint_id: UUID,
        receipt_no: str,
        office: str | None,
        received_at: datetime,
        due: datetime,
        amount: int,
        unit: Unit,
        rule: Rule,
        category: str,
        basis: str,
        declared: tuple[str, ...],
        calendar_version: int,
    ) -> None:
        # A transfer outside that came before the deadline was set stops it at once: the
        # outcome does not depend on the order the owners' events arrived in.
        self.status = Status.STOPPED if self.stopped_at is not None else Status.OPEN
        self.period = Period(amount, unit)
        self.due = due
        self.declared = tuple(declared)
        self.calendar_version = calendar_version

    def set_when_known(
        self, table: PeriodTable, calendar: BusinessCalendar, calendar_version: int = 0
    ) -> bool:
        """Set the deadline once receipt and assignment are both known; True if it was."""
        if self.status is not Status.WAITING or self.received_at is None or not self.assigned:
            return False
        assert self.kind is not None
        chosen: StatutoryPeriod = table.choose(
            self.received_at,
            calendar,
            kind=self.kind,
            subject=self.subject,
            message_class=self.message_class,
            channel=self.channel,
        )
        self._set(
            **self._published(),
            received_at=self.received_at,
            due=due(self.received_at, chosen.period, calendar),
            amount=chosen.period.amount,
            unit=chosen.period.unit,
            rule=chosen.period.rule,
            category=chosen.category,
            basis=chosen.basis,
            declared=_iso(calendar),
            calendar_version=calendar_version,
        )
        if self.pending_extension is not None:  # asked for before the deadline was set
            reason, office = self.pending_extension
            self.extend(reason, office, calendar)
        if self.answered_at is not None:  # the answer came before the deadline was set
            self.meet(self.answered_at, self.office or "", calendar)
        return True

    # -- declared holidays -----------------------------------------------------------------
    @event(Moved)
    def _moved(
        self,
        complaint_id: UUID,
        receipt_no: str,
        office: str | None,
        previous_due: datetime,
        due: datetime,
        declared: tuple[str, ...],
        calendar_version: int,
    ) -> None:
        self.due = due
        self.declared = tuple(declared)
        self.calendar_version = calendar_version
        # The warnings not given yet follow the new due moment; those given stay given.

    @event(Recounted)
    def _recounted(self, declared: tuple[str, ...], calendar_version: int) -> None:
        self.declared = tuple(declared)
        self.calendar_version = calendar_version

    def recount(self, calendar: BusinessCalendar, calendar_version: int) -> bool:
        """Count the deadline again with the holidays declared since it was counted; True if
        it moved. Only an open deadline not yet breached moves: a breach is history."""
        if calendar_version <= self.calendar_version:
            return False
        if self.status is not Status.OPEN or self.breached:
            return False
        assert self.received_at is not None and self.period is not None and self.due is not None
        counted = due(self.received_at, self.period, calendar)
        if self.extended:
            counted = extended_due(counted, self.period, calendar)
        if counted == self.due:
            self._recounted(declared=_iso(calendar), calendar_version=calendar_version)
            return False
        self._moved(
            **self._published(),
            previous_due=self.due,
            due=counted,
            declared=_iso(calendar),
            calendar_version=calendar_version,
        )
        return True

    # -- what offices do -------------------------------------------------------------------
    @event(Extended)
    def _extended(
        self,
        complaint_id: UUID,
        receipt_no: str,
        office: str | None,
        previous_due: datetime,
        due: datetime,
        reason: str,
    ) -> None:
        self.extended = True
        self.due = due
        self.warned_stages = ()  # the new due moment gets its own warnings

    @event(ExtensionRefused)
    def _refused(self, reason: str, office: str) -> None:
        pass

    @event(ExtensionPending)
    def _pending(self, reason: str, office: str) -> None:
        self.pending_extension = (reason, office)

    def extend(self, reason: str, office: str, calendar: BusinessCalendar) -> str | None:
        """Extend once by the original period (시행령 제21조: once, within the period); a
        second request, or one on a deadline not open, is refused: the reason is returned.
        A request before the deadline is set (order across owners) waits for it."""
        refusal = None
        if self.status is Status.WAITING:
            if self.pending_extension is None:
                self._pending(reason=reason, office=office)
                return None
            refusal = "an extension is already waiting for the deadline to be set; a second is not allowed"
        elif self.status is not Status.OPEN:
            refusal = f"the deadline is {self.status.value}: nothing to extend"
        elif self.extended:
            refusal = "the deadline was already extended once; a second extension is not allowed"
        elif self.breached:
            refusal = "the deadline has already passed: an extension is asked for before it"
        if refusal is not None:
            self._refused(reason=refusal, office=office)
            return refusal
        assert self.due is not None and self.period is not None
        self._extended(
            **self._published(),
            previous_due=self.due,
            due=extended_due(self.due, self.period, calendar),
            reason=reason,
        )
        return None

    @event(Stopped)
    def _stopped(self, at: datetime, to_office: str) -> None:
        self.stopped_at = at
        if self.status is Status.OPEN:
            self.status = Status.STOPPED

    def stop(self, at: datetime, to_office: str) -> None:
        """A transfer to an outside agency (이송) ends the city's clock (before the deadline is
        set too: it is then set and stopped at once)."""
        if self.stopped_at is not None or self.status is Status.MET:
            return
        self._stopped(at=at, to_office=to_office)

    @event(AnswerLearned)
    def _answer(self, answered_at: datetime, office: str) -> None:
        self.answered_at = answered_at

    @event(Met)
    def _met(
        self,
        complaint_id: UUID,
        receipt_no: str,
        office: str | None,
        due: datetime,
        answered_at: datetime,
        statutory: float,
        actual: float,
        measured_in: str,
        within: bool,
    ) -> None:
        self.status = Status.MET
        self.answered_at = answered_at

    def meet(self, answered_at: datetime, office: str, calendar: BusinessCalendar) -> None:
        """The office answered: met, measured in the period's unit. Before the deadline is
        set the answer is kept, and meets it when it is set."""
        if self.status is Status.WAITING:
            if self.answered_at is None:
                self._answer(answered_at=answered_at, office=office)
            return
        if self.status is not Status.OPEN:
            return  # already met (a second answer), or stopped by a transfer
        assert self.received_at is not None and self.period is not None and self.due is not None
        statutory, actual, measured_in = measure(
            self.received_at, self.due, answered_at, self.period, calendar
        )
        self._met(
            **self._published(),
            due=self.due,
            answered_at=answered_at,
            statutory=statutory,
            actual=actual,
            measured_in=measured_in,
            within=answered_at <= self.due,
        )

    # -- the scheduler ---------------------------------------------------------------------
    @event(Warned)
    def _warned(
        self, complaint_id: UUID, receipt_no: str, office: str | None, due: datetime, at: datetime, stage: str
    ) -> None:
        self.warned_stages = (*self.warned_stages, stage)

    @event(Breached)
    def _breached(
        self, complaint_id: UUID, receipt_no: str, office: str | None, due: datetime, at: datetime
    ) -> None:
        self.breached = True

    def warnings(self, calendar: BusinessCalendar, share: float) -> list[tuple[str, datetime]]:
        """The warnings still to give, with when: at `share` of the period, and one working
        hour before the due moment (the first only when it comes before the second)."""
        if self.status is not Status.OPEN or self.breached or self.due is None or self.received_at is None:
            return []
        last_hour = calendar.subtract_working_time(self.due, timedelta(hours=1))
        if self.period is not None and self.period.rule is Rule.ELAPSED:
            at_share = self.received_at + (self.due - self.received_at) * share
        else:  # a share of the working time: a warning on a Sunday would reach no one
            working = calendar.working_time_between(self.received_at, self.due)
            at_share = calendar.add_working_time(self.received_at, working * share)
        planned = [("share", at_share)] if at_share < last_hour else []
        planned.append(("last_hour", last_hour))
        return [(stage, at) for stage, at in planned if stage not in self.warned_stages]

    def warn(self, stage: str, at: datetime) -> bool:
        if self.status is not Status.OPEN or self.breached or stage in self.warned_stages:
            return False
        assert self.due is not None
        self._warned(**self._published(), due=self.due, at=at, stage=stage)
        return True

    def breach(self, at: datetime) -> bool:
        if self.status is not Status.OPEN or self.breached:
            return False
        if self.due is None or at < self.due:
            raise DomainError("a deadline is breached only once its due moment has passed")
        self._breached(**self._published(), due=self.due, at=at)
        return True


def _iso(calendar: BusinessCalendar) -> tuple[str, ...]:
    return tuple(sorted(d.isoformat() for d in calendar.declared))
