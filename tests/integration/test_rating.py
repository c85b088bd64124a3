"""The rating service on a real PostgreSQL and broker, with a clock the test sets: answers
(by an office, by the desk at once, by a duplicate's original) invite the citizen once each,
the link travels on the links topic only; every path of the rating API (valid, reused, forged,
expired, foreign, bad score, two posts at once, a low score asking for a review) and the
figures per office and month; the link key survives a restart; the comment is in no log."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from asgi_lifespan import LifespanManager

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_platform.clock import FixedClock
from eungdapso_platform.service import Overrides
from eungdapso_rating.bootstrap import bootstrap
from eungdapso_rating.settings import RatingSettings
from eungdapso_schemas.codes import OfficeLevel, Resolution
from eungdapso_schemas.envelope import Envelope, decode, encode
from eungdapso_schemas.events import (
    CaseAnsweredV1,
    ComplaintAnsweredInstantlyV1,
    ComplaintAssignedV2,
    DuplicateAnsweredV1,
    Office,
    RatedV1,
    RatingInvitedV1,
    RatingLinkIssuedV1,
    ReviewRequestedV1,
)
from eungdapso_schemas.streams import CASEWORK_EVENTS, RATING_EVENTS, RATING_LINKS, ROUTER_EVENTS
from tests.conftest import settings_for
from tests.support.kafka import produce, read_topic
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

SEOUL = ZoneInfo("Asia/Seoul")
ROADS = Office(code="district.yongsan.roads", name="용산구 도로과", level=OfficeLevel.DISTRICT)
PARKS = Office(code="district.mapo.parks", name="마포구 공원녹지과", level=OfficeLevel.DISTRICT)
COMMENT = "담당자 연락처 010-9876-5432 로 다시 연락 주세요"
ANSWERED = datetime(2026, 11, 26, 14, 0, tzinfo=SEOUL)
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=SEOUL)
#: What the rating page asks first (`?token=`), then it posts the score to /api/v1/ratings.
INVITATION = "/api/v1/ratings/invitation"


def a(model: Any, cid: uuid.UUID, no: str, **values: Any) -> Any:
    """The contract's example of `model`, about this complaint."""
    return model.example().model_copy(update={"complaint_id": cid, "receipt_no": no, **values})


def assigned(cid: uuid.UUID, no: str, office: Office) -> Any:
    return a(ComplaintAssignedV2, cid, no, office=office)


def case_answered(cid: uuid.UUID, no: str, office: Office, at: datetime) -> Any:
    return a(CaseAnsweredV1, cid, no, office=office.code, at=at, resolution=Resolution.RESOLVED)


def duplicate_answered(cid: uuid.UUID, no: str, office: Office, at: datetime) -> Any:
    return a(DuplicateAnsweredV1, cid, no, office=office.code, at=at)


async def publish(broker: str, topic: str, *payloads: Any) -> None:
    """Each payload as its owner would publish it, in order."""
    encoded = [
        encode(Envelope(id=str(uuid.uuid4()), source="/test", time=NOW, subject=str(p.complaint_id), data=p))
        for p in payloads
    ]
    await produce(broker, topic, [(r.key, r.value, r.headers) for r in encoded])


async def records(broker: str, topic: str, at_least: int) -> list[Any]:
    return list(await read_topic(broker, topic, at_least=at_least))


def of(found: list[Any], kind: type[Any]) -> list[Any]:
    """The distinct events of `kind` among the records: the relay publishes at least once (a
    batch sent again after a restart keeps its CloudEvents id, which readers deduplicate on)."""
    decoded = {e.id: e.data for e in (decode(r.headers, r.key, r.value) for r in found)}
    return [d for d in decoded.values() if isinstance(d, kind)]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def running(
    database: PostgresTarget, broker: str, clock: FixedClock
) -> Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]]:
    settings = settings_for(
        RatingSettings, database, kafka_bootstrap_servers=broker, relay_poll_interval_s=0.1
    )

    @asynccontextmanager
    async def run() -> AsyncIterator[httpx.AsyncClient]:
        app = bootstrap(settings, Overrides(clock=clock))
        async with (
            LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rating") as http,
        ):
            yield http

    return run


