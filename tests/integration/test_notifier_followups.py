"""The notifier's follow-ups (issue 9) on a real PostgreSQL and broker: an X direct message is
answered by a direct message and a mention by a reply (the real X adapter against an HTTP
server on loopback); a rating link that comes after the answer's notice went is told in a
follow-up notice, once; a transfer notice names the receiving office by the organisation
directory the router published."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import time, timedelta
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from pydantic import SecretStr

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_notifier import domainmodel
from eungdapso_notifier.application import NotifierApplication
from eungdapso_notifier.bootstrap import MIGRATIONS, bootstrap
from eungdapso_notifier.domainmodel import Contact, Correspondence, Notice
from eungdapso_notifier.providers import Provider
from eungdapso_notifier.providers.settings import ProviderSettings
from eungdapso_notifier.providers.sns import XReplies
from eungdapso_notifier.tables import pending
from eungdapso_platform.clock import FixedClock
from eungdapso_platform.db import Database
from eungdapso_platform.service import Overrides
from eungdapso_schemas.codes import Channel, Language, ReplyMedium
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import (
    DIRECTORY_KEY,
    CaseAnsweredV1,
    CaseTransferredV1,
    DirectoryPublishedV1,
    ReplyAddress,
)
from eungdapso_schemas.streams import CASEWORK_EVENTS, INTAKE_EVENTS, RATING_LINKS, ROUTER_EVENTS
from tests.integration.test_notifier_notices import Complaint, make_settings, notices, texting
from tests.integration.test_sla_deadlines import envelope, publish, seoul
from tests.support.notifier import RecordingOutbox
from tests.support.notifier import dispatcher as dispatcher_for
from tests.support.provider_api import Answer, ProviderApi, provider_api
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def x_api() -> Iterator[ProviderApi]:
    with provider_api() as running:
        running.default = lambda seen: Answer(201, {"data": {"id": "1900", "dm_event_id": "dm-1"}})
        yield running


@asynccontextmanager
async def notifier(settings: Any, providers: dict[str, Provider]) -> AsyncIterator[Any]:
    app = bootstrap(settings, Overrides(), providers=providers)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
        yield app


def on_x(n: int, thread: str, channel_ref: str | None = None) -> tuple[Complaint, Envelope[Any]]:
    """A complaint that reached the city's X account, and its receipt (`channel_ref` as intake
    records it)."""
    c = Complaint(
        n,
        Channel.SNS,
        Language.KO,
        ReplyAddress(medium=ReplyMedium.SNS, address=f"citizen-{n}", account="transport.x", thread=thread),
    )
    received = c.received()
    data = received.data.model_copy(update={"channel_ref": channel_ref})
    return c, envelope(data, "/test/intake")


async def test_an_x_direct_message_is_answered_by_direct_message_and_a_mention_by_a_reply(
    database: PostgresTarget, broker: str, x_api: ProviderApi
) -> None:
    settings = make_settings(database, broker)
    x = XReplies(
        ProviderSettings(x_api_url=x_api.base_url, x_account_tokens={"transport.x": SecretStr("tok")})
    )
    dm, dm_received = on_x(401, "dm:1711", "x:dm:1711")
    # Recorded by intake before the kind travelled with the thread: the channel reference says it.
    old_dm, old_dm_received = on_x(402, "1712", "x:dm:1712")
    mention, mention_received = on_x(403, "tweet:1899", "x:tweet:1899")
    async with notifier(settings, {"x": x}):
        await publish(broker, INTAKE_EVENTS.name, dm_received, old_dm_received, mention_received)
        await eventually(lambda: _seen(x_api, 3), what="three receipts on X")
        events = await notices(broker, 3)
    sent = {e.complaint_id: e for e in events if type(e).__name__ == "NoticeSentV1"}
    assert {c.id: (sent[c.id].medium, sent[c.id].provider) for c in (dm, old_dm, mention)} == {
        dm.id: ("x", "x"),
        old_dm.id: ("x", "x"),
        mention.id: ("x", "x"),
    }
    by_path = {s.path: s for s in x_api.seen}
    # The direct messages are answered in the conversation with their sender, never in public.
    assert "/2/dm_conversations/with/citizen-401/messages" in by_path
    assert "/2/dm_conversations/with/citizen-402/messages" in by_path
    assert "2026-0000401" in by_path["/2/dm_conversations/with/citizen-401/messages"].body["text"]
    (tweet,) = [s for s in x_api.seen if s.path == "/2/tweets"]
    assert tweet.body["reply"] == {"in_reply_to_tweet_id": "1899"} and "2026-0000403" in tweet.body["text"]


async def test_a_rating_link_after_the_answer_went_follows_in_its_own_notice_once(
    database: PostgresTarget, broker: str, tmp_path: Any
) -> None:
    # The system clock runs: no quiet hours in this test.
    settings = make_settings(
        database, broker, rating_link_grace_s=0, quiet_hours_start=time(0), quiet_hours_end=time(0)
    )
    outbox = RecordingOutbox(tmp_path / "outbox")
    late = texting(411, "010-4100-0001", Language.EN)
    async with notifier(settings, outbox.providers()):
        await publish(broker, INTAKE_EVENTS.name, late.received())
        await publish(broker, CASEWORK_EVENTS.name, late.case(CaseAnsweredV1, text="The lamp is fixed."))
        await eventually(lambda: _has(outbox, late.notice("answered", "sms")), what="the answer")
        # The rating service was slow: its link comes after the answer went (twice: redelivered).
        await publish(broker, RATING_LINKS.name, late.link(), late.link())
        await eventually(lambda: _has(outbox, late.notice("rating_invited", "sms")), what="the invitation")
        await asyncio.sleep(1.0)  # time for a second one to show, if there were one
        events = await notices(broker, 3)
    sent = [(e.stage, e.medium) for e in events if type(e).__name__ == "NoticeSentV1"]
    assert sorted(sent) == [("answered", "sms"), ("rating_invited", "sms"), ("received", "sms")]
    by_id = {m["notice_id"]: m for m in outbox.messages("sms")}
    assert "token=" not in by_id[late.notice("answered", "sms")]["text"]
    invitation = by_id[late.notice("rating_invited", "sms")]
    assert invitation["language"] == "en" and invitation["to"] == "010-4100-0001"
    assert f"token=tok-{late.id.hex}" in invitation["text"]
    assert max(outbox.calls.values()) == 1


async def _has(outbox: RecordingOutbox, notice: str) -> bool:
    return any(m["notice_id"] == notice for m in outbox.messages("sms"))


async def _seen(api: ProviderApi, n: int) -> bool:
    return len(api.seen) >= n


async def test_a_transfer_names_the_receiving_office_from_the_published_directory(
    database: PostgresTarget, broker: str, tmp_path: Any
) -> None:
    settings = make_settings(database, broker, quiet_hours_start=time(0), quiet_hours_end=time(0))
    outbox = RecordingOutbox(tmp_path / "outbox")
    directory = DirectoryPublishedV1.example()
    police, roads = texting(421, "010-4200-0001", Language.EN), texting(422, "010-4200-0002")
    async with notifier(settings, outbox.providers()) as app:
        await publish(
            broker,
            ROUTER_EVENTS.name,
            Envelope(
                id=str(uuid.uuid4()),
                source="/test/router",
                time=directory.published_at,
                subject=DIRECTORY_KEY,
                data=directory,
            ),
        )
        await eventually(lambda: _office_known(app), what="the directory in the notifier")
        await publish(broker, INTAKE_EVENTS.name, police.received(), roads.received())
        await publish(
            broker,
            CASEWORK_EVENTS.name,
            police.case(CaseTransferredV1, to_office="ext.seoul_police", reason="Traffic enforcement"),
            roads.case(CaseTransferredV1, to_office="district.yongsan.roads", reason="관할 부서"),
        )
        for c in (police, roads):
            await eventually(lambda c=c: _has(outbox, c.notice("transferred", "sms")), what="the transfer")
    by_id = {m["notice_id"]: m for m in outbox.messages("sms")}
    # In English: the office's own (Korean) name, not its code; in Korean, its name.
    english = by_id[police.notice("transferred", "sms")]["text"]
    assert "transferred to 서울경찰청" in english and "ext.seoul_police" not in english
    korean = by_id[roads.notice("transferred", "sms")]["text"]
    assert "용산구 건설관리과(으)로 이송" in korean and "district.yongsan.roads" not in korean


async def _office_known(app: Any) -> bool:
    return bool(await app.state.dispatcher.directory.names(["ext.seoul_police"]))


async def test_an_answer_made_before_its_rating_link_came_is_made_again_with_it(
    database: PostgresTarget, tmp_path: Any
) -> None:
    """The dispatcher made the answer's text (no link yet); before it recorded the attempt, the
    link came and the notices process marked the waiting notice. The attempt conflicts, and the
    answer is made again, with the link: no answer goes out without it, no invitation needed."""
    settings = make_settings(database, "127.0.0.1:9")  # no broker: the dispatcher needs none
    outbox = RecordingOutbox(tmp_path / "outbox")
    clock = FixedClock(seoul("2026-11-02", 10))
    db = Database.for_service(settings, migrations=MIGRATIONS)
    await db.open()
    application = NotifierApplication(env=settings.eventsourcing_env())
    raced = texting(431, "010-4300-0001")
    try:
        c = Correspondence.start(raced.id, raced.no)
        c.learn_contact(Contact(channel=Channel.SMS, reply_to=raced.reply))
        c.learn_answer(domainmodel.Answer(by="office", text="보도를 고쳤습니다.", at=clock.now()))
        c.plan("answered")
        n = Notice.plan(raced.id, raced.no, "answered", 1, "sms")
        application.save(c, n, writes=[pending(n.id, raced.id, "answered", "sms", clock.now(), n.version)])
        dispatcher = dispatcher_for(application, db, outbox, settings, clock)
        load = dispatcher._load

        def load_then_the_link_comes(claimed: list[uuid.UUID]) -> Any:
            loaded = load(claimed)
            # What the notices process does on `rating.link_issued`, just after the load.
            fresh_c = application.find(c.id)
            fresh_c.learn_rating_link("tok-raced", clock.now() + timedelta(days=14))
            waiting = application.find(n.id)
            waiting.rating_link_came()
            application.save(fresh_c, waiting)
            dispatcher._load = load  # type: ignore[method-assign]
            return loaded

        dispatcher._load = load_then_the_link_comes  # type: ignore[method-assign]
        await dispatcher.run_once()
        assert not outbox.messages("sms")  # the stale text was not sent
        await dispatcher.run_once()
    finally:
        await db.close()
    (told,) = outbox.messages("sms")
    assert "보도를 고쳤습니다." in told["text"] and "token=tok-raced" in told["text"]
