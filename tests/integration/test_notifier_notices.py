"""The notifier on a real PostgreSQL and broker: complaints from each channel get each stage's
notice once, in their language, on their channel (a stand-in provider's files; the citizen
page, the letter queue and callback tasks in the notifier's tables), including after a
restart mid-stream; a provider outage is retried until it recovers, and one that lasts falls
back to the next channel; quiet hours hold text messages; an opted-out citizen gets nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_notifier.application import NotifierApplication
from eungdapso_notifier.bootstrap import MIGRATIONS, bootstrap
from eungdapso_notifier.dispatcher import CLAIM_S, Dispatcher
from eungdapso_notifier.domainmodel import Contact, Correspondence, Notice, notice_id
from eungdapso_notifier.keys import Scope
from eungdapso_notifier.settings import NotifierSettings
from eungdapso_notifier.tables import pending
from eungdapso_platform.clock import FixedClock
from eungdapso_platform.db import Database
from eungdapso_platform.service import Overrides
from eungdapso_schemas.codes import Channel, Kind, Language, MessageClass, ReplyMedium
from eungdapso_schemas.envelope import Envelope, decode
from eungdapso_schemas.events import (
    CaseAnsweredV1,
    CaseTransferredV1,
    Citizen,
    ComplaintAssignedV2,
    ComplaintReceivedV2,
    DeadlineExtendedV1,
    DeadlineSetV1,
    DuplicateAnsweredV1,
    RatingLinkIssuedV1,
    ReplyAddress,
)
from eungdapso_schemas.streams import (
    CASEWORK_EVENTS,
    INTAKE_EVENTS,
    NOTIFIER_EVENTS,
    RATING_LINKS,
    ROUTER_EVENTS,
    SLA_EVENTS,
)
from tests.conftest import settings_for
from tests.integration.test_sla_deadlines import ROADS, envelope, publish, seoul
from tests.support.kafka import read_topic
from tests.support.notifier import RecordingOutbox, dispatcher
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

OFFICE_EMAIL = "district.yongsan.roads@offices.eungdapso.seoul.go.kr"


class Complaint:
    """One test complaint and the owners' events about it."""

    def __init__(
        self, n: int, channel: Channel, language: Language, reply: ReplyAddress | None, **citizen: str
    ):
        self.id = uuid.uuid4()
        self.no = f"2026-{n:07d}"
        self.channel, self.language, self.reply = channel, language, reply
        self.citizen = Citizen(**citizen) if citizen else None  # type: ignore[arg-type]

    def ids(self, **values: Any) -> dict[str, Any]:
        return {"complaint_id": self.id, "receipt_no": self.no, **values}

    def received(self) -> Envelope[Any]:
        payload = ComplaintReceivedV2.example().model_copy(
            update=self.ids(
                channel=self.channel,
                language=self.language,
                reply_to=self.reply,
                citizen=self.citizen,
                kind=Kind.COMPLAINT,
                received_at=seoul("2026-11-02", 9),
            )
        )
        return envelope(payload, "/test/intake")

    def assigned(self) -> Envelope[Any]:
        payload = ComplaintAssignedV2.example().model_copy(
            update=self.ids(office=ROADS, subject="pothole", message_class=MessageClass.FIELD)
        )
        return envelope(payload, "/test/router")

    def deadline(self) -> Envelope[Any]:
        payload = DeadlineSetV1.example().model_copy(
            update=self.ids(office=ROADS.code, due=seoul("2026-11-10", 18))
        )
        return envelope(payload, "/test/sla")

    def extended(self) -> Envelope[Any]:
        payload = DeadlineExtendedV1.example().model_copy(
            update=self.ids(office=ROADS.code, due=seoul("2026-11-19", 18), reason="현장 조사가 필요합니다")
        )
        return envelope(payload, "/test/sla")

    def case(self, model: Any, **values: Any) -> Envelope[Any]:
        payload = model.example().model_copy(
            update=self.ids(office=ROADS.code, at=seoul("2026-11-03", 11), **values)
        )
        return envelope(payload, "/test/casework")

    def link(self) -> Envelope[Any]:
        payload = RatingLinkIssuedV1.example().model_copy(update=self.ids(token=f"tok-{self.id.hex}"))
        return envelope(payload, "/test/rating")

    def notice(self, stage: str, medium: str, occurrence: int = 1) -> str:
        return str(notice_id(self.id, stage, occurrence, medium))


