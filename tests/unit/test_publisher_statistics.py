"""The statistics' arithmetic (publisher.statistics), with hand-worked cases: the reasoning is
in each test. Months are Asia/Seoul calendar months (UTC+9, no daylight saving)."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from eungdapso_platform.problems import install_problem_handlers
from eungdapso_publisher.statistics import (
    CSV_COLUMNS,
    ComplaintFacts,
    Dimension,
    RatingFact,
    StatisticsReport,
    as_csv,
    figures,
    fold,
    month_bounds,
)
from eungdapso_publisher.statistics_api import preferred
from eungdapso_publisher.statistics_api import router as statistics_router
from eungdapso_schemas.codes import Channel, District, Kind, MessageClass, OfficeLevel, Resolution
from eungdapso_schemas.codes import Field as AdminField
from eungdapso_schemas.events import (
    CaseAnsweredV1,
    ComplaintAnsweredInstantlyV1,
    ComplaintAssignedV1,
    ComplaintAssignedV2,
    ComplaintReceivedV2,
    DeadlineBreachedV1,
    DeadlineMetV1,
    DuplicateAnsweredV1,
    FirstContactResolution,
    Office,
    Payload,
    Place,
    RatedV1,
)

KST = timedelta(hours=9)


def kst(*args: int) -> datetime:
    """A Seoul wall-clock moment, as the UTC instant it is."""
    return datetime(*args, tzinfo=UTC) - KST  # type: ignore[misc]


class Complaint:
    """Builds one complaint's events."""

    count = 0

    def __init__(self) -> None:
        Complaint.count += 1
        self.id = uuid.uuid4()
        self.receipt_no = f"2026-{Complaint.count:07d}"

    def _ids(self) -> dict[str, Any]:
        return {"complaint_id": self.id, "receipt_no": self.receipt_no}

    def received(
        self,
        at: datetime,
        *,
        kind: Kind = Kind.COMPLAINT,
        channel: Channel = Channel.WEB,
        district: District | None = None,
        field: AdminField | None = None,
        first_contact_at: datetime | None = None,
    ) -> ComplaintReceivedV2:
        return ComplaintReceivedV2(
            **self._ids(),
            received_at=at,
            channel=channel,
            kind=kind,
            confidential=kind.confidential,
            field=field,
            text="가로등이 꺼졌어요",
            place=Place(district=district) if district else None,
            first_contact=(
                FirstContactResolution(agent="a-1", answer="안내했습니다", answered_at=first_contact_at)
                if first_contact_at
                else None
            ),
        )

    def assigned(
        self, at: datetime, office: str, *, district: District | None = None, field: AdminField | None = None
    ) -> ComplaintAssignedV1:
        o = Office(code=office, name="과", level=OfficeLevel.DISTRICT)
        if field is None:
            return ComplaintAssignedV1(**self._ids(), assigned_at=at, office=o, rule="test")
        return ComplaintAssignedV2(
            **self._ids(),
            assigned_at=at,
            office=o,
            rule="test",
            message_class=MessageClass.GENERAL,
            field=field,
            subject="streetlight",
            district=district,
            confidence=0.9,
        )

    def answered(self, at: datetime, office: str) -> CaseAnsweredV1:
        return CaseAnsweredV1(
            **self._ids(),
            case_id=uuid.uuid4(),
            office=office,
            at=at,
            staff="s-1",
            text="조치했습니다",
            resolution=Resolution.RESOLVED,
        )

    def instantly(self, at: datetime) -> ComplaintAnsweredInstantlyV1:
        return ComplaintAnsweredInstantlyV1(
            **self._ids(), answered_at=at, answer_id="faq-1", answer="안내", confidence=0.9
        )

    def met(
        self,
        answered_at: datetime,
        statutory: float,
        actual: float,
        unit: str = "working_days",
        *,
        due: datetime | None = None,
    ) -> DeadlineMetV1:
        due = due or answered_at + timedelta(days=1)
        return DeadlineMetV1.model_validate(
            {
                **self._ids(),
                "due": due,
                "answered_at": answered_at,
                "statutory": statutory,
                "actual": actual,
                "measured_in": unit,
                "within": answered_at <= due,
            }
        )

    def breached(self, due: datetime) -> DeadlineBreachedV1:
        return DeadlineBreachedV1(**self._ids(), due=due, at=due + timedelta(seconds=1))

    def rated(self, at: datetime, score: int, office: str | None = None) -> RatedV1:
        return RatedV1(
            **self._ids(),
            invitation_id=uuid.uuid4(),
            office=office,
            score=score,
            rated_at=at,
            answered_by="office" if office else "instant",
        )


