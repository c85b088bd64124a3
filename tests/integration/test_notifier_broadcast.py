"""The emergency broadcast end to end on a real PostgreSQL and broker: an administrator's
key (made by the CLI) posts an alert; each of the city's accounts (X and Facebook APIs on
loopback) posts it once, each opted-in citizen of the districts concerned gets one SMS (a
gateway on loopback), in their language; the broadcast and every outcome are events on
the notifier's stream, without a phone number; a provider outage across a restart of the
notifier still ends with each account posted once, and a refusal is recorded, not retried;
the subscribers are those who opted in by the notifier's API (its `emergency_sms` table)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_notifier.bootstrap import build
from eungdapso_notifier.broadcast import Subscriber
from eungdapso_notifier.keys import Scope
from eungdapso_notifier.settings import NotifierSettings
from eungdapso_platform.service import create_app
from eungdapso_schemas.codes import District
from eungdapso_schemas.envelope import Envelope, decode
from eungdapso_schemas.streams import NOTIFIER_EVENTS
from tests.conftest import service_env, settings_for
from tests.support.kafka import read_topic
from tests.support.provider_api import Answer, ProviderApi, provider_api

pytestmark = pytest.mark.integration

ACCOUNTS = """
[[account]]
code = "seoulcity.x"
platform = "x"
name = "서울특별시"

[[account]]
code = "transport.x"
platform = "x"
name = "서울시 도시교통실"

[[account]]
code = "seoulcity.facebook"
platform = "facebook"
name = "서울특별시"
"""

ALERT = {
    "title": "호우경보",
    "text": "한강 수위 상승으로 잠수교 보행이 통제됩니다. 안전에 유의하세요.",
    "translations": {"en": "Jamsugyo Bridge is closed to pedestrians: the Han River is rising."},
    "districts": ["yongsan", "seocho"],
    "sms": True,
}


class OptedIn:
    """The notifier's preferences as broadcasts see them (`SmsSubscribers`)."""

    def __init__(self) -> None:
        self.people = {
            District.YONGSAN: [
                Subscriber("pref-1", "010-1111-2222"),
                Subscriber("pref-2", "010-3333-4444", "en"),
            ],
            District.MAPO: [Subscriber("pref-3", "010-5555-6666")],
        }

    async def opted_in(self, districts: Collection[District]) -> Sequence[Subscriber]:
        return [s for d in districts for s in self.people.get(d, [])]


@pytest.fixture
def apis() -> Iterator[dict[str, ProviderApi]]:
    with provider_api() as x, provider_api() as facebook, provider_api() as sms:
        x.default = lambda seen: Answer(201, {"data": {"id": f"t-{uuid.uuid4().hex[:8]}"}})
        sms.default = lambda seen: Answer(202, {"message_id": f"g-{uuid.uuid4().hex[:8]}"})
        yield {"x": x, "facebook": facebook, "sms": sms}


@pytest.fixture
def settings(
    database: PostgresTarget, broker: str, apis: dict[str, ProviderApi], tmp_path: Path
) -> NotifierSettings:
    accounts = tmp_path / "accounts.toml"
    accounts.write_text(ACCOUNTS, encoding="utf-8")
    return settings_for(
        NotifierSettings,
        database,
        kafka_bootstrap_servers=broker,
        relay_poll_interval_s=0.1,
        run_dir=tmp_path,
        x_provider="x",
        facebook_provider="facebook",
        sms_provider="sms-http",
        x_api_url=apis["x"].base_url,
        facebook_api_url=apis["facebook"].base_url,
        sms_gateway_url=apis["sms"].base_url,
        sms_api_key="gateway-key",
        x_account_tokens={"seoulcity.x": "tok-seoulcity", "transport.x": "tok-transport"},
        facebook_page_tokens={"seoulcity.facebook": "tok-page"},
        broadcast_accounts_file=accounts,
        broadcast_attempts=3,
        broadcast_retry_base_s=0.05,
        broadcast_poll_interval_s=0.1,
        provider_timeout_s=2,
    )


@pytest.fixture
def running(settings: NotifierSettings) -> Callable[[], Any]:
    @asynccontextmanager
    async def run(**changes: Any) -> AsyncIterator[httpx.AsyncClient]:
        changed = settings.model_copy(update=changes)
        app = create_app(build(changed, subscribers=OptedIn()), title="notifier")
        async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://notifier"
            ) as http:
                yield http

    return run


