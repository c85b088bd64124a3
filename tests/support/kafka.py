from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from eungdapso_platform.kafka import KafkaSettings, kafka_consumer, kafka_producer


def _settings(kafka: str | KafkaSettings) -> KafkaSettings:
    """Bootstrap servers (plaintext) or full client settings (TLS, SASL)."""
    return KafkaSettings(kafka_bootstrap_servers=kafka) if isinstance(kafka, str) else kafka


async def read_topic(
    kafka: str | KafkaSettings, topic: str, *, at_least: int, timeout: float = 30.0
) -> list[Any]:
    """Every record of `topic` from the beginning, once at least `at_least` are there."""
    consumer = kafka_consumer(
        _settings(kafka), client_id="test-reader", enable_auto_commit=False, group_id=None,
        fetch_max_wait_ms=500, request_timeout_ms=40_000,
    )  # fmt: skip
    await consumer.start()
    records: list[Any] = []
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(await _partitions(consumer, topic))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
            if len(records) >= at_least:
                # Drain what else is there right now, so callers can check for duplicates.
                await asyncio.sleep(0.3)
                for recs in (await consumer.getmany(timeout_ms=300)).values():
                    records.extend(recs)
                return records
    finally:
        await consumer.stop()
    raise AssertionError(f"{topic}: {len(records)} records, expected at least {at_least}")


async def produce(
    kafka: str | KafkaSettings, topic: str, records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]
) -> None:
    producer = kafka_producer(_settings(kafka), client_id="test-producer", request_timeout_ms=40_000)
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer.topics()  # loads cluster metadata
    return consumer.partitions_for_topic(topic) or set()
