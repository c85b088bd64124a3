"""The organisation directory on a real PostgreSQL: a router publishes its packaged edition
when it starts, `python -m eungdapso_router directory publish FILE` records a new version, and
a running router serves it within seconds, with no redeploy; a restart keeps it in force."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_router.application import RouterApplication
from eungdapso_router.bootstrap import bootstrap
from eungdapso_router.directory import packaged_directory, parse_directory
from eungdapso_router.directory_store import DirectoryStore
from eungdapso_router.settings import RouterSettings

pytestmark = pytest.mark.integration

PACKAGED = files("eungdapso_router").joinpath("data/organisation.toml").read_text("utf-8")
POLL_S = 0.5


def router(database: PostgresTarget) -> TestClient:
    values: dict[str, Any] = {k.lower(): v for k, v in database.env().items()}
    # No broker here: the consumer and the relay keep retrying in the background.
    values.update(kafka_bootstrap_servers="127.0.0.1:9", directory_poll_interval_s=POLL_S)
    return TestClient(bootstrap(RouterSettings(**values)))


@pytest.fixture
def running(database: PostgresTarget) -> Iterator[TestClient]:
    with router(database) as client:
        yield client


def run_cli(database: PostgresTarget, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eungdapso_router", "directory", *args],
        env={**os.environ, **database.env()},
        capture_output=True,
        text=True,
        timeout=60,
    )


def directory(client: TestClient, **params: str) -> dict[str, Any]:
    answer = client.get("/api/v1/directory", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_a_published_directory_reaches_the_running_router_without_a_restart(
    running: TestClient, database: PostgresTarget, tmp_path: Path
) -> None:
    started = directory(running)
    assert started["version"] == 1 and started["content_hash"] == packaged_directory().content_hash

    renamed = tmp_path / "organisation.toml"
    renamed.write_text(
        PACKAGED.replace('edition = "2026-11-22.1"', 'edition = "2026-11-23.1"').replace(
            'parking = "주차관리과"', 'parking = "주차단속과"'
        ),
        encoding="utf-8",
    )
    cli_started = time.monotonic()
    published = run_cli(database, "publish", str(renamed))
    assert published.returncode == 0, published.stderr
    assert published.stdout.startswith("published directory version 2: edition 2026-11-23.1")

    recorded_at = time.monotonic()
    while (now := directory(running, district="gangnam"))["version"] != 2:
        assert time.monotonic() - recorded_at < POLL_S + 5, "the running router did not take up version 2"
        time.sleep(0.05)
    print(
        f"version 2 served {time.monotonic() - recorded_at:.2f} s after the CLI exited, "
        f"{time.monotonic() - cli_started:.2f} s after it started (poll interval {POLL_S} s)"
    )
    parking = next(o for o in now["offices"] if o["code"] == "district.gangnam.parking")
    assert parking["ko"] == "강남구 주차단속과" and now["edition"] == "2026-11-23.1"

    again = run_cli(database, "publish", str(renamed))
    assert again.returncode == 0 and again.stdout.startswith("unchanged: directory version 2")
    shown = run_cli(database, "show")
    assert shown.returncode == 0 and shown.stdout.startswith("directory version 2: edition 2026-11-23.1")
    assert "from file:organisation.toml" in shown.stdout


def test_a_restart_keeps_a_run_time_publication_in_force(database: PostgresTarget, tmp_path: Path) -> None:
    with router(database) as first:
        assert directory(first)["version"] == 1
    hotfix = tmp_path / "hotfix.json"
    document = tomllib.loads(PACKAGED)
    document["edition"] = "hotfix-json"
    hotfix.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    assert run_cli(database, "publish", str(hotfix)).returncode == 0
    with router(database) as restarted:  # the same package: already published, not again
        answer = directory(restarted)
        assert (answer["version"], answer["edition"]) == (2, "hotfix-json")


def test_an_invalid_file_is_refused_and_changes_nothing(
    running: TestClient, database: PostgresTarget, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(PACKAGED.replace('code = "seoul.metro"', 'code = "seoul.subway"'), encoding="utf-8")
    refused = run_cli(database, "publish", str(broken))
    assert refused.returncode == 1 and refused.stdout == ""
    assert "subject 'subway': no office 'seoul.metro'" in refused.stderr
    assert directory(running)["version"] == 1


def test_the_directory_answers_problems_for_bad_filters(running: TestClient) -> None:
    bad = running.get("/api/v1/directory", params={"level": "galactic"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert len(directory(running, level="district")["offices"]) == 25 * 21


def test_publishers_racing_on_postgresql_record_versions_without_gaps(database: PostgresTarget) -> None:
    values: dict[str, Any] = {k.lower(): v for k, v in database.env().items()}
    settings = RouterSettings(**values)
    editions = [parse_directory(PACKAGED.replace("2026-11-22.1", f"race-{i}", 1)) for i in range(4)]
    # One application per publisher, as separate processes would have.
    stores = [DirectoryStore(RouterApplication(env=settings.eventsourcing_env())) for _ in editions]
    together = threading.Barrier(len(editions))

    def publish(i: int) -> int:
        together.wait()
        return stores[i].publish(editions[i], source=f"race-{i}").version

    with ThreadPoolExecutor(len(editions)) as pool:
        versions = sorted(pool.map(publish, range(len(editions))))
    assert versions == [1, 2, 3, 4]
    assert {stores[0].read(v).edition for v in versions} == {d.edition for d in editions}  # type: ignore[union-attr]
    for store in stores:
        store.application.close()
