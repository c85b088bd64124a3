"""Intake over HTTP on a real PostgreSQL: receipts, idempotency, RFC 9457 errors."""

from __future__ import annotations

import re
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_intake.bootstrap import bootstrap
from eungdapso_intake.settings import IntakeSettings

pytestmark = pytest.mark.integration

COMPLAINT = {
    "text": "만리재로 193 앞 육교 계단에 구멍이 났어요",
    "kind": "complaint",
    "field": "roads_traffic",
    "language": "ko",
    "place": {"address": "서울특별시 용산구 만리재로 193", "lat": 37.5536, "lon": 126.9680},
    "contact": {"name": "홍길동", "phone": "010-1234-5678", "email": None},
}


def settings_for(database: PostgresTarget, **overrides: object) -> IntakeSettings:
    values: dict[str, object] = {k.lower(): v for k, v in database.env().items()}
    # No broker here: the relay keeps retrying in the background, intake must not care.
    values.update(kafka_bootstrap_servers="127.0.0.1:9", **overrides)
    return IntakeSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def client(database: PostgresTarget) -> Iterator[TestClient]:
    with TestClient(bootstrap(settings_for(database))) as c:
        yield c


def stored_events(database: PostgresTarget) -> int:
    with psycopg.connect(database.conninfo()) as conn:
        row = conn.execute("SELECT count(*) FROM intake.intake_events").fetchone()
        assert row is not None
        return int(row[0])


def test_submission_returns_a_readable_unique_receipt(client: TestClient, database: PostgresTarget) -> None:
    first = client.post("/api/v1/complaints", json=COMPLAINT)
    second = client.post("/api/v1/complaints", json={"text": "문의합니다", "kind": "inquiry"})
    assert first.status_code == 201 and second.status_code == 201
    a, b = first.json(), second.json()
    assert set(a) == {"complaint_id", "receipt_no"}
    assert re.fullmatch(r"20[0-9]{2}-[0-9]{7}", a["receipt_no"])
    assert a["receipt_no"] != b["receipt_no"] and a["complaint_id"] != b["complaint_id"]
    assert int(b["receipt_no"][5:]) > int(a["receipt_no"][5:])
    assert first.headers["x-correlation-id"]
    assert stored_events(database) == 2


def test_same_idempotency_key_returns_the_same_receipt_and_records_nothing_new(
    client: TestClient, database: PostgresTarget
) -> None:
    headers = {"Idempotency-Key": "web-form-7f3a9c"}
    first = client.post("/api/v1/complaints", json=COMPLAINT, headers=headers)
    again = client.post("/api/v1/complaints", json=COMPLAINT, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert stored_events(database) == 1

    changed = client.post("/api/v1/complaints", json={**COMPLAINT, "text": "다른 민원"}, headers=headers)
    assert changed.status_code == 422
    assert changed.headers["content-type"].startswith("application/problem+json")
    assert changed.json()["type"].endswith("idempotency-key-reused")
    assert stored_events(database) == 1


def test_receipt_numbers_are_never_reused_after_a_restart(database: PostgresTarget) -> None:
    seen = set()
    for _ in range(2):
        with TestClient(bootstrap(settings_for(database))) as c:
            for _ in range(3):
                seen.add(c.post("/api/v1/complaints", json=COMPLAINT).json()["receipt_no"])
    assert len(seen) == 6


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**COMPLAINT, "kind": "gossip"}, "kind"),
        ({**COMPLAINT, "field": "space"}, "field"),
        ({**COMPLAINT, "language": "fr"}, "language"),
        ({k: v for k, v in COMPLAINT.items() if k != "text"}, "text"),
        ({**COMPLAINT, "text": "   "}, "text"),
        ({**COMPLAINT, "place": {"lat": 95.0}}, "place.lat"),
        ({**COMPLAINT, "contact": {"phone": "call me"}}, "contact.phone"),
        ({**COMPLAINT, "contact": {"email": "no-at-sign"}}, "contact.email"),
        ({**COMPLAINT, "surprise": 1}, "surprise"),
    ],
)
def test_invalid_input_gets_a_problem_naming_the_field(
    client: TestClient, database: PostgresTarget, body: dict[str, object], field: str
) -> None:
    response = client.post("/api/v1/complaints", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422 and problem["title"] and problem["instance"] == "/api/v1/complaints"
    assert field in [e["field"] for e in problem["errors"]]
    assert stored_events(database) == 0


def test_malformed_json_and_oversized_bodies_are_refused(
    client: TestClient, database: PostgresTarget
) -> None:
    bad = client.post(
        "/api/v1/complaints", content=b'{"text": ', headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400 and bad.json()["type"].endswith("malformed-json")
    huge = client.post("/api/v1/complaints", json={**COMPLAINT, "text": "가" * 100_000})
    assert huge.status_code == 413 and huge.headers["content-type"].startswith("application/problem+json")
    assert huge.json()["status"] == 413

    def chunks():  # type: ignore[no-untyped-def]  # no Content-Length: the limit holds as the body streams
        yield b'{"kind": "inquiry", "text": "'
        for _ in range(100):
            yield "가".encode() * 1000
        yield b'"}'

    streamed = client.post(
        "/api/v1/complaints", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413 and streamed.headers["content-type"].startswith(
        "application/problem+json"
    )
    bad_key = client.post("/api/v1/complaints", json=COMPLAINT, headers={"Idempotency-Key": "x" * 300})
    assert bad_key.status_code == 422 and "Idempotency-Key" in str(bad_key.json()["errors"])
    assert stored_events(database) == 0


def test_database_outage_answers_503_and_records_nothing(database: PostgresTarget) -> None:
    admin = psycopg.connect(
        PostgresTarget(database.host, database.port, database.user, database.password, "postgres").conninfo(),
        autocommit=True,
    )
    # The server logs the outage; the test reads the answer the citizen gets.
    with TestClient(bootstrap(settings_for(database)), raise_server_exceptions=False) as client:
        assert client.post("/api/v1/complaints", json=COMPLAINT).status_code == 201
        admin.execute(f'ALTER DATABASE "{database.dbname}" WITH ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname=%s", (database.dbname,)
        )
        try:
            down = client.post(
                "/api/v1/complaints", json=COMPLAINT, headers={"Idempotency-Key": "during-outage-1"}
            )
            assert down.status_code == 503, down.text
            assert down.headers["content-type"].startswith("application/problem+json")
            assert down.headers["retry-after"] == "5"
        finally:
            admin.execute(f'ALTER DATABASE "{database.dbname}" WITH ALLOW_CONNECTIONS true')
        again = client.post(
            "/api/v1/complaints", json=COMPLAINT, headers={"Idempotency-Key": "during-outage-1"}
        )
        assert again.status_code == 201 and again.headers.get("idempotent-replayed") is None
    admin.close()
    assert stored_events(database) == 2
