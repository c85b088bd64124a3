"""Processing periods (처리기간) and how each is counted to a due moment.

The counting rules are those of 민원 처리에 관한 법률 제19조 (처리기간의 계산):
  ① a period of 5 days or less counts in hours from the moment of receipt, a day being
    8 working hours, Saturdays and public holidays not counted  -> `Rule.WORKING_HOURS`;
  ② a period of 6 days or more counts in days, the first day included, Saturdays and
    public holidays not counted                                -> `Rule.WORKING_DAYS`;
  ③ a period in weeks, months or years counts on the calendar, the first day included,
    applying 민법 제159조~제161조 (ends at the end of the last day; no corresponding day in
    the last month -> that month's last day; a last day on a Saturday or public holiday ->
    the next day)                                               -> `Rule.CALENDAR`.
"Immediately" (즉시) is 3 working hours (시행령 제19조 as cited by public offices' charters;
see data/periods.toml). The city's own rules (DOMAIN.md, "Processing rules"): a simple
complaint received before 18:00 is answered the same day (`Rule.SAME_DAY`), a
communication-class message within 3 (working) hours, an SNS message within 24 hours
(`Rule.ELAPSED`, the clock does not stop at night: SNS desks answer around the clock).

Choices where the law is silent, kept in one place:
- a period counted in days or on the calendar ends at the close of the working day (18:00 by
  default), not at midnight: the office cannot act after it closes, and a deadline shown as
  "by 18:00" is the one the citizen can hold it to;
- "the first day included" counts the day of receipt only when it is a working day, whatever
  the hour of receipt (the Act counts days, not hours, for these periods);
- when the last day is not a working day the period ends on the next working day (Sunday
  after a Saturday, consecutive holidays): the "next day" of 민법 제161조 applied until it is
  one.
"""

from __future__ import annotations

import calendar as gregorian
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from importlib.resources import files
from typing import Any

from eungdapso_schemas.codes import Channel, Kind, MessageClass
from eungdapso_schemas.subjects import SUBJECTS
from eungdapso_sla.calendar import BusinessCalendar, in_seoul

#: 시행령 제19조 as cited: "즉시" = within 3 working hours.
IMMEDIATELY_HOURS = 3
#: 법 제19조①: periods of this many days or fewer count in hours.
MAX_DAYS_IN_HOURS = 5


class Unit(StrEnum):
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"
    YEARS = "years"
    WORKING_HOURS = "working_hours"  # 즉시, communication class
    HOURS = "hours"  # elapsed clock hours (SNS)
    SAME_DAY = "same_day"  # simple complaint (amount 0)


class Rule(StrEnum):
    WORKING_HOURS = "working_hours"  # 법 제19조①
    WORKING_DAYS = "working_days"  # 법 제19조②
    CALENDAR = "calendar"  # 법 제19조③, 민법 제159조~제161조
    SAME_DAY = "same_day"  # city rule: simple complaints
    ELAPSED = "elapsed"  # city rule: SNS within 24 hours


@dataclass(frozen=True)
class Period:
    amount: int
    unit: Unit

    def __post_init__(self) -> None:
        if self.unit is Unit.SAME_DAY:
            if self.amount != 0:
                raise ValueError("a same-day period has no amount")
        elif self.amount < 1:
            raise ValueError("a period is at least 1 of its unit")

    @classmethod
    def immediately(cls) -> Period:
        return cls(IMMEDIATELY_HOURS, Unit.WORKING_HOURS)

    @classmethod
    def same_day(cls) -> Period:
        return cls(0, Unit.SAME_DAY)

    @property
    def rule(self) -> Rule:
        match self.unit:
            case Unit.DAYS:
                return Rule.WORKING_HOURS if self.amount <= MAX_DAYS_IN_HOURS else Rule.WORKING_DAYS
            case Unit.WORKING_HOURS:
                return Rule.WORKING_HOURS
            case Unit.WEEKS | Unit.MONTHS | Unit.YEARS:
                return Rule.CALENDAR
            case Unit.HOURS:
                return Rule.ELAPSED
            case Unit.SAME_DAY:
                return Rule.SAME_DAY

    def __str__(self) -> str:
        return "same day" if self.unit is Unit.SAME_DAY else f"{self.amount} {self.unit.value}"


