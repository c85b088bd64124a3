"""Rating links (평가 링크): the single-use token a citizen rates an answer with.

A token is the invitation id, the complaint id and the expiry, signed with the service's
key (`itsdangerous`, HMAC-SHA1 over a URL-safe payload; salted so that no other signature made
with the same key passes for a rating link). Signing is deterministic: the same invitation
always gives the same token, so a replay of the event store issues the very link that was
sent. The token proves what it names; that it is used only once is the invitation's rule
(domainmodel.py), not the token's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from itsdangerous import BadData, URLSafeSerializer

SALT = "eungdapso.rating.link.v1"


class LinkRefused(Exception):
    """A token that does not entitle anyone to rate: why, for the problem answer."""


class ForgedLink(LinkRefused):
    """Not signed with this service's key (altered, made up, or from somewhere else)."""


class ExpiredLink(LinkRefused):
    def __init__(self, expired_at: datetime) -> None:
        super().__init__(f"expired at {expired_at.isoformat()}")
        self.expired_at = expired_at


class ForeignLink(LinkRefused):
    """Signed, but for another complaint than the one the request names."""


@dataclass(frozen=True)
class Link:
    invitation_id: UUID
    complaint_id: UUID
    expires_at: datetime


class LinkSigner:
    def __init__(self, secret: str) -> None:
        if len(secret) < 32:
            raise ValueError("a rating link key has at least 32 characters")
        self._serializer = URLSafeSerializer(secret, salt=SALT)

    def issue(self, link: Link) -> str:
        claims = {
            "i": link.invitation_id.hex,
            "c": link.complaint_id.hex,
            "e": int(link.expires_at.timestamp()),
        }
        token: str = self._serializer.dumps(claims)
        return token

    def read(self, token: str, now: datetime, *, complaint_id: UUID | None = None) -> Link:
        """The link the token is, if it is genuine, unexpired at `now`, and (when the request
        names a complaint) that complaint's."""
        try:
            claims: Any = self._serializer.loads(token)
            link = Link(
                invitation_id=UUID(hex=claims["i"]),
                complaint_id=UUID(hex=claims["c"]),
                expires_at=datetime.fromtimestamp(int(claims["e"]), UTC),
            )
        except (BadData, KeyError, TypeError, ValueError) as exc:
            raise ForgedLink() from exc
        if complaint_id is not None and link.complaint_id != complaint_id:
            raise ForeignLink()
        if now >= link.expires_at:
            raise ExpiredLink(link.expires_at)
        return link
