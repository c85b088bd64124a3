"""SMS/MMS channel (문자 민원: a text or photo to 120): the inbound webhooks of SMS gateways.

Two wire formats (README, "Channels"):
- Twilio's (`POST /api/v1/channels/sms/twilio`): form-encoded, `X-Twilio-Signature` over the
  public URL and the sorted parameters with the auth token; answered with TwiML, a short SMS
  giving the receipt number.
- ours, for every other gateway (`POST /api/v1/channels/sms/{gateway}`): JSON (`SmsMessage`),
  `X-Eungdapso-Timestamp` and `X-Eungdapso-Signature: sha256=<hex HMAC of "timestamp.body">`
  with the gateway's shared secret; answered with the receipt.

Every message is one complaint per gateway message id: a gateway that delivers it again
gets the same receipt (200), and nothing new is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from eungdapso_intake.api import ReceiptOut, get_intake
from eungdapso_intake.channels.delivery import (
    MAX_TEXT,
    ChannelMessage,
    command_of,
    complaint_text,
    parse_json,
    parse_model,
    record,
    redeliver_later,
    refusals,
    request_body,
)
from eungdapso_intake.channels.signatures import (
    ReplayWindow,
    bad_signature,
    eungdapso_signature,
    matches,
    twilio_algorithm,
    twilio_signature_matches,
)
from eungdapso_intake.services import ComplaintIntake, Idempotency, SubmissionFailed
from eungdapso_platform.logging import get_logger
from eungdapso_platform.problems import Problem
from eungdapso_schemas.codes import Channel, Kind, ReplyMedium
from eungdapso_schemas.events import MAX_ATTACHMENTS, Citizen, MediaType, ReplyAddress

log = get_logger("eungdapso.intake.sms")
router = APIRouter(prefix="/api/v1/channels/sms", tags=["channels"])

TWILIO = "twilio"
GATEWAY_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,39}$"
#: A gateway's own message id (it becomes the complaint's `channel_ref`, `<gateway>:<id>`).
MessageId = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,100}$")]

_REFUSALS = refusals(
    "Bad, stale or replayed signature", "No gateway of that name is connected", "Invalid or empty message"
)


@dataclass(frozen=True)
class SmsGateways:
    """The connected gateways, their secrets, and what checks their signatures."""

    secrets: Mapping[str, SecretStr]
    replay: ReplayWindow
    twilio_account_sid: str | None = None
    #: The base URL providers call (`public_base_url`), without a trailing slash.
    public_base_url: str | None = None

    def secret(self, gateway: str) -> str:
        found = self.secrets.get(gateway)
        if found is None:
            raise Problem(
                404,
                "Unknown SMS gateway",
                "No SMS gateway of that name is connected.",
                type_="unknown-gateway",
            )
        return found.get_secret_value()

    def url_called(self, request: Request) -> str:
        """The URL the provider called, as it signed it: the public base URL (intake sits
        behind the gateway) with the path and query exactly as sent."""
        path = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
        query = request.scope.get("query_string", b"").decode("latin-1")
        base = self.public_base_url or f"{request.url.scheme}://{request.url.netloc}"
        return base + path + (f"?{query}" if query else "")


def gateways_of(request: Request) -> SmsGateways:
    gateways: SmsGateways = request.app.state.sms
    return gateways


def _a_phone(value: str) -> str:
    """A number intake can keep and answer by SMS (the `Citizen.phone` rule)."""
    try:
        Citizen(phone=value)
    except ValidationError:
        raise ValueError("must be a phone number: digits, a leading + and dashes or spaces") from None
    return value


def citizen_message(
    gateway: str,
    message_id: str,
    sender: str,
    words: str | None,
    media: tuple[str, ...],
    media_auth: tuple[str, str] | None = None,
) -> ChannelMessage:
    """The complaint an SMS/MMS makes: the sender's number is the citizen's, who wrote to be
    answered there (consent)."""
    text = complaint_text(words, media=len(media))
    if text is None:
        raise Problem(
            422,
            "Empty message",
            "The message has neither text nor media: nothing to record.",
            type_="empty-message",
        )
    command = command_of(
        channel=Channel.SMS,
        kind=Kind.COMPLAINT,
        text=text,
        citizen=Citizen(phone=sender),
        channel_ref=f"{gateway}:{message_id}",
        reply_to=ReplyAddress(medium=ReplyMedium.SMS, address=sender, consent=True),
    )
    idempotency = Idempotency.channel_message(Channel.SMS, gateway, message_id)
    return ChannelMessage(command, idempotency, f"sms:{gateway}", media, media_auth)


# --- Twilio -------------------------------------------------------------------------------


class TwilioMessage(BaseModel):
    """The parameters of Twilio's inbound message webhook this channel reads (Twilio sends
    more: `FromCity`, `NumSegments`, `SmsStatus`, ...). Media come as `MediaUrl0..N-1` and
    `MediaContentType0..N-1`, N = `NumMedia`."""

    model_config = ConfigDict(extra="allow", frozen=True)

    MessageSid: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}[0-9a-fA-F]{32}$")]
    AccountSid: Annotated[str, StringConstraints(pattern=r"^AC[0-9a-fA-F]{32}$")]
    From: str
    To: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    Body: Annotated[str, StringConstraints(max_length=MAX_TEXT)] = ""
    NumMedia: Annotated[int, Field(ge=0, le=MAX_ATTACHMENTS)] = 0

    _phone = field_validator("From")(_a_phone)

    @model_validator(mode="after")
    def _media_given(self) -> TwilioMessage:
        self.media_urls()
        return self

    def media_urls(self) -> tuple[str, ...]:
        extra = self.model_extra or {}
        urls = []
        for n in range(self.NumMedia):
            url = extra.get(f"MediaUrl{n}")
            # Twilio's are https; which hosts may be fetched is the attachments' guard.
            if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 2000:
                raise ValueError(f"MediaUrl{n} must be the URL of medium {n} (NumMedia={self.NumMedia})")
            urls.append(url)
        return tuple(urls)


def twiml(message: str | None = None) -> Response:
    said = f"<Message>{escape(message)}</Message>" if message else ""
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{said}</Response>', media_type="text/xml"
    )


def receipt_sms(receipt_no: str) -> str:
    return f"[응답소] 민원이 접수되었습니다. 접수번호 {receipt_no}"


@router.post(
    f"/{TWILIO}",
    summary="An SMS/MMS from Twilio (its inbound message webhook)",
    response_class=Response,
    responses={200: {"content": {"text/xml": {}}, "description": "TwiML: the receipt, by SMS"}, **_REFUSALS},
    openapi_extra=request_body(TwilioMessage, "application/x-www-form-urlencoded"),
)
async def twilio_message(
    request: Request,
    intake: Annotated[ComplaintIntake, Depends(get_intake)],
    gateways: Annotated[SmsGateways, Depends(gateways_of)],
    signature: Annotated[str | None, Header(alias="X-Twilio-Signature")] = None,
    signature_settings: Annotated[str | None, Header(alias="X-Twilio-Webhooks-Signature-Settings")] = None,
) -> Response:
    auth_token = gateways.secret(TWILIO)
    body = await request.body()
    try:
        params = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise Problem(
            400, "Malformed form", "The body is not a UTF-8 form.", type_="malformed-form"
        ) from None
    algorithm = twilio_algorithm(signature_settings)
    url = gateways.url_called(request)
    if algorithm is None or not twilio_signature_matches(auth_token, url, params, signature, algorithm):
        raise bad_signature(
            "X-Twilio-Signature does not match this request: check the auth token and the public URL."
        )
    sms = parse_model(TwilioMessage, dict(params))
    if gateways.twilio_account_sid is not None and sms.AccountSid != gateways.twilio_account_sid:
        raise Problem(
            403, "Unknown account", "The message is for another Twilio account.", type_="unknown-account"
        )
    # Twilio serves media to the account's own credentials.
    media_auth = (sms.AccountSid, auth_token)
    message = citizen_message(TWILIO, sms.MessageSid, sms.From, sms.Body, sms.media_urls(), media_auth)
    try:
        result = await record(request, message)
    except SubmissionFailed as exc:
        return redeliver_later(request, exc)
    log.info("sms_received", gateway=TWILIO, complaint_id=str(result.complaint_id), replayed=result.replayed)
    return twiml(receipt_sms(result.receipt_no))


# --- Our JSON format ----------------------------------------------------------------------


class SmsMedia(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: HttpUrl = Field(description="Where intake fetches it (the gateway's own, possibly signed, URL).")
    content_type: MediaType | None = Field(
        default=None, description="As the gateway declares it; intake decides the type from the content."
    )


class SmsMessage(BaseModel):
    """An SMS or MMS a citizen sent, as a gateway delivers it to
    `POST /api/v1/channels/sms/{gateway}`."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        json_schema_extra={
            "example": {
                "message_id": "20261120-000123",
                "from": "010-1234-5678",
                "to": "120",
                "text": "만리재로 193 앞 육교 계단에 구멍이 났어요",
                "received_at": "2026-11-20T09:05:00+09:00",
                "media": [{"url": "https://gw.example.kr/media/abc.jpg", "content_type": "image/jpeg"}],
            }
        },
    )

    message_id: MessageId = Field(
        description="The gateway's id of the message: the same id delivered again is the same complaint."
    )
    sender: str = Field(
        alias="from",
        description="The citizen's number (`010-1234-5678`, `+821012345678`): answered there by SMS.",
    )
    to: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(
        description="The number the citizen wrote to (`120`, `#120`)."
    )
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT)] = Field(
        default="", description="What the citizen wrote; may be empty when media came."
    )
    received_at: AwareDatetime = Field(description="When the gateway received the message.")
    media: Annotated[tuple[SmsMedia, ...], Field(max_length=MAX_ATTACHMENTS)] = Field(
        default=(), description="MMS photos and other media, fetched by intake (at most 10)."
    )

    _phone = field_validator("sender")(_a_phone)


