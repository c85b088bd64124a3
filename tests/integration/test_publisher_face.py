"""The publisher's public face on the real broker and PostgreSQL, served by uvicorn: every
public status of the lifecycle (whatever order the owners' events arrive in), redaction and
what private and confidential complaints show, the SSE feed resumed with Last-Event-ID, the
Atom feed, search by Korean keywords, and a rebuild that gives the same answers. The
attacker's view: no personal data or private text in any public output."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
import uvicorn

from eungdapso_devstack.infra import PostgresTarget, free_port
from eungdapso_platform.consumer import Projection
from eungdapso_platform.rebuild import rebuild_read_model
from eungdapso_publisher.bootstrap import bootstrap
from eungdapso_publisher.settings import PublisherSettings
from eungdapso_schemas.codes import Disclosure, Kind, OfficeLevel, Resolution
from eungdapso_schemas.envelope import Envelope, encode
from eungdapso_schemas.events import (
    CaseAcceptedV1,
    CaseAnsweredV1,
    CaseClosedV1,
    CaseTransferredV1,
    ComplaintAnsweredInstantlyV1,
    ComplaintAssignedV1,
    ComplaintLinkedV1,
    ComplaintReceivedV2,
    DeadlineBreachedV1,
    DeadlineExtendedV1,
    DeadlineSetV1,
    DuplicateAnsweredV1,
    Office,
    Payload,
    RatedV1,
)
from eungdapso_schemas.streams import stream_for
from tests.conftest import settings_for
from tests.support.kafka import produce
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 0, 30, tzinfo=UTC)
ROADS = Office(code="district.yongsan.roads", name="용산구 건설관리과", level=OfficeLevel.DISTRICT)
PARKING = Office(code="district.gangnam.parking", name="강남구 주차관리과", level=OfficeLevel.DISTRICT)
#: Personal data that may appear in what citizens write and offices answer.
SECRETS = (
    "홍길동",
    "김철수",
    "010-1234-5678",
    "01098765432",
    "hong@example.com",
    "12가3456",
    "900101-1234567",
    "110-123-456789",
    "@kimcitizen",
    "만리재로 193",
    "이영희",
    "comment-secret",
    "답변이 마음에 안 들어요",
)
PRIVATE_TEXT = "우리 집 앞 골목에 비밀스러운 사정이 있어요"
CONFIDENTIAL_TEXT = "구청 공무원이 뇌물을 받았습니다"


def envelope(payload: Payload, at: datetime = T0) -> Envelope[Any]:
    subject = str(getattr(payload, "complaint_id", uuid.uuid4()))
    return Envelope(id=str(uuid.uuid4()), source="/test", time=at, subject=subject, data=payload)


async def publish(broker: str, *payloads: Payload) -> None:
    """Each on its owner's stream, in the order given."""
    for payload in payloads:
        record = encode(envelope(payload))
        await produce(broker, stream_for(type(payload)).name, [(record.key, record.value, record.headers)])


