"""Delivery providers: one adapter per medium (SMTP, an SMS gateway, the X and Facebook reply
APIs, the citizen page, the letter queue), all behind `Provider`. The notifier's core decides
what to send to whom and when; a provider only delivers one message, or says why not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

#: Where a notice goes: the citizen's own channel (DOMAIN.md) or the office's.
Medium = Literal["sms", "email", "x", "facebook", "web", "letter", "callback"]


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to one recipient, ready to send. `notice_id` is stable for a complaint,
    stage and medium: providers that accept an idempotency key are given it, so a retry
    after a timeout never sends twice."""

    notice_id: str
    medium: Medium
    #: Phone number, e-mail address, SNS user id, postal address (personal: never logged).
    to: str
    language: str
    text: str
    subject: str | None = None
    html: str | None = None
    #: SNS: the city's account the citizen wrote to, and the post/DM/conversation to answer in.
    account: str | None = None
    thread: str | None = None
    #: Links to pictures sent with the message (an SMS with media is an MMS).
    media: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delivered:
    """What the provider accepted: its own id of the message, and the form it took
    (e.g. `sms`, `lms` or `mms` for a text message)."""

    provider: str
    provider_message_id: str | None = None
    form: str | None = None


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered with a transient error: retry later
    (not before `retry_after_s` when the provider said how long to wait, e.g. a 429)."""

    def __init__(self, provider: str, reason: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason
        self.retry_after_s = retry_after_s


class MessageRefused(Exception):
    """The provider refused this message for good (bad address, too long, blocked): do not
    retry it on this medium; fall back to the next one."""

    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason


class Provider(Protocol):
    #: The provider's name in `NoticeSent`/`NoticeFailed` (e.g. `smtp`, `sms-http`, `x`, `file`).
    name: str

    async def send(self, message: OutgoingMessage) -> Delivered:
        """Deliver one message. Raises `ProviderUnavailable` (transient) or `MessageRefused`."""
        ...