def facts_of(events: Iterable[Payload]) -> tuple[list[ComplaintFacts], list[RatingFact]]:
    """Fold events as the projection and the command do."""
    complaints: dict[uuid.UUID, ComplaintFacts] = {}
    ratings: list[RatingFact] = []
    for e in events:
        if isinstance(e, RatedV1):
            ratings.append(RatingFact.of(e))
        else:
            cid = e.complaint_id  # type: ignore[attr-defined]
            complaints[cid] = fold(complaints.get(cid) or ComplaintFacts(cid), e)
    return list(complaints.values()), ratings


def report(
    events: Iterable[Payload], by: Dimension = Dimension.CITY, month: str = "2026-11"
) -> StatisticsReport:
    return figures(month, by, *facts_of(events))


def only_row(r: StatisticsReport) -> dict[str, Any]:
    assert len(r.rows) == 1, r.rows
    return r.rows[0].model_dump(mode="json")


def test_the_speed_index_is_over_periods_of_a_day_or_more_without_questions_or_suggestions() -> None:
    a, b, c, d, e = (Complaint() for _ in range(5))
    t = kst(2026, 11, 20, 10)
    events = [
        # A: 7 working days allowed, answered in 5.
        a.received(kst(2026, 11, 10, 9)),
        a.met(t, 7, 5),
        # B: 24 working hours allowed (3 working days of 8 h), answered in 12 (1.5 days).
        b.received(kst(2026, 11, 18, 9)),
        b.met(t, 24, 12, "working_hours"),
        # C: a question (inquiry): left out whatever its figures.
        c.received(kst(2026, 11, 19, 9), kind=Kind.INQUIRY),
        c.met(t, 7, 1),
        # D: a same-day period (4 working hours, half a day): shorter than a day, left out.
        d.received(kst(2026, 11, 20, 9)),
        d.met(t, 4, 1, "working_hours"),
        # E: a suggestion (proposal): left out.
        e.received(kst(2026, 11, 1, 9), kind=Kind.PROPOSAL),
        e.met(t, 14, 14, "days"),
    ]
    row = only_row(report(events))
    # (Σ statutory − Σ actual) / Σ statutory × 100 = ((7 + 3) − (5 + 1.5)) / 10 × 100 = 35.
    assert row["speed_index"] == 35.0
    assert row["speed_index_complaints"] == 2
    # Every one of the five is answered in November all the same.
    assert row["answered"] == 5 and row["received"] == 5


def test_a_period_counted_in_elapsed_hours_is_converted_at_24_hours_a_day() -> None:
    a = Complaint()
    # 48 h allowed (2 days), answered in 12 h (0.5 day): (2 − 0.5) / 2 = 75 %.
    row = only_row(report([a.received(kst(2026, 11, 2, 9)), a.met(kst(2026, 11, 2, 21), 48, 12, "hours")]))
    assert row["speed_index"] == 75.0


