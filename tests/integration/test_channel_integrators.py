"""Integrators over Kafka, as an integrator sees it: a librdkafka client (confluent-kafka)
publishes `complaint.submitted` CloudEvents in binary mode to the real broker; intake
records each submission once by its CloudEvents source + id and answers on
`eungdapso.intake.replies` (through its event store and outbox relay)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_intake.integrators import Submission, submission_key
from eungdapso_schemas.codes import Channel, ReplyMedium
from eungdapso_schemas.envelope import decode
from eungdapso_schemas.events import ComplaintReceivedV2, SubmissionAnsweredV1
from eungdapso_schemas.streams import DEAD_LETTER, INTAKE_EVENTS, INTAKE_REPLIES, INTEGRATOR_SUBMISSIONS
from tests.support.intake import complaints_recorded, recorded, running_intake
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

SOURCE = "/integrators/seoul-safety-app"
SUBMITTED = "kr.go.seoul.eungdapso.complaint.submitted.v1"
SUBMISSION: dict[str, Any] = {
    "channel": "integration",
    "text": "세종대로 사거리 신호등이 깜빡이기만 해요",
    "kind": "complaint",
    "field": "roads_traffic",
    "place": {"address": "서울특별시 중구 세종대로 110", "district": "jung"},
    "citizen": {"name": "이시민", "phone": "010-5555-1234"},
    "reply_to": {"medium": "sms", "address": "010-5555-1234", "consent": True},
    "disclosure": "public",
    "channel_ref": "safety-app:report-88231",
}


def headers(message_id: str, *, source: str = SOURCE, ce_type: str = SUBMITTED) -> list[tuple[str, bytes]]:
    """Binary mode, as the integrator's librdkafka client sends it (no ce_subject: there is no
    complaint yet)."""
    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", message_id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", ce_type.encode()),
        ("ce_time", datetime.now(UTC).isoformat().encode()),
        ("content-type", b"application/json"),
    ]


async def publish(broker: str, *records: tuple[list[tuple[str, bytes]], dict[str, Any] | bytes]) -> None:
    producer = Producer({"bootstrap.servers": broker})
    for record_headers, value in records:
        body = value if isinstance(value, bytes) else json.dumps(value, ensure_ascii=False).encode()
        message_id = dict(record_headers)["ce_id"]
        producer.produce(INTEGRATOR_SUBMISSIONS.name, key=message_id, value=body, headers=record_headers)
    assert await asyncio.to_thread(producer.flush, 15) == 0


async def answers(broker: str, at_least: int) -> list[tuple[Any, SubmissionAnsweredV1]]:
    records = await read_topic(broker, INTAKE_REPLIES.name, at_least=at_least, timeout=60)
    decoded = [(r, decode(r.headers, r.key, r.value).data) for r in records]
    assert all(isinstance(a, SubmissionAnsweredV1) for _, a in decoded)
    return decoded  # type: ignore[return-value]


async def test_an_accepted_submission_is_answered_with_its_receipt_and_published_as_received(
    database: PostgresTarget, broker: str, tmp_path: Path
) -> None:
    message_id = str(uuid.uuid4())
    async with running_intake(database, tmp_path, broker=broker) as (app, http):
        scan = await http.post(
            "/api/v1/attachments", files={"file": ("a.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")}
        )
        assert scan.status_code == 201, scan.text
        await publish(broker, (headers(message_id), {**SUBMISSION, "attachments": [scan.json()["sha256"]]}))
        [(record, answer)] = await answers(broker, 1)
        [received_record] = await read_topic(broker, INTAKE_EVENTS.name, at_least=1)
        assert answer.complaint_id is not None
        complaint = await recorded(app, answer.complaint_id)

    assert answer.accepted and answer.reason is None
    assert (answer.source, answer.id) == (SOURCE, message_id)
    assert record.key == f"{SOURCE} {message_id}".encode()
    assert dict(record.headers)["ce_causationid"] == message_id.encode()
    assert answer.receipt_no == complaint.receipt_no

    received = decode(received_record.headers, received_record.key, received_record.value).data
    assert isinstance(received, ComplaintReceivedV2)
    assert received.complaint_id == answer.complaint_id and received.receipt_no == answer.receipt_no
    assert received.channel is Channel.INTEGRATION and received.registered_by == SOURCE
    assert received.channel_ref == "safety-app:report-88231"
    assert received.reply_to is not None and received.reply_to.medium is ReplyMedium.SMS
    assert [a.sha256 for a in received.attachments] == [scan.json()["sha256"]]
    assert received.citizen is not None and received.citizen.name == "이시민"


async def test_a_submission_published_twice_is_one_complaint_answered_twice_alike(
    database: PostgresTarget, broker: str, tmp_path: Path
) -> None:
    """The integrator published again (a timeout on its side): nothing new is recorded and the
    same answer comes again, so an integrator that waits for an answer gets one. Another
    integrator's submission with the same id is another submission (keyed on source + id)."""
    message_id = "report-0001"
    async with running_intake(database, tmp_path, broker=broker) as (app, _):
        await publish(broker, (headers(message_id), SUBMISSION))
        [(_, first)] = await answers(broker, 1)
        await publish(
            broker,
            (headers(message_id), SUBMISSION),
            (headers(message_id, source="/integrators/other-app"), SUBMISSION),
        )
        replies = [a for _, a in await answers(broker, 3)]
        submission = await asyncio.to_thread(app.state.intake.app.find, submission_key(SOURCE, message_id))

    ours = [a for a in replies if a.source == SOURCE]
    assert ours == [first, first]
    [theirs] = [a for a in replies if a.source != SOURCE]
    assert theirs.accepted and theirs.complaint_id != first.complaint_id
    assert complaints_recorded(database) == 2
    assert isinstance(submission, Submission) and submission.answers == 2


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"text": "   \n\t "}, "text"),
        ({"attachments": ["ab" * 32]}, "No attachment " + "ab" * 32),
    ],
    ids=["text empty once stripped", "attachment never uploaded"],
)
async def test_a_submission_a_rule_refuses_is_answered_with_the_reason_and_nothing_recorded(
    database: PostgresTarget, broker: str, tmp_path: Path, change: dict[str, Any], reason: str
) -> None:
    message_id = str(uuid.uuid4())
    async with running_intake(database, tmp_path, broker=broker):
        await publish(broker, (headers(message_id), {**SUBMISSION, **change}))
        [(_, answer)] = await answers(broker, 1)
    assert not answer.accepted and answer.id == message_id
    assert answer.reason is not None and reason in answer.reason
    assert answer.receipt_no is None and answer.complaint_id is None
    assert complaints_recorded(database) == 0


