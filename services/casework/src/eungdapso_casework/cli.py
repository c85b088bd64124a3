"""`python -m eungdapso_casework offices ...`: office keys from the command line.

    offices create --office district.gangnam.parking --name gangnam-parking
    offices revoke --name gangnam-parking
    offices list

`create` prints a line about the key, then the key alone on the last line (the one time it
is shown: store it in the office system's secret store). Settings (the database) come from
the environment, as the service reads them. Exit status: 0 done, 1 refused (no such key,
name taken, database unreachable), 2 bad arguments or configuration.
"""

from __future__ import annotations

import argparse
import sys

from eungdapso_casework.inbox import InboxQueries
from eungdapso_casework.offices import OfficeKeys, office_code
from eungdapso_casework.settings import CaseworkSettings
from eungdapso_platform.credentials import (
    ClientExists,
    add_revoke_and_list,
    key_prefix,
    name_argument,
    print_clients,
    revoke_command,
    run_command,
    say,
)
from eungdapso_platform.db import Database
from eungdapso_platform.domain import command_line_actor
from eungdapso_platform.settings import load_settings


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    offices = commands.add_parser("offices", help="office keys: create, revoke or list them")
    actions = offices.add_subparsers(dest="action", required=True, metavar="{create,revoke,list}")
    create = actions.add_parser("create", help="a new key for an office; prints it (alone on the last line)")
    create.add_argument(
        "--office", required=True, type=_office, help="the office's code, e.g. district.gangnam.parking"
    )
    create.add_argument(
        "--name", required=True, type=name_argument, help="the key's unique name, e.g. gangnam-parking"
    )
    add_revoke_and_list(actions, what="an office key")


def run(args: argparse.Namespace) -> int:
    from eungdapso_casework.bootstrap import MIGRATIONS

    settings = load_settings(CaseworkSettings)
    return run_command(settings, MIGRATIONS, lambda db: _run(args, db), name="casework-offices")


async def _run(args: argparse.Namespace, db: Database) -> int:
    keys = OfficeKeys(db)
    if args.action == "revoke":
        return await revoke_command(keys, args.name, list_command="offices list")
    if args.action == "list":
        print_clients(await keys.list(), scopes="OFFICE", rate=False)
        return 0
    try:
        client, key = await keys.create(args.name, [args.office], actor=command_line_actor())
    except ClientExists as exc:
        sys.stderr.write(f"{exc}; choose another name\n")
        return 1
    await InboxQueries(db).know_office(args.office)
    say(
        f"created key {client.name!r} for office {args.office}: eds_{key_prefix(key)}_… (shown only "
        "now: store it in the office system's secret store):"
    )
    say(key)
    return 0


def _office(value: str) -> str:
    try:
        return office_code(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
