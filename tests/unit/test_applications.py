"""The event-sourced applications on the in-memory (POPO) store: fast domain checks.
The same applications run on PostgreSQL in tests/integration and tests/e2e."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from eungdapso_intake.application import IntakeApplication, to_integration_event
from eungdapso_router.application import RouterApplication, routing_id
from eungdapso_router.application import to_integration_event as assigned_event
from eungdapso_schemas.codes import Kind


def receive(app: IntakeApplication, **kw: object) -> uuid.UUID:
    cid = uuid.uuid4()
    app.receive(
        complaint_id=cid,
        receipt_no="2026-0000007",
        received_at=datetime.now(UTC),
        channel="web",
        kind="complaint",
        confidential=False,
        field="roads_traffic",
        language="ko",
        text="육교 구멍",
        place={"address": "서울특별시 용산구 만리재로 193", "lat": 37.5, "lon": 126.9, "district": "yongsan"},
        citizen={"name": "홍길동", "phone": "010-1234-5678", "email": None, "sns_handle": None},
        request_fingerprint=None,
        meta={"actor": "citizen via web", "correlation_id": "abc12345"},
    )
    return cid


def test_received_complaint_is_published_with_personal_data_kept_apart() -> None:
    app = IntakeApplication()
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


def test_router_assigns_once_per_complaint() -> None:
    app = RouterApplication()
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