def test_a_month_is_a_seoul_month() -> None:
    early, late, october = Complaint(), Complaint(), Complaint()
    events = [
        # 1 Nov 00:30 in Seoul is still 31 Oct in UTC: November's.
        early.received(datetime(2026, 10, 31, 15, 30, tzinfo=UTC)),
        # 1 Dec 00:00 in Seoul (30 Nov 15:00 UTC): December's.
        late.received(datetime(2026, 11, 30, 15, 0, tzinfo=UTC)),
        # 31 Oct 23:59 in Seoul: October's.
        october.received(kst(2026, 10, 31, 23, 59)),
    ]
    assert only_row(report(events))["received"] == 1
    assert only_row(report(events, month="2026-12"))["received"] == 1
    assert only_row(report(events, month="2026-10"))["received"] == 1
    assert month_bounds("2026-12") == (
        datetime(2026, 11, 30, 15, tzinfo=UTC),
        datetime(2026, 12, 31, 15, tzinfo=UTC),
    )


def test_processing_rate_and_days_instant_and_first_contact_rates() -> None:
    a, b, c, d, e, old = (Complaint() for _ in range(6))
    events = [
        # Received in November: a answered 3.5 days later (2 Nov 09:00 → 5 Nov 21:00).
        a.received(kst(2026, 11, 2, 9)),
        a.answered(kst(2026, 11, 5, 21), "district.mapo.roads"),
        # b answered on 1 Dec 00:10: not before November ended, and counted in December.
        b.received(kst(2026, 11, 30, 9)),
        b.answered(kst(2026, 12, 1, 0, 10), "district.mapo.roads"),
        # c never answered.
        c.received(kst(2026, 11, 12, 9)),
        # d answered at once by the desk, 6 minutes after (0.1 h = 0.004166... days).
        d.received(kst(2026, 11, 13, 9)),
        d.instantly(kst(2026, 11, 13, 9, 6)),
        # e resolved on the 120 call, at once (0 days).
        e.received(kst(2026, 11, 14, 9), channel=Channel.PHONE, first_contact_at=kst(2026, 11, 14, 9)),
        # Received in October, answered in November after exactly 2 days: answered, not received.
        old.received(kst(2026, 10, 30, 9)),
        old.answered(kst(2026, 11, 1, 9), "district.mapo.roads"),
    ]
    row = only_row(report(events))
    assert row["received"] == 5
    # Answered in November: a, d, e, old (b's answer is December's).
    assert row["answered"] == 4
    # Of the 5 received, answered before 1 Dec: a, d, e → 3/5.
    assert row["processing_rate"] == 60.0
    # (3.5 + 0.1/24 + 0 + 2) / 4 = 5.5041666… / 4 = 1.37604… → 1.38.
    assert row["average_processing_days"] == 1.38
    assert row["instant_answer_rate"] == 20.0  # d: 1 of 5
    assert row["first_contact_resolution_rate"] == 20.0  # e: 1 of 5
    december = only_row(report(events, month="2026-12"))
    assert (december["received"], december["answered"], december["processing_rate"]) == (0, 1, None)


def test_overdue_counts_each_complaint_once_in_the_month_its_deadline_passed() -> None:
    a, b, c, d = (Complaint() for _ in range(4))
    due = kst(2026, 11, 20, 18)
    events = [
        a.received(kst(2026, 11, 10, 9)),
        a.breached(due),  # breached, never answered
        b.received(kst(2026, 11, 10, 9)),
        b.breached(due),
        b.met(kst(2026, 11, 23, 10), 7, 9, due=due),  # breached, then answered late: still one
        c.received(kst(2026, 11, 10, 9)),
        c.met(kst(2026, 11, 24, 10), 7, 10, due=due),  # late, the scheduler's breach not seen: one
        d.received(kst(2026, 11, 10, 9)),
        d.met(kst(2026, 11, 19, 10), 7, 6, due=due),  # in time
    ]
    assert only_row(report(events))["overdue"] == 3
    # A deadline that passes on 1 Dec (Seoul) is December's overdue.
    e = Complaint()
    later = [e.received(kst(2026, 11, 25, 9)), e.breached(kst(2026, 12, 1, 0, 0))]
    assert only_row(report(later))["overdue"] == 0
    assert only_row(report(later, month="2026-12"))["overdue"] == 1


