"""The SMS/MMS channel on a real PostgreSQL (and, once, the real broker): from the wire formats
(Twilio's form signed by the `twilio` package; our signed JSON) to the recorded complaint."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from defusedxml import ElementTree
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_intake.bootstrap import bootstrap
from eungdapso_intake.channels.delivery import MEDIA_ONLY
from eungdapso_intake.channels.signatures import eungdapso_signature
from eungdapso_schemas.codes import AttachmentKind, Channel, Kind, ReplyMedium
from eungdapso_schemas.envelope import decode
from eungdapso_schemas.events import ComplaintReceivedV2
from eungdapso_schemas.streams import INTAKE_EVENTS
from tests.integration.test_intake_http import stored_events
from tests.support.channels import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    MUNJA_SECRET,
    PUBLIC,
    assert_problem,
    channel_settings,
    published,
)
from tests.support.kafka import read_topic
from tests.support.media import photo
from tests.support.media_host import media_host

pytestmark = pytest.mark.integration

TWILIO_URL = PUBLIC + "/api/v1/channels/sms/twilio"


@pytest.fixture
def client(database: PostgresTarget) -> Iterator[TestClient]:
    with TestClient(bootstrap(channel_settings(database))) as c:
        yield c


# --- Twilio -------------------------------------------------------------------------------


def twilio_form(
    sid: str = "SM" + "a1" * 16, body: str = "신호등이 고장났어요. 세종대로 사거리", **more: str
) -> dict[str, str]:
    """An inbound message as Twilio posts it (the parameters its documentation lists)."""
    return {
        "ToCountry": "KR",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "KR",
        "To": "+8215880120",
        "MessagingServiceSid": "MG" + "2b" * 16,
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": "+821098765432",
        "ApiVersion": "2010-04-01",
        **more,
    }


def post_twilio(
    client: TestClient,
    form: dict[str, str],
    *,
    token: str = AUTH_TOKEN,
    url: str = TWILIO_URL,
    body: str | None = None,
) -> Any:
    signature = RequestValidator(token).compute_signature(url, form)
    return client.post(
        "/api/v1/channels/sms/twilio",
        content=body if body is not None else urlencode(form),
        headers={"content-type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )


def twiml_message(response: Any) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    root = ElementTree.fromstring(response.content)
    assert root.tag == "Response"
    message = root.find("Message")
    assert message is not None and message.text
    return message.text


def test_a_twilio_sms_signed_by_twilio_becomes_a_complaint_answered_by_twiml(
    client: TestClient, database: PostgresTarget
) -> None:
    reply = twiml_message(post_twilio(client, twilio_form()))
    [complaint] = published(client)
    assert complaint.receipt_no in reply and "응답소" in reply
    assert complaint.channel is Channel.SMS and complaint.kind is Kind.COMPLAINT
    assert complaint.text == "신호등이 고장났어요. 세종대로 사거리"
    assert complaint.channel_ref == "twilio:SM" + "a1" * 16
    assert complaint.citizen is not None and complaint.citizen.phone == "+821098765432"
    assert complaint.reply_to is not None
    assert (complaint.reply_to.medium, complaint.reply_to.address) == (ReplyMedium.SMS, "+821098765432")
    assert complaint.reply_to.consent and complaint.attachments == ()
    assert stored_events(database) == 1


def test_twilio_delivering_the_same_message_again_gets_the_same_receipt_and_records_nothing(
    client: TestClient, database: PostgresTarget
) -> None:
    first = twiml_message(post_twilio(client, twilio_form()))
    again = twiml_message(post_twilio(client, twilio_form()))
    assert again == first
    other = twiml_message(post_twilio(client, twilio_form(sid="SM" + "b2" * 16)))
    assert other != first
    assert stored_events(database) == 2


def test_an_mms_photo_is_fetched_with_the_twilio_account_and_attached(
    database: PostgresTarget, tmp_path: Path
) -> None:
    with media_host(auth=(ACCOUNT_SID, AUTH_TOKEN)) as host:
        host.files["/Media/ME1"] = photo()
        settings = channel_settings(
            database, attachment_fetch_allowed_hosts="localhost", attachments_dir=str(tmp_path)
        )
        with TestClient(bootstrap(settings)) as client:
            media = {
                "NumMedia": "2",
                "MediaUrl0": f"{host.base_url}/Media/ME1",
                "MediaContentType0": "image/jpeg",
                # Gone by the time intake asks: the complaint is recorded without it.
                "MediaUrl1": f"{host.base_url}/Media/ME2",
                "MediaContentType1": "image/jpeg",
            }
            twiml_message(post_twilio(client, twilio_form(body="", **media)))
            [complaint] = published(client)
    assert complaint.text == MEDIA_ONLY
    [attached] = complaint.attachments
    assert attached.kind is AttachmentKind.PHOTO and attached.media_type == "image/jpeg"
    basic = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert host.seen_auth == [basic, basic]


@pytest.mark.parametrize(
    "forged",
    [
        {"token": "0" * 32},
        {"body": urlencode(twilio_form(body="바뀐 내용"))},
        {"url": "https://eungdapso.seoul.go.kr/api/v1/channels/sms/munja"},
        {"url": "http://testserver/api/v1/channels/sms/twilio"},  # what intake sees, not what Twilio called
    ],
    ids=["wrong-token", "tampered-body", "other-url", "internal-url"],
)
def test_a_twilio_request_with_a_bad_signature_is_refused_and_records_nothing(
    client: TestClient, database: PostgresTarget, forged: dict[str, str]
) -> None:
    response = post_twilio(client, twilio_form(), **forged)
    assert_problem(response, 403)
    assert response.json()["type"].endswith("bad-signature")
    unsigned = client.post(
        "/api/v1/channels/sms/twilio",
        content=urlencode(twilio_form()),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert unsigned.status_code == 403
    assert stored_events(database) == 0


def test_without_a_public_url_intake_checks_the_url_it_was_called_on(database: PostgresTarget) -> None:
    with TestClient(bootstrap(channel_settings(database, public_base_url=None))) as client:
        called = "http://testserver/api/v1/channels/sms/twilio"
        assert twiml_message(post_twilio(client, twilio_form(), url=called))
        assert post_twilio(client, twilio_form(), url=TWILIO_URL).status_code == 403


@pytest.mark.parametrize(
    ("form", "status", "field"),
    [
        ({k: v for k, v in twilio_form().items() if k != "MessageSid"}, 422, "MessageSid"),
        (twilio_form(From="not a number"), 422, "From"),
        (twilio_form(NumMedia="2", MediaUrl0="https://api.twilio.com/m/0"), 422, None),
        (twilio_form(body=""), 422, None),
        (twilio_form(body="가" * 4001), 422, "Body"),
        (twilio_form(AccountSid="AC" + "9" * 32), 403, None),
    ],
    ids=["no-sid", "bad-from", "media-missing", "empty", "too-long", "other-account"],
)
def test_a_bad_twilio_message_gets_a_problem_and_records_nothing(
    client: TestClient, database: PostgresTarget, form: dict[str, str], status: int, field: str | None
) -> None:
    assert_problem(post_twilio(client, form), status, field)
    assert stored_events(database) == 0


def test_twilio_is_not_connected_without_its_auth_token(database: PostgresTarget) -> None:
    with TestClient(bootstrap(channel_settings(database, sms_gateways={"munja": MUNJA_SECRET}))) as client:
        response = post_twilio(client, twilio_form())
        assert response.status_code == 404 and response.json()["type"].endswith("unknown-gateway")
    assert stored_events(database) == 0


# --- Our JSON format ----------------------------------------------------------------------


def sms_json(message_id: str = "20261120-000123", **more: Any) -> bytes:
    message = {
        "message_id": message_id,
        "from": "010-1234-5678",
        "to": "120",
        "text": "만리재로 193 앞 육교 계단에 구멍이 났어요",
        "received_at": "2026-11-20T09:05:00+09:00",
        **more,
    }
    return json.dumps(message, ensure_ascii=False).encode()


def post_signed(
    client: TestClient,
    body: bytes,
    *,
    gateway: str = "munja",
    secret: str = MUNJA_SECRET,
    timestamp: int | None = None,
    signed_body: bytes | None = None,
) -> Any:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return client.post(
        f"/api/v1/channels/sms/{gateway}",
        content=body,
        headers={
            "content-type": "application/json",
            "X-Eungdapso-Timestamp": stamp,
            "X-Eungdapso-Signature": eungdapso_signature(secret, stamp, signed_body or body),
        },
    )


def test_a_gateway_json_sms_becomes_a_complaint(client: TestClient, database: PostgresTarget) -> None:
    response = post_signed(client, sms_json())
    assert response.status_code == 200, response.text
    receipt = response.json()
    assert set(receipt) == {"complaint_id", "receipt_no", "follow_url"}
    # The citizen's private follow link is never handed to the gateway (it reaches the citizen
    # in the notifier's receipt notice).
    assert receipt["follow_url"] is None
    assert response.headers.get("idempotent-replayed") is None
    [complaint] = published(client)
    assert (
        complaint.receipt_no == receipt["receipt_no"]
        and str(complaint.complaint_id) == receipt["complaint_id"]
    )
    assert complaint.channel is Channel.SMS and complaint.channel_ref == "munja:20261120-000123"
    assert complaint.citizen is not None and complaint.citizen.phone == "010-1234-5678"
    assert complaint.reply_to is not None and complaint.reply_to.address == "010-1234-5678"
    assert stored_events(database) == 1


def test_a_gateway_redelivering_a_message_gets_its_receipt_and_a_replayed_signature_is_refused(
    client: TestClient, database: PostgresTarget
) -> None:
    stamp = int(time.time())
    first = post_signed(client, sms_json(), timestamp=stamp)
    # The gateway's retry, signed anew: the same complaint, answered 200 so that it stops.
    again = post_signed(client, sms_json(), timestamp=stamp + 1)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    # The very same signed request captured and sent again: refused.
    replayed = post_signed(client, sms_json(), timestamp=stamp)
    assert replayed.status_code == 403 and replayed.json()["type"].endswith("replayed-signature")
    assert stored_events(database) == 1


@pytest.mark.parametrize(
    "forged",
    [
        {"secret": "another-secret"},
        {"signed_body": sms_json(text="다른 내용")},
        {"timestamp": int(time.time()) - 301},
        {"timestamp": int(time.time()) + 3600},
    ],
    ids=["wrong-secret", "tampered-body", "stale", "future"],
)
def test_a_gateway_request_with_a_bad_signature_is_refused_and_records_nothing(
    client: TestClient, database: PostgresTarget, forged: dict[str, Any]
) -> None:
    assert_problem(post_signed(client, sms_json(), **forged), 403)
    unsigned = client.post(
        "/api/v1/channels/sms/munja", content=sms_json(), headers={"content-type": "application/json"}
    )
    assert unsigned.status_code == 403 and unsigned.json()["type"].endswith("bad-signature")
    assert stored_events(database) == 0


def test_an_unknown_gateway_is_refused(client: TestClient, database: PostgresTarget) -> None:
    response = post_signed(client, sms_json(), gateway="lguplus")
    assert response.status_code == 404 and response.json()["type"].endswith("unknown-gateway")
    assert post_signed(client, sms_json(), gateway="Bad Name").status_code == 422
    assert stored_events(database) == 0


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b'{"message_id": ', 400, None),
        (sms_json(**{"from": "call me"}), 422, "from"),
        (
            json.dumps({"message_id": "x", "to": "120", "received_at": "2026-11-20T09:05:00+09:00"}).encode(),
            422,
            "from",
        ),
        (sms_json(received_at="yesterday"), 422, "received_at"),
        (sms_json(received_at="2026-11-20T09:05:00"), 422, "received_at"),  # no zone
        (sms_json(message_id="with space"), 422, "message_id"),
        (sms_json(text=""), 422, None),
        (sms_json(text="가" * 4001), 422, "text"),
        (sms_json(media=[{"url": "not a url"}]), 422, "media.0.url"),
        (sms_json(media=[{"url": "https://gw.example.kr/m"}] * 11), 422, "media"),
        (sms_json(surprise=1), 422, "surprise"),
    ],
    ids=[
        "malformed",
        "bad-from",
        "no-from",
        "bad-time",
        "naive-time",
        "bad-id",
        "empty",
        "too-long",
        "bad-media",
        "too-many-media",
        "unknown-field",
    ],
)
def test_a_bad_gateway_message_gets_a_problem_and_records_nothing(
    client: TestClient, database: PostgresTarget, body: bytes, status: int, field: str | None
) -> None:
    assert_problem(post_signed(client, body), status, field)
    assert stored_events(database) == 0


def test_the_json_format_is_documented_in_openapi(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/api/v1/channels/sms/{gateway}"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) >= {"message_id", "from", "to", "received_at"}
    assert schema["properties"]["media"]["items"]["properties"]["url"]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert headers == {"X-Eungdapso-Timestamp", "X-Eungdapso-Signature"}


async def test_an_sms_reaches_the_intake_events_topic_as_complaint_received_v2(
    database: PostgresTarget, broker: str
) -> None:
    settings = channel_settings(database, kafka_bootstrap_servers=broker, relay_poll_interval_s=0.1)
    with TestClient(bootstrap(settings)) as client:
        answer = post_signed(client, sms_json("kt-77"))
        assert answer.status_code == 200
        records = await read_topic(broker, INTAKE_EVENTS.name, at_least=1)
    [record] = records
    envelope = decode(record.headers, record.key, record.value)
    event = envelope.data
    assert isinstance(event, ComplaintReceivedV2)
    assert event.receipt_no == answer.json()["receipt_no"] and event.channel is Channel.SMS
    assert event.channel_ref == "munja:kt-77"
    assert event.reply_to is not None and event.reply_to.medium is ReplyMedium.SMS and event.reply_to.consent
    assert event.citizen is not None and event.citizen.phone == "010-1234-5678"
