"""Per-office feeds: each office's cases on a topic of its own,
`eungdapso.casework.office.<office>` (`OFFICE_FEEDS`), so that a department service may be
granted, by Kafka ACLs, its own office's topic and nothing else.

A second relay over casework's notification log copies every case event to its office's
topic (the same CloudEvent as on `eungdapso.casework.events`: same `ce_id`, so a reader
deduplicates a redelivery by it), creating the topic when the office's first case opens. It
keeps its own position and leadership: at least once, never lost, as the main relay.
"""

from __future__ import annotations

from typing import Any

from eungdapso_casework.application import OUTBOX, CaseworkApplication
from eungdapso_casework.settings import CaseworkSettings
from eungdapso_platform.db import Database
from eungdapso_platform.outbox import OutboxRelay, TopicMaker
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import CaseEvent
from eungdapso_schemas.streams import OFFICE_FEEDS


def office_topic(envelope: Envelope[Any]) -> str | None:
    """The feed topic of the office whose case the event is about."""
    data = envelope.data
    return OFFICE_FEEDS.topic(data.office) if isinstance(data, CaseEvent) else None


def office_feeds_relay(
    application: CaseworkApplication, db: Database, settings: CaseworkSettings
) -> OutboxRelay:
    return OutboxRelay(
        name="casework-office-feeds",
        application=application,
        translate=OUTBOX,
        db=db,
        settings=settings,
        topic_for=office_topic,
        topics=TopicMaker(
            settings,
            partitions=settings.office_feed_partitions,
            replication_factor=settings.office_feed_replication_factor,
            configs=OFFICE_FEEDS.kafka_configs(),
        ),
    )
