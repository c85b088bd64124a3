"""Intake over HTTP on a real PostgreSQL: receipts, idempotency, RFC 9457 errors."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_intake.bootstrap import bootstrap
from eungdapso_intake.settings import IntakeSettings
from eungdapso_platform.eventstore import CommitOutcomeUnknown, LedgeredPostgresRecorder
from eungdapso_platform.follow import FollowKeys

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
    assert set(a) == {"complaint_id", "receipt_no", "follow_url"}
    assert a["follow_url"] is None  # no follow-link secret configured: no link handed out
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


def test_filing_hands_out_the_private_follow_link_again_on_a_replay(database: PostgresTarget) -> None:
    secret = "f" * 40
    with TestClient(bootstrap(settings_for(database, follow_link_secret=secret))) as c:
        headers = {"Idempotency-Key": "web-form-follow"}
        first = c.post("/api/v1/complaints", json=COMPLAINT, headers=headers).json()
        again = c.post("/api/v1/complaints", json=COMPLAINT, headers=headers).json()
        other = c.post("/api/v1/complaints", json=COMPLAINT).json()
    assert first["follow_url"] == again["follow_url"] != other["follow_url"]
    path, key = first["follow_url"].split("#key=")
    assert path == f"/follow/{first['receipt_no']}"
    # The notifier, with the same secret, recognises the key for this complaint only.
    keys = FollowKeys(SecretStr(secret))
    assert keys.matches(uuid.UUID(first["complaint_id"]), key)
    assert not keys.matches(uuid.UUID(other["complaint_id"]), key)


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
        ({**COMPLAINT, "subject": "ufo_sighting"}, "subject"),
        ({**COMPLAINT, "subject": "noise"}, "subject"),  # not a roads & traffic subject
        ({**COMPLAINT, "subject": "x" * 1000}, "subject"),
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


def cut_off(admin: psycopg.Connection[object], database: PostgresTarget) -> None:
    """The database stops answering: no new connections, the open ones are killed."""
    admin.execute(f'ALTER DATABASE "{database.dbname}" WITH ALLOW_CONNECTIONS false')
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname=%s", (database.dbname,)
    )


def restore(admin: psycopg.Connection[object], database: PostgresTarget) -> None:
    admin.execute(f'ALTER DATABASE "{database.dbname}" WITH ALLOW_CONNECTIONS true')


def admin_connection(database: PostgresTarget) -> psycopg.Connection[object]:
    target = PostgresTarget(database.host, database.port, database.user, database.password, "postgres")
    return psycopg.connect(target.conninfo(), autocommit=True)  # type: ignore[return-value]


@pytest.mark.parametrize("receipts_in_hand", [True, False], ids=["receipts-in-hand", "receipt-block-needed"])
def test_outage_fails_fast_and_nothing_answered_503_is_recorded_later(
    database: PostgresTarget, receipts_in_hand: bool
) -> None:
    """Several citizens submit without Idempotency-Key while PostgreSQL is unreachable: each gets a
    503 problem within seconds (not the 16–30 s of the library's retry loop, nor one receipt-block
    attempt after another), and none of those complaints appears once the database is back; the
    service then records new ones normally."""
    admin = admin_connection(database)
    before = 0
    with TestClient(bootstrap(settings_for(database)), raise_server_exceptions=False) as client:
        if receipts_in_hand:  # a first complaint took a block of receipt numbers
            assert client.post("/api/v1/complaints", json=COMPLAINT).status_code == 201
            before = 1
        cut_off(admin, database)

        def submit(i: int) -> tuple[int, str, dict[str, object], float]:
            started = time.monotonic()
            response = client.post("/api/v1/complaints", json={**COMPLAINT, "text": f"정전 중 민원 {i}"})
            elapsed = time.monotonic() - started
            return response.status_code, response.headers["content-type"], response.json(), elapsed

        try:
            with ThreadPoolExecutor(6) as pool:
                answers = list(pool.map(submit, range(6)))
        finally:
            restore(admin, database)
        for status, content_type, problem, elapsed in answers:
            assert status == 503, problem
            assert content_type.startswith("application/problem+json")
            assert problem["type"] == "https://eungdapso.seoul.go.kr/problems/unavailable"
            assert "nothing was recorded" in str(problem["detail"])
            assert elapsed < 8, f"answered after {elapsed:.1f} s"
            # A key to retry with, so that a retry can never file the complaint twice.
            assert isinstance(problem["idempotency_key"], str) and problem["idempotency_key"]
        # Whatever was under way when the citizens were answered has finished by now.
        time.sleep(3)
        assert stored_events(database) == before

        after = client.post("/api/v1/complaints", json=COMPLAINT)
        assert after.status_code == 201, after.text
    admin.close()
    assert stored_events(database) == before + 1


def test_connection_lost_while_committing_says_outcome_unknown_and_the_retry_records_once(
    database: PostgresTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session dies after every statement succeeded, as COMMIT is sent: intake cannot know
    whether the complaint was recorded, must not say "nothing was recorded", and gives the key
    whose retry records it exactly once."""
    admin = admin_connection(database)
    commit_next = LedgeredPostgresRecorder._fetch_ids_after_insert_events

    def then_lose_the_session(
        self: LedgeredPostgresRecorder, curs: psycopg.Cursor[Any], stored: Any, **kwargs: Any
    ) -> Any:
        ids = commit_next(self, curs, stored, **kwargs)
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (curs.connection.info.backend_pid,))
        return ids

    with TestClient(bootstrap(settings_for(database)), raise_server_exceptions=False) as client:
        monkeypatch.setattr(LedgeredPostgresRecorder, "_fetch_ids_after_insert_events", then_lose_the_session)
        lost = client.post("/api/v1/complaints", json=COMPLAINT)
        monkeypatch.undo()
        assert lost.status_code == 503, lost.text
        assert lost.headers["content-type"].startswith("application/problem+json")
        problem = lost.json()
        assert problem["type"] == "https://eungdapso.seoul.go.kr/problems/outcome-unknown"
        assert "nothing was recorded" not in problem["detail"]
        key = problem["idempotency_key"]
        assert key in problem["detail"]

        retry = client.post("/api/v1/complaints", json=COMPLAINT, headers={"Idempotency-Key": key})
        assert retry.status_code == 201, retry.text
        again = client.post("/api/v1/complaints", json=COMPLAINT, headers={"Idempotency-Key": key})
        assert again.status_code == 201 and again.json() == retry.json()
    admin.close()
    assert stored_events(database) == 1


