"""API keys for the clients of a service's HTTP API, parametrised by what a key may do (its
scopes): intake's keys carry channels, casework's the office they act for.

A key reads `eds_<prefix>_<secret>`: the prefix (12 hex digits, public: `list` and the logs
show it) finds the client; the secret (256 random bits) proves it. The key is shown once,
when the client is created, and stored only as its SHA-256 digest. A plain, fast hash is
right here: slow password hashes (bcrypt, Argon2) exist to make guessing a low-entropy
password from its hash expensive, but nobody can enumerate 2**256 secrets, so slowness would
only cost CPU on every request. The digest of the presented key is compared with the stored
one in constant time (`hmac.compare_digest`). (Whether a prefix exists is no secret:
prefixes are public.)

Every create and revoke is recorded in the service's events table of its credentials (who,
when, what) in the same transaction as the change: the audit trail. A revoked client stays
listed, with the time of its revocation; its name is not reused.

A replica may keep accepting a key it has checked for `cache_s` seconds: a revocation takes
effect at once on the replica that made it and within `cache_s` everywhere else; 0 checks the
database on every request.
"""

from __future__ import annotations

import argparse
import asyncio
import builtins
import hashlib
import hmac
import re
import secrets
import sys
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import psycopg
import structlog
from fastapi import Depends
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from psycopg import sql
from psycopg.rows import DictRow

from eungdapso_platform.db import Database
from eungdapso_platform.domain import command_line_actor
from eungdapso_platform.errors import is_transient
from eungdapso_platform.logging import configure_logging, get_logger
from eungdapso_platform.migrations import Migration
from eungdapso_platform.problems import Problem
from eungdapso_platform.settings import ServiceSettings

log = get_logger("eungdapso.credentials")

#: A scope: a `StrEnum` member (intake's channels) or a validated code (an office).
S = TypeVar("S", bound=str)


@dataclass(frozen=True)
class Client(Generic[S]):
    id: uuid.UUID
    name: str
    scopes: frozenset[S]
    rate_per_minute: int


@dataclass(frozen=True)
class ClientRecord(Generic[S]):
    """A client as `list` shows it: never its key, only the key's public prefix."""

    client: Client[S]
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None


class Unauthenticated(Exception):
    """No key, or one that is unknown, malformed or revoked: which, the caller is not told."""

    def __init__(self) -> None:
        super().__init__("A valid API key is required.")


class NotPermitted(Exception):
    """A valid key whose client lacks the scope."""

    def __init__(self, client: Client[Any], scope: str) -> None:
        super().__init__(f"This API key does not permit {scope}.")
        self.client = client
        self.scope = scope


class ClientExists(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"a client named {name!r} already exists")


DEFAULT_RATE_PER_MINUTE = 600
KEY_SCHEME = "eds"
#: A client's name: what it is, readable in logs (`open311-seoul-app`, `gangnam-parking`).
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_KEY = re.compile(r"eds_([0-9a-f]{12})_[A-Za-z0-9_-]{43}")


def key_prefix(key: str) -> str | None:
    """The public part of a well-formed key, which `list` and the logs show."""
    match = _KEY.fullmatch(key)
    return match.group(1) if match else None


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("ascii")).digest()


def new_key() -> tuple[str, str]:
    prefix = secrets.token_hex(6)
    return prefix, f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"


@dataclass(frozen=True)
class CredentialTables:
    """Where a service keeps its clients and their audit trail (in its own schema)."""

    clients: str
    events: str

    def migration(self, component: str, version: int, description: str) -> Migration:
        c, e = self.clients, self.events
        return Migration(
            component,
            version,
            description,
            (
                f"CREATE TABLE {{schema}}.{c} ("
                " id uuid PRIMARY KEY,"
                f" name text NOT NULL CONSTRAINT {c}_name_unique UNIQUE,"
                " scopes text[] NOT NULL,"
                f" key_prefix text NOT NULL CONSTRAINT {c}_key_prefix_unique UNIQUE,"
                " key_hash bytea NOT NULL,"
                " rate_per_minute integer NOT NULL CHECK (rate_per_minute > 0),"
                " created_at timestamptz NOT NULL DEFAULT now(),"
                " revoked_at timestamptz)",
                f"CREATE TABLE {{schema}}.{e} ("
                " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
                f" client_id uuid NOT NULL REFERENCES {{schema}}.{c} (id),"
                " client_name text NOT NULL,"
                " action text NOT NULL CHECK (action IN ('created', 'revoked')),"
                " actor text NOT NULL,"
                " scopes text[] NOT NULL,"
                " rate_per_minute integer NOT NULL,"
                " key_prefix text NOT NULL,"
                " at timestamptz NOT NULL DEFAULT now())",
            ),
        )


