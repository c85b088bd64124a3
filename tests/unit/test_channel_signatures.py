"""The channels' signature functions against the providers' own definitions: Twilio's
through the real `twilio` package, X's and Facebook's as their documentation states them."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from twilio.request_validator import RequestValidator

from eungdapso_intake.channels.signatures import (
    TWILIO_SHA1,
    TWILIO_SHA256,
    ReplayWindow,
    eungdapso_signature,
    facebook_signature,
    matches,
    twilio_algorithm,
    twilio_signature,
    twilio_signature_matches,
    x_crc_response,
    x_signature,
)
from eungdapso_platform.clock import FixedClock
from eungdapso_platform.db import Database
from eungdapso_platform.problems import Problem

TOKEN = "12345678901234567890123456789012"
URL = "https://eungdapso.seoul.go.kr/api/v1/channels/sms/twilio"
PARAMS = {
    "MessageSid": "SM5f7a8e1c2b3d4e5f6a7b8c9d0e1f2a3b",
    "AccountSid": "AC" + "0" * 32,
    "From": "+821012345678",
    "To": "+8215880120",
    "Body": "신호등이 고장났어요 & 깜빡여요 =?",
    "NumMedia": "1",
    "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME1",
    "MediaContentType0": "image/jpeg",
    "Empty": "",
}


@pytest.mark.parametrize("url", [URL, URL + "?gw=kt&x=1", "http://127.0.0.1:8001/api/v1/channels/sms/twilio"])
def test_twilio_signature_is_the_one_twilios_package_computes(url: str) -> None:
    validator = RequestValidator(TOKEN)
    assert twilio_signature(TOKEN, url, PARAMS.items()) == validator.compute_signature(url, PARAMS)
    for algorithm in (TWILIO_SHA1, TWILIO_SHA256):
        theirs = validator.compute_signature(url, PARAMS, algorithm)
        assert twilio_signature(TOKEN, url, PARAMS.items(), algorithm) == theirs
        assert twilio_signature_matches(TOKEN, url, list(PARAMS.items()), theirs, algorithm)


def test_twilio_signature_with_or_without_the_default_port_is_accepted_as_twilios_validator_does() -> None:
    validator = RequestValidator(TOKEN)
    signed_with_port = validator.compute_signature(URL.replace(".kr/", ".kr:443/"), PARAMS)
    assert validator.validate(URL, PARAMS, signed_with_port)
    assert twilio_signature_matches(TOKEN, URL, list(PARAMS.items()), signed_with_port)


def test_twilio_signature_refuses_another_token_url_or_parameter() -> None:
    good = RequestValidator(TOKEN).compute_signature(URL, PARAMS)
    params = list(PARAMS.items())
    assert not twilio_signature_matches("another-token", URL, params, good)
    assert not twilio_signature_matches(TOKEN, URL.replace("twilio", "munja"), params, good)
    assert not twilio_signature_matches(TOKEN, URL, [*params[:-1], ("Body", "바뀐 내용")], good)
    assert not twilio_signature_matches(TOKEN, URL, params, None)


@pytest.mark.parametrize(
    ("header", "algorithm"),
    [
        (None, TWILIO_SHA1),
        ("", TWILIO_SHA1),
        ("key=webhooks_sharedkey_1", TWILIO_SHA1),
        ("key=webhooks_sharedkey_1,algorithm=HMAC_SHA256", TWILIO_SHA256),
        ("algorithm=hmac_sha1", TWILIO_SHA1),
        ("key=k,algorithm=HMAC_SHA512", None),
    ],
)
def test_twilio_signature_settings_header_names_the_algorithm(
    header: str | None, algorithm: str | None
) -> None:
    assert twilio_algorithm(header) == algorithm


def test_x_crc_and_delivery_signatures_are_sha256_base64_with_the_consumer_secret() -> None:
    secret = "z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu"
    token = "9b4507b3-9040-4669-9ca3-6b94edb50553"
    digest = hmac.new(secret.encode(), token.encode(), hashlib.sha256).digest()
    assert x_crc_response(secret, token) == "sha256=" + base64.b64encode(digest).decode()
    body = b'{"for_user_id":"1201480002","tweet_create_events":[]}'
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    assert x_signature(secret, body) == "sha256=" + base64.b64encode(digest).decode()


def test_facebook_signature_is_sha256_hex_of_the_raw_body_with_the_app_secret() -> None:
    body = b'{"object":"page","entry":[]}'
    expected = "sha256=" + hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    assert facebook_signature("app-secret", body) == expected


def test_our_signature_is_sha256_hex_of_timestamp_dot_body() -> None:
    # Pinned: gateways implement this from the README, so it may never change silently.
    assert eungdapso_signature("s3cret", "1763596800", b'{"a":1}') == (
        "sha256=" + hmac.new(b"s3cret", b'1763596800.{"a":1}', hashlib.sha256).hexdigest()
    )
    assert eungdapso_signature("s3cret", "1763596800", b"{}") != eungdapso_signature(
        "s3cret", "1763596801", b"{}"
    )


def test_matches_is_strict() -> None:
    assert matches("sha256=ab", "sha256=ab")
    assert not matches("sha256=ab", "sha256=AB")
    assert not matches("sha256=ab", None)
    assert not matches("sha256=ab", "")
    assert not matches("sha256=ab", "sha256=äb")


def test_replay_window_refuses_stale_future_and_malformed_timestamps() -> None:
    now = datetime(2026, 11, 20, 0, 5, tzinfo=UTC)
    window = ReplayWindow(Database("host=unused", "intake"), FixedClock(now), window_s=300)
    at = int(now.timestamp())
    window.check_fresh(str(at))
    window.check_fresh(str(at - 299))
    window.check_fresh(str(at + 299))
    for stale in (at - 301, at + 301, int((now - timedelta(days=1)).timestamp())):
        with pytest.raises(Problem) as refused:
            window.check_fresh(str(stale))
        assert refused.value.status == 403 and refused.value.type.endswith("stale-signature")
    for malformed in (None, "", "abc", "1.5", "-300", "١٢٣", "9" * 40):
        with pytest.raises(Problem) as refused:
            window.check_fresh(malformed)
        assert refused.value.type.endswith("bad-signature")
