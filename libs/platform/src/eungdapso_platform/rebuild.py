"""Rebuild a projection's read model from history without downtime (any service's).

The next generation is built beside the live one from the beginning of the topics the
projection reads, with the projection's own handlers, then swapped in at once (see
`eungdapso_platform.readmodel`). The live service keeps running and serving meanwhile.
Progress is logged every few seconds: events applied, events/s, and how many remain (from
the brokers' end offsets, which the development broker may under-report; the rebuild
therefore reads until the topics stay quiet rather than trusting them).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from eungdapso_platform.consumer import IncomingRecord, Projection
from eungdapso_platform.errors import Fault, classify
from eungdapso_platform.kafka import kafka_consumer
from eungdapso_platform.logging import get_logger
from eungdapso_platform.readmodel import IncompleteRebuild, ReadModels
from eungdapso_platform.settings import ServiceSettings

log = get_logger("eungdapso.rebuild")
PROGRESS_EVERY_S = 2.0


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
        await reader.read_until_quiet(idle_ms)
        async with db.transaction() as conn:
            # Live batches wait from here until the swap commits: nothing they apply can
            # be missed by the final catch-up below.
            live_generation = await models.lock_live(conn, model)
            await reader.read_until_quiet(min(idle_ms, 500))
            if live_generation is not None:
                missing = await models.missing_from(conn, live.ledger_of(live_generation), building.ledger)
                if missing and not force:
                    raise IncompleteRebuild(
                        f"the rebuilt {model.name} lacks {missing} events the live generation "
                        f"{live_generation} applied: the topics hold less history than the live model "
                        "has seen (was the broker's history lost?). The live model stays; nothing was "
                        "swapped. Use --force only after checking why."
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

    async def read_until_quiet(self, idle_ms: int) -> None:
        while True:
            batches = await self.kafka.getmany(timeout_ms=idle_ms, max_records=500)
            for records in batches.values():
                await self._apply([IncomingRecord.from_consumer_record(r) for r in records])
                self.applied += len(records)
                self._report()
            if not batches and all([await self.kafka.position(tp) >= self.end[tp] for tp in self.partitions]):
                return

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
