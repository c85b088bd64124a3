"""Rebuild a projection's read model from history without downtime (any service's).

The next generation is built beside the live one from the beginning of the topics the
projection reads, with the projection's own handlers, then swapped in at once (see
`eungdapso_platform.readmodel`). The live service keeps running and serving meanwhile.
Progress is logged every few seconds: events applied, events/s, and how many remain (from
the brokers' end offsets, which the development broker may under-report).

Producers do not stop for a rebuild, so it never waits for the topics to fall quiet:
1. it reads until it has reached the end offsets as they stand (or the topics are quiet);
2. then, holding the live generation's lock (live batches wait), it reads on until it has
   applied every message the live generation applied — a set that no longer grows — and
   swaps. Should that not happen within `FINAL_CATCH_UP_MAX_S` or before the topics fall
   quiet (history the broker no longer holds), the rebuild is refused, not swapped in, and
   the lock is released.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from eungdapso_platform.consumer import IncomingRecord, Projection
from eungdapso_platform.errors import Fault, classify
from eungdapso_platform.kafka import kafka_consumer
from eungdapso_platform.logging import get_logger
from eungdapso_platform.readmodel import IncompleteRebuild, ReadModels
from eungdapso_platform.settings import ServiceSettings

log = get_logger("eungdapso.rebuild")
PROGRESS_EVERY_S = 2.0
#: How long the final catch-up may hold the live generation's lock (live batches wait).
FINAL_CATCH_UP_MAX_S = 30.0


@dataclass(frozen=True)
class RebuildReport:
    read_model: str
    generation: int
    records: int
    seconds: float
    retired: int | None


async def rebuild_read_model(
    live: Projection,
    settings: ServiceSettings,
    *,
    force: bool = False,
    idle_ms: int = 1000,
) -> RebuildReport:
    db = live.db
    model = live.read_model
    models = ReadModels(db)
    await models.ensure(model)
    generation = await models.begin_generation(model, live.id)
    building = Projection(live.name, service=live.service, db=db, read_model=model, generation=generation)
    building.handlers = {payload: list(handlers) for payload, handlers in live.handlers.items()}
    kafka = kafka_consumer(
        settings, client_id=f"eungdapso-{live.id}-rebuild", enable_auto_commit=False, group_id=None
    )
    started = time.monotonic()
    reader = _Reader(kafka, building)
    await kafka.start()
    try:
        await reader.assign()
        log.info(
            "rebuild_started",
            read_model=model.name,
            generation=generation,
            partitions=len(reader.partitions),
            records_at_least=reader.total,
        )
        await reader.catch_up(idle_ms)
        async with db.transaction() as conn:
            # Live batches wait from here until the swap commits: what the live generation
            # has applied is now a fixed set, which the new one must have applied too.
            live_generation = await models.lock_live(conn, model)
            if live_generation is None:
                await reader.catch_up(min(idle_ms, 500))
            else:
                live_ledger = live.ledger_of(live_generation)
                missing = await models.missing_from(conn, live_ledger, building.ledger)
                await reader.read_until_applied(missing, min(idle_ms, 500), FINAL_CATCH_UP_MAX_S)
                missing = await models.missing_from(conn, live_ledger, building.ledger)
                if missing and not force:
                    raise IncompleteRebuild(
                        f"the rebuilt {model.name} lacks {len(missing)} events the live generation "
                        f"{live_generation} applied: the topics hold less history than the live model "
                        "has seen (was the broker's history lost?), or they could not be read within "
                        f"{FINAL_CATCH_UP_MAX_S:.0f} s. The live model stays; nothing was swapped. "
                        "Use --force only after checking why."
                    )
            retired = await models.swap(conn, model, generation, live.id)
    except BaseException:
        await models.abandon(model)
        raise
    finally:
        await kafka.stop()
    seconds = round(time.monotonic() - started, 2)
    log.info(
        "rebuild_finished",
        read_model=model.name,
        generation=generation,
        retired=retired,
        records=reader.applied,
        seconds=seconds,
    )
    return RebuildReport(model.name, generation, reader.applied, seconds, retired)


def _ce_id(headers: Any) -> str | None:
    for name, value in headers or ():
        if name == "ce_id":
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return None


class _Reader:
    def __init__(self, kafka: AIOKafkaConsumer, building: Projection) -> None:
        self.kafka = kafka
        self.building = building
        self.partitions: list[TopicPartition] = []
        self.end: dict[TopicPartition, int] = {}
        self.total = 0
        self.applied = 0
        self._last_report = time.monotonic()
        self._started = time.monotonic()

    async def assign(self) -> None:
        await self.kafka.topics()  # loads cluster metadata
        for stream in self.building.streams:
            for p in sorted(self.kafka.partitions_for_topic(stream.name) or ()):
                self.partitions.append(TopicPartition(stream.name, p))
        self.kafka.assign(self.partitions)
        await self.kafka.seek_to_beginning(*self.partitions)
        self.end = await self.kafka.end_offsets(self.partitions)
        self.total = sum(self.end.values())

    async def catch_up(self, idle_ms: int) -> None:
        """Read until the end offsets as they stand when a fetch starts are reached, or
        until the topics stay quiet for `idle_ms` (past the end offsets seen at the start)."""
        while True:
            end = await self.kafka.end_offsets(self.partitions)
            batches = await self._read(idle_ms)
            if await self._reached(end) or (not batches and await self._reached(self.end)):
                return

    async def read_until_applied(self, missing: set[str], idle_ms: int, max_s: float) -> None:
        """Read until every message in `missing` has come by, the topics stay quiet for
        `idle_ms`, or `max_s` have passed."""
        deadline = time.monotonic() + max_s
        while missing and time.monotonic() < deadline:
            batches = await self._read(idle_ms)
            if not batches:
                return
            for records in batches.values():
                for record in records:
                    missing.discard(_ce_id(record.headers))

    async def _read(self, idle_ms: int) -> dict[TopicPartition, list[Any]]:
        batches: dict[TopicPartition, list[Any]] = await self.kafka.getmany(
            timeout_ms=idle_ms, max_records=500
        )
        for records in batches.values():
            await self._apply([IncomingRecord.from_consumer_record(r) for r in records])
            self.applied += len(records)
            self._report()
        return batches

    async def _reached(self, end: dict[TopicPartition, int]) -> bool:
        return all([await self.kafka.position(tp) >= end[tp] for tp in self.partitions])

    async def _apply(self, records: list[IncomingRecord]) -> None:
        while True:
            try:
                # Not dead-lettered again: the live component did that; a failing record
                # is skipped here, as it was there.
                await self.building.handle_batch(records, dead_letter=False)
                return
            except Exception as exc:
                if classify(exc) is Fault.INFRASTRUCTURE:
                    await asyncio.sleep(0.5)
                # else: handle_batch counts the attempts and isolates the record in time

    def _report(self) -> None:
        now = time.monotonic()
        if now - self._last_report < PROGRESS_EVERY_S:
            return
        self._last_report = now
        rate = self.applied / max(now - self._started, 1e-6)
        log.info(
            "rebuild_progress",
            events=self.applied,
            events_per_s=round(rate),
            remaining_at_least=max(self.total - self.applied, 0),
        )
