"""`POST /api/v1/routing/explain` on the real app (in-memory event store and tables, the real
models): the decision the router would take, recorded nowhere. (The triage desk's API, whose
keys live in PostgreSQL: tests/integration/test_router_triage.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from eungdapso_platform.clock import FixedClock
from eungdapso_platform.service import Overrides, create_app
from eungdapso_router.bootstrap import build
from eungdapso_router.settings import RouterSettings
from tests.support.routing import RECEIVED_AT, routing_models


@pytest.fixture
def app() -> Iterator[Any]:
    settings = RouterSettings()
    parts = build(
        settings, Overrides(in_memory_ledger=True, clock=FixedClock(RECEIVED_AT)), models=routing_models()
    )
    # No lifespan: nothing here needs the database or the broker.
    yield create_app(parts, title="router")


@pytest.fixture
def client(app: Any) -> TestClient:
    return TestClient(app)


def explain(client: TestClient, **body: Any) -> Any:
    return client.post("/api/v1/routing/explain", json=body)


def test_explain_answers_the_decision_with_its_evidence_and_records_nothing(
    client: TestClient, app: Any
) -> None:
    answer = explain(
        client,
        text="강남역 11번 출구 앞 불법주차 차량 단속해주세요",
        kind="complaint",
        place={"address": "서울 강남구 강남대로 396"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["field"] == "roads_traffic" and body["message_class"] == "field"
    assert body["subject"] == "illegal_parking" and body["district"] == "gangnam"
    assert body["office"] == {
        "code": "district.gangnam.parking",
        "name": body["office"]["name"],
        "level": "district",
    }
    assert body["confidential"] is False and 0.3 <= body["confidence"] <= 1
    assert body["evidence"]["place"]["method"] == "address" and body["evidence"]["scores"]
    assert body["rule"] == "subject:illegal_parking district:gangnam" and body["instant_answer"] is None
    application = app.state.application
    assert application.recorder.select_notifications(1, 10) == []  # nothing recorded


def test_explain_without_a_place_has_no_district_and_shows_instant_answers(client: TestClient) -> None:
    body = explain(client, text="대형폐기물은 어떻게 버리나요?", kind="inquiry").json()
    assert body["district"] is None and body["subject"] == "bulky_waste"
    assert body["instant_answer"]["id"].startswith("faq-") and body["instant_answer"]["answer"]


def test_explain_says_who_investigates_a_confidential_report(client: TestClient) -> None:
    body = explain(client, text="구청 공무원이 허가를 내주는 대가로 돈을 요구했습니다").json()
    assert body["confidential"] is True and body["office"]["code"] == "seoul.audit"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "   "}, "text"),
        ({"text": "x" * 10_001}, "text"),
        ({"text": "버스", "kind": "gossip"}, "kind"),
        ({"text": "버스", "subject": "ufo_sighting"}, "subject"),
        ({"text": "버스", "place": {"lat": 10.0, "lon": 126.9}}, "place.lat"),
        ({"kind": "complaint"}, "text"),
    ],
)
def test_explain_refuses_bad_input_with_a_problem(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    answer = client.post("/api/v1/routing/explain", json=body)
    assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in answer.json()["errors"]}


def test_explain_refuses_malformed_json(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/routing/explain", content=b'{"text": ', headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400 and answer.json()["type"].endswith("/malformed-json")
