"""`GET /api/v1/deadlines/compute`: the due moment of a period from a moment of receipt."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, StringConstraints

from eungdapso_platform.credentials import Client
from eungdapso_platform.domain import DomainError, acting_as
from eungdapso_platform.eventstore import IntegrityError
from eungdapso_platform.problems import Problem
from eungdapso_sla.admin import AdminScope, require_admin
from eungdapso_sla.application import SlaApplication
from eungdapso_sla.calendar import BusinessCalendar
from eungdapso_sla.compute import BadQuestion, question
from eungdapso_sla.holidays import HOLIDAYS_ID, Calendars, DeclaredHolidays, declare_holiday

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


class HolidayDeclaration(BaseModel):
    day: date
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


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
    return _listed(await asyncio.to_thread(application.find, HOLIDAYS_ID))


def _listed(found: object) -> DeclaredHolidayList:
    if not isinstance(found, DeclaredHolidays):
        return DeclaredHolidayList(version=0, holidays=[])
    return DeclaredHolidayList(
        version=found.version,
        holidays=[DeclaredHoliday(day=date.fromisoformat(d), name=n) for d, n in sorted(found.days.items())],
    )


@router.post(
    "/api/v1/deadlines/holidays",
    response_model=DeclaredHolidayList,
    status_code=201,
    summary="Declare a holiday at run time (admin key, scope `holidays`): open deadlines move",
    responses={
        401: {"description": "No or an unknown key (RFC 9457 problem)"},
        403: {"description": "A key without the `holidays` scope"},
        409: {"description": "Already declared, or not a working day anyway"},
    },
)
async def declare(
    request: Request,
    body: HolidayDeclaration,
    admin: Annotated[Client[AdminScope], Depends(require_admin(AdminScope.HOLIDAYS))],
) -> DeclaredHolidayList:
    application: SlaApplication = request.app.state.application
    calendars: Calendars = request.app.state.calendars

    def record() -> DeclaredHolidays:
        with acting_as(f"admin:{admin.name}"):
            return declare_holiday(application, body.day, body.name, calendars.base)

    try:
        declared = await asyncio.to_thread(record)
    except DomainError as exc:
        raise Problem(409, "Not declared", str(exc), type_="holiday-declaration") from None
    except IntegrityError:
        raise Problem(
            409,
            "Declared meanwhile",
            "Another declaration was recorded at the same moment; send it again.",
            type_="holiday-declaration",
        ) from None
    return _listed(declared)
