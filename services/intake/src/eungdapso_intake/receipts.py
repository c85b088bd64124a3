"""Receipt numbers (접수번호) a person can read out on the phone: `2026-0000123`.

One PostgreSQL sequence per year: numbers are unique and never reused (a sequence never
hands out a value twice, even when the transaction that took it rolls back). Each intake
process takes numbers in small blocks, so a request costs no extra round trip; a restart
or a second replica leaves gaps, never duplicates.

Taking a block is bounded by the caller's deadline (`time.monotonic()`), the wait for
another request's block included: during an outage a request fails in seconds with
`TimeoutError` or the pool's `PoolTimeout` instead of queueing behind the others.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from datetime import datetime
from zoneinfo import ZoneInfo

from psycopg import sql

from eungdapso_platform.db import Database

SEOUL = ZoneInfo("Asia/Seoul")


class ReceiptBook:
    def __init__(self, db: Database, *, block_size: int = 20) -> None:
        self.db = db
        self.block_size = block_size
        self._blocks: dict[int, deque[int]] = {}
        self._lock = asyncio.Lock()

    async def next_number(self, at: datetime, *, deadline: float | None = None) -> str:
        year = at.astimezone(SEOUL).year
        block = self._blocks.get(year)
        if not block:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            async with asyncio.timeout(left), self._lock:
                block = self._blocks.get(year)
                if not block:
                    block = self._blocks[year] = deque(await self._take_block(year, left))
        return f"{year}-{block.popleft():07d}"

    async def _take_block(self, year: int, timeout_s: float | None) -> list[int]:
        seq = sql.Identifier(self.db.schema, f"receipt_no_{year}")
        async with self.db.pool.connection(timeout=timeout_s) as conn:
            await conn.execute(sql.SQL("CREATE SEQUENCE IF NOT EXISTS {} AS bigint").format(seq))
            cur = await conn.execute(
                sql.SQL("SELECT nextval({}::regclass) AS n FROM generate_series(1, %s)").format(
                    sql.Literal(seq.as_string(conn))
                ),
                (self.block_size,),
            )
            return sorted(int(row["n"]) for row in await cur.fetchall())
