"""Proof that a webhook delivery comes from the provider it names: HMAC signatures, written
once for every channel, and the replay window of our own signed format.

Providers sign differently: Twilio signs the URL it called and the sorted form parameters
(HMAC-SHA1, base64); X signs the raw body (HMAC-SHA256, base64) and answers its CRC
challenge with the same primitive; Facebook signs the raw body (HMAC-SHA256, hex); our own
JSON format signs `timestamp.raw_body` (HMAC-SHA256, hex). Every comparison is constant-time.

Only our format carries a timestamp. A delivery signed more than `window_s` from now is
refused (stale), and so is the same signature seen again within the window (replayed),
across replicas (the ledger is a PostgreSQL table). Twilio, X and Facebook sign no
timestamp: a replay of one of their deliveries carries the same message id, which intake
records once (`Idempotency.channel_message`), so a replay can never add a complaint.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

from psycopg import AsyncConnection
from psycopg.rows import DictRow

from eungdapso_platform.clock import Clock
from eungdapso_platform.db import Database
from eungdapso_platform.migrations import Migration
from eungdapso_platform.problems import Problem

#: The ledger of signatures seen (intake's channel tables; their own component, so their
#: numbering never collides with intake's other tables).
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "intake.channels",
        1,
        "signatures of signed webhook deliveries seen within the replay window (unlogged)",
        (
            # Unlogged: a crash forgets the last minutes of signatures, and a replay then
            # finds the message id already recorded: nothing is recorded twice either way.
            "CREATE UNLOGGED TABLE {schema}.webhook_signatures_seen ("
            " sender text NOT NULL,"
            " signature text NOT NULL,"
            " seen_at timestamptz NOT NULL DEFAULT now(),"
            " PRIMARY KEY (sender, signature))",
        ),
    ),
)

TWILIO_SHA1 = "HMAC_SHA1"
TWILIO_SHA256 = "HMAC_SHA256"
_TWILIO_HASHES = {TWILIO_SHA1: hashlib.sha1, TWILIO_SHA256: hashlib.sha256}


def _hmac(secret: str, message: bytes, digest: str = "sha256") -> bytes:
    return hmac.new(secret.encode(), message, digest).digest()


def matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison; a missing or non-ASCII signature never matches."""
    if not given or not given.isascii():
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def eungdapso_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Our JSON format: `sha256=` + hex HMAC-SHA256 of `timestamp.raw_body`."""
    return "sha256=" + _hmac(secret, timestamp.encode() + b"." + body).hex()


def x_crc_response(consumer_secret: str, crc_token: str) -> str:
    """X's challenge-response check: `sha256=` + base64 HMAC-SHA256 of the token."""
    return "sha256=" + base64.b64encode(_hmac(consumer_secret, crc_token.encode())).decode()


def x_signature(consumer_secret: str, body: bytes) -> str:
    """`x-twitter-webhooks-signature`: `sha256=` + base64 HMAC-SHA256 of the raw body."""
    return "sha256=" + base64.b64encode(_hmac(consumer_secret, body)).decode()


def facebook_signature(app_secret: str, body: bytes) -> str:
    """`X-Hub-Signature-256`: `sha256=` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + _hmac(app_secret, body).hex()


def twilio_signature(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], algorithm: str = TWILIO_SHA1
) -> str:
    """`X-Twilio-Signature`: base64 HMAC of the URL followed by every parameter's name and
    value, sorted by name (then value), as Twilio's own validator computes it."""
    by_name: dict[str, set[str]] = {}
    for name, value in params:
        by_name.setdefault(name, set()).add(value)
    signed = url + "".join(name + value for name in sorted(by_name) for value in sorted(by_name[name]))
    digest = hmac.new(auth_token.encode(), signed.encode(), _TWILIO_HASHES[algorithm]).digest()
    return base64.b64encode(digest).decode()


