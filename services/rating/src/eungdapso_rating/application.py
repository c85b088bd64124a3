"""The rating service's event store and what it publishes: invitations, ratings and review
requests on `eungdapso.rating.events`, the links on `eungdapso.rating.links` (the relay picks
the topic by the payload's type: the token never travels on the events stream)."""

from __future__ import annotations

from typing import TypedDict
from uuid import UUID

from eungdapso_platform.domain import EventSourcedApplication
from eungdapso_platform.outbox import Outbox
from eungdapso_rating.domainmodel import Invitation
from eungdapso_schemas.events import RatedV1, RatingInvitedV1, RatingLinkIssuedV1, ReviewRequestedV1

SOURCE = "/eungdapso/rating"


class RatingApplication(EventSourcedApplication):
    name = "Rating"

    def invitation(self, invitation_id: UUID) -> Invitation | None:
        found = self.find(invitation_id)
        return found if isinstance(found, Invitation) else None


class _Ids(TypedDict):
    complaint_id: UUID
    receipt_no: str
    invitation_id: UUID
    office: str | None


# The recorded event's originator is the invitation: its `invitation_id`.
def _ids(e: Invitation.Invited | Invitation.Published) -> _Ids:
    return {
        "complaint_id": e.complaint_id,
        "receipt_no": e.receipt_no,
        "invitation_id": e.originator_id,
        "office": e.office,
    }


def invited_v1(e: Invitation.Invited) -> RatingInvitedV1:
    return RatingInvitedV1(
        **_ids(e),
        answered_by=e.answered_by,
        answered_at=e.answered_at,
        expires_at=e.expires_at,
    )


def link_issued_v1(e: Invitation.LinkIssued) -> RatingLinkIssuedV1:
    return RatingLinkIssuedV1(
        **_ids(e),
        token=e.token,
        expires_at=e.expires_at,
    )


def rated_v1(e: Invitation.Rated) -> RatedV1:
    return RatedV1(
        **_ids(e),
        score=e.score,
        rated_at=e.rated_at,
        answered_by=e.answered_by,
        comment=e.comment,
    )


def review_requested_v1(e: Invitation.ReviewRequested) -> ReviewRequestedV1:
    return ReviewRequestedV1(
        **_ids(e),
        score=e.score,
        rated_at=e.rated_at,
        comment=e.comment,
    )


#: What other services learn of the rating service's events (the outbox translation). A
#: second answer (`AnsweredAgain`) is the service's own record: never published.
OUTBOX = Outbox(SOURCE)
OUTBOX.translate(Invitation.Invited, invited_v1)
OUTBOX.translate(Invitation.LinkIssued, link_issued_v1)
OUTBOX.translate(Invitation.Rated, rated_v1)
OUTBOX.translate(Invitation.ReviewRequested, review_requested_v1)
