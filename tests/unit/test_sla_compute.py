"""Asking for a due moment: the CLI (`python -m eungdapso_sla due`) and
`GET /api/v1/deadlines/compute` answer the same, and refuse bad input clearly (exit 2 / a
422 problem, never a traceback or a 5xx)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from faststream.kafka import KafkaBroker

from eungdapso_platform.service import Overrides
from eungdapso_schemas.system import ingress_routes
from eungdapso_sla.bootstrap import bootstrap
from eungdapso_sla.settings import SlaSettings


def due_cli(*args: str, database: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI with no database configured (no `POSTGRES_*`), unless one is given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTGRES_")}
    return subprocess.run(
        [sys.executable, "-m", "eungdapso_sla", "due", *args],
        capture_output=True,
        text=True,
        env={**env, **(database or {})},
        timeout=60,
        check=False,
    )


def test_cli_prints_the_due_moment_with_its_offset() -> None:
    # 24 working hours from Fri 13 Feb 2026 10:00 across Seollal: Mon 23 Feb 10:00.
    done = due_cli("--received", "2026-02-13T10:00+09:00", "--days", "3")
    assert (done.returncode, done.stdout) == (0, "2026-02-23T10:00:00+09:00\n")
    # Seven days, with Thu 19 and Fri 20 Feb declared holidays: Tue 3 Mar (Mon 2 Mar is the
    # substitute holiday for Independence Movement Day).
    done = due_cli(
        "--received",
        "2026-02-13T10:00+09:00",
        "--days",
        "7",
        "--holiday",
        "2026-02-19",
        "--holiday",
        "2026-02-20",
    )
    assert (done.returncode, done.stdout) == (0, "2026-03-03T18:00:00+09:00\n")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--received", "2026-02-13T10:00", "--days", "3"], "no offset"),
        (["--received", "yesterday", "--days", "3"], "not an ISO 8601 moment"),
        (["--received", "2026-02-13T10:00+09:00"], "exactly one period"),
        (["--received", "2026-02-13T10:00+09:00", "--days", "3", "--simple"], "exactly one period"),
        (["--received", "2026-02-13T10:00+09:00", "--months", "0"], "between 1 and"),
        (["--received", "2026-02-13T10:00+09:00", "--immediately", "--holiday", "2026-02-30"], "not a date"),
        (["--received", "2026-02-13T10:00+09:00", "--days", "three"], "invalid int"),
    ],
)
def test_cli_refuses_bad_input_with_exit_2(args: list[str], says: str) -> None:
    done = due_cli(*args)
    assert done.returncode == 2
    assert says in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_cli_with_a_configured_database_it_cannot_reach_gives_no_answer() -> None:
    # The declared holidays live there: an answer without them could be wrong, so none.
    unreachable = {"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": "9", "POSTGRES_CONNECT_TIMEOUT_S": "1"}
    done = due_cli("--received", "2026-02-13T10:00+09:00", "--days", "3", database=unreachable)
    assert done.returncode == 1 and done.stdout == ""
    assert "cannot reach the database" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = bootstrap(SlaSettings(), Overrides(in_memory_ledger=True, broker=KafkaBroker()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sla") as c:
        yield c


async def test_http_answers_the_same_as_the_cli(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/api/v1/deadlines/compute",
        params={"received": "2026-02-13T10:00+09:00", "days": 7, "holiday": ["2026-02-19", "2026-02-20"]},
    )
    assert r.status_code == 200
    assert r.json() == {
        "received": "2026-02-13T10:00:00+09:00",
        "due": "2026-03-03T18:00:00+09:00",
        "amount": 7,
        "unit": "days",
        "rule": "working_days",
        "declared_holidays": ["2026-02-19", "2026-02-20"],
    }


async def test_http_accepts_an_offset_whose_plus_was_not_encoded(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/deadlines/compute?received=2026-02-13T10:00+09:00&immediately=true")
    assert r.status_code == 200
    assert r.json()["due"] == "2026-02-13T14:00:00+09:00"


@pytest.mark.parametrize(
    "params",
    [
        {"received": "2026-02-13T10:00", "days": 3},
        {"received": "2026-02-13T10:00+09:00"},
        {"received": "2026-02-13T10:00+09:00", "months": 1, "weeks": 1},
        {"received": "2026-02-13T10:00+09:00", "days": -1},
        {"received": "2026-02-13T10:00+09:00", "days": "x"},
        {"received": "2026-02-13T10:00+09:00", "simple": True, "holiday": "soon"},
        {"days": 3},
    ],
)
async def test_http_refuses_bad_input_with_a_problem(
    client: httpx.AsyncClient, params: dict[str, object]
) -> None:
    r = await client.get("/api/v1/deadlines/compute", params=params)  # type: ignore[arg-type]
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"]


def test_the_gateway_routes_deadlines_to_sla() -> None:
    assert any(
        service == "sla" and route.matches("/api/v1/deadlines/compute") for route, service in ingress_routes()
    )
