"""Channel credentials and rate limits without a database: key shape, the client address
behind proxies, Retry-After arithmetic, settings, the command's arguments, and refusals that
need no lookup."""

from __future__ import annotations

import ipaddress
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import ValidationError

from eungdapso_intake.__main__ import main
from eungdapso_intake.clients import (
    MIGRATIONS as CLIENT_MIGRATIONS,
)
from eungdapso_intake.clients import (
    Client,
    ClientDirectory,
    Scope,
    _new_key,
    key_prefix,
    require_client,
)
from eungdapso_intake.ratelimit import (
    MIGRATIONS as RATE_MIGRATIONS,
)
from eungdapso_intake.ratelimit import (
    RateLimiter,
    RateLimits,
    client_address,
    retry_after_s,
)
from eungdapso_intake.settings import IntakeSettings
from eungdapso_platform.db import Database
from eungdapso_platform.migrations import _check_order
from eungdapso_platform.problems import install_problem_handlers

TRUSTED = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32"))


def test_keys_are_random_well_formed_and_carry_their_public_prefix() -> None:
    keys = {_new_key() for _ in range(50)}
    assert len({k for _, k in keys}) == 50
    for prefix, key in keys:
        assert key.startswith(f"eds_{prefix}_") and key_prefix(key) == prefix
        assert len(key.rsplit("_", 1)[-1]) >= 1 and len(key) == 4 + 12 + 1 + 43
    assert key_prefix("eds_0123456789ab_short") is None
    assert key_prefix("Bearer eds_…") is None
    assert {s.value for s in Scope} == {"open311", "phone", "visit", "fax", "mail", "app"}


def test_intake_migrations_are_numbered_in_order() -> None:
    _check_order((*CLIENT_MIGRATIONS, *RATE_MIGRATIONS))


@pytest.mark.parametrize(
    ("peer", "forwarded", "address"),
    [
        # An untrusted peer's header is ignored, whatever it claims.
        ("203.0.113.7", ["198.51.100.1"], "203.0.113.7"),
        ("203.0.113.7", [], "203.0.113.7"),
        # A trusted proxy's hop is believed; the citizen's own claims left of it are not.
        ("10.0.0.5", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.5", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
        ("10.0.0.5", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),
        # Proxies behind proxies are skipped while trusted.
        ("10.0.0.5", ["198.51.100.1, 10.1.2.3"], "198.51.100.1"),
        ("10.0.0.5", ["10.9.9.9, 10.1.2.3"], "10.9.9.9"),
        # Garbage from behind a trusted proxy: the last trusted hop is what is known.
        ("10.0.0.5", ["not-an-address"], "10.0.0.5"),
        ("10.0.0.5", [], "10.0.0.5"),
        # IPv6 clients are counted by their /64; IPv4-mapped addresses as IPv4.
        ("2001:db8:1:2:3:4:5:6", [], "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", [], "203.0.113.7"),
        ("10.0.0.5", ["2001:db8:1:2::99"], "2001:db8:1:2::/64"),
        # A peer that is no address at all (a test client, a Unix socket).
        ("testclient", ["198.51.100.1"], "testclient"),
        (None, [], "unknown"),
    ],
)
def test_client_address(peer: str | None, forwarded: list[str], address: str) -> None:
    assert client_address(peer, forwarded, TRUSTED) == address


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_address("10.0.0.5", ["198.51.100.1"], ()) == "10.0.0.5"


@pytest.mark.parametrize(
    ("limit", "previous", "current", "elapsed", "window_s", "expected"),
    [
        # This window is full: wait for the next, where it counts as the previous one.
        (3, 0, 3, 0.5, 60, 50),  # 30 s to the edge, then a third of the window slides out
        (1, 0, 1, 0.0, 60, 120),  # the estimate spreads the hit over its window
        (10, 0, 10, 0.99, 60, 7),
        # Room in this window, once enough of the previous window slides out.
        (10, 10, 5, 0.2, 60, 24),  # 10 * (1 - f) <= 4  =>  f >= 0.6
        # Never less than a second, never more than two windows.
        (5, 5, 0, 0.999999, 60, 1),
        (0, 0, 0, 0.5, 60, 60),
    ],
)
def test_retry_after_follows_the_sliding_window(
    limit: int, previous: int, current: int, elapsed: float, window_s: float, expected: int
) -> None:
    assert retry_after_s(limit, previous, current, elapsed, window_s) == expected


def test_settings_read_trusted_proxies_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1,::1")
    monkeypatch.setenv("WEB_RATE_PER_MINUTE", "5")
    monkeypatch.setenv("CLIENT_CACHE_S", "0")
    settings = IntakeSettings()
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "127.0.0.1/32", "::1/128"]
    assert settings.web_rate_per_minute == 5 and settings.client_cache_s == 0
    assert IntakeSettings(trusted_proxies="").trusted_proxies == ()
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8,gateway")
    with pytest.raises(ValidationError):
        IntakeSettings()
    monkeypatch.delenv("TRUSTED_PROXIES")
    monkeypatch.setenv("WEB_RATE_PER_MINUTE", "0")
    with pytest.raises(ValidationError):
        IntakeSettings()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["clients"], "required"),
        (["clients", "create", "--name", "desk"], "--scope"),
        (["clients", "create", "--name", "desk", "--scope", "sms"], "invalid choice: 'sms'"),
        (["clients", "create", "--name", "bad name", "--scope", "fax"], "'bad name'"),
        (["clients", "create", "--name", "desk", "--scope", "fax", "--rate-per-minute", "0"], "at least 1"),
        (["clients", "revoke"], "--name"),
        (["clients", "rotate"], "invalid choice: 'rotate'"),
        (["clients", "list", "--all"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_are_named_and_exit_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert says in captured.err and captured.out == ""


async def test_a_request_without_a_well_formed_key_is_refused_before_any_lookup() -> None:
    # Never opened: a lookup would fail, so a 401 here was decided without the database.
    db = Database("host=127.0.0.1 port=9 connect_timeout=1", "intake")
    app = FastAPI()
    install_problem_handlers(app)
    app.state.clients = ClientDirectory(db)
    app.state.rate_limits = RateLimits(RateLimiter(db), web_rate_per_minute=1)

    @app.get("/desk")
    async def desk(client: Annotated[Client, Depends(require_client(Scope.VISIT))]) -> str:
        return client.name

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
        for headers in ({}, {"Authorization": "Bearer nonsense"}, {"X-Api-Key": "eds_"}):
            response = await http.get("/desk", headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["detail"] == "A valid API key is required."
