"""Versioned schema migrations for the platform's and the services' own tables.

Each migration has a component (`platform`, or a service's name), a version and its SQL.
`migrate` applies the pending ones in order, each in its own transaction with its row in
`<schema>.schema_migrations`, under an advisory lock so that replicas starting together
apply each exactly once. A change of a table is a new migration, never an edit of an old
one. Read-model tables are not migrated in place: a projection with a new shape gets a new
version, built beside the live one (`eungdapso_platform.readmodel`). The event store's own
tables belong to the `eventsourcing` library, which creates them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import psycopg
from psycopg import sql

from eungdapso_platform.logging import get_logger

log = get_logger("eungdapso.migrations")


@dataclass(frozen=True)
class Migration:
    component: str
    version: int
    description: str
    #: Statements with `{schema}` for the service's schema.
    statements: tuple[str, ...]


PLATFORM_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "platform",
        1,
        "consumer ledger: one row per message a component applied, written with its effect",
        (
            # IF NOT EXISTS: adopts databases made before migrations existed (same table).
            "CREATE TABLE IF NOT EXISTS {schema}.processed_messages ("
            " consumer text NOT NULL,"
            " message_id text NOT NULL,"
            " processed_at timestamptz NOT NULL DEFAULT now(),"
            " PRIMARY KEY (consumer, message_id))",
        ),
    ),
    Migration(
        "platform",
        2,
        "outbox relay positions, and the last record the broker acknowledged (history check)",
        (
            "CREATE TABLE IF NOT EXISTS {schema}.outbox_positions ("
            " relay text PRIMARY KEY,"
            " last_notification_id bigint NOT NULL,"
            " updated_at timestamptz NOT NULL DEFAULT now())",
            "ALTER TABLE {schema}.outbox_positions ADD COLUMN IF NOT EXISTS last_topic text,"
            " ADD COLUMN IF NOT EXISTS last_partition integer, ADD COLUMN IF NOT EXISTS last_offset bigint,"
            " ADD COLUMN IF NOT EXISTS last_event_id text",
        ),
    ),
    Migration(
        "platform",
        3,
        "read-model versions (generations): which is live, which is being built, of which shape",
        (
            "CREATE TABLE {schema}.read_models ("
            " name text NOT NULL,"
            " version integer NOT NULL,"
            " shape integer NOT NULL,"
            " state text NOT NULL CHECK (state IN ('building', 'live', 'retired')),"
            " created_at timestamptz NOT NULL DEFAULT now(),"
            " live_since timestamptz,"
            " PRIMARY KEY (name, version))",
            "CREATE UNIQUE INDEX read_models_one_live ON {schema}.read_models (name) WHERE state = 'live'",
        ),
    ),
)

_BOOTSTRAP = (
    "CREATE SCHEMA IF NOT EXISTS {schema}",
    # The one table that must exist before any migration can be recorded.
    "CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
    " component text NOT NULL,"
    " version integer NOT NULL,"
    " description text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (component, version))",
)


@lru_cache(maxsize=1024)
def schema_sql(template: str, schema: str) -> sql.SQL:
    """A statement with `{schema}` bound to the service's schema: rendered once per statement
    and schema (the consumers run the same few statements for every batch; psycopg parses a
    plain statement once too, a composed one's parts on every execution)."""
    return sql.SQL(sql.SQL(template).format(schema=sql.Identifier(schema)).as_string(None))


def migrate(
    conninfo: str, schema: str, migrations: Sequence[Migration], *, connect_timeout_s: int = 5
) -> int:
    """Apply what is pending; returns how many migrations were applied."""
    _check_order(migrations)
    applied = 0
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=connect_timeout_s) as conn:
        with conn.transaction():
            # Replicas starting together: one migrates, the others wait and find it done.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"eungdapso.{schema}.migrations",))
            for statement in _BOOTSTRAP:
                conn.execute(schema_sql(statement, schema))
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"eungdapso.{schema}.migrations",))
            done = {
                (row[0], row[1])
                for row in conn.execute(
                    schema_sql("SELECT component, version FROM {schema}.schema_migrations", schema)
                )
            }
            for migration in migrations:
                if (migration.component, migration.version) in done:
                    continue
                with conn.transaction():
                    for statement in migration.statements:
                        conn.execute(schema_sql(statement, schema))
                    conn.execute(
                        schema_sql(
                            "INSERT INTO {schema}.schema_migrations (component, version, description)"
                            " VALUES (%s, %s, %s)",
                            schema,
                        ),
                        (migration.component, migration.version, migration.description),
                    )
                applied += 1
                log.info(
                    "migration_applied",
                    schema=schema,
                    component=migration.component,
                    version=migration.version,
                    description=migration.description,
                )
    return applied


def _check_order(migrations: Sequence[Migration]) -> None:
    last: dict[str, int] = {}
    for m in migrations:
        if m.version != last.get(m.component, 0) + 1:
            raise ValueError(f"migrations of {m.component} must be numbered 1, 2, 3, ... in order")
        last[m.component] = m.version
