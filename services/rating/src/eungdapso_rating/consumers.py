"""The rating service's entry point from Kafka: an answer of a complaint (by its office, by
the desk at once, or by the answer to the complaint it duplicates) invites the citizen to
rate it; the router's assignments teach the offices' names."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from uuid import UUID

from eungdapso_platform.clock import Clock
from eungdapso_platform.consumer import Process, Unit
from eungdapso_platform.logging import get_logger
from eungdapso_rating import tables
from eungdapso_rating.domainmodel import AnsweredBy, Invitation, invitation_id
from eungdapso_rating.links import Link, LinkSigner
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import (
    CaseAnsweredV1,
    ComplaintAnsweredInstantlyV1,
    ComplaintAssignedV1,
    ComplaintAssignedV2,
    ComplaintEvent,
    DuplicateAnsweredV1,
)

log = get_logger("eungdapso.rating")


class Invitations:
    """The `invitations` process."""

    def __init__(self, signer: Callable[[], LinkSigner], valid_for: timedelta, clock: Clock) -> None:
        #: The signer, known once the service has started (its key may come from the database).
        self.signer = signer
        self.valid_for = valid_for
        self.clock = clock

    def register(self, process: Process) -> None:
        process.on(CaseAnsweredV1, self.on_case_answered, aggregate_ids=self.aggregate_ids)
        process.on(ComplaintAnsweredInstantlyV1, self.on_answered_instantly, aggregate_ids=self.aggregate_ids)
        process.on(DuplicateAnsweredV1, self.on_duplicate_answered, aggregate_ids=self.aggregate_ids)
        for assigned in (ComplaintAssignedV1, ComplaintAssignedV2):
            process.on(assigned, self.on_assigned)

    def aggregate_ids(self, envelope: Envelope[ComplaintEvent]) -> Iterable[UUID]:
        return (invitation_id(envelope.data.complaint_id),)

    def on_case_answered(self, unit: Unit, envelope: Envelope[CaseAnsweredV1]) -> None:
        answered = envelope.data
        self._invite(unit, answered, answered.office, "office", answered.at)

    def on_answered_instantly(self, unit: Unit, envelope: Envelope[ComplaintAnsweredInstantlyV1]) -> None:
        answered = envelope.data
        # The desk's standard answer is no office's work: its ratings count for no office.
        self._invite(unit, answered, None, "instant", answered.answered_at)

    def on_duplicate_answered(self, unit: Unit, envelope: Envelope[DuplicateAnsweredV1]) -> None:
        answered = envelope.data
        self._invite(unit, answered, answered.office, "duplicate", answered.at)

    def on_assigned(self, unit: Unit, envelope: Envelope[ComplaintAssignedV1]) -> None:
        office = envelope.data.office
        row = tables.office_row(office.code, office.name)
        unit.write(row.statement, *row.params)

    def _invite(
        self,
        unit: Unit,
        answer: ComplaintEvent,
        office: str | None,
        answered_by: AnsweredBy,
        answered_at: datetime,
    ) -> None:
        found = unit.get(Invitation, invitation_id(answer.complaint_id))
        if found is not None:
            found.answered_again(answered_by=answered_by, office=office, answered_at=answered_at)
            log.info("answered_again_invitation_kept", invitation_id=str(found.id), answers=found.answers)
            return
        # From the answer, not from now: a replay (or a late consumer) issues the same expiry
        # and so the very token that was sent. Whole seconds: the token carries no fraction.
        expires_at = (answered_at + self.valid_for).replace(microsecond=0)
        if expires_at <= self.clock.now():
            # The time to rate it is over before it arrived (the history a first deployment
            # reads, a consumer far behind): no link the citizen could not use.
            log.info("answer_past_rating_period", expired_at=expires_at.isoformat())
            return
        invitation = Invitation.invite(
            answer.complaint_id, answer.receipt_no, office, answered_by, answered_at, expires_at
        )
        invitation.issue_link(
            self.signer().issue(Link(invitation.id, invitation.complaint_id, invitation.expires_at))
        )
        unit.add(invitation)
        log.info("rating_invited", invitation_id=str(invitation.id), answered_by=answered_by)
