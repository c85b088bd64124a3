"""`GET /api/v1/deadlines/compute`: the due moment of a period from a moment of receipt."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from eungdapso_platform.problems import Problem
from eungdapso_sla.application import SlaApplication
from eungdapso_sla.calendar import BusinessCalendar
from eungdapso_sla.compute import BadQuestion, question
from eungdapso_sla.holidays import HOLIDAYS_ID, Calendars, DeclaredHolidays

router = APIRouter()


class ComputedDue(BaseModel):
    received: datetime
    due: datetime
    amount: int
    unit: str
    #: How the period was counted (working_hours, working_days, calendar, same_day, elapsed).
    rule: str
    declared_holidays: list[date]


@router.get(
    "/api/v1/deadlines/compute",
    response_model=ComputedDue,
    summary="The due moment of a statutory period counted from a moment of receipt (Asia/Seoul)",
    responses={422: {"description": "A missing or bad moment, period or holiday (RFC 9457 problem)"}},
)
async def compute_due(
    request: Request,
    received: Annotated[str, Query(description="Moment of receipt, ISO 8601 with offset")],
    days: Annotated[int | None, Query()] = None,
    weeks: Annotated[int | None, Query()] = None,
    months: Annotated[int | None, Query()] = None,
    years: Annotated[int | None, Query()] = None,
    immediately: bool = False,
    simple: bool = False,
    holiday: Annotated[list[str] | None, Query(description="A declared holiday, YYYY-MM-DD")] = None,
) -> ComputedDue:
    try:
        asked = question(
            received=received,
            days=days,
            weeks=weeks,
            months=months,
            years=years,
            immediately=immediately,
            simple=simple,
            holidays=holiday,
        )
    except BadQuestion as exc:
        raise Problem(422, "Cannot compute the deadline", str(exc), type_="deadline-question") from None
    _, calendar = await current_calendar(request)
    return ComputedDue(
        received=asked.received,
        due=asked.answer(calendar),
        amount=asked.period.amount,
        unit=asked.period.unit.value,
        rule=asked.period.rule.value,
        declared_holidays=sorted(calendar.declared | set(asked.declared)),
    )


async def current_calendar(request: Request) -> tuple[int, BusinessCalendar]:
    """The service's calendar with the holidays declared so far (one read of the store)."""
    calendars: Calendars = request.app.state.calendars
    application: SlaApplication = request.app.state.application
    return await asyncio.to_thread(lambda: calendars.of(application.find(HOLIDAYS_ID)))


class DeclaredHoliday(BaseModel):
    day: date
    name: str


class DeclaredHolidayList(BaseModel):
    #: The version of the declarations (each declaration adds one).
    version: int
    holidays: list[DeclaredHoliday]


@router.get(
    "/api/v1/deadlines/holidays",
    response_model=DeclaredHolidayList,
    summary="Holidays declared at run time, on top of the public holidays of the law",
)
async def declared_holidays(request: Request) -> DeclaredHolidayList:
    application: SlaApplication = request.app.state.application
    found = await asyncio.to_thread(application.find, HOLIDAYS_ID)
    if not isinstance(found, DeclaredHolidays):
        return DeclaredHolidayList(version=0, holidays=[])
    return DeclaredHolidayList(
        version=found.version,
        holidays=[DeclaredHoliday(day=date.fromisoformat(d), name=n) for d, n in sorted(found.days.items())],
    )
