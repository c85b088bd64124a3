"""Channel credentials: which client (an Open311 integrator, a 120 desk, the city's app)
may submit through which channel, with an API key, and how fast.

The keys, their storage (hashed), the audit trail (`client_events`) and the HTTP answers are
the platform's (`eungdapso_platform.credentials`); here are intake's scopes (the channels),
its tables and its rate limits (`IntakeSettings.client_cache_s` bounds how long a replica
keeps trusting a checked key).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request

from eungdapso_intake.ratelimit import RateLimits, unavailable_problem
from eungdapso_platform import credentials
from eungdapso_platform.credentials import (
    DEFAULT_RATE_PER_MINUTE,
    KEY_SCHEME,
    NAME_PATTERN,
    WWW_AUTHENTICATE,
    ClientExists,
    CredentialTables,
    NotPermitted,
    Unauthenticated,
    key_prefix,
    presented_key,
)
from eungdapso_platform.credentials import new_key as _new_key
from eungdapso_platform.db import Database
from eungdapso_platform.migrations import Migration

__all__ = [
    "DEFAULT_RATE_PER_MINUTE",
    "KEY_SCHEME",
    "MIGRATIONS",
    "NAME_PATTERN",
    "WWW_AUTHENTICATE",
    "Client",
    "ClientDirectory",
    "ClientExists",
    "ClientRecord",
    "NotPermitted",
    "Scope",
    "Unauthenticated",
    "_new_key",
    "admit",
    "key_prefix",
    "require_client",
]

TABLES = CredentialTables(clients="clients", events="client_events")
#: Intake migration 1 (2 is `ratelimit.MIGRATIONS`).
MIGRATIONS: tuple[Migration, ...] = (
    TABLES.migration(
        "intake", 1, "channel clients (API keys stored hashed, scopes, rate limits) and their audit trail"
    ),
)


class Scope(StrEnum):
    """What a client may do: submit through one channel."""

    OPEN311 = "open311"
    #: The 120 Dasan call centre's agent desks.
    PHONE = "phone"
    #: Desks taking complaints in person, by fax and by mail.
    VISIT = "visit"
    FAX = "fax"
    MAIL = "mail"
    #: The city's mobile app, as a client of the native API.
    APP = "app"


Client = credentials.Client[Scope]
ClientRecord = credentials.ClientRecord[Scope]


class ClientDirectory(credentials.ClientDirectory[Scope]):
    """Intake's channel clients (`intake.clients`, `intake.client_events`)."""

    def __init__(self, db: Database, *, cache_s: float = 0.0, cache_size: int = 1024) -> None:
        super().__init__(db, tables=TABLES, scope=Scope, cache_s=cache_s, cache_size=cache_size)


async def admit(request: Request, key: str | None, scope: Scope) -> Client:
    """The client, counted against its rate limit, or an RFC 9457 problem (401, 403, 429, or
    503 when the database cannot answer in time). For entry points that take the key
    elsewhere (Open311's `api_key`)."""
    directory: ClientDirectory = request.app.state.clients
    limits: RateLimits = request.app.state.rate_limits
    client = await credentials.admit(
        directory, key, scope, deadline=limits.deadline(request), unavailable=unavailable_problem
    )
    await limits.enforce(
        request, f"client:{client.id}", client.rate_per_minute, what="requests with this key"
    )
    return client


def require_client(scope: Scope) -> Callable[..., Awaitable[Client]]:
    """A dependency: the authenticated client allowed `scope`, e.g.
    `client: Annotated[Client, Depends(require_client(Scope.PHONE))]`."""

    async def client_with_scope(
        request: Request, key: Annotated[str | None, Depends(presented_key)]
    ) -> Client:
        return await admit(request, key, scope)

    return client_with_scope
