"""Rate limits that hold across replicas, counted in PostgreSQL (no other infrastructure).

A bucket (`web:<address>`, `client:<id>`) is limited to `limit` hits per `window_s` by a
sliding window: the count of the current fixed window plus the previous window's count
weighted by how much of it still lies within the last `window_s` (Cloudflare's estimate).
Unlike a bare fixed window, it never lets through twice the limit across a window's edge.
One hit is one statement, one round trip: `INSERT ... ON CONFLICT DO UPDATE ... WHERE`
counts the hit only if it is allowed (refused hits are not counted, so a client that waits
the `Retry-After` it was given gets through), on the row lock, so concurrent replicas never
overshoot. Windows are numbered by the database's clock, the one clock the replicas share.

The counters are an UNLOGGED table: no WAL on the hot path; a crash of PostgreSQL (or a
failover) empties them, which only forgets the last minute's counts. Windows past use are
deleted now and then by whichever replica gets there.

A check is bounded by the request's deadline (`IntakeSettings.request_deadline_s`, the rule
of `ComplaintIntake`): a slow or unreachable database answers 503 with Retry-After, never
a hang or a 500.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from fastapi import Request
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from eungdapso_platform.db import Database
from eungdapso_platform.errors import is_transient
from eungdapso_platform.logging import get_logger
from eungdapso_platform.migrations import Migration
from eungdapso_platform.problems import Problem

log = get_logger("eungdapso.intake.ratelimit")

#: Intake migration 2 (1 is `clients.MIGRATIONS`).
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "intake",
        2,
        "rate-limit windows: hits per bucket and window, shared by the replicas (unlogged)",
        (
            "CREATE UNLOGGED TABLE {schema}.rate_limit_windows ("
            " bucket text NOT NULL,"
            " window_ms integer NOT NULL,"
            " window_no bigint NOT NULL,"
            " hits integer NOT NULL,"
            # The end of the next window: until then the row weighs in as the previous one.
            " expires_at timestamptz NOT NULL,"
            " PRIMARY KEY (bucket, window_ms, window_no))",
        ),
    ),
)

#: `cap`: how many hits the current window may hold now, given the previous window's.
_HIT = """
WITH slot AS (
    SELECT floor(t.now_ms / %(w)s::integer)::bigint AS window_no,
           t.now_ms / %(w)s::integer - floor(t.now_ms / %(w)s::integer) AS elapsed
    FROM (SELECT extract(epoch FROM clock_timestamp())::float8 * 1000 AS now_ms) AS t
), previous AS (
    SELECT coalesce((SELECT p.hits FROM {schema}.rate_limit_windows p
                     WHERE p.bucket = %(b)s AND p.window_ms = %(w)s::integer
                       AND p.window_no = slot.window_no - 1), 0) AS hits
    FROM slot
), cap AS (
    SELECT floor(%(limit)s::integer - previous.hits * (1 - slot.elapsed))::integer AS n
    FROM slot, previous
), hit AS (
    INSERT INTO {schema}.rate_limit_windows AS r (bucket, window_ms, window_no, hits, expires_at)
    SELECT %(b)s, %(w)s::integer, slot.window_no, 1,
           to_timestamp((slot.window_no + 2) * %(w)s::integer / 1000.0)
    FROM slot, cap WHERE cap.n >= 1
    ON CONFLICT (bucket, window_ms, window_no) DO UPDATE SET hits = r.hits + 1
    WHERE r.hits < (SELECT n FROM cap)
    RETURNING r.hits
)
SELECT (SELECT hits FROM hit) AS counted, cap.n AS cap, previous.hits AS previous, slot.elapsed,
       coalesce((SELECT c.hits FROM {schema}.rate_limit_windows c
                 WHERE c.bucket = %(b)s AND c.window_ms = %(w)s::integer
                   AND c.window_no = slot.window_no), 0) AS current
FROM slot, previous, cap
"""
_PURGE = "DELETE FROM {schema}.rate_limit_windows WHERE expires_at < now()"


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    #: When a refused hit would be allowed (0 when allowed).
    retry_after_s: int
    #: Hits left in the window after this one (0 when refused).
    remaining: int = 0


def retry_after_s(limit: int, previous: int, current: int, elapsed: float, window_s: float) -> int:
    """Whole seconds until a hit would be allowed, from the sliding estimate
    `previous * (1 - elapsed) + current + 1 <= limit` (`elapsed`: fraction of the current
    window gone; `current`: hits counted in it)."""
    if limit < 1:
        return max(1, math.ceil(window_s))
    if current + 1 <= limit:
        # Within this window, once enough of the previous one has slid out.
        wait = (1 - (limit - current - 1) / previous - elapsed) * window_s if previous else 0.0
    else:
        # In the next window, where this one's count is the previous one.
        wait = (1 - elapsed + max(0.0, 1 - (limit - 1) / current)) * window_s
    return max(1, math.ceil(wait - 1e-9))  # 24.000000000000004 s is 24 s


class RateLimiter:
    """Per-bucket limits counted in the service's database, shared by all its replicas."""

    def __init__(self, db: Database, *, purge_every_s: float = 60.0) -> None:
        self.db = db
        self.purge_every_s = purge_every_s
        self._next_purge = time.monotonic() + purge_every_s
        self._purging: asyncio.Task[None] | None = None

    async def hit(
        self, bucket: str, limit: int, window_s: float, *, deadline: float | None = None
    ) -> RateDecision:
        """Count one hit on `bucket` if it is within `limit` per `window_s`. Raises what the
        database raises (`TimeoutError` past the `deadline`, `time.monotonic()`)."""
        window_ms = max(1, round(window_s * 1000))

        async def count(conn: AsyncConnection[DictRow]) -> DictRow | None:
            cur = await conn.execute(self.db.sql(_HIT), {"b": bucket, "w": window_ms, "limit": max(0, limit)})
            return await cur.fetchone()

        # Safe to repeat: a hit counted twice when a connection fails after the count is harmless.
        row = await self.db.run(count, deadline=deadline)
        assert row is not None
        self._maybe_purge()
        if row["counted"] is not None:
            return RateDecision(True, 0, max(0, int(row["cap"]) - int(row["counted"])))
        wait = retry_after_s(
            limit, int(row["previous"]), int(row["current"]), float(row["elapsed"]), window_ms / 1000
        )
        return RateDecision(False, wait)

    def _maybe_purge(self) -> None:
        now = time.monotonic()
        if now < self._next_purge or (self._purging is not None and not self._purging.done()):
            return
        self._next_purge = now + self.purge_every_s
        self._purging = asyncio.create_task(self._purge(), name="rate-limit-purge")

    async def _purge(self) -> None:
        try:
            async with self.db.connection(deadline=time.monotonic() + 30) as conn:
                cur = await conn.execute(self.db.sql(_PURGE))
                if cur.rowcount:
                    log.debug("rate_limit_windows_purged", rows=cur.rowcount)
        except Exception as exc:  # the next purge deletes them; never a request's failure
            log.warning("rate_limit_purge_failed", error=f"{type(exc).__name__}: {exc}")

    async def close(self) -> None:
        if self._purging is not None:
            self._purging.cancel()
            await asyncio.gather(self._purging, return_exceptions=True)