def texting(n: int, phone: str, language: Language = Language.KO) -> Complaint:
    """A complaint sent by text message, answered by text message (the sender consented)."""
    return Complaint(
        n, Channel.SMS, language, ReplyAddress(medium=ReplyMedium.SMS, address=phone, consent=True)
    )


async def notices(broker: str, at_least: int) -> list[Any]:
    records = await read_topic(broker, NOTIFIER_EVENTS.name, at_least=at_least)
    return [decode(r.headers, r.key, r.value).data for r in records]


async def rows(settings: NotifierSettings, table: str) -> list[dict[str, Any]]:
    db = Database.for_service(settings)
    await db.open()
    try:
        async with db.connection() as conn:
            cursor = await conn.execute(db.sql(f"SELECT * FROM {{schema}}.{table}"))
            return list(await cursor.fetchall())
    finally:
        await db.close()


@pytest.fixture
def outbox(tmp_path: Path) -> RecordingOutbox:
    return RecordingOutbox(tmp_path / "outbox")


def make_settings(database: PostgresTarget, broker: str, **values: Any) -> NotifierSettings:
    return settings_for(
        NotifierSettings,
        database,
        kafka_bootstrap_servers=broker,
        relay_poll_interval_s=0.1,
        dispatcher_interval_s=0.05,
        public_base_url="https://eungdapso.test",
        **values,
    )


def runner(
    settings: NotifierSettings, outbox: RecordingOutbox, clock: FixedClock | None
) -> Callable[[], Any]:
    @asynccontextmanager
    async def run() -> AsyncIterator[Any]:
        app = bootstrap(settings, Overrides(clock=clock), providers=outbox.providers())
        async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
            yield app

    return run


