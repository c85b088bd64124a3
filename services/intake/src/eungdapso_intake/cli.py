"""`python -m eungdapso_intake clients ...`: channel credentials from the command line.

    clients create --name N --scope open311 [--scope phone] [--rate-per-minute 600]
    clients revoke --name N
    clients list

`create` prints a line about the client, then the new key alone on the last line (the one
time it is shown: store it in the client's secret store). Settings (the database) come from
the environment, as the service reads them. Exit status: 0 done, 1 refused (no such client,
name taken, database unreachable), 2 bad arguments or configuration.
"""

from __future__ import annotations

import argparse
import sys

from eungdapso_intake.clients import DEFAULT_RATE_PER_MINUTE, ClientDirectory, ClientExists, Scope, key_prefix
from eungdapso_intake.settings import IntakeSettings
from eungdapso_platform.credentials import (
    add_revoke_and_list,
    name_argument,
    positive_argument,
    print_clients,
    revoke_command,
    run_command,
    say,
)
from eungdapso_platform.db import Database
from eungdapso_platform.domain import command_line_actor
from eungdapso_platform.settings import load_settings


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    clients = commands.add_parser(
        "clients", help="channel credentials: create, revoke or list the clients and their API keys"
    )
    actions = clients.add_subparsers(dest="action", required=True, metavar="{create,revoke,list}")
    create = actions.add_parser("create", help="a new client; prints its key (alone on the last line)")
    create.add_argument("--name", required=True, type=name_argument, help="unique, e.g. open311-seoul-app")
    create.add_argument(
        "--scope",
        dest="scopes",
        action="append",
        required=True,
        choices=[s.value for s in Scope],
        help="a channel the client may submit through (repeat for more)",
    )
    create.add_argument(
        "--rate-per-minute",
        type=positive_argument,
        default=DEFAULT_RATE_PER_MINUTE,
        help=f"requests per minute, all replicas together (default {DEFAULT_RATE_PER_MINUTE})",
    )
    add_revoke_and_list(actions, what="a client's key")


def run(args: argparse.Namespace) -> int:
    from eungdapso_intake.bootstrap import MIGRATIONS

    settings = load_settings(IntakeSettings)
    return run_command(settings, MIGRATIONS, lambda db: _run(args, db), name="intake-clients")


async def _run(args: argparse.Namespace, db: Database) -> int:
    directory = ClientDirectory(db)
    if args.action == "revoke":
        return await revoke_command(directory, args.name, list_command="clients list")
    if args.action == "list":
        print_clients(await directory.list())
        return 0
    try:
        client, key = await directory.create(
            args.name, [Scope(s) for s in args.scopes], args.rate_per_minute, actor=command_line_actor()
        )
    except ClientExists as exc:
        sys.stderr.write(f"{exc}; choose another name\n")
        return 1
    say(
        f"created client {client.name!r}: scopes {', '.join(sorted(client.scopes))}; "
        f"{client.rate_per_minute} requests per minute; key eds_{key_prefix(key)}_… (shown "
        "only now: store it in the client's secret store):"
    )
    say(key)
    return 0
