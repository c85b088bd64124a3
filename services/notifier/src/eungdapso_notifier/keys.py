"""Keys of the notifier's API: staff tools and the citizen page's backend (never citizens
themselves). Keys, hashing, audit trail and HTTP answers are the platform's
(`eungdapso_platform.credentials`); the scopes say what a key may do.

    python -m eungdapso_notifier api-keys create --name N --scope preferences [--scope ...]
    python -m eungdapso_notifier api-keys revoke --name N
    python -m eungdapso_notifier api-keys list
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request

from eungdapso_platform import credentials
from eungdapso_platform.credentials import (
    CredentialTables,
    add_revoke_and_list,
    admit,
    key_command,
    name_argument,
    presented_key,
    run_command,
)
from eungdapso_platform.db import Database
from eungdapso_platform.migrations import Migration
from eungdapso_platform.settings import ServiceSettings

TABLES = CredentialTables(clients="api_keys", events="api_key_events")
#: Notifier migration 2 (1 is `tables.MIGRATIONS`).
MIGRATIONS: tuple[Migration, ...] = (
    TABLES.migration("notifier", 2, "API keys (stored hashed) and their audit trail"),
)


class Scope(StrEnum):
    #: Set a citizen's opt-out and language (the 120 agents, the citizen page's backend).
    PREFERENCES = "preferences"
    #: Work the callback tasks (the 120 agents).
    CALLBACKS = "callbacks"
    #: Read the notices on a complaint's citizen page (the citizen page's backend).
    CITIZEN_PAGE = "citizen_page"


class ApiKeys(credentials.ClientDirectory[Scope]):
    def __init__(self, db: Database) -> None:
        super().__init__(db, tables=TABLES, scope=Scope)


def require(scope: Scope) -> Callable[..., Awaitable[credentials.Client[Scope]]]:
    """A FastAPI dependency: a key with `scope`, or a 401/403 problem."""

    async def dependency(
        request: Request, key: Annotated[str | None, Depends(presented_key)]
    ) -> credentials.Client[Scope]:
        keys: ApiKeys = request.app.state.api_keys
        return await admit(keys, key, scope)

    return dependency


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("api-keys", help="API keys of staff tools: create, revoke, list")
    actions = keys.add_subparsers(dest="action", required=True, metavar="{create,revoke,list}")
    create = actions.add_parser("create", help="a new key; printed alone on the last line")
    create.add_argument("--name", required=True, type=name_argument, help="unique, e.g. dasan-120-desk")
    create.add_argument("--scope", action="append", required=True, choices=[s.value for s in Scope])
    add_revoke_and_list(actions, what="an API key")


def run(args: argparse.Namespace, settings: ServiceSettings, migrations: tuple[Migration, ...]) -> int:
    async def work(db: Database) -> int:
        scopes = [Scope(s) for s in args.scope]
        return await key_command(ApiKeys(db), args, scopes, what="API key", list_command="api-keys list")

    return run_command(settings, migrations, work, name="notifier-api-keys")