def test_satisfaction_counts_the_month_s_ratings_under_the_office_rated() -> None:
    a, b, c = (Complaint() for _ in range(3))
    mapo, jongno = "district.mapo.roads", "district.jongno.parks"
    events = [
        a.received(kst(2026, 11, 2, 9)),
        a.assigned(kst(2026, 11, 2, 10), mapo),
        a.rated(kst(2026, 11, 5, 9), 5, mapo),
        b.received(kst(2026, 11, 2, 9)),
        b.assigned(kst(2026, 11, 2, 10), mapo),
        b.rated(kst(2026, 11, 6, 9), 4, mapo),
        b.rated(kst(2026, 11, 7, 9), 2, mapo),  # a second invitation (answered again), rated again
        b.rated(kst(2026, 12, 1, 0, 1), 1, mapo),  # December's
        # An instant answer (no office rated) counts under the office it was assigned to.
        c.received(kst(2026, 11, 2, 9)),
        c.assigned(kst(2026, 11, 2, 9, 1), jongno),
        c.instantly(kst(2026, 11, 2, 9, 1)),
        c.rated(kst(2026, 11, 3, 9), 3),
    ]
    rows = {r.value: r for r in report(events, Dimension.OFFICE).rows}
    # Mapo: 5, 4, 2 → 3 ratings, mean 11 / 3 = 3.666… → 3.67.
    assert (rows[mapo].satisfaction_count, rows[mapo].satisfaction_mean) == (3, 3.67)
    assert (rows[jongno].satisfaction_count, rows[jongno].satisfaction_mean) == (1, 3.0)
    city = only_row(report(events))
    assert (city["satisfaction_count"], city["satisfaction_mean"]) == (4, 3.5)  # 14 / 4


def test_dimensions_the_answering_office_the_latest_assignment_and_the_router_s_classification() -> None:
    a, b, report_ = Complaint(), Complaint(), Complaint()
    jongno_parks: dict[str, Any] = {"district": District.JONGNO, "field": AdminField.ENVIRONMENT_PARKS}
    events = [
        # a: the receipt says Mapo and roads; the router classified it Jongno, parks; assigned
        # to roads, reassigned to parks, answered by parks.
        a.received(kst(2026, 11, 2, 9), district=District.MAPO, field=AdminField.ROADS_TRAFFIC),
        a.assigned(kst(2026, 11, 2, 10), "district.jongno.roads", **jongno_parks),
        a.assigned(kst(2026, 11, 3, 10), "district.jongno.parks", **jongno_parks),
        a.answered(kst(2026, 11, 4, 10), "district.jongno.parks"),
        # b: only the receipt's classification, by SMS; never assigned.
        b.received(kst(2026, 11, 2, 9), channel=Channel.SMS, district=District.MAPO, field=AdminField.SAFETY),
        # A corruption report: counted, but under no office, district or field.
        report_.received(kst(2026, 11, 2, 9), kind=Kind.CORRUPTION_REPORT, district=District.GURO),
        report_.assigned(kst(2026, 11, 2, 10), "seoul.audit"),
    ]
    by_office = {r.value: r.received for r in report(events, Dimension.OFFICE).rows}
    assert by_office == {"district.jongno.parks": 1, None: 2}
    by_district = {r.value: r.received for r in report(events, Dimension.DISTRICT).rows}
    assert by_district == {"jongno": 1, "mapo": 1, None: 1}
    by_field = {r.value: r.received for r in report(events, Dimension.FIELD).rows}
    assert by_field == {"environment_parks": 1, "safety": 1, None: 1}
    by_channel = {r.value: r.received for r in report(events, Dimension.CHANNEL).rows}
    assert by_channel == {"web": 2, "sms": 1}
    assert [r.value for r in report(events, Dimension.OFFICE).rows] == ["district.jongno.parks", None]