def test_a_retry_after_an_unknown_outcome_that_was_recorded_returns_its_receipt(
    database: PostgresTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other unknown: the commit went through but its acknowledgement was lost. The retry
    with the key from the 503 gets the recorded complaint back instead of filing it twice."""
    with TestClient(bootstrap(settings_for(database))) as client:
        commits = client.app.state.intake.commits  # type: ignore[attr-defined]
        save = commits.save

        async def committed_then_lost(aggregate: Any, *, deadline: float | None = None) -> None:
            await save(aggregate, deadline=deadline)
            raise CommitOutcomeUnknown("connection lost after COMMIT was sent")

        monkeypatch.setattr(commits, "save", committed_then_lost)
        lost = client.post("/api/v1/complaints", json=COMPLAINT)
        monkeypatch.undo()
        assert lost.status_code == 503 and lost.json()["type"].endswith("/outcome-unknown")
        assert stored_events(database) == 1
        key = lost.json()["idempotency_key"]

        retry = client.post("/api/v1/complaints", json=COMPLAINT, headers={"Idempotency-Key": key})
        assert retry.status_code == 201 and retry.headers.get("idempotent-replayed") == "true"
        other = client.post(
            "/api/v1/complaints", json={**COMPLAINT, "text": "다른 민원"}, headers={"Idempotency-Key": key}
        )
        assert other.status_code == 422
    assert stored_events(database) == 1
