"""Statistics and open data (issue 10, point 3), on the real broker and PostgreSQL: a generated
month of complaints (several offices, districts, channels; ratings, overdue, extended and
instant answers, first-contact resolutions, a confidential report, duplicates and a malformed
record on the topics) goes through the publisher's `statistics` projection; the API's JSON
and CSV for every dimension equal what `python -m eungdapso_publisher statistics` recomputes
from the topics alone, with no database; and the city's counts are the ones the test knows
it generated. A rebuild of the read model from the topics serves the same numbers."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_platform.consumer import Projection
from eungdapso_platform.rebuild import rebuild_read_model
from eungdapso_publisher.bootstrap import bootstrap
from eungdapso_publisher.settings import PublisherSettings
from eungdapso_publisher.statistics import COMPLAINT_EVENTS, RATING_EVENTS, Dimension, month_bounds
from eungdapso_schemas.codes import Channel, District, Kind, MessageClass, OfficeLevel, Resolution
from eungdapso_schemas.codes import Field as AdminField
from eungdapso_schemas.envelope import Envelope, encode
from eungdapso_schemas.events import (
    CaseAnsweredV1,
    ComplaintAnsweredInstantlyV1,
    ComplaintAssignedV2,
    ComplaintReceivedV2,
    DeadlineBreachedV1,
    DeadlineExtendedV1,
    DeadlineMetV1,
    FirstContactResolution,
    Office,
    Payload,
    Place,
    RatedV1,
    RatingInvitedV1,
)
from eungdapso_schemas.streams import CASEWORK_EVENTS, stream_for
from tests.conftest import settings_for
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

MONTH = "2026-11"
START, END = month_bounds(MONTH)
OFFICES = {
    District.MAPO: "district.mapo.roads",
    District.JONGNO: "district.jongno.parks",
    District.GANGNAM: "district.gangnam.parking",
}
HQ = "seoul.transport"
CHANNELS = (Channel.WEB, Channel.APP, Channel.PHONE, Channel.SMS, Channel.SNS)
HANDLED = {*COMPLAINT_EVENTS, *RATING_EVENTS}


@dataclass
class Month:
    """The generated history, and what the test knows of November from generating it."""

    events: list[Envelope[Any]] = field(default_factory=list)
    received: int = 0
    answered: int = 0
    overdue: int = 0
    instant: int = 0
    first_contact: int = 0
    ratings: int = 0

    def add(self, payload: Payload) -> None:
        self.events.append(Envelope(str(uuid.uuid4()), "/test", START, str(payload.complaint_id), payload))  # type: ignore[attr-defined]

    @property
    def handled(self) -> int:
        return sum(type(e.data) in HANDLED for e in self.events)


def in_month(at: datetime) -> bool:
    return START <= at < END


def generate(seed: int = 11, n: int = 90) -> Month:
    rng = random.Random(seed)
    month = Month()
    # From 25 Oct to 6 Dec (Seoul): some before and after November, to test the bounds.
    first = datetime(2026, 10, 25, tzinfo=UTC)
    for i in range(n):
        cid, receipt_no = uuid.uuid4(), f"2026-{i + 1:07d}"
        ids = {"complaint_id": cid, "receipt_no": receipt_no}
        received_at = first + timedelta(minutes=rng.randrange(0, 42 * 24 * 60))
        district = rng.choice(list(OFFICES))
        channel = rng.choice(CHANNELS)
        kind = rng.choices(
            [Kind.COMPLAINT, Kind.INQUIRY, Kind.PROPOSAL, Kind.CORRUPTION_REPORT], weights=[14, 4, 2, 1]
        )[0]
        first_contact = channel is Channel.PHONE and kind is Kind.INQUIRY and rng.random() < 0.7
        answers: list[datetime] = [received_at] if first_contact else []
        month.add(
            ComplaintReceivedV2(
                **ids,
                received_at=received_at,
                channel=channel,
                kind=kind,
                confidential=kind.confidential,
                field=AdminField.ROADS_TRAFFIC,
                text="민원 내용",
                place=Place(district=district),
                first_contact=FirstContactResolution(agent="a-1", answer="안내", answered_at=received_at)
                if first_contact
                else None,
            )
        )
        office = OFFICES[district] if rng.random() < 0.8 else HQ
        assigned_at = received_at + timedelta(minutes=rng.randrange(1, 30))
        month.add(
            ComplaintAssignedV2(
                **ids,
                assigned_at=assigned_at,
                office=Office(code=office, name="과", level=OfficeLevel.DISTRICT),
                rule="test",
                message_class=MessageClass.GENERAL,
                field=rng.choice([AdminField.ROADS_TRAFFIC, AdminField.ENVIRONMENT_PARKS, AdminField.SAFETY]),
                subject="streetlight",
                district=district,
                confidence=0.8,
            )
        )
        fate = rng.random()
        answered_at: datetime | None = None
        if kind is Kind.INQUIRY and not first_contact and fate < 0.6:
            answered_at = assigned_at
            month.add(
                ComplaintAnsweredInstantlyV1(
                    **ids, answered_at=answered_at, answer_id="faq-1", answer="안내", confidence=0.9
                )
            )
            month.instant += in_month(received_at)
        elif not first_contact and fate < 0.85:
            extended = rng.random() < 0.2
            statutory = 14.0 if extended else rng.choice([7.0, 3.0])
            due = received_at + timedelta(days=statutory * 1.4)
            if extended:
                month.add(
                    DeadlineExtendedV1(
                        **ids,
                        due=due,
                        office=office,
                        previous_due=due - timedelta(days=9),
                        reason="현장 조사",
                    )
                )
            answered_at = received_at + timedelta(hours=rng.randrange(2, int(statutory * 1.4 * 24) + 72))
            within = answered_at <= due
            if not within:
                month.add(DeadlineBreachedV1(**ids, due=due, office=office, at=due))
                month.overdue += in_month(due)
            month.add(
                CaseAnsweredV1(
                    **ids,
                    case_id=uuid.uuid4(),
                    office=office,
                    at=answered_at,
                    staff="s-1",
                    text="조치했습니다",
                    resolution=Resolution.RESOLVED,
                )
            )
            actual = round((answered_at - received_at) / timedelta(days=1), 2)
            month.add(
                DeadlineMetV1(
                    **ids,
                    due=due,
                    office=office,
                    answered_at=answered_at,
                    statutory=statutory * 8 if statutory == 3.0 else statutory,
                    actual=actual * 8 if statutory == 3.0 else actual,
                    measured_in="working_hours" if statutory == 3.0 else "working_days",
                    within=within,
                )
            )
        elif not first_contact:
            due = received_at + timedelta(days=9)
            month.add(DeadlineBreachedV1(**ids, due=due, office=office, at=due))
            month.overdue += in_month(due)
        answers += [answered_at] if answered_at else []
        month.received += in_month(received_at)
        month.first_contact += first_contact and in_month(received_at)
        month.answered += bool(answers) and in_month(min(answers))
        if answers and rng.random() < 0.6:
            by_office = not first_contact and not (kind is Kind.INQUIRY and answered_at == assigned_at)
            invitation = uuid.uuid4()
            rated_at = min(answers) + timedelta(hours=rng.randrange(1, 200))
            common = {**ids, "invitation_id": invitation, "office": office if by_office else None}
            answered_by = "office" if by_office else "instant"
            month.add(
                RatingInvitedV1(
                    **common,
                    answered_by=answered_by,
                    answered_at=min(answers),
                    expires_at=min(answers) + timedelta(days=30),
                )
            )
            month.add(RatedV1(**common, score=rng.randint(1, 5), rated_at=rated_at, answered_by=answered_by))
            month.ratings += in_month(rated_at)
    return month


async def publish(bootstrap_servers: str, month: Month) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", linger_ms=5)
    await producer.start()
    try:
        sent = []
        # A few events delivered twice (same CloudEvents id): each is counted once.
        for e in [*month.events, *month.events[:: len(month.events) // 5]]:
            r = encode(e)
            topic = stream_for(type(e.data)).name
            sent.append(await producer.send(topic, value=r.value, key=r.key, headers=r.headers))
        # A record that breaks the contract: dead-lettered by the projection, skipped by the command.
        sent.append(
            await producer.send(
                CASEWORK_EVENTS.name,
                value=b"{not json",
                headers=[("ce_type", b"kr.go.seoul.eungdapso.case.answered.v1")],
            )
        )
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def recompute(bootstrap_servers: str, by: Dimension, fmt: str) -> str:
    """The command, in its own process, with Kafka and nothing else to read from."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "PG"))}
    env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap_servers
    done = subprocess.run(
        [sys.executable, "-m", "eungdapso_publisher", "statistics", "--month", MONTH, "--by", by.value,
         "--format", fmt],
        capture_output=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:].decode()
    return done.stdout.decode()  # as written: CSV lines end in CRLF (RFC 4180)