Network = IPv4Network | IPv6Network


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The address a request came from: the direct peer's, unless the peer is a trusted
    proxy; then `X-Forwarded-For` is read from the right (the hop the trusted proxy saw)
    leftwards past further trusted proxies, and the first untrusted hop is the client. What
    an untrusted peer writes in the header is never believed. An IPv6 client is counted by
    its /64 (one subscriber's network), or it could change address at every request."""
    current = _address(peer)
    if current is None:
        return peer or "unknown"
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    while hops and any(current in network for network in trusted):
        forwarded = _address(hops.pop())
        if forwarded is None:
            break  # garbage behind a trusted proxy: the last trusted hop is all we know
        current = forwarded
    if isinstance(current, IPv6Address):
        return str(ipaddress.IPv6Network((current, 64), strict=False))
    return str(current)


def _address(text: str | None) -> IPv4Address | IPv6Address | None:
    try:
        address = ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def unavailable_problem(idempotency_key: str | None = None) -> Problem:
    """503 for a check that could not reach the database in time: nothing was done."""
    retry = f", with the header 'Idempotency-Key: {idempotency_key}'" if idempotency_key else ""
    extra = {"idempotency_key": idempotency_key} if idempotency_key else {}
    return Problem(
        503,
        "Temporarily unavailable",
        "The service cannot reach its database right now; nothing was recorded. Send the same "
        f"request again later{retry}.",
        type_="unavailable",
        headers={"Retry-After": "5"},
        **extra,
    )


class RateLimits:
    """The HTTP side of rate limiting: the request's deadline, its client address, and the
    429 (or 503) answer. One per app, at `app.state.rate_limits`."""

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        web_rate_per_minute: int,
        upload_rate_per_minute: int | None = None,
        trusted_proxies: Sequence[Network] = (),
        deadline_s: float = 5.0,
    ) -> None:
        self.limiter = limiter
        self.web_rate_per_minute = web_rate_per_minute
        #: Anonymous attachment uploads per address (a complaint may carry several).
        self.upload_rate_per_minute = upload_rate_per_minute or 4 * web_rate_per_minute
        self.trusted_proxies = tuple(trusted_proxies)
        self.deadline_s = deadline_s

    def deadline(self, request: Request) -> float:
        """The request's deadline (`time.monotonic()`), set by the first check that asks:
        the checks and the submission after them share it."""
        deadline: float | None = getattr(request.state, "deadline", None)
        if deadline is None:
            deadline = time.monotonic() + self.deadline_s
            request.state.deadline = deadline
        return deadline

    def client_address(self, request: Request) -> str:
        peer = request.client.host if request.client is not None else None
        return client_address(peer, request.headers.getlist("x-forwarded-for"), self.trusted_proxies)

    async def enforce(
        self,
        request: Request,
        bucket: str,
        limit: int,
        window_s: float = 60.0,
        *,
        what: str = "requests",
        idempotency_key: str | None = None,
    ) -> RateDecision:
        """Count this request against `bucket`; raises a 429 problem (with Retry-After) when
        over the limit, a 503 one (with Retry-After, and `idempotency_key` if given) when the
        database cannot answer within the request's deadline."""
        try:
            decision = await self.limiter.hit(bucket, limit, window_s, deadline=self.deadline(request))
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("rate_limit_unavailable", bucket=_kind(bucket), error=f"{type(exc).__name__}: {exc}")
            raise unavailable_problem(idempotency_key) from exc
        if not decision.allowed:
            log.info("rate_limited", bucket=_kind(bucket), limit=limit, retry_after_s=decision.retry_after_s)
            raise Problem(
                429,
                "Too many requests",
                f"At most {limit} {what} per {window_s:g} seconds. "
                f"Retry after {decision.retry_after_s} seconds.",
                type_="rate-limited",
                headers={"Retry-After": str(decision.retry_after_s)},
                retry_after_s=decision.retry_after_s,
            )
        return decision


def _kind(bucket: str) -> str:
    """What a log line says of a bucket: its kind (`web`, `client`), never a citizen's address.
    (A client's name is in the request's log context.)"""
    return bucket.partition(":")[0]
