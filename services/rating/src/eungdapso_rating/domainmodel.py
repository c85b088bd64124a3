"""The rating service's aggregate: one complaint's invitation to rate its answer (만족도 평가).

The first answer of a complaint invites the citizen (once): `Invited`, then `LinkIssued` with
the signed single-use token. A later answer of the same complaint (the office answers again
after an objection, a duplicate's answer arrives after its own) is kept as `AnsweredAgain`
and changes nothing: no second invitation, no second link; the link sent rates the
complaint's answer and counts for the office that answered first. The citizen rates once,
before the invitation expires; a score of 1–2 also asks the office to review the case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from eventsourcing.domain import event

from eungdapso_platform.domain import DomainError, RecordedAggregate
from eungdapso_platform.eventstore import derived_id

AnsweredBy = Literal["office", "instant", "duplicate"]
#: Scores that ask the office to review how it handled the case.
LOW_SCORES = frozenset({1, 2})


def invitation_id(complaint_id: UUID) -> UUID:
    return derived_id("rating-invitation", str(complaint_id))


class RatingRefused(DomainError):
    """A rating the invitation does not take."""


class AlreadyRated(RatingRefused):
    def __init__(self, rated_at: datetime) -> None:
        super().__init__(f"rated at {rated_at.isoformat()}")
        self.rated_at = rated_at


class InvitationExpired(RatingRefused):
    def __init__(self, expired_at: datetime) -> None:
        super().__init__(f"expired at {expired_at.isoformat()}")
        self.expired_at = expired_at


class Invitation(RecordedAggregate):
    class Invited(RecordedAggregate.Created):
        complaint_id: UUID
        receipt_no: str
        office: str | None
        answered_by: AnsweredBy
        answered_at: datetime
        expires_at: datetime

    class Published(RecordedAggregate.Event):
        """What the outbox publishes: each carries the complaint's ids and the office."""

        complaint_id: UUID
        receipt_no: str
        office: str | None

    class LinkIssued(Published):
        token: str
        expires_at: datetime

    class AnsweredAgain(RecordedAggregate.Event):
        answered_by: AnsweredBy
        office: str | None
        answered_at: datetime

    class Rated(Published):
        score: int
        rated_at: datetime
        answered_by: AnsweredBy
        #: Personal by default: only the office reads it (casework); never logged or summed up.
        comment: str | None

    class ReviewRequested(Published):
        score: int
        rated_at: datetime
        comment: str | None

    @event(Invited)
    def __init__(
        self,
        id: UUID,
        complaint_id: UUID,
        receipt_no: str,
        office: str | None,
        answered_by: AnsweredBy,
        answered_at: datetime,
        expires_at: datetime,
    ) -> None:
        self.complaint_id = complaint_id
        self.receipt_no = receipt_no
        self.office = office
        self.answered_by: AnsweredBy = answered_by
        self.answered_at = answered_at
        self.expires_at = expires_at
        self.token: str | None = None
        self.score: int | None = None
        self.rated_at: datetime | None = None
        self.answers = 1

    @classmethod
    def invite(
        cls,
        complaint_id: UUID,
        receipt_no: str,
        office: str | None,
        answered_by: AnsweredBy,
        answered_at: datetime,
        expires_at: datetime,
    ) -> Invitation:
        return cls(
            id=invitation_id(complaint_id),
            complaint_id=complaint_id,
            receipt_no=receipt_no,
            office=office,
            answered_by=answered_by,
            answered_at=answered_at,
            expires_at=expires_at,
        )

    @event(LinkIssued)
    def _link_issued(
        self, complaint_id: UUID, receipt_no: str, office: str | None, token: str, expires_at: datetime
    ) -> None:
        self.token = token

    def issue_link(self, token: str) -> None:
        if self.token is None:
            self._link_issued(
                complaint_id=self.complaint_id,
                receipt_no=self.receipt_no,
                office=self.office,
                token=token,
                expires_at=self.expires_at,
            )

    @event(AnsweredAgain)
    def answered_again(self, answered_by: AnsweredBy, office: str | None, answered_at: datetime) -> None:
        self.answers += 1

    @property
    def rated(self) -> bool:
        return self.score is not None

    def check_open(self, now: datetime) -> None:
        """Refuses (`RatingRefused`) unless the citizen may still rate."""
        if self.rated_at is not None:
            raise AlreadyRated(self.rated_at)
        if now >= self.expires_at:
            raise InvitationExpired(self.expires_at)

    def rate(self, score: int, comment: str | None, now: datetime) -> None:
        if not 1 <= score <= 5:
            raise RatingRefused(f"a score is 1 to 5, not {score}")
        self.check_open(now)
        self._rated(
            complaint_id=self.complaint_id,
            receipt_no=self.receipt_no,
            office=self.office,
            score=score,
            rated_at=now,
            answered_by=self.answered_by,
            comment=comment,
        )
        if score in LOW_SCORES:
            self._review_requested(
                complaint_id=self.complaint_id,
                receipt_no=self.receipt_no,
                office=self.office,
                score=score,
                rated_at=now,
                comment=comment,
            )

    @event(Rated)
    def _rated(
        self,
        complaint_id: UUID,
        receipt_no: str,
        office: str | None,
        score: int,
        rated_at: datetime,
        answered_by: AnsweredBy,
        comment: str | None,
    ) -> None:
        self.score = score
        self.rated_at = rated_at

    @event(ReviewRequested)
    def _review_requested(
        self,
        complaint_id: UUID,
        receipt_no: str,
        office: str | None,
        score: int,
        rated_at: datetime,
        comment: str | None,
    ) -> None:
        pass
