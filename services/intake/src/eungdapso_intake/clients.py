"""Channel credentials: which client (an Open311 integrator, a 120 desk, the city's app)
may submit through which channel, with an API key, and how fast.

A key reads `eds_<prefix>_<secret>`: the prefix (12 hex digits, public: `clients list`
and the logs show it) finds the client; the secret (256 random bits) proves it. The key is
shown once, when the client is created, and stored only as its SHA-256 digest. A plain,
fast hash is right here: slow password hashes (bcrypt, Argon2) exist to make guessing a
low-entropy password from its hash expensive, but nobody can enumerate 2**256 secrets, so
slowness would only cost CPU on every request. The digest of the presented key is compared
with the stored one in constant time (`hmac.compare_digest`). (Whether a prefix exists is
no secret: prefixes are public.)

Every create and revoke is recorded in `client_events` (who, when, what) in the same
transaction as the change: the audit trail. A revoked client stays listed, with the time of
its revocation; its name is not reused.

A replica may keep accepting a key it has checked for `cache_s` seconds
(`IntakeSettings.client_cache_s`): a revocation takes effect at once on the replica that
made it and within `cache_s` everywhere else; 0 checks the database on every request.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated

import psycopg
import structlog
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from psycopg.rows import DictRow

from eungdapso_intake.ratelimit import RateLimits, unavailable_problem
from eungdapso_platform.db import Database
from eungdapso_platform.errors import is_transient
from eungdapso_platform.logging import get_logger
from eungdapso_platform.migrations import Migration
from eungdapso_platform.problems import Problem

log = get_logger("eungdapso.intake.clients")

#: Intake migration 1 (2 is `ratelimit.MIGRATIONS`).
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "intake",
        1,
        "channel clients (API keys stored hashed, scopes, rate limits) and their audit trail",
        (
            "CREATE TABLE {schema}.clients ("
            " id uuid PRIMARY KEY,"
            " name text NOT NULL CONSTRAINT clients_name_unique UNIQUE,"
            " scopes text[] NOT NULL,"
            " key_prefix text NOT NULL CONSTRAINT clients_key_prefix_unique UNIQUE,"
            " key_hash bytea NOT NULL,"
            " rate_per_minute integer NOT NULL CHECK (rate_per_minute > 0),"
            " created_at timestamptz NOT NULL DEFAULT now(),"
            " revoked_at timestamptz)",
            "CREATE TABLE {schema}.client_events ("
            " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
            " client_id uuid NOT NULL REFERENCES {schema}.clients (id),"
            " client_name text NOT NULL,"
            " action text NOT NULL CHECK (action IN ('created', 'revoked')),"
            " actor text NOT NULL,"
            " scopes text[] NOT NULL,"
            " rate_per_minute integer NOT NULL,"
            " key_prefix text NOT NULL,"
            " at timestamptz NOT NULL DEFAULT now())",
        ),
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


@dataclass(frozen=True)
class Client:
    id: uuid.UUID
    name: str
    scopes: frozenset[Scope]
    rate_per_minute: int


@dataclass(frozen=True)
class ClientRecord:
    """A client as `list` shows it: never its key, only the key's public prefix."""

    client: Client
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None


class Unauthenticated(Exception):
    """No key, or one that is unknown, malformed or revoked: which, the caller is not told."""

    def __init__(self) -> None:
        super().__init__("A valid API key is required.")


class NotPermitted(Exception):
    """A valid key whose client lacks the scope."""

    def __init__(self, client: Client, scope: Scope) -> None:
        super().__init__(f"This API key does not permit {scope.value}.")
        self.client = client
        self.scope = scope


class ClientExists(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"a client named {name!r} already exists")


DEFAULT_RATE_PER_MINUTE = 600
KEY_SCHEME = "eds"
#: A client's name: what it is, readable in logs (`open311-seoul-app`, `dasan-120`).
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_KEY = re.compile(r"eds_([0-9a-f]{12})_[A-Za-z0-9_-]{43}")


