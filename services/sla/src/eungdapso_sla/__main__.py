"""`python -m eungdapso_sla [serve]` serves the SLA service; `... due ...` computes a due
moment; `... holidays declare|list` manages holidays declared at run time (see cli.py);
`... admin-keys create|revoke|list` the keys of the admin API (see admin.py)."""

import argparse

from eungdapso_platform.service import serve
from eungdapso_platform.settings import load_settings
from eungdapso_sla.settings import SlaSettings


def main(argv: list[str] | None = None) -> None:
    from eungdapso_sla import admin, cli

    parser = argparse.ArgumentParser(prog="python -m eungdapso_sla", description=__doc__)
    commands = parser.add_subparsers(dest="command", metavar="{serve,due,holidays,admin-keys}")
    commands.add_parser("serve", help="serve the SLA service (the default)")
    cli.add_commands(commands)
    cli.add_holiday_commands(commands)
    admin.add_commands(commands)
    args = parser.parse_args(argv)
    settings = load_settings(SlaSettings)
    if args.command == "due":
        raise SystemExit(cli.run_due(args, settings))
    if args.command == "holidays":
        raise SystemExit(cli.run_holidays(args, settings))
    if args.command == "admin-keys":
        from eungdapso_sla.bootstrap import MIGRATIONS

        raise SystemExit(admin.run(args, settings, MIGRATIONS))
    from eungdapso_sla.bootstrap import bootstrap

    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    main()
