"""The `Deadline` aggregate: set once receipt and assignment are both known (in either order),
extended once, stopped by a transfer outside the city, met even when the answer came first,
warned and breached once; and what the outbox publishes of it."""

from __future__ import annotations

from datetime import date, datetime, time
from uuid import uuid4

import pytest

from eungdapso_platform.domain import DomainError
from eungdapso_schemas.codes import Channel, Kind, MessageClass
from eungdapso_schemas.events import DeadlineMetV1, DeadlineSetV1
from eungdapso_sla.application import OUTBOX
from eungdapso_sla.calendar import SEOUL, BusinessCalendar
from eungdapso_sla.domainmodel import Deadline, Status
from eungdapso_sla.periods import PeriodTable

CAL = BusinessCalendar()
TABLE = PeriodTable.packaged()


def seoul(day: str, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(hh, mm), SEOUL)


def fresh() -> Deadline:
    return Deadline.start(uuid4(), "2026-0000001")


def set_pothole(d: Deadline, received: datetime) -> None:
    d.learn_receipt(received, Kind.COMPLAINT, Channel.WEB)
    d.learn_assignment("district.yongsan.roads", "pothole", MessageClass.FIELD)
    assert d.set_when_known(TABLE, CAL)


def test_set_only_when_receipt_and_assignment_are_known_in_either_order() -> None:
    d = fresh()
    d.learn_assignment("district.yongsan.roads", "pothole", MessageClass.FIELD)
    assert not d.set_when_known(TABLE, CAL)  # the receipt is still unknown
    d.learn_receipt(seoul("2026-11-02", 9), Kind.COMPLAINT, Channel.WEB)
    assert d.set_when_known(TABLE, CAL)
    # A pothole is a grievance: 7 days counted in days from Mon 2 Nov 2026: Tue 10 Nov, 18:00.
    assert d.due == seoul("2026-11-10", 18)
    assert not d.set_when_known(TABLE, CAL)  # set once
    envelope = OUTBOX(d.collect_events()[-1])
    assert envelope is not None and isinstance(envelope.data, DeadlineSetV1)
    assert envelope.data.category == "grievance" and "제17조" in envelope.data.basis


def test_extended_once_by_the_original_period_and_a_second_request_refused() -> None:
    d = fresh()
    set_pothole(d, seoul("2026-11-02", 9))
    assert d.extend("현장 조사 필요", "district.yongsan.roads", CAL) is None
    # 7 more working days after Tue 10 Nov: Wed 11 ... Thu 19 Nov.
    assert d.due == seoul("2026-11-19", 18)
    refusal = d.extend("또 연장", "district.yongsan.roads", CAL)
    assert refusal is not None and "already extended once" in refusal
    assert d.due == seoul("2026-11-19", 18)
    assert isinstance(d.collect_events()[-1], Deadline.ExtensionRefused)


def test_an_answer_before_the_deadline_was_set_still_meets_it() -> None:
    d = fresh()
    d.meet(seoul("2026-11-04", 15), "district.yongsan.roads", CAL)
    assert d.status is Status.WAITING
    set_pothole(d, seoul("2026-11-02", 9))
    assert d.status is Status.MET
    met = [e for e in d.collect_events() if isinstance(e, Deadline.Met)]
    assert len(met) == 1
    envelope = OUTBOX(met[0])
    assert envelope is not None and isinstance(envelope.data, DeadlineMetV1)
    # Statutory 7 working days; answered on Wed 4 Nov, the 3rd working day counted from Mon 2.
    assert (envelope.data.statutory, envelope.data.actual, envelope.data.measured_in) == (
        7,
        3,
        "working_days",
    )
    assert envelope.data.within


def test_met_in_working_hours_for_a_short_period() -> None:
    d = fresh()
    d.learn_receipt(seoul("2026-11-02", 10), Kind.COMPLAINT, Channel.WEB)
    d.learn_assignment("seoul.civil", "certificates", MessageClass.GENERAL)  # 기타민원: immediately
    d.set_when_known(TABLE, CAL)
    assert d.due == seoul("2026-11-02", 14)
    d.meet(seoul("2026-11-02", 15), "seoul.civil", CAL)
    met = d.collect_events()[-1]
    assert isinstance(met, Deadline.Met)
    assert (met.statutory, met.actual, met.measured_in, met.within) == (3.0, 4.0, "working_hours", False)


def test_a_transfer_outside_stops_the_clock_and_a_reassignment_does_not_restart_it() -> None:
    d = fresh()
    set_pothole(d, seoul("2026-11-02", 9))
    due = d.due
    d.learn_assignment("district.mapo.roads", "sidewalk", MessageClass.FIELD)
    assert (d.due, d.office, d.subject) == (due, "district.mapo.roads", "pothole")
    d.stop(seoul("2026-11-03", 9), "ext.seoul_police")
    assert d.status is Status.STOPPED
    assert d.warnings(CAL, 0.75) == []
    assert not d.breach(seoul("2026-12-01", 9))


