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
import asyncio
import sys

from eungdapso_intake.clients import (
    DEFAULT_RATE_PER_MINUTE,
    NAME_PATTERN,
    ClientDirectory,
    ClientExists,
    ClientRecord,
    Scope,
    key_prefix,
)
from eungdapso_intake.settings import IntakeSettings
from eungdapso_platform.db import Database
from eungdapso_platform.domain import command_line_actor
from eungdapso_platform.errors import is_transient
from eungdapso_platform.logging import configure_logging
from eungdapso_platform.settings import load_settings


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    clients = commands.add_parser(
        "clients", help="channel credentials: create, revoke or list the clients and their API keys"
    )
    actions = clients.add_subparsers(dest="action", required=True, metavar="{create,revoke,list}")
    create = actions.add_parser("create", help="a new client; prints its key (alone on the last line)")
    create.add_argument("--name", required=True, type=_name, help="unique, e.g. open311-seoul-app")
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
        type=_positive,
        default=DEFAULT_RATE_PER_MINUTE,
        help=f"requests per minute, all replicas together (default {DEFAULT_RATE_PER_MINUTE})",
    )
    revoke = actions.add_parser("revoke", help="revoke a client's key (it stays listed)")
    revoke.add_argument("--name", required=True)
    actions.add_parser("list", help="the clients, their scopes, limits and key prefixes (never keys)")


def run(args: argparse.Namespace) -> int:
    settings = load_settings(IntakeSettings)
    # Warnings only: the audit trail is `client_events`; stderr stays readable.
    configure_logging("intake-clients", "WARNING")
    try:
        return asyncio.run(_run(args, settings))
    except Exception as exc:
        if not is_transient(exc):
            raise
        sys.stderr.write(f"cannot reach the database: {type(exc).__name__}: {exc}\n")
        return 1


async def _run(args: argparse.Namespace, settings: IntakeSettings) -> int:
    from eungdapso_intake.bootstrap import MIGRATIONS

    db = Database.for_service(settings, migrations=MIGRATIONS)
    await db.open()
    try:
        directory = ClientDirectory(db)
        if args.action == "create":
            try:
                client, key = await directory.create(
                    args.name,
                    [Scope(s) for s in args.scopes],
                    args.rate_per_minute,
                    actor=command_line_actor(),
                )
            except ClientExists as exc:
                sys.stderr.write(f"{exc}; choose another name\n")
                return 1
            _say(
                f"created client {client.name!r}: scopes {', '.join(sorted(client.scopes))}; "
                f"{client.rate_per_minute} requests per minute; key eds_{key_prefix(key)}_… (shown "
                "only now: store it in the client's secret store):"
            )
            _say(key)
        elif args.action == "revoke":
            if not await directory.revoke(args.name, actor=command_line_actor()):
                sys.stderr.write(f"no active client named {args.name!r} (see `clients list`)\n")
                return 1
            _say(f"revoked client {args.name!r}: its key is refused from now on")
        else:
            _print_table(await directory.list())
        return 0
    finally:
        await db.close()


def _print_table(records: list[ClientRecord]) -> None:
    if not records:
        _say("no clients")
        return
    rows = [("NAME", "SCOPES", "RATE/MIN", "KEY", "CREATED", "REVOKED")] + [
        (
            r.client.name,
            ",".join(sorted(r.client.scopes)),
            str(r.client.rate_per_minute),
            f"eds_{r.key_prefix}_…",
            f"{r.created_at:%Y-%m-%d %H:%M:%S%z}",
            f"{r.revoked_at:%Y-%m-%d %H:%M:%S%z}" if r.revoked_at else "-",
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        _say("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")


def _name(value: str) -> str:
    if not NAME_PATTERN.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r}: a name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: a whole number of at least 1")
    return number
