"""Intake with its SMS and SNS channels connected, for channel tests, and what it recorded."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_intake.application import OUTBOX
from eungdapso_intake.settings import IntakeSettings
from eungdapso_schemas.events import ComplaintReceivedV2
from tests.conftest import settings_for

PUBLIC = "https://eungdapso.seoul.go.kr"
AUTH_TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
ACCOUNT_SID = "AC" + "1f" * 16
MUNJA_SECRET = "munja-shared-secret-2026"
X_SECRET = "z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu"
FB_SECRET = "3f1b9c0d7e6a5b4c3d2e1f0a9b8c7d6e"
FB_VERIFY = "eungdapso-verify-2026"


def channel_settings(database: PostgresTarget, **overrides: object) -> IntakeSettings:
    values: dict[str, object] = {
        # No broker unless a test gives one: the relay retries in the background.
        "kafka_bootstrap_servers": "127.0.0.1:9",
        "sms_gateways": {"twilio": AUTH_TOKEN, "munja": MUNJA_SECRET},
        "public_base_url": PUBLIC,
        "twilio_account_sid": ACCOUNT_SID,
        "x_consumer_secret": X_SECRET,
        "facebook_app_secret": FB_SECRET,
        "facebook_verify_token": FB_VERIFY,
        # Configured, so that tests see which channels hand the citizen's follow link out.
        "follow_link_secret": "channel-tests-follow-link-secret-0123456789",
        **overrides,
    }
    return settings_for(IntakeSettings, database, **values)


def published(client: TestClient) -> list[ComplaintReceivedV2]:
    """What intake recorded, as other services will read it (the outbox's translation)."""
    app = client.app.state.intake.app  # type: ignore[attr-defined]
    events = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 100)]
    return [envelope.data for envelope in map(OUTBOX, events) if envelope is not None]


def by_channel_ref(client: TestClient) -> dict[str, ComplaintReceivedV2]:
    return {c.channel_ref: c for c in published(client) if c.channel_ref is not None}


def assert_problem(response: Any, status: int, field: str | None = None) -> None:
    """An RFC 9457 answer with this status, naming `field` among the bad ones if given."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if field is not None:
        assert any(
            field == e["field"] or e["field"].startswith(field + ".") for e in response.json()["errors"]
        )
