"""`GET /api/v1/deadlines/compute`: the due moment of a period from a moment of receipt."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from eungdapso_platform.problems import Problem
from eungdapso_sla.calendar import BusinessCalendar
from eungdapso_sla.compute import BadQuestion, question

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
    calendar: BusinessCalendar = request.app.state.calendar
    return ComputedDue(
        received=asked.received,
        due=asked.answer(calendar),
        amount=asked.period.amount,
        unit=asked.period.unit.value,
        rule=asked.period.rule.value,
        declared_holidays=list(asked.declared),
    )
