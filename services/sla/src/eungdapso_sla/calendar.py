"""The Korean business calendar the statutory periods are counted on (Asia/Seoul).

A working day is a weekday that is not a public holiday. Public holidays are those of
`holidays.KR` (관공서의 공휴일에 관한 규정: New Year, Seollal and Chuseok with their eves,
Buddha's Birthday, substitute holidays, election days the library knows; from 2026 also
노동절 and 제헌절, per the 인사혁신처 release the library cites) plus holidays
**declared** by the city at run time (an election day, a one-off temporary holiday), which
are passed in so that a replay with the same declarations computes the same deadlines.
Sundays are public holidays under the same regulation (제2조제1호) and Saturdays are not
counted (민원 처리에 관한 법률 제19조), so neither is a working day.

Working hours are those of 국가공무원 복무규정 제9조 (09:00-18:00, lunch 12:00-13:00),
configurable because an office may keep other hours; "a day" in hours is their length (8).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays

SEOUL = ZoneInfo("Asia/Seoul")


@dataclass(frozen=True)
class WorkingHours:
    start: time = time(9)
    end: time = time(18)
    lunch_start: time = time(12)
    lunch_end: time = time(13)

    def __post_init__(self) -> None:
        if not (self.start < self.lunch_start <= self.lunch_end < self.end):
            raise ValueError("working hours need start < lunch start <= lunch end < end")

    def intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The working intervals of `day` in Seoul (morning, afternoon)."""

        def at(t: time) -> datetime:
            return datetime.combine(day, t, SEOUL)

        return ((at(self.start), at(self.lunch_start)), (at(self.lunch_end), at(self.end)))

    @cached_property
    def per_day(self) -> timedelta:
        anchor = date(2000, 1, 3)
        return sum((b - a for a, b in self.intervals(anchor)), timedelta())


def in_seoul(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a moment needs its offset (e.g. 2026-02-13T10:00+09:00)")
    return moment.astimezone(SEOUL)


class BusinessCalendar:
    """Working days and working hours; immutable: `with_holidays` gives another calendar."""

    def __init__(self, declared: Iterable[date] = (), hours: WorkingHours | None = None) -> None:
        self.declared = frozenset(declared)
        self.hours = hours or WorkingHours()
        # The library expands years on demand; one instance per calendar keeps that cache.
        self._public = holidays.country_holidays("KR")

    def with_holidays(self, more: Iterable[date]) -> BusinessCalendar:
        return BusinessCalendar(self.declared | frozenset(more), self.hours)

    def is_holiday(self, day: date) -> bool:
        return day in self.declared or day in self._public

    def holiday_name(self, day: date) -> str | None:
        if day in self.declared:
            return "declared holiday"
        name = self._public.get(day)
        return str(name) if name is not None else None

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and not self.is_holiday(day)

    def working_day_on_or_after(self, day: date) -> date:
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def next_working_day(self, day: date) -> date:
        return self.working_day_on_or_after(day + timedelta(days=1))

    def close_of(self, day: date) -> datetime:
        """The end of the working day `day` (deadlines counted in days end then)."""
        return datetime.combine(day, self.hours.end, SEOUL)

    def is_working_moment(self, moment: datetime) -> bool:
        """Within working hours of a working day, the ends of each interval included."""
        local = in_seoul(moment)
        if not self.is_working_day(local.date()):
            return False
        return any(a <= local <= b for a, b in self.hours.intervals(local.date()))

    def _intervals_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The working intervals from `moment` on, the first one cut at `moment`."""
        local = in_seoul(moment)
        day = local.date()
        while True:
            if self.is_working_day(day):
                for a, b in self.hours.intervals(day):
                    if b > local:
                        yield max(a, local), b
            day += timedelta(days=1)

    def add_working_time(self, moment: datetime, amount: timedelta) -> datetime:
        """The moment at which `amount` of working time has passed since `moment`.

        Time outside working hours does not count; the count ends as soon as the amount is
        reached, so a period may end at the very end of an interval (12:00, 18:00).
        """
        if amount <= timedelta():
            raise ValueError("a period counted in working time must be positive")
        left = amount
        for a, b in self._intervals_from(moment):
            if b - a >= left:
                return a + left
            left -= b - a
        raise AssertionError("unreachable: the calendar has no end")

    def subtract_working_time(self, moment: datetime, amount: timedelta) -> datetime:
        """The moment `amount` of working time before `moment` (for warnings)."""
        local = in_seoul(moment)
        left = amount
        day = local.date()
        while True:
            if self.is_working_day(day):
                for a, b in reversed(self.hours.intervals(day)):
                    if a >= local:
                        continue
                    end = min(b, local)
                    if end - a >= left:
                        return end - left
                    left -= end - a
            day -= timedelta(days=1)

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from `start` to `end` (zero when `end` is not later)."""
        end = in_seoul(end)
        total = timedelta()
        for a, b in self._intervals_from(start):
            if a >= end:
                break
            total += min(b, end) - a
        return total

    def working_days_between(self, first: date, last: date) -> int:
        """Working days from `first` to `last`, both included (zero when `last` is earlier)."""
        count = 0
        day = first
        while day <= last:
            count += self.is_working_day(day)
            day += timedelta(days=1)
        return count
