"""The CloudEvents envelope: what is encoded is decoded; what breaks the contract says why."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from eungdapso_schemas.envelope import ContractViolation, Envelope, decode, encode
from eungdapso_schemas.events import Citizen, ComplaintAssignedV1, ComplaintReceivedV1, Office


def received(**overrides: object) -> ComplaintReceivedV1:
    values: dict[str, object] = {
        "complaint_id": uuid.uuid4(),
        "receipt_no": "2026-0000123",
        "received_at": datetime(2026, 11, 22, 9, 0, tzinfo=UTC),
        "channel": "web",
        "kind": "complaint",
        "confidential": False,
        "field": "roads_traffic",
        "text": "만리재로 193 앞 육교 계단에 구멍이 났어요",
        "citizen": Citizen(name="홍길동", phone="010-1234-5678"),
    }
    values.update(overrides)
    return ComplaintReceivedV1.model_validate(values)


def envelope_of(payload: ComplaintReceivedV1) -> Envelope[ComplaintReceivedV1]:
    return Envelope(
        id=str(uuid.uuid4()),
        source="/eungdapso/intake",
        time=payload.received_at,
        subject=str(payload.complaint_id),
        data=payload,
        correlation_id="c0ffee00c0ffee00",
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )


def test_round_trip_keeps_every_attribute_and_keys_by_complaint() -> None:
    env = envelope_of(received())
    record = encode(env)
    headers = dict(record.headers)
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"kr.go.seoul.eungdapso.complaint.received.v1"
    assert headers["content-type"] == b"application/json"
    assert headers["ce_dataschema"] == b"urn:eungdapso:schema:complaint.received.v1"
    assert record.key == str(env.data.complaint_id).encode()
    back = decode(record.headers, record.key, record.value)
    assert back == env


def test_assigned_round_trip() -> None:
    payload = ComplaintAssignedV1(
        complaint_id=uuid.uuid4(),
        receipt_no="2026-0000001",
        assigned_at=datetime.now(UTC),
        office=Office(code="seoul.transport", name="도시교통실", level="headquarters"),
        rule="field:roads_traffic",
    )
    env = Envelope(
        id="x1",
        source="/eungdapso/router",
        time=payload.assigned_at,
        subject=str(payload.complaint_id),
        data=payload,
    )
    record = encode(env)
    assert decode(record.headers, record.key, record.value) == env


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h, v: ([x for x in h if x[0] != "ce_specversion"], v), "ce_specversion is missing"),
        (lambda h, v: (h, b"{not json"), "not valid JSON"),
        (lambda h, v: ([x for x in h if x[0] != "ce_id"], v), "malformed CloudEvent"),
        (
            lambda h, v: (
                [(k, b"kr.go.seoul.eungdapso.unknown.v1" if k == "ce_type" else x) for k, x in h],
                v,
            ),
            "unknown event type",
        ),
        (
            lambda h, v: (
                [(k, b"kr.go.seoul.eungdapso.complaint.received" if k == "ce_type" else x) for k, x in h],
                v,
            ),
            "no version suffix",
        ),
        (lambda h, v: (h, json.dumps({**json.loads(v), "kind": "gossip"}).encode()), "kind"),
        (lambda h, v: (h, json.dumps({**json.loads(v), "receipt_no": "123"}).encode()), "receipt_no"),
        (lambda h, v: (h, b"[1, 2]"), "not a JSON object"),
        (lambda h, v: ([(k, b"0.3" if k == "ce_specversion" else x) for k, x in h], v), "specversion"),
    ],
)
def test_contract_violations_name_the_reason(mutate, reason: str) -> None:  # type: ignore[no-untyped-def]
    record = encode(envelope_of(received()))
    headers, value = mutate(list(record.headers), record.value)
    with pytest.raises(ContractViolation, match=reason):
        decode(headers, record.key, value)


def test_newer_producer_fields_are_ignored_by_v1_consumers() -> None:
    original = envelope_of(received())
    record = encode(original)
    value = json.dumps({**json.loads(record.value), "urgency": "high"}).encode()
    decoded = decode(record.headers, record.key, value)
    assert decoded == original
    assert not hasattr(decoded.data, "urgency")


def test_confidential_kinds() -> None:
    from eungdapso_schemas.codes import Kind

    assert {k for k in Kind if k.confidential} == {
        Kind.CORRUPTION_REPORT,
        Kind.WHISTLEBLOWING,
        Kind.HUMAN_RIGHTS,
    }


def test_a_submission_needs_no_subject_but_a_complaint_event_does() -> None:
    """An integrator's submission has no complaint id yet; every complaint event names its own."""
    from eungdapso_schemas.events import ComplaintSubmittedV1

    submitted = Envelope(
        id="partner-0001",
        source="/integrators/partner",
        time=datetime(2026, 11, 22, 9, 0, tzinfo=UTC),
        subject=None,
        data=ComplaintSubmittedV1.example(),
    )
    record = encode(submitted)
    assert "ce_subject" not in dict(record.headers)
    assert decode(record.headers, record.key, record.value) == submitted

    complaint = encode(envelope_of(received()))
    without_subject = [(k, v) for k, v in complaint.headers if k != "ce_subject"]
    with pytest.raises(ContractViolation, match="ce_subject is missing"):
        decode(without_subject, complaint.key, complaint.value)


def test_an_answer_is_keyed_by_the_submission_it_answers() -> None:
    from eungdapso_schemas.events import SubmissionAnsweredV1

    answer = SubmissionAnsweredV1.example()
    env = Envelope(
        id="a-1",
        source="/eungdapso/intake",
        time=datetime.now(UTC),
        subject=answer.cloudevents_subject,
        data=answer,
    )
    record = encode(env)
    assert record.key == f"{answer.source} {answer.id}".encode()
    assert decode(record.headers, record.key, record.value) == env
    elsewhere = [(k, b"/other 1" if k == "ce_subject" else v) for k, v in record.headers]
    with pytest.raises(ContractViolation, match="source and id of the submission"):
        decode(elsewhere, record.key, record.value)
