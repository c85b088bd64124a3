"""Receipt numbers (접수번호) a person can read out on the phone: `2026-0000123`.

One PostgreSQL sequence per year: numbers are unique and never reused (a sequence
never hands out a value twice, even when the transaction that took it rolls back).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from psycopg import sql

from eungdapso_platform.db import Database

SEOUL = ZoneInfo("Asia/Seoul")


class ReceiptBook:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._years: set[int] = set()

    async def next_number(self, at: datetime) -> str:
        year = at.astimezone(SEOUL).year
        seq = sql.Identifier(self.db.schema, f"receipt_no_{year}")
        async with self.db.pool.connection() as conn:
            if year not in self._years:
                await conn.execute(sql.SQL("CREATE SEQUENCE IF NOT EXISTS {} AS bigint").format(seq))
                self._years.add(year)
            cur = await conn.execute(
                sql.SQL("SELECT nextval({}::regclass) AS n").format(sql.Literal(seq.as_string(conn)))
            )
            row = await cur.fetchone()
        assert row is not None
        return f"{year}-{int(row['n']):07d}"
