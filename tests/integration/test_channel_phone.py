"""The 120 Dasan call centre's agent desks on a real PostgreSQL (and broker): a call as the
agent records it becomes a complaint, once, with its first-contact resolution kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_intake.clients import Scope
from eungdapso_schemas.codes import Channel, Kind, Language, ReplyMedium
from eungdapso_schemas.envelope import decode
from eungdapso_schemas.events import ComplaintReceivedV2
from eungdapso_schemas.streams import INTAKE_EVENTS
from tests.support.intake import (
    REFUSED_CALLERS,
    complaints_recorded,
    desk_key,
    presented_key,
    recorded,
    running_intake,
)
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

CALLS = "/api/v1/channels/phone/calls"
CALL: dict[str, Any] = {
    "call_id": "20261122-093015-0042",
    "agent_id": "A0123",
    "caller_number": "010-2345-6789",
    "language": "en",
    "interpreted": True,
    "summary": "Asked which bus goes from Seoul Station to the city hall at night",
    "field": "roads_traffic",
    "callback_consent": True,
    "resolved_at_first_contact": True,
    "answer": "Night bus N16 (owl bus), every 40 minutes from 00:00",
}


async def test_a_call_is_recorded_with_its_agent_caller_and_first_contact_answer(
    database: PostgresTarget, tmp_path: Path
) -> None:
    async with running_intake(database, tmp_path) as (app, http):
        key = await desk_key(app, "dasan-120-desk7", Scope.PHONE)
        response = await http.post(CALLS, json=CALL, headers=key)
        assert response.status_code == 201, response.text
        receipt = response.json()
        assert set(receipt) == {"complaint_id", "receipt_no", "follow_url"}
        assert response.headers["location"] == f"/api/v1/complaints/{receipt['receipt_no']}"

        complaint = await recorded(app, receipt["complaint_id"])
        assert complaint.receipt_no == receipt["receipt_no"]
        assert complaint.channel is Channel.PHONE and complaint.channel_ref == "call:20261122-093015-0042"
        assert complaint.registered_by == "dasan-120-desk7/A0123"
        assert complaint.kind is Kind.INQUIRY  # a call's default: most are questions
        assert complaint.language is Language.EN and complaint.interpreted
        assert complaint.text == CALL["summary"]
        assert complaint.citizen is not None and complaint.citizen.phone == "010-2345-6789"
        reply = complaint.reply_to
        assert reply is not None and reply.medium is ReplyMedium.PHONE and reply.consent
        assert reply.address == "010-2345-6789"
        # Kept so that the first-contact resolution rate can be counted.
        assert complaint.resolved_at_first_contact
        fcr = complaint.first_contact
        assert fcr is not None and fcr.agent == "dasan-120-desk7/A0123" and fcr.answer == CALL["answer"]
        assert fcr.answered_at.tzinfo is not None


async def test_a_call_from_a_withheld_number_that_stays_open_keeps_no_caller_and_no_resolution(
    database: PostgresTarget, tmp_path: Path
) -> None:
    call = {
        "call_id": "c-7",
        "agent_id": "A0007",
        "summary": "도로 파손 신고: 세종대로 110 앞 보도블록이 깨졌어요",
        "kind": "complaint",
    }
    async with running_intake(database, tmp_path) as (app, http):
        response = await http.post(CALLS, json=call, headers=await desk_key(app, "dasan-120", Scope.PHONE))
        assert response.status_code == 201, response.text
        complaint = await recorded(app, response.json()["complaint_id"])
        assert complaint.kind is Kind.COMPLAINT and complaint.language is Language.KO
        assert complaint.citizen is None and complaint.reply_to is None
        assert not complaint.resolved_at_first_contact and not complaint.interpreted


async def test_the_same_call_sent_again_answers_the_first_receipt_and_records_nothing_new(
    database: PostgresTarget, tmp_path: Path
) -> None:
    async with running_intake(database, tmp_path) as (app, http):
        key = await desk_key(app, "dasan-120-desk7", Scope.PHONE)
        first = await http.post(CALLS, json=CALL, headers=key)
        again = await http.post(CALLS, json=CALL, headers=key)
        # Call ids are the call centre's: another desk relaying the same call is the same call.
        elsewhere = await http.post(
            CALLS, json=CALL, headers=await desk_key(app, "dasan-120-desk9", Scope.PHONE)
        )
        assert first.status_code == 201
        for repeat in (again, elsewhere):
            assert repeat.status_code == 200, repeat.text
            assert repeat.headers["idempotent-replayed"] == "true"
            assert repeat.json() == first.json()
        assert "idempotent-replayed" not in first.headers
        assert complaints_recorded(database) == 1


@pytest.mark.parametrize("who", REFUSED_CALLERS)
async def test_only_a_phone_desk_key_may_record_calls(
    database: PostgresTarget, tmp_path: Path, who: str
) -> None:
    async with running_intake(database, tmp_path) as (app, http):
        # Another desk's key: a visit counter's, on the phone endpoint.
        headers = await presented_key(app, who, Scope.PHONE, Scope.VISIT)
        response = await http.post(CALLS, json=CALL, headers=headers)
        expected = 403 if who == "another desk's key" else 401
        assert response.status_code == expected, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        if expected == 401:
            assert response.headers["www-authenticate"].startswith("Bearer")
        assert complaints_recorded(database) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"call_id": None}, "call_id"),
        ({"call_id": "has spaces in it"}, "call_id"),
        ({"agent_id": "x" * 25}, "agent_id"),
        ({"caller_number": "call me"}, "caller_number"),
        ({"language": "fr"}, "language"),
        ({"summary": "   "}, "summary"),
        ({"kind": "gossip"}, "kind"),
        ({"disclosure": "shout"}, "disclosure"),
        ({"answer": None}, "answer"),  # resolved at first contact, but no answer recorded
        ({"resolved_at_first_contact": False}, "answer"),  # an answer for an open call
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_call_records_get_a_problem_naming_the_field(
    database: PostgresTarget, tmp_path: Path, change: dict[str, Any], field: str
) -> None:
    call = {k: v for k, v in {**CALL, **change}.items() if v is not None}
    async with running_intake(database, tmp_path) as (app, http):
        response = await http.post(CALLS, json=call, headers=await desk_key(app, "dasan-120", Scope.PHONE))
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in response.json()["errors"]]
        assert complaints_recorded(database) == 0


async def test_a_call_reaches_the_intake_stream_with_its_first_contact_resolution(
    database: PostgresTarget, broker: str, tmp_path: Path
) -> None:
    async with running_intake(database, tmp_path, broker=broker) as (app, http):
        response = await http.post(CALLS, json=CALL, headers=await desk_key(app, "dasan-120", Scope.PHONE))
        assert response.status_code == 201, response.text
        [record] = await read_topic(broker, INTAKE_EVENTS.name, at_least=1)
    event = decode(record.headers, record.key, record.value)
    assert record.key == response.json()["complaint_id"].encode()
    received = event.data
    assert isinstance(received, ComplaintReceivedV2)
    assert received.receipt_no == response.json()["receipt_no"]
    assert received.channel is Channel.PHONE and received.interpreted
    assert received.first_contact is not None and received.first_contact.answer == CALL["answer"]
    assert received.registered_by == "dasan-120/A0123"
