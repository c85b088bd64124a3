"""Delivering emergency broadcasts: each target once, whatever restarts or outages happen.

One replica delivers at a time (`Leadership`, role `broadcast.delivery`). It reads the
broadcasts' notification log for broadcasts posted (all of it when it takes over: a
broadcast still missing an outcome is finished after a restart), and for each target
still without an outcome it sends one message and records `Delivered` or `DeliveryFailed`
at once, before the next: a target recorded is never sent again. A provider that is
unavailable is retried with backoff (its Retry-After if it gave one) up to
`BROADCAST_ATTEMPTS` times, then the target is recorded as failed with the reason; a
refusal is recorded at once.

The one window left is a crash between a provider's acceptance and the record of it: that
target is sent again after the restart. Its notice id is the same (`broadcast-<id>-<target>`),
so providers that take an idempotency key (the SMS gateway) and the file outbox send it once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from eungdapso_notifier.broadcast import (
    Broadcast,
    BroadcastsApplication,
    CityAccounts,
    SmsSubscribers,
    Subscriber,
)
from eungdapso_notifier.providers import MessageRefused, OutgoingMessage, ProviderUnavailable
from eungdapso_notifier.providers.registry import Providers
from eungdapso_platform.clock import Clock
from eungdapso_platform.db import Database
from eungdapso_platform.domain import acting_as
from eungdapso_platform.leadership import Leadership
from eungdapso_platform.logging import get_logger
from eungdapso_schemas.codes import District

log = get_logger("eungdapso.notifier.broadcast")

_POSTED_TOPIC = f"{Broadcast.Posted.__module__}:{Broadcast.Posted.__qualname__}"
_SCAN_BATCH = 500


class BroadcastSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    #: The city's accounts a broadcast posts to (default: the list shipped with the notifier).
    broadcast_accounts_file: Path | None = None
    #: Sends per target before it is recorded as failed, while the provider is unavailable.
    broadcast_attempts: int = Field(default=5, ge=1, le=50)
    broadcast_retry_base_s: float = Field(default=1.0, gt=0, le=60)
    broadcast_retry_cap_s: float = Field(default=60.0, gt=0, le=3600)
    #: Messages of one broadcast in flight at once.
    broadcast_concurrency: int = Field(default=8, ge=1, le=100)
    #: How often the delivering replica looks for broadcasts posted through another replica.
    broadcast_poll_interval_s: float = Field(default=1.0, gt=0, le=60)


@dataclass(frozen=True)
class Outcome:
    target: str
    provider: str
    delivered: bool
    provider_message_id: str | None = None
    reason: str = ""
    attempts: int = 1


def notice_id(broadcast_id: UUID, target: str) -> str:
    return f"broadcast-{broadcast_id}-{target.replace(':', '-')}"


class BroadcastDelivery:
    def __init__(
        self,
        *,
        application: BroadcastsApplication,
        providers: Providers,
        accounts: CityAccounts,
        subscribers: SmsSubscribers,
        db: Database,
        settings: BroadcastSettings,
        clock: Clock,
        connect_timeout_s: int = 2,
        on_recorded: Callable[[], None] = lambda: None,
    ) -> None:
        self.application = application
        self.providers = providers
        self.accounts = accounts
        self.subscribers = subscribers
        self.settings = settings
        self.clock = clock
        self.on_recorded = on_recorded
        self.leadership = Leadership(
            db.conninfo, scope=db.schema, role="broadcast.delivery", connect_timeout_s=connect_timeout_s
        )
        self.position = 0
        self.open: set[UUID] = set()
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="broadcast-delivery")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.leadership.release()

    def wake(self) -> None:
        """A broadcast was posted: look now (thread-safe)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wakeup.set)

    async def _run(self) -> None:
        backoff = 0.2
        while not self._stopping:
            try:
                was_leader = self.leadership.is_leader
                if not await self.leadership.hold():
                    await asyncio.sleep(self.settings.broadcast_poll_interval_s)
                    continue
                if not was_leader:  # another replica may have delivered meanwhile: read all again
                    self.position, self.open = 0, set()
                self._wakeup.clear()
                await self._scan()
                for broadcast_id in sorted(self.open):
                    await self.deliver(broadcast_id)
                backoff = 0.2
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.settings.broadcast_poll_interval_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "broadcast_delivery_stalled", error=f"{type(exc).__name__}: {exc}", retry_s=backoff
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _scan(self) -> None:
        while True:
            notifications = await asyncio.to_thread(
                self.application.recorder.select_notifications, self.position + 1, _SCAN_BATCH
            )
            for notification in notifications:
                if notification.topic == _POSTED_TOPIC:
                    self.open.add(UUID(str(notification.originator_id)))
                self.position = notification.id
            if len(notifications) < _SCAN_BATCH:
                return

    async def deliver(self, broadcast_id: UUID) -> None:
        """Send to every target of the broadcast still without an outcome, and record each."""
        broadcast: Broadcast = await asyncio.to_thread(self.application.repository.get, broadcast_id)
        pending = broadcast.pending()
        if not pending:
            self.open.discard(broadcast_id)
            return
        log.info("broadcast_delivering", broadcast_id=str(broadcast_id), pending=len(pending))
        subscribers: Mapping[str, Subscriber] = {}
        if any(t.startswith("sms:") for t in pending):
            opted_in = await self.subscribers.opted_in([District(d) for d in broadcast.districts])
            subscribers = {s.ref: s for s in opted_in}
        gate = asyncio.Semaphore(self.settings.broadcast_concurrency)
        record = asyncio.Lock()

        async def one(target: str) -> None:
            async with gate:
                outcome = await self._send(broadcast, target, subscribers)
            async with record:
                with acting_as("notifier.broadcast"):
                    if outcome.delivered:
                        broadcast.deliver(
                            target, outcome.provider, outcome.provider_message_id, self.clock.now()
                        )
                    else:
                        broadcast.fail(
                            target, outcome.provider, outcome.reason, outcome.attempts, self.clock.now()
                        )
                await asyncio.to_thread(self.application.save, broadcast)
                self.on_recorded()
            log.info(
                "broadcast_target_done",
                broadcast_id=str(broadcast_id),
                target=target,
                delivered=outcome.delivered,
                provider=outcome.provider,
                attempts=outcome.attempts,
            )

        # A task group, not gather: when one target cannot be recorded (the database is
        # away), the others stop too, instead of sending on while the broadcast is read again.
        async with asyncio.TaskGroup() as group:
            for target in pending:
                group.create_task(one(target))
        if not broadcast.pending():
            self.open.discard(broadcast_id)
            log.info(
                "broadcast_done",
                broadcast_id=str(broadcast_id),
                delivered=len(broadcast.delivered),
                failed=len(broadcast.failed),
            )

    def _message(
        self, broadcast: Broadcast, target: str, subscribers: Mapping[str, Subscriber]
    ) -> OutgoingMessage | str:
        """The message for `target`, or why there is none."""
        kind, _, ref = target.partition(":")
        nid = notice_id(broadcast.id, target)
        if kind == "sms":
            subscriber = subscribers.get(ref)
            if subscriber is None:
                return "no longer opted in"
            return OutgoingMessage(
                notice_id=nid,
                medium="sms",
                to=subscriber.phone,
                language=subscriber.language,
                text=f"[{broadcast.title}] {broadcast.text_in(subscriber.language)}",
                subject=broadcast.title,
            )
        account = self.accounts.by_code.get(ref)
        if account is None:
            return "account no longer configured"
        return OutgoingMessage(
            notice_id=nid,
            medium=account.platform,
            to=account.code,
            language="ko",
            text=f"[{broadcast.title}] {broadcast.text}",
            subject=broadcast.title,
            account=account.code,
        )

    async def _send(
        self, broadcast: Broadcast, target: str, subscribers: Mapping[str, Subscriber]
    ) -> Outcome:
        message = self._message(broadcast, target, subscribers)
        if isinstance(message, str):
            return Outcome(target, "notifier", False, reason=message)
        provider = self.providers[message.medium]
        attempts = self.settings.broadcast_attempts
        for attempt in range(1, attempts + 1):
            try:
                sent = await provider.send(message)
                return Outcome(target, sent.provider, True, sent.provider_message_id, attempts=attempt)
            except MessageRefused as exc:
                return Outcome(target, exc.provider, False, reason=str(exc), attempts=attempt)
            except ProviderUnavailable as exc:
                if attempt == attempts:
                    return Outcome(target, exc.provider, False, reason=str(exc), attempts=attempt)
                wait = exc.retry_after_s or self.settings.broadcast_retry_base_s * 2 ** (attempt - 1)
                await asyncio.sleep(min(wait, self.settings.broadcast_retry_cap_s))
        raise AssertionError("unreachable")  # the loop returns on its last attempt