class Complaint:
    """One complaint's events, as its owners would publish them."""

    def __init__(self, n: int, **received: Any) -> None:
        self.id = uuid.uuid4()
        self.receipt_no = f"2026-{n:07d}"
        self.received_values = received

    def _ids(self) -> dict[str, Any]:
        return {"complaint_id": self.id, "receipt_no": self.receipt_no}

    def received(self) -> ComplaintReceivedV2:
        values = {
            "text": "만리재로 193 앞 육교 계단에 구멍이 났어요",
            "disclosure": Disclosure.PUBLIC,
            **self.received_values,
        }
        return ComplaintReceivedV2.example().model_copy(update={**self._ids(), **values})

    def assigned(self, office: Office = ROADS, at: datetime = T0) -> ComplaintAssignedV1:
        return ComplaintAssignedV1(**self._ids(), assigned_at=at, office=office, rule="test")

    def _case(self, office: Office = ROADS, minutes: int = 10, **values: Any) -> dict[str, Any]:
        return {
            **self._ids(),
            "case_id": uuid.uuid5(uuid.NAMESPACE_URL, f"{self.id}:{office.code}"),
            "office": office.code,
            "at": T0 + timedelta(minutes=minutes),
            "staff": "yongsan-0412",
            **values,
        }

    def accepted(self, office: Office = ROADS) -> CaseAcceptedV1:
        return CaseAcceptedV1(**self._case(office, 10))

    def transferred(self) -> CaseTransferredV1:
        return CaseTransferredV1(**self._case(minutes=20, to_office="ext.seoul_police", reason="경찰 소관"))

    def answered(self, text: str = "육교 계단을 11월 24일 보수했습니다.") -> CaseAnsweredV1:
        return CaseAnsweredV1(**self._case(minutes=30, text=text, resolution=Resolution.RESOLVED))

    def closed(self) -> CaseClosedV1:
        return CaseClosedV1(**self._case(minutes=40))

    def deadline_set(self) -> DeadlineSetV1:
        return DeadlineSetV1.example().model_copy(update=self._ids())

    def extended(self) -> DeadlineExtendedV1:
        return DeadlineExtendedV1.example().model_copy(update=self._ids())

    def breached(self) -> DeadlineBreachedV1:
        return DeadlineBreachedV1.example().model_copy(update=self._ids())

    def instantly(self) -> ComplaintAnsweredInstantlyV1:
        return ComplaintAnsweredInstantlyV1.example().model_copy(update=self._ids())

    def linked_to(self, original: Complaint) -> ComplaintLinkedV1:
        return ComplaintLinkedV1.example().model_copy(
            update={
                **self._ids(),
                "duplicate_of": original.id,
                "duplicate_of_receipt_no": original.receipt_no,
            }
        )

    def duplicate_answered(self, original: Complaint) -> DuplicateAnsweredV1:
        return DuplicateAnsweredV1.example().model_copy(
            update={
                **self._ids(),
                "duplicate_of": original.id,
                "duplicate_of_receipt_no": original.receipt_no,
            }
        )

    def rated(self, score: int = 2) -> RatedV1:
        return RatedV1.example().model_copy(
            update={**self._ids(), "score": score, "comment": "답변이 마음에 안 들어요 comment-secret"}
        )


class Publisher:
    def __init__(self, url: str, component: Projection, settings: PublisherSettings) -> None:
        self.url = url
        self.component = component
        self.settings = settings
        self.http = httpx.AsyncClient(base_url=url, timeout=30)

    async def status(self, complaint: Complaint) -> dict[str, Any] | None:
        r = await self.http.get(f"/api/v1/complaints/{complaint.receipt_no}")
        if r.status_code == 404:
            return None
        assert r.status_code == 200, r.text
        shown: dict[str, Any] = r.json()
        return shown

    async def reaches(self, complaint: Complaint, status: str, **expected: Any) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            shown = await self.status(complaint)
            if shown is None or shown["status"] != status:
                return None
            return shown if all(shown.get(k) == v for k, v in expected.items()) else None

        return await eventually(probe, timeout=60, what=f"{complaint.receipt_no} {status} {expected}")


