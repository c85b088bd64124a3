"""Receipt numbers (접수번호) a person can read out on the phone: `2026-0000123`.

One PostgreSQL sequence per year: numbers are unique and never reused (a sequence never
hands out a value twice, even when the transaction that took it rolls back). Each intake
process takes numbers in small blocks, so a request costs no extra round trip; a restart
or a second replica leaves gaps, never duplicates.
"""

from __future__ import annotations

import asyncio
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

    async def next_number(self, at: datetime) -> str:
        year = at.astimezone(SEOUL).year
        block = self._blocks.get(year)
        if not block:
            async with self._lock:
                block = self._blocks.get(year)
                if not block:
                    block = self._blocks[year] = deque(await self._take_block(year))
        return f"{year}-{block.popleft():07d}"

    async def _take_block(self, year: int) -> list[int]:
        seq = sql.Identifier(self.db.schema, f"receipt_no_{year}")
        async with self.db.pool.connection() as conn:
            await conn.execute(sql.SQL("CREATE SEQUENCE IF NOT EXISTS {} AS bigint").format(seq))
            cur = await conn.execute(
                sql.SQL("SELECT nextval({}::regclass) AS n FROM generate_series(1, %s)").format(
                    sql.Literal(seq.as_string(conn))
                ),
                (self.block_size,),
            )
            return sorted(int(row["n"]) for row in await cur.fetchall())