def due(received: datetime, period: Period, cal: BusinessCalendar) -> datetime:
    """The due moment (Asia/Seoul) of `period` counted from the moment of receipt."""
    received = in_seoul(received)
    match period.rule:
        case Rule.WORKING_HOURS:
            per_day = cal.hours.per_day
            amount = per_day * period.amount if period.unit is Unit.DAYS else timedelta(hours=period.amount)
            return cal.add_working_time(received, amount)
        case Rule.WORKING_DAYS:
            return cal.close_of(_nth_working_day(received.date(), period.amount, cal))
        case Rule.CALENDAR:
            last = _calendar_last_day(received.date(), period)
            return cal.close_of(cal.working_day_on_or_after(last))
        case Rule.SAME_DAY:
            day = received.date()
            if cal.is_working_day(day) and received < cal.close_of(day):
                return cal.close_of(day)
            return cal.close_of(cal.next_working_day(day))
        case Rule.ELAPSED:
            return received + timedelta(hours=period.amount)


def _nth_working_day(first: date, n: int, cal: BusinessCalendar) -> date:
    """The n-th working day counting `first` as the first when it is one."""
    day = cal.working_day_on_or_after(first)
    for _ in range(n - 1):
        day = cal.next_working_day(day)
    return day


def _calendar_last_day(first: date, period: Period) -> date:
    """민법 제160조 with the first day included: the day before the corresponding day of the
    last week/month/year; the month's last day when that month has no corresponding day."""
    if period.unit is Unit.WEEKS:
        return first + timedelta(weeks=period.amount) - timedelta(days=1)
    months = period.amount * (12 if period.unit is Unit.YEARS else 1)
    index = first.month - 1 + months
    year, month = first.year + index // 12, index % 12 + 1
    last_of_month = gregorian.monthrange(year, month)[1]
    if first.day > last_of_month:
        return date(year, month, last_of_month)
    return date(year, month, first.day) - timedelta(days=1)


@dataclass(frozen=True)
class StatutoryPeriod:
    """A period with the category it comes from and its legal basis (periods.toml)."""

    category: str
    period: Period
    basis: str


