"""`python -m eungdapso_publisher statistics --month YYYY-MM [--by office] [--format json|csv]`:
recompute a month's statistics from the topics alone (no database) and print them.

It reads the five streams from the beginning until it has passed the end offsets they had
when it started and they stay quiet for a second, takes each event once (by its CloudEvents
id, as the projection's ledger does), skips what the projection would dead-letter or skip,
and folds and counts with the projection's own
functions (`statistics.fold`, `statistics.figures`): an outsider's recomputation, and the
published numbers' check. Only `KAFKA_*` variables are read.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from aiokafka import TopicPartition

from eungdapso_platform.kafka import KafkaEnvSettings, KafkaSettings, kafka_consumer
from eungdapso_platform.logging import configure_logging, get_logger
from eungdapso_publisher.statistics import (
    COMPLAINT_EVENTS,
    MONTH_PATTERN,
    RATING_EVENTS,
    ComplaintFacts,
    Dimension,
    RatingFact,
    StatisticsReport,
    as_csv,
    figures,
    fold,
)
from eungdapso_schemas.envelope import ContractViolation, decode, event_type_of
from eungdapso_schemas.events import ComplaintEvent, RatedV1
from eungdapso_schemas.streams import stream_for

log = get_logger("eungdapso.publisher.statistics")
HANDLED = frozenset(p.cloudevents_type() for p in (*COMPLAINT_EVENTS, *RATING_EVENTS))
TOPICS = tuple(sorted({stream_for(p).name for p in (*COMPLAINT_EVENTS, *RATING_EVENTS)}))


class History:
    """The facts of every complaint and rating the topics tell of."""

    def __init__(self) -> None:
        self.complaints: dict[UUID, ComplaintFacts] = {}
        self.ratings: dict[UUID, RatingFact] = {}
        self.seen: set[str] = set()
        self.skipped = 0

    def take(self, topic: str, key: bytes | None, value: bytes | None, headers: Iterable[Any]) -> None:
        headers = [(name, raw) for name, raw in headers or ()]
        if event_type_of(headers) not in HANDLED:
            return
        try:
            envelope = decode(headers, key, value)
        except ContractViolation:
            self.skipped += 1  # the live projection dead-letters it
            return
        if stream_for(type(envelope.data)).name != topic or envelope.id in self.seen:
            self.skipped += stream_for(type(envelope.data)).name != topic
            return
        self.seen.add(envelope.id)
        e = envelope.data
        if isinstance(e, RatedV1):
            self.ratings[e.invitation_id] = RatingFact.of(e)
        elif isinstance(e, ComplaintEvent):
            known = self.complaints.get(e.complaint_id) or ComplaintFacts(e.complaint_id)
            self.complaints[e.complaint_id] = fold(known, e)

    def report(self, month: str, by: Dimension) -> StatisticsReport:
        return figures(month, by, self.complaints.values(), self.ratings.values())


async def read_history(settings: KafkaSettings, *, idle_ms: int = 1000, stall_s: float = 60.0) -> History:
    """Every event of the statistics' streams, from the beginning until they fall quiet."""
    history = History()
    consumer = kafka_consumer(
        settings, client_id="eungdapso-publisher-statistics", enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        await consumer.topics()  # loads cluster metadata
        partitions = [
            TopicPartition(topic, p)
            for topic in TOPICS
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        stalled_since = time.monotonic()
        # Until the end offsets are reached and the topics stay quiet for `idle_ms`: a
        # development broker may report end offsets short of what it holds.
        while True:
            batches = await consumer.getmany(timeout_ms=idle_ms, max_records=1000)
            for records in batches.values():
                for r in records:
                    history.take(r.topic, r.key, r.value, r.headers)
            if batches:
                stalled_since = time.monotonic()
                continue
            if all([await consumer.position(tp) >= end[tp] for tp in partitions]):
                break
            if time.monotonic() - stalled_since > stall_s:
                raise TimeoutError(f"the topics stopped short of their end offsets for {stall_s:.0f} s")
    finally:
        await consumer.stop()
    log.info("statistics_history_read", events=len(history.seen), skipped=history.skipped)
    return history


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m eungdapso_publisher statistics", description=__doc__)
    parser.add_argument("--month", required=True, help="a calendar month in Asia/Seoul, YYYY-MM")
    parser.add_argument("--by", choices=[d.value for d in Dimension], default=Dimension.CITY.value)
    parser.add_argument("--format", choices=["json", "csv"], default="json")
    args = parser.parse_args(argv)
    if not re.match(MONTH_PATTERN, args.month):
        parser.error(f"--month is YYYY-MM, not {args.month!r}")
    settings = KafkaEnvSettings()
    configure_logging("publisher-statistics", "INFO")  # on stderr: stdout is the report
    report = asyncio.run(read_history(settings)).report(args.month, Dimension(args.by))
    sys.stdout.write(as_csv(report) if args.format == "csv" else report.model_dump_json(indent=2) + "\n")