def twilio_algorithm(settings_header: str | None) -> str | None:
    """The algorithm `X-Twilio-Webhooks-Signature-Settings` names (`key=…,algorithm=…`);
    HMAC-SHA1 without it; None for one this code does not know."""
    for part in (settings_header or "").split(","):
        name, _, value = part.partition("=")
        if name.strip() == "algorithm" and value.strip():
            algorithm = value.strip().upper()
            return algorithm if algorithm in _TWILIO_HASHES else None
    return TWILIO_SHA1


def twilio_signature_matches(
    auth_token: str, url: str, params: list[tuple[str, str]], given: str | None, algorithm: str = TWILIO_SHA1
) -> bool:
    """Twilio signs the URL with or without the default port, depending on the path it took."""
    return any(
        matches(twilio_signature(auth_token, u, params, algorithm), given)
        for u in _with_and_without_port(url)
    )


def _with_and_without_port(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    default = 443 if parts.scheme == "https" else 80
    bare = urlunsplit(parts._replace(netloc=host))
    ported = urlunsplit(parts._replace(netloc=f"{host}:{parts.port or default}"))
    return bare, ported


def bad_signature(detail: str) -> Problem:
    return Problem(403, "Bad signature", detail, type_="bad-signature")


class ReplayWindow:
    """Signed deliveries of our JSON format: fresh timestamps, each signature used once."""

    def __init__(self, db: Database, clock: Clock, *, window_s: int) -> None:
        self.db = db
        self.clock = clock
        self.window_s = window_s
        self._purged_at = 0.0

    def check_fresh(self, timestamp: str | None) -> None:
        """The timestamp (Unix seconds) is within the window of now, either way."""
        if timestamp is None or not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
            raise bad_signature("X-Eungdapso-Timestamp must be the signing time in Unix seconds.")
        skew = abs(self.clock.now().timestamp() - int(timestamp))
        if skew > self.window_s:
            raise Problem(
                403,
                "Stale signature",
                f"The request was signed more than {self.window_s} s from now: sign each delivery "
                "attempt with the current time.",
                type_="stale-signature",
            )

    async def refuse_replay(self, sender: str, signature: str, *, deadline: float) -> None:
        async with self._connection(deadline) as conn:
            cur = await conn.execute(
                self.db.sql(
                    "SELECT 1 FROM {schema}.webhook_signatures_seen WHERE sender = %s AND signature = %s"
                    " AND seen_at > now() - make_interval(secs => %s)"
                ),
                (sender, signature, self.window_s),
            )
            if await cur.fetchone() is not None:
                raise Problem(
                    403,
                    "Replayed signature",
                    "This signed request was already received. Sign each delivery attempt anew "
                    "(a new timestamp); the same message id is then answered with its receipt.",
                    type_="replayed-signature",
                )

    async def remember(self, sender: str, signature: str, *, deadline: float) -> None:
        """Once the delivery is recorded (a delivery that failed may be sent again as is)."""
        async with self._connection(deadline) as conn:
            await conn.execute(
                self.db.sql(
                    "INSERT INTO {schema}.webhook_signatures_seen (sender, signature) VALUES (%s, %s)"
                    " ON CONFLICT (sender, signature) DO UPDATE SET seen_at = now()"
                ),
                (sender, signature),
            )
            if time.monotonic() - self._purged_at > self.window_s:
                self._purged_at = time.monotonic()
                await conn.execute(
                    self.db.sql(
                        "DELETE FROM {schema}.webhook_signatures_seen"
                        " WHERE seen_at < now() - make_interval(secs => %s)"
                    ),
                    (self.window_s,),
                )

    @asynccontextmanager
    async def _connection(self, deadline: float) -> AsyncIterator[AsyncConnection[DictRow]]:
        left = max(0.0, deadline - time.monotonic())
        async with asyncio.timeout(left), self.db.pool.connection(timeout=left) as conn:
            yield conn
