"""One leader per service and role across replicas (the outbox relay, the deadline timers).

Replicas compete for a PostgreSQL advisory lock held on a dedicated session. The leader
keeps its session open; when it dies (process killed, network cut, database restarted)
the session ends, the lock is released and a standby takes it at its next attempt.
Nothing else is needed: no lease table, no clock agreement between replicas.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from eungdapso_platform.logging import get_logger

log = get_logger("eungdapso.leadership")


class Leadership:
    def __init__(self, conninfo: str, *, scope: str, role: str, connect_timeout_s: int = 2) -> None:
        """`scope` is what replicas share (the service's schema), `role` what is led."""
        self.conninfo = conninfo
        self.key = f"eungdapso.{scope}.{role}"
        self.role = role
        self.connect_timeout_s = connect_timeout_s
        self.is_leader = False
        #: How long a confirmed leadership is trusted before the session is checked again.
        self.recheck_s = 1.0
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._checked_at = 0.0

    async def hold(self) -> bool:
        """Take leadership if free, or confirm it is still held. Raises on database errors
        (after letting go: a leader that cannot confirm its session is no leader)."""
        now = time.monotonic()
        if self.is_leader and self._conn is not None and now - self._checked_at < self.recheck_s:
            return True
        try:
            if self._conn is None or self._conn.closed:
                self.is_leader = False
                self._conn = await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True, connect_timeout=self.connect_timeout_s
                )
            if self.is_leader:
                await self._conn.execute("SELECT 1")
            else:
                cur = await self._conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (self.key,))
                row = await cur.fetchone()
                if row is not None and row[0]:
                    self.is_leader = True
                    log.info("leadership_taken", role=self.role, key=self.key)
        except psycopg.Error:
            await self.release()
            raise
        self._checked_at = now
        return self.is_leader

    async def release(self) -> None:
        was_leader, self.is_leader = self.is_leader, False
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            await conn.close()  # ending the session releases the advisory lock
        if was_leader:
            log.info("leadership_released", role=self.role, key=self.key)
