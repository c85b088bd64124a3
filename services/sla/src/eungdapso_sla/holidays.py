"""Holidays declared at run time (an election day, a one-off temporary holiday, 임시공휴일):
recorded as events of one aggregate, so that every replica, and a replay, counts with the
same calendar. Its version is the calendar's version: a deadline remembers the version it
was counted with, and one counted with an older version is counted again (and moved, the
move recorded) by the scheduler or the next event about it."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from eungdapso_platform.domain import DomainError, RecordedAggregate
from eungdapso_platform.eventstore import derived_id
from eungdapso_sla.calendar import BusinessCalendar

HOLIDAYS_ID = derived_id("declared-holidays", "seoul")


class DeclaredHolidays(RecordedAggregate):
    class Started(RecordedAggregate.Created):
        pass

    class Declared(RecordedAggregate.Event):
        #: ISO date (YYYY-MM-DD).
        day: str
        name: str

    @event(Started)
    def __init__(self, id: UUID) -> None:
        self.days: dict[str, str] = {}

    @classmethod
    def start(cls) -> DeclaredHolidays:
        return cls(id=HOLIDAYS_ID)

    @event(Declared)
    def _declared(self, day: str, name: str) -> None:
        self.days[day] = name

    def declare(self, day: date, name: str, calendar: BusinessCalendar) -> None:
        name = name.strip()
        if not name or len(name) > 100:
            raise DomainError("a declared holiday has a name of 1-100 characters")
        if day.isoformat() in self.days:
            raise DomainError(
                f"{day.isoformat()} is already declared a holiday ({self.days[day.isoformat()]})"
            )
        if not calendar.is_working_day(day):
            raise DomainError(f"{day.isoformat()} is not a working day already: declaring it changes nothing")
        self._declared(day=day.isoformat(), name=name)

    @property
    def dates(self) -> tuple[date, ...]:
        return tuple(sorted(date.fromisoformat(d) for d in self.days))


def declare_holiday(application: Any, day: date, name: str, base: BusinessCalendar) -> DeclaredHolidays:
    """Record `day` as a declared holiday (raises `DomainError` when refused, `IntegrityError`
    when another declaration was recorded at the same moment: ask again)."""
    found = application.find(HOLIDAYS_ID)
    declared = found if isinstance(found, DeclaredHolidays) else DeclaredHolidays.start()
    declared.declare(day, name, base.with_holidays(declared.dates))
    application.save(declared)
    return declared


class Calendars:
    """The base calendar plus the declared holidays of a version, built once per version."""

    def __init__(self, base: BusinessCalendar) -> None:
        self.base = base
        self._built: dict[int, BusinessCalendar] = {0: base}

    def of(self, holidays: DeclaredHolidays | None) -> tuple[int, BusinessCalendar]:
        if holidays is None:
            return 0, self.base
        version = int(holidays.version)
        if version not in self._built:
            self._built = {0: self.base, version: self.base.with_holidays(holidays.dates)}
        return version, self._built[version]
