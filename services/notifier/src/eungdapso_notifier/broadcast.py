"""Emergency broadcasts (긴급 알림): an alert an administrator posts to every connected SNS
account of the city and, where asked, by SMS to the citizens of the districts concerned who
opted in.

A broadcast is an aggregate in its own event store (`broadcasts_*` tables of the notifier's
schema): `Posted` fixes its targets once (the accounts, and the opted-in subscribers of
that moment, by opaque reference), and each target then gets one `Delivered` or one
`DeliveryFailed`, never two. The outbox publishes them on `eungdapso.notifier.events`.
Delivering is broadcast_delivery.py's; the admin API and its keys broadcast_api.py's.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal, Protocol
from uuid import UUID

from eventsourcing.domain import event
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from eungdapso_platform.domain import DomainError, EventSourcedApplication, RecordedAggregate
from eungdapso_platform.outbox import Outbox
from eungdapso_schemas.codes import District
from eungdapso_schemas.events import (
    BroadcastDeliveredV1,
    BroadcastDeliveryFailedV1,
    BroadcastPostedV1,
    ShortText,
)

SOURCE = "/eungdapso/notifier"
AccountCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.\-]{1,60}$")]


# -- The city's accounts ---------------------------------------------------------------------
class CityAccount(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: As intake's SNS accounts file names it (`reply_to.account`): the same account.
    code: AccountCode
    platform: Literal["x", "facebook"]
    name: ShortText


class CityAccountsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    account: Annotated[list[CityAccount], Field(min_length=1)]


class CityAccounts:
    """The accounts a broadcast posts to (`broadcast_accounts.toml`, or the file at
    `BROADCAST_ACCOUNTS_FILE`); refused at start if it does not validate."""

    def __init__(self, accounts: Sequence[CityAccount]) -> None:
        codes = [a.code for a in accounts]
        if len(set(codes)) != len(codes):
            raise ValueError("two broadcast accounts have the same code")
        self.by_code = {a.code: a for a in accounts}

    @classmethod
    def load(cls, path: Path | None = None) -> CityAccounts:
        source = (
            resources.files("eungdapso_notifier").joinpath("broadcast_accounts.toml")
            if path is None
            else path
        )
        try:
            return cls(
                CityAccountsFile.model_validate(tomllib.loads(source.read_text(encoding="utf-8"))).account
            )
        except (OSError, tomllib.TOMLDecodeError, ValidationError, ValueError) as exc:
            raise ValueError(f"broadcast accounts file {source}: {exc}") from None

    def codes(self) -> tuple[str, ...]:
        return tuple(self.by_code)


# -- SMS subscribers (the notifier's preferences keep them) ---------------------------------
@dataclass(frozen=True)
class Subscriber:
    """A citizen who opted in to emergency SMS. `ref` is opaque and stable (the preference's
    id), what events name; the phone number never leaves the notifier's store."""

    ref: str
    phone: str
    language: str = "ko"


class SmsSubscribers(Protocol):
    """What broadcasts need from the notifier's citizen preferences (the core's to provide)."""

    async def opted_in(self, districts: Collection[District]) -> Sequence[Subscriber]:
        """The citizens who opted in to emergency SMS for any of `districts` (none: all)."""
        ...


class NoSubscribers:
    """Until preferences are wired: broadcasts go to the SNS accounts only."""

    async def opted_in(self, districts: Collection[District]) -> Sequence[Subscriber]:
        return ()


# -- The aggregate ---------------------------------------------------------------------------
def account_target(code: str) -> str:
    return f"account:{code}"


def sms_target(ref: str) -> str:
    return f"sms:{ref}"


