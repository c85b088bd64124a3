"""PostgreSQL access for read models, the consumer ledger and relay positions (psycopg 3)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TypeVar

from psycopg import AsyncConnection, sql
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from eungdapso_platform.errors import is_transient
from eungdapso_platform.migrations import PLATFORM_MIGRATIONS, Migration, migrate, schema_sql
from eungdapso_platform.settings import ServiceSettings

__all__ = ["CLAIM_LEDGER_BATCH", "INSERT_LEDGER", "Database", "schema_sql"]

T = TypeVar("T")

#: The idempotent consumer's ledger (migration platform/1): one row per message applied,
#: written in the same transaction as the effect, so an effect happens at most once per
#: (ledger, message).
INSERT_LEDGER = "INSERT INTO {schema}.processed_messages (consumer, message_id) VALUES (%s, %s)"
CLAIM_LEDGER_BATCH = (
    "INSERT INTO {schema}.processed_messages (consumer, message_id)"
    " SELECT %s, unnest(%s::text[]) ON CONFLICT DO NOTHING RETURNING message_id"
)


class Database:
    """An async connection pool bound to one service's schema."""

    def __init__(
        self,
        conninfo: str,
        schema: str,
        *,
        max_size: int = 10,
        timeout_s: float = 5.0,
        migrations: Sequence[Migration] = (),
    ) -> None:
        self.schema = schema
        self.conninfo = conninfo
        #: The service's own migrations, applied after the platform's at open.
        self.migrations = tuple(migrations)
        self.pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
            conninfo,
            connection_class=AsyncConnection[DictRow],
            min_size=1,
            max_size=max_size,
            open=False,
            timeout=timeout_s,
            kwargs={"autocommit": True, "row_factory": dict_row},
        )

    @classmethod
    def for_service(cls, settings: ServiceSettings, migrations: Sequence[Migration] = ()) -> Database:
        """The service's database, bound to its own schema."""
        return cls(settings.postgres_conninfo(), settings.db_schema, migrations=migrations)

    async def open(self) -> None:
        await asyncio.to_thread(migrate, self.conninfo, self.schema, (*PLATFORM_MIGRATIONS, *self.migrations))
        await self.pool.open(wait=True, timeout=30)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection[DictRow]]:
        async with self.pool.connection() as conn, conn.transaction():
            yield conn

    @asynccontextmanager
    async def connection(self, *, deadline: float | None = None) -> AsyncIterator[AsyncConnection[DictRow]]:
        """A pooled connection (autocommit). With a `deadline` (`time.monotonic()`), waiting for
        it and the statements run on it stop there: `TimeoutError`, or the pool's `PoolTimeout`."""
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        async with asyncio.timeout(left), self.pool.connection(timeout=left) as conn:
            yield conn

    async def run(
        self,
        work: Callable[[AsyncConnection[DictRow]], Awaitable[T]],
        *,
        deadline: float | None = None,
        attempts: int = 3,
    ) -> T:
        """`work` on a pooled connection, bounded by `deadline` as `connection` is, tried again
        on a transient failure while attempts and time remain. Only for work that is safe to
        repeat (a read, a rate-limit count): after an outage or a server restart the pool still
        holds connections the server has closed, and each would otherwise fail a request."""
        attempt = 1
        while True:
            try:
                async with self.connection(deadline=deadline) as conn:
                    return await work(conn)
            except Exception as exc:
                out_of_time = deadline is not None and time.monotonic() >= deadline
                if attempt >= attempts or out_of_time or not is_transient(exc):
                    raise
            attempt += 1

    async def ping(self) -> bool:
        try:
            async with self.pool.connection(timeout=2) as conn:
                await conn.execute("SELECT 1")
            return True
        except Exception:
            return False

    def sql(self, template: str) -> sql.SQL:
        return schema_sql(template, self.schema)

    async def claim(self, conn: AsyncConnection[DictRow], ledger: str, message_ids: list[str]) -> set[str]:
        """Record a batch's messages as applied, in one statement of the caller's transaction;
        returns those that were not already recorded (the others are redeliveries)."""
        cur = await conn.execute(self.sql(CLAIM_LEDGER_BATCH), (ledger, message_ids))
        return {row["message_id"] for row in await cur.fetchall()}

    async def processed_among(self, ledger: str, message_ids: list[str]) -> set[str]:
        """Which of these messages the ledger has already recorded."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                self.sql(
                    "SELECT message_id FROM {schema}.processed_messages"
                    " WHERE consumer=%s AND message_id = ANY(%s)"
                ),
                (ledger, message_ids),
            )
            return {row["message_id"] for row in await cur.fetchall()}
