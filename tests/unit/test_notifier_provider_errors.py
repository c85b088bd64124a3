"""How the HTTP adapters read a provider's answer (notifier providers/web.py): when to retry,
how long to wait, and a reason that never repeats the provider's free text."""

from __future__ import annotations

import email.utils
import time

import httpx

from eungdapso_notifier.providers import MessageRefused, ProviderUnavailable
from eungdapso_notifier.providers.sms import domestic_number
from eungdapso_notifier.providers.web import refused_or_unavailable, retry_after


def test_retry_after_in_seconds_as_a_date_or_as_x_rate_limit_reset() -> None:
    assert retry_after({"retry-after": "30"}) == 30
    later = email.utils.formatdate(time.time() + 120, usegmt=True)
    waited = retry_after({"retry-after": later})
    assert waited is not None and 110 < waited <= 120
    reset = retry_after({"x-rate-limit-reset": str(int(time.time()) + 60)})
    assert reset is not None and 50 < reset <= 60
    assert retry_after({"retry-after": "soon"}) is None and retry_after({}) is None


def test_statuses_map_to_retry_or_refusal() -> None:
    def mapped(status: int, body: object = None) -> Exception:
        return refused_or_unavailable("p", httpx.Response(status, json=body))

    for status in (500, 502, 503, 504, 408, 429, 401):
        assert isinstance(mapped(status), ProviderUnavailable), status
    for status in (400, 403, 404, 413, 422):
        assert isinstance(mapped(status), MessageRefused), status
    refused = mapped(400, {"error": {"message": "+82 10-1234-5678 is blocked", "code": 131}})
    assert str(refused) == "p: HTTP 400 (131)"


def test_korean_numbers_in_any_usual_form() -> None:
    assert domestic_number("010-1234-5678") == "01012345678"
    assert domestic_number("+82 10 1234 5678") == "01012345678"
    assert domestic_number("+82-010-1234-5678") == "01012345678"
    assert domestic_number("02-120") is None
    assert domestic_number("+1 415 555 0100") is None
