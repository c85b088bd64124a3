"""Office keys: an office's systems (its department service, its staff pages) call the inbox
API with a key that carries the office's code, and see and act on that office's cases only.

Keys, their storage (hashed), the audit trail (`casework.office_key_events`) and the HTTP
answers are the platform's (`eungdapso_platform.credentials`); a key's one scope is its
office's code. Casework does not rate-limit office keys: they belong to the city's own
offices (their `rate_per_minute` is recorded, not enforced).
"""

from __future__ import annotations

import re
import time

from fastapi import Request

from eungdapso_platform import credentials
from eungdapso_platform.credentials import CredentialTables
from eungdapso_platform.db import Database
from eungdapso_platform.migrations import Migration

TABLES = CredentialTables(clients="office_keys", events="office_key_events")
#: Casework migration 1 (2 and 3 are `inbox.MIGRATIONS`).
MIGRATIONS: tuple[Migration, ...] = (
    TABLES.migration("casework", 1, "office keys (stored hashed, each for one office) and their audit trail"),
)
#: As `eungdapso_schemas.events.OfficeCode`.
OFFICE_CODE = re.compile(r"[a-z0-9_.\-]{2,80}")


def office_code(value: str) -> str:
    """An office code, or `ValueError`."""
    if not OFFICE_CODE.fullmatch(value):
        raise ValueError(f"{value!r} is not an office code (2-80 of a-z, 0-9, '.', '_', '-')")
    return value


OfficeKey = credentials.Client[str]


class OfficeKeys(credentials.ClientDirectory[str]):
    def __init__(self, db: Database, *, cache_s: float = 0.0) -> None:
        super().__init__(db, tables=TABLES, scope=office_code, cache_s=cache_s)


def request_deadline(request: Request) -> float:
    """The request's deadline (`time.monotonic()`), set by the first step that asks: the key's
    check and the work after it share it."""
    deadline: float | None = getattr(request.state, "deadline", None)
    if deadline is None:
        deadline = time.monotonic() + float(request.app.state.request_deadline_s)
        request.state.deadline = deadline
    return deadline
