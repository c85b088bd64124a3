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


def test_make_run_refuses_a_taken_port_before_starting_anything(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "eungdapso_devstack"],
            env={**os.environ, "PORT": str(port), "RUN_DIR": str(tmp_path / "run")},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"port {port} is in use" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()  # nothing was started


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"SMS_GATEWAYS": '{"Bad Name": "tok-s3cret-123"}'}, "SMS_GATEWAYS"),
        ({"SMS_GATEWAYS": '{"munja": "tok-s3cret-123"'}, "sms_gateways"),
        ({"X_CONSUMER_SECRET": "", "SNS_ACCOUNTS_FILE": "/nonexistent/accounts.toml"}, "SNS_ACCOUNTS_FILE"),
    ],
    ids=["bad-gateway-name", "malformed-json", "missing-accounts-file"],
)
def test_bad_channel_configuration_is_named_and_its_secrets_never_echoed(
    env: dict[str, str], says: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "eungdapso_intake"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr
    assert "tok-s3cret-123" not in done.stderr
