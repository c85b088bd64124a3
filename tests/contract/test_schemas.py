"""Contracts: checked-in JSON Schemas and AsyncAPI match the models and the stream registry;
versions stay compatible; the registry agrees with the services' consumer components."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import ValidationError

from eungdapso_platform.consumer import Component
from eungdapso_platform.service import Overrides
from eungdapso_schemas import export
from eungdapso_schemas.codes import Disclosure
from eungdapso_schemas.events import (
    BroadcastDeliveredV1,
    BroadcastDeliveryFailedV1,
    BroadcastPostedV1,
    ComplaintAssignedV1,
    ComplaintAssignedV2,
    ComplaintReceivedV1,
    ComplaintReceivedV2,
    ComplaintSubmittedV1,
    DeadlineBreachedV1,
    DirectoryPublishedV1,
    Payload,
    RatedV1,
    SubmissionAnsweredV1,
    schema_file_stem,
)
from eungdapso_schemas.streams import ALL_TOPICS, FEEDS, OFFICE_FEEDS, PAYLOADS, STREAMS, stream_for
from eungdapso_schemas.system import EXTERNAL_PARTIES


def test_checked_in_contract_files_match_the_models() -> None:
    """Fails when a model changes and `make schemas` was not run (schema drift)."""
    assert export.main(["--check"]) == 0


def test_drift_is_detected(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    stale = tmp_path / "asyncapi.yaml"
    stale.write_text("asyncapi: 3.0.0\n", encoding="utf-8")
    monkeypatch.setattr(export, "ASYNCAPI_FILE", stale)
    assert export.main(["--check"]) == 1


#: Per type without a receipt number, values its schema must refuse: malformed, and too
#: large for a consumer's storage.
BROKEN: dict[type[Payload], tuple[tuple[str, object], ...]] = {
    ComplaintSubmittedV1: (("kind", "rumour"), ("text", "x" * 4001), ("attachments", ["not-a-sha256"])),
    DirectoryPublishedV1: (("version", 0), ("offices", []), ("content_hash", "XYZ")),
    # Broadcasts: an unknown district, a target that is no account code or opaque reference.
    BroadcastPostedV1: (("districts", ["atlantis"]), ("text", "x" * 2001)),
    BroadcastDeliveredV1: (("target", "sms:+82 10 1234 5678"), ("target", "mayor.x")),
    BroadcastDeliveryFailedV1: (("attempts", 0), ("target", "account:")),
}


def breakage(model: type[Payload]) -> tuple[tuple[str, object], ...]:
    if "receipt_no" in model.model_fields:
        return (("receipt_no", "no"), ("receipt_no", "2026-" + "1" * 30_000))
    return BROKEN[model]


@pytest.mark.parametrize("model", PAYLOADS, ids=lambda m: m.__name__)
def test_json_schema_accepts_the_models_example_and_refuses_breakage(model: type[Payload]) -> None:
    schema = json.loads((export.JSONSCHEMA_DIR / f"{schema_file_stem(model)}.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    example = model.example().model_dump(mode="json")
    jsonschema.validate(example, schema)
    assert model.model_validate(example) == model.example()
    for field, value in breakage(model):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**example, field: value}, schema)


def test_each_event_type_travels_on_exactly_one_stream_its_owners() -> None:
    seen = [p for s in STREAMS for p in s.payloads]
    assert len(seen) == len(set(seen)) == len(PAYLOADS)
    assert stream_for(ComplaintReceivedV1).owner == "intake"
    # Integrators (outside the system) own what they submit; intake owns its answers.
    assert stream_for(ComplaintSubmittedV1).owner == "integrators"
    assert stream_for(SubmissionAnsweredV1).owner == "intake"
    assert {t.name for t in ALL_TOPICS} == {
        "eungdapso.intake.events",
        "eungdapso.intake.replies",
        "eungdapso.integrators.submissions",
        "eungdapso.router.events",
        "eungdapso.casework.events",
        "eungdapso.sla.events",
        "eungdapso.rating.events",
        "eungdapso.rating.links",
        "eungdapso.notifier.events",
        "eungdapso.deadletter",
    }
    assert stream_for(DeadlineBreachedV1).owner == "sla"
    assert stream_for(RatedV1).owner == "rating"


def components_of_every_service() -> list[Component[Any]]:
    """Every consumer component the services build, without connecting to anything."""
    from eungdapso_casework.bootstrap import build as casework
    from eungdapso_casework.settings import CaseworkSettings
    from eungdapso_intake.bootstrap import build as intake
    from eungdapso_intake.settings import IntakeSettings
    from eungdapso_notifier.bootstrap import build as notifier
    from eungdapso_notifier.settings import NotifierSettings
    from eungdapso_publisher.bootstrap import build as publisher
    from eungdapso_publisher.settings import PublisherSettings
    from eungdapso_rating.bootstrap import build as rating
    from eungdapso_rating.settings import RatingSettings
    from eungdapso_router.bootstrap import build as router
    from eungdapso_router.settings import RouterSettings
    from eungdapso_sla.bootstrap import build as sla
    from eungdapso_sla.settings import SlaSettings

    seams = Overrides(in_memory_ledger=True)
    return [
        *intake(IntakeSettings(), seams)[0].components,
        *router(RouterSettings(), seams).components,
        *publisher(PublisherSettings(), seams).components,
        *casework(CaseworkSettings(), seams).components,
        *sla(SlaSettings(), seams).components,
        *rating(RatingSettings(), seams).components,
        *notifier(NotifierSettings(), seams).components,
    ]


def test_the_registry_names_exactly_the_consumers_the_services_run() -> None:
    """Who consumes which type, as the registry (and so AsyncAPI) says, is what the code does
    (parties outside the system, the integrators, run nothing here)."""
    registered = {
        (c, p)
        for s in STREAMS
        for carried in s.carries
        for c in carried.consumers
        for p in [carried.payload]
        if c not in EXTERNAL_PARTIES
    }
    running = {(component.id, p) for component in components_of_every_service() for p in component.handlers}
    assert running == registered


def test_asyncapi_has_a_message_per_type_and_an_operation_per_consumer() -> None:
    doc = yaml.safe_load(export.ASYNCAPI_FILE.read_text(encoding="utf-8"))
    assert doc["info"]["version"] == "2.8.0"
    assert {c["address"] for c in doc["channels"].values()} == {t.name for t in ALL_TOPICS} | {
        f.pattern for f in FEEDS
    }
    assert {m for m in doc["components"]["messages"]} == {p.__name__ for p in PAYLOADS} | {"DeadLetter"}
    receives = {k: op for k, op in doc["operations"].items() if op["action"] == "receive"}
    for component in components_of_every_service():
        for stream in component.streams:
            op = receives[f"{component.id.replace('.', '_')}_consumes_{stream.name.replace('.', '_')}"]
            taken = {ref["$ref"].rsplit("/", 1)[-1] for ref in op["messages"]}
            assert taken == {p.__name__ for p in component.handlers if p in stream.payloads}


def test_v1_fields_stay_compatible() -> None:
    """Backward compatibility: a v1 schema may only gain optional fields, never new required ones."""
    schema = json.loads((export.JSONSCHEMA_DIR / "complaint.received.v1.json").read_text())
    assert set(schema["required"]) == {
        "complaint_id",
        "receipt_no",
        "received_at",
        "channel",
        "kind",
        "confidential",
        "text",
    }
    assert ComplaintReceivedV1.model_config.get("extra") == "ignore"


def test_a_v1_consumer_reads_a_v2_record_unchanged() -> None:
    """Intake publishes v2 since contract 2.1; a consumer built for v1 reads it as before."""
    v2 = ComplaintReceivedV2.example()
    record = json.loads(v2.model_dump_json())
    v1_schema = json.loads((export.JSONSCHEMA_DIR / "complaint.received.v1.json").read_text())
    jsonschema.validate(record, v1_schema)
    as_v1 = ComplaintReceivedV1.model_validate(record)
    assert as_v1.model_dump() == v2.model_dump(include=set(ComplaintReceivedV1.model_fields))
    assert "reply_to" not in as_v1.model_dump()


def test_a_v1_record_reads_as_v2_private_and_without_attachments() -> None:
    v1 = ComplaintReceivedV1.example()
    v2 = ComplaintReceivedV2.from_v1(v1)
    assert v2.disclosure is Disclosure.PRIVATE
    assert v2.attachments == () and v2.reply_to is None and v2.first_contact is None
    assert v2.model_dump(include=set(ComplaintReceivedV1.model_fields)) == v1.model_dump()


def test_a_submission_is_no_complaint_event_and_its_answer_is_keyed_by_its_source_and_id() -> None:
    """An integrator's submission has no complaint id yet: its ce_subject is optional. The
    answer names the submission and is complete either way (receipt, or reason)."""
    doc = yaml.safe_load(export.ASYNCAPI_FILE.read_text(encoding="utf-8"))
    messages = doc["components"]["messages"]
    assert "ce_subject" not in messages["ComplaintSubmittedV1"]["headers"]["required"]
    assert "ce_subject" in messages["ComplaintReceivedV2"]["headers"]["required"]
    answer = SubmissionAnsweredV1.example()
    assert answer.cloudevents_subject == f"{answer.source} {answer.id}"
    refused = SubmissionAnsweredV1(source="/partner", id="m-1", accepted=False, reason="text: empty")
    assert refused.receipt_no is None
    for incomplete in (
        {"accepted": True},
        {
            "accepted": True,
            "complaint_id": str(answer.complaint_id),
            "receipt_no": "2026-0000001",
            "reason": "x",
        },
        {"accepted": False},
        {"accepted": False, "reason": "x", "receipt_no": "2026-0000001"},
    ):
        with pytest.raises(ValueError, match="submission"):
            SubmissionAnsweredV1.model_validate({"source": "/partner", "id": "m-1", **incomplete})


def test_a_v2_subject_is_a_code_of_the_taxonomy() -> None:
    example = ComplaintReceivedV2.example().model_dump(mode="json")
    schema = json.loads((export.JSONSCHEMA_DIR / "complaint.received.v2.json").read_text())
    assert example["subject"] == "footbridge"
    jsonschema.validate({**example, "subject": None}, schema)
    for malformed in ("Footbridge", "육교", "x" * 61):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**example, "subject": malformed}, schema)
    # Well formed, but not in the taxonomy: refused by the model (the schema bounds only).
    with pytest.raises(ValidationError, match="not a subject of the taxonomy"):
        ComplaintReceivedV2.model_validate({**example, "subject": "ufo_sighting"})


def test_a_v1_reader_reads_a_v2_assignment_unchanged() -> None:
    """The router publishes assigned.v2 from contract 2.3; readers built for v1 read it as before."""
    v2 = ComplaintAssignedV2.example()
    record = json.loads(v2.model_dump_json())
    v1_schema = json.loads((export.JSONSCHEMA_DIR / "complaint.assigned.v1.json").read_text())
    jsonschema.validate(record, v1_schema)
    as_v1 = ComplaintAssignedV1.model_validate(record)
    assert as_v1.model_dump() == v2.model_dump(include=set(ComplaintAssignedV1.model_fields))
    assert v2.office.code == "district.yongsan.roads" and v2.evidence.place.method == "address"


def test_each_office_reads_its_own_feed_topic_documented_with_its_parameter_and_acls() -> None:
    """Department services subscribe to their own office's cases only: a topic per office, whose
    name Kafka ACLs can grant exactly (AsyncAPI: a channel with the parameter `{office}`)."""
    doc = yaml.safe_load(export.ASYNCAPI_FILE.read_text(encoding="utf-8"))
    [channel] = [c for c in doc["channels"].values() if c["address"] == "eungdapso.casework.office.{office}"]
    assert set(channel["parameters"]) == {"office"}
    assert set(channel["messages"]) == {p.__name__ for p in stream_for(OFFICE_FEEDS.payloads[0]).payloads}
    acls = {(a["resourceType"], a["patternType"], a["resourceName"]) for a in channel["x-kafka-acls"]}
    # The reader's topic is granted literally: a prefix on `district.gangnam` would also grant
    # `district.gangnam.parking`; groups get a prefix ending in a character no code has.
    assert ("TOPIC", "LITERAL", "eungdapso.casework.office.{office}") in acls
    assert ("GROUP", "PREFIXED", "eungdapso-dept:{office}:") in acls
    parking = "district.gangnam.parking"
    assert OFFICE_FEEDS.topic(parking) == f"eungdapso.casework.office.{parking}"
    receive = doc["operations"]["departments_consume_eungdapso_casework_office_office"]
    assert receive["action"] == "receive" and len(receive["messages"]) == len(OFFICE_FEEDS.payloads)
    # Nothing personal travels on the feeds: the office reads the case through the inbox API.
    # The only text is the office's own answer (to the case, and to the duplicates linked to it).
    own_answers = {"CaseAnsweredV1", "DuplicateAnsweredV1"}
    for model in OFFICE_FEEDS.payloads:
        fields = set(model.model_fields)
        assert (
            not fields & {"citizen", "reply_to", "text", "place", "attachments"}
            or model.__name__ in own_answers
        )


def test_a_case_event_names_its_office_staff_and_time_and_a_rejection_counts() -> None:
    from eungdapso_schemas.events import CaseRejectedV1, StaffAction

    for model in OFFICE_FEEDS.payloads:
        assert {"complaint_id", "receipt_no", "case_id", "office", "at"} <= set(model.model_fields)
        if issubclass(model, StaffAction):
            assert "staff" in model.model_fields
    schema = json.loads((export.JSONSCHEMA_DIR / "case.rejected.v1.json").read_text())
    assert {"reason", "rejections", "office", "staff"} <= set(schema["required"])
    assert CaseRejectedV1.example().rejections == 1