class PeriodTable:
    """Which period applies to a case: the channel's or the message class's (the city's rules,
    stricter), else the subject's when the kind takes it, else the kind's; a simple complaint
    (`is_simple`) is due by the earlier of the same-day rule and its message class's period."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.version = int(data["version"])
        self.categories = {
            code: StatutoryPeriod(code, Period(int(c["amount"]), Unit(c["unit"])), str(c["basis"]))
            for code, c in data["category"].items()
        }
        self.by_kind = {Kind(k): self._category(v["default"]) for k, v in data["kind"].items()}
        self.kind_takes_from_subject = {
            Kind(k): frozenset(self._category(c).category for c in v["from_subject"])
            for k, v in data["kind"].items()
        }
        self.by_message_class = {MessageClass(k): self._category(v) for k, v in data["message_class"].items()}
        self.by_channel = {Channel(k): self._category(v) for k, v in data["channel"].items()}
        self.by_subject = {k: self._category(v) for k, v in data["subject"].items()}
        self.simple_kinds = frozenset(Kind(k) for k in data["simple"]["kinds"])
        self.simple_message_classes = frozenset(MessageClass(c) for c in data["simple"]["message_classes"])
        if missing := set(Kind) - set(self.by_kind):
            raise ValueError(f"periods.toml has no default for the kinds {sorted(missing)}")
        if unknown := [code for code in self.by_subject if code not in {s.code for s in SUBJECTS}]:
            raise ValueError(f"periods.toml names subjects the taxonomy does not know: {unknown}")

    def _category(self, code: str) -> StatutoryPeriod:
        try:
            return self.categories[code]
        except KeyError:
            raise ValueError(f"periods.toml names an unknown category {code!r}") from None

    @classmethod
    def packaged(cls) -> PeriodTable:
        text = files("eungdapso_sla").joinpath("data/periods.toml").read_text("utf-8")
        return cls(tomllib.loads(text))

    def period_for(
        self,
        *,
        kind: Kind,
        subject: str | None = None,
        message_class: MessageClass | None = None,
        channel: Channel | None = None,
        simple: bool = False,
    ) -> StatutoryPeriod:
        if simple:
            return self.categories["simple"]
        if channel is not None and channel in self.by_channel:
            return self.by_channel[channel]
        if message_class is not None and message_class in self.by_message_class:
            return self.by_message_class[message_class]
        if subject is not None and subject in self.by_subject:
            from_subject = self.by_subject[subject]
            if from_subject.category in self.kind_takes_from_subject[kind]:
                return from_subject
        return self.by_kind[kind]

    def is_simple(self, kind: Kind, message_class: MessageClass | None) -> bool:
        """A simple complaint (단순민원): a plain request for information or guidance, i.e. an
        inquiry the router classed as a simple question (periods.toml, [simple])."""
        return kind in self.simple_kinds and message_class in self.simple_message_classes

    def choose(
        self,
        received: datetime,
        calendar: BusinessCalendar,
        *,
        kind: Kind,
        subject: str | None = None,
        message_class: MessageClass | None = None,
        channel: Channel | None = None,
    ) -> StatutoryPeriod:
        """The period of a case received at `received`. A simple complaint is under two of the
        city's promises at once: answered the same day when received before 18:00 (the next
        working day after), and, as a communication-class message, within 3 working hours. Both
        are kept: the one that falls due first is its period, recorded as the simple category."""
        chosen = self.period_for(kind=kind, subject=subject, message_class=message_class, channel=channel)
        if (channel is not None and channel in self.by_channel) or not self.is_simple(kind, message_class):
            return chosen
        simple = self.categories["simple"]
        if due(received, simple.period, calendar) <= due(received, chosen.period, calendar):
            return simple
        return StatutoryPeriod(simple.category, chosen.period, simple.basis)


def extended_due(previous: datetime, period: Period, cal: BusinessCalendar) -> datetime:
    """The due moment after one extension by the original period, counted on from the
    previous due moment by the same rule (시행령 제21조: at most the original period)."""
    previous = in_seoul(previous)
    match period.rule:
        case Rule.WORKING_HOURS | Rule.ELAPSED:
            return due(previous, period, cal)
        case Rule.WORKING_DAYS:
            first = cal.next_working_day(previous.date())
            return cal.close_of(_nth_working_day(first, period.amount, cal))
        case Rule.CALENDAR:
            last = _calendar_last_day(previous.date() + timedelta(days=1), period)
            return cal.close_of(cal.working_day_on_or_after(last))
        case Rule.SAME_DAY:
            return cal.close_of(cal.next_working_day(previous.date()))


def measure(
    received: datetime, due_at: datetime, answered: datetime, period: Period, cal: BusinessCalendar
) -> tuple[float, float, str]:
    """The statutory period (received → due, extension included) and the actual processing
    period (received → answered) in one unit, the one the period is counted in: what the
    speed index compares. Returns (statutory, actual, unit)."""
    match period.rule:
        case Rule.WORKING_HOURS | Rule.SAME_DAY:
            hours = timedelta(hours=1)
            return (
                round(cal.working_time_between(received, due_at) / hours, 2),
                round(cal.working_time_between(received, answered) / hours, 2),
                "working_hours",
            )
        case Rule.WORKING_DAYS:
            first = in_seoul(received).date()
            return (
                float(cal.working_days_between(first, in_seoul(due_at).date())),
                float(max(1, cal.working_days_between(first, in_seoul(answered).date()))),
                "working_days",
            )
        case Rule.CALENDAR:
            first = in_seoul(received).date()
            return (
                float((in_seoul(due_at).date() - first).days + 1),
                float(max(1, (in_seoul(answered).date() - first).days + 1)),
                "days",
            )
        case Rule.ELAPSED:
            return (
                round((due_at - received) / timedelta(hours=1), 2),
                round(max(timedelta(), answered - received) / timedelta(hours=1), 2),
                "hours",
            )
