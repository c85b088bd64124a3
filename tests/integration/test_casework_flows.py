"""Casework completes the flows, on a real PostgreSQL and broker: instant answers and linked
duplicates leave no case to work; a linked duplicate is answered with its original exactly once
whichever of link and answer comes first; transfers are checked against the directory the
router publishes on its stream; the SLA service's deadlines show in the inbox; review requests
after a low rating reach the office concerned and nobody else."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_platform.service import create_app
from eungdapso_router.bootstrap import build
from eungdapso_router.settings import RouterSettings
from eungdapso_schemas.envelope import Envelope, decode
from eungdapso_schemas.events import (
    CaseWithdrawnV1,
    ComplaintAnsweredInstantlyV1,
    ComplaintLinkedV1,
    DeadlineBreachedV1,
    DeadlineExtendedV1,
    DeadlineSetV1,
    DeadlineWarnedV1,
    DirectoryPublishedV1,
    DuplicateAnsweredV1,
    Payload,
    ReviewRequestedV1,
)
from eungdapso_schemas.streams import CASEWORK_EVENTS, INTAKE_EVENTS, RATING_EVENTS, ROUTER_EVENTS, SLA_EVENTS
from tests.conftest import settings_for
from tests.integration.test_casework import (
    PARKING,
    ROADS,
    T0,
    Casework,
    assert_problem,
    assigned,
    events_on,
    publish,
    received,
    running_casework,
)
from tests.support.kafka import read_topic
from tests.support.routing import routing_models
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

STAFF = {"staff": "gangnam-0412"}
ANSWER = {**STAFF, "text": "단속반이 현장에서 차량을 이동 조치했습니다.", "resolution": "resolved"}


@pytest.fixture
async def casework(database: PostgresTarget, broker: str) -> AsyncIterator[Casework]:
    async with running_casework(database, broker) as running:
        yield running


def on(topic_payload: Payload) -> Envelope[Any]:
    subject = getattr(topic_payload, "complaint_id", None)
    return Envelope(
        id=str(uuid.uuid4()),
        source="/test",
        time=T0,
        subject=str(subject) if subject is not None else topic_payload.cloudevents_subject,  # type: ignore[attr-defined]
        data=topic_payload,
    )


def linked(cid: uuid.UUID, receipt_no: str, original: uuid.UUID, original_receipt_no: str) -> Envelope[Any]:
    return on(
        ComplaintLinkedV1.example().model_copy(
            update={
                "complaint_id": cid,
                "receipt_no": receipt_no,
                "duplicate_of": original,
                "duplicate_of_receipt_no": original_receipt_no,
                "linked_at": T0 + timedelta(minutes=2),
            }
        )
    )


def payloads(records: list[Envelope[Any]], kind: type[Payload]) -> list[Any]:
    return [e.data for e in records if isinstance(e.data, kind)]


async def test_instant_answers_and_links_leave_no_case_and_each_duplicate_is_answered_once(
    casework: Casework, broker: str
) -> None:
    original, first_dup, late_dup, faq = (uuid.uuid4() for _ in range(4))
    receipts = {
        original: "2026-0000201",
        first_dup: "2026-0000202",
        late_dup: "2026-0000203",
        faq: "2026-0000204",
    }
    await publish(broker, INTAKE_EVENTS.name, received(original, receipts[original]))
    # As the router publishes them: the assignment "for the record", then the answer or link.
    answered_at_once = on(
        ComplaintAnsweredInstantlyV1.example().model_copy(
            update={"complaint_id": faq, "receipt_no": receipts[faq]}
        )
    )
    await publish(
        broker,
        ROUTER_EVENTS.name,
        assigned(original, receipts[original], PARKING),
        assigned(faq, receipts[faq], PARKING),
        answered_at_once,
        assigned(first_dup, receipts[first_dup], PARKING, minutes=2),
        linked(first_dup, receipts[first_dup], original, receipts[original]),
    )

    async def with_its_link() -> dict[str, Any] | None:
        case = await casework.case_of(PARKING.code, receipts[original])
        return case if case is not None and case["linked"] else None

    case = await eventually(with_its_link, what="the original with its linked duplicate")
    assert [(d["receipt_no"], d["followed"]) for d in case["linked"]] == [(receipts[first_dup], None)]
    listed = (await casework.get("/cases", PARKING.code)).json()
    assert [c["receipt_no"] for c in listed["cases"]] == [receipts[original]] and listed["total"] == 1

    path = f"/cases/{case['case_id']}"
    assert (await casework.post(f"{path}/accept", PARKING.code, STAFF)).status_code == 200
    answered = await casework.post(f"{path}/answer", PARKING.code, ANSWER)
    assert answered.status_code == 200, answered.text
    assert answered.json()["linked"][0]["followed"] == "answered"

    # A duplicate linked after the answer is answered at once; the first link delivered again
    # (another message id: past the ledger) answers nobody twice.
    await publish(
        broker,
        ROUTER_EVENTS.name,
        assigned(late_dup, receipts[late_dup], PARKING, minutes=50),
        linked(late_dup, receipts[late_dup], original, receipts[original]),
        linked(first_dup, receipts[first_dup], original, receipts[original]),
    )
    # opened ×4, withdrawn ×3 (instant, linked ×2), accepted, answered, duplicate answered ×2.
    events = await events_on(broker, CASEWORK_EVENTS.name, at_least=11)
    answers = payloads(events, DuplicateAnsweredV1)
    assert sorted(a.receipt_no for a in answers) == [receipts[first_dup], receipts[late_dup]]
    assert {(a.duplicate_of, a.office, str(a.case_id), a.text) for a in answers} == {
        (original, PARKING.code, case["case_id"], ANSWER["text"])
    }
    left = payloads(events, CaseWithdrawnV1)
    assert sorted((w.receipt_no, w.because) for w in left) == [
        (receipts[first_dup], "linked"),
        (receipts[late_dup], "linked"),
        (receipts[faq], "answered_instantly"),
    ]
    assert len({e.id for e in events}) == len(events)
    for no in (receipts[faq], receipts[first_dup], receipts[late_dup]):
        assert await casework.case_of(PARKING.code, no) is None
    shown = (await casework.get(path, PARKING.code)).json()
    assert [(d["receipt_no"], d["followed"]) for d in shown["linked"]] == [
        (receipts[first_dup], "answered"),
        (receipts[late_dup], "answered"),
    ]


@pytest.fixture
def router(casework: Casework, database: PostgresTarget, broker: str) -> Iterator[TestClient]:
    """The router as it runs: it publishes its packaged directory when it starts."""
    settings = settings_for(
        RouterSettings, database, kafka_bootstrap_servers=broker, relay_poll_interval_s=0.05
    )
    with TestClient(create_app(build(settings, models=routing_models()), title="router")) as client:
        yield client


async def test_transfers_are_checked_against_the_directory_the_router_publishes(
    casework: Casework, broker: str, request: pytest.FixtureRequest
) -> None:
    cid, receipt_no = uuid.uuid4(), "2026-0000301"
    await publish(broker, ROUTER_EVENTS.name, assigned(cid, receipt_no, PARKING))
    case = await eventually(lambda: casework.case_of(PARKING.code, receipt_no), what="the case")
    path = f"/cases/{case['case_id']}"
    assert (await casework.post(f"{path}/accept", PARKING.code, STAFF)).status_code == 200
    to_police = {**STAFF, "to_office": "ext.seoul_police", "reason": "교통사고 신고는 경찰 소관"}
    # No directory yet: nothing to check against, so nothing is recorded.
    early = assert_problem(await casework.post(f"{path}/transfer", PARKING.code, to_police), 503)
    assert early["title"] == "Directory not yet known"

    request.getfixturevalue("router")  # starts the router: it publishes its packaged edition
    records = await read_topic(broker, ROUTER_EVENTS.name, at_least=2, timeout=60)
    [version] = [decode(r.headers, r.key, r.value) for r in records if r.key == b"organisation-directory"]
    assert isinstance(version.data, DirectoryPublishedV1) and version.data.version == 1
    police = next(o for o in version.data.offices if o.code == "ext.seoul_police")
    assert (police.level, police.kind) == ("external", "agency")

    async def in_force() -> int | None:
        found: int | None = await casework.app.state.directory.in_force()
        return found

    assert await eventually(in_force, what="the directory in casework", timeout=60) == 1
    for unknown in ("district.nowhere.office", "ext.atlantis"):
        problem = assert_problem(
            await casework.post(f"{path}/transfer", PARKING.code, {**to_police, "to_office": unknown}),
            422,
            "Unknown office",
        )
        assert unknown in problem["detail"] and "version 1" in problem["detail"]
    assert (await casework.get(path, PARKING.code)).json()["status"] == "accepted"
    moved = await casework.post(f"{path}/transfer", PARKING.code, to_police)
    assert moved.status_code == 200 and moved.json()["transfer"]["to_office"] == "ext.seoul_police"

    # An older version delivered late changes nothing.
    stale = DirectoryPublishedV1.example().model_copy(update={"version": 1, "offices": ()})
    await publish(broker, ROUTER_EVENTS.name, on(stale))
    await asyncio.sleep(1)
    assert await casework.app.state.directory.office("district.gangnam.parking") is not None


async def test_the_deadline_shows_in_the_inbox_sorted_and_filtered_by_due_and_overdue(
    casework: Casework, broker: str
) -> None:
    now = datetime.now(UTC)
    late, soon, unset = (uuid.uuid4() for _ in range(3))
    receipts = {late: "2026-0000401", soon: "2026-0000402", unset: "2026-0000403"}
    await publish(
        broker, ROUTER_EVENTS.name, *(assigned(c, receipts[c], PARKING) for c in (unset, soon, late))
    )

    def deadline(kind: type[Payload], cid: uuid.UUID, **values: Any) -> Envelope[Any]:
        return on(
            kind.example().model_copy(update={"complaint_id": cid, "receipt_no": receipts[cid], **values})
        )

    set_due = now - timedelta(hours=2)
    await publish(
        broker,
        SLA_EVENTS.name,
        deadline(DeadlineSetV1, soon, due=now + timedelta(days=3), office=PARKING.code),
        deadline(DeadlineSetV1, late, due=set_due, office=PARKING.code),
        deadline(DeadlineExtendedV1, late, due=now - timedelta(hours=1), previous_due=set_due),
        deadline(DeadlineWarnedV1, late, due=now - timedelta(hours=1), at=now - timedelta(hours=3)),
        deadline(DeadlineBreachedV1, late, due=now - timedelta(hours=1), at=now - timedelta(minutes=59)),
    )

    async def breached() -> list[dict[str, Any]] | None:
        cases: list[dict[str, Any]] = (await casework.get("/cases", PARKING.code)).json()["cases"]
        return cases if any(c["breached"] for c in cases) else None

    cases = await eventually(breached, what="the breach in the inbox")
    assert [c["receipt_no"] for c in cases] == [receipts[late], receipts[soon], receipts[unset]]
    first = cases[0]
    assert first["overdue"] and first["extended"] and first["warned"] and first["breached"]
    assert not cases[1]["overdue"] and not cases[1]["breached"] and cases[2]["deadline"] is None

    overdue = (await casework.get("/cases?overdue=true", PARKING.code)).json()
    assert [c["receipt_no"] for c in overdue["cases"]] == [receipts[late]] and overdue["total"] == 1
    on_time = (await casework.get("/cases?overdue=false", PARKING.code)).json()
    assert [c["receipt_no"] for c in on_time["cases"]] == [receipts[soon], receipts[unset]]
    cutoff = (now + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    due_soon = (await casework.http.get(
        "/api/v1/inbox/cases", params={"due_before": cutoff}, headers=casework.as_(PARKING.code)
    )).json()  # fmt: skip
    assert [c["receipt_no"] for c in due_soon["cases"]] == [receipts[late]]
    assert_problem(
        await casework.http.get(
            "/api/v1/inbox/cases",
            params={"due_before": "2026-11-20T09:00"},
            headers=casework.as_(PARKING.code),
        ),
        422,
    )

    shown = (await casework.get(f"/cases/{first['case_id']}", PARKING.code)).json()
    sla = shown["deadline_detail"]
    assert sla["overdue"] and sla["extended_at"] and sla["warned_stage"] == "last_hour" and sla["breached_at"]
    assert sla["previous_due"] is not None and sla["basis"].startswith("민원 처리에 관한 법률")
    assert shown["deadline"] == sla["due"]


async def test_a_review_request_reaches_only_the_office_whose_answer_was_rated(
    casework: Casework, broker: str
) -> None:
    cid, receipt_no = uuid.uuid4(), "2026-0000501"
    await publish(broker, ROUTER_EVENTS.name, assigned(cid, receipt_no, PARKING))
    case = await eventually(lambda: casework.case_of(PARKING.code, receipt_no), what="the case")
    comment = "답변이 현장 상황과 전혀 다릅니다"
    review = ReviewRequestedV1.example().model_copy(
        update={"complaint_id": cid, "receipt_no": receipt_no, "office": PARKING.code, "comment": comment}
    )
    await publish(broker, RATING_EVENTS.name, on(review), on(review))  # twice: one request

    async def queued() -> list[dict[str, Any]] | None:
        reviews: list[dict[str, Any]] = (await casework.get("/reviews", PARKING.code)).json()["reviews"]
        return reviews or None

    [shown] = await eventually(queued, what="the review request")
    assert shown["score"] == 1 and shown["comment"] == comment and shown["case_id"] == case["case_id"]
    seen = (await casework.get(f"/cases/{case['case_id']}", PARKING.code)).json()
    assert [r["comment"] for r in seen["reviews"]] == [comment]

    # Another office: an empty queue, the case (with its review) not found, and it cannot note
    # the review: answered as for one that does not exist.
    other = (await casework.get("/reviews", ROADS.code)).json()
    assert other["reviews"] == [] and other["total"] == 0
    assert_problem(await casework.get(f"/cases/{case['case_id']}", ROADS.code), 404, "Case not found")
    assert_problem(await casework.http.get("/api/v1/inbox/reviews"), 401)
    noting = f"/reviews/{shown['invitation_id']}/noted"
    note = {**STAFF, "note": "현장 재확인 결과 차량이 다시 주차되어 재단속했습니다"}
    assert_problem(await casework.post(noting, ROADS.code, note), 404, "Review not found")
    assert_problem(await casework.post(f"/reviews/{uuid.uuid4()}/noted", PARKING.code, note), 404)
    assert_problem(await casework.post(noting, PARKING.code, {**STAFF, "note": "  "}), 422)

    noted = await casework.post(noting, PARKING.code, note)
    assert noted.status_code == 200, noted.text
    assert noted.json()["noted"]["note"] == note["note"] and noted.json()["noted"]["staff"] == STAFF["staff"]
    assert_problem(await casework.post(noting, PARKING.code, note), 409, "Review already noted")
    [listed] = (await casework.get("/reviews", PARKING.code)).json()["reviews"]
    assert listed["noted"]["note"] == note["note"]