def test_a_duplicate_s_answer_counts_as_answered_by_the_answering_office() -> None:
    dup = Complaint()
    answered = DuplicateAnsweredV1(
        complaint_id=dup.id,
        receipt_no=dup.receipt_no,
        case_id=uuid.uuid4(),
        office="district.mapo.roads",
        at=kst(2026, 11, 3, 9),
        duplicate_of=uuid.uuid4(),
        duplicate_of_receipt_no="2026-9999999",
        text="보수했습니다",
        resolution=Resolution.RESOLVED,
    )
    events = [dup.received(kst(2026, 11, 2, 9)), dup.assigned(kst(2026, 11, 2, 9, 5), "x.other"), answered]
    rows = report(events, Dimension.OFFICE).rows
    assert [(r.value, r.answered, r.average_processing_days) for r in rows] == [
        ("district.mapo.roads", 1, 1.0)
    ]


def test_the_facts_are_the_same_whatever_order_the_events_come_in() -> None:
    a = Complaint()
    events: list[Payload] = [
        a.received(kst(2026, 11, 2, 9), district=District.MAPO, field=AdminField.SAFETY),
        a.assigned(
            kst(2026, 11, 2, 10), "district.mapo.safety", district=District.MAPO, field=AdminField.SAFETY
        ),
        a.assigned(
            kst(2026, 11, 3, 10), "district.mapo.roads", district=District.MAPO, field=AdminField.OTHER
        ),
        a.answered(kst(2026, 11, 6, 10), "district.mapo.roads"),
        a.breached(kst(2026, 11, 5, 18)),
        a.met(kst(2026, 11, 6, 10), 3, 4, due=kst(2026, 11, 5, 18)),
    ]
    expected = facts_of(events)[0]
    for order in itertools.permutations(events):
        assert facts_of(order)[0] == expected
    assert expected[0].office == "district.mapo.roads" and expected[0].field == "other"


def test_figures_do_not_depend_on_the_order_facts_are_given_in() -> None:
    rng = random.Random(7)
    events: list[Payload] = []
    for i in range(60):
        c = Complaint()
        at = kst(2026, 11, 1 + i % 28, 9)
        events += [c.received(at), c.met(at + timedelta(hours=i), 7 + i % 5, (i % 9) / 3)]
    complaints, ratings = facts_of(events)
    once = figures("2026-11", Dimension.CITY, complaints, ratings)
    rng.shuffle(complaints)
    assert figures("2026-11", Dimension.CITY, complaints, ratings) == once


def test_csv_has_a_header_and_empty_cells_for_nulls() -> None:
    a = Complaint()
    text = as_csv(report([a.received(kst(2026, 11, 2, 9))], Dimension.OFFICE))
    lines = text.split("\r\n")
    assert lines[0].split(",") == list(CSV_COLUMNS)
    assert lines[1] == "2026-11,office,,1,0,0.0,,,0,0,0,,0.0,0.0"
    assert lines[2:] == [""]


def test_a_bad_month_is_refused() -> None:
    for month in ("2026-13", "2026-1", "26-11", "2026-11-01"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            month_bounds(month)


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("text/csv", "text/csv"),
        ("text/csv;q=0.5, application/json;q=0.9", "application/json"),
        ("application/json;q=0.1, text/*", "text/csv"),
    ],
)
def test_accept_chooses_json_or_csv(accept: str | None, media: str) -> None:
    assert preferred(accept) == media


class FakeStatistics:
    def __init__(self, events: list[Payload]) -> None:
        self.events = events

    async def report(self, month: str, by: Dimension) -> StatisticsReport:
        return report(self.events, by, month)


