"""The scheduler: warnings and breaches fired exactly once, across replicas and restarts.

Every `SCHEDULER_INTERVAL_S` each replica claims the open deadlines whose next step has come
(`FOR UPDATE SKIP LOCKED`: two replicas never claim the same row; a claim expires, so a row
claimed by a replica that died is taken up again) and records the step on the `Deadline`
aggregate with the row's new state in one transaction. Exactly once rests on the event
store: the aggregate refuses a stage it has recorded, and two replicas recording the same
version conflict (the loser drops its decision). The published event's id is derived from the
deadline's id and version, so a relay resending it cannot duplicate it either. After downtime
the first run catches up with everything that fell due meanwhile: a deadline already past
is breached without its stale warnings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from eungdapso_platform.clock import Clock
from eungdapso_platform.db import Database
from eungdapso_platform.eventstore import IntegrityError
from eungdapso_platform.logging import get_logger
from eungdapso_sla.application import SlaApplication
from eungdapso_sla.calendar import BusinessCalendar
from eungdapso_sla.domainmodel import Deadline
from eungdapso_sla.holidays import HOLIDAYS_ID, Calendars
from eungdapso_sla.opendeadlines import row_of

log = get_logger("eungdapso.sla.scheduler")

#: How long a claim holds: longer than recording a batch takes.
CLAIM_S = 60

_CLAIM = (
    "UPDATE {schema}.open_deadlines SET claimed_until = %s WHERE deadline_id IN ("
    " SELECT deadline_id FROM {schema}.open_deadlines"
    " WHERE {which} AND (claimed_until IS NULL OR claimed_until < %s)"
    " ORDER BY next_at LIMIT %s FOR UPDATE SKIP LOCKED)"
    " RETURNING deadline_id"
)
# Two claims, each by its own index: one query with `next_at <= now OR calendar_version < v`
# reads the whole table every interval (bench/sla.py: ~0.5 ms per 1,000 open deadlines).
#: The rows whose next step (a warning, the breach) has come.
CLAIM_DUE = _CLAIM.replace("{which}", "next_at <= %s")
#: The rows counted with holidays declared before the latest declaration.
CLAIM_RECOUNT = _CLAIM.replace("{which}", "calendar_version < %s")


class Scheduler:
    def __init__(
        self,
        *,
        application: SlaApplication,
        db: Database,
        calendars: Calendars,
        clock: Clock,
        warn_at_share: float,
        batch_size: int = 500,
        interval_s: float = 1.0,
        on_recorded: Callable[[], None] | None = None,
    ) -> None:
        self.application = application
        self.db = db
        self.calendars = calendars
        self.clock = clock
        self.share = warn_at_share
        self.batch_size = batch_size
        self.interval_s = interval_s
        self.on_recorded = on_recorded
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sla-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            try:
                while await self.run_once() >= self.batch_size:
                    pass  # a burst: keep going without waiting
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database away: try again next time
                log.warning("scheduler_failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(self.interval_s)

    async def run_once(self) -> int:
        """Fire what has fallen due by the clock's now; how many deadlines were claimed."""
        now = self.clock.now()
        version, calendar = await asyncio.to_thread(self.calendars.of, self.application.find(HOLIDAYS_ID))
        until = now + timedelta(seconds=CLAIM_S)
        async with self.db.transaction() as conn:
            cursor = await conn.execute(self.db.sql(CLAIM_DUE), (until, now, now, self.batch_size))
            claimed = [row["deadline_id"] for row in await cursor.fetchall()]
            if version > 0 and len(claimed) < self.batch_size:  # no declaration, nothing to recount
                cursor = await conn.execute(
                    self.db.sql(CLAIM_RECOUNT), (until, version, now, self.batch_size - len(claimed))
                )
                claimed += [row["deadline_id"] for row in await cursor.fetchall()]
        if claimed:
            fired = await asyncio.to_thread(self._fire_all, claimed, now, version, calendar)
            if fired and self.on_recorded is not None:
                self.on_recorded()
        return len(claimed)

    def _fire_all(self, claimed: list[UUID], now: datetime, version: int, calendar: BusinessCalendar) -> int:
        """Decide every claimed deadline and record them all in one transaction (a burst due in
        the same second is a few transactions, not one per deadline). On a conflict, something
        else recorded on one of them meanwhile: decide each again, on its own."""
        decided = [step for step in (self._step(i, now, version, calendar) for i in claimed) if step]
        try:
            self.application.save(
                *(deadline for deadline, _ in decided),
                writes=[row_of(deadline, calendar, self.share) for deadline, _ in decided],
            )
        except IntegrityError:
            return sum(self._fire(deadline_id, now, version, calendar) for deadline_id in claimed)
        return sum(fired for _, fired in decided)

    def _fire(self, deadline_id: UUID, now: datetime, version: int, calendar: BusinessCalendar) -> bool:
        # A conflict means something else recorded on the deadline meanwhile (the process, a
        # replica whose claim had expired): decide once more on what is recorded now, so the
        # row's claim is released at once rather than when it expires.
        for _ in range(2):
            step = self._step(deadline_id, now, version, calendar)
            if step is None:
                return False
            deadline, fired = step
            try:
                self.application.save(deadline, writes=[row_of(deadline, calendar, self.share)])
                return fired
            except IntegrityError:
                continue
        log.info("scheduler_step_already_recorded", deadline_id=str(deadline_id))
        return False

    def _step(
        self, deadline_id: UUID, now: datetime, version: int, calendar: BusinessCalendar
    ) -> tuple[Deadline, bool] | None:
        """The deadline with what has come by `now` decided (not yet recorded), and whether
        anything was; None if there is no such deadline."""
        deadline = self.application.find(deadline_id)
        if not isinstance(deadline, Deadline):
            return None
        fired = deadline.recount(calendar, version)
        if deadline.due is not None and deadline.due <= now:
            fired = deadline.breach(now) or fired
        else:
            for stage, at in deadline.warnings(calendar, self.share):
                if at <= now:
                    fired = deadline.warn(stage, now) or fired
        if fired:
            log.info("deadline_step", deadline_id=str(deadline_id), breached=deadline.breached)
        return deadline, fired
