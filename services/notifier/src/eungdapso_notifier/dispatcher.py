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
from eungdapso_notifier.preferences import Preference, Preferences
from eungdapso_notifier.providers import MessageRefused, OutgoingMessage, Provider, ProviderUnavailable
from eungdapso_notifier.settings import NotifierSettings
from eungdapso_notifier.tables import (
    callback_task,
    citizen_key,
    done,
    in_letter_queue,
    on_citizen_page,
    pending,
)
from eungdapso_notifier.templates import Facts, Rendered, Templates, office_label
from eungdapso_platform.clock import Clock
from eungdapso_platform.db import Database
from eungdapso_platform.directory import DirectoryQueries
from eungdapso_platform.eventstore import IntegrityError, Write
from eungdapso_platform.follow import FollowKeys
from eungdapso_platform.logging import get_logger
from eungdapso_schemas.codes import Language
from eungdapso_schemas.events import NoticeMedium, NoticeStage

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
_RELEASE = "UPDATE {schema}.pending_notices SET claimed_until = NULL WHERE notice_id = %s"
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
        directory: DirectoryQueries,
        settings: NotifierSettings,
        clock: Clock,
        on_recorded: Callable[[], None] | None = None,
    ) -> None:
        self.application = application
        self.db = db
        self.providers = dict(providers)
        self.templates = templates
        self.preferences = preferences
        self.directory = directory
        self.settings = settings
        self.clock = clock
        self.on_recorded = on_recorded or (lambda: None)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        #: Messages in flight at once: a slow provider holds only its own.
        self._sending = asyncio.Semaphore(16)

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
        """Deliver what is due by the clock's now; how many notices were claimed.

        A batch is recorded in two transactions, not two per notice: the attempts (and what
        needs no provider: the local media, the withheld), then the outcomes. Should either
        conflict (another replica recorded on one of the notices), each notice's step is
        decided again alone on what is recorded, and the conflicting one is left to the other."""
        now = self.clock.now()
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                self.db.sql(_CLAIM),
                (now + timedelta(seconds=CLAIM_S), now, now, self.settings.dispatcher_batch_size),
            )
            claimed: list[UUID] = [row["notice_id"] for row in await cursor.fetchall()]
        if not claimed:
            return 0
        loaded = await asyncio.to_thread(self._load, claimed)
        preferences = await self.preferences.of_many(
            [
                r.to
                for n, c in loaded.values()
                if n is not None and c is not None
                for r in self._citizen_route(n, c)
            ]
        )
        # The offices' names from the directory in force (a transfer names its target by code).
        names = await self.directory.names(
            {code for n, c in loaded.values() if n is not None and c is not None for code in _offices(n, c)}
        )
        first: list[Step] = []
        sends: list[Delivery] = []
        later: list[Write] = []
        for notice_id, (n, c) in loaded.items():
            if n is None or c is None or n.done:
                later.append(done(notice_id))
                continue
            try:
                step, delivery = self._decide(n, c, now, preferences, names)
            except Exception as exc:  # one notice that cannot be made must not hold the others
                log.error("notice_not_made", notice_id=str(n.id), error=type(exc).__name__)
                continue
            if isinstance(step, Write):
                later.append(step)
                continue
            first.append(step)
            if delivery is not None:
                sends.append(delivery)
        if later:
            await self._write(*later)
        recorded = await self._record(first, loaded)
        # Only the attempts recorded here are sent here: another replica's are its own.
        sends = [d for d in sends if d.notice.id in recorded]
        if sends:
            outcomes = await asyncio.gather(*(self._send(d) for d in sends))
            await self._record(list(outcomes), loaded)
        return len(claimed)

    # -- deciding -------------------------------------------------------------------------------
    def _decide(
        self,
        n: Notice,
        c: Correspondence,
        now: datetime,
        preferences: Mapping[str, Preference],
        names: Mapping[str, str],
    ) -> tuple[Step | Write, Delivery | None]:
        """The notice's next step, and the message to send if it goes to a provider."""
        route, language = self._route(n, c, preferences)
        if route is None:  # opted out: nothing is sent to them, nothing is failed
            return Step(n.id, n.attempts, _withheld(now), n.version), None
        if waits_for_quiet_hours(n.medium, n.stage):
            until = quiet_until(now, self.settings.quiet_hours_start, self.settings.quiet_hours_end)
            if until is not None:
                return Write(_LATER, (until, n.id)), None
        rendered = self.templates.render(n.stage, language, self._facts(n, c, language, names), n.medium)
        delivery = Delivery(n, c, route, rendered)
        if n.medium in LOCAL_MEDIA:
            return Step(n.id, n.attempts, _put_locally(delivery, now), n.version), None
        return Step(n.id, n.attempts, _attempt(now), n.version), delivery

    def _load(self, claimed: list[UUID]) -> dict[UUID, tuple[Notice | None, Correspondence | None]]:
        notices = self.application.find_many(claimed)
        complaints = {n.complaint_id for n in notices.values() if isinstance(n, Notice)}
        found = self.application.find_many([correspondence_id(c) for c in complaints])
        loaded: dict[UUID, tuple[Notice | None, Correspondence | None]] = {}
        for notice_id in claimed:
            n = notices.get(notice_id)
            if not isinstance(n, Notice):
                loaded[notice_id] = (None, None)
                continue
            c = found.get(correspondence_id(n.complaint_id))
            loaded[notice_id] = (n, c if isinstance(c, Correspondence) else None)
        return loaded

    def _citizen_route(self, notice: Notice, c: Correspondence) -> list[Route]:
        if notice.recipient == "office" or c.contact is None:
            return []
        return [route_for(c.contact, c.receipt_no, notice.medium) or Route("web", c.receipt_no)]

    def _route(
        self, notice: Notice, c: Correspondence, preferences: Mapping[str, Preference]
    ) -> tuple[Route | None, Language]:
        if notice.recipient == "office":
            address = self.settings.office_email_template.format(office=notice.office)
            return Route("email", address), Language.KO
        assert c.contact is not None  # a citizen's notice is planned once the contact is known
        (route,) = self._citizen_route(notice, c)
        preference = preferences.get(citizen_key(route.to)) if route.medium != "web" else None
        if preference is not None and preference.opted_out:
            return None, c.contact.language
        chosen = preference.language if preference is not None and preference.language else None
        return route, chosen or c.contact.language

    def _follow_link(self, base: str, c: Correspondence) -> str:
        """The citizen's private page (with the key only they get: `eungdapso_platform.follow`),
        or, where no follow-link secret is configured, the public status page."""
        secret = self.settings.follow_link_secret
        if secret is None:
            return f"{base}/follow/{c.receipt_no}"
        return FollowKeys.link(base, c.receipt_no, FollowKeys(secret).key_for(c.complaint_id))

    def _facts(
        self, notice: Notice, c: Correspondence, language: Language, names: Mapping[str, str]
    ) -> Facts:
        base = self.settings.public_base_url.rstrip("/")
        transfer = c.transfers[notice.occurrence - 1] if notice.stage == "transferred" else ("", "")
        answer = c.answer
        office_name = (c.office_name if c.office == notice.office else None) or names.get(c.office or "")
        return Facts(
            receipt_no=c.receipt_no,
            follow_link=self._follow_link(base, c),
            office=office_label(c.office, office_name, language),
            # The assignment tells the deadline as set; the extension tells the new one.
            due=c.due if notice.stage == "assigned" else c.current_due,
            new_due=c.extension[0] if c.extension else None,
            reason=c.extension[1] if notice.stage == "extended" and c.extension else transfer[1],
            to_office=office_label(transfer[0], names.get(transfer[0]), language) if transfer[0] else "",
            answer=answer.text if answer else "",
            rating_link=(
                self.settings.rating_link_template.format(base=base, token=c.rating_token)
                if c.rating_token
                else None
            ),
            duplicate_of=answer.duplicate_of if answer else None,
            score=c.low_score,
        )

    # -- sending --------------------------------------------------------------------------------
    async def _send(self, d: Delivery) -> Step:
        """Hand the message to its provider; the outcome is the step to record."""
        n = d.notice
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
        language = d.rendered.language.value
        try:
            if provider is None:
                raise ProviderUnavailable("none", f"no provider is configured for {n.medium}")
            async with self._sending:
                delivered = await asyncio.wait_for(provider.send(message), self.settings.provider_timeout_s)
        except MessageRefused as exc:
            return Step(n.id, n.attempts, self._fail(language, exc.provider, exc.reason))
        except ProviderUnavailable as exc:
            return Step(n.id, n.attempts, self._unavailable(language, exc.provider, exc.reason))
        except TimeoutError:
            reason = f"no answer within {self.settings.provider_timeout_s:g} s"
            return Step(n.id, n.attempts, self._unavailable(language, name, reason))
        except Exception as exc:  # a provider's bug is an outage of that provider
            return Step(n.id, n.attempts, self._unavailable(language, name, type(exc).__name__))
        at = self.clock.now()

        def sent(n: Notice, c: Correspondence | None) -> Recorded:
            n.sent(language=language, provider=delivered.provider, at=at, form=delivered.form)
            log.info(
                "notice_sent",
                notice_id=str(n.id),
                stage=n.stage,
                medium=n.medium,
                provider=delivered.provider,
            )
            return [n], [done(n.id)]

        return Step(n.id, n.attempts, sent)

    def _unavailable(self, language: str, provider: str, reason: str) -> Apply:
        s = self.settings
        now = self.clock.now()

        def retry_or_fail(n: Notice, c: Correspondence | None) -> Recorded:
            if n.attempts >= s.max_attempts:
                return self._fail(language, provider, f"{reason} ({n.attempts} attempts)")(n, c)
            wait = min(s.retry_base_s * 2 ** (n.attempts - 1), s.retry_max_s)
            retry_at = now + timedelta(seconds=wait)
            n.retrying(attempt=n.attempts, provider=provider, reason=reason[:500], retry_at=retry_at)
            log.info("notice_retry", notice_id=str(n.id), attempt=n.attempts, provider=provider, wait_s=wait)
            return [n], [pending(n.id, n.complaint_id, n.stage, n.medium, retry_at, n.version)]

        return retry_or_fail

    def _fail(self, language: str, provider: str, reason: str) -> Apply:
        now = self.clock.now()

        def fail(n: Notice, c: Correspondence | None) -> Recorded:
            following = None
            if (
                n.recipient == "citizen"
                and c is not None
                and c.contact is not None
                and n.medium != "callback"
            ):
                following = fallback_after(c.contact, c.receipt_no, n.medium)
            fallback = following.medium if following else None
            n.failed(language=language, provider=provider, at=now, reason=reason, fallback=fallback)
            log.warning(
                "notice_failed", notice_id=str(n.id), medium=n.medium, provider=provider, fallback=fallback
            )
            if following is None:
                return [n], [done(n.id)]
            self.wake()  # the next medium gets its own notice, due now
            return _then([n], [done(n.id)], n, following.medium, now)

        return fail

    # -- recording ------------------------------------------------------------------------------
    async def _record(
        self, steps: list[Step], loaded: dict[UUID, tuple[Notice | None, Correspondence | None]]
    ) -> set[UUID]:
        """Record the steps in one transaction; the ids of the notices recorded."""
        if not steps:
            return set()
        recorded, changed = await asyncio.to_thread(self._record_sync, steps, loaded)
        if changed:  # decided on a notice that changed since (the rating link came): again, now
            await self._write(*(Write(_RELEASE, (i,)) for i in changed))
            self.wake()
        if recorded:
            self.on_recorded()
        return recorded

    def _record_sync(
        self, steps: list[Step], loaded: dict[UUID, tuple[Notice | None, Correspondence | None]]
    ) -> tuple[set[UUID], list[UUID]]:
        """The notices recorded, and those left to decide again (changed since decided)."""
        aggregates: list[Any] = []
        writes: list[Write] = []
        for step in steps:
            n, c = loaded[step.notice_id]
            assert n is not None
            more, also = step.apply(n, c)
            aggregates += more
            writes += also
        try:
            self.application.save(*aggregates, writes=writes)
            return {s.notice_id for s in steps}, []
        except IntegrityError:
            pass
        recorded: set[UUID] = set()
        changed: list[UUID] = []
        for step in steps:
            # Decided again on what is recorded now: the other replica's step stands.
            n = self.application.find(step.notice_id)
            if not isinstance(n, Notice) or n.done or n.attempts != step.attempts:
                log.info("notice_already_recorded", notice_id=str(step.notice_id))
                continue
            if step.version is not None and n.version != step.version:
                # Its text was made before the notice changed (the rating link came): make it again.
                changed.append(n.id)
                continue
            c = self.application.find(correspondence_id(n.complaint_id))
            more, also = step.apply(n, c)
            try:
                self.application.save(*more, writes=also)
                recorded.add(step.notice_id)
            except IntegrityError:
                log.info("notice_already_recorded", notice_id=str(step.notice_id))
        return recorded, changed

    async def _write(self, *writes: Write) -> None:
        async with self.db.transaction() as conn:
            for write in writes:
                await conn.execute(self.db.sql(write.statement), write.params)


