"""The SLA service's event store and what it publishes (eungdapso.sla.events)."""

from __future__ import annotations

from datetime import date

from eungdapso_platform.domain import EventSourcedApplication
from eungdapso_platform.outbox import Outbox
from eungdapso_schemas.events import (
    DeadlineBreachedV1,
    DeadlineExtendedV1,
    DeadlineMetV1,
    DeadlineMovedV1,
    DeadlineSetV1,
    DeadlineWarnedV1,
)
from eungdapso_sla.domainmodel import Deadline
from eungdapso_sla.periods import Rule, Unit

SOURCE = "/eungdapso/sla"


class SlaApplication(EventSourcedApplication):
    name = "Sla"
    transcoded_types = (Unit, Rule)


def set_v1(e: Deadline.Set) -> DeadlineSetV1:
    return DeadlineSetV1(
        complaint_id=e.complaint_id,
        receipt_no=e.receipt_no,
        office=e.office,
        due=e.due,
        received_at=e.received_at,
        amount=e.amount,
        unit=e.unit.value,
        rule=e.rule.value,
        category=e.category,
        basis=e.basis,
    )


def extended_v1(e: Deadline.Extended) -> DeadlineExtendedV1:
    return DeadlineExtendedV1(
        complaint_id=e.complaint_id,
        receipt_no=e.receipt_no,
        office=e.office,
        due=e.due,
        previous_due=e.previous_due,
        reason=e.reason,
    )


def moved_v1(e: Deadline.Moved) -> DeadlineMovedV1:
    return DeadlineMovedV1(
        complaint_id=e.complaint_id,
        receipt_no=e.receipt_no,
        office=e.office,
        due=e.due,
        previous_due=e.previous_due,
        declared=tuple(date.fromisoformat(d) for d in e.declared),
    )


def warned_v1(e: Deadline.Warned) -> DeadlineWarnedV1:
    return DeadlineWarnedV1(
        complaint_id=e.complaint_id,
        receipt_no=e.receipt_no,
        office=e.office,
        due=e.due,
        at=e.at,
        stage=e.stage,
    )


def breached_v1(e: Deadline.Breached) -> DeadlineBreachedV1:
    return DeadlineBreachedV1(
        complaint_id=e.complaint_id, receipt_no=e.receipt_no, office=e.office, due=e.due, at=e.at
    )


def met_v1(e: Deadline.Met) -> DeadlineMetV1:
    return DeadlineMetV1(
        complaint_id=e.complaint_id,
        receipt_no=e.receipt_no,
        office=e.office,
        due=e.due,
        answered_at=e.answered_at,
        statutory=e.statutory,
        actual=e.actual,
        measured_in=e.measured_in,
        within=e.within,
    )


#: What other services learn of the SLA service's events (the outbox translation).
OUTBOX = Outbox(SOURCE)
OUTBOX.translate(Deadline.Set, set_v1)
OUTBOX.translate(Deadline.Extended, extended_v1)
OUTBOX.translate(Deadline.Moved, moved_v1)
OUTBOX.translate(Deadline.Warned, warned_v1)
OUTBOX.translate(Deadline.Breached, breached_v1)
OUTBOX.translate(Deadline.Met, met_v1)