@router.post(
    "/{gateway}",
    summary="An SMS/MMS from a gateway (our signed JSON format)",
    response_model=ReceiptOut,
    responses={
        200: {"description": "Recorded, or already recorded (header `Idempotent-Replayed: true`)"},
        **_REFUSALS,
    },
    openapi_extra=request_body(SmsMessage),
)
async def gateway_message(
    gateway: Annotated[str, Path(pattern=GATEWAY_PATTERN)],
    request: Request,
    response: Response,
    intake: Annotated[ComplaintIntake, Depends(get_intake)],
    gateways: Annotated[SmsGateways, Depends(gateways_of)],
    timestamp: Annotated[str | None, Header(alias="X-Eungdapso-Timestamp")] = None,
    signature: Annotated[str | None, Header(alias="X-Eungdapso-Signature")] = None,
) -> ReceiptOut | Response:
    secret = gateways.secret(gateway)
    body = await request.body()
    if timestamp is None or not matches(eungdapso_signature(secret, timestamp, body), signature):
        raise bad_signature(
            "X-Eungdapso-Signature must be sha256=<hex HMAC-SHA256 of 'timestamp.body'> with the "
            "gateway's secret, X-Eungdapso-Timestamp the timestamp signed."
        )
    assert signature is not None
    gateways.replay.check_fresh(timestamp)
    deadline = time.monotonic() + intake.deadline_s
    await gateways.replay.refuse_replay(gateway, signature, deadline=deadline)
    sms = parse_json(SmsMessage, body)
    message = citizen_message(
        gateway, sms.message_id, sms.sender, sms.text, tuple(str(m.url) for m in sms.media)
    )
    try:
        result = await record(request, message)
    except SubmissionFailed as exc:
        return redeliver_later(request, exc)
    try:
        await gateways.replay.remember(gateway, signature, deadline=time.monotonic() + intake.deadline_s)
    except Exception as exc:
        # Recorded: a replay that slips through finds the message id and records nothing.
        log.warning("signature_not_remembered", gateway=gateway, error=type(exc).__name__)
    log.info("sms_received", gateway=gateway, complaint_id=str(result.complaint_id), replayed=result.replayed)
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return ReceiptOut(complaint_id=result.complaint_id, receipt_no=result.receipt_no)
