"""Group commit for an event store: many concurrent requests, one transaction.

The event store serialises writers (it locks its table so notification ids are
committed in order, which the outbox relay relies on), so one transaction per request
caps a service at one commit latency per request. Requests that arrive while a commit
is under way are saved together in the next one. A request's answer waits until its
own events are committed: nothing is acknowledged before it is durable.

A request may carry a deadline (`time.monotonic()`), so that an outage answers in seconds
and every answer is the truth:

- While it waits for its turn, its events have not been sent: when the deadline passes it
  is withdrawn and fails with `DeadlineExpired`; they are never written.
- Once its batch is sent, the batch's commit is bounded by the earliest deadline in it
  (`eventstore.within`: connection wait, lock waits, statements, retries). The request
  waits for the outcome, success or failure, and if the batch is still under way `grace_s`
  after the deadline it stops waiting with `CommitOutcomeUnknown`: its events may still be
  recorded, and the answer must say so.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eungdapso_platform.eventstore import CommitOutcomeUnknown, IntegrityError, within
from eungdapso_platform.logging import get_logger

log = get_logger("eungdapso.groupcommit")


class DeadlineExpired(TimeoutError):
    """The request's deadline passed before its events were sent: nothing was written."""


@dataclass(eq=False)
class _Request:
    events: list[Any]
    future: asyncio.Future[None]
    deadline: float | None
    #: Handed to the event store: from then on it can no longer be withdrawn.
    sent: bool = False
    #: Its caller stopped waiting while it was being committed.
    abandoned: bool = False


class GroupCommit:
    def __init__(self, save: Callable[..., Any], *, max_batch: int = 256, grace_s: float = 2.0) -> None:
        self._save = save
        self.max_batch = max_batch
        self.grace_s = grace_s
        self._pending: deque[_Request] = deque()
        self._flusher: asyncio.Task[None] | None = None
        self.commits = 0

    async def save(self, aggregate: Any, *, deadline: float | None = None) -> None:
        # Take the events now: a failed batch is retried event list by event list.
        events = list(aggregate.collect_events())
        request = _Request(events, asyncio.get_running_loop().create_future(), deadline)
        self._pending.append(request)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        try:
            if not await _settled(request.future, deadline):
                if not request.sent:
                    self._withdraw(request)
                    raise DeadlineExpired("the deadline passed before the events were sent")
                if not await _settled(request.future, time.monotonic() + self.grace_s):
                    request.abandoned = True
                    raise CommitOutcomeUnknown("the commit was still under way at the deadline")
        except asyncio.CancelledError:
            if request.sent:
                request.abandoned = True
            else:
                self._withdraw(request)
            raise
        request.future.result()

    def _withdraw(self, request: _Request) -> None:
        if request in self._pending:
            self._pending.remove(request)
        request.future.cancel()

    def _next_batch(self) -> list[_Request]:
        now = time.monotonic()
        batch: list[_Request] = []
        while self._pending and len(batch) < self.max_batch:
            request = self._pending.popleft()
            if request.future.done():
                continue
            if request.deadline is not None and request.deadline <= now:
                request.future.set_exception(DeadlineExpired("the deadline passed in the queue"))
                continue
            request.sent = True
            batch.append(request)
        return batch

    async def _commit(self, batch: list[_Request]) -> None:
        deadlines = [r.deadline for r in batch if r.deadline is not None]
        events = [e for r in batch for e in r.events]
        if deadlines:
            await asyncio.to_thread(within, min(deadlines), self._save, *events)
        else:
            await asyncio.to_thread(self._save, *events)
        self.commits += 1

    async def _flush(self) -> None:
        while self._pending:
            batch = self._next_batch()
            if not batch:
                continue
            try:
                await self._commit(batch)
                _settle(batch, None)
            except IntegrityError as exc:
                if len(batch) == 1:
                    _settle(batch, exc)
                    continue
                # One request conflicts (e.g. a repeated Idempotency-Key): save the others alone.
                # The batch was rolled back; a request whose deadline has passed is not retried.
                for request in batch:
                    if request.deadline is not None and request.deadline <= time.monotonic():
                        _settle([request], DeadlineExpired("the deadline passed before a retry"))
                        continue
                    try:
                        await self._commit([request])
                        _settle([request], None)
                    except Exception as single:
                        _settle([request], single)
            except Exception as exc:
                _settle(batch, exc)


async def _settled(future: asyncio.Future[None], deadline: float | None) -> bool:
    """Wait for `future` until `deadline`; whether it is done (never cancels it)."""
    if deadline is None:
        await asyncio.wait([future])
    else:
        await asyncio.wait([future], timeout=max(0.0, deadline - time.monotonic()))
    return future.done()


def _settle(batch: list[_Request], exc: BaseException | None) -> None:
    for request in batch:
        if request.abandoned:
            # Its caller stopped waiting (and was told the outcome is unknown): this is the outcome.
            log.warning(
                "commit_settled_after_caller_left",
                originator_ids=sorted({str(getattr(e, "originator_id", "?")) for e in request.events}),
                recorded=exc is None,
                error=None if exc is None else f"{type(exc).__name__}: {exc}",
            )
            request.future.cancel()
            continue
        if request.future.done():
            continue
        if exc is None:
            request.future.set_result(None)
        else:
            request.future.set_exception(exc)
