"""The SNS channel on a real PostgreSQL (and, once, the real broker): from X's and Facebook's
webhook deliveries, shaped like their documentation's samples and signed as they sign, to
the recorded complaints."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_intake.bootstrap import bootstrap
from eungdapso_intake.channels.delivery import MEDIA_ONLY
from eungdapso_schemas.codes import AttachmentKind, Channel, Kind, ReplyMedium
from eungdapso_schemas.envelope import decode
from eungdapso_schemas.events import ComplaintReceivedV2
from eungdapso_schemas.streams import INTAKE_EVENTS
from tests.integration.test_intake_http import stored_events
from tests.support.channels import (
    FB_SECRET,
    FB_VERIFY,
    X_SECRET,
    assert_problem,
    by_channel_ref,
    channel_settings,
    published,
)
from tests.support.kafka import read_topic
from tests.support.media import photo
from tests.support.media_host import media_host

pytestmark = pytest.mark.integration

#: The connected accounts of the shipped list (`sns_accounts.toml`).
EUNGDAPSO_X, MAYOR_X = "1201480002", "1201480001"
EUNGDAPSO_PAGE = "100200300400002"
CITIZEN_X, OTHER_CITIZEN_X = "3001969357", "272953809"
X_PATH, FB_PATH = "/api/v1/channels/sns/x/webhook", "/api/v1/channels/sns/facebook/webhook"


@pytest.fixture
def client(database: PostgresTarget) -> Iterator[TestClient]:
    with TestClient(bootstrap(channel_settings(database))) as c:
        yield c


# --- X ------------------------------------------------------------------------------------


def x_user(user_id: str, screen_name: str, name: str) -> dict[str, Any]:
    return {
        "id": int(user_id),
        "id_str": user_id,
        "name": name,
        "screen_name": screen_name,
        "location": "Seoul",
        "protected": False,
        "verified": False,
        "followers_count": 120,
        "created_at": "Mon Nov 29 21:18:15 +0000 2010",
    }


def tweet(
    tweet_id: str,
    text: str,
    *,
    author: dict[str, Any] | None = None,
    mentions: tuple[tuple[str, str], ...] = (("seoul_eungdapso", EUNGDAPSO_X),),
    **more: Any,
) -> dict[str, Any]:
    """A Tweet object (v1.1) as `tweet_create_events` carries it."""
    return {
        "created_at": "Fri Nov 20 00:05:00 +0000 2026",
        "id": int(tweet_id),
        "id_str": tweet_id,
        "text": text,
        "source": '<a href="http://twitter.com/download/android" rel="nofollow">Twitter for Android</a>',
        "truncated": False,
        "in_reply_to_status_id": None,
        "in_reply_to_status_id_str": None,
        "in_reply_to_user_id": None,
        "in_reply_to_user_id_str": None,
        "in_reply_to_screen_name": None,
        "user": author or x_user(CITIZEN_X, "jiwoo_k", "김지우"),
        "geo": None,
        "coordinates": None,
        "place": None,
        "is_quote_status": False,
        "quote_count": 0,
        "reply_count": 0,
        "retweet_count": 0,
        "favorite_count": 0,
        "entities": {
            "hashtags": [],
            "urls": [],
            "user_mentions": [
                {"screen_name": handle, "name": handle, "id": int(uid), "id_str": uid, "indices": [0, 16]}
                for handle, uid in mentions
            ],
            "symbols": [],
        },
        "favorited": False,
        "retweeted": False,
        "filter_level": "low",
        "lang": "ko",
        "timestamp_ms": "1795133100000",
        **more,
    }


def activity(for_user_id: str = EUNGDAPSO_X, **events: Any) -> bytes:
    return json.dumps({"for_user_id": for_user_id, **events}, ensure_ascii=False).encode()


def dm(event_id: str, sender: str, recipient: str, text: str) -> dict[str, Any]:
    return {
        "type": "message_create",
        "id": event_id,
        "created_timestamp": "1795133100000",
        "message_create": {
            "target": {"recipient_id": recipient},
            "sender_id": sender,
            "source_app_id": "268278",
            "message_data": {
                "text": text,
                "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
            },
        },
    }


def post_x(
    client: TestClient, body: bytes, *, secret: str = X_SECRET, signed_body: bytes | None = None
) -> Any:
    digest = hmac.new(secret.encode(), signed_body or body, hashlib.sha256).digest()
    return client.post(
        X_PATH,
        content=body,
        headers={
            "content-type": "application/json",
            "x-twitter-webhooks-signature": "sha256=" + base64.b64encode(digest).decode(),
        },
    )


MENTION = activity(
    user_has_blocked="false",
    tweet_create_events=[
        tweet("1795133100000000001", "@seoul_eungdapso 버스정류장 안내판이 꺼져 있어요 (종로2가)")
    ],
)


def test_x_crc_is_answered_with_the_signed_token(client: TestClient) -> None:
    token = "9b4507b3-9040-4669-9ca3-6b94edb50553"
    response = client.get(X_PATH, params={"crc_token": token})
    assert response.status_code == 200
    expected = base64.b64encode(hmac.new(X_SECRET.encode(), token.encode(), hashlib.sha256).digest()).decode()
    assert response.json() == {"response_token": "sha256=" + expected}
    missing = client.get(X_PATH)
    assert missing.status_code == 422 and missing.headers["content-type"].startswith(
        "application/problem+json"
    )


def test_a_mention_of_a_city_account_becomes_a_complaint_answered_through_that_account(
    client: TestClient, database: PostgresTarget
) -> None:
    response = post_x(client, MENTION)
    assert response.status_code == 200, response.text
    assert response.json() == {"recorded": 1, "replayed": 0, "ignored": 0}
    [complaint] = published(client)
    assert complaint.channel is Channel.SNS and complaint.kind is Kind.COMPLAINT
    assert complaint.text == "@seoul_eungdapso 버스정류장 안내판이 꺼져 있어요 (종로2가)"
    assert complaint.channel_ref == "x:tweet:1795133100000000001"
    assert complaint.citizen is not None
    assert (complaint.citizen.sns_handle, complaint.citizen.name) == ("@jiwoo_k", "김지우")
    reply = complaint.reply_to
    assert reply is not None and reply.medium is ReplyMedium.SNS
    assert (reply.address, reply.account, reply.thread) == (
        CITIZEN_X,
        "eungdapso.x",
        "tweet:1795133100000000001",
    )
    assert stored_events(database) == 1


def test_one_delivery_of_several_events_records_each_once_and_ignores_the_citys_own(
    client: TestClient, database: PostgresTarget
) -> None:
    mayor = x_user(MAYOR_X, "seoulmayor", "서울특별시장")
    long_text = "@seoul_eungdapso " + "한강공원 자전거도로 파손 " * 30
    body = activity(
        tweet_create_events=[
            tweet("1795133100000000011", "@seoul_eungdapso 가로등이 깜빡여요"),
            # A long tweet: its whole text is in extended_tweet.
            tweet(
                "1795133100000000012",
                long_text[:140] + "…",
                author=x_user(OTHER_CITIZEN_X, "nicpottier", "   "),  # a blank display name
                truncated=True,
                extended_tweet={"full_text": long_text, "display_text_range": [0, len(long_text)]},
            ),
            # The city's own: the mayor's account mentioning EUNGDAPSO, and its reply.
            tweet("1795133100000000013", "@seoul_eungdapso 확인 부탁드립니다", author=mayor),
            tweet(
                "1795133100000000014", "답변드립니다", author=x_user(EUNGDAPSO_X, "seoul_eungdapso", "응답소")
            ),
            # A retweet is not a message; a tweet that does not address the account neither.
            tweet("1795133100000000015", "RT @seoul_eungdapso: 공지", retweeted_status={"id_str": "1"}),
            tweet("1795133100000000016", "오늘 날씨 좋네요", mentions=()),
        ],
        direct_message_events=[
            dm("1795133100000000021", CITIZEN_X, EUNGDAPSO_X, "수도 요금 고지서가 두 번 왔어요"),
            # The city's own DM, echoed back to the subscription.
            dm("1795133100000000022", EUNGDAPSO_X, CITIZEN_X, "확인 후 답변드리겠습니다"),
            {"type": "message_read", "id": "1795133100000000023"},
        ],
        users={CITIZEN_X: {"id": CITIZEN_X, "name": "김지우", "screen_name": "jiwoo_k"}},
    )
    assert post_x(client, body).json() == {"recorded": 3, "replayed": 0, "ignored": 6}
    refs = by_channel_ref(client)
    assert set(refs) == {
        "x:tweet:1795133100000000011",
        "x:tweet:1795133100000000012",
        "x:dm:1795133100000000021",
    }
    long = refs["x:tweet:1795133100000000012"]
    assert long.text == long_text.strip()
    assert long.citizen is not None and (long.citizen.name, long.citizen.sns_handle) == (None, "@nicpottier")
    direct = refs["x:dm:1795133100000000021"]
    assert direct.reply_to is not None and direct.reply_to.address == CITIZEN_X
    # The kind travels with the thread: the notifier answers a direct message by one.
    assert direct.reply_to.thread == "dm:1795133100000000021"
    assert direct.citizen is not None and direct.citizen.sns_handle == "@jiwoo_k"

    # X delivers it all again: nothing new.
    again = post_x(client, body)
    assert again.status_code == 200 and again.json() == {"recorded": 0, "replayed": 3, "ignored": 6}
    assert stored_events(database) == 3


def test_photos_of_tweets_page_messages_and_comments_are_fetched_and_attached(
    database: PostgresTarget, tmp_path: Path
) -> None:
    with media_host() as host:
        host.files["/media/FxQ1.jpg"] = photo()
        url = f"{host.base_url}/media/FxQ1.jpg"
        medium = {"id_str": "1", "type": "photo", "media_url_https": url}
        mention = activity(
            tweet_create_events=[
                tweet(
                    "1795133100000000041",
                    "@seoul_eungdapso 보도블록이 깨졌어요 https://t.co/abc",
                    extended_entities={"media": [medium]},
                )
            ]
        )
        image_only = page_message("m_photo_0001", "6543210987654321", "")
        image_only["message"]["attachments"] = [{"type": "image", "payload": {"url": url}}]
        comment = feed_change(
            "comment",
            "add",
            ("10158000111222333", "박서연"),
            comment_id="778899_5",
            message="여기요",
            photo=url,
        )
        settings = channel_settings(
            database, attachment_fetch_allowed_hosts="localhost", attachments_dir=str(tmp_path)
        )
        with TestClient(bootstrap(settings)) as client:
            assert post_x(client, mention).json()["recorded"] == 1
            delivery = page_delivery(messaging=[image_only], changes=[comment])
            assert post_facebook(client, delivery).json()["recorded"] == 2
            complaints = by_channel_ref(client)
    assert host.seen_auth == [None, None, None]
    for complaint in complaints.values():
        [attached] = complaint.attachments
        assert attached.kind is AttachmentKind.PHOTO
    assert complaints["facebook:msg:m_photo_0001"].text == MEDIA_ONLY


@pytest.mark.parametrize(
    "forged",
    [{"secret": "another-consumer-secret"}, {"signed_body": activity(tweet_create_events=[])}],
    ids=["wrong-secret", "tampered-body"],
)
def test_an_x_delivery_with_a_bad_signature_is_refused_and_records_nothing(
    client: TestClient, database: PostgresTarget, forged: dict[str, Any]
) -> None:
    response = post_x(client, MENTION, **forged)
    assert response.status_code == 403 and response.json()["type"].endswith("bad-signature")
    unsigned = client.post(X_PATH, content=MENTION, headers={"content-type": "application/json"})
    assert unsigned.status_code == 403
    assert stored_events(database) == 0


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b'{"for_user_id": ', 400, None),
        (json.dumps({"tweet_create_events": []}).encode(), 422, "for_user_id"),
        (
            activity(tweet_create_events=[{"id_str": "1", "text": "no author"}]),
            422,
            "tweet_create_events.0.user",
        ),
        (activity(tweet_create_events="not a list"), 422, "tweet_create_events"),
    ],
    ids=["malformed", "no-account", "no-author", "not-a-list"],
)
def test_a_delivery_that_is_not_x_activity_gets_a_problem_and_records_nothing(
    client: TestClient, database: PostgresTarget, body: bytes, status: int, field: str | None
) -> None:
    # A good event first: a bad delivery records nothing of it.
    if body.startswith(b'{"for_user_id": "'):
        data = json.loads(body)
        data.setdefault("direct_message_events", [dm("9", CITIZEN_X, EUNGDAPSO_X, "먼저 온 메시지")])
        body = json.dumps(data).encode()
    assert_problem(post_x(client, body), status, field)
    assert stored_events(database) == 0


def test_events_for_an_account_that_is_not_connected_are_ignored(
    client: TestClient, database: PostgresTarget
) -> None:
    body = activity("999999", tweet_create_events=[tweet("1795133100000000031", "@someone_else 안녕")])
    response = post_x(client, body)
    assert response.status_code == 200 and response.json() == {"recorded": 0, "replayed": 0, "ignored": 1}
    assert stored_events(database) == 0


def test_x_is_not_connected_without_its_consumer_secret(database: PostgresTarget) -> None:
    with TestClient(bootstrap(channel_settings(database, x_consumer_secret=None))) as client:
        assert client.get(X_PATH, params={"crc_token": "abc"}).status_code == 404
        assert post_x(client, MENTION).status_code == 404
    assert stored_events(database) == 0


async def test_a_mention_reaches_the_intake_events_topic_as_complaint_received_v2(
    database: PostgresTarget, broker: str
) -> None:
    settings = channel_settings(database, kafka_bootstrap_servers=broker, relay_poll_interval_s=0.1)
    with TestClient(bootstrap(settings)) as client:
        assert post_x(client, MENTION).json()["recorded"] == 1
        records = await read_topic(broker, INTAKE_EVENTS.name, at_least=1)
    [record] = records
    event = decode(record.headers, record.key, record.value).data
    assert isinstance(event, ComplaintReceivedV2)
    assert event.channel is Channel.SNS and event.channel_ref == "x:tweet:1795133100000000001"
    assert event.reply_to is not None and event.reply_to.account == "eungdapso.x"
    assert event.citizen is not None and event.citizen.sns_handle == "@jiwoo_k"


# --- Facebook -----------------------------------------------------------------------------


def post_facebook(
    client: TestClient, delivery: dict[str, Any], *, secret: str = FB_SECRET, tamper: bool = False
) -> Any:
    body = json.dumps(delivery, ensure_ascii=False).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if tamper:
        body = body.replace("가로등".encode(), "신호등".encode())
    return client.post(
        FB_PATH, content=body, headers={"content-type": "application/json", "X-Hub-Signature-256": signature}
    )


def page_message(mid: str, sender: str, text: str, *, echo: bool = False) -> dict[str, Any]:
    message: dict[str, Any] = {"mid": mid, "text": text}
    if echo:
        message.update(is_echo=True, app_id=1517776481860111)
    return {
        "sender": {"id": sender},
        "recipient": {"id": EUNGDAPSO_PAGE if not echo else sender},
        "timestamp": 1795133100000,
        "message": message,
    }


def feed_change(item: str, verb: str, author: tuple[str, str], **value: Any) -> dict[str, Any]:
    return {
        "field": "feed",
        "value": {
            "from": {"id": author[0], "name": author[1]},
            "item": item,
            "verb": verb,
            "created_time": 1795133100,
            "post_id": f"{EUNGDAPSO_PAGE}_778899",
            **value,
        },
    }


def page_delivery(*, messaging: Sequence[Any] = (), changes: Sequence[Any] = ()) -> dict[str, Any]:
    return {
        "object": "page",
        "entry": [
            {
                "id": EUNGDAPSO_PAGE,
                "time": 1795133100000,
                "messaging": list(messaging),
                "changes": list(changes),
            }
        ],
    }


def test_facebook_subscription_check_echoes_the_challenge_only_for_the_verify_token(
    client: TestClient,
) -> None:
    ok = client.get(
        FB_PATH,
        params={"hub.mode": "subscribe", "hub.verify_token": FB_VERIFY, "hub.challenge": "1158201444"},
    )
    assert ok.status_code == 200 and ok.text == "1158201444"
    for params in (
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"},
        {"hub.mode": "unsubscribe", "hub.verify_token": FB_VERIFY, "hub.challenge": "1158201444"},
    ):
        refused = client.get(FB_PATH, params=params)
        assert refused.status_code == 403 and "1158201444" not in refused.text
    assert client.get(FB_PATH, params={"hub.mode": "subscribe"}).status_code == 422


def test_page_messages_and_visitors_posts_become_complaints_and_the_pages_own_do_not(
    client: TestClient, database: PostgresTarget
) -> None:
    psid = "6543210987654321"
    visitor = ("10158000111222333", "박서연")
    delivery = page_delivery(
        messaging=[
            page_message(
                "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP",
                psid,
                "가로등이 꺼졌어요",
            ),
            page_message("m_echo_of_the_pages_reply_0001", EUNGDAPSO_PAGE, "확인하겠습니다", echo=True),
            {
                "sender": {"id": psid},
                "recipient": {"id": EUNGDAPSO_PAGE},
                "timestamp": 1,
                "read": {"watermark": 1},
            },
        ],
        changes=[
            feed_change(
                "comment",
                "add",
                visitor,
                comment_id="778899_112233",
                parent_id=f"{EUNGDAPSO_PAGE}_778899",
                message="공원 화장실이 잠겨 있어요",
            ),
            feed_change("status", "add", visitor, message="불법 주정차 신고합니다 (마포구청 앞)"),
            # The page's own comment, an edit, a reaction: not complaints.
            feed_change(
                "comment", "add", (EUNGDAPSO_PAGE, "서울시 응답소"), comment_id="778899_1", message="답변"
            ),
            feed_change("comment", "edited", visitor, comment_id="778899_112233", message="수정"),
            feed_change("reaction", "add", visitor, reaction_type="like"),
            {"field": "mention", "value": {"post_id": "1_2", "verb": "add"}},
        ],
    )
    assert post_facebook(client, delivery).json() == {"recorded": 3, "replayed": 0, "ignored": 6}
    refs = by_channel_ref(client)
    assert set(refs) == {
        "facebook:msg:m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP",
        "facebook:comment:778899_112233",
        f"facebook:post:{EUNGDAPSO_PAGE}_778899",
    }
    message = refs["facebook:msg:m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP"]
    assert message.channel is Channel.SNS and message.text == "가로등이 꺼졌어요"
    assert message.reply_to is not None and message.reply_to.address == psid
    assert message.reply_to.account == "eungdapso.facebook"
    comment = refs["facebook:comment:778899_112233"]
    assert comment.citizen is not None and comment.citizen.name == "박서연"
    assert comment.reply_to is not None and comment.reply_to.thread == "comment:778899_112233"

    again = post_facebook(client, delivery)
    assert again.json() == {"recorded": 0, "replayed": 3, "ignored": 6}
    assert stored_events(database) == 3


@pytest.mark.parametrize(
    "forged", [{"secret": "not-the-app-secret"}, {"tamper": True}], ids=["wrong-secret", "tampered"]
)
def test_a_facebook_delivery_with_a_bad_signature_is_refused_and_records_nothing(
    client: TestClient, database: PostgresTarget, forged: dict[str, Any]
) -> None:
    delivery = page_delivery(messaging=[page_message("m_1", "6543210987654321", "가로등이 꺼졌어요")])
    response = post_facebook(client, delivery, **forged)
    assert response.status_code == 403 and response.json()["type"].endswith("bad-signature")
    assert stored_events(database) == 0


@pytest.mark.parametrize(
    ("delivery", "field"),
    [
        ({"object": "instagram", "entry": []}, "object"),
        ({"object": "page"}, "entry"),
        (
            page_delivery(
                messaging=[{"sender": {"id": "1"}, "recipient": {"id": "2"}, "message": {"text": "no mid"}}]
            ),
            None,
        ),
        (page_delivery(changes=[{"field": "feed", "value": {"verb": "add", "from": {"id": "1"}}}]), "item"),
    ],
    ids=["not-a-page", "no-entry", "no-mid", "feed-without-item"],
)
def test_a_delivery_that_is_not_a_page_webhook_gets_a_problem_and_records_nothing(
    client: TestClient, database: PostgresTarget, delivery: dict[str, Any], field: str | None
) -> None:
    if delivery.get("entry"):
        # A good message in the same delivery: nothing of it is recorded either.
        delivery["entry"][0]["messaging"].insert(
            0, page_message("m_good", "6543210987654321", "가로등이 꺼졌어요")
        )
    assert_problem(post_facebook(client, delivery), 422, field)
    assert stored_events(database) == 0