@pytest.fixture
async def publisher(database: PostgresTarget, broker: str) -> AsyncIterator[Publisher]:
    settings = settings_for(
        PublisherSettings, database, kafka_bootstrap_servers=broker, feed_heartbeat_s=0.5, feed_page=3
    )
    app = bootstrap(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "publisher did not start"
        await asyncio.sleep(0.05)
    component = app.state.parts.components[0]
    served = Publisher(f"http://127.0.0.1:{port}", component, settings)
    try:
        yield served
    finally:
        await served.http.aclose()
        server.should_exit = True
        await task


async def test_every_status_of_the_lifecycle_whatever_order_the_owners_events_arrive_in(
    publisher: Publisher, broker: str
) -> None:
    received, assigned, accepted, extended, overdue = (Complaint(n) for n in range(301, 306))
    transferred, answered_first, instant, duplicate, closed = (Complaint(n) for n in range(306, 311))
    await publish(broker, received.received())
    await publish(broker, assigned.received(), assigned.assigned())
    # The acceptance before the receipt and the assignment: still accepted, by that office.
    await publish(broker, accepted.accepted(), accepted.received(), accepted.assigned())
    await publish(broker, extended.received(), extended.assigned(), extended.accepted())
    await publish(broker, extended.deadline_set(), extended.extended())
    await publish(broker, overdue.received(), overdue.assigned(), overdue.deadline_set(), overdue.breached())
    await publish(broker, transferred.received(), transferred.assigned(), transferred.accepted())
    await publish(broker, transferred.transferred())
    # The answer arrives before anything else about the complaint.
    await publish(broker, answered_first.answered(), answered_first.assigned(), answered_first.received())
    await publish(broker, instant.received())
    await publish(broker, instant.assigned(), instant.instantly())
    await publish(broker, duplicate.received(), duplicate.assigned(), duplicate.linked_to(accepted))
    await publish(broker, closed.received(), closed.assigned(), closed.accepted(), closed.answered())
    await publish(broker, closed.closed(), closed.rated(score=2))

    shown = await publisher.reaches(received, "received")
    assert shown["office"] is None and shown["received_at"] is not None
    shown = await publisher.reaches(assigned, "assigned")
    assert shown["office"]["name"] == ROADS.name
    shown = await publisher.reaches(accepted, "accepted")
    assert shown["office"]["code"] == ROADS.code and shown["accepted_at"] and shown["assigned_at"]
    shown = await publisher.reaches(extended, "extended")
    extension = DeadlineExtendedV1.example()
    assert shown["deadline"]["extended"] is True
    assert datetime.fromisoformat(shown["deadline"]["due"]) == extension.due
    assert datetime.fromisoformat(shown["deadline"]["previous_due"]) == extension.previous_due
    shown = await publisher.reaches(overdue, "overdue")
    assert shown["overdue_since"] is not None and shown["deadline"]["extended"] is False
    shown = await publisher.reaches(transferred, "transferred")
    assert shown["transferred_to"] == "ext.seoul_police" and shown["office"]["code"] == ROADS.code
    shown = await publisher.reaches(answered_first, "answered")
    assert shown["office"]["name"] == ROADS.name and shown["answered_by"] == "office"
    assert shown["answer"] == "육교 계단을 11월 24일 보수했습니다." and shown["resolution"] == "resolved"
    shown = await publisher.reaches(instant, "answered", answered_by="instant")
    assert shown["answer"] == ComplaintAnsweredInstantlyV1.example().answer
    # A duplicate follows its original (accepted), until it is answered with it.
    shown = await publisher.reaches(duplicate, "accepted")
    assert shown["duplicate_of"] == {"receipt_no": accepted.receipt_no, "status": "accepted"}
    await publish(broker, duplicate.duplicate_answered(accepted))
    shown = await publisher.reaches(duplicate, "answered", answered_by="duplicate")
    assert shown["answer"] == DuplicateAnsweredV1.example().text
    shown = await publisher.reaches(closed, "closed")
    assert shown["rating"]["score"] == 2 and "comment" not in json.dumps(shown)
    assert shown["closed_at"] and shown["answered_at"] and shown["accepted_at"]

    # Overdue ends with the answer; a reassignment elsewhere takes the acceptance back.
    await publish(broker, overdue.answered())
    await publisher.reaches(overdue, "answered")
    await publish(broker, assigned.accepted(), assigned.assigned(PARKING, at=T0 + timedelta(hours=1)))
    await publisher.reaches(assigned, "assigned", office={"code": PARKING.code, "name": PARKING.name,
                                                           "level": "district"})  # fmt: skip

    # A rebuild from the topics gives the same public answers.
    everyone = (received, assigned, accepted, extended, overdue, transferred, answered_first, instant)
    before = [await publisher.status(c) for c in (*everyone, duplicate, closed)]
    report = await rebuild_read_model(publisher.component, publisher.settings, idle_ms=500)
    assert report.retired is not None
    after = [await publisher.status(c) for c in (*everyone, duplicate, closed)]
    assert after == before


async def sse_events(
    url: str, headers: dict[str, str], count: int, timeout: float = 30
) -> list[dict[str, Any]]:
    """The first `count` events of the feed (and the comments seen meanwhile, as `comment`)."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}

    async def read() -> None:
        async with httpx.AsyncClient(timeout=None) as client:
            async with client.stream("GET", url + "/api/v1/feed", headers=headers) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                async for line in response.aiter_lines():
                    if line.startswith(":"):
                        events.append({"comment": line})
                    elif line == "" and current:
                        events.append(dict(current))
                        current.clear()
                        if sum(1 for e in events if "id" in e) >= count:
                            return
                    elif ":" in line:
                        name, _, value = line.partition(":")
                        current[name] = value.strip()

    await asyncio.wait_for(read(), timeout)
    return events


async def test_the_feed_resumes_after_the_last_event_id_and_keeps_the_line_alive(
    publisher: Publisher, broker: str
) -> None:
    first = [Complaint(n) for n in range(401, 405)]
    for complaint in first:
        await publish(broker, complaint.received())
    for complaint in first:
        await publisher.reaches(complaint, "received")
    # From the start of the log: four changes (read in pages of three), ids increasing.
    seen = await sse_events(publisher.url, {"Last-Event-ID": "0"}, 4)
    changes = [e for e in seen if "id" in e]
    ids = [int(e["id"]) for e in changes]
    assert ids == sorted(ids) and len(set(ids)) == 4
    # (in the order the projection applied them: four partitions, so not the order published)
    assert sorted(json.loads(e["data"])["receipt_no"] for e in changes) == [c.receipt_no for c in first]
    assert {e["event"] for e in changes} == {"status"}

    # Disconnected; meanwhile two of them are assigned and one more arrives.
    more = Complaint(405)
    await publish(broker, first[0].assigned(), first[1].assigned(), more.received())
    await publisher.reaches(more, "received")
    await publisher.reaches(first[1], "assigned")
    resumed = [e for e in await sse_events(publisher.url, {"Last-Event-ID": str(ids[-1])}, 3) if "id" in e]
    got = [(json.loads(e["data"])["receipt_no"], json.loads(e["data"])["status"]) for e in resumed]
    assert sorted(got) == sorted(
        [(first[0].receipt_no, "assigned"), (first[1].receipt_no, "assigned"), (more.receipt_no, "received")]
    )
    assert min(int(e["id"]) for e in resumed) > ids[-1]  # nothing seen before is sent again

    # Live: a listener from now gets the next change as it happens, and heartbeats between.
    later = Complaint(406)
    listening = asyncio.create_task(sse_events(publisher.url, {}, 1))
    await asyncio.sleep(1.5)  # a few heartbeats (0.5 s here)
    await publish(broker, later.received())
    live = await listening
    assert any(e.get("comment") == ": heartbeat" for e in live)
    [change] = [e for e in live if "id" in e]
    assert json.loads(change["data"])["receipt_no"] == later.receipt_no

    bad = await publisher.http.get("/api/v1/feed", headers={"Last-Event-ID": "abc"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


async def test_the_atom_feed_is_valid_atom_of_the_latest_changes(publisher: Publisher, broker: str) -> None:
    complaints = [Complaint(n) for n in range(501, 504)]
    for complaint in complaints:
        await publish(broker, complaint.received(), complaint.assigned())
    for complaint in complaints:
        await publisher.reaches(complaint, "assigned")
    # Each complaint is one or two changes (received, assigned: an assignment read first hides
    # the receipt's change).
    every = ET.fromstring((await publisher.http.get("/api/v1/feed.atom", params={"limit": 500})).content)
    assert 3 <= len(every.findall("{http://www.w3.org/2005/Atom}entry")) <= 6
    r = await publisher.http.get("/api/v1/feed.atom", params={"limit": 2})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    ns = {"a": "http://www.w3.org/2005/Atom"}
    root = ET.fromstring(r.content)
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    # RFC 4287 4.1.1: a feed has exactly one id, title, updated, and an author (or each entry has).
    for required in ("id", "title", "updated", "author/a:name"):
        assert len(root.findall(f"a:{required}", ns)) == 1, required
    entries = root.findall("a:entry", ns)
    assert len(entries) == 2
    updated = []
    for entry in entries:
        for required in ("id", "title", "updated"):
            assert len(entry.findall(f"a:{required}", ns)) == 1, required
        assert entry.find("a:id", ns).text.startswith("urn:eungdapso:change:")  # type: ignore[union-attr]
        moment = datetime.fromisoformat(entry.find("a:updated", ns).text)  # type: ignore[arg-type,union-attr]
        assert moment.tzinfo is not None
        updated.append(moment)
        link = entry.find("a:link[@rel='alternate']", ns)
        assert link is not None and "/api/v1/complaints/2026-" in link.get("href", "")
    newest = [int(e.find("a:id", ns).text.rsplit(":", 1)[1]) for e in entries]  # type: ignore[union-attr]
    assert newest == sorted(newest, reverse=True)
    feed_updated = root.find("a:updated", ns)
    assert feed_updated is not None and datetime.fromisoformat(str(feed_updated.text)) == max(updated)


async def test_search_finds_answered_public_complaints_by_korean_keywords_ranked(
    publisher: Publisher, broker: str
) -> None:
    parking = Complaint(
        601, text="강남대로 앞 불법 주차 차량 때문에 버스가 못 지나가요. 불법 주차 단속해 주세요"
    )
    parking_too = Complaint(602, text="골목에 차량이 주차되어 있어요")
    private = Complaint(603, text="불법 주차 신고합니다", disclosure=Disclosure.PRIVATE)
    unanswered = Complaint(604, text="불법 주차 차량이 또 있어요")
    lamp = Complaint(605, text="가로등이 꺼져서 밤길이 어두워요")
    # The answer before the receipt (two owners' streams): its text is still read for search.
    answer_first = Complaint(606, text="공원 가로등 불빛이 너무 약해요")
    await publish(broker, answer_first.answered("가로등을 교체했습니다."))
    await publish(broker, answer_first.received(), answer_first.assigned())
    for complaint in (parking, parking_too, private, lamp):
        await publish(
            broker, complaint.received(), complaint.assigned(), complaint.accepted(),
            complaint.answered("현장을 확인하고 단속했습니다."),
        )  # fmt: skip
    await publish(broker, unanswered.received(), unanswered.assigned())
    for complaint in (parking, parking_too, private, lamp, answer_first):
        await publisher.reaches(complaint, "answered")
    await publisher.reaches(unanswered, "assigned")

    # Morphology: "주차했는데" is "주차" + "하"; "차량들" is "차량" + "들".
    r = await publisher.http.get("/api/v1/search", params={"q": "불법주차했는데 차량들"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert {"불법", "주차", "차량"} <= set(body["terms"])
    found = [hit["receipt_no"] for hit in body["results"]]
    # Only answered, disclosed complaints; the one with more of the words first.
    assert found == [parking.receipt_no, parking_too.receipt_no]
    assert body["results"][0]["rank"] > body["results"][1]["rank"]
    assert body["results"][0]["text"].startswith("강남대로 앞 불법 주차")

    lamps = (await publisher.http.get("/api/v1/search", params={"q": "가로등"})).json()["results"]
    assert sorted(hit["receipt_no"] for hit in lamps) == sorted([lamp.receipt_no, answer_first.receipt_no])
    # "불빛" is only in the text of the one answered first: its text, not its answer, was read.
    glow = (await publisher.http.get("/api/v1/search", params={"q": "불빛"})).json()["results"]
    assert [hit["receipt_no"] for hit in glow] == [answer_first.receipt_no]
    empty = await publisher.http.get("/api/v1/search", params={"q": "!!! ..."})
    assert empty.status_code == 422 and empty.headers["content-type"] == "application/problem+json"
    assert (await publisher.http.get("/api/v1/search", params={"q": ""})).status_code == 422


async def test_no_personal_data_or_private_text_in_any_public_output(
    publisher: Publisher, broker: str
) -> None:
    """The attacker reads every public output: status, SSE, Atom, search."""
    disclosed = Complaint(
        701,
        text=(
            "저는 김철수입니다. 만리재로 193 앞에 홍길동 씨가 12가3456 차를 세워 둡니다. "
            "연락은 010-1234-5678, "
            "hong@example.com, 인스타 @kimcitizen 로 주세요. 주민번호 900101-1234567, 계좌 110-123-456789"
        ),
    )
    private = Complaint(702, text=PRIVATE_TEXT, disclosure=Disclosure.PRIVATE)
    confidential = Complaint(703, text=CONFIDENTIAL_TEXT, kind=Kind.CORRUPTION_REPORT, confidential=True)
    answer = "담당 이영희 주무관(01098765432)이 만리재로 193 현장을 확인하고 불법 주차를 단속했습니다."
    for complaint in (disclosed, private, confidential):
        await publish(
            broker, complaint.received(), complaint.assigned(), complaint.accepted(),
            complaint.answered(answer), complaint.rated(score=1),
        )  # fmt: skip
    shown = await publisher.reaches(
        disclosed, "answered", rating={"score": 1, "rated_at": "2026-11-27T01:00:00Z"}
    )
    assert shown["text"].startswith("저는 [이름]입니다. 만리재로 [상세주소] 앞에 [이름] 씨가 [차량번호]")
    assert shown["answer"].startswith("담당 [이름] 주무관([전화번호])이 만리재로 [상세주소] 현장을")
    shown = await publisher.reaches(private, "answered")
    assert shown["text"] is None and shown["answer"] is None and shown["disclosure"] == "private"
    shown = await publisher.reaches(confidential, "answered")
    assert shown["kind"] == "confidential"
    for hidden in (
        "office",
        "field",
        "district",
        "deadline",
        "rating",
        "text",
        "answer",
        "resolution",
        "disclosure",
    ):
        assert shown[hidden] is None, hidden

    outputs = [
        json.dumps(await publisher.status(c), ensure_ascii=False) for c in (disclosed, private, confidential)
    ]
    outputs.append(json.dumps(await sse_events(publisher.url, {"Last-Event-ID": "0"}, 3), ensure_ascii=False))
    outputs.append((await publisher.http.get("/api/v1/feed.atom", params={"limit": 500})).text)
    for q in ("불법 주차 단속", "김철수", "홍길동", "비밀스러운 사정", "뇌물 공무원", "010", "kimcitizen"):
        # What was found (the query itself is echoed back to whoever asked it).
        found = (await publisher.http.get("/api/v1/search", params={"q": q})).json().get("results")
        outputs.append(json.dumps(found, ensure_ascii=False))
    everything = "\n".join(outputs)
    for secret in (*SECRETS, PRIVATE_TEXT, "비밀스러운", CONFIDENTIAL_TEXT, "뇌물", "corruption"):
        assert secret not in everything, secret
    # The disclosed complaint is found, its words redacted; private and confidential ones never.
    found = (await publisher.http.get("/api/v1/search", params={"q": "불법 주차 단속"})).json()["results"]
    assert [hit["receipt_no"] for hit in found] == [disclosed.receipt_no]
