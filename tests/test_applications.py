"""The event-sourced applications, one test case run per persistence backend: the
in-memory store (fast, unit) and PostgreSQL (integration), as chosen by environment."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
import pytest

from eungdapso_casework.application import CaseworkApplication
from eungdapso_casework.domainmodel import Case, CaseStatus, ComplaintFile
from eungdapso_casework.settings import CaseworkSettings
from eungdapso_devstack.infra import PostgresTarget
from eungdapso_intake.application import OUTBOX as INTAKE_OUTBOX
from eungdapso_intake.application import IntakeApplication
from eungdapso_intake.domainmodel import Complaint
from eungdapso_intake.settings import IntakeSettings
from eungdapso_platform.domain import DomainError, acting_as
from eungdapso_platform.eventstore import IntegrityError, LedgerEntry
from eungdapso_platform.settings import ServiceSettings
from eungdapso_platform.tracing import correlation_id_var
from eungdapso_router.application import OUTBOX as ROUTER_OUTBOX
from eungdapso_router.application import RouterApplication
from eungdapso_router.domainmodel import Routing, routing_id
from eungdapso_router.settings import RouterSettings
from eungdapso_schemas.codes import Channel, District, Field, Kind, OfficeLevel
from eungdapso_schemas.events import Citizen, Office, Place
from tests.support.complaints import a_complaint

A = TypeVar("A")
AppFactory = Callable[[type[A]], A]
OFFICE = Office(code="seoul.eungdapso", name="시민소통기획관 응답소", level=OfficeLevel.HEADQUARTERS)


@pytest.fixture(params=["popo", pytest.param("postgres", marks=pytest.mark.integration)])
def make_app(request: pytest.FixtureRequest) -> AppFactory[Any]:
    def make(cls: type[A]) -> A:
        if request.param == "popo":
            return cls(env=ServiceSettings.in_memory_env())  # type: ignore[call-arg]
        database: PostgresTarget = request.getfixturevalue("database")
        settings_cls: type[ServiceSettings] = {
            IntakeApplication: IntakeSettings,
            CaseworkApplication: CaseworkSettings,
        }.get(cls, RouterSettings)
        settings = settings_cls(**{k.lower(): v for k, v in database.env().items()})  # type: ignore[arg-type]
        return cls(env=settings.eventsourcing_env())  # type: ignore[call-arg]

    return make


def receive(app: IntakeApplication) -> uuid.UUID:
    complaint = a_complaint(
        receipt_no="2026-0000007",
        place=Place(address="서울특별시 용산구 만리재로 193", lat=37.5, lon=126.9, district=District.YONGSAN),
        citizen=Citizen(name="홍길동", phone="010-1234-5678"),
    )
    app.receive(complaint)
    return complaint.id


def test_received_complaint_is_published_with_personal_data_kept_apart(make_app: AppFactory[Any]) -> None:
    app = make_app(IntakeApplication)
    token = correlation_id_var.set("abc12345")
    try:
        with acting_as("citizen via web"):
            cid = receive(app)
    finally:
        correlation_id_var.reset(token)
    [notification] = app.recorder.select_notifications(1, 10)
    recorded = app.mapper.to_domain_event(notification)
    # Typed fields come back from the store as the types they were recorded with.
    assert isinstance(recorded, Complaint.Received)
    assert recorded.channel is Channel.WEB and recorded.kind is Kind.COMPLAINT
    assert recorded.field is Field.ROADS_TRAFFIC and isinstance(recorded.place, Place)
    assert isinstance(recorded.citizen, Citizen)
    # Who did it and in which request: taken from the context, not passed in.
    assert recorded.meta["actor"] == "citizen via web" and recorded.meta["correlation_id"] == "abc12345"
    envelope = INTAKE_OUTBOX(recorded)
    assert envelope is not None
    assert envelope.subject == str(cid)
    assert envelope.correlation_id == "abc12345"
    assert envelope.data.citizen is not None and envelope.data.citizen.name == "홍길동"
    assert envelope.data.receipt_no == "2026-0000007"
    # The same recorded event always gets the same CloudEvents id (consumers dedupe on it).
    again = INTAKE_OUTBOX(app.mapper.to_domain_event(notification))
    assert again is not None and again.id == envelope.id


def test_complaint_rules_are_enforced_by_the_aggregate() -> None:
    with pytest.raises(DomainError, match="receipt number"):
        a_complaint(receipt_no="42")
    with pytest.raises(DomainError, match="time zone"):
        a_complaint(received_at=datetime(2026, 11, 20, 9, 0))
    with pytest.raises(DomainError, match="text"):
        a_complaint(text="   ")
    # A confidential kind is confidential whatever the caller thinks.
    assert a_complaint(kind=Kind.WHISTLEBLOWING).confidential is True
    assert a_complaint(kind=Kind.INQUIRY).confidential is False


def assign(cid: uuid.UUID) -> Routing:
    return Routing.assign(
        complaint_id=cid, receipt_no="2026-0000001", office=OFFICE, rule="default", at=datetime.now(UTC)
    )


def test_router_assigns_once_per_complaint(make_app: AppFactory[Any]) -> None:
    app = make_app(RouterApplication)
    cid = uuid.uuid4()
    routing = assign(cid)
    assert routing.id == routing_id(cid)
    assert app.routing(cid) is None  # decided, not yet recorded
    app.save(routing)
    found = app.routing(cid)
    assert found is not None and found.office == OFFICE
    [notification] = app.recorder.select_notifications(1, 10)
    envelope = ROUTER_OUTBOX(app.mapper.to_domain_event(notification))
    assert envelope is not None and envelope.data.office.code == "seoul.eungdapso"
    with pytest.raises(IntegrityError):
        app.save(assign(cid))  # a complaint is never routed twice
    with pytest.raises(DomainError, match="rule"):
        Routing.assign(
            complaint_id=cid, receipt_no="2026-0000001", office=OFFICE, rule=" ", at=datetime.now(UTC)
        )


def test_ledger_entries_are_written_with_the_events_or_not_at_all(make_app: AppFactory[Any]) -> None:
    app = make_app(RouterApplication)
    first, second = uuid.uuid4(), uuid.uuid4()
    app.save(assign(first), ledger_entries=[LedgerEntry("router.assignment", "event-1")])
    # The same message again, now causing another decision: the ledger refuses it, and the
    # decision is not recorded either (one transaction).
    with pytest.raises(IntegrityError):
        app.save(assign(second), ledger_entries=[LedgerEntry("router.assignment", "event-1")])
    assert app.routing(second) is None
    assert app.recorder.processed_among("router.assignment", ["event-1", "event-2"]) == {"event-1"}


@pytest.mark.integration
def test_the_postgres_ledger_is_a_table_of_the_service_schema(database: PostgresTarget) -> None:
    settings = RouterSettings(**{k.lower(): v for k, v in database.env().items()})  # type: ignore[arg-type]
    app = RouterApplication(env=settings.eventsourcing_env())
    app.save(assign(uuid.uuid4()), ledger_entries=[LedgerEntry("router.assignment", "event-1")])
    with psycopg.connect(database.conninfo()) as conn:
        rows = conn.execute("SELECT consumer, message_id FROM router.processed_messages").fetchall()
        migrations = conn.execute("SELECT component, version FROM router.schema_migrations").fetchall()
    assert rows == [("router.assignment", "event-1")]
    assert ("platform", 1) in migrations


def test_a_case_and_its_complaint_file_come_back_as_recorded(make_app: AppFactory[Any]) -> None:
    """Casework keeps the receipt (personal data, its own store only) and the case's typed events."""
    from eungdapso_schemas.codes import Resolution
    from eungdapso_schemas.events import ComplaintReceivedV2

    app: CaseworkApplication = make_app(CaseworkApplication)
    received = ComplaintReceivedV2.example().model_copy(update={"complaint_id": uuid.uuid4()})
    file = ComplaintFile.open(received.complaint_id, received.receipt_no)
    file.learn(received)
    case = Case.open(
        complaint_id=received.complaint_id,
        receipt_no=received.receipt_no,
        number=1,
        office=OFFICE,
        assigned_at=datetime(2026, 11, 20, tzinfo=UTC),
        field=Field.ROADS_TRAFFIC,
    )
    file.note(case)
    now = datetime(2026, 11, 20, 1, tzinfo=UTC)
    with acting_as("office:seoul.eungdapso key:test"):
        case.accept(staff="s-1", at=now)
        case.answer(staff="s-1", text="답변", resolution=Resolution.PARTLY, objection="이의신청 안내", at=now)
    app.save(file, case)
    again, kept = app.case(case.id), app.file(received.complaint_id)
    assert again is not None and kept is not None
    assert kept.complaint == received and kept.complaint.citizen == received.citizen
    assert again.status is CaseStatus.ANSWERED and again.resolution is Resolution.PARTLY
    assert again.field is Field.ROADS_TRAFFIC and again.office == OFFICE
    recorded = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 20)]
    [answered] = [e for e in recorded if isinstance(e, Case.Answered)]
    assert answered.meta["actor"] == "office:seoul.eungdapso key:test" and answered.office_code == OFFICE.code
