"""Statutory periods counted on the Korean business calendar (민원 처리에 관한 법률 제19조).

Each fixed case states its reasoning, day by day, so a reader can check it against a
printed calendar. 2026: Seollal 16-18 Feb (Mon-Wed), 1 Mar (Sun) with its substitute 2 Mar,
Chuseok 24-26 Sep (Thu-Sat), 3 Oct (Sat) with its substitute 5 Oct, Hangul Day 9 Oct (Fri).
2027: Seollal 6-8 Feb (Sat-Mon) with its substitute 9 Feb (Tue), Chuseok 14-16 Sep (Tue-Thu).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eungdapso_schemas.codes import Channel, Kind, MessageClass
from eungdapso_schemas.subjects import SUBJECTS
from eungdapso_sla.calendar import SEOUL, BusinessCalendar, WorkingHours
from eungdapso_sla.periods import Period, PeriodTable, Rule, Unit, due

CAL = BusinessCalendar()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def seoul(day: str, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(hh, mm), SEOUL)


# --- The calendar -------------------------------------------------------------------------


def test_the_library_knows_the_lunar_and_substitute_holidays_we_count_on() -> None:
    for day in ("2026-02-16", "2026-02-17", "2026-02-18", "2026-03-02", "2026-09-24", "2026-09-25"):
        assert CAL.is_holiday(date.fromisoformat(day)), day
    for day in ("2026-10-05", "2027-02-09", "2027-09-14", "2027-09-15", "2027-09-16"):
        assert CAL.is_holiday(date.fromisoformat(day)), day
    assert not CAL.is_working_day(date(2026, 2, 14))  # a Saturday
    assert not CAL.is_working_day(date(2026, 2, 15))  # a Sunday
    assert CAL.is_working_day(date(2026, 2, 19))


# --- 5 days or less: working hours (제19조①) --------------------------------------------


def test_three_days_across_seollal_2026_count_24_working_hours() -> None:
    # Fri 13 Feb 10:00: 2 h before lunch + 5 h after = 7. Sat, Sun and Seollal (Mon 16 - Wed 18)
    # do not count. Thu 19: 8 (15), Fri 20: 8 (23), Sat/Sun again, Mon 23: the 24th hour
    # ends at 10:00.
    assert due(at("2026-02-13T10:00+09:00"), Period(3, Unit.DAYS), CAL) == seoul("2026-02-23", 10)


def test_one_day_received_after_hours_starts_counting_next_working_morning() -> None:
    # Thu 24 Sep 2026 is Chuseok's eve; received Wed 23 Sep 20:00 (after 18:00): nothing
    # left that day; Thu 24, Fri 25 (Chuseok), Sat 26 (Chuseok's second day), Sun 27 do not
    # count, so the 8 hours run on Mon 28 from 09:00 to 18:00.
    assert due(at("2026-09-23T20:00+09:00"), Period(1, Unit.DAYS), CAL) == seoul("2026-09-28", 18)


def test_the_lunch_hour_does_not_count() -> None:
    # Received 11:30: half an hour before lunch, then 13:00-15:30 for the remaining 2.5 h.
    assert due(seoul("2026-03-04", 11, 30), Period.immediately(), CAL) == seoul("2026-03-04", 15, 30)


def test_received_in_the_lunch_hour_counts_from_13_00() -> None:
    assert due(seoul("2026-03-04", 12, 20), Period.immediately(), CAL) == seoul("2026-03-04", 16)


def test_immediately_is_three_working_hours_across_a_substitute_holiday() -> None:
    # Fri 27 Feb 2026 16:30: 1.5 h to 18:00. Sat 28, Sun 1 Mar (Independence Movement Day)
    # and Mon 2 Mar (its substitute holiday) do not count: the other 1.5 h end Tue 3 Mar 10:30.
    assert due(seoul("2026-02-27", 16, 30), Period.immediately(), CAL) == seoul("2026-03-03", 10, 30)


def test_five_days_is_still_counted_in_hours() -> None:
    # 40 working hours from Mon 2 Nov 2026 09:00 (no holiday that week): Fri 6 Nov 18:00.
    assert Period(5, Unit.DAYS).rule is Rule.WORKING_HOURS
    assert due(seoul("2026-11-02", 9), Period(5, Unit.DAYS), CAL) == seoul("2026-11-06", 18)


def test_configured_working_hours_change_the_length_of_a_day() -> None:
    # An office working 08:00-17:00 with lunch 11:30-12:30 still has 8 h a day.
    hours = WorkingHours(time(8), time(17), time(11, 30), time(12, 30))
    cal = BusinessCalendar(hours=hours)
    assert hours.per_day == timedelta(hours=8)
    assert due(seoul("2026-11-02", 16), Period.immediately(), cal) == seoul("2026-11-03", 10)


# --- 6 days or more: days, first day included (제19조②) --------------------------------


def test_seven_days_across_seollal_2027_with_its_substitute_holiday() -> None:
    # Thu 4 Feb 2027 (day 1, first day included), Fri 5 (2); Sat 6 - Tue 9 are Seollal
    # (Sat 6, Sun 7, Mon 8) and its substitute holiday (Tue 9); Wed 10 (3), Thu 11 (4),
    # Fri 12 (5), Mon 15 (6), Tue 16 (7): due at the close of Tue 16 Feb.
    assert due(seoul("2027-02-04", 15), Period(7, Unit.DAYS), CAL) == seoul("2027-02-16", 18)


def test_fourteen_days_across_chuseok_2026_and_the_october_holidays() -> None:
    # Mon 21 Sep 2026 (1), Tue 22 (2), Wed 23 (3); Chuseok Thu 24 - Sat 26; Mon 28 (4),
    # Tue 29 (5), Wed 30 (6), Thu 1 Oct (7), Fri 2 (8); Sat 3 (National Foundation Day),
    # Mon 5 (its substitute); Tue 6 (9), Wed 7 (10), Thu 8 (11); Fri 9 Hangul Day;
    # Mon 12 (12), Tue 13 (13), Wed 14 (14).
    assert due(seoul("2026-09-21", 9), Period(14, Unit.DAYS), CAL) == seoul("2026-10-14", 18)


def test_fourteen_days_across_chuseok_2027() -> None:
    # Mon 13 Sep 2027 (1); Chuseok Tue 14 - Thu 16; Fri 17 (2); Mon 20 - Fri 24 (3-7);
    # Mon 27 - Fri 1 Oct (8-12); Sun 3 Oct and its substitute Mon 4; Tue 5 (13), Wed 6 (14).
    assert due(seoul("2027-09-13", 17), Period(14, Unit.DAYS), CAL) == seoul("2027-10-06", 18)


def test_received_on_a_saturday_the_first_counted_day_is_the_next_working_day() -> None:
    # Sat 7 Nov 2026 is not counted: Mon 9 (1) ... Fri 13 (5), Mon 16 (6), Tue 17 (7).
    assert due(seoul("2026-11-07", 11), Period(7, Unit.DAYS), CAL) == seoul("2026-11-17", 18)


def test_a_declared_holiday_is_not_counted() -> None:
    # The same 7 days from Mon 2 Nov 2026 end Tue 10 Nov; with Wed 4 Nov declared a
    # temporary holiday (임시공휴일) they end a working day later, Wed 11 Nov.
    assert due(seoul("2026-11-02", 9), Period(7, Unit.DAYS), CAL) == seoul("2026-11-10", 18)
    declared = CAL.with_holidays([date(2026, 11, 4)])
    assert declared.holiday_name(date(2026, 11, 4)) == "declared holiday"
    assert due(seoul("2026-11-02", 9), Period(7, Unit.DAYS), declared) == seoul("2026-11-11", 18)


# --- Weeks, months, years on the calendar (제19조③, 민법 제159조~제161조) --------------


def test_one_month_from_31_january_ends_on_februarys_last_day() -> None:
    # First day included, the period would end the day before 31 Feb, which does not exist:
    # 민법 제160조③ ends it on the month's last day, Sat 28 Feb 2026 — a Saturday, so
    # 제161조 moves it to the next day, itself a Sunday: Mon 2 Mar is the substitute holiday
    # for 1 Mar, so the first working day is Tue 3 Mar.
    assert due(seoul("2026-01-31", 10), Period(1, Unit.MONTHS), CAL) == seoul("2026-03-03", 18)


def test_one_month_in_a_leap_year_february() -> None:
    # 30 Jan 2028 + 1 month: no 30 Feb, so the month's last day, Tue 29 Feb 2028 (a leap
    # year, a working day).
    assert due(seoul("2028-01-30", 10), Period(1, Unit.MONTHS), CAL) == seoul("2028-02-29", 18)


def test_one_month_ends_the_day_before_the_corresponding_day() -> None:
    # 15 Jan 2026 counted as the first day: the month ends on 14 Feb, a Saturday; Sun 15,
    # then Mon 16 - Wed 18 Seollal: the period ends Thu 19 Feb.
    assert due(seoul("2026-01-15", 10), Period(1, Unit.MONTHS), CAL) == seoul("2026-02-19", 18)


def test_weeks_and_years() -> None:
    # Wed 4 Nov 2026 + 2 weeks, first day included: ends Tue 17 Nov.
    assert due(seoul("2026-11-04", 10), Period(2, Unit.WEEKS), CAL) == seoul("2026-11-17", 18)
    # 10 Mar 2026 + 1 year: ends 9 Mar 2027, a Tuesday.
    assert due(seoul("2026-03-10", 10), Period(1, Unit.YEARS), CAL) == seoul("2027-03-09", 18)


# --- The city's rules ---------------------------------------------------------------------


def test_simple_complaint_before_18_00_is_due_the_same_day() -> None:
    assert due(seoul("2026-11-03", 17, 59), Period.same_day(), CAL) == seoul("2026-11-03", 18)
    assert due(seoul("2026-11-03", 7, 30), Period.same_day(), CAL) == seoul("2026-11-03", 18)


def test_simple_complaint_at_or_after_18_00_is_due_the_next_working_day() -> None:
    # Fri 2 Oct 2026 18:00: Sat 3 Oct (National Foundation Day), Sun 4, Mon 5 (its
    # substitute): Tue 6 Oct.
    assert due(seoul("2026-10-02", 18), Period.same_day(), CAL) == seoul("2026-10-06", 18)
    # Received on a Sunday morning: not a working day, so the next one.
    assert due(seoul("2026-11-08", 10), Period.same_day(), CAL) == seoul("2026-11-09", 18)


def test_sns_is_24_clock_hours_and_communication_3_working_hours() -> None:
    table = PeriodTable.packaged()
    sns = table.period_for(kind=Kind.COMPLAINT, channel=Channel.SNS)
    assert sns.period == Period(24, Unit.HOURS)
    assert due(seoul("2026-11-07", 23), sns.period, CAL) == seoul("2026-11-08", 23)
    communication = table.period_for(kind=Kind.COMPLAINT, message_class=MessageClass.COMMUNICATION)
    assert due(seoul("2026-11-06", 17), communication.period, CAL) == seoul("2026-11-09", 11)


# A simple complaint (단순민원) is an inquiry the router classed communication (periods.toml,
# [simple]): same day before 18:00, else the next working day, and never later than the
# communication class's 3 working hours. Each case says which promise falls due first.
TABLE = PeriodTable.packaged()


def simple_due(received: datetime) -> tuple[datetime, str, Rule]:
    chosen = TABLE.choose(received, CAL, kind=Kind.INQUIRY, message_class=MessageClass.COMMUNICATION)
    return due(received, chosen.period, CAL), chosen.category, chosen.period.rule


def test_a_simple_question_before_18_00_is_answered_the_same_day() -> None:
    # Tue 3 Nov 2026 16:30: 3 working hours would run to Wed 10:30; the same day is sooner.
    assert simple_due(seoul("2026-11-03", 16, 30)) == (seoul("2026-11-03", 18), "simple", Rule.SAME_DAY)
    # At 10:00 the 3 working hours (10-12, 13-14) end first: 14:00, still the simple category.
    assert simple_due(seoul("2026-11-03", 10)) == (seoul("2026-11-03", 14), "simple", Rule.WORKING_HOURS)


def test_a_simple_question_after_18_00_is_answered_the_next_working_day() -> None:
    # Tue 3 Nov 2026 18:00 is after hours: Wed 4 Nov, 3 working hours from 09:00 = 12:00
    # (sooner than the close of that day, which the same-day rule alone would allow).
    assert simple_due(seoul("2026-11-03", 18)) == (seoul("2026-11-04", 12), "simple", Rule.WORKING_HOURS)


def test_a_simple_question_on_friday_evening_is_answered_on_monday() -> None:
    # Fri 6 Nov 2026 19:30: Saturday and Sunday do not count: Mon 9 Nov by 12:00.
    assert simple_due(seoul("2026-11-06", 19, 30))[0] == seoul("2026-11-09", 12)
    # Fri 17:00: the same day (18:00), not Monday 11:00.
    assert simple_due(seoul("2026-11-06", 17))[0] == seoul("2026-11-06", 18)


def test_a_simple_question_on_the_eve_of_chuseok_waits_for_the_holidays_to_pass() -> None:
    # Wed 23 Sep 2026 is the last working day before Chuseok (Thu 24 - Sat 26 Sep). Received
    # at 17:00 it is answered that day; at 18:30, on Mon 28 Sep by 12:00.
    assert simple_due(seoul("2026-09-23", 17))[0] == seoul("2026-09-23", 18)
    assert simple_due(seoul("2026-09-23", 18, 30))[0] == seoul("2026-09-28", 12)
    # A holiday declared on Mon 28 Sep moves it to Tue 29 Sep.
    declared = CAL.with_holidays([date(2026, 9, 28)])
    chosen = TABLE.choose(
        seoul("2026-09-23", 18, 30), declared, kind=Kind.INQUIRY, message_class=MessageClass.COMMUNICATION
    )
    assert due(seoul("2026-09-23", 18, 30), chosen.period, declared) == seoul("2026-09-29", 12)


def test_only_an_inquiry_classed_communication_is_simple() -> None:
    assert TABLE.is_simple(Kind.INQUIRY, MessageClass.COMMUNICATION)
    # An opinion or thanks (a complaint classed communication) keeps the 3 working hours:
    # Fri 17:00 → Mon 11:00, not Friday 18:00.
    opinion = TABLE.choose(
        seoul("2026-11-06", 17), CAL, kind=Kind.COMPLAINT, message_class=MessageClass.COMMUNICATION
    )
    assert opinion.category == "communication"
    assert due(seoul("2026-11-06", 17), opinion.period, CAL) == seoul("2026-11-09", 11)
    # An inquiry that needs the department (general) is a procedure question: 7 days.
    general = TABLE.choose(
        seoul("2026-11-06", 17), CAL, kind=Kind.INQUIRY, message_class=MessageClass.GENERAL
    )
    assert general.category == "question_procedure"
    # A question by SNS keeps the SNS desk's 24 hours, around the clock.
    sns = TABLE.choose(
        seoul("2026-11-06", 17),
        CAL,
        kind=Kind.INQUIRY,
        message_class=MessageClass.COMMUNICATION,
        channel=Channel.SNS,
    )
    assert sns.category == "sns"


def test_offsets_are_respected() -> None:
    # 01:00 UTC is 10:00 in Seoul.
    assert due(at("2026-11-03T01:00Z"), Period.immediately(), CAL) == seoul("2026-11-03", 13 + 1)
    with pytest.raises(ValueError, match="offset"):
        due(datetime(2026, 11, 3, 10), Period.immediately(), CAL)


# --- The periods table ----------------------------------------------------------------------


def test_the_decree_defaults_by_kind() -> None:
    table = PeriodTable.packaged()
    assert table.categories["question_law"].period == Period(14, Unit.DAYS)
    assert table.categories["question_procedure"].period == Period(7, Unit.DAYS)
    assert table.period_for(kind=Kind.PROPOSAL).period == Period(14, Unit.DAYS)
    assert table.period_for(kind=Kind.COMPLAINT).period == Period(7, Unit.DAYS)
    assert table.categories["other"].period == Period.immediately()
    assert table.period_for(kind=Kind.COMPLAINT, simple=True).period == Period.same_day()
    assert table.period_for(kind=Kind.COMPLAINT, subject="certificates").category == "other"
    # The nature of the request decides first: a proposal about potholes is a proposal (14
    # days), an inquiry about housing law a law question, a corruption report a grievance.
    assert table.period_for(kind=Kind.PROPOSAL, subject="pothole").category == "proposal"
    assert table.period_for(kind=Kind.INQUIRY, subject="housing").category == "question_law"
    assert table.period_for(kind=Kind.INQUIRY, subject="pothole").category == "question_procedure"
    assert table.period_for(kind=Kind.CORRUPTION_REPORT, subject="certificates").category == "grievance"
    assert table.period_for(kind=Kind.COMPLAINT, subject="city_policy").category == "proposal"
    assert all("제" in c.basis or "DOMAIN" in c.basis for c in table.categories.values())


def test_every_subject_of_the_taxonomy_has_a_period() -> None:
    table = PeriodTable.packaged()
    assert {s.code for s in SUBJECTS} <= set(table.by_subject)


# --- Properties ---------------------------------------------------------------------------

STATUTORY = st.one_of(
    st.builds(Period, st.integers(1, 40), st.just(Unit.DAYS)),
    st.builds(Period, st.integers(1, 3), st.sampled_from([Unit.WEEKS, Unit.MONTHS, Unit.YEARS])),
    st.just(Period.immediately()),
    st.just(Period.same_day()),
)
RECEIPTS = st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2027, 12, 31)).map(
    lambda d: d.replace(tzinfo=SEOUL)
)
HOLIDAYS = st.dates(min_value=date(2025, 12, 1), max_value=date(2028, 6, 30))


@settings(max_examples=300, deadline=None)
@given(RECEIPTS, STATUTORY)
def test_a_due_moment_is_never_on_a_saturday_sunday_or_holiday(received: datetime, period: Period) -> None:
    moment = due(received, period, CAL)
    assert CAL.is_working_day(moment.date())
    assert moment > received
    if period.rule is Rule.WORKING_HOURS:
        assert CAL.is_working_moment(moment)
    else:
        assert moment.time() == CAL.hours.end


@settings(max_examples=300, deadline=None)
@given(RECEIPTS, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)), STATUTORY)
def test_a_later_receipt_never_gives_an_earlier_due_moment(
    received: datetime, later_by: timedelta, period: Period
) -> None:
    assert due(received + later_by, period, CAL) >= due(received, period, CAL)


@settings(max_examples=300, deadline=None)
@given(RECEIPTS, STATUTORY, st.lists(HOLIDAYS, min_size=1, max_size=5))
def test_adding_a_holiday_never_makes_a_deadline_earlier(
    received: datetime, period: Period, declared: list[date]
) -> None:
    assert due(received, period, CAL.with_holidays(declared)) >= due(received, period, CAL)


@settings(max_examples=200, deadline=None)
@given(RECEIPTS, st.integers(1, 5))
def test_a_period_in_hours_is_exactly_that_much_working_time(received: datetime, days: int) -> None:
    moment = due(received, Period(days, Unit.DAYS), CAL)
    assert CAL.working_time_between(received, moment) == timedelta(hours=8 * days)
