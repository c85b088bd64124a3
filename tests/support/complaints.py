"""Complaints as intake records them, for tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from eungdapso_intake.domainmodel import Complaint
from eungdapso_schemas.codes import Channel, Field, Kind, Language


def a_complaint(**overrides: Any) -> Complaint:
    details: dict[str, Any] = {
        "id": uuid.uuid4(),
        "receipt_no": "2026-0000001",
        "received_at": datetime.now(UTC),
        "channel": Channel.WEB,
        "kind": Kind.COMPLAINT,
        "field": Field.ROADS_TRAFFIC,
        "language": Language.KO,
        "text": "만리재로 193 앞 육교 계단에 구멍이 났어요",
    }
    details.update(overrides)
    return Complaint.receive(**details)
