"""The dispatcher: sends the notices that are due, at most once per complaint, stage and
medium, across replicas, restarts and provider outages.

Every `DISPATCHER_INTERVAL_S` each replica claims the pending notices whose time has come
(`FOR UPDATE SKIP LOCKED`; a claim expires, so a dead replica's rows are taken up again).

At most once, and never lost (the outbox pattern, turned towards the provider):
1. `Notice.Attempted` is recorded *before* the provider is called. Two replicas recording the
   same attempt conflict in the event store, and the loser does not send.
2. The provider is called with the notice id, which every provider takes as its idempotency
   key (the file outbox writes `<notice id>` once; gateways take it as the client's message
   id), then `Sent` is recorded, or a retry, or `Failed` and the next medium.
3. A crash between 1 and 2 leaves the notice `sending` and its row claimed; when the claim
   expires the next attempt sends again **with the same notice id**, so the provider drops
   the repeat. We chose this over "give up on an unknown outcome" because a lost notice
   is the worse failure, and every medium we use either deduplicates on that key or is
   local: the citizen page, the letter queue and callback tasks are written in the very
   transaction that records `Sent`, so for them there is no window at all.

A provider that is unavailable (or silent past `PROVIDER_TIMEOUT_S`) is tried again after
`RETRY_BASE_S * 2**(n-1)` (capped); after `MAX_ATTEMPTS`, or at once when it refuses the
message, the notice is `Failed` and the citizen's next medium gets its own notice. Text
messages wait for the end of quiet hours unless urgent; an opted-out citizen's notices
are withheld (the citizen page still shows them: it is where the citizen looks).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

from eungdapso_notifier.application import NotifierApplication
from eungdapso_notifier.channels import (
    LOCAL_MEDIA,
    Route,
    fallback_after,
    quiet_until,
    route_for,
    waits_for_quiet_hours,
)
from eungdapso_notifier.domainmodel import Correspondence, Notice, correspondence_id
from eungdapso_notifier.preferences import Preferences
from eungdapso_notifier.providers import MessageRefused, OutgoingMessage, Provider, ProviderUnavailable
from eungdapso_notifier.settings import NotifierSettings
from eungdapso_notifier.tables import callback_task, done, in_letter_queue, on_citizen_page, pending
from eungdapso_notifier.templates import Facts, Rendered, Templates, office_label
from eungdapso_platform.clock import Clock
from eungdapso_platform.db import Database
from eungdapso_platform.eventstore import IntegrityError, Write
from eungdapso_platform.logging import get_logger
from eungdapso_schemas.codes import Language
from eungdapso_schemas.events import NoticeStage

log = get_logger("eungdapso.notifier.dispatcher")

#: How long a claim holds: longer than one delivery takes (the provider timeout and more).
CLAIM_S = 120
#: The provider name recorded for the media the notifier delivers itself.
LOCAL_PROVIDER = "notifier"

_CLAIM = (
    "UPDATE {schema}.pending_notices SET claimed_until = %s WHERE notice_id IN ("
    " SELECT notice_id FROM {schema}.pending_notices"
    " WHERE next_at <= %s AND (claimed_until IS NULL OR claimed_until < %s)"
    " ORDER BY next_at LIMIT %s FOR UPDATE SKIP LOCKED)"
    " RETURNING notice_id"
)
_LATER = "UPDATE {schema}.pending_notices SET next_at = %s, claimed_until = NULL WHERE notice_id = %s"


@dataclass(frozen=True)
class Delivery:
    """One notice made ready to send (personal: the route and the text)."""

    notice: Notice
    correspondence: Correspondence
    route: Route
    rendered: Rendered


class Dispatcher:
    def __init__(
        self,
        *,
        application: NotifierApplication,
        db: Database,
        providers: Mapping[str, Provider],
        templates: Templates,
        preferences: Preferences,
        settings: NotifierSettings,
        clock: Clock,
        on_recorded: Callable[[], None] | None = None,
    ) -> None:
        self.application = application
        self.db = db
        self.providers = dict(providers)
        self.templates = templates
        self.preferences = preferences
        self.settings = settings
        self.clock = clock
        self.on_recorded = on_recorded or (lambda: None)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notifier-dispatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def wake(self) -> None:
        """New notices were planned: look now rather than at the next interval."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                while await self.run_once() >= self.settings.dispatcher_batch_size:
                    pass  # a burst: keep going without waiting
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database away: try again next time
                log.warning("dispatcher_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.settings.dispatcher_interval_s)
            except TimeoutError:
                pass

    async def run_once(self) -> int:
        """Deliver what is due by the clock's now; how many notices were claimed."""
        now = self.clock.now()
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                self.db.sql(_CLAIM),
                (now + timedelta(seconds=CLAIM_S), now, now, self.settings.dispatcher_batch_size),
            )
            claimed: list[UUID] = [row["notice_id"] for row in await cursor.fetchall()]
        # Notices of different complaints go out together: a slow provider holds only its own.
        limit = asyncio.Semaphore(16)

        async def one(notice_id: UUID) -> None:
            async with limit:
                try:
                    await self.deliver(notice_id)
                except Exception as exc:  # the claim expires and the notice is tried again
                    log.warning("delivery_failed", notice_id=str(notice_id), error=f"{type(exc).__name__}")

        await asyncio.gather(*(one(n) for n in claimed))
        return len(claimed)

    # -- one notice ---------------------------------------------------------------------------
    async def deliver(self, notice_id: UUID) -> None:
        notice = await asyncio.to_thread(self.application.find, notice_id)
        if not isinstance(notice, Notice) or notice.done:
            await self._write(done(notice_id))
            return
        c = await asyncio.to_thread(self.application.find, correspondence_id(notice.complaint_id))
        assert isinstance(c, Correspondence)
        now = self.clock.now()
        route, language = await self._route(notice, c)
        if route is None:  # opted out: nothing goes, nothing is failed
            notice.withheld("the citizen opted out")
            await self._save(notice, writes=[done(notice.id)])
            log.info("notice_withheld", notice_id=str(notice.id), stage=notice.stage)
            return
        if waits_for_quiet_hours(notice.medium, notice.stage):
            until = quiet_until(now, self.settings.quiet_hours_start, self.settings.quiet_hours_end)
            if until is not None:
                await self._write(Write(_LATER, (until, notice.id)))
                log.info("notice_held_for_quiet_hours", notice_id=str(notice.id), until=until.isoformat())
                return
        rendered = self.templates.render(
            notice.stage, language, self._facts(notice, c, language), notice.medium
        )
        delivery = Delivery(notice, c, route, rendered)
        if notice.medium in LOCAL_MEDIA:
            await self._deliver_locally(delivery, now)
        else:
            await self._send(delivery, now)

    async def _route(self, notice: Notice, c: Correspondence) -> tuple[Route | None, Language]:
        if notice.recipient == "office":
            address = self.settings.office_email_template.format(office=notice.office)
            return Route("email", address), Language.KO
        assert c.contact is not None  # a citizen's notice is planned once the contact is known
        route = route_for(c.contact, c.receipt_no, notice.medium) or Route("web", c.receipt_no)
        preference = await self.preferences.of(route.to) if route.medium != "web" else None
        if preference is not None and preference.opted_out:
            return None, c.contact.language
        chosen = preference.language if preference is not None and preference.language else None
        return route, chosen or c.contact.language

    def _facts(self, notice: Notice, c: Correspondence, language: Language) -> Facts:
        base = self.settings.public_base_url.rstrip("/")
        transfer = c.transfers[notice.occurrence - 1] if notice.stage == "transferred" else ("", "")
        answer = c.answer
        return Facts(
            receipt_no=c.receipt_no,
            follow_link=f"{base}/complaints/{c.receipt_no}",
            office=office_label(c.office, c.office_name if c.office == notice.office else None, language),
            # The assignment tells the deadline as set; the extension tells the new one.
            due=c.due if notice.stage == "assigned" else c.current_due,
            new_due=c.extension[0] if c.extension else None,
            reason=c.extension[1] if notice.stage == "extended" and c.extension else transfer[1],
            to_office=transfer[0],
            answer=answer.text if answer else "",
            rating_link=(
                self.settings.rating_link_template.format(base=base, token=c.rating_token)
                if c.rating_token
                else None
            ),
            duplicate_of=answer.duplicate_of if answer else None,
            score=c.low_score,
        )

    async def _deliver_locally(self, d: Delivery, now: datetime) -> None:
        """The citizen page, the letter queue, a callback task: put there in the transaction
        that records the notice sent."""
        n, r = d.notice, d.rendered
        language = r.language.value
        put = {
            "web": lambda: on_citizen_page(
                n.id, n.complaint_id, n.receipt_no, n.stage, language, r.subject, r.text, now
            ),
            "letter": lambda: in_letter_queue(
                n.id, n.complaint_id, n.receipt_no, d.route.to, language, r.subject, r.text, now
            ),
            "callback": lambda: callback_task(
                n.id, n.complaint_id, n.receipt_no, d.route.to, language, r.text, now
            ),
        }[n.medium]()
        n.next_attempt(now)
        n.sent(language=language, provider=LOCAL_PROVIDER, at=now, form=None)
        await self._save(n, writes=[put, done(n.id)])

    async def _send(self, d: Delivery, now: datetime) -> None:
        n = d.notice
        n.next_attempt(now)
        claim = pending(
            n.id,
            n.complaint_id,
            n.stage,
            n.medium,
            now,
            n.version,
            claimed_until=now + timedelta(seconds=CLAIM_S),
        )
        if not await self._save(n, writes=[claim]):
            return  # another replica recorded this attempt: it sends, not us
        provider = self.providers.get(n.medium)
        message = OutgoingMessage(
            notice_id=str(n.id),
            medium=n.medium,  # type: ignore[arg-type]
            to=d.route.to,
            language=d.rendered.language.value,
            text=d.rendered.text,
            subject=d.rendered.subject,
            html=d.rendered.html,
            account=d.route.account,
            thread=d.route.thread,
        )
        name = provider.name if provider is not None else "none"
        try:
            if provider is None:
                raise ProviderUnavailable("none", f"no provider is configured for {n.medium}")
            delivered = await asyncio.wait_for(provider.send(message), self.settings.provider_timeout_s)
        except MessageRefused as exc:
            await self._fail(d, exc.provider, exc.reason)
        except ProviderUnavailable as exc:
            await self._unavailable(d, exc.provider, exc.reason)
        except TimeoutError:
            await self._unavailable(d, name, f"no answer within {self.settings.provider_timeout_s:g} s")
        except Exception as exc:  # a provider's bug is an outage of that provider
            await self._unavailable(d, name, f"{type(exc).__name__}")
        else:
            n.sent(
                language=d.rendered.language.value,
                provider=delivered.provider,
                at=self.clock.now(),
                form=delivered.form,
            )
            await self._save(n, writes=[done(n.id)])
            log.info(
                "notice_sent",
                notice_id=str(n.id),
                stage=n.stage,
                medium=n.medium,
                provider=delivered.provider,
            )

    async def _unavailable(self, d: Delivery, provider: str, reason: str) -> None:
        n = d.notice
        if n.attempts >= self.settings.max_attempts:
            await self._fail(d, provider, f"{reason} ({n.attempts} attempts)")
            return
        s = self.settings
        wait = min(s.retry_base_s * 2 ** (n.attempts - 1), s.retry_max_s)
        retry_at = self.clock.now() + timedelta(seconds=wait)
        n.retrying(attempt=n.attempts, provider=provider, reason=reason[:500], retry_at=retry_at)
        await self._save(n, writes=[pending(n.id, n.complaint_id, n.stage, n.medium, retry_at, n.version)])
        log.info("notice_retry", notice_id=str(n.id), attempt=n.attempts, provider=provider, wait_s=wait)

    async def _fail(self, d: Delivery, provider: str, reason: str) -> None:
        n, c = d.notice, d.correspondence
        following = None
        if n.recipient == "citizen" and c.contact is not None and n.medium != "callback":
            following = fallback_after(c.contact, c.receipt_no, n.medium)
        now = self.clock.now()
        n.failed(
            language=d.rendered.language.value,
            provider=provider,
            at=now,
            reason=reason,
            fallback=following.medium if following else None,
        )
        aggregates: list[Any] = [n]
        writes = [done(n.id)]
        if following is not None:
            stage = cast(NoticeStage, n.stage)
            fallback = Notice.plan(
                n.complaint_id, n.receipt_no, stage, n.occurrence, following.medium, n.office
            )
            aggregates.append(fallback)
            writes.append(
                pending(fallback.id, n.complaint_id, n.stage, fallback.medium, now, fallback.version)
            )
        await self._save(*aggregates, writes=writes)
        log.warning(
            "notice_failed",
            notice_id=str(n.id),
            medium=n.medium,
            provider=provider,
            fallback=following and following.medium,
        )
        self.wake()

    # -- recording ------------------------------------------------------------------------------
    async def _save(self, *aggregates: Any, writes: list[Write]) -> bool:
        """Record; False if another replica recorded on the notice first (its decision stands)."""
        try:
            await asyncio.to_thread(self.application.save, *aggregates, writes=writes)
        except IntegrityError:
            log.info("notice_already_recorded", notice_id=str(aggregates[0].id))
            return False
        self.on_recorded()
        return True

    async def _write(self, write: Write) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(self.db.sql(write.statement), write.params)
