"""The SLA service on a real PostgreSQL and broker, with a fixed clock the test moves:
a complaint received and assigned gets its deadline, is warned and breached, each exactly once
across a restart of sla and a second replica's scheduler; another is extended once (the second
request refused) and met; an answer that arrives before the deadline is set still meets it;
a transfer outside the city stops the clock."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_platform.clock import FixedClock
from eungdapso_platform.db import Database
from eungdapso_platform.service import Overrides
from eungdapso_schemas.codes import Channel, Kind, MessageClass, OfficeLevel, Resolution
from eungdapso_schemas.envelope import Envelope, decode, encode
from eungdapso_schemas.events import (
    CaseAnsweredV1,
    CaseTransferredV1,
    ComplaintAnsweredInstantlyV1,
    ComplaintAssignedV2,
    ComplaintReceivedV2,
    DuplicateAnsweredV1,
    ExtensionRequestedV1,
    FirstContactResolution,
    Office,
)
from eungdapso_schemas.streams import CASEWORK_EVENTS, INTAKE_EVENTS, ROUTER_EVENTS, SLA_EVENTS
from eungdapso_sla.application import SlaApplication
from eungdapso_sla.bootstrap import bootstrap
from eungdapso_sla.calendar import SEOUL, BusinessCalendar
from eungdapso_sla.holidays import Calendars
from eungdapso_sla.opendeadlines import MIGRATIONS
from eungdapso_sla.scheduler import Scheduler
from eungdapso_sla.settings import SlaSettings
from tests.conftest import service_env, settings_for
from tests.support.kafka import produce, read_topic

pytestmark = pytest.mark.integration

ROADS = Office(code="district.yongsan.roads", name="용산구 도로과", level=OfficeLevel.DISTRICT)


def seoul(day: str, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(hh, mm), SEOUL)


def envelope(payload: Any, source: str) -> Envelope[Any]:
    return Envelope(
        id=str(uuid.uuid4()),
        source=source,
        time=datetime.now(UTC),
        subject=str(payload.complaint_id),
        data=payload,
    )


def received(cid: uuid.UUID, no: str, at: datetime, **values: Any) -> Envelope[Any]:
    payload = ComplaintReceivedV2.example().model_copy(
        update={
            "complaint_id": cid,
            "receipt_no": no,
            "received_at": at,
            "kind": Kind.COMPLAINT,
            "channel": Channel.WEB,
            **values,
        }
    )
    return envelope(payload, "/test/intake")


def assigned(cid: uuid.UUID, no: str, at: datetime) -> Envelope[Any]:
    payload = ComplaintAssignedV2.example().model_copy(
        update={
            "complaint_id": cid,
            "receipt_no": no,
            "office": ROADS,
            "assigned_at": at,
            "subject": "pothole",
            "message_class": MessageClass.FIELD,
        }
    )
    return envelope(payload, "/test/router")


def case_event(model: Any, cid: uuid.UUID, no: str, at: datetime, **values: Any) -> Envelope[Any]:
    payload = model.example().model_copy(
        update={"complaint_id": cid, "receipt_no": no, "office": ROADS.code, "at": at, **values}
    )
    return envelope(payload, "/test/casework")


async def publish(broker: str, topic: str, *envelopes: Envelope[Any]) -> None:
    records = [encode(e) for e in envelopes]
    await produce(broker, topic, [(r.key, r.value, r.headers) for r in records])


async def sla_events(broker: str, at_least: int) -> list[Envelope[Any]]:
    return [
        decode(r.headers, r.key, r.value)
        for r in await read_topic(broker, SLA_EVENTS.name, at_least=at_least)
    ]


async def received_and_assigned(broker: str, cid: uuid.UUID, no: str, at: datetime) -> None:
    await publish(broker, INTAKE_EVENTS.name, received(cid, no, at))
    await publish(broker, ROUTER_EVENTS.name, assigned(cid, no, at + timedelta(minutes=5)))


async def long_after(broker: str, clock: FixedClock, count: int) -> list[Envelope[Any]]:
    """The `count` events once the clock is past every due moment (and time for more to show)."""
    await sla_events(broker, count)
    clock.at = seoul("2026-12-31", 18)
    await asyncio.sleep(1.0)
    return await sla_events(broker, count)


def of(events: list[Envelope[Any]], cid: uuid.UUID, kind: str) -> list[Any]:
    return [e.data for e in events if e.data.complaint_id == cid and type(e.data).__name__ == kind]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(seoul("2026-11-02", 9, 30))


@pytest.fixture
def settings(database: PostgresTarget, broker: str) -> SlaSettings:
    return settings_for(
        SlaSettings,
        database,
        kafka_bootstrap_servers=broker,
        relay_poll_interval_s=0.1,
        scheduler_interval_s=0.05,
    )


@pytest.fixture
def running(settings: SlaSettings, clock: FixedClock) -> Callable[[], Any]:
    @asynccontextmanager
    async def run() -> AsyncIterator[Any]:
        app = bootstrap(settings, Overrides(clock=clock))
        async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
            yield app

    return run


async def test_warned_and_breached_once_across_a_restart_and_two_replicas(
    settings: SlaSettings, broker: str, clock: FixedClock, running: Callable[[], Any]
) -> None:
    cid, no = uuid.uuid4(), "2026-0000101"
    async with running():
        # The assignment first: order across owners is not guaranteed.
        await publish(broker, ROUTER_EVENTS.name, assigned(cid, no, seoul("2026-11-02", 9, 5)))
        await publish(broker, INTAKE_EVENTS.name, received(cid, no, seoul("2026-11-02", 9)))
        events = await sla_events(broker, 1)
        (deadline,) = of(events, cid, "DeadlineSetV1")
        # A pothole is a grievance (7 days, 시행령 제17조①): Mon 2 Nov 2026 → Tue 10 Nov 18:00.
        assert deadline.due == seoul("2026-11-10", 18)
        assert (deadline.amount, deadline.unit, deadline.rule) == (7, "days", "working_days")
        # 75% of 56 working hours: Mon 9 Nov 11:00.
        clock.at = seoul("2026-11-09", 11, 1)
        events = await sla_events(broker, 2)
        assert [w.stage for w in of(events, cid, "DeadlineWarnedV1")] == ["share"]
    # sla restarts between the warning and the breach; meanwhile a second replica's scheduler
    # runs on the same tables.
    db = Database.for_service(settings, migrations=MIGRATIONS)
    await db.open()
    other = Scheduler(
        application=SlaApplication(env=settings.eventsourcing_env()),
        db=db,
        calendars=Calendars(BusinessCalendar()),
        clock=clock,
        warn_at_share=settings.warn_at_share,
    )
    try:
        async with running():
            clock.at = seoul("2026-11-10", 17, 0)
            await asyncio.gather(*(other.run_once() for _ in range(5)))
            events = await sla_events(broker, 3)
            clock.at = seoul("2026-11-10", 18) + timedelta(seconds=1)
            await asyncio.gather(*(other.run_once() for _ in range(5)))
            events = await sla_events(broker, 4)
            await asyncio.sleep(1.0)  # time for a duplicate to show, if there were one
            events = await sla_events(broker, 4)
    finally:
        await db.close()
    assert [w.stage for w in of(events, cid, "DeadlineWarnedV1")] == ["share", "last_hour"]
    (breach,) = of(events, cid, "DeadlineBreachedV1")
    assert breach.due == seoul("2026-11-10", 18) and breach.office == ROADS.code
    assert len(of(events, cid, "DeadlineSetV1")) == 1
    assert len({e.id for e in events}) == len(events)


async def test_extended_once_then_met_and_an_early_answer_still_meets(
    broker: str, clock: FixedClock, running: Callable[[], Any]
) -> None:
    cid, no = uuid.uuid4(), "2026-0000102"
    early, early_no = uuid.uuid4(), "2026-0000103"
    away, away_no = uuid.uuid4(), "2026-0000104"
    phoned, phoned_no = uuid.uuid4(), "2026-0000108"
    async with running():
        await publish(broker, INTAKE_EVENTS.name, received(cid, no, seoul("2026-11-02", 9)))
        await publish(broker, ROUTER_EVENTS.name, assigned(cid, no, seoul("2026-11-02", 9, 5)))
        await sla_events(broker, 1)
        await publish(
            broker,
            CASEWORK_EVENTS.name,
            case_event(ExtensionRequestedV1, cid, no, seoul("2026-11-05", 10), reason="현장 조사 필요"),
            case_event(ExtensionRequestedV1, cid, no, seoul("2026-11-06", 10), reason="한 번 더"),
            case_event(
                CaseAnsweredV1,
                cid,
                no,
                seoul("2026-11-12", 15),
                text="보수했습니다",
                resolution=Resolution.RESOLVED,
            ),
        )
        # The answer reaches sla before the receipt and the assignment of another complaint.
        await publish(
            broker,
            CASEWORK_EVENTS.name,
            case_event(
                CaseAnsweredV1,
                early,
                early_no,
                seoul("2026-11-03", 11),
                text="완료",
                resolution=Resolution.RESOLVED,
            ),
        )
        await publish(broker, INTAKE_EVENTS.name, received(early, early_no, seoul("2026-11-02", 10)))
        await publish(broker, ROUTER_EVENTS.name, assigned(early, early_no, seoul("2026-11-02", 10, 5)))
        # A third is transferred to the police: no warning, no breach, ever.
        await publish(broker, INTAKE_EVENTS.name, received(away, away_no, seoul("2026-11-02", 10)))
        await publish(broker, ROUTER_EVENTS.name, assigned(away, away_no, seoul("2026-11-02", 10, 5)))
        await publish(
            broker,
            CASEWORK_EVENTS.name,
            case_event(
                CaseTransferredV1,
                away,
                away_no,
                seoul("2026-11-02", 11),
                to_office="ext.seoul_police",
                reason="형사",
            ),
        )
        # A 120 agent answered this one on the call (1차 상담 종결): met at that moment.
        first_contact = FirstContactResolution(
            agent="dasan-0042", answer="표준 답변을 안내했습니다", answered_at=seoul("2026-11-02", 10, 10)
        )
        await publish(
            broker,
            INTAKE_EVENTS.name,
            received(phoned, phoned_no, seoul("2026-11-02", 10), first_contact=first_contact),
        )
        await publish(broker, ROUTER_EVENTS.name, assigned(phoned, phoned_no, seoul("2026-11-02", 10, 15)))
        events = await sla_events(broker, 8)
        clock.at = seoul("2026-12-31", 18)
        await asyncio.sleep(1.0)
        events = await sla_events(broker, 8)

    (extended,) = of(events, cid, "DeadlineExtendedV1")
    # Tue 10 Nov 18:00 plus 7 working days: Thu 19 Nov 18:00.
    assert (extended.previous_due, extended.due) == (seoul("2026-11-10", 18), seoul("2026-11-19", 18))
    (met,) = of(events, cid, "DeadlineMetV1")
    # Statutory 14 working days with the extension; answered Thu 12 Nov, the 9th working day.
    assert (met.statutory, met.actual, met.measured_in, met.within) == (14, 9, "working_days", True)
    (early_met,) = of(events, early, "DeadlineMetV1")
    assert early_met.within and early_met.actual == 2
    assert of(events, away, "DeadlineSetV1") and not of(events, away, "DeadlineBreachedV1")
    assert not of(events, away, "DeadlineWarnedV1")
    (phoned_met,) = of(events, phoned, "DeadlineMetV1")
    assert phoned_met.within and phoned_met.answered_at == seoul("2026-11-02", 10, 10)
    assert not of(events, phoned, "DeadlineBreachedV1")


async def test_a_holiday_declared_at_run_time_moves_open_deadlines_each_move_recorded(
    settings: SlaSettings, database: PostgresTarget, broker: str, running: Callable[[], Any]
) -> None:
    cid, no = uuid.uuid4(), "2026-0000105"
    later, later_no = uuid.uuid4(), "2026-0000106"
    env = {**os.environ, **service_env(database, broker)}

    def holidays(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "eungdapso_sla", "holidays", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    async with running() as app:
        await publish(broker, INTAKE_EVENTS.name, received(cid, no, seoul("2026-11-02", 9)))
        await publish(broker, ROUTER_EVENTS.name, assigned(cid, no, seoul("2026-11-02", 9, 5)))
        await sla_events(broker, 1)
        done = await asyncio.to_thread(holidays, "declare", "2026-11-04", "--name", "임시공휴일")
        assert done.returncode == 0, done.stderr
        # Wed 4 Nov no longer counts: 7 working days from Mon 2 Nov end Wed 11 Nov.
        events = await sla_events(broker, 2)
        (moved,) = of(events, cid, "DeadlineMovedV1")
        assert (moved.previous_due, moved.due) == (seoul("2026-11-10", 18), seoul("2026-11-11", 18))
        assert moved.declared == (date(2026, 11, 4),)
        again = await asyncio.to_thread(holidays, "declare", "2026-11-04", "--name", "임시공휴일")
        assert again.returncode == 1 and "already declared" in again.stderr
        # A complaint counted after the declaration counts with it from the start.
        await publish(broker, INTAKE_EVENTS.name, received(later, later_no, seoul("2026-11-02", 9)))
        await publish(broker, ROUTER_EVENTS.name, assigned(later, later_no, seoul("2026-11-02", 9, 5)))
        events = await sla_events(broker, 3)
        (counted,) = of(events, later, "DeadlineSetV1")
        assert counted.due == seoul("2026-11-11", 18)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sla") as http:
            listed = (await http.get("/api/v1/deadlines/holidays")).json()
            assert listed == {"version": 2, "holidays": [{"day": "2026-11-04", "name": "임시공휴일"}]}
            computed = await http.get(
                "/api/v1/deadlines/compute", params={"received": "2026-11-02T09:00+09:00", "days": 7}
            )
            assert computed.json()["due"] == "2026-11-11T18:00:00+09:00"
        await asyncio.sleep(0.5)
        events = await sla_events(broker, 3)
    assert len(of(events, cid, "DeadlineMovedV1")) == 1
    assert not of(events, later, "DeadlineMovedV1")


async def test_the_admin_api_declares_holidays_with_an_admin_key_only(
    settings: SlaSettings, database: PostgresTarget, broker: str, running: Callable[[], Any]
) -> None:
    env = {**os.environ, **service_env(database, broker)}
    made = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "eungdapso_sla", "admin-keys", "create", "--name", "civil-affairs"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    async with running() as app:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sla") as http:
            path = "/api/v1/deadlines/holidays"
            body = {"day": "2026-12-24", "name": "임시공휴일"}
            assert (await http.post(path, json=body)).status_code == 401
            wrong = await http.post(path, json=body, headers={"Authorization": "Bearer eds_000000000000_x"})
            assert wrong.status_code == 401
            declared = await http.post(path, json=body, headers={"Authorization": f"Bearer {key}"})
            assert declared.status_code == 201, declared.text
            assert declared.json()["holidays"] == [{"day": "2026-12-24", "name": "임시공휴일"}]
            again = await http.post(path, json=body, headers={"X-Api-Key": key})
            assert again.status_code == 409 and "already declared" in again.json()["detail"]
            sunday = await http.post(
                path, json={"day": "2026-12-27", "name": "x"}, headers={"X-Api-Key": key}
            )
            assert sunday.status_code == 409 and "not a working day" in sunday.json()["detail"]
            bad = await http.post(path, json={"day": "2026-02-30", "name": "x"}, headers={"X-Api-Key": key})
            assert bad.status_code == 422
            assert bad.headers["content-type"].startswith("application/problem+json")
            listed = await http.get(path)
            assert listed.json()["holidays"] == [{"day": "2026-12-24", "name": "임시공휴일"}]


async def test_after_downtime_a_deadline_already_past_is_breached_without_stale_warnings(
    broker: str, clock: FixedClock, running: Callable[[], Any]
) -> None:
    cid, no = uuid.uuid4(), "2026-0000107"
    async with running():
        await publish(broker, INTAKE_EVENTS.name, received(cid, no, seoul("2026-11-02", 9)))
        await publish(broker, ROUTER_EVENTS.name, assigned(cid, no, seoul("2026-11-02", 9, 5)))
        await sla_events(broker, 1)
    clock.at = seoul("2026-11-16", 9)  # sla was down past both warnings and the due moment
    async with running():
        events = await sla_events(broker, 2)
        await asyncio.sleep(0.5)
        events = await sla_events(broker, 2)
    (breach,) = of(events, cid, "DeadlineBreachedV1")
    assert breach.at == seoul("2026-11-16", 9) and breach.due == seoul("2026-11-10", 18)
    assert not of(events, cid, "DeadlineWarnedV1")


async def test_an_instant_answer_and_a_duplicates_answer_meet_the_deadline_in_either_order(
    broker: str, clock: FixedClock, running: Callable[[], Any]
) -> None:
    desk, desk_no = uuid.uuid4(), "2026-0000109"
    twin, twin_no = uuid.uuid4(), "2026-0000110"
    late, late_no = uuid.uuid4(), "2026-0000111"
    original = uuid.uuid4()
    instant = ComplaintAnsweredInstantlyV1.example().model_copy(
        update={"complaint_id": desk, "receipt_no": desk_no, "answered_at": seoul("2026-11-02", 9, 1)}
    )
    async with running():
        # The desk's instant answer reaches sla before the receipt and the assignment for the
        # record (the router's stream and intake's are not ordered against each other).
        await publish(broker, ROUTER_EVENTS.name, envelope(instant, "/test/router"))
        await publish(broker, INTAKE_EVENTS.name, received(desk, desk_no, seoul("2026-11-02", 9)))
        await publish(broker, ROUTER_EVENTS.name, assigned(desk, desk_no, seoul("2026-11-02", 9, 0)))
        # A duplicate answered with its original's answer after its deadline was set ...
        await received_and_assigned(broker, twin, twin_no, seoul("2026-11-02", 10))
        await sla_events(broker, 2)
        duplicate = dict(duplicate_of=original, duplicate_of_receipt_no="2026-0000099")
        await publish(
            broker,
            CASEWORK_EVENTS.name,
            case_event(DuplicateAnsweredV1, twin, twin_no, seoul("2026-11-04", 15), **duplicate),
        )
        # ... and another whose answer came first, after its due moment (met, but late).
        await publish(
            broker,
            CASEWORK_EVENTS.name,
            case_event(DuplicateAnsweredV1, late, late_no, seoul("2026-11-12", 15), **duplicate),
        )
        await received_and_assigned(broker, late, late_no, seoul("2026-11-02", 10))
        # Past every due moment: a met deadline is never warned nor breached.
        events = await long_after(broker, clock, 6)
    (desk_met,) = of(events, desk, "DeadlineMetV1")
    assert desk_met.answered_at == seoul("2026-11-02", 9, 1) and desk_met.within
    (twin_met,) = of(events, twin, "DeadlineMetV1")
    # Mon 2 Nov → Wed 4 Nov is the 3rd of the grievance's 7 working days.
    assert (twin_met.actual, twin_met.statutory, twin_met.within) == (3, 7, True)
    assert twin_met.office == ROADS.code
    (late_met,) = of(events, late, "DeadlineMetV1")
    assert late_met.due == seoul("2026-11-10", 18) and not late_met.within
    for cid in (desk, twin, late):
        assert not of(events, cid, "DeadlineWarnedV1") and not of(events, cid, "DeadlineBreachedV1")


def test_the_due_command_counts_the_holidays_declared_in_the_database_and_its_flags(
    database: PostgresTarget, broker: str
) -> None:
    def sla(*args: str, configured: bool = True) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("POSTGRES_")}
        return subprocess.run(
            [sys.executable, "-m", "eungdapso_sla", *args],
            capture_output=True,
            text=True,
            env={**env, **(service_env(database, broker) if configured else {})},
            timeout=60,
            check=False,
        )

    seven_days = ("due", "--received", "2026-11-02T09:00+09:00", "--days", "7")
    # Nothing declared yet: Mon 2 Nov 2026 + 7 working days = Tue 10 Nov 18:00.
    assert sla(*seven_days).stdout == "2026-11-10T18:00:00+09:00\n"
    declared = sla("holidays", "declare", "2026-11-04", "--name", "임시공휴일")
    assert declared.returncode == 0, declared.stderr
    # The declared Wed 4 Nov no longer counts: Wed 11 Nov, as the service counts it.
    done = sla(*seven_days)
    assert (done.returncode, done.stdout) == (0, "2026-11-11T18:00:00+09:00\n"), done.stderr
    # A --holiday flag adds to the declared ones: Thu 5 Nov too → Thu 12 Nov.
    assert sla(*seven_days, "--holiday", "2026-11-05").stdout == "2026-11-12T18:00:00+09:00\n"
    # Without a database configured only the public holidays and the flags count.
    assert sla(*seven_days, "--holiday", "2026-11-05", configured=False).stdout == (
        "2026-11-11T18:00:00+09:00\n"
    )