async def test_each_stage_once_in_its_language_on_its_channel_across_a_restart(
    database: PostgresTarget, broker: str, outbox: RecordingOutbox
) -> None:
    clock = FixedClock(seoul("2026-11-02", 10))
    settings = make_settings(database, broker, rating_link_grace_s=600)
    running = runner(settings, outbox, clock)
    sms = texting(301, "010-3000-0001")
    email = Complaint(
        302,
        Channel.WEB,
        Language.EN,
        ReplyAddress(medium=ReplyMedium.EMAIL, address="b@example.kr", consent=True),
    )
    sns = Complaint(
        303,
        Channel.SNS,
        Language.ZH,
        ReplyAddress(medium=ReplyMedium.SNS, address="884211", account="transport.x", thread="x:1888000111"),
    )
    mail = Complaint(
        304,
        Channel.MAIL,
        Language.JA,
        ReplyAddress(medium=ReplyMedium.POST, address="서울 중구 세종대로 110"),
    )
    phone = Complaint(
        305,
        Channel.PHONE,
        Language.VI,
        ReplyAddress(medium=ReplyMedium.PHONE, address="010-3000-0005", consent=True),
    )
    web = Complaint(306, Channel.WEB, Language.MN, ReplyAddress(medium=ReplyMedium.WEB, address="web"))
    every = (sms, email, sns, mail, phone, web)

    async with running():
        await publish(broker, INTAKE_EVENTS.name, *(c.received() for c in every))
        await publish(broker, ROUTER_EVENTS.name, *(c.assigned() for c in every))
        await publish(broker, SLA_EVENTS.name, *(c.deadline() for c in every), sms.extended())
        # received + assigned per complaint, the office's new-case notice per complaint, and
        # the extension (before the answer: a citizen told the answer is not told of it).
        first = await notices(broker, 19)
    # The notifier stops; meanwhile the case moves on: transfer, answers, rating links.
    await publish(
        broker,
        CASEWORK_EVENTS.name,
        email.case(CaseTransferredV1, to_office="district.mapo.roads", reason="관할 구역이 마포구입니다"),
        email.case(
            DuplicateAnsweredV1,
            text="육교를 보수했습니다.",
            duplicate_of_receipt_no="2026-0000299",
            duplicate_of=uuid.uuid4(),
        ),
        *(c.case(CaseAnsweredV1, text="보도블록을 교체했습니다.") for c in (sms, sns, mail, phone, web)),
    )
    await publish(broker, RATING_LINKS.name, *(c.link() for c in (sms, email, sns, mail, phone)))
    async with running():
        events = await notices(broker, 19 + 7)
        # The complaint whose rating link never came is answered once the grace period ends.
        clock.advance(timedelta(seconds=601))
        events = await notices(broker, 18 + 9)
        await asyncio.sleep(1.5)  # time for a duplicate to show, if there were one
        events = await notices(broker, 18 + 9)
    assert len(first) >= 19
    sent = [e for e in events if type(e).__name__ == "NoticeSentV1"]
    assert len(sent) == 27 and len({e.notice_id for e in sent}) == 27
    assert not [e for e in events if type(e).__name__ == "NoticeFailedV1"]
    # Every provider call was for a different notice: none was sent twice.
    assert outbox.calls and max(outbox.calls.values()) == 1

    by_id = {m["notice_id"]: m for medium in ("sms", "email", "x") for m in outbox.messages(medium)}
    # SMS, in Korean: receipt, assignment with the deadline in Seoul time, extension, answer + link.
    for stage in ("received", "assigned", "extended", "answered"):
        assert by_id[sms.notice(stage, "sms")]["to"] == "010-3000-0001"
    assert "2026년 11월 10일(화) 18:00" in by_id[sms.notice("assigned", "sms")]["text"]
    assert "2026년 11월 19일(목) 18:00" in by_id[sms.notice("extended", "sms")]["text"]
    answer = by_id[sms.notice("answered", "sms")]["text"]
    assert (
        "보도블록을 교체했습니다." in answer
        and f"https://eungdapso.test/rate#token=tok-{sms.id.hex}" in answer
    )
    # E-mail, in English: the transfer (to whom, why) and the duplicate's answer.
    transfer = by_id[email.notice("transferred", "email")]
    assert transfer["to"] == "b@example.kr" and "transferred to district.mapo.roads" in transfer["text"]
    assert "관할 구역이 마포구입니다" in transfer["text"]
    dup = by_id[email.notice("answered", "email")]
    assert "2026-0000299" in dup["text"] and dup["html"] and dup["subject"].startswith("[Seoul Eung-Dap-So]")
    assert "Yongsan-gu Office" in by_id[email.notice("assigned", "email")]["text"]
    # X, in Chinese, through the same account and thread.
    x = by_id[sns.notice("answered", "x")]
    assert (x["account"], x["thread"], x["to"]) == ("transport.x", "x:1888000111", "884211")
    assert "答复" in x["text"]
    # The office's e-mail, in Korean, once per complaint.
    office = outbox.to("email", OFFICE_EMAIL)
    assert len(office) == 6 and all("새 민원" in m["subject"] for m in office)
    # The letter queue (Japanese), the citizen page (Mongolian), the 120 callback (Vietnamese).
    letters = await rows(settings, "letter_queue")
    assert sorted(r["notice_id"] for r in letters) == sorted(
        uuid.UUID(mail.notice(s, "letter")) for s in ("received", "assigned", "answered")
    )
    assert all(r["language"] == "ja" and r["address"] == "서울 중구 세종대로 110" for r in letters)
    page = await rows(settings, "citizen_page")
    assert {(r["receipt_no"], r["stage"]) for r in page} == {
        (web.no, s) for s in ("received", "assigned", "answered")
    }
    assert all(r["language"] == "mn" for r in page)
    assert any("Хүлээн авсан дугаар: 2026-0000306" in r["body"] for r in page)
    answered_page = next(r for r in page if r["stage"] == "answered")
    assert "үнэлгээ" not in answered_page["body"]  # no rating link came: sent without it
    (task,) = await rows(settings, "callback_tasks")
    assert (task["phone"], task["language"], task["receipt_no"]) == ("010-3000-0005", "vi", phone.no)
    assert "câu trả lời" in task["script"]
    assert by_id[phone.notice("answered", "sms")]["language"] == "vi"


