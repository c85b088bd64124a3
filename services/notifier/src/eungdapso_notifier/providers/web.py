"""What the HTTP adapters (SMS gateway, X, Facebook) share: one client, and how an answer
becomes `Delivered`, `ProviderUnavailable` or `MessageRefused`.

- unreachable, timed out, 5xx, 408, 429 (with its Retry-After), 401 (the account's
  credentials are rejected: an operator must act, the message is not at fault): unavailable;
- any other 4xx: refused (bad address, too long, not allowed to reply there).
A reason names the status and the provider's error code, never the request or the
answer's free text (they may hold the citizen's number or handle).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any

import httpx

from eungdapso_notifier.providers import MessageRefused, ProviderUnavailable
from eungdapso_platform.logging import get_logger

log = get_logger("eungdapso.notifier.providers")

TRANSIENT = frozenset({401, 408, 425, 429})


def client(base_url: str, timeout_s: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, timeout=timeout_s, follow_redirects=False)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from `Retry-After` (seconds or an HTTP date) or X's
    `x-rate-limit-reset` (an epoch second)."""
    value = headers.get("retry-after")
    if value:
        if value.strip().isdigit():
            return float(value.strip())
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
    reset = headers.get("x-rate-limit-reset")
    if reset and reset.strip().isdigit():
        return max(0.0, float(reset) - time.time())
    return None


def error_code(response: httpx.Response) -> str | None:
    """The provider's error code (`code`, `error.code`, `title`, `errors[0].code`...), short."""
    try:
        body: Any = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    candidates = [
        error.get("code") if isinstance(error, dict) else error,
        error.get("error_subcode") if isinstance(error, dict) else None,
        body.get("code"),
        body.get("title"),
        body.get("type"),
    ]
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        candidates.append(errors[0].get("code"))
    found = [str(c)[:60] for c in candidates if isinstance(c, str | int) and not isinstance(c, bool)]
    return "/".join(found) or None


def refused_or_unavailable(provider: str, response: httpx.Response, *, transient: bool = False) -> Exception:
    """The exception for an answer that is not a success."""
    code = error_code(response)
    reason = f"HTTP {response.status_code}" + (f" ({code})" if code else "")
    status = response.status_code
    if transient or status >= 500 or status in TRANSIENT:
        return ProviderUnavailable(provider, reason, retry_after_s=retry_after(response.headers))
    return MessageRefused(provider, reason)


async def post(
    http: httpx.AsyncClient,
    provider: str,
    path: str,
    *,
    json: Mapping[str, Any],
    headers: Mapping[str, str],
    notice_id: str,
) -> httpx.Response:
    """POST, mapping a connection failure or timeout to `ProviderUnavailable`."""
    try:
        response = await http.post(path, json=dict(json), headers=dict(headers))
    except httpx.TimeoutException:
        log.warning("provider_timed_out", provider=provider, notice_id=notice_id)
        raise ProviderUnavailable(provider, "timed out") from None
    except httpx.TransportError as exc:
        log.warning("provider_unreachable", provider=provider, notice_id=notice_id, error=type(exc).__name__)
        raise ProviderUnavailable(provider, f"unreachable ({type(exc).__name__})") from None
    return response


def json_field(response: httpx.Response, *path: str) -> str | None:
    """A string at `path` in a JSON answer, or None."""
    try:
        value: Any = response.json()
    except ValueError:
        return None
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
