"""Contracts: checked-in JSON Schemas and AsyncAPI match the models; versions stay compatible."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import jsonschema
import pytest
import yaml

from eungdapso_schemas import export
from eungdapso_schemas.events import PAYLOADS, ComplaintReceivedV1, schema_file_stem
from eungdapso_schemas.topics import ALL_TOPICS


def test_checked_in_contract_files_match_the_models() -> None:
    """Fails when a model changes and `make schemas` was not run (schema drift)."""
    assert export.main(["--check"]) == 0


def test_drift_is_detected(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    stale = tmp_path / "asyncapi.yaml"
    stale.write_text("asyncapi: 3.0.0\n", encoding="utf-8")
    monkeypatch.setattr(export, "ASYNCAPI_FILE", stale)
    assert export.main(["--check"]) == 1


@pytest.mark.parametrize("model", PAYLOADS, ids=lambda m: m.__name__)
def test_json_schema_accepts_what_the_model_produces(model) -> None:  # type: ignore[no-untyped-def]
    schema = json.loads((export.JSONSCHEMA_DIR / f"{schema_file_stem(model)}.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    sample = {
        "ComplaintReceivedV1": {
            "complaint_id": str(uuid.uuid4()),
            "receipt_no": "2026-0000001",
            "received_at": datetime.now(UTC).isoformat(),
            "channel": "sns",
            "kind": "inquiry",
            "confidential": False,
            "text": "1리터 음식물 쓰레기 봉투를 파나요?",
            "citizen": {"sns_handle": "@citizen"},
        },
        "ComplaintAssignedV1": {
            "complaint_id": str(uuid.uuid4()),
            "receipt_no": "2026-0000001",
            "assigned_at": datetime.now(UTC).isoformat(),
            "office": {"code": "seoul.transport", "name": "도시교통실", "level": "headquarters"},
            "rule": "field:roads_traffic",
        },
    }[model.__name__]
    jsonschema.validate(model.model_validate(sample).model_dump(mode="json"), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**sample, "receipt_no": "no"}, schema)


def test_asyncapi_names_every_topic_each_service_uses() -> None:
    """The consumers the services register must be in the AsyncAPI document."""
    from eungdapso_publisher.bootstrap import build_consumer as publisher_consumer
    from eungdapso_publisher.settings import PublisherSettings
    from eungdapso_router.application import RouterApplication
    from eungdapso_router.bootstrap import build_consumer as router_consumer
    from eungdapso_router.settings import RouterSettings

    doc = yaml.safe_load((export.ASYNCAPI_FILE).read_text(encoding="utf-8"))
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {t.name for t in ALL_TOPICS}
    receives = {k for k, op in doc["operations"].items() if op["action"] == "receive"}
    publisher, _ = publisher_consumer(PublisherSettings(), db=None, broker=None)  # type: ignore[arg-type]
    router = router_consumer(RouterSettings(), None, None, RouterApplication(), lambda: None)  # type: ignore[arg-type]
    for service, consumer in (("publisher", publisher), ("router", router)):
        for topic in consumer.topics:
            assert f"{service}_consumes_{topic.name.replace('.', '_')}" in receives


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
