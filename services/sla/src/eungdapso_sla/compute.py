"""One question, two entry points: "when is a period counted from this receipt due?"

`python -m eungdapso_sla due ...` and `GET /api/v1/deadlines/compute` both turn their input
into a `DueQuestion` here, so they accept and refuse exactly the same things.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from eungdapso_sla.calendar import BusinessCalendar, in_seoul
from eungdapso_sla.periods import Period, Unit, due

#: Bounds that keep a computation short and catch typos (a 3,000-month period is one).
MAX_AMOUNT = {Unit.DAYS: 730, Unit.WEEKS: 104, Unit.MONTHS: 24, Unit.YEARS: 2}
MAX_DECLARED_HOLIDAYS = 50
# A `+09:00` offset sent unencoded in a query string arrives as a space.
_SPACE_FOR_PLUS = re.compile(r"^(.*T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")


class BadQuestion(ValueError):
    """The input cannot be answered; the message says what to change."""


@dataclass(frozen=True)
class DueQuestion:
    received: datetime
    period: Period
    declared: tuple[date, ...] = ()

    def answer(self, calendar: BusinessCalendar) -> datetime:
        return due(self.received, self.period, calendar.with_holidays(self.declared))


def parse_received(text: str) -> datetime:
    text = text.strip()
    if m := _SPACE_FOR_PLUS.match(text):
        text = f"{m.group(1)}+{m.group(2)}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadQuestion(
            f"received {text!r} is not an ISO 8601 moment; write e.g. 2026-02-13T10:00+09:00"
        ) from None
    if moment.tzinfo is None:
        raise BadQuestion(f"received {text!r} has no offset; write e.g. 2026-02-13T10:00+09:00")
    return in_seoul(moment)


def parse_holiday(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadQuestion(f"holiday {text!r} is not a date; write YYYY-MM-DD") from None


def question(
    *,
    received: str,
    days: int | None = None,
    weeks: int | None = None,
    months: int | None = None,
    years: int | None = None,
    immediately: bool = False,
    simple: bool = False,
    holidays: list[str] | None = None,
) -> DueQuestion:
    amounts = {Unit.DAYS: days, Unit.WEEKS: weeks, Unit.MONTHS: months, Unit.YEARS: years}
    given = [unit for unit, amount in amounts.items() if amount is not None]
    chosen = len(given) + immediately + simple
    if chosen != 1:
        raise BadQuestion(
            "give exactly one period: days, weeks, months, years, immediately or simple"
            + (f" (got {chosen})" if chosen else "")
        )
    if immediately:
        period = Period.immediately()
    elif simple:
        period = Period.same_day()
    else:
        unit = given[0]
        amount = amounts[unit]
        assert amount is not None
        if not 1 <= amount <= MAX_AMOUNT[unit]:
            raise BadQuestion(f"{unit.value} must be between 1 and {MAX_AMOUNT[unit]}, not {amount}")
        period = Period(amount, unit)
    declared = tuple(parse_holiday(h) for h in holidays or ())
    if len(declared) > MAX_DECLARED_HOLIDAYS:
        raise BadQuestion(f"at most {MAX_DECLARED_HOLIDAYS} declared holidays, not {len(declared)}")
    return DueQuestion(parse_received(received), period, declared)
