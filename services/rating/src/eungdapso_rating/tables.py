"""The rating service's own tables, written in the same transaction as the events they
follow from:
- `ratings`: one row per rating (no comment: it is personal), summed up per office and
  month (`summary`), the month being the rating's in Seoul time;
- `offices`: office names as the router's assignments name them, so that a rating page
  shows the office's name and not only its code;
- `link_key`: the key rating links are signed with when none is configured.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from eungdapso_platform.db import Database
from eungdapso_platform.eventstore import Write
from eungdapso_platform.migrations import Migration
from eungdapso_rating.domainmodel import Invitation

SEOUL = ZoneInfo("Asia/Seoul")

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "rating",
        1,
        "ratings (per office and month), office names, and the key rating links are signed with",
        (
            "CREATE TABLE {schema}.ratings ("
            " invitation_id uuid PRIMARY KEY,"
            " complaint_id uuid NOT NULL,"
            # NULL for the desk's instant answers.
            " office text,"
            " answered_by text NOT NULL,"
            " score smallint NOT NULL CHECK (score BETWEEN 1 AND 5),"
            " rated_at timestamptz NOT NULL,"
            # YYYY-MM of rated_at in Seoul.
            " month text NOT NULL)",
            "CREATE INDEX ratings_month_office ON {schema}.ratings (month, office)",
            "CREATE TABLE {schema}.offices (code text PRIMARY KEY, name text NOT NULL)",
            "CREATE TABLE {schema}.link_key ("
            " id integer PRIMARY KEY CHECK (id = 1),"
            " secret text NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now())",
        ),
    ),
)


def month_of(at: datetime) -> str:
    return at.astimezone(SEOUL).strftime("%Y-%m")


def rating_row(invitation: Invitation) -> Write:
    assert invitation.score is not None and invitation.rated_at is not None
    return Write(
        "INSERT INTO {schema}.ratings"
        " (invitation_id, complaint_id, office, answered_by, score, rated_at, month)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            invitation.id,
            invitation.complaint_id,
            invitation.office,
            invitation.answered_by,
            invitation.score,
            invitation.rated_at,
            month_of(invitation.rated_at),
        ),
    )


def office_row(code: str, name: str) -> Write:
    return Write(
        "INSERT INTO {schema}.offices AS t (code, name) VALUES (%s, %s)"
        " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name WHERE t.name <> EXCLUDED.name",
        (code, name),
    )


async def link_key(db: Database) -> str:
    """The key kept in the database, made by the first replica that asks."""
    async with db.transaction() as conn:
        await conn.execute(
            db.sql("INSERT INTO {schema}.link_key (id, secret) VALUES (1, %s) ON CONFLICT (id) DO NOTHING"),
            (secrets.token_urlsafe(48),),
        )
        cur = await conn.execute(db.sql("SELECT secret FROM {schema}.link_key WHERE id = 1"))
        row = await cur.fetchone()
    assert row is not None
    secret: str = row["secret"]
    return secret


class OfficeFigures(BaseModel):
    """One office's ratings in a month (no comment: it is personal)."""

    #: Null: the desk's instant answers.
    office: str | None
    name: str | None
    count: int
    mean: float
    #: How many scored 1–2 (each asked the office for a review).
    low: int
    by_score: dict[int, int]


class RatingQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def office_name(self, code: str, *, deadline: float) -> str | None:
        async def read(conn: Any) -> str | None:
            cur = await conn.execute(
                self.db.sql("SELECT name FROM {schema}.offices WHERE code = %s"), (code,)
            )
            row = await cur.fetchone()
            return None if row is None else str(row["name"])

        return await self.db.run(read, deadline=deadline)

    async def summary(self, month: str, office: str | None, *, deadline: float) -> list[OfficeFigures]:
        where = "r.month = %s" + (" AND r.office = %s" if office is not None else "")
        params: tuple[Any, ...] = (month, office) if office is not None else (month,)
        statement = self.db.sql(
            "SELECT r.office, o.name, count(*) AS n, avg(r.score)::float AS mean,"
            " count(*) FILTER (WHERE r.score <= 2) AS low,"
            + ", ".join(f" count(*) FILTER (WHERE r.score = {s}) AS s{s}" for s in range(1, 6))
            + " FROM {schema}.ratings r LEFT JOIN {schema}.offices o ON o.code = r.office"
            f" WHERE {where} GROUP BY r.office, o.name ORDER BY r.office NULLS FIRST"
        )

        async def read(conn: Any) -> list[OfficeFigures]:
            cur = await conn.execute(statement, params)
            return [
                OfficeFigures(
                    office=row["office"],
                    name=row["name"],
                    count=row["n"],
                    mean=round(row["mean"], 2),
                    low=row["low"],
                    by_score={s: row[f"s{s}"] for s in range(1, 6)},
                )
                for row in await cur.fetchall()
            ]

        return await self.db.run(read, deadline=deadline)