def test_warnings_at_the_share_and_one_working_hour_before_then_a_breach_once() -> None:
    d = fresh()
    set_pothole(d, seoul("2026-11-02", 9))
    planned = d.warnings(CAL, 0.75)
    assert [stage for stage, _ in planned] == ["share", "last_hour"]
    # 7 working days from Mon 2 Nov 09:00 are 56 working hours; 75% is 42, reached Mon 9 Nov
    # 11:00 (working time, not wall time: a warning on Sunday reaches no one).
    assert planned[0][1] == seoul("2026-11-09", 11)
    assert planned[1][1] == seoul("2026-11-10", 17)
    assert d.warn("share", planned[0][1]) and not d.warn("share", planned[0][1])
    with pytest.raises(DomainError):
        d.breach(seoul("2026-11-10", 17, 59))
    assert d.breach(seoul("2026-11-10", 18))
    assert not d.breach(seoul("2026-11-10", 18, 1))


def test_one_working_hour_before_skips_the_night_and_the_weekend() -> None:
    # Due Mon 9 Nov 2026 09:30: one working hour before is Fri 6 Nov 17:30.
    assert CAL.subtract_working_time(seoul("2026-11-09", 9, 30), CAL.hours.per_day / 8) == seoul(
        "2026-11-06", 17, 30
    )
    assert CAL.subtract_working_time(seoul("2026-11-09", 13, 30), CAL.hours.per_day / 8) == seoul(
        "2026-11-09", 11, 30
    )


def test_a_declared_holiday_moves_an_open_deadline_once() -> None:
    d = fresh()
    set_pothole(d, seoul("2026-11-02", 9))
    # Wed 4 Nov declared a holiday (version 1 of the declarations): 7 working days from
    # Mon 2 Nov now end Wed 11 Nov.
    declared = CAL.with_holidays([date(2026, 11, 4)])
    assert d.recount(declared, 1)
    assert d.due == seoul("2026-11-11", 18)
    moved = d.collect_events()[-1]
    assert isinstance(moved, Deadline.Moved) and moved.previous_due == seoul("2026-11-10", 18)
    assert not d.recount(declared, 1)  # that version is counted already
    # A holiday after the due moment changes nothing, and says so without a move.
    later = declared.with_holidays([date(2026, 12, 1)])
    assert not d.recount(later, 2)
    assert isinstance(d.collect_events()[-1], Deadline.Recounted)


def test_an_extended_deadline_is_recounted_with_its_extension() -> None:
    d = fresh()
    set_pothole(d, seoul("2026-11-02", 9))
    d.extend("현장 조사", "district.yongsan.roads", CAL)
    assert d.due == seoul("2026-11-19", 18)
    assert d.recount(CAL.with_holidays([date(2026, 11, 16)]), 1)
    assert d.due == seoul("2026-11-20", 18)


def test_an_extension_asked_before_the_deadline_is_set_applies_when_it_is() -> None:
    d = fresh()
    assert d.extend("현장 조사", "district.yongsan.roads", CAL) is None
    refusal = d.extend("또", "district.yongsan.roads", CAL)
    assert refusal is not None and "already waiting" in refusal
    set_pothole(d, seoul("2026-11-02", 9))
    assert d.extended and d.due == seoul("2026-11-19", 18)


def test_a_transfer_before_the_deadline_is_set_gives_the_same_outcome_as_after() -> None:
    d = fresh()
    d.learn_assignment("district.yongsan.roads", "pothole", MessageClass.FIELD)
    d.stop(seoul("2026-11-02", 11), "ext.seoul_police")
    assert d.status is Status.WAITING
    d.learn_receipt(seoul("2026-11-02", 9), Kind.COMPLAINT, Channel.WEB)
    assert d.set_when_known(TABLE, CAL)
    assert d.status is Status.STOPPED and d.due == seoul("2026-11-10", 18)
    assert d.warnings(CAL, 0.75) == []


def test_a_simple_question_is_set_with_the_simple_category_and_met_the_same_day() -> None:
    d = fresh()
    d.learn_receipt(seoul("2026-11-06", 17), Kind.INQUIRY, Channel.WEB)
    d.learn_assignment("district.yongsan.waste", "bulky_waste", MessageClass.COMMUNICATION)
    assert d.set_when_known(TABLE, CAL)
    # Fri 17:00, before 18:00: due that day at 18:00 (the 3 working hours would run to Monday).
    assert d.due == seoul("2026-11-06", 18)
    envelope = OUTBOX(d.collect_events()[-1])
    assert envelope is not None and isinstance(envelope.data, DeadlineSetV1)
    assert (envelope.data.category, envelope.data.rule) == ("simple", "same_day")
    assert "단순" in envelope.data.basis
