"""The one intake command every channel ends in, on a real PostgreSQL: idempotency scopes
(per channel message id, per client key), and what the record keeps (v2)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_intake.application import OUTBOX, IntakeApplication
from eungdapso_intake.bootstrap import bootstrap
from eungdapso_intake.services import (
    ComplaintIntake,
    ComplaintSubmission,
    Idempotency,
    IdempotencyKeyReused,
    ReceiveComplaint,
)
from eungdapso_schemas.codes import AttachmentKind, Channel, Disclosure, Field, Kind, ReplyMedium
from eungdapso_schemas.events import (
    AttachmentRef,
    Citizen,
    ComplaintReceivedV2,
    FirstContactResolution,
    ReplyAddress,
)
from tests.integration.test_intake_http import settings_for, stored_events

pytestmark = pytest.mark.integration


@pytest.fixture
def running(database: PostgresTarget) -> Iterator[tuple[TestClient, ComplaintIntake]]:
    with TestClient(bootstrap(settings_for(database))) as client:
        yield client, client.app.state.intake  # type: ignore[attr-defined]


def sms(text: str = "신호등이 고장났어요") -> ReceiveComplaint:
    return ReceiveComplaint(
        channel=Channel.SMS,
        text=text,
        kind=Kind.COMPLAINT,
        channel_ref="twilio:SM0001",
        reply_to=ReplyAddress(medium=ReplyMedium.SMS, address="010-9876-5432", consent=True),
    )


def test_a_channel_message_delivered_twice_is_one_complaint_even_if_the_body_differs(
    running: tuple[TestClient, ComplaintIntake], database: PostgresTarget
) -> None:
    client, intake = running
    first = client.portal.call(
        intake.submit, sms(), Idempotency.channel_message(Channel.SMS, "twilio", "SM0001")
    )  # type: ignore[union-attr]
    again = client.portal.call(  # type: ignore[union-attr]
        intake.submit,
        sms("신호등이 고장났어요!"),
        Idempotency.channel_message(Channel.SMS, "twilio", "SM0001"),
    )
    assert again.complaint_id == first.complaint_id and again.receipt_no == first.receipt_no
    assert again.replayed and not first.replayed
    other_gateway = client.portal.call(  # type: ignore[union-attr]
        intake.submit, sms(), Idempotency.channel_message(Channel.SMS, "munja", "SM0001")
    )
    assert other_gateway.complaint_id != first.complaint_id
    assert stored_events(database) == 2


def test_two_clients_using_the_same_idempotency_key_never_collide(
    running: tuple[TestClient, ComplaintIntake], database: PostgresTarget
) -> None:
    client, intake = running
    command = ReceiveComplaint(channel=Channel.APP, text="가로등이 꺼져 있어요", kind=Kind.COMPLAINT)
    mine = client.portal.call(intake.submit, command, Idempotency.client_key("k-1", client="app-a"))  # type: ignore[union-attr]
    theirs = client.portal.call(intake.submit, command, Idempotency.client_key("k-1", client="app-b"))  # type: ignore[union-attr]
    anonymous = client.portal.call(intake.submit, command, Idempotency.client_key("k-1"))  # type: ignore[union-attr]
    assert len({mine.complaint_id, theirs.complaint_id, anonymous.complaint_id}) == 3
    assert not theirs.replayed and not anonymous.replayed
    changed = command.model_copy(update={"text": "다른 내용"})
    with pytest.raises(IdempotencyKeyReused):
        client.portal.call(intake.submit, changed, Idempotency.client_key("k-1", client="app-a"))  # type: ignore[union-attr]
    assert stored_events(database) == 3


def test_the_record_keeps_channel_reply_address_disclosure_attachments_and_first_contact(
    running: tuple[TestClient, ComplaintIntake],
) -> None:
    client, intake = running
    answered_at = datetime(2026, 11, 23, 1, 2, tzinfo=UTC)
    command = ReceiveComplaint(
        channel=Channel.PHONE,
        text="여권 발급 서류를 묻는 전화, 상담 DB로 안내함",
        kind=Kind.INQUIRY,
        citizen=Citizen(phone="010-5555-1212"),
        channel_ref="call:120-20261123-0001",
        registered_by="120 agent 4711",
        disclosure=Disclosure.PUBLIC,
        attachments=(
            AttachmentRef(
                sha256="cd" * 32, media_type="audio/mpeg", kind=AttachmentKind.VOICE, size_bytes=2048
            ),
        ),
        reply_to=ReplyAddress(medium=ReplyMedium.PHONE, address="010-5555-1212", consent=False),
        first_contact=FirstContactResolution(agent="4711", answer="여권과에서 발급", answered_at=answered_at),
        interpreted=True,
    )
    result = client.portal.call(  # type: ignore[union-attr]
        intake.submit, command, Idempotency.channel_message(Channel.PHONE, "120", "120-20261123-0001")
    )
    application: IntakeApplication = intake.app
    stored = application.complaint(result.complaint_id)
    assert stored is not None and stored.resolved_at_first_contact
    (received,) = list(application.events.get(result.complaint_id))
    envelope = OUTBOX(received)
    assert envelope is not None
    published = envelope.data
    assert isinstance(published, ComplaintReceivedV2)
    assert published.channel is Channel.PHONE and published.channel_ref == "call:120-20261123-0001"
    assert published.registered_by == "120 agent 4711" and published.interpreted
    assert published.disclosure is Disclosure.PUBLIC
    assert published.attachments == command.attachments
    assert published.reply_to == command.reply_to and published.first_contact == command.first_contact


def test_a_confidential_report_is_never_public_whatever_was_chosen(
    running: tuple[TestClient, ComplaintIntake],
) -> None:
    client, intake = running
    command = ReceiveComplaint(
        channel=Channel.WEB,
        text="공무원이 금품을 요구했습니다",
        kind=Kind.CORRUPTION_REPORT,
        disclosure=Disclosure.PUBLIC,
    )
    result = client.portal.call(intake.submit, command, Idempotency.client_key(None))  # type: ignore[union-attr]
    stored = intake.app.complaint(result.complaint_id)
    assert stored is not None and stored.confidential and stored.disclosure is Disclosure.PRIVATE


def test_the_record_keeps_the_subject_chosen_and_its_field(
    running: tuple[TestClient, ComplaintIntake],
) -> None:
    client, intake = running
    text = "  우리 집 앞 소화전 앞에 매일 불법주차  "
    submission = ComplaintSubmission(text=text, kind=Kind.COMPLAINT, subject="illegal_parking")
    command = ReceiveComplaint.from_web(submission)
    result = client.portal.call(intake.submit, command, Idempotency.client_key(None))  # type: ignore[union-attr]
    (received,) = list(intake.app.events.get(result.complaint_id))
    envelope = OUTBOX(received)
    assert envelope is not None and isinstance(envelope.data, ComplaintReceivedV2)
    published = envelope.data
    # The text is what the citizen wrote (trimmed); the subject says what it is about, and
    # its field follows.
    assert published.text == text.strip()
    assert published.subject == "illegal_parking" and published.field is Field.ROADS_TRAFFIC
    # Without a subject the record says none (the router classifies the text).
    plain = client.portal.call(intake.submit, sms(), Idempotency.client_key(None))  # type: ignore[union-attr]
    stored = intake.app.complaint(plain.complaint_id)
    assert stored is not None and stored.subject is None and stored.field is None
