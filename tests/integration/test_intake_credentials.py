"""Channel credentials and rate limits on a real PostgreSQL: API keys (stored hashed,
refused alike when missing, wrong or revoked), scopes, the `clients` command, limits shared
by replicas, and the web form's per-address limit."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
import psycopg
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, Depends, FastAPI

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_intake.bootstrap import MIGRATIONS, bootstrap
from eungdapso_intake.clients import (
    Client,
    ClientDirectory,
    ClientExists,
    NotPermitted,
    Scope,
    Unauthenticated,
    require_client,
)
from eungdapso_intake.ratelimit import RateLimiter
from eungdapso_intake.settings import IntakeSettings
from eungdapso_platform.db import Database
from tests.conftest import settings_for

pytestmark = pytest.mark.integration

COMPLAINT = {"text": "가로등이 꺼졌어요", "kind": "complaint"}

desk = APIRouter()


@desk.get("/test/phone-desk")
async def phone_desk(client: Annotated[Client, Depends(require_client(Scope.PHONE))]) -> dict[str, str]:
    return {"client": client.name}


def intake_settings(database: PostgresTarget, **values: Any) -> IntakeSettings:
    # No broker: the relay keeps retrying in the background, intake must not care.
    values = {"kafka_bootstrap_servers": "127.0.0.1:9", "client_cache_s": 0, **values}
    return settings_for(IntakeSettings, database, **values)


@asynccontextmanager
async def running_intake(
    database: PostgresTarget, peer: str = "203.0.113.7", **values: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """Intake with a tiny route for the 120 desks' scope, reached from `peer`."""
    app = bootstrap(intake_settings(database, **values))
    app.include_router(desk)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            yield app, http


@pytest.fixture
async def db(database: PostgresTarget) -> AsyncIterator[Database]:
    db = Database.for_service(intake_settings(database), migrations=MIGRATIONS)
    await db.open()
    yield db
    await db.close()


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    return problem


async def test_a_created_client_authenticates_and_its_key_is_stored_only_hashed(db: Database) -> None:
    directory = ClientDirectory(db)
    client, key = await directory.create("dasan-120", [Scope.PHONE, Scope.VISIT], 300)
    assert key.startswith("eds_") and len(key) > 50
    assert client.scopes == {Scope.PHONE, Scope.VISIT} and client.rate_per_minute == 300
    assert await directory.authenticate(key, Scope.PHONE) == client
    assert await ClientDirectory(db).authenticate(key, Scope.VISIT) == client  # another replica

    async with db.connection() as conn:
        row = await (await conn.execute("SELECT key_prefix, key_hash FROM intake.clients")).fetchone()
        dump = await (
            await conn.execute(
                "SELECT (SELECT string_agg(c::text, ' ') FROM intake.clients c)"
                " || (SELECT string_agg(e::text, ' ') FROM intake.client_events e) AS everything"
            )
        ).fetchone()
    assert row is not None and dump is not None
    assert bytes(row["key_hash"]) == hashlib.sha256(key.encode()).digest()
    secret = key.rsplit("_", 1)[1]
    assert key.split("_")[1] == row["key_prefix"]
    assert secret not in dump["everything"] and key not in dump["everything"]

    with pytest.raises(ClientExists):
        await directory.create("dasan-120", [Scope.PHONE])
    [listed] = await directory.list()
    assert listed.client == client and listed.revoked_at is None


async def test_wrong_missing_revoked_and_unscoped_keys_are_refused(db: Database) -> None:
    directory = ClientDirectory(db)
    _, key = await directory.create("seoul-app", [Scope.APP])
    _, other = await directory.create("fax-desk", [Scope.FAX])
    tampered = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    for bad in (None, "", "nonsense", tampered, key + "x", key.replace("eds_", "xyz_")):
        with pytest.raises(Unauthenticated) as refused:
            await directory.authenticate(bad, Scope.APP)
        assert str(refused.value) == "A valid API key is required."
    with pytest.raises(NotPermitted):
        await directory.authenticate(key, Scope.OPEN311)
    with pytest.raises(NotPermitted):
        await directory.authenticate(other, Scope.APP)

    assert await directory.revoke("seoul-app") is True
    assert await directory.revoke("seoul-app") is False
    assert await directory.revoke("no-such-client") is False
    with pytest.raises(Unauthenticated):
        await directory.authenticate(key, Scope.APP)
    assert await directory.authenticate(other, Scope.FAX)
    records = {r.client.name: r for r in await directory.list()}
    assert records["seoul-app"].revoked_at is not None and records["fax-desk"].revoked_at is None
    async with db.connection() as conn:
        cur = await conn.execute("SELECT client_name, action FROM intake.client_events ORDER BY id")
        trail = [(r["client_name"], r["action"]) for r in await cur.fetchall()]
    assert trail == [("seoul-app", "created"), ("fax-desk", "created"), ("seoul-app", "revoked")]