@pytest.fixture
def client() -> httpx.AsyncClient:
    a = Complaint()
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(statistics_router)
    app.state.statistics = FakeStatistics([a.received(kst(2026, 11, 2, 9))])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_the_api_answers_json_csv_and_problems(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/statistics", params={"month": "2026-11", "by": "channel"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json()["rows"][0]["value"] == "web" and r.json()["timezone"] == "Asia/Seoul"
    csv_by_accept = await client.get(
        "/api/v1/statistics", params={"month": "2026-11"}, headers={"Accept": "text/csv"}
    )
    csv_by_path = await client.get("/api/v1/statistics.csv", params={"month": "2026-11"})
    assert csv_by_accept.headers["content-type"].startswith("text/csv")
    assert csv_by_accept.text == csv_by_path.text and csv_by_path.text.startswith("month,by,value,")
    for params in ({"month": "2026-13"}, {}, {"month": "2026-11", "by": "mayor"}):
        bad = await client.get("/api/v1/statistics", params=params)
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        assert bad.json()["type"].endswith("validation-error")
    refused = await client.get(
        "/api/v1/statistics", params={"month": "2026-11"}, headers={"Accept": "application/xml"}
    )
    assert refused.status_code == 406 and refused.headers["content-type"] == "application/problem+json"
    schema = (await client.get("/api/v1/statistics/schema")).json()
    assert set(schema["$defs"]["StatisticsRow"]["properties"]) == set(CSV_COLUMNS)


def test_the_command_takes_each_event_once_from_its_owner_s_stream_only() -> None:
    from eungdapso_publisher.statistics_cli import History
    from eungdapso_schemas.envelope import Envelope, encode
    from eungdapso_schemas.streams import INTAKE_EVENTS, SLA_EVENTS

    a = Complaint()
    received = encode(
        Envelope("e-1", "/test", kst(2026, 11, 2, 9), str(a.id), a.received(kst(2026, 11, 2, 9)))
    )
    history = History()
    history.take(INTAKE_EVENTS.name, received.key, received.value, received.headers)
    history.take(INTAKE_EVENTS.name, received.key, received.value, received.headers)  # delivered twice
    history.take(SLA_EVENTS.name, received.key, received.value, received.headers)  # not its owner's stream
    history.take(INTAKE_EVENTS.name, received.key, b"{broken", received.headers)  # breaks the contract
    assert only_row(history.report("2026-11", Dimension.CITY))["received"] == 1
    assert history.skipped == 2


async def test_a_report_is_counted_once_for_everyone_asking_within_the_cache_time() -> None:
    from eungdapso_publisher.statistics_projection import StatisticsQueries

    a = Complaint()
    events: list[Payload] = [a.received(kst(2026, 11, 2, 9))]

    class Counted(StatisticsQueries):
        reads = 0

        async def facts(
            self, start: datetime, end: datetime
        ) -> tuple[list[ComplaintFacts], list[RatingFact]]:
            Counted.reads += 1
            await asyncio.sleep(0.01)
            return facts_of(events)

    cached = Counted(None, cache_s=60)  # type: ignore[arg-type]
    reports = await asyncio.gather(*(cached.report("2026-11", Dimension.CITY) for _ in range(5)))
    assert Counted.reads == 1 and all(r == reports[0] for r in reports)
    await cached.report("2026-10", Dimension.CITY)
    assert Counted.reads == 2  # another month is another report
    uncached = Counted(None, cache_s=0)  # type: ignore[arg-type]
    await uncached.report("2026-11", Dimension.CITY)
    await uncached.report("2026-11", Dimension.CITY)
    assert Counted.reads == 4


def test_the_gateway_routes_the_statistics_to_the_publisher() -> None:
    from eungdapso_schemas.system import ingress_routes

    for path in ("/api/v1/statistics", "/api/v1/statistics.csv", "/api/v1/statistics/schema"):
        owners = [name for route, name in ingress_routes() if route.matches(path)]
        assert owners[:1] == ["publisher"], path


def test_the_checked_in_json_schema_is_the_one_served() -> None:
    import json
    from pathlib import Path

    import eungdapso_publisher

    checked_in = Path(eungdapso_publisher.__file__).parents[2] / "statistics.schema.json"
    assert json.loads(checked_in.read_text(encoding="utf-8")) == StatisticsReport.model_json_schema(), (
        "regenerate services/publisher/statistics.schema.json from StatisticsReport.model_json_schema()"
    )