class Broadcast(RecordedAggregate):
    class Posted(RecordedAggregate.Created):
        title: str
        text: str
        #: Language → text for SMS subscribers who read another language than Korean.
        translations: dict[str, str]
        districts: tuple[str, ...]
        accounts: tuple[str, ...]
        subscribers: tuple[str, ...]
        posted_at: datetime
        posted_by: str

    class Delivered(RecordedAggregate.Event):
        target: str
        provider: str
        provider_message_id: str | None
        at: datetime

    class DeliveryFailed(RecordedAggregate.Event):
        target: str
        provider: str
        reason: str
        attempts: int
        at: datetime

    @event(Posted)
    def __init__(
        self,
        id: UUID,
        title: str,
        text: str,
        translations: dict[str, str],
        districts: tuple[str, ...],
        accounts: tuple[str, ...],
        subscribers: tuple[str, ...],
        posted_at: datetime,
        posted_by: str,
    ) -> None:
        self.title, self.text, self.translations = title, text, translations
        self.districts, self.accounts, self.subscribers = (
            tuple(districts),
            tuple(accounts),
            tuple(subscribers),
        )
        self.posted_at, self.posted_by = posted_at, posted_by
        self.delivered: dict[str, str | None] = {}
        self.failed: dict[str, str] = {}

    def targets(self) -> list[str]:
        return [*(account_target(a) for a in self.accounts), *(sms_target(r) for r in self.subscribers)]

    def pending(self) -> list[str]:
        return [t for t in self.targets() if t not in self.delivered and t not in self.failed]

    def text_in(self, language: str) -> str:
        return self.translations.get(language, self.text)

    def _resolvable(self, target: str) -> None:
        if target not in self.targets():
            raise DomainError(f"{target} is not a target of this broadcast")
        if target in self.delivered or target in self.failed:
            raise DomainError(f"{target} has its outcome already")

    def deliver(self, target: str, provider: str, provider_message_id: str | None, at: datetime) -> None:
        self._resolvable(target)
        self._delivered(target, provider, provider_message_id, at)

    def fail(self, target: str, provider: str, reason: str, attempts: int, at: datetime) -> None:
        self._resolvable(target)
        self._failed(target, provider, reason, attempts, at)

    @event(Delivered)
    def _delivered(self, target: str, provider: str, provider_message_id: str | None, at: datetime) -> None:
        self.delivered[target] = provider_message_id

    @event(DeliveryFailed)
    def _failed(self, target: str, provider: str, reason: str, attempts: int, at: datetime) -> None:
        self.failed[target] = reason


class BroadcastsApplication(EventSourcedApplication):
    """The broadcasts' own event store, beside the notices' (tables `broadcasts_*`)."""

    name = "Broadcasts"


# -- What the rest of the system learns -----------------------------------------------------
def posted_v1(e: Broadcast.Posted) -> BroadcastPostedV1:
    return BroadcastPostedV1(
        broadcast_id=e.originator_id,
        title=e.title,
        text=e.text,
        districts=tuple(District(d) for d in e.districts),
        accounts=tuple(e.accounts),
        sms_recipients=len(e.subscribers),
        posted_at=e.posted_at,
        posted_by=e.posted_by,
    )


def delivered_v1(e: Broadcast.Delivered) -> BroadcastDeliveredV1:
    return BroadcastDeliveredV1(
        broadcast_id=e.originator_id,
        target=e.target,
        provider=e.provider,
        provider_message_id=e.provider_message_id,
        delivered_at=e.at,
    )


def failed_v1(e: Broadcast.DeliveryFailed) -> BroadcastDeliveryFailedV1:
    return BroadcastDeliveryFailedV1(
        broadcast_id=e.originator_id,
        target=e.target,
        provider=e.provider,
        reason=e.reason[:500],
        attempts=e.attempts,
        failed_at=e.at,
    )


OUTBOX = Outbox(SOURCE)
OUTBOX.translate(Broadcast.Posted, posted_v1)
OUTBOX.translate(Broadcast.Delivered, delivered_v1)
OUTBOX.translate(Broadcast.DeliveryFailed, failed_v1)