async def test_a_record_that_breaks_the_contract_is_dead_lettered_with_the_reason(
    database: PostgresTarget, broker: str, tmp_path: Path
) -> None:
    good = str(uuid.uuid4())
    async with running_intake(database, tmp_path, broker=broker):
        await publish(
            broker,
            (headers("broken-1"), {**SUBMISSION, "kind": "rumour"}),
            (headers("broken-2"), b"{not json"),
            (headers("broken-3"), {**SUBMISSION, "text": "x" * 4001}),
            (headers(good), SUBMISSION),
        )
        dead = await read_topic(broker, DEAD_LETTER.name, at_least=3, timeout=60)
        # The partition goes on: the good submission after them is answered.
        [(_, answer)] = await answers(broker, 1)
    reasons = {dict(r.headers)["ce_id"]: dict(r.headers)["dlq_reason"].decode() for r in dead}
    assert set(reasons) == {b"broken-1", b"broken-2", b"broken-3"}
    assert "kind" in reasons[b"broken-1"]
    assert "not valid JSON" in reasons[b"broken-2"]
    assert "text" in reasons[b"broken-3"]
    assert all(dict(r.headers)["dlq_consumer"] == b"eungdapso-intake.submissions" for r in dead)
    assert answer.accepted and answer.id == good
    assert complaints_recorded(database) == 1