async def test_every_rating_path(
    broker: str,
    clock: FixedClock,
    running: Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    roads, roads_no = uuid.uuid4(), "2026-0000301"  # answered by its office, then again
    desk, desk_no = uuid.uuid4(), "2026-0000302"  # answered at once by the desk
    dup, dup_no = uuid.uuid4(), "2026-0000303"  # a duplicate answered with its original's answer
    old, old_no = uuid.uuid4(), "2026-0000304"  # answered before the rating period: no invitation
    late, late_no = uuid.uuid4(), "2026-0000306"  # rated too late: its link has expired
    parks, parks_no = uuid.uuid4(), "2026-0000305"  # another office, rated by two posts at once
    async with running() as http:
        await publish(
            broker,
            ROUTER_EVENTS.name,
            assigned(roads, roads_no, ROADS),
            assigned(parks, parks_no, PARKS),
            a(ComplaintAnsweredInstantlyV1, desk, desk_no, answered_at=ANSWERED),
        )
        await publish(
            broker,
            CASEWORK_EVENTS.name,
            case_answered(roads, roads_no, ROADS, ANSWERED),
            duplicate_answered(dup, dup_no, ROADS, ANSWERED),
            case_answered(old, old_no, ROADS, ANSWERED - timedelta(days=31)),
            case_answered(parks, parks_no, PARKS, ANSWERED),
            case_answered(late, late_no, ROADS, ANSWERED),
            # The office answers the first again (after an objection): no second invitation.
            case_answered(roads, roads_no, ROADS, ANSWERED + timedelta(hours=3)),
        )
        links = of(await records(broker, RATING_LINKS.name, 5), RatingLinkIssuedV1)
        token = {link.complaint_id: link.token for link in links}
        assert sorted(link.receipt_no for link in links) == [roads_no, desk_no, dup_no, parks_no, late_no]
        await asyncio.sleep(1.0)  # time for a second invitation to show, if there were one
        events = await records(broker, RATING_EVENTS.name, 5)
        invited = {i.complaint_id: i for i in of(events, RatingInvitedV1)}
        assert len(of(events, RatingInvitedV1)) == 5 and len(invited) == 5
        assert invited[roads].office == ROADS.code and invited[roads].answered_at == ANSWERED
        assert invited[roads].expires_at == ANSWERED + timedelta(days=30)
        assert (invited[desk].office, invited[desk].answered_by) == (None, "instant")
        assert invited[dup].answered_by == "duplicate"
        # The token is on the links topic only: nowhere on the events stream.
        assert not of(events, RatingLinkIssuedV1)
        assert not any(t.encode() in (r.value or b"") for t in token.values() for r in events)
        assert {link.invitation_id for link in links} == {i.invitation_id for i in invited.values()}

        # What a link rates: the answer's receipt number, office and time; nothing personal.
        # The office's name comes from the router's stream, in no order with casework's.
        async def named() -> dict[str, Any] | None:
            got = await http.get(INVITATION, params={"token": token[roads], "complaint": str(roads)})
            assert got.status_code == 200, got.text
            shown: dict[str, Any] = got.json()
            return shown if shown["office_name"] is not None else None

        shown = await eventually(named, what="the office's name")
        assert shown.keys() == {
            "receipt_no",
            "office",
            "office_name",
            "answered_by",
            "answered_at",
            "expires_at",
        }
        assert (shown["receipt_no"], shown["office"], shown["office_name"], shown["answered_by"]) == (
            roads_no,
            ROADS.code,
            ROADS.name,
            "office",
        )
        assert datetime.fromisoformat(shown["answered_at"]) == ANSWERED
        assert datetime.fromisoformat(shown["expires_at"]) == ANSWERED + timedelta(days=30)
        assert (await http.get(INVITATION, params={"token": token[desk]})).json()["office"] is None

        # Refused, each with its problem, and nothing recorded.
        forged = token[dup].rsplit(".", 1)[0] + "." + token[roads].rsplit(".", 1)[1]
        refusals = {
            "forged": (await http.post("/api/v1/ratings", json={"token": forged, "score": 5}), 403),
            "foreign": (
                await http.post(
                    "/api/v1/ratings",
                    params={"complaint": str(desk)},
                    json={"token": token[roads], "score": 5},
                ),
                403,
            ),
            "score 0": (await http.post("/api/v1/ratings", json={"token": token[roads], "score": 0}), 422),
            "score 6": (await http.post("/api/v1/ratings", json={"token": token[roads], "score": 6}), 422),
            "no score": (await http.post("/api/v1/ratings", json={"token": token[roads]}), 422),
            "not a token": (await http.post("/api/v1/ratings", json={"token": "x", "score": 3}), 422),
        }
        for what, (response, status) in refusals.items():
            assert response.status_code == status, (what, response.text)
            assert response.headers["content-type"] == "application/problem+json", what
        assert refusals["forged"][0].json()["type"].endswith("/rating-link-invalid")
        assert refusals["foreign"][0].json()["type"].endswith("/rating-link-foreign")
        assert (await http.get(INVITATION, params={"token": forged})).status_code == 403
        foreign_get = await http.get(INVITATION, params={"token": token[roads], "complaint": str(desk)})
        assert foreign_get.status_code == 403

        # A low score with a comment: rated, and the office asked to review it.
        low = await http.post(
            "/api/v1/ratings",
            params={"complaint": str(roads)},
            json={"token": token[roads], "score": 2, "comment": COMMENT},
        )
        assert low.status_code == 201, low.text
        assert low.json()["review_requested"] is True and COMMENT not in low.text
        reused = await http.post("/api/v1/ratings", json={"token": token[roads], "score": 5})
        assert reused.status_code == 409 and reused.json()["type"].endswith("/rating-link-used")
        assert (await http.get(INVITATION, params={"token": token[roads]})).status_code == 409

        # Posts of the same link at once (a double click, a retry): exactly one rating.
        posts = await asyncio.gather(
            *(http.post("/api/v1/ratings", json={"token": token[parks], "score": s}) for s in (4, 3, 4, 3))
        )
        assert sorted(r.status_code for r in posts) == [201, 409, 409, 409], [r.text for r in posts]
        (won,) = [r for r in posts if r.status_code == 201]
        assert won.json()["review_requested"] is False

        dup_rated = await http.post("/api/v1/ratings", json={"token": token[dup], "score": 5})
        assert dup_rated.status_code == 201

    # The link key is kept: after a restart the links sent still work.
    async with running() as http:
        desk_rated = await http.post("/api/v1/ratings", json={"token": token[desk], "score": 5})
        assert desk_rated.status_code == 201, desk_rated.text
        # The rating period of the others ends 30 days after their answer, to the second.
        clock.at = ANSWERED + timedelta(days=30)
        expired = await http.post("/api/v1/ratings", json={"token": token[late], "score": 5})
        assert expired.status_code == 410 and expired.json()["type"].endswith("/rating-link-expired")
        assert (await http.get(INVITATION, params={"token": token[late]})).status_code == 410

        events = await records(broker, RATING_EVENTS.name, 5 + 4 + 1)
        await asyncio.sleep(1.0)
        events = await records(broker, RATING_EVENTS.name, 5 + 4 + 1)
        rated = {r.complaint_id: r for r in of(events, RatedV1)}
        # Every refusal above recorded nothing.
        assert len(of(events, RatedV1)) == 4 and set(rated) == {roads, parks, dup, desk}
        assert rated[roads].score == 2 and rated[roads].comment == COMMENT and rated[roads].rated_at == NOW
        assert rated[parks].score == won.json()["score"] and rated[parks].office == PARKS.code
        (review,) = of(events, ReviewRequestedV1)
        assert (review.complaint_id, review.office, review.score, review.comment) == (
            roads,
            ROADS.code,
            2,
            COMMENT,
        )

        # Per office and month (Seoul time): count and mean; the desk's under no office.
        summary = await http.get("/api/v1/ratings/summary", params={"month": "2026-11"})
        assert summary.status_code == 200, summary.text
        figures = {row["office"]: row for row in summary.json()["offices"]}
        assert set(figures) == {None, ROADS.code, PARKS.code}
        assert (figures[ROADS.code]["count"], figures[ROADS.code]["mean"], figures[ROADS.code]["low"]) == (
            2,
            3.5,
            1,
        )
        assert figures[ROADS.code]["name"] == ROADS.name
        assert figures[ROADS.code]["by_score"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}
        assert (figures[None]["count"], figures[None]["mean"]) == (1, 5.0)
        assert figures[PARKS.code]["count"] == 1
        one = await http.get("/api/v1/ratings/summary", params={"month": "2026-11", "office": PARKS.code})
        assert [row["office"] for row in one.json()["offices"]] == [PARKS.code]
        assert (await http.get("/api/v1/ratings/summary", params={"month": "2026-10"})).json()[
            "offices"
        ] == []
        assert (await http.get("/api/v1/ratings/summary", params={"month": "2026-13"})).status_code == 422
        assert COMMENT not in summary.text

    # Personal data stays out of the logs: neither the comment nor any token.
    logged = capsys.readouterr()
    assert "rated" in logged.err
    for secret in (COMMENT, "010-9876-5432", *token.values()):
        assert secret not in logged.err and secret not in logged.out