def key_prefix(key: str) -> str | None:
    """The public part of a well-formed key, which `clients list` and the logs show."""
    match = _KEY.fullmatch(key)
    return match.group(1) if match else None


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("ascii")).digest()


def _new_key() -> tuple[str, str]:
    prefix = secrets.token_hex(6)
    return prefix, f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"


def _scopes(values: Iterable[str]) -> frozenset[Scope]:
    known = {s.value for s in Scope}
    return frozenset(Scope(v) for v in values if v in known)


class ClientDirectory:
    def __init__(self, db: Database, *, cache_s: float = 0.0, cache_size: int = 1024) -> None:
        self.db = db
        self.cache_s = cache_s
        self.cache_size = cache_size
        #: SHA-256 of a key → (until, client), never the key itself.
        self._cache: dict[bytes, tuple[float, Client]] = {}

    async def create(
        self,
        name: str,
        scopes: Iterable[Scope],
        rate_per_minute: int = DEFAULT_RATE_PER_MINUTE,
        *,
        actor: str = "unknown",
    ) -> tuple[Client, str]:
        """A new client and its key: the key is returned this once and never stored."""
        if not NAME_PATTERN.fullmatch(name):
            raise ValueError(f"invalid client name {name!r}: letters, digits, '.', '_', '-'; at most 64")
        wanted = frozenset(Scope(s) for s in scopes)
        if not wanted:
            raise ValueError("a client needs at least one scope")
        if rate_per_minute < 1:
            raise ValueError("rate_per_minute must be at least 1")
        client = Client(uuid.uuid4(), name, wanted, rate_per_minute)
        scope_list = _values(wanted)
        for _ in range(5):
            prefix, key = _new_key()
            try:
                async with self.db.transaction() as conn:
                    await conn.execute(
                        self.db.sql(
                            "INSERT INTO {schema}.clients (id, name, scopes, key_prefix, key_hash,"
                            " rate_per_minute) VALUES (%s, %s, %s, %s, %s, %s)"
                        ),
                        (client.id, name, scope_list, prefix, _digest(key), rate_per_minute),
                    )
                    await self._record(conn, client, "created", actor, prefix)
            except psycopg.errors.UniqueViolation as exc:
                if exc.diag.constraint_name == "clients_name_unique":
                    raise ClientExists(name) from None
                continue  # the random prefix was taken (1 in 2**48): draw another key
            log.info("client_created", client=name, key_prefix=prefix, scopes=scope_list, actor=actor)
            return client, key
        raise RuntimeError("could not draw an unused key prefix")

    async def revoke(self, name: str, *, actor: str = "unknown") -> bool:
        """Revoke the client's key; False if there is no client of that name still active."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                self.db.sql(
                    "UPDATE {schema}.clients SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL"
                    " RETURNING id, name, scopes, rate_per_minute, key_prefix"
                ),
                (name,),
            )
            row = await cur.fetchone()
            if row is None:
                return False
            client = _client(row)
            await self._record(conn, client, "revoked", actor, row["key_prefix"])
        self._cache = {k: v for k, v in self._cache.items() if v[1].id != client.id}
        log.info("client_revoked", client=name, key_prefix=row["key_prefix"], actor=actor)
        return True

    async def list(self) -> builtins.list[ClientRecord]:
        """Every client, revoked ones too, by name."""
        async with self.db.connection() as conn:
            cur = await conn.execute(
                self.db.sql(
                    "SELECT id, name, scopes, rate_per_minute, key_prefix, created_at, revoked_at"
                    " FROM {schema}.clients ORDER BY name"
                )
            )
            rows = await cur.fetchall()
        return [ClientRecord(_client(r), r["key_prefix"], r["created_at"], r["revoked_at"]) for r in rows]

    async def authenticate(self, key: str | None, scope: Scope, *, deadline: float | None = None) -> Client:
        """The client whose key this is, if it may use `scope`. Raises `Unauthenticated`
        (missing, malformed, unknown or revoked key: one message for all) or `NotPermitted`;
        with a `deadline` (`time.monotonic()`), `TimeoutError` or the pool's timeout if the
        database does not answer in time."""
        prefix = key_prefix(key) if key else None
        if key is None or prefix is None:
            raise Unauthenticated()
        digest = _digest(key)
        client = self._cached(digest)
        if client is None:
            client = await self._lookup(prefix, digest, deadline)
        if scope not in client.scopes:
            log.info("client_not_permitted", client=client.name, scope=scope.value)
            raise NotPermitted(client, scope)
        return client

    async def _lookup(self, prefix: str, digest: bytes, deadline: float | None) -> Client:
        async def read(conn: psycopg.AsyncConnection[DictRow]) -> DictRow | None:
            cur = await conn.execute(
                self.db.sql(
                    "SELECT id, name, scopes, rate_per_minute, key_hash, revoked_at"
                    " FROM {schema}.clients WHERE key_prefix = %s"
                ),
                (prefix,),
            )
            return await cur.fetchone()

        row = await self.db.run(read, deadline=deadline)
        if (
            row is None
            or not hmac.compare_digest(bytes(row["key_hash"]), digest)
            or row["revoked_at"] is not None
        ):
            log.info("client_key_refused", key_prefix=prefix)
            raise Unauthenticated()
        client = _client(row)
        if self.cache_s > 0:
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            self._cache[digest] = (time.monotonic() + self.cache_s, client)
        return client

    def _cached(self, digest: bytes) -> Client | None:
        entry = self._cache.get(digest)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._cache.pop(digest, None)
            return None
        return entry[1]

    async def _record(
        self, conn: psycopg.AsyncConnection[DictRow], client: Client, action: str, actor: str, prefix: str
    ) -> None:
        await conn.execute(
            self.db.sql(
                "INSERT INTO {schema}.client_events (client_id, client_name, action, actor, scopes,"
                " rate_per_minute, key_prefix) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            ),
            (client.id, client.name, action, actor, _values(client.scopes), client.rate_per_minute, prefix),
        )


def _client(row: DictRow) -> Client:
    return Client(row["id"], row["name"], _scopes(row["scopes"]), row["rate_per_minute"])


def _values(scopes: Iterable[Scope]) -> list[str]:
    return sorted(s.value for s in scopes)


# HTTP: the key comes as `Authorization: Bearer <key>` or `X-Api-Key: <key>` (both shown
# in the OpenAPI document as security schemes).
_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer eds_…`")
_api_key = APIKeyHeader(name="X-Api-Key", auto_error=False, description="`X-Api-Key: eds_…`")
#: Sent with every 401 (RFC 6750).
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="eungdapso"'}


async def admit(request: Request, key: str | None, scope: Scope) -> Client:
    """The HTTP side of `authenticate`: the client, counted against its rate limit, or an RFC
    9457 problem (401, 403, 429, or 503 when the database cannot answer in time). For
    entry points that take the key elsewhere (Open311's `api_key`)."""
    directory: ClientDirectory = request.app.state.clients
    limits: RateLimits = request.app.state.rate_limits
    try:
        client = await directory.authenticate(key, scope, deadline=limits.deadline(request))
    except Unauthenticated as exc:
        raise Problem(
            401, "Unauthenticated", str(exc), type_="unauthenticated", headers=WWW_AUTHENTICATE
        ) from exc
    except NotPermitted as exc:
        raise Problem(403, "Not permitted", str(exc), type_="not-permitted") from exc
    except Exception as exc:
        if not is_transient(exc):
            raise
        log.warning("client_check_unavailable", error=f"{type(exc).__name__}: {exc}")
        raise unavailable_problem() from exc
    structlog.contextvars.bind_contextvars(client=client.name)
    await limits.enforce(
        request, f"client:{client.id}", client.rate_per_minute, what="requests with this key"
    )
    return client


def require_client(scope: Scope) -> Callable[..., Awaitable[Client]]:
    """A dependency: the authenticated client allowed `scope`, e.g.
    `client: Annotated[Client, Depends(require_client(Scope.PHONE))]`."""

    async def client_with_scope(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        api_key: Annotated[str | None, Depends(_api_key)],
    ) -> Client:
        return await admit(request, bearer.credentials if bearer is not None else api_key, scope)

    return client_with_scope
