"""The one way a citizen's rating reaches an invitation: check the link, let the invitation
decide, record its events with the rating's row in one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from uuid import UUID

from eungdapso_platform.clock import Clock
from eungdapso_platform.domain import acting_as
from eungdapso_platform.eventstore import IntegrityError, within
from eungdapso_platform.logging import get_logger
from eungdapso_rating.application import RatingApplication
from eungdapso_rating.domainmodel import Invitation
from eungdapso_rating.links import LinkSigner
from eungdapso_rating.tables import rating_row

log = get_logger("eungdapso.rating")

#: Times a rating is decided again when the invitation changed while it was decided (another
#: request rated it first: then the second is refused as a reuse).
ATTEMPTS = 3


class UnknownInvitation(Exception):
    """A genuine link whose invitation this service does not have (its store was reset)."""


class Ratings:
    def __init__(
        self,
        application: RatingApplication,
        clock: Clock,
        signer: Callable[[], LinkSigner],
        on_recorded: Callable[[], None],
    ) -> None:
        self.application = application
        self.clock = clock
        self.signer = signer
        #: Wakes the outbox relay once new events are committed.
        self.on_recorded = on_recorded

    async def invitation(self, token: str, complaint_id: UUID | None, *, deadline: float) -> Invitation:
        """The invitation the token opens, if the citizen may still rate with it."""
        return await asyncio.to_thread(within, deadline, self._open, token, complaint_id)

    async def rate(
        self, token: str, complaint_id: UUID | None, score: int, comment: str | None, *, deadline: float
    ) -> Invitation:
        invitation = await asyncio.to_thread(
            within, deadline, self._rate, token, complaint_id, score, comment
        )
        self.on_recorded()
        return invitation

    def _open(self, token: str, complaint_id: UUID | None) -> Invitation:
        now = self.clock.now()
        link = self.signer().read(token, now, complaint_id=complaint_id)
        invitation = self.application.invitation(link.invitation_id)
        if invitation is None or invitation.complaint_id != link.complaint_id:
            raise UnknownInvitation()
        invitation.check_open(now)
        return invitation

    def _rate(self, token: str, complaint_id: UUID | None, score: int, comment: str | None) -> Invitation:
        for attempt in range(1, ATTEMPTS + 1):
            invitation = self._open(token, complaint_id)
            with acting_as("citizen:rating-link"):
                invitation.rate(score, comment, self.clock.now())
            try:
                self.application.save(invitation, writes=[rating_row(invitation)])
            except IntegrityError:
                if attempt == ATTEMPTS:
                    raise
                # Another request recorded first: decided again on what it recorded.
                log.info("invitation_changed_meanwhile", invitation_id=str(invitation.id), attempt=attempt)
                continue
            log.info("rated", invitation_id=str(invitation.id), score=score, review=score <= 2)
            return invitation
        raise AssertionError("unreachable")