@pytest.fixture
async def admin_key(database: PostgresTarget, broker: str) -> str:
    made = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "eungdapso_notifier", "admin-keys", "create", "--name", "safety-duty"],
        capture_output=True,
        text=True,
        env={**os.environ, **service_env(database, broker)},
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


async def until_done(
    http: httpx.AsyncClient, key: str, broadcast_id: str, timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = (await http.get(f"/api/v1/broadcasts/{broadcast_id}", headers=auth(key))).json()
        if status["done"]:
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"broadcast not done: {status}")


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def notifier_events(broker: str, at_least: int) -> list[tuple[bytes, Envelope[Any]]]:
    records = await read_topic(broker, NOTIFIER_EVENTS.name, at_least=at_least)
    return [(r.value, decode(r.headers, r.key, r.value)) for r in records]


async def test_a_broadcast_posts_once_per_account_and_subscriber_and_every_outcome_is_recorded(
    running: Callable[[], Any], admin_key: str, apis: dict[str, ProviderApi], broker: str
) -> None:
    async with running() as http:
        anonymous = await http.post("/api/v1/broadcasts", json=ALERT)
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        unknown = await http.post(
            "/api/v1/broadcasts", json={**ALERT, "accounts": ["nope.x"]}, headers=auth(admin_key)
        )
        assert unknown.status_code == 422 and unknown.json()["accounts"] == ["nope.x"]
        bad = await http.post(
            "/api/v1/broadcasts", json={**ALERT, "districts": ["atlantis"]}, headers=auth(admin_key)
        )
        assert bad.status_code == 422

        headers = {**auth(admin_key), "Idempotency-Key": "storm-2026-07-14"}
        posted = await http.post("/api/v1/broadcasts", json=ALERT, headers=headers)
        assert posted.status_code == 202, posted.text
        accepted = posted.json()
        assert (accepted["accounts"], accepted["sms_recipients"]) == (3, 2)
        again = await http.post("/api/v1/broadcasts", json=ALERT, headers=headers)
        assert again.status_code == 200 and again.json()["broadcast_id"] == accepted["broadcast_id"]
        reused = await http.post("/api/v1/broadcasts", json={**ALERT, "text": "다른 내용"}, headers=headers)
        assert reused.status_code == 409

        status = await until_done(http, admin_key, accepted["broadcast_id"])
        events = await notifier_events(broker, at_least=6)  # while the relay runs
    assert {code: s["outcome"] for code, s in status["accounts"].items()} == {
        "seoulcity.x": "delivered",
        "transport.x": "delivered",
        "seoulcity.facebook": "delivered",
    }
    assert status["sms"] == {"recipients": 2, "delivered": 2, "failed": 0}

    # Each account posted once, on its own timeline, with its own token.
    x = apis["x"].seen
    assert sorted(s.headers["authorization"] for s in x) == ["Bearer tok-seoulcity", "Bearer tok-transport"]
    assert all(
        s.path == "/2/tweets" and "reply" not in s.body and s.body["text"].startswith("[호우경보]") for s in x
    )
    [page] = apis["facebook"].seen
    assert page.path == "/me/feed" and page.headers["authorization"] == "Bearer tok-page"
    # Each opted-in citizen of Yongsan or Seocho once (Mapo's not), in their language.
    texts = {s.body["to"]: s.body["text"] for s in apis["sms"].seen}
    assert set(texts) == {"01011112222", "01033334444"} and len(apis["sms"].seen) == 2
    assert "잠수교" in texts["01011112222"] and "Jamsugyo" in texts["01033334444"]

    kinds = [type(e.data).__name__ for _, e in events]
    assert kinds.count("BroadcastPostedV1") == 1 and kinds.count("BroadcastDeliveredV1") == 5
    delivered = [e.data for _, e in events if type(e.data).__name__ == "BroadcastDeliveredV1"]
    assert sorted(d.target for d in delivered) == [
        "account:seoulcity.facebook",
        "account:seoulcity.x",
        "account:transport.x",
        "sms:pref-1",
        "sms:pref-2",
    ]
    assert all(str(e.data.broadcast_id) == accepted["broadcast_id"] for _, e in events)
    # No phone number on the stream: subscribers are opaque references.
    numbers = (b"010-1111-2222", b"01011112222", b"010-3333-4444", b"01033334444")
    assert not any(n in raw for raw, _ in events for n in numbers)


