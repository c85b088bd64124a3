"""Text messages through an SMS gateway's HTTP API (`SMS_PROVIDER=sms-http`).

The gateway (any Korean bulk-messaging service behind a small adapter, or one that speaks
this directly) takes

    POST <SMS_GATEWAY_URL>messages
    Authorization: Bearer <SMS_API_KEY>
    Idempotency-Key: <notice id>
    {"type": "SMS"|"LMS"|"MMS", "from": "<sender>", "to": "01012345678",
     "subject": "..." (LMS/MMS), "text": "...", "media": ["https://..."] (MMS),
     "reference": "<notice id>"}

and answers 2xx `{"message_id": "..."}`; 409 means the idempotency key was used already
(the earlier attempt went through, e.g. before a timeout): that counts as delivered. The
form is chosen here by the carriers' byte rules (text.py): the gateway gets a text that
fits its form, never one it would cut itself.
"""

from __future__ import annotations

import re

import httpx

from eungdapso_notifier.providers import Delivered, MessageRefused, OutgoingMessage
from eungdapso_notifier.providers.settings import ProviderSettings
from eungdapso_notifier.providers.text import plan_sms
from eungdapso_notifier.providers.web import client, json_field, log, post, refused_or_unavailable

_KOREAN_NUMBER = re.compile(r"^0[0-9]{8,10}$")


def domestic_number(phone: str) -> str | None:
    """`010-1234-5678`, `+82 10 1234 5678`, `01012345678` → `01012345678`; None if it is not
    a Korean number."""
    digits = re.sub(r"[\s\-().]", "", phone)
    if digits.startswith("+82"):
        digits = "0" + digits[3:].lstrip("0")
    elif digits.startswith("0082"):
        digits = "0" + digits[4:].lstrip("0")
    return digits if _KOREAN_NUMBER.match(digits) else None


class SmsGateway:
    name = "sms-http"

    def __init__(self, settings: ProviderSettings, http: httpx.AsyncClient | None = None) -> None:
        self.sender = settings.sms_sender
        self.api_key = settings.sms_api_key
        self.http = http or client(str(settings.sms_gateway_url), settings.provider_timeout_s)

    async def send(self, message: OutgoingMessage) -> Delivered:
        number = domestic_number(message.to)
        if number is None:
            raise MessageRefused(self.name, "not a Korean phone number")
        plan = plan_sms(message.text, subject=message.subject, media=len(message.media))
        request: dict[str, object] = {
            "type": plan.form.upper(),
            "from": self.sender,
            "to": number,
            "text": plan.text,
            "reference": message.notice_id,
        }
        if plan.subject:
            request["subject"] = plan.subject
        if message.media:
            request["media"] = list(message.media)
        response = await post(
            self.http,
            self.name,
            "messages",
            json=request,
            headers=self._headers(message.notice_id),
            notice_id=message.notice_id,
        )
        if response.status_code == 409:
            log.info("sms_already_accepted", notice_id=message.notice_id)
        elif not response.is_success:
            raise refused_or_unavailable(self.name, response)
        log.info("sms_sent", notice_id=message.notice_id, form=plan.form, shortened=plan.shortened)
        return Delivered(self.name, json_field(response, "message_id"), plan.form)

    def _headers(self, notice_id: str) -> dict[str, str]:
        headers = {"Idempotency-Key": notice_id}
        if key := self.api_key.get_secret_value():
            headers["Authorization"] = f"Bearer {key}"
        return headers

    async def close(self) -> None:
        await self.http.aclose()
