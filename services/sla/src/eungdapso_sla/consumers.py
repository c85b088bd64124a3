"""The SLA service's entry point from Kafka: thin handlers that turn what intake, the router
and casework recorded into decisions on the complaint's `Deadline`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from eungdapso_platform.consumer import Process, Unit
from eungdapso_platform.logging import get_logger
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import (
    CaseAnsweredV1,
    CaseTransferredV1,
    ComplaintAnsweredInstantlyV1,
    ComplaintAssignedV1,
    ComplaintAssignedV2,
    ComplaintEvent,
    ComplaintReceivedV1,
    ComplaintReceivedV2,
    DuplicateAnsweredV1,
    ExtensionRequestedV1,
)
from eungdapso_sla.calendar import BusinessCalendar
from eungdapso_sla.domainmodel import Deadline, deadline_id
from eungdapso_sla.holidays import HOLIDAYS_ID, Calendars, DeclaredHolidays
from eungdapso_sla.opendeadlines import row_of
from eungdapso_sla.periods import PeriodTable

log = get_logger("eungdapso.sla")

#: Offices outside the city (이송): a transfer to one stops the city's clock.
EXTERNAL_PREFIX = "ext."
#: Who answered an instant answer (즉시 답변): the Eung-Dap-So desk, not a department.
DESK = "eungdapso.desk"


class Deadlines:
    """The `deadlines` process: each complaint's deadline set, extended, stopped and met."""

    def __init__(self, table: PeriodTable, calendars: Calendars, warn_at_share: float) -> None:
        self.table = table
        self.calendars = calendars
        self.share = warn_at_share

    def register(self, process: Process) -> None:
        # v2 payloads are v1 with more fields: both are read (history replays v1).
        for received in (ComplaintReceivedV1, ComplaintReceivedV2):
            process.on(received, self.on_received, aggregate_ids=self.aggregate_ids)
        for assigned in (ComplaintAssignedV1, ComplaintAssignedV2):
            process.on(assigned, self.on_assigned, aggregate_ids=self.aggregate_ids)
        process.on(ExtensionRequestedV1, self.on_extension_requested, aggregate_ids=self.aggregate_ids)
        process.on(CaseTransferredV1, self.on_transferred, aggregate_ids=self.aggregate_ids)
        # Every answer the citizen gets meets the deadline, whoever gave it: the office (answered),
        # the desk from its standard answers (answered instantly), or the office's answer to the
        # complaint this one duplicates (duplicate answered).
        process.on(CaseAnsweredV1, self.on_answered, aggregate_ids=self.aggregate_ids)
        process.on(ComplaintAnsweredInstantlyV1, self.on_answered_instantly, aggregate_ids=self.aggregate_ids)
        process.on(DuplicateAnsweredV1, self.on_duplicate_answered, aggregate_ids=self.aggregate_ids)

    def aggregate_ids(self, envelope: Envelope[ComplaintEvent]) -> Iterable[UUID]:
        return (deadline_id(envelope.data.complaint_id), HOLIDAYS_ID)

    def _calendar(self, unit: Unit) -> tuple[int, BusinessCalendar]:
        """The calendar with the holidays declared as recorded now (read once per batch)."""
        return self.calendars.of(unit.get(DeclaredHolidays, HOLIDAYS_ID))

    def _deadline(self, unit: Unit, event: ComplaintEvent) -> Deadline:
        """The complaint's deadline, started by whichever owner's event comes first."""
        found = unit.get(Deadline, deadline_id(event.complaint_id))
        if found is None:
            found = Deadline.start(event.complaint_id, event.receipt_no)
            unit.add(found)
        return found

    def _settle(self, unit: Unit, deadline: Deadline) -> None:
        version, calendar = self._calendar(unit)
        if deadline.set_when_known(self.table, calendar, version):
            log.info("deadline_set", due=deadline.due.isoformat() if deadline.due else None)
        elif deadline.recount(calendar, version):
            log.info("deadline_moved", due=deadline.due.isoformat() if deadline.due else None)
        row = row_of(deadline, calendar, self.share)
        unit.write(row.statement, *row.params)

    def on_received(self, unit: Unit, envelope: Envelope[ComplaintReceivedV1]) -> None:
        received = envelope.data
        deadline = self._deadline(unit, received)
        deadline.learn_receipt(received.received_at, received.kind, received.channel)
        if isinstance(received, ComplaintReceivedV2) and received.first_contact is not None:
            # Answered at first contact (FAQ, standard answer): the citizen has the answer, so
            # the deadline is met then, whatever the router and casework do with it later.
            deadline.meet(received.first_contact.answered_at, "first_contact", self._calendar(unit)[1])
        self._settle(unit, deadline)

    def on_assigned(self, unit: Unit, envelope: Envelope[ComplaintAssignedV1]) -> None:
        assigned = envelope.data
        deadline = self._deadline(unit, assigned)
        if isinstance(assigned, ComplaintAssignedV2):
            deadline.learn_assignment(assigned.office.code, assigned.subject, assigned.message_class)
        else:
            deadline.learn_assignment(assigned.office.code, None, None)
        self._settle(unit, deadline)

    def on_extension_requested(self, unit: Unit, envelope: Envelope[ExtensionRequestedV1]) -> None:
        requested = envelope.data
        deadline = self._deadline(unit, requested)
        refusal = deadline.extend(requested.reason, requested.office, self._calendar(unit)[1])
        if refusal is not None:
            # Recorded as `Deadline.ExtensionRefused` with this reason; the office's request stands
            # in casework, the deadline does not move.
            log.warning("extension_refused", office=requested.office, refusal=refusal)
        else:
            log.info(
                "extension_granted", pending=deadline.pending_extension is not None and not deadline.extended
            )
        self._settle(unit, deadline)

    def on_transferred(self, unit: Unit, envelope: Envelope[CaseTransferredV1]) -> None:
        transferred = envelope.data
        if not transferred.to_office.startswith(EXTERNAL_PREFIX):
            return  # a transfer inside the city: the router reassigns, the clock runs on
        deadline = self._deadline(unit, transferred)
        deadline.stop(transferred.at, transferred.to_office)
        self._settle(unit, deadline)

    def _answered(self, unit: Unit, event: ComplaintEvent, at: datetime, office: str) -> None:
        """An answer meets the deadline (kept until the deadline is set when it comes first;
        a second answer changes nothing: the first met it)."""
        deadline = self._deadline(unit, event)
        deadline.meet(at, office, self._calendar(unit)[1])
        self._settle(unit, deadline)

    def on_answered(self, unit: Unit, envelope: Envelope[CaseAnsweredV1]) -> None:
        self._answered(unit, envelope.data, envelope.data.at, envelope.data.office)

    def on_answered_instantly(self, unit: Unit, envelope: Envelope[ComplaintAnsweredInstantlyV1]) -> None:
        self._answered(unit, envelope.data, envelope.data.answered_at, DESK)

    def on_duplicate_answered(self, unit: Unit, envelope: Envelope[DuplicateAnsweredV1]) -> None:
        self._answered(unit, envelope.data, envelope.data.at, envelope.data.office)
