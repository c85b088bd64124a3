"""Entry points refuse bad configuration with a clear message and status 2, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("module", "env", "says"),
    [
        ("eungdapso_devstack", {"PORT": "abc"}, "PORT='abc'"),
        ("eungdapso_router", {"HTTP_PORT": "99999"}, "HTTP_PORT='99999'"),
        ("eungdapso_intake", {"KAFKA_FETCH_MAX_WAIT_MS": "-5"}, "KAFKA_FETCH_MAX_WAIT_MS='-5'"),
        ("eungdapso_publisher", {"RELAY_BATCH_SIZE": "0"}, "RELAY_BATCH_SIZE='0'"),
    ],
)
def test_bad_configuration_is_named_and_refused(module: str, env: dict[str, str], says: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module], env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert says in done.stderr and "Traceback" not in done.stderr


def test_unknown_publisher_command_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "eungdapso_publisher", "rebuilt"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "invalid choice: 'rebuilt'" in done.stderr
