"""Intake in-process for the channel tests: real PostgreSQL, a real broker when one is
given, desks with their own API keys, and what intake recorded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_intake.bootstrap import bootstrap
from eungdapso_intake.clients import ClientDirectory, Scope
from eungdapso_intake.domainmodel import Complaint
from eungdapso_intake.settings import IntakeSettings
from tests.conftest import settings_for

#: No broker there: the relay and the consumer keep retrying, intake's HTTP must not care.
NO_BROKER = "127.0.0.1:9"


@asynccontextmanager
async def running_intake(
    database: PostgresTarget, blobs: Path, broker: str = NO_BROKER, **values: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    settings = settings_for(
        IntakeSettings,
        database,
        kafka_bootstrap_servers=broker,
        attachments_dir=blobs,
        client_cache_s=0,
        relay_poll_interval_s=0.1,
        **values,
    )
    app = bootstrap(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake", timeout=30) as http:
            yield app, http


async def desk_key(app: FastAPI, name: str, *scopes: Scope) -> dict[str, str]:
    """A new desk client's key, as the headers to send it with."""
    directory: ClientDirectory = app.state.clients
    _, key = await directory.create(name, scopes)
    return {"Authorization": f"Bearer {key}"}


async def recorded(app: FastAPI, complaint_id: str | UUID) -> Complaint:
    found = await asyncio.to_thread(app.state.intake.app.complaint, UUID(str(complaint_id)))
    assert found is not None, f"complaint {complaint_id} is not recorded"
    return found  # type: ignore[no-any-return]


def complaints_recorded(database: PostgresTarget) -> int:
    with psycopg.connect(database.conninfo()) as conn:
        row = conn.execute(
            "SELECT count(*) FROM intake.intake_events WHERE topic LIKE %s", ("%:Complaint.Received",)
        ).fetchone()
        assert row is not None
        return int(row[0])


#: What a caller refused by a desk's endpoint presents.
REFUSED_CALLERS = ("no key", "wrong key", "revoked key", "another desk's key")


async def presented_key(app: FastAPI, who: str, scope: Scope, other: Scope) -> dict[str, str]:
    """The headers of a caller that must be refused: no key, a well-formed key nobody was
    given, a revoked key of the right `scope`, or a valid key of the `other` scope."""
    if who == "no key":
        return {}
    if who == "wrong key":
        return {"X-Api-Key": "eds_0123456789ab_" + "x" * 43}
    if who == "revoked key":
        headers = await desk_key(app, "revoked-desk", scope)
        assert await app.state.clients.revoke("revoked-desk")
        return headers
    assert who == "another desk's key", who
    return await desk_key(app, f"{other.value}-desk", other)