async def test_a_revocation_reaches_a_caching_replica_within_its_cache_bound(db: Database) -> None:
    here, there = ClientDirectory(db, cache_s=0.5), ClientDirectory(db, cache_s=0.5)
    _, key = await here.create("open311-partner", [Scope.OPEN311])
    await here.authenticate(key, Scope.OPEN311)
    await there.authenticate(key, Scope.OPEN311)
    assert await here.revoke("open311-partner")
    with pytest.raises(Unauthenticated):  # at once where it was revoked
        await here.authenticate(key, Scope.OPEN311)
    await there.authenticate(key, Scope.OPEN311)  # still cached over there ...
    await asyncio.sleep(0.6)
    with pytest.raises(Unauthenticated):  # ... for no longer than its bound
        await there.authenticate(key, Scope.OPEN311)


async def test_over_http_keys_are_refused_with_401_or_403_problems(database: PostgresTarget) -> None:
    async with running_intake(database) as (app, http):
        directory: ClientDirectory = app.state.clients
        _, phone = await directory.create("dasan-120", [Scope.PHONE])
        _, mail = await directory.create("mail-desk", [Scope.MAIL])
        _, revoked = await directory.create("old-desk", [Scope.PHONE])
        await directory.revoke("old-desk")

        ok = await http.get("/test/phone-desk", headers={"Authorization": f"Bearer {phone}"})
        assert ok.status_code == 200 and ok.json() == {"client": "dasan-120"}
        ok = await http.get("/test/phone-desk", headers={"X-Api-Key": phone})
        assert ok.status_code == 200

        refusals = []
        for headers in (
            {},
            {"Authorization": "Bearer eds_000000000000_" + "A" * 43},
            {"Authorization": f"Basic {phone}"},  # not a bearer token, and no X-Api-Key
            {"X-Api-Key": phone[:-1]},
            {"Authorization": f"Bearer {revoked}"},
        ):
            response = await http.get("/test/phone-desk", headers=headers)
            problem = assert_problem(response, 401)
            assert response.headers["www-authenticate"].startswith("Bearer")
            refusals.append((problem["type"], problem["detail"]))
        # Missing, unknown, malformed or revoked: the caller learns nothing more than "no".
        assert len(set(refusals)) == 1

        wrong_scope = await http.get("/test/phone-desk", headers={"X-Api-Key": mail})
        assert assert_problem(wrong_scope, 403)["type"].endswith("/not-permitted")


async def test_a_clients_rate_limit_answers_429_with_retry_after(database: PostgresTarget) -> None:
    async with running_intake(database) as (app, http):
        _, key = await app.state.clients.create("busy-desk", [Scope.PHONE], 2)
        headers = {"X-Api-Key": key}
        assert [(await http.get("/test/phone-desk", headers=headers)).status_code for _ in range(2)] == [
            200,
            200,
        ]
        limited = await http.get("/test/phone-desk", headers=headers)
        problem = assert_problem(limited, 429)
        assert problem["type"].endswith("/rate-limited")
        assert 1 <= int(limited.headers["retry-after"]) <= 120
        # Another client has its own budget.
        _, other = await app.state.clients.create("calm-desk", [Scope.PHONE], 2)
        assert (await http.get("/test/phone-desk", headers={"X-Api-Key": other})).status_code == 200


async def test_two_replicas_share_one_budget(database: PostgresTarget) -> None:
    dbs = [Database.for_service(intake_settings(database), migrations=MIGRATIONS) for _ in range(2)]
    for one in dbs:
        await one.open()
    try:
        replicas = [RateLimiter(one) for one in dbs]
        decisions = [await replicas[i % 2].hit("client:shared", 5, 60) for i in range(8)]
        assert [d.allowed for d in decisions] == [True] * 5 + [False] * 3
        assert all(1 <= d.retry_after_s <= 120 for d in decisions[5:])
        # Concurrent hits from both replicas never overshoot.
        together = await asyncio.gather(*(replicas[i % 2].hit("client:burst", 7, 60) for i in range(30)))
        assert sum(d.allowed for d in together) == 7
        # Buckets and window lengths are separate budgets.
        assert (await replicas[0].hit("client:other", 5, 60)).allowed
        assert (await replicas[1].hit("client:shared", 5, 3600)).allowed
    finally:
        for one in dbs:
            await one.close()


async def test_expired_windows_are_purged(db: Database) -> None:
    limiter = RateLimiter(db, purge_every_s=0)
    async with db.connection() as conn:
        await conn.execute(
            "INSERT INTO intake.rate_limit_windows VALUES"
            " ('web:old', 1000, 1, 3, now() - interval '1 minute')"
        )
    assert (await limiter.hit("web:new", 5, 1)).allowed
    await asyncio.sleep(0.2)
    await limiter.close()
    async with db.connection() as conn:
        cur = await conn.execute("SELECT bucket FROM intake.rate_limit_windows")
        assert [r["bucket"] for r in await cur.fetchall()] == ["web:new"]


