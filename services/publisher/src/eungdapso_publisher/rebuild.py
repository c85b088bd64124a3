"""Drop the public read model and rebuild it from history (the Kafka topics).

Run it while the publisher is stopped. It reads every partition of the topics the
publisher consumes from the beginning up to their current end, through the same
idempotent consumer code the live service uses, then exits. When the service starts
again it resumes from its committed offsets; records the rebuild already applied are
in the ledger and are skipped. Replay needs the topics' full history: on Apache Kafka
give them `retention.ms=-1` (see README).
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from eungdapso_platform.consumer import IncomingRecord
from eungdapso_platform.db import Database
from eungdapso_platform.logging import configure_logging, get_logger
from eungdapso_platform.settings import load_settings
from eungdapso_publisher.bootstrap import build_consumer
from eungdapso_publisher.settings import PublisherSettings

log = get_logger("eungdapso.publisher.rebuild")
IDLE_MS = 1000


async def rebuild(settings: PublisherSettings) -> int:
    db = Database.for_service(settings)
    await db.open()
    consumer, projection = build_consumer(settings, db, broker=None)
    kafka = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        request_timeout_ms=settings.kafka_request_timeout_ms,
    )
    await kafka.start()
    applied = 0
    started = time.monotonic()
    try:
        partitions = []
        for topic in consumer.topics:
            for p in sorted(await _partitions(kafka, topic.name)):
                partitions.append(TopicPartition(topic.name, p))
        kafka.assign(partitions)
        await kafka.seek_to_beginning(*partitions)
        end = await kafka.end_offsets(partitions)
        total = sum(end.values())
        log.info("rebuild_started", partitions=len(partitions), records_at_least=total)
        await projection.drop()
        await projection.create()
        # Read to the end offsets, then on until the topics stay quiet: the development
        # broker under-reports end offsets after batched produces (see README, known limits).
        while True:
            batches = await kafka.getmany(timeout_ms=IDLE_MS)
            for records in batches.values():
                for record in records:
                    await consumer.handle(IncomingRecord.from_consumer_record(record), dead_letter=False)
                    applied += 1
                    if applied % 1000 == 0:
                        log.info("rebuild_progress", applied=applied, of_at_least=total)
            if not batches and all([await kafka.position(tp) >= end[tp] for tp in partitions]):
                break
        log.info("rebuild_finished", records=applied, seconds=round(time.monotonic() - started, 2))
    finally:
        await kafka.stop()
        await db.close()
    return applied


def main() -> None:
    settings = load_settings(PublisherSettings)
    configure_logging("publisher-rebuild", settings.log_level)
    asyncio.run(rebuild(settings))


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer.topics()  # loads cluster metadata
    return consumer.partitions_for_topic(topic) or set()
