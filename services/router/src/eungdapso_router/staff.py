"""Who works at the triage desk: staff keys for `/api/v1/triage/...`.

Each staff member has their own key (`Authorization: Bearer eds_…` or `X-Api-Key: eds_…`),
named by their staff id: the name of the key is what the router records as `decided_by` with
their decisions. Keys, their storage (hashed), the audit trail (`router.staff_key_events`) and
the HTTP answers (401, 403, 503 problems) are the platform's (`eungdapso_platform.credentials`);
a key's scope is the desk it works at (`triage`).

    python -m eungdapso_router staff create --name eds-0412   # the key alone on the last line
    python -m eungdapso_router staff revoke --name eds-0412
    python -m eungdapso_router staff list
"""

from __future__ import annotations

import argparse
import sys
import time
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request

from eungdapso_platform import credentials
from eungdapso_platform.credentials import ClientDirectory, CredentialTables
from eungdapso_platform.db import Database
from eungdapso_platform.domain import command_line_actor
from eungdapso_platform.migrations import Migration

TABLES = CredentialTables(clients="staff_keys", events="staff_key_events")
MIGRATIONS: tuple[Migration, ...] = (
    TABLES.migration("router.staff", 1, "triage desk staff keys (stored hashed) and their audit trail"),
)


class Desk(StrEnum):
    """What a staff key may do: work at the triage desk."""

    TRIAGE = "triage"


class StaffKeys(ClientDirectory[Desk]):
    def __init__(self, db: Database, *, cache_s: float = 0.0) -> None:
        super().__init__(db, tables=TABLES, scope=Desk, cache_s=cache_s)


async def require_staff(
    request: Request, key: Annotated[str | None, Depends(credentials.presented_key)]
) -> str:
    """A dependency: the staff id of the key the request presents, if it may work at the
    triage desk (401/403 problems otherwise, 503 if the keys cannot be read in time)."""
    keys: StaffKeys = request.app.state.staff_keys
    deadline = time.monotonic() + float(request.app.state.parts.settings.request_deadline_s)
    client = await credentials.admit(keys, key, Desk.TRIAGE, deadline=deadline)
    return client.name


# ---------------------------------------------------------------------- the command line
def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    staff = commands.add_parser("staff", help="triage desk staff keys: create, revoke or list them")
    actions = staff.add_subparsers(dest="action", required=True, metavar="{create,revoke,list}")
    create = actions.add_parser(
        "create", help="a new key for a staff member; prints it (alone on the last line)"
    )
    create.add_argument(
        "--name", required=True, type=credentials.name_argument, help="the staff id, e.g. eds-0412"
    )
    credentials.add_revoke_and_list(actions, what="a staff key")


def run(args: argparse.Namespace) -> int:
    from eungdapso_platform.settings import load_settings
    from eungdapso_router.bootstrap import MIGRATIONS as ROUTER_MIGRATIONS
    from eungdapso_router.settings import RouterSettings

    settings = load_settings(RouterSettings)
    return credentials.run_command(
        settings, ROUTER_MIGRATIONS, lambda db: _run(args, db), name="router-staff"
    )


async def _run(args: argparse.Namespace, db: Database) -> int:
    keys = StaffKeys(db)
    if args.action == "revoke":
        return await credentials.revoke_command(keys, args.name, list_command="staff list")
    if args.action == "list":
        credentials.print_clients(await keys.list(), scopes="DESK", rate=False)
        return 0
    try:
        client, key = await keys.create(args.name, [Desk.TRIAGE], actor=command_line_actor())
    except credentials.ClientExists as exc:
        sys.stderr.write(f"{exc}; choose another name\n")
        return 1
    credentials.say(
        f"created key {client.name!r} for the triage desk: eds_{credentials.key_prefix(key)}_… (shown "
        "only now: give it to the staff member):"
    )
    credentials.say(key)
    return 0