class ClientDirectory(Generic[S]):
    """A service's clients and their keys. `scope` turns a stored scope back into its type
    (raising `ValueError` for one the code no longer knows, which is then ignored)."""

    def __init__(
        self,
        db: Database,
        *,
        tables: CredentialTables,
        scope: Callable[[str], S],
        cache_s: float = 0.0,
        cache_size: int = 1024,
    ) -> None:
        self.db = db
        self.tables = tables
        self.scope = scope
        self.cache_s = cache_s
        self.cache_size = cache_size
        #: SHA-256 of a key → (until, client), never the key itself.
        self._cache: dict[bytes, tuple[float, Client[S]]] = {}

    def _sql(self, template: str) -> sql.Composed:
        return sql.SQL(template).format(
            schema=sql.Identifier(self.db.schema),
            clients=sql.Identifier(self.tables.clients),
            events=sql.Identifier(self.tables.events),
        )

    async def create(
        self,
        name: str,
        scopes: Iterable[S],
        rate_per_minute: int = DEFAULT_RATE_PER_MINUTE,
        *,
        actor: str = "unknown",
    ) -> tuple[Client[S], str]:
        """A new client and its key: the key is returned this once and never stored."""
        if not NAME_PATTERN.fullmatch(name):
            raise ValueError(f"invalid client name {name!r}: letters, digits, '.', '_', '-'; at most 64")
        wanted = frozenset(self.scope(s) for s in scopes)
        if not wanted:
            raise ValueError("a client needs at least one scope")
        if rate_per_minute < 1:
            raise ValueError("rate_per_minute must be at least 1")
        client = Client(uuid.uuid4(), name, wanted, rate_per_minute)
        scope_list = _values(wanted)
        for _ in range(5):
            prefix, key = new_key()
            try:
                async with self.db.transaction() as conn:
                    await conn.execute(
                        self._sql(
                            "INSERT INTO {schema}.{clients} (id, name, scopes, key_prefix, key_hash,"
                            " rate_per_minute) VALUES (%s, %s, %s, %s, %s, %s)"
                        ),
                        (client.id, name, scope_list, prefix, digest(key), rate_per_minute),
                    )
                    await self._record(conn, client, "created", actor, prefix)
            except psycopg.errors.UniqueViolation as exc:
                if exc.diag.constraint_name == f"{self.tables.clients}_name_unique":
                    raise ClientExists(name) from None
                continue  # the random prefix was taken (1 in 2**48): draw another key
            log.info("client_created", client=name, key_prefix=prefix, scopes=scope_list, actor=actor)
            return client, key
        raise RuntimeError("could not draw an unused key prefix")

    async def revoke(self, name: str, *, actor: str = "unknown") -> bool:
        """Revoke the client's key; False if there is no client of that name still active."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                self._sql(
                    "UPDATE {schema}.{clients} SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL"
                    " RETURNING id, name, scopes, rate_per_minute, key_prefix"
                ),
                (name,),
            )
            row = await cur.fetchone()
            if row is None:
                return False
            client = self._client(row)
            await self._record(conn, client, "revoked", actor, row["key_prefix"])
        self._cache = {k: v for k, v in self._cache.items() if v[1].id != client.id}
        log.info("client_revoked", client=name, key_prefix=row["key_prefix"], actor=actor)
        return True

    async def list(self) -> builtins.list[ClientRecord[S]]:
        """Every client, revoked ones too, by name."""
        async with self.db.connection() as conn:
            cur = await conn.execute(
                self._sql(
                    "SELECT id, name, scopes, rate_per_minute, key_prefix, created_at, revoked_at"
                    " FROM {schema}.{clients} ORDER BY name"
                )
            )
            rows = await cur.fetchall()
        return [
            ClientRecord(self._client(r), r["key_prefix"], r["created_at"], r["revoked_at"]) for r in rows
        ]

    async def authenticate(
        self, key: str | None, scope: S | None, *, deadline: float | None = None
    ) -> Client[S]:
        """The client whose key this is, if it may use `scope` (None: whatever its scopes).
        Raises `Unauthenticated` (missing, malformed, unknown or revoked key: one message for
        all) or `NotPermitted`; with a `deadline` (`time.monotonic()`), `TimeoutError` or the
        pool's timeout if the database does not answer in time."""
        prefix = key_prefix(key) if key else None
        if key is None or prefix is None:
            raise Unauthenticated()
        key_digest = digest(key)
        client = self._cached(key_digest)
        if client is None:
            client = await self._lookup(prefix, key_digest, deadline)
        if scope is not None and scope not in client.scopes:
            log.info("client_not_permitted", client=client.name, scope=str(scope))
            raise NotPermitted(client, scope)
        return client

    async def _lookup(self, prefix: str, key_digest: bytes, deadline: float | None) -> Client[S]:
        async def read(conn: psycopg.AsyncConnection[DictRow]) -> DictRow | None:
            cur = await conn.execute(
                self._sql(
                    "SELECT id, name, scopes, rate_per_minute, key_hash, revoked_at"
                    " FROM {schema}.{clients} WHERE key_prefix = %s"
                ),
                (prefix,),
            )
            return await cur.fetchone()

        row = await self.db.run(read, deadline=deadline)
        if (
            row is None
            or not hmac.compare_digest(bytes(row["key_hash"]), key_digest)
            or row["revoked_at"] is not None
        ):
            log.info("client_key_refused", key_prefix=prefix)
            raise Unauthenticated()
        client = self._client(row)
        if self.cache_s > 0:
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            self._cache[key_digest] = (time.monotonic() + self.cache_s, client)
        return client

    def _cached(self, key_digest: bytes) -> Client[S] | None:
        entry = self._cache.get(key_digest)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._cache.pop(key_digest, None)
            return None
        return entry[1]

    def _client(self, row: DictRow) -> Client[S]:
        scopes: set[S] = set()
        for value in row["scopes"]:
            try:
                scopes.add(self.scope(value))
            except ValueError:
                continue  # a scope this code no longer knows grants nothing
        return Client(row["id"], row["name"], frozenset(scopes), row["rate_per_minute"])

    async def _record(
        self, conn: psycopg.AsyncConnection[DictRow], client: Client[S], action: str, actor: str, prefix: str
    ) -> None:
        await conn.execute(
            self._sql(
                "INSERT INTO {schema}.{events} (client_id, client_name, action, actor, scopes,"
                " rate_per_minute, key_prefix) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            ),
            (client.id, client.name, action, actor, _values(client.scopes), client.rate_per_minute, prefix),
        )


def _values(scopes: Iterable[str]) -> list[str]:
    return sorted(str(s) for s in scopes)


# -- HTTP ---------------------------------------------------------------------------------
# The key comes as `Authorization: Bearer <key>` or `X-Api-Key: <key>` (both shown in the
# OpenAPI document as security schemes).
_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer eds_…`")
_api_key = APIKeyHeader(name="X-Api-Key", auto_error=False, description="`X-Api-Key: eds_…`")
#: Sent with every 401 (RFC 6750).
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="eungdapso"'}


async def presented_key(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> str | None:
    """A dependency: the key the request presents, if any."""
    return bearer.credentials if bearer is not None else api_key


def unavailable_problem() -> Problem:
    return Problem(
        503,
        "Temporarily unavailable",
        "The service cannot reach its database right now; nothing was done. Send the same request "
        "again later.",
        type_="unavailable",
        headers={"Retry-After": "5"},
    )


async def admit(
    directory: ClientDirectory[S],
    key: str | None,
    scope: S | None,
    *,
    deadline: float | None = None,
    unavailable: Callable[[], Problem] = unavailable_problem,
) -> Client[S]:
    """The HTTP side of `authenticate`: the client, or an RFC 9457 problem (401, 403, or 503
    when the database cannot answer in time)."""
    try:
        client = await directory.authenticate(key, scope, deadline=deadline)
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
        raise unavailable() from exc
    structlog.contextvars.bind_contextvars(client=client.name)
    return client


# -- the command line ----------------------------------------------------------------------
def say(line: str) -> None:
    sys.stdout.write(line + "\n")


def name_argument(value: str) -> str:
    """An argparse type: a client's name."""
    if not NAME_PATTERN.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r}: a name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


def positive_argument(value: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: a whole number of at least 1")
    return number


def add_revoke_and_list(actions: argparse._SubParsersAction[argparse.ArgumentParser], *, what: str) -> None:
    """The `revoke --name N` and `list` subcommands of a credentials command."""
    revoke = actions.add_parser("revoke", help=f"revoke {what} (it stays listed)")
    revoke.add_argument("--name", required=True)
    actions.add_parser("list", help="all, revoked ones too, with scopes and key prefixes (never keys)")


def run_command(
    settings: ServiceSettings,
    migrations: Sequence[Migration],
    work: Callable[[Database], Coroutine[Any, Any, int]],
    *,
    name: str,
) -> int:
    """Run a credentials command on the service's database (migrated first): warnings only on
    stderr (the audit trail is the events table), an unreachable database said in one line
    with exit status 1."""
    configure_logging(name, "WARNING")

    async def on_the_database() -> int:
        db = Database.for_service(settings, migrations=migrations)
        await db.open()
        try:
            return await work(db)
        finally:
            await db.close()

    try:
        return asyncio.run(on_the_database())
    except Exception as exc:
        if not is_transient(exc):
            raise
        sys.stderr.write(f"cannot reach the database: {type(exc).__name__}: {exc}\n")
        return 1


def print_clients(records: Sequence[ClientRecord[Any]], *, scopes: str = "SCOPES", rate: bool = True) -> None:
    """The clients as a table: names, scopes, limits and key prefixes, never keys."""
    if not records:
        say("no clients")
        return
    header = ("NAME", scopes, *(("RATE/MIN",) if rate else ()), "KEY", "CREATED", "REVOKED")
    rows = [header] + [
        (
            r.client.name,
            ",".join(sorted(r.client.scopes)),
            *((str(r.client.rate_per_minute),) if rate else ()),
            f"{KEY_SCHEME}_{r.key_prefix}_…",
            f"{r.created_at:%Y-%m-%d %H:%M:%S%z}",
            f"{r.revoked_at:%Y-%m-%d %H:%M:%S%z}" if r.revoked_at else "-",
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        say("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


async def revoke_command(directory: ClientDirectory[Any], name: str, *, list_command: str) -> int:
    """`... revoke --name N`: exit 0 when revoked, 1 when there is no such active client."""
    if not await directory.revoke(name, actor=command_line_actor()):
        sys.stderr.write(f"no active client named {name!r} (see `{list_command}`)\n")
        return 1
    say(f"revoked client {name!r}: its key is refused from now on")
    return 0


async def key_command(
    directory: ClientDirectory[S],
    args: argparse.Namespace,
    scopes: Sequence[S],
    *,
    what: str,
    list_command: str,
) -> int:
    """The body of a service's `<keys> create|revoke|list` command (`args.action`, `args.name`):
    `create` makes a key with `scopes` and prints it alone on the last line (exit 1 when the
    name is taken), `revoke` and `list` as `revoke_command` and `print_clients`."""
    if args.action == "revoke":
        return await revoke_command(directory, args.name, list_command=list_command)
    if args.action == "list":
        print_clients(await directory.list(), rate=False)
        return 0
    try:
        client, key = await directory.create(args.name, list(scopes), actor=command_line_actor())
    except ClientExists as exc:
        sys.stderr.write(f"{exc}; choose another name\n")
        return 1
    say(f"created {what} {client.name!r}: scopes {', '.join(sorted(client.scopes))}")
    say(key)
    return 0
