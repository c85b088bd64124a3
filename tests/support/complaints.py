"""Complaint details as the intake application takes them, for tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


def complaint_details(**overrides: Any) -> dict[str, Any]:
    details: dict[str, Any] = {
        "id": uuid.uuid4(),
        "receipt_no": "2026-0000001",
        "received_at": datetime.now(UTC),
        "channel": "web",
        "kind": "complaint",
        "confidential": False,
        "field": "roads_traffic",
        "language": "ko",
        "text": "만리재로 193 앞 육교 계단에 구멍이 났어요",
        "place": None,
        "citizen": None,
        "request_fingerprint": None,
        "meta": {"actor": "test"},
    }
    details.update(overrides)
    return details
