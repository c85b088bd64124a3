"""Read models with a lifecycle: named, versioned, rebuilt beside the live one, swapped.

A read model is a set of tables a projection keeps. Its `shape` is the version of their
definition in the code. Each build of it is a *generation* with its own physical tables
(`<table>_g<generation>`) and its own ledger (`<component>@<generation>`); readers query
views named after the tables (`<schema>.<table>`), which point at the live generation.

A rebuild builds the next generation from the topics while the live one keeps serving and
being updated, then swaps the views in one transaction, so readers never see an empty or
partial model. The swap holds the live generation's row lock (live batches wait a moment),
reads on until the new generation has applied every message the live one applied, and
checks it: a model built from less history than the live one has seen (e.g. the broker
lost its history) is refused, not swapped in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from psycopg import AsyncConnection, sql
from psycopg.rows import DictRow

from eungdapso_platform.db import Database
from eungdapso_platform.logging import get_logger

log = get_logger("eungdapso.readmodel")


class ReadModelError(RuntimeError):
    pass


class IncompleteRebuild(ReadModelError):
    """The new generation lacks messages the live one applied: it is not swapped in."""


@dataclass(frozen=True)
class ReadModel:
    name: str
    shape: int
    #: Logical table name → DDL statements, with `{table}` for the generation's table and
    #: `{schema}` for the service's schema.
    tables: Mapping[str, tuple[str, ...]]

    def physical(self, table: str, generation: int) -> str:
        return f"{table}_g{generation}"


@dataclass(frozen=True)
class Generation:
    model: ReadModel
    number: int
    schema: str

    def table(self, table: str) -> sql.Identifier:
        return sql.Identifier(self.schema, self.model.physical(table, self.number))

    def sql(self, template: str, **extra: sql.Composable) -> sql.SQL:
        """Format `{schema}` and every `{<table>}` of the model to this generation's names.
        Without `extra`, rendered once per statement and generation (a projection runs the
        same few statements for every event; psycopg parses a plain statement once too, a
        composed one's parts on every execution)."""
        names = tuple((table, self.model.physical(table, self.number)) for table in self.model.tables)
        if extra:
            return sql.SQL(_composed(template, self.schema, names, **extra).as_string(None))
        return _rendered(template, self.schema, names)


def _composed(
    template: str, schema: str, names: tuple[tuple[str, str], ...], **extra: sql.Composable
) -> sql.Composed:
    tables = {table: sql.Identifier(schema, physical) for table, physical in names}
    return sql.SQL(template).format(schema=sql.Identifier(schema), **tables, **extra)


@lru_cache(maxsize=4096)
def _rendered(template: str, schema: str, names: tuple[tuple[str, str], ...]) -> sql.SQL:
    """A statement rendered for a generation's tables (templates are constants: a few hundred)."""
    return sql.SQL(_composed(template, schema, names).as_string(None))


class ProjectionTx:
    """What a projection handler works with: the batch's transaction and its generation."""

    def __init__(self, conn: AsyncConnection[DictRow], generation: Generation) -> None:
        self.conn = conn
        self.generation = generation

    def sql(self, template: str) -> sql.SQL:
        return self.generation.sql(template)

    async def execute(self, template: str, params: tuple[object, ...] = ()) -> None:
        await self.conn.execute(self.sql(template), params)


class ReadModels:
    """The lifecycle of a service's read models, kept in `<schema>.read_models`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def ensure(self, model: ReadModel) -> int | None:
        """Make sure a live generation exists (creating generation 1 when there is none).
        Returns the live generation, or None when it has an older shape than the code
        (it must be rebuilt before the code can apply events to it)."""
        async with self.db.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self._lock_key(model),))
            row = await self._live_row(conn, model, lock=False)
            if row is None:
                await self._create_generation(conn, model, 1, state="live")
                await self._point_views(conn, model, 1)
                log.info("read_model_created", read_model=model.name, generation=1, shape=model.shape)
                return 1
            if row["shape"] > model.shape:
                raise ReadModelError(
                    f"read model {model.name} is live in shape {row['shape']}, newer than this code's "
                    f"shape {model.shape}: run the newer version, or rebuild with this one"
                )
            if row["shape"] < model.shape:
                return None
            return int(row["version"])

    async def live_generation(self, conn: AsyncConnection[DictRow], model: ReadModel) -> int:
        """The live generation, share-locked for the caller's transaction (a swap waits
        for it, and it waits for a swap)."""
        row = await self._live_row(conn, model, lock=True)
        if row is None:
            # A swap committed while this waited for its lock: the row it waited for is no
            # longer live, and the new live one was not in this statement's snapshot (READ
            # COMMITTED). The next statement's snapshot has it.
            row = await self._live_row(conn, model, lock=True)
        if row is None:
            raise ReadModelError(f"read model {model.name} has no live generation")
        return int(row["version"])

    async def begin_generation(self, model: ReadModel, ledger_of: str) -> int:
        """Create the next generation's tables (empty) beside the live one."""
        async with self.db.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self._lock_key(model),))
            cur = await conn.execute(
                self.db.sql("SELECT coalesce(max(version), 0) AS v FROM {schema}.read_models WHERE name=%s"),
                (model.name,),
            )
            row = await cur.fetchone()
            number = int(row["v"] if row else 0) + 1
            await self._drop_unfinished(conn, model)
            await self._create_generation(conn, model, number, state="building")
            await conn.execute(
                self.db.sql("DELETE FROM {schema}.processed_messages WHERE consumer=%s"),
                (ledger_of + f"@{number}",),
            )
        log.info("read_model_generation_started", read_model=model.name, generation=number)
        return number

    async def missing_from(
        self, conn: AsyncConnection[DictRow], live_ledger: str, new_ledger: str
    ) -> set[str]:
        """The messages the live ledger holds and the new one does not."""
        cur = await conn.execute(
            self.db.sql(
                "SELECT l.message_id FROM {schema}.processed_messages l"
                " WHERE l.consumer=%s AND NOT EXISTS (SELECT 1 FROM {schema}.processed_messages n"
                " WHERE n.consumer=%s AND n.message_id=l.message_id)"
            ),
            (live_ledger, new_ledger),
        )
        return {row["message_id"] for row in await cur.fetchall()}

    async def swap(
        self, conn: AsyncConnection[DictRow], model: ReadModel, new: int, ledger_of: str
    ) -> int | None:
        """Inside the caller's transaction, which holds the live row's lock (`lock_live`):
        point the views at generation `new` and retire the old one. Returns the retired one."""
        old = await self._live_row(conn, model, lock=False)
        await conn.execute(
            self.db.sql("UPDATE {schema}.read_models SET state='retired' WHERE name=%s AND state='live'"),
            (model.name,),
        )
        await conn.execute(
            self.db.sql(
                "UPDATE {schema}.read_models SET state='live', live_since=now() WHERE name=%s AND version=%s"
            ),
            (model.name, new),
        )
        await self._point_views(conn, model, new)
        if old is None:
            return None
        retired = int(old["version"])
        for table in model.tables:
            await conn.execute(
                sql.SQL("DROP TABLE IF EXISTS {}").format(
                    sql.Identifier(self.db.schema, model.physical(table, retired))
                )
            )
        await conn.execute(
            self.db.sql("DELETE FROM {schema}.processed_messages WHERE consumer=%s"),
            (f"{ledger_of}@{retired}",),
        )
        return retired

    async def lock_live(self, conn: AsyncConnection[DictRow], model: ReadModel) -> int | None:
        cur = await conn.execute(
            self.db.sql("SELECT version FROM {schema}.read_models WHERE name=%s AND state='live' FOR UPDATE"),
            (model.name,),
        )
        row = await cur.fetchone()
        return int(row["version"]) if row else None

    async def abandon(self, model: ReadModel) -> None:
        async with self.db.transaction() as conn:
            await self._drop_unfinished(conn, model)

    # -- internals -----------------------------------------------------------------
    def _lock_key(self, model: ReadModel) -> str:
        return f"eungdapso.{self.db.schema}.readmodel.{model.name}"

    async def _live_row(
        self, conn: AsyncConnection[DictRow], model: ReadModel, *, lock: bool
    ) -> DictRow | None:
        cur = await conn.execute(
            self.db.sql(
                "SELECT version, shape FROM {schema}.read_models WHERE name=%s AND state='live'"
                + (" FOR SHARE" if lock else "")
            ),
            (model.name,),
        )
        return await cur.fetchone()

    async def _create_generation(
        self, conn: AsyncConnection[DictRow], model: ReadModel, number: int, *, state: str
    ) -> None:
        generation = Generation(model, number, self.db.schema)
        for table, statements in model.tables.items():
            for statement in statements:
                await conn.execute(generation.sql(statement, table=generation.table(table)))
        await conn.execute(
            self.db.sql(
                "INSERT INTO {schema}.read_models (name, version, shape, state, live_since)"
                " VALUES (%s, %s, %s, %s, CASE WHEN %s = 'live' THEN now() END)"
            ),
            (model.name, number, model.shape, state, state),
        )

    async def _point_views(self, conn: AsyncConnection[DictRow], model: ReadModel, number: int) -> None:
        for table in model.tables:
            view = sql.Identifier(self.db.schema, table)
            await conn.execute(sql.SQL("DROP VIEW IF EXISTS {}").format(view))
            await conn.execute(
                sql.SQL("CREATE VIEW {} AS SELECT * FROM {}").format(
                    view, sql.Identifier(self.db.schema, model.physical(table, number))
                )
            )

    async def _drop_unfinished(self, conn: AsyncConnection[DictRow], model: ReadModel) -> None:
        cur = await conn.execute(
            self.db.sql("SELECT version FROM {schema}.read_models WHERE name=%s AND state='building'"),
            (model.name,),
        )
        for row in await cur.fetchall():
            for table in model.tables:
                await conn.execute(
                    sql.SQL("DROP TABLE IF EXISTS {}").format(
                        sql.Identifier(self.db.schema, model.physical(table, int(row["version"])))
                    )
                )
        await conn.execute(
            self.db.sql("DELETE FROM {schema}.read_models WHERE name=%s AND state='building'"), (model.name,)
        )
