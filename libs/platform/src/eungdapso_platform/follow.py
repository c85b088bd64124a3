"""The citizen's private follow link (나의 민원 조회): the receipt number plus a key that only
the citizen was given.

The key is derived, not stored: an HMAC of the complaint id under a secret that intake (which
hands the link out at filing, and again on an idempotent replay) and the notifier (which
serves the citizen page and puts the link in its notices) share. Nothing on any stream
carries the key or lets a reader of the streams make one, so a service that reads every
event still cannot open a citizen's page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from uuid import UUID

from pydantic import SecretStr

#: 24 bytes of HMAC: 192 bits, as 32 URL-safe characters.
KEY_BYTES = 24
KEY_PATTERN = r"^[A-Za-z0-9_\-]{32}$"


class FollowKeys:
    def __init__(self, secret: SecretStr) -> None:
        raw = secret.get_secret_value().encode()
        if len(raw) < 32:
            raise ValueError("the follow-link secret must be at least 32 bytes")
        self._secret = raw

    def key_for(self, complaint_id: UUID) -> str:
        digest = hmac.new(self._secret, b"follow:" + complaint_id.bytes, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:KEY_BYTES]).decode().rstrip("=")

    def matches(self, complaint_id: UUID, presented: str) -> bool:
        return hmac.compare_digest(self.key_for(complaint_id).encode(), presented.encode())

    @staticmethod
    def link(base: str, receipt_no: str, key: str) -> str:
        """The page URL: the key in the fragment, so no server or proxy log ever records it
        (the page sends it in a header)."""
        return f"{base.rstrip('/')}/follow/{receipt_no}#key={key}"
