"""Administrators' keys for the SLA service's admin API (declaring holidays at run time).

Keys, their storage (hashed), the audit trail (`sla.admin_key_events`) and the HTTP answers
are the platform's (`eungdapso_platform.credentials`); the one scope is `holidays`.

    python -m eungdapso_sla admin-keys create --name N   (the key alone on the last line)
    python -m eungdapso_sla admin-keys revoke --name N
    python -m eungdapso_sla admin-keys list
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
from eungdapso_sla.settings import SlaSettings

TABLES = CredentialTables(clients="admin_keys", events="admin_key_events")
#: Sla migration 2 (1 is `opendeadlines.MIGRATIONS`).
MIGRATIONS: tuple[Migration, ...] = (
    TABLES.migration("sla", 2, "administrators' keys (stored hashed) and their audit trail"),
)


class AdminScope(StrEnum):
    HOLIDAYS = "holidays"


class AdminKeys(credentials.ClientDirectory[AdminScope]):
    def __init__(self, db: Database) -> None:
        super().__init__(db, tables=TABLES, scope=AdminScope)


def require_admin(scope: AdminScope) -> Callable[..., Awaitable[credentials.Client[AdminScope]]]:
    """A FastAPI dependency: the administrator's key, with `scope`, or a 401/403 problem."""

    async def dependency(
        request: Request, key: Annotated[str | None, Depends(presented_key)]
    ) -> credentials.Client[AdminScope]:
        keys: AdminKeys = request.app.state.admin_keys
        return await admit(keys, key, scope)

    return dependency


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("admin-keys", help="administrators' API keys: create, revoke, list")
    actions = keys.add_subparsers(dest="action", required=True, metavar="{create,revoke,list}")
    create = actions.add_parser("create", help="a new key; printed alone on the last line")
    create.add_argument("--name", required=True, type=name_argument, help="unique, e.g. civil-affairs-admin")
    add_revoke_and_list(actions, what="an administrator's key")


def run(args: argparse.Namespace, settings: SlaSettings, migrations: tuple[Migration, ...]) -> int:
    async def work(db: Database) -> int:
        return await key_command(
            AdminKeys(db), args, [AdminScope.HOLIDAYS], what="admin key", list_command="admin-keys list"
        )

    return run_command(settings, migrations, work, name="sla-admin-keys")
