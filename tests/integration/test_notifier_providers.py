"""The notifier's delivery adapters against real servers on loopback: an SMTP server
(aiosmtpd) and HTTP APIs that check each request (an SMS gateway, X, Facebook), including
their outages (503, timeouts, 429) and refusals (4xx)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from eungdapso_devstack.infra import free_port
from eungdapso_notifier.providers import MessageRefused, OutgoingMessage, ProviderUnavailable
from eungdapso_notifier.providers.settings import ProviderSettings
from eungdapso_notifier.providers.sms import SmsGateway
from eungdapso_notifier.providers.smtp import SmtpMail
from eungdapso_notifier.providers.sns import FacebookReplies, XReplies
from eungdapso_notifier.providers.text import LMS_MAX_BYTES, X_MAX_WEIGHT, sms_bytes, x_weight
from tests.support.provider_api import Answer, ProviderApi, provider_api

pytestmark = pytest.mark.integration

RECEIVED = "민원이 접수되었습니다. 접수번호 2026-0000001. 처리 상황은 응답소 누리집에서 확인하세요."


def notice(medium: Any, to: str, text: str = RECEIVED, **kw: Any) -> OutgoingMessage:
    return OutgoingMessage(
        notice_id="n-2026-0000001-received", medium=medium, to=to, language="ko", text=text, **kw
    )


# -- SMTP ----------------------------------------------------------------------------------
class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        #: An SMTP reply to give to RCPT instead of accepting it (e.g. "550 ...").
        self.refuse_rcpt: str | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


async def test_email_goes_out_as_multipart_text_and_html(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    mail = SmtpMail(ProviderSettings(smtp_port=port))
    delivered = await mail.send(
        notice("email", "citizen@example.kr", subject="민원 접수 안내", html=f"<p>{RECEIVED}</p>")
    )
    assert delivered.provider == "smtp" and delivered.form == "multipart"
    [(sender, recipients, message)] = mailbox.messages
    assert recipients == ["citizen@example.kr"]
    assert sender == "noreply@eungdapso.seoul.go.kr"
    assert message["Subject"] == "민원 접수 안내"
    assert (
        message["Message-ID"]
        == delivered.provider_message_id
        == "<n-2026-0000001-received@eungdapso.seoul.go.kr>"
    )
    assert message.get_content_type() == "multipart/alternative"
    plain, html = (part for part in message.iter_parts())
    assert plain.get_content_type() == "text/plain" and RECEIVED in plain.get_content()
    assert html.get_content_type() == "text/html" and f"<p>{RECEIVED}</p>" in html.get_content()


async def test_email_without_html_is_plain_text_with_a_subject_in_the_readers_language(
    smtp_server: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp_server
    message = OutgoingMessage(
        notice_id="n-1", medium="email", to="reader@example.com", language="en", text="Hi"
    )
    assert (await SmtpMail(ProviderSettings(smtp_port=port)).send(message)).form == "text"
    [(_, _, received)] = mailbox.messages
    assert received.get_content_type() == "text/plain"
    assert received["Subject"] == "Seoul Eung-Dap-So notice"


async def test_a_recipient_refused_for_good_is_refused_and_a_temporary_refusal_is_unavailable(
    smtp_server: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp_server
    mail = SmtpMail(ProviderSettings(smtp_port=port))
    mailbox.refuse_rcpt = "550 5.1.1 No such user"
    with pytest.raises(MessageRefused, match="550"):
        await mail.send(notice("email", "nobody@example.kr"))
    mailbox.refuse_rcpt = "451 4.7.1 Try again later"
    with pytest.raises(ProviderUnavailable, match="451"):
        await mail.send(notice("email", "busy@example.kr"))
    assert mailbox.messages == []


async def test_an_smtp_server_that_is_down_is_unavailable_and_a_bad_address_refused() -> None:
    mail = SmtpMail(ProviderSettings(smtp_port=free_port(), provider_timeout_s=2))
    with pytest.raises(ProviderUnavailable):
        await mail.send(notice("email", "citizen@example.kr"))
    with pytest.raises(MessageRefused, match="not an e-mail address"):
        await mail.send(notice("email", "010-1234-5678"))


def accept_only(username: str, password: str) -> Any:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            username.encode(),
            password.encode(),
        )
        return AuthResult(success=ok)

    return authenticator


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_the_smtp_adapter_logs_in_when_the_server_demands_it() -> None:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=accept_only("eungdapso", "s3cret"),
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        # Credentials missing are the account's problem, not the message's: retry later.
        anonymous = SmtpMail(ProviderSettings(smtp_port=port, provider_timeout_s=3))
        with pytest.raises(ProviderUnavailable, match="530"):
            await anonymous.send(notice("email", "citizen@example.kr"))
        mail = SmtpMail(ProviderSettings(smtp_port=port, smtp_username="eungdapso", smtp_password="s3cret"))
        await mail.send(notice("email", "citizen@example.kr"))
    finally:
        controller.stop()
    assert [rcpt for _, rcpt, _ in mailbox.messages] == [["citizen@example.kr"]]


# -- The SMS gateway -----------------------------------------------------------------------
@pytest.fixture
def api() -> Iterator[ProviderApi]:
    with provider_api() as running:
        yield running


def sms_gateway(api: ProviderApi, timeout_s: float = 5.0) -> SmsGateway:
    return SmsGateway(
        ProviderSettings(
            sms_gateway_url=api.base_url,
            sms_api_key=SecretStr("gateway-key"),
            sms_sender="02120",
            provider_timeout_s=timeout_s,
        )
    )


async def test_a_short_text_is_an_sms_and_a_longer_one_an_lms_with_a_subject(api: ProviderApi) -> None:
    api.default = lambda seen: Answer(202, {"message_id": f"g-{len(api.seen)}"})
    gateway = sms_gateway(api)
    short = await gateway.send(notice("sms", "+82 10-1234-5678", text="응답소: 민원 2026-0000001 접수"))
    assert short.form == "sms" and short.provider_message_id == "g-1"
    long = await gateway.send(
        notice("sms", "010-1234-5678", subject="민원 처리 결과", text="답변: " + "가" * 1200)
    )
    assert long.form == "lms"
    first, second = api.seen
    assert first.path == "/messages"
    assert first.headers["authorization"] == "Bearer gateway-key"
    assert first.headers["idempotency-key"] == "n-2026-0000001-received"
    assert first.body == {
        "type": "SMS",
        "from": "02120",
        "to": "01012345678",
        "text": "응답소: 민원 2026-0000001 접수",
        "reference": "n-2026-0000001-received",
    }
    assert second.body["type"] == "LMS" and second.body["subject"] == "민원 처리 결과"
    assert sms_bytes(second.body["text"]) <= LMS_MAX_BYTES and second.body["text"].endswith("…")


async def test_a_text_with_a_picture_is_an_mms(api: ProviderApi) -> None:
    delivered = await sms_gateway(api).send(
        notice("sms", "01012345678", media=("https://cdn.example/p.jpg",))
    )
    assert delivered.form == "mms"
    assert api.seen[0].body["type"] == "MMS" and api.seen[0].body["media"] == ["https://cdn.example/p.jpg"]


async def test_the_gateway_down_or_throttling_is_unavailable_and_a_refusal_is_refused(
    api: ProviderApi,
) -> None:
    gateway = sms_gateway(api)
    api.script = [
        Answer(503, {"code": "maintenance"}),
        Answer(429, {"code": "rate_limited"}, headers={"Retry-After": "7"}),
        Answer(400, {"code": "invalid_recipient", "message": "01012345678 is not reachable"}),
    ]
    with pytest.raises(ProviderUnavailable, match="HTTP 503"):
        await gateway.send(notice("sms", "01012345678"))
    with pytest.raises(ProviderUnavailable) as throttled:
        await gateway.send(notice("sms", "01012345678"))
    assert throttled.value.retry_after_s == 7
    with pytest.raises(MessageRefused) as refused:
        await gateway.send(notice("sms", "01012345678"))
    # The provider's error code, never its free text (which echoes the number).
    assert refused.value.reason == "HTTP 400 (invalid_recipient)"
    assert "01012345678" not in str(refused.value)


async def test_a_hanging_gateway_times_out_as_unavailable_and_409_means_already_accepted(
    api: ProviderApi,
) -> None:
    gateway = sms_gateway(api, timeout_s=0.3)
    api.script = [Answer(202, {"message_id": "late"}, delay_s=1.0), Answer(409, {"code": "duplicate"})]
    with pytest.raises(ProviderUnavailable, match="timed out"):
        await gateway.send(notice("sms", "01012345678"))
    again = await gateway.send(notice("sms", "01012345678"))
    assert again.provider == "sms-http"
    assert [s.headers["idempotency-key"] for s in api.seen] == ["n-2026-0000001-received"] * 2


async def test_a_number_that_is_not_korean_is_refused_without_calling_the_gateway(api: ProviderApi) -> None:
    with pytest.raises(MessageRefused, match="not a Korean phone number"):
        await sms_gateway(api).send(notice("sms", "citizen@example.kr"))
    assert api.seen == []


# -- X -------------------------------------------------------------------------------------
def x_replies(api: ProviderApi) -> XReplies:
    return XReplies(
        ProviderSettings(
            x_api_url=api.base_url, x_account_tokens={"transport.x": SecretStr("token-transport")}
        )
    )


async def test_a_tweet_is_answered_by_a_reply_from_the_account_it_reached(api: ProviderApi) -> None:
    api.default = lambda seen: Answer(201, {"data": {"id": "1900000000000000001", "text": "..."}})
    text = "버스정류장 민원에 대한 답변입니다. " + "가" * 200
    delivered = await x_replies(api).send(
        notice("x", "44196397", text=text, account="transport.x", thread="tweet:1899")
    )
    assert delivered.provider_message_id == "1900000000000000001" and delivered.form == "reply"
    [seen] = api.seen
    assert seen.path == "/2/tweets"
    assert seen.headers["authorization"] == "Bearer token-transport"
    assert seen.body["reply"] == {"in_reply_to_tweet_id": "1899"}
    assert x_weight(seen.body["text"]) <= X_MAX_WEIGHT and seen.body["text"].endswith("…")


async def test_a_direct_message_is_answered_in_the_conversation_with_the_citizen(api: ProviderApi) -> None:
    api.default = lambda seen: Answer(201, {"data": {"dm_event_id": "dm-9", "dm_conversation_id": "c"}})
    delivered = await x_replies(api).send(notice("x", "44196397", account="transport.x", thread="dm:1711"))
    assert delivered.form == "dm" and delivered.provider_message_id == "dm-9"
    assert api.seen[0].path == "/2/dm_conversations/with/44196397/messages"
    assert api.seen[0].body == {"text": RECEIVED}


async def test_x_outages_throttling_and_refusals(api: ProviderApi) -> None:
    replies = x_replies(api)
    message = notice("x", "44196397", account="transport.x", thread="1899")
    api.script = [
        Answer(503),
        Answer(429, {"title": "Too Many Requests"}, headers={"x-rate-limit-reset": "99999999999"}),
        Answer(403, {"title": "Forbidden", "detail": "You cannot reply to this conversation"}),
    ]
    with pytest.raises(ProviderUnavailable):
        await replies.send(message)
    with pytest.raises(ProviderUnavailable) as throttled:
        await replies.send(message)
    assert throttled.value.retry_after_s is not None and throttled.value.retry_after_s > 0
    with pytest.raises(MessageRefused, match="HTTP 403"):
        await replies.send(message)
    # An account without a token cannot answer: refused before any request.
    with pytest.raises(MessageRefused, match="no access token"):
        await replies.send(notice("x", "44196397", account="mayor.x", thread="1899"))
    assert len(api.seen) == 3


# -- Facebook ------------------------------------------------------------------------------
def facebook(api: ProviderApi) -> FacebookReplies:
    return FacebookReplies(
        ProviderSettings(
            facebook_api_url=api.base_url, facebook_page_tokens={"mayor.facebook": SecretStr("page-token")}
        )
    )


async def test_a_messenger_message_is_answered_by_the_send_api_and_a_comment_by_a_comment(
    api: ProviderApi,
) -> None:
    api.default = lambda seen: Answer(
        200, {"recipient_id": "x", "message_id": "m_out"} if "messages" in seen.path else {"id": "c_out"}
    )
    replies = facebook(api)
    by_message = await replies.send(
        notice("facebook", "6000001", account="mayor.facebook", thread="msg:m_abc")
    )
    by_comment = await replies.send(
        notice("facebook", "6000001", account="mayor.facebook", thread="comment:10_20")
    )
    assert (by_message.form, by_message.provider_message_id) == ("message", "m_out")
    assert (by_comment.form, by_comment.provider_message_id) == ("comment", "c_out")
    message, comment = api.seen
    assert message.path == "/me/messages" and message.headers["authorization"] == "Bearer page-token"
    assert message.body == {
        "recipient": {"id": "6000001"},
        "messaging_type": "RESPONSE",
        "message": {"text": RECEIVED},
    }
    assert comment.path == "/10_20/comments" and comment.body == {"message": RECEIVED}


async def test_a_messenger_reply_is_cut_to_2000_characters(api: ProviderApi) -> None:
    await facebook(api).send(
        notice("facebook", "6000001", text="답" * 2500, account="mayor.facebook", thread="m_x")
    )
    sent = api.seen[0].body["message"]["text"]
    assert len(sent) == 2000 and sent.endswith("…")


async def test_facebook_transient_errors_are_unavailable_and_others_refused(api: ProviderApi) -> None:
    replies = facebook(api)
    message = notice("facebook", "6000001", account="mayor.facebook", thread="msg:m_abc")
    api.script = [
        Answer(
            400, {"error": {"message": "Application request limit reached", "code": 4, "is_transient": True}}
        ),
        Answer(503),
        Answer(
            400,
            {"error": {"message": "(#100) No matching user found", "code": 100, "error_subcode": 2018001}},
        ),
    ]
    with pytest.raises(ProviderUnavailable, match="HTTP 400"):
        await replies.send(message)
    with pytest.raises(ProviderUnavailable, match="HTTP 503"):
        await replies.send(message)
    with pytest.raises(MessageRefused) as refused:
        await replies.send(message)
    assert refused.value.reason == "HTTP 400 (100/2018001)"