def _offices(n: Notice, c: Correspondence) -> list[str]:
    """The codes of the offices the notice names (to look their names up)."""
    codes = [c.office] if c.office is not None and c.office_name is None else []
    if n.stage == "transferred" and 0 < n.occurrence <= len(c.transfers):
        codes.append(c.transfers[n.occurrence - 1][0])
    return codes


#: What one step records: the aggregates it changed (and created) and the rows it writes.
Recorded = tuple[list[Any], list[Write]]
Apply = Callable[[Notice, Correspondence | None], Recorded]


@dataclass(frozen=True)
class Step:
    """One notice's next record, applied to the notice as loaded (or, after a conflict, as
    recorded now, if it still has the attempts it had when the step was decided)."""

    notice_id: UUID
    attempts: int
    apply: Apply
    #: The notice's version when its text was made (before it goes to a provider).
    version: int | None = None


def _withheld(now: datetime) -> Apply:
    """Nothing is sent to a citizen who opted out; the citizen page, where they look
    themselves, still shows the notice."""

    def withhold(n: Notice, c: Correspondence | None) -> Recorded:
        n.withheld("the citizen opted out")
        log.info("notice_withheld", notice_id=str(n.id), stage=n.stage)
        if n.medium == "callback":  # the answer itself goes on the page with the best medium's
            return [n], [done(n.id)]
        return _then([n], [done(n.id)], n, "web", now)

    return withhold


def _then(
    aggregates: list[Any], writes: list[Write], n: Notice, medium: NoticeMedium, now: datetime
) -> Recorded:
    """With the notice's record, a notice of the same stage on `medium`, due now."""
    then = Notice.plan(
        n.complaint_id, n.receipt_no, cast(NoticeStage, n.stage), n.occurrence, medium, n.office
    )
    pend = pending(then.id, n.complaint_id, n.stage, medium, now, then.version)
    return [*aggregates, then], [*writes, pend]


def _attempt(now: datetime) -> Apply:
    """Recorded before the provider is called (see the module's docstring)."""

    def attempt(n: Notice, c: Correspondence | None) -> Recorded:
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
        return [n], [claim]

    return attempt


def _put_locally(d: Delivery, now: datetime) -> Apply:
    """The citizen page, the letter queue, a callback task: put there in the transaction that
    records the notice sent."""
    r = d.rendered
    language = r.language.value

    def put(n: Notice, c: Correspondence | None) -> Recorded:
        row = {
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
        return [n], [row, done(n.id)]

    return put
