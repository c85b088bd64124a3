"""A fresh laptop (no Docker engine, no PostgreSQL server) still runs the integration
tests, on the embedded PostgreSQL that `make run` uses: nothing is skipped for want of one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from eungdapso_devstack.infra import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TESTS = [
    "tests/test_applications.py::test_received_complaint_is_published_with_personal_data_kept_apart[postgres]",
    "tests/test_applications.py::test_the_postgres_ledger_is_a_table_of_the_service_schema",
]


@pytest.fixture
def temp() -> Iterator[Path]:
    """A short TMPDIR for the run (the server's Unix socket path must stay short)."""
    path = Path(tempfile.mkdtemp(prefix="eds-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_without_docker_or_a_server_the_tests_run_on_the_embedded_postgres(temp: Path) -> None:
    closed_port = free_port()  # nothing listens there
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "PYTEST_ADDOPTS"}}
    env.update(
        EUNGDAPSO_TEST_NO_DOCKER="1",
        TEST_POSTGRES_HOST="127.0.0.1",
        TEST_POSTGRES_PORT=str(closed_port),
        TMPDIR=str(temp),
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-o", "addopts=", *TESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert out.count(" PASSED") == len(TESTS) and "SKIPPED" not in out, out
    # Started for the session and gone with it: no server left running, no data left behind.
    assert not list(temp.glob("eds-pg-*/pgdata"))
    cmdlines = (" ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"]))
    assert not [c for c in cmdlines if str(temp) in c]