async def test_an_outage_across_a_restart_ends_with_each_account_posted_once_and_a_refusal_recorded(
    running: Callable[[], Any], admin_key: str, apis: dict[str, ProviderApi], broker: str
) -> None:
    x, sms = apis["x"], apis["sms"]
    outage = threading.Event()
    outage.set()
    #: The X accounts whose post the API accepted.
    accepted: list[str] = []

    def answer_x(seen: Any) -> Answer:
        if outage.is_set():
            return Answer(503)
        accepted.append(seen.headers["authorization"])
        return Answer(201, {"data": {"id": f"t-{len(accepted)}"}})

    x.default = answer_x
    sms.default = lambda seen: (
        Answer(400, {"code": "unknown_subscriber"})
        if seen.body["to"] == "01033334444"
        else Answer(202, {"message_id": "g"})
    )
    # Retried for as long as the test needs: the outage outlasts this run of the notifier.
    async with running(broadcast_attempts=50, broadcast_retry_base_s=0.2, broadcast_retry_cap_s=0.5) as http:
        posted = await http.post("/api/v1/broadcasts", json=ALERT, headers=auth(admin_key))
        broadcast_id = posted.json()["broadcast_id"]
        # Facebook and the SMS are done; both X accounts are being retried through the outage.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = (await http.get(f"/api/v1/broadcasts/{broadcast_id}", headers=auth(admin_key))).json()
            if (
                status["accounts"]["seoulcity.facebook"]["outcome"] == "delivered"
                and status["sms"]["failed"] == 1
            ):
                break
            await asyncio.sleep(0.1)
        while len(x.seen) < 4:  # both X accounts retried at least once
            await asyncio.sleep(0.1)
        status = (await http.get(f"/api/v1/broadcasts/{broadcast_id}", headers=auth(admin_key))).json()
        assert status["accounts"]["seoulcity.x"]["outcome"] == "pending"
        assert status["accounts"]["transport.x"]["outcome"] == "pending"
    # The notifier stops mid-outage; when it starts again, the X API is back.
    outage.clear()
    async with running() as http:
        status = await until_done(http, admin_key, broadcast_id)
        events = await notifier_events(broker, at_least=6)
    assert {code: s["outcome"] for code, s in status["accounts"].items()} == dict.fromkeys(
        ("seoulcity.x", "transport.x", "seoulcity.facebook"), "delivered"
    )
    assert status["sms"] == {"recipients": 2, "delivered": 1, "failed": 1}
    # The accounts done before the restart were not posted again; each X account once successfully.
    assert len(apis["facebook"].seen) == 1
    assert len(sms.seen) == 2  # the refusal is not retried
    assert sorted(accepted) == ["Bearer tok-seoulcity", "Bearer tok-transport"]
    outcomes = [e.data for _, e in events if type(e.data).__name__ != "BroadcastPostedV1"]
    assert len(outcomes) == 5 and len({o.target for o in outcomes}) == 5
    [refused] = [o for o in outcomes if type(o).__name__ == "BroadcastDeliveryFailedV1"]
    assert refused.target == "sms:pref-2" and refused.reason == "sms-http: HTTP 400 (unknown_subscriber)"
    assert refused.attempts == 1


async def test_a_provider_that_stays_down_fails_the_target_after_the_bounded_attempts(
    running: Callable[[], Any], admin_key: str, apis: dict[str, ProviderApi], broker: str
) -> None:
    apis["facebook"].default = lambda seen: Answer(503)
    async with running() as http:
        posted = await http.post(
            "/api/v1/broadcasts",
            json={**ALERT, "sms": False, "accounts": ["seoulcity.facebook"]},
            headers=auth(admin_key),
        )
        status = await until_done(http, admin_key, posted.json()["broadcast_id"])
        events = await notifier_events(broker, at_least=2)
    assert status["accounts"] == {"seoulcity.facebook": {"outcome": "failed", "reason": "facebook: HTTP 503"}}
    assert len(apis["facebook"].seen) == 3  # BROADCAST_ATTEMPTS
    [failed] = [e.data for _, e in events if type(e.data).__name__ == "BroadcastDeliveryFailedV1"]
    assert failed.attempts == 3 and failed.provider == "facebook"


async def test_two_replicas_post_each_account_once(
    running: Callable[[], Any], admin_key: str, apis: dict[str, ProviderApi], broker: str
) -> None:
    async with running() as first, running() as second:
        posted = await second.post("/api/v1/broadcasts", json=ALERT, headers=auth(admin_key))
        broadcast_id = posted.json()["broadcast_id"]
        status = await until_done(first, admin_key, broadcast_id)
        events = await notifier_events(broker, at_least=6)
    assert status["sms"]["delivered"] == 2
    assert len(apis["x"].seen) == 2 and len(apis["facebook"].seen) == 1 and len(apis["sms"].seen) == 2
    assert len(events) == 6 and len({e.id for _, e in events}) == 6


