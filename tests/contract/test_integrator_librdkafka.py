"""The Kafka-facing contract as a channel integrator sees it: a librdkafka client
(confluent-kafka) publishing CloudEvents in binary mode to a real broker."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from confluent_kafka import Producer

from eungdapso_platform.consumer import Projection
from eungdapso_publisher.projection import PublicStatusQueries
from eungdapso_schemas.streams import DEAD_LETTER, INTAKE_EVENTS
from tests.support.kafka import read_topic
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def test_integrator_events_are_consumed_and_broken_ones_dead_lettered(
    broker: str, running_publisher: tuple[Projection, PublicStatusQueries]
) -> None:
    _, projection = running_publisher
    complaint_id = str(uuid.uuid4())
    data = {
        "complaint_id": complaint_id,
        "receipt_no": "2026-0500001",
        "received_at": datetime.now(UTC).isoformat(),
        "channel": "integration",
        "kind": "inquiry",
        "confidential": False,
        "field": "general_admin",
        "text": "120 다산콜센터 연동 테스트",
        "citizen": {"phone": "010-2222-3333"},
    }
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", str(uuid.uuid4()).encode()),
        ("ce_source", b"/integrator/120"),
        ("ce_type", b"kr.go.seoul.eungdapso.complaint.received.v1"),
        ("ce_subject", complaint_id.encode()),
        ("ce_time", datetime.now(UTC).isoformat().encode()),
        ("content-type", b"application/json"),
    ]
    producer = Producer({"bootstrap.servers": broker})
    producer.produce(INTAKE_EVENTS.name, key=complaint_id, value=json.dumps(data).encode(), headers=headers)
    broken = {**data, "kind": "rumour"}
    producer.produce(
        INTAKE_EVENTS.name,
        key=complaint_id,
        value=json.dumps(broken).encode(),
        headers=[(k, str(uuid.uuid4()).encode() if k == "ce_id" else v) for k, v in headers],
    )
    assert producer.flush(15) == 0

    row = await eventually(
        lambda: projection.by_receipt_no("2026-0500001"), what="integrator event projected"
    )
    assert row["channel"] == "integration" and row["status"] == "received"
    [dead] = await read_topic(broker, DEAD_LETTER.name, at_least=1)
    assert b"kind" in dict(dead.headers)["dlq_reason"]
