"""The event-sourced applications, one test case run per persistence backend: the
in-memory store (fast, unit) and PostgreSQL (integration), as chosen by environment."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
import pytest

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_intake.application import IntakeApplication, to_integration_event
from eungdapso_intake.settings import IntakeSettings
from eungdapso_platform.eventstore import IntegrityError, LedgerEntry
from eungdapso_router.application import RouterApplication, routing_id
from eungdapso_router.application import to_integration_event as assigned_event
from eungdapso_router.settings import RouterSettings
from eungdapso_schemas.codes import Kind
from tests.support.complaints import complaint_details

A = TypeVar("A")
AppFactory = Callable[[type[A]], A]


@pytest.fixture(params=["popo", pytest.param("postgres", marks=pytest.mark.integration)])
def make_app(request: pytest.FixtureRequest) -> AppFactory[Any]:
    def make(cls: type[A]) -> A:
        if request.param == "popo":
            return cls()  # type: ignore[call-arg]
        database: PostgresTarget = request.getfixturevalue("database")
        settings_cls = IntakeSettings if cls is IntakeApplication else RouterSettings
        settings = settings_cls(**{k.lower(): v for k, v in database.env().items()})  # type: ignore[arg-type]
        return cls(env=settings.eventsourcing_env())  # type: ignore[call-arg]

    return make


def receive(app: IntakeApplication) -> uuid.UUID:
    details = complaint_details(
        receipt_no="2026-0000007",
        place={"address": "서울특별시 용산구 만리재로 193", "lat": 37.5, "lon": 126.9, "district": "yongsan"},
        citizen={"name": "홍길동", "phone": "010-1234-5678", "email": None, "sns_handle": None},
        meta={"actor": "citizen via web", "correlation_id": "abc12345"},
    )
    app.receive(**details)
    return details["id"]  # type: ignore[no-any-return]


def test_received_complaint_is_published_with_personal_data_kept_apart(make_app: AppFactory[Any]) -> None:
    app = make_app(IntakeApplication)
    cid = receive(app)
    [notification] = app.recorder.select_notifications(1, 10)
    envelope = to_integration_event(app.mapper.to_domain_event(notification))
    assert envelope is not None
    assert envelope.subject == str(cid)
    assert envelope.correlation_id == "abc12345"
    assert envelope.data.citizen is not None and envelope.data.citizen.name == "홍길동"
    assert envelope.data.receipt_no == "2026-0000007"
    # The same recorded event always gets the same CloudEvents id (consumers dedupe on it).
    again = to_integration_event(app.mapper.to_domain_event(notification))
    assert again is not None and again.id == envelope.id


def test_router_assigns_once_per_complaint(make_app: AppFactory[Any]) -> None:
    app = make_app(RouterApplication)
    cid = uuid.uuid4()
    routing = app.assign(
        complaint_id=cid, receipt_no="2026-0000001", kind=Kind.COMPLAINT, field=None, meta={}
    )
    assert routing.id == routing_id(cid)
    assert app.find(cid) is None  # decided, not yet recorded
    app.record([routing], [])
    assert app.find(cid) is not None
    [notification] = app.recorder.select_notifications(1, 10)
    envelope = assigned_event(app.mapper.to_domain_event(notification))
    assert envelope is not None and envelope.data.office.code == "seoul.eungdapso"
    again = app.assign(complaint_id=cid, receipt_no="2026-0000001", kind=Kind.COMPLAINT, field=None, meta={})
    try:
        app.record([again], [])
    except Exception as exc:
        assert type(exc).__name__ == "IntegrityError"
    else:
        raise AssertionError("a complaint was routed twice")


@pytest.mark.integration
def test_ledger_entries_are_written_with_the_events_or_not_at_all(database: PostgresTarget) -> None:
    settings = RouterSettings(**{k.lower(): v for k, v in database.env().items()})  # type: ignore[arg-type]
    app = RouterApplication(env=settings.eventsourcing_env())
    first, second = uuid.uuid4(), uuid.uuid4()

    def decide(cid: uuid.UUID):  # type: ignore[no-untyped-def]
        return app.assign(
            complaint_id=cid, receipt_no="2026-0000001", kind=Kind.COMPLAINT, field=None, meta={}
        )

    app.record([decide(first)], [LedgerEntry("router", "event-1")])
    # The same message again, now causing another decision: the ledger refuses it, and the
    # decision is not recorded either (one transaction).
    with pytest.raises(IntegrityError):
        app.record([decide(second)], [LedgerEntry("router", "event-1")])
    assert app.find(second) is None
    with psycopg.connect(database.conninfo()) as conn:
        rows = conn.execute("SELECT consumer, message_id FROM router.processed_messages").fetchall()
    assert rows == [("router", "event-1")]
