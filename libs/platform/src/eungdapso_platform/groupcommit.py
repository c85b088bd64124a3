"""Group commit for an event store: many concurrent requests, one transaction.

The event store serialises writers (it locks its table so notification ids are
committed in order, which the outbox relay relies on), so one transaction per request
caps a service at one commit latency per request. Requests that arrive while a commit
is under way are saved together in the next one. A request's answer waits until its
own events are committed: nothing is acknowledged before it is durable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from eungdapso_platform.eventstore import IntegrityError


class GroupCommit:
    def __init__(self, save: Callable[..., Any], *, max_batch: int = 256) -> None:
        self._save = save
        self.max_batch = max_batch
        self._pending: list[tuple[list[Any], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.commits = 0

    async def save(self, aggregate: Any) -> None:
        # Take the events now: a failed batch is retried event list by event list.
        events = list(aggregate.collect_events())
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((events, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            try:
                await asyncio.to_thread(self._save, *[e for events, _ in batch for e in events])
                self.commits += 1
                _settle(batch, None)
            except IntegrityError as exc:
                if len(batch) == 1:
                    _settle(batch, exc)
                    continue
                # One request conflicts (e.g. a repeated Idempotency-Key): save the others alone.
                for events, future in batch:
                    try:
                        await asyncio.to_thread(self._save, *events)
                        self.commits += 1
                        _settle([(events, future)], None)
                    except Exception as single:
                        _settle([(events, future)], single)
            except Exception as exc:
                _settle(batch, exc)


def _settle(batch: list[tuple[list[Any], asyncio.Future[None]]], exc: BaseException | None) -> None:
    for _, future in batch:
        if future.done():
            continue
        if exc is None:
            future.set_result(None)
        else:
            future.set_exception(exc)