def statistics_component(app: FastAPI) -> Projection:
    found = [c for c in app.state.parts.components if c.id == "publisher.statistics"]
    assert len(found) == 1
    component: Projection = found[0]
    return component


@pytest.fixture
async def publisher(
    database: PostgresTarget, broker: str
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    # Counted on every request: the rebuild below must show in the next answer.
    settings = settings_for(PublisherSettings, database, kafka_bootstrap_servers=broker, statistics_cache_s=0)
    app = bootstrap(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://publisher"
        ) as http:
            yield app, http


async def test_the_published_statistics_equal_those_recomputed_from_the_topics_alone(
    database: PostgresTarget, broker: str, publisher: tuple[FastAPI, httpx.AsyncClient]
) -> None:
    app, http = publisher
    month = generate()
    await publish(broker, month)
    component = statistics_component(app)

    async def applied() -> bool:
        return component.stats.applied == month.handled and component.stats.dead_lettered == 1

    await eventually(applied, timeout=90, what="the statistics projection applied every event once")
    assert component.stats.duplicates > 0

    async def api(by: Dimension, fmt: str) -> str:
        path = "/api/v1/statistics.csv" if fmt == "csv" else "/api/v1/statistics"
        r = await http.get(path, params={"month": MONTH, "by": by.value})
        assert r.status_code == 200, r.text
        return r.text

    published: dict[Dimension, dict[str, Any]] = {}
    for by in Dimension:
        from_topics = await asyncio.to_thread(recompute, broker, by, "json")
        published[by] = json.loads(await api(by, "json"))
        assert json.loads(from_topics) == published[by], by
        assert await asyncio.to_thread(recompute, broker, by, "csv") == await api(by, "csv"), by

    # The numbers are the ones generated, not merely the same on both sides.
    (city,) = published[Dimension.CITY]["rows"]
    assert (city["received"], city["answered"], city["overdue"]) == (
        month.received,
        month.answered,
        month.overdue,
    )
    assert city["satisfaction_count"] == month.ratings
    assert city["instant_answer_rate"] == round(month.instant / month.received * 100, 2)
    assert city["first_contact_resolution_rate"] == round(month.first_contact / month.received * 100, 2)
    assert city["speed_index"] is not None and city["speed_index_complaints"] > 0
    offices = {r["value"] for r in published[Dimension.OFFICE]["rows"]}
    assert {*OFFICES.values(), HQ} <= offices
    channels = {r["value"] for r in published[Dimension.CHANNEL]["rows"]}
    assert channels == {c.value for c in CHANNELS}
    for by in (Dimension.OFFICE, Dimension.DISTRICT, Dimension.FIELD, Dimension.CHANNEL):
        assert sum(r["received"] for r in published[by]["rows"]) == month.received, by

    # Rebuilt from the topics beside the live one, the read model serves the same numbers.
    settings = settings_for(PublisherSettings, database, kafka_bootstrap_servers=broker)
    report = await rebuild_read_model(component, settings)
    assert report.generation == 2
    assert json.loads(await api(Dimension.OFFICE, "json")) == published[Dimension.OFFICE]
