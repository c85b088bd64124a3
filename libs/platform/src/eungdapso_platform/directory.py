"""A service's copy of the organisation directory (조직 디렉터리): the latest version the router
published on its stream (`DirectoryPublishedV1`), kept by a `directory` projection in the
service's own schema (register `on_published` on a `Projection` with `DIRECTORY`). Casework
checks transfer targets against it; the notifier names offices by it.

Versions arrive in order (one fixed key, one partition); a version not newer than the one in
force (a redelivery, a replay) changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from eungdapso_platform.consumer import Projection
from eungdapso_platform.db import Database
from eungdapso_platform.readmodel import ProjectionTx, ReadModel
from eungdapso_platform.settings import ServiceSettings
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import DirectoryPublishedV1

DIRECTORY = ReadModel(
    name="directory",
    shape=1,
    tables={
        "directory_versions": (
            "CREATE TABLE {table} ("
            " version integer PRIMARY KEY,"
            " edition text NOT NULL,"
            " content_hash text NOT NULL,"
            " published_at timestamptz NOT NULL)",
        ),
        # The offices of the version in force only.
        "directory_offices": (
            "CREATE TABLE {table} ("
            " code text PRIMARY KEY,"
            " name text NOT NULL,"
            " level text NOT NULL,"
            " kind text NOT NULL,"
            " version integer NOT NULL)",
        ),
    },
)


async def on_published(tx: ProjectionTx, envelope: Envelope[DirectoryPublishedV1]) -> None:
    published = envelope.data
    cur = await tx.conn.execute(tx.sql("SELECT max(version) AS v FROM {directory_versions}"))
    row = await cur.fetchone()
    if row is not None and row["v"] is not None and row["v"] >= published.version:
        return
    await tx.execute(
        "INSERT INTO {directory_versions} (version, edition, content_hash, published_at)"
        " VALUES (%s, %s, %s, %s)",
        (published.version, published.edition, published.content_hash, published.published_at),
    )
    await tx.execute("DELETE FROM {directory_offices}")
    offices = published.offices
    await tx.execute(
        "INSERT INTO {directory_offices} (code, name, level, kind, version)"
        " SELECT code, name, level, kind, %s"
        " FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS o(code, name, level, kind)",
        (
            published.version,
            [o.code for o in offices],
            [o.name for o in offices],
            [o.level.value for o in offices],
            [o.kind for o in offices],
        ),
    )


def projection(settings: ServiceSettings, db: Database) -> Projection:
    """The service's `directory` projection (component `<service>.directory`), on its
    cadence (`DIRECTORY_CADENCE_S`): nobody waits on a directory version to the millisecond."""
    component = Projection(
        "directory",
        service=settings.service_name,
        db=db,
        read_model=DIRECTORY,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        cadence_s=settings.directory_cadence_s,
    )
    component.on(DirectoryPublishedV1, on_published)
    return component


class DirectoryQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def in_force(self, *, deadline: float | None = None) -> int | None:
        """The version in force, None before the first reached casework."""

        async def read(conn: Any) -> int | None:
            cur = await conn.execute(self.db.sql("SELECT max(version) AS v FROM {schema}.directory_versions"))
            row = await cur.fetchone()
            return None if row is None or row["v"] is None else int(row["v"])

        return await self.db.run(read, deadline=deadline)

    async def office(self, code: str, *, deadline: float | None = None) -> dict[str, Any] | None:
        async def read(conn: Any) -> dict[str, Any] | None:
            cur = await conn.execute(
                self.db.sql("SELECT code, name, level, kind FROM {schema}.directory_offices WHERE code=%s"),
                (code,),
            )
            found: dict[str, Any] | None = await cur.fetchone()
            return found

        return await self.db.run(read, deadline=deadline)

    async def names(self, codes: Collection[str]) -> dict[str, str]:
        """The names of those of `codes` that are offices of the version in force, in one query."""
        if not codes:
            return {}

        async def read(conn: Any) -> dict[str, str]:
            cur = await conn.execute(
                self.db.sql("SELECT code, name FROM {schema}.directory_offices WHERE code = ANY(%s)"),
                (sorted(set(codes)),),
            )
            return {row["code"]: row["name"] for row in await cur.fetchall()}

        return await self.db.run(read)
