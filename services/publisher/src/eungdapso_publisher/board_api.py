"""`GET /api/v1/board`: what the live board shows beside the feed — today's counts (Asia/Seoul)
and the open complaints per district, from the public projection. Confidential reports count
in the totals but under no district (their district is not public)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from eungdapso_platform.db import Database
from eungdapso_publisher.projection import DONE, PublicStatusQueries

router = APIRouter(tags=["public board"])
SEOUL = ZoneInfo("Asia/Seoul")

BOARD_SQL = """
SELECT
  count(*) FILTER (WHERE received_at >= %(start)s AND received_at < %(end)s) AS received,
  count(*) FILTER (WHERE answered_at >= %(start)s AND answered_at < %(end)s) AS answered,
  count(*) FILTER (WHERE status <> ALL(%(done)s)) AS open,
  count(*) FILTER (WHERE status = 'overdue') AS overdue
FROM {schema}.public_complaints
"""
BY_DISTRICT_SQL = """
SELECT coalesce(classified_district, district) AS district, count(*) AS open
FROM {schema}.public_complaints
WHERE status <> ALL(%(done)s) AND NOT confidential AND coalesce(classified_district, district) IS NOT NULL
GROUP BY 1
"""


class Today(BaseModel):
    date: str = Field(description="YYYY-MM-DD in Asia/Seoul")
    received: int = Field(ge=0, description="Complaints received today")
    answered: int = Field(
        ge=0, description="Complaints answered today (by an office, the desk or as a duplicate)"
    )
    open: int = Field(ge=0, description="Complaints not yet answered, whenever received")
    overdue: int = Field(ge=0, description="Open complaints past their deadline")


class Board(BaseModel):
    today: Today
    #: District code → open complaints.
    open_by_district: dict[str, int]


async def get_queries(request: Request) -> PublicStatusQueries:
    queries: PublicStatusQueries = request.app.state.queries
    return queries


@router.get("/api/v1/board", response_model=Board, summary="Today's counts and open complaints by district")
async def board(queries: Annotated[PublicStatusQueries, Depends(get_queries)]) -> Board:
    db: Database = queries.db
    day = datetime.now(SEOUL).date()
    start = datetime.combine(day, time(), SEOUL)
    params = {"start": start, "end": start + timedelta(days=1), "done": list(DONE)}
    async with db.pool.connection() as conn:
        totals = await (await conn.execute(db.sql(BOARD_SQL), params)).fetchone()
        districts = await (await conn.execute(db.sql(BY_DISTRICT_SQL), params)).fetchall()
    assert totals is not None
    return Board(
        today=Today(
            date=day.isoformat(), **{k: int(totals[k]) for k in ("received", "answered", "open", "overdue")}
        ),
        open_by_district={row["district"]: int(row["open"]) for row in districts},
    )