async def test_on_the_local_stack_a_broadcast_is_written_under_the_run_directory(
    running: Callable[[], Any], admin_key: str, apis: dict[str, ProviderApi], tmp_path: Path
) -> None:
    files = {"x_provider": "file", "facebook_provider": "file", "sms_provider": "file"}
    async with running(**files) as http:
        posted = await http.post("/api/v1/broadcasts", json=ALERT, headers=auth(admin_key))
        broadcast_id = posted.json()["broadcast_id"]
        status = await until_done(http, admin_key, broadcast_id)
    assert status["sms"]["delivered"] == 2
    outbox = tmp_path / "outbox"
    written = sorted(str(p.relative_to(outbox)) for p in outbox.rglob("*") if p.is_file())
    prefix = f"broadcast-{broadcast_id}"
    assert written == [
        f"facebook/{prefix}-account-seoulcity.facebook.json",
        f"sms/{prefix}-sms-pref-1.txt",
        f"sms/{prefix}-sms-pref-2.txt",
        f"x/{prefix}-account-seoulcity.x.json",
        f"x/{prefix}-account-transport.x.json",
    ]
    english = (outbox / f"sms/{prefix}-sms-pref-2.txt").read_text()
    assert "To: 010-3333-4444" in english and "Form: sms" in english and "Jamsugyo" in english
    assert all(api.seen == [] for api in apis.values())  # nothing left the machine


async def test_a_broadcast_texts_only_the_citizens_opted_in_for_its_districts(
    settings: NotifierSettings, admin_key: str, apis: dict[str, ProviderApi], broker: str
) -> None:
    app = create_app(build(settings), title="notifier")
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifier") as http,
    ):
        _, key = await app.state.api_keys.create("dasan-120-desk", [Scope.PREFERENCES])
        path = "/api/v1/notifications/emergency-sms"

        async def opt_in(phone: str, *districts: str, language: str = "ko") -> httpx.Response:
            body = {"phone": phone, "districts": list(districts), "language": language}
            return await http.put(path, json=body, headers=auth(key))

        yongsan = await opt_in("010-1111-2222", "yongsan")
        assert yongsan.status_code == 200, yongsan.text
        assert "1111" not in yongsan.text and yongsan.json()["districts"] == ["yongsan"]
        assert (await opt_in("+82 10 3333 4444", "seocho", "mapo", language="en")).status_code == 200
        assert (await opt_in("010-5555-6666", "mapo")).status_code == 200
        assert (await opt_in("010-7777-8888")).status_code == 200  # the whole city
        assert (await opt_in("010-9999-0000", "yongsan")).status_code == 200
        # Changed their mind: the districts now are Gangnam's only; and one left altogether.
        assert (await opt_in("010-5555-6666", "gangnam")).status_code == 200
        out = await http.post(f"{path}/opt-out", json={"phone": "010 9999 0000"}, headers=auth(key))
        assert out.status_code == 204
        again = await http.post(f"{path}/opt-out", json={"phone": "010-9999-0000"}, headers=auth(key))
        assert again.status_code == 404 and again.headers["content-type"] == "application/problem+json"
        foreign = await opt_in("+1 415 555 0100", "jung")
        assert foreign.status_code == 422 and foreign.headers["content-type"] == "application/problem+json"
        assert (await opt_in("010-1234-5678", "atlantis")).status_code == 422
        anonymous = await http.put(path, json={"phone": "010-1234-5678"})
        assert anonymous.status_code == 401

        posted = await http.post("/api/v1/broadcasts", json=ALERT, headers=auth(admin_key))  # Yongsan, Seocho
        assert posted.status_code == 202, posted.text
        assert posted.json()["sms_recipients"] == 3
        status = await until_done(http, admin_key, posted.json()["broadcast_id"])
        events = await notifier_events(broker, at_least=7)
    assert status["sms"] == {"recipients": 3, "delivered": 3, "failed": 0}
    texts = {s.body["to"]: s.body["text"] for s in apis["sms"].seen}
    assert sorted(texts) == ["01011112222", "01033334444", "01077778888"] and len(apis["sms"].seen) == 3
    assert "Jamsugyo" in texts["01033334444"] and "잠수교" in texts["01011112222"]
    # The stream names subscribers by their opaque reference, never by number.
    numbers = (b"010-1111-2222", b"01011112222", b"+82 10 3333 4444", b"01033334444", b"01077778888")
    assert not any(n in raw for raw, _ in events for n in numbers)