async def test_an_outage_is_retried_until_it_recovers_and_a_lasting_one_falls_back(
    database: PostgresTarget, broker: str, outbox: RecordingOutbox, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(
        database,
        broker,
        retry_base_s=0.2,
        max_attempts=3,
        quiet_hours_start=time(0),
        quiet_hours_end=time(0),  # the system clock runs: no quiet hours in this test
    )
    recovering = texting(311, "010-3100-0001")
    lasting = Complaint(
        312,
        Channel.SMS,
        Language.EN,
        ReplyAddress(medium=ReplyMedium.SMS, address="010-3100-0002", consent=True),
        email="lasting@example.kr",
    )
    async with runner(settings, outbox, None)():
        outbox.down["sms"] = 2
        await publish(broker, INTAKE_EVENTS.name, recovering.received())
        (sent,) = [e for e in await notices(broker, 1) if e.complaint_id == recovering.id]
        assert (type(sent).__name__, sent.attempt, sent.medium) == ("NoticeSentV1", 3, "sms")
        assert outbox.calls[recovering.notice("received", "sms")] == 3
        outbox.down["sms"] = 1000
        await publish(broker, INTAKE_EVENTS.name, lasting.received())
        events = await notices(broker, 3)
        # A refusal is final at once: no retry, the next medium (here the citizen page).
        outbox.down["sms"] = 0
        outbox.refusing.add("sms")
        refused = texting(313, "010-3100-0003")
        await publish(broker, INTAKE_EVENTS.name, refused.received())
        events = await notices(broker, 5)
    (no, page) = [e for e in events if e.complaint_id == refused.id]
    assert (type(no).__name__, no.attempt, no.fallback, no.reason) == (
        "NoticeFailedV1",
        1,
        "web",
        "number not in service",
    )
    assert (type(page).__name__, page.medium) == ("NoticeSentV1", "web")
    assert outbox.calls[refused.notice("received", "sms")] == 1
    # The notifier's logs carry ids, never the citizens' numbers or addresses.
    logged = capfd.readouterr()
    assert "notice_retry" in logged.out + logged.err
    assert not [a for a in ("3100-000", "31000001", "lasting@example.kr") if a in logged.out + logged.err]
    mine = [e for e in events if e.complaint_id == lasting.id]
    failed, fell_back = mine
    assert type(failed).__name__ == "NoticeFailedV1"
    assert (failed.medium, failed.attempt, failed.fallback) == ("sms", 3, "email")
    assert "503" in failed.reason and "010" not in failed.reason
    assert (type(fell_back).__name__, fell_back.medium, fell_back.language) == ("NoticeSentV1", "email", "en")
    (mail,) = outbox.to("email", "lasting@example.kr")
    assert "Receipt no.: 2026-0000312" in mail["text"]


async def test_quiet_hours_hold_text_messages_and_preferences_are_honoured(
    database: PostgresTarget, broker: str, outbox: RecordingOutbox
) -> None:
    clock = FixedClock(seoul("2026-11-02", 22))
    settings = make_settings(database, broker)
    night = texting(321, "010-3200-0001")
    quiet = texting(322, "010-3200-0002")
    english = texting(323, "010-3200-0003")
    async with runner(settings, outbox, clock)() as app:
        _, key = await app.state.api_keys.create("dasan-120-desk", [Scope.PREFERENCES])
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://notifier"
        ) as http:
            headers = {"Authorization": f"Bearer {key}"}
            path = "/api/v1/notifications/preferences"
            opted = await http.put(
                path, json={"address": "+82 10 3200 0002", "opted_out": True}, headers=headers
            )
            assert opted.status_code == 200, opted.text
            chosen = await http.put(
                path, json={"address": "010-3200-0003", "opted_out": False, "language": "en"}, headers=headers
            )
            assert chosen.status_code == 200
            bad = await http.put(path, json={"address": "010", "opted_out": "maybe"}, headers=headers)
            assert bad.status_code == 422 and bad.headers["content-type"].startswith(
                "application/problem+json"
            )
            anonymous = await http.put(path, json={"address": "010-3200-0002", "opted_out": False})
            assert anonymous.status_code == 401
        await publish(broker, INTAKE_EVENTS.name, night.received(), quiet.received(), english.received())
        await publish(broker, ROUTER_EVENTS.name, night.assigned())
        await publish(broker, SLA_EVENTS.name, night.deadline())
        # The receipt goes at 22:00 (it answers what the citizen just sent); the assignment waits.
        await eventually(lambda: _has(outbox, night.notice("received", "sms")), what="the receipt at night")
        await eventually(lambda: _has(outbox, english.notice("received", "sms")), what="the English receipt")
        await asyncio.sleep(1.0)
        assert not await _has(outbox, night.notice("assigned", "sms"))
        clock.at = seoul("2026-11-03", 8) + timedelta(seconds=1)
        await eventually(
            lambda: _has(outbox, night.notice("assigned", "sms")), what="the assignment at 08:00"
        )
        events = await notices(broker, 5)
    # Opted out: nothing is sent to them; the citizen page (where they look) shows the receipt.
    assert not outbox.to("sms", "010-3200-0002")
    assert not outbox.calls[quiet.notice("received", "sms")]
    assert [(e.medium, e.stage) for e in events if e.complaint_id == quiet.id] == [("web", "received")]
    assert [r["receipt_no"] for r in await rows(settings, "citizen_page")] == [quiet.no]
    (told,) = outbox.to("sms", "010-3200-0003")
    assert told["language"] == "en" and "Receipt no.: 2026-0000323" in told["text"]
    held = next(e for e in events if e.complaint_id == night.id and e.stage == "assigned")
    assert held.at >= seoul("2026-11-03", 8)


