"""The router's models (kiwi, classifier, standard answers, gazetteer) loaded once per test
process, and complaints as intake publishes them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from eungdapso_platform.db import Database
from eungdapso_router.decision import RoutingModels, shared_models
from eungdapso_router.settings import RouterSettings
from eungdapso_router.staff import Desk, StaffKeys
from eungdapso_schemas.codes import Channel, Kind
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import (
    CaseAnsweredV1,
    CaseEvent,
    CaseRejectedV1,
    CaseTransferredV1,
    ComplaintReceivedV2,
    Place,
)

RECEIVED_AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def routing_models() -> RoutingModels:
    """The process's models (the ones every router built in this process shares), loaded."""
    models = shared_models()
    models.get()  # a few seconds, once
    return models


def received(
    text: str,
    *,
    kind: Kind = Kind.COMPLAINT,
    place: Place | None = None,
    subject: str | None = None,
    complaint_id: uuid.UUID | None = None,
    receipt_no: str = "2026-0000042",
    received_at: datetime = RECEIVED_AT,
    event_id: str | None = None,
    correlation_id: str | None = None,
    **more: Any,
) -> Envelope[ComplaintReceivedV2]:
    payload = ComplaintReceivedV2(
        complaint_id=complaint_id or uuid.uuid4(),
        receipt_no=receipt_no,
        received_at=received_at,
        channel=Channel.WEB,
        kind=kind,
        confidential=kind.confidential,
        text=text,
        place=place,
        subject=subject,
        **more,
    )
    return Envelope(
        id=event_id or str(uuid.uuid4()),
        source="/eungdapso/intake",
        time=payload.received_at,
        subject=str(payload.complaint_id),
        data=payload,
        correlation_id=correlation_id,
    )


def case_event(
    kind: type[CaseEvent], complaint_id: uuid.UUID, office: str, **values: Any
) -> Envelope[CaseEvent]:
    """What casework publishes when an office acts on its case of the complaint."""
    payload = kind.model_validate(
        {
            "complaint_id": complaint_id,
            "receipt_no": "2026-0000042",
            "case_id": uuid.uuid4(),
            "office": office,
            "at": datetime.now(UTC),
            "staff": "mapo-0412",
            **values,
        }
    )
    return Envelope(
        id=str(uuid.uuid4()),
        source="/eungdapso/casework",
        time=payload.at,
        subject=str(complaint_id),
        data=payload,
    )


def rejected(complaint_id: uuid.UUID, office: str, rejections: int = 1) -> Envelope[CaseEvent]:
    return case_event(CaseRejectedV1, complaint_id, office, reason="소관이 아닙니다", rejections=rejections)


def transferred(complaint_id: uuid.UUID, office: str, to_office: str) -> Envelope[CaseEvent]:
    return case_event(CaseTransferredV1, complaint_id, office, to_office=to_office, reason="경찰 소관입니다")


def answered(complaint_id: uuid.UUID, office: str) -> Envelope[CaseEvent]:
    return case_event(CaseAnsweredV1, complaint_id, office, text="보수했습니다.", resolution="resolved")


async def create_staff_keys(settings: RouterSettings, *names: str) -> dict[str, str]:
    """Triage desk keys, as `python -m eungdapso_router staff create` makes them."""
    from eungdapso_router.bootstrap import MIGRATIONS

    db = Database.for_service(settings, migrations=MIGRATIONS)
    await db.open()
    try:
        keys = StaffKeys(db)
        return {name: (await keys.create(name, [Desk.TRIAGE]))[1] for name in names}
    finally:
        await db.close()