async def test_the_web_form_is_limited_per_address_ignoring_untrusted_forwarded_for(
    database: PostgresTarget,
) -> None:
    async with running_intake(database, web_rate_per_minute=2, trusted_proxies="10.0.0.0/8") as (_, http):
        # A client that is no trusted proxy cannot dodge the limit by claiming other addresses.
        answers = [
            await http.post(
                "/api/v1/complaints", json=COMPLAINT, headers={"X-Forwarded-For": f"198.51.100.{i}"}
            )
            for i in range(3)
        ]
        assert [a.status_code for a in answers] == [201, 201, 429]
        problem = assert_problem(answers[2], 429)
        assert problem["type"].endswith("/rate-limited") and problem["instance"] == "/api/v1/complaints"
        assert 1 <= int(answers[2].headers["retry-after"]) <= 120
        # Invalid submissions never reach the database and are not counted; still 422 first.
        assert (await http.post("/api/v1/complaints", json={"kind": "complaint"})).status_code == 422


async def test_behind_a_trusted_proxy_each_forwarded_address_has_its_own_budget(
    database: PostgresTarget,
) -> None:
    async with running_intake(
        database, peer="10.0.0.5", web_rate_per_minute=1, trusted_proxies="10.0.0.0/8"
    ) as (_, http):

        async def post(forwarded_for: str) -> int:
            headers = {"X-Forwarded-For": forwarded_for}
            return (await http.post("/api/v1/complaints", json=COMPLAINT, headers=headers)).status_code

        assert await post("198.51.100.1") == 201
        assert await post("198.51.100.2") == 201
        assert await post("198.51.100.1") == 429
        # What the citizen wrote in the header (left of the proxy's hop) is not believed.
        assert await post("198.51.100.9, 198.51.100.2") == 429


async def test_a_slow_database_answers_503_with_retry_after_not_500(database: PostgresTarget) -> None:
    async with running_intake(database, request_deadline_s=1.0) as (_, http):
        assert (await http.post("/api/v1/complaints", json=COMPLAINT)).status_code == 201
        with psycopg.connect(database.conninfo()) as blocker:
            # Another session holds the web form's counter: the check waits on its row lock.
            blocker.execute("SELECT * FROM intake.rate_limit_windows FOR UPDATE").fetchall()
            started = time.monotonic()
            slow = await http.post("/api/v1/complaints", json=COMPLAINT, headers={"Idempotency-Key": "k-1"})
            elapsed = time.monotonic() - started
            blocker.rollback()
        problem = assert_problem(slow, 503)
        assert slow.headers["retry-after"] == "5" and problem["type"].endswith("/unavailable")
        assert problem["idempotency_key"] == "k-1" and "nothing was recorded" in problem["detail"]
        assert elapsed < 3, elapsed
        again = await http.post("/api/v1/complaints", json=COMPLAINT, headers={"Idempotency-Key": "k-1"})
        assert again.status_code == 201 and again.headers.get("idempotent-replayed") is None


def run_cli(database: PostgresTarget, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eungdapso_intake", "clients", *args],
        env={**os.environ, **database.env()},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_clients_command_prints_the_key_alone_on_its_last_line_and_revokes(
    database: PostgresTarget, db: Database
) -> None:
    created = await asyncio.to_thread(
        run_cli, database, "create", "--name", "open311-seoul", "--scope", "open311", "--scope", "app"
    )
    assert created.returncode == 0, created.stderr
    lines = created.stdout.splitlines()
    assert len(lines) >= 2 and "open311-seoul" in lines[0]
    key = lines[-1]
    assert key == key.strip() and " " not in key and key.startswith("eds_")
    client = await ClientDirectory(db).authenticate(key, Scope.OPEN311)
    assert client.name == "open311-seoul" and client.rate_per_minute == 600
    assert key not in created.stderr

    listed = await asyncio.to_thread(run_cli, database, "list")
    assert listed.returncode == 0 and "open311-seoul" in listed.stdout and key not in listed.stdout
    assert key.split("_")[1] in listed.stdout  # the public prefix, to tell keys apart

    taken = await asyncio.to_thread(run_cli, database, "create", "--name", "open311-seoul", "--scope", "app")
    assert taken.returncode == 1 and "already exists" in taken.stderr

    revoked = await asyncio.to_thread(run_cli, database, "revoke", "--name", "open311-seoul")
    assert revoked.returncode == 0, revoked.stderr
    with pytest.raises(Unauthenticated):
        await ClientDirectory(db).authenticate(key, Scope.OPEN311)
    again = await asyncio.to_thread(run_cli, database, "revoke", "--name", "open311-seoul")
    assert again.returncode == 1 and "no active client named 'open311-seoul'" in again.stderr
    assert "Traceback" not in again.stderr