async def _has(outbox: RecordingOutbox, notice: str) -> bool:
    return any(m["notice_id"] == notice for m in outbox.messages("sms"))


async def test_a_crash_between_attempt_and_send_resends_with_the_same_id_and_two_replicas_send_once(
    database: PostgresTarget, outbox: RecordingOutbox
) -> None:
    """A replica recorded an attempt and died before the outcome; later two replicas run over
    the same work list: the notice goes again under the same notice id (the provider's
    idempotency key), once, and a fresh notice goes once, not once per replica."""
    settings = make_settings(database, "127.0.0.1:9")  # no broker: the dispatcher needs none
    clock = FixedClock(seoul("2026-11-02", 10))
    db = Database.for_service(settings, migrations=MIGRATIONS)
    await db.open()
    application = NotifierApplication(env=settings.eventsourcing_env())
    crashed, fresh = texting(331, "010-3300-0001"), texting(332, "010-3300-0002")
    try:
        for complaint in (crashed, fresh):
            c = Correspondence.start(complaint.id, complaint.no)
            c.learn_contact(Contact(channel=Channel.SMS, reply_to=complaint.reply))
            c.plan("received")
            n = Notice.plan(complaint.id, complaint.no, "received", 1, "sms")
            application.save(
                c, n, writes=[pending(n.id, complaint.id, "received", "sms", clock.now(), n.version)]
            )
        dying = application.find(uuid.UUID(crashed.notice("received", "sms")))
        dying.next_attempt(clock.now())
        until = clock.now() + timedelta(seconds=CLAIM_S)
        application.save(
            dying,
            writes=[
                pending(
                    dying.id, crashed.id, "received", "sms", clock.now(), dying.version, claimed_until=until
                )
            ],
        )

        def replica() -> Dispatcher:
            return dispatcher(
                NotifierApplication(env=settings.eventsourcing_env()), db, outbox, settings, clock
            )

        one, two = replica(), replica()
        await asyncio.gather(one.run_once(), two.run_once())
        assert dict(outbox.calls) == {fresh.notice("received", "sms"): 1}  # the crashed one is still claimed
        clock.advance(timedelta(seconds=CLAIM_S + 1))  # the dead replica's claim expires
        await asyncio.gather(one.run_once(), two.run_once())
        await asyncio.gather(one.run_once(), two.run_once())
    finally:
        await db.close()
    assert dict(outbox.calls) == {fresh.notice("received", "sms"): 1, crashed.notice("received", "sms"): 1}
    resent = application.find(uuid.UUID(crashed.notice("received", "sms")))
    assert resent.status == "sent" and resent.attempts == 2
    assert not await rows(settings, "pending_notices")


async def test_agents_work_callback_tasks_and_the_citizen_page_shows_its_notices(
    database: PostgresTarget, broker: str, outbox: RecordingOutbox
) -> None:
    clock = FixedClock(seoul("2026-11-02", 10))
    settings = make_settings(database, broker, rating_link_grace_s=0)
    caller = Complaint(
        341,
        Channel.PHONE,
        Language.KO,
        ReplyAddress(medium=ReplyMedium.PHONE, address="010-3400-0001", consent=True),
    )
    web = Complaint(342, Channel.WEB, Language.EN, None)
    async with runner(settings, outbox, clock)() as app:
        keys = app.state.api_keys
        _, agent = await keys.create("dasan-agent-7", [Scope.CALLBACKS])
        _, page = await keys.create("citizen-page", [Scope.CITIZEN_PAGE])
        await publish(broker, INTAKE_EVENTS.name, caller.received(), web.received())
        await publish(broker, CASEWORK_EVENTS.name, caller.case(CaseAnsweredV1, text="가로등을 고쳤습니다."))
        await notices(broker, 4)  # both receipts; the caller's answer by SMS and as a callback task
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://notifier"
        ) as http:
            as_agent = {"Authorization": f"Bearer {agent}"}
            (task,) = (await http.get("/api/v1/notifications/callbacks", headers=as_agent)).json()
            assert (task["receipt_no"], task["phone"]) == (caller.no, "010-3400-0001")
            assert "가로등을 고쳤습니다." in task["script"]
            done_path = f"/api/v1/notifications/callbacks/{task['task_id']}/done"
            assert (
                await http.post(done_path, json={"outcome": "reached"}, headers=as_agent)
            ).status_code == 204
            again = await http.post(done_path, json={"outcome": "reached"}, headers=as_agent)
            assert again.status_code == 404 and again.json()["status"] == 404
            assert (await http.get("/api/v1/notifications/callbacks", headers=as_agent)).json() == []
            shown = await http.get(
                f"/api/v1/notifications/citizen-page/{web.no}", headers={"Authorization": f"Bearer {page}"}
            )
            assert [e["stage"] for e in shown.json()] == ["received"]
            assert "Receipt no.: 2026-0000342" in shown.json()[0]["body"]
            wrong_scope = await http.get(f"/api/v1/notifications/citizen-page/{web.no}", headers=as_agent)
            assert wrong_scope.status_code == 403
            bad = await http.get(
                "/api/v1/notifications/citizen-page/not-a-receipt",
                headers={"Authorization": f"Bearer {page}"},
            )
            assert bad.status_code == 422 and bad.headers["content-type"].startswith(
                "application/problem+json"
            )
