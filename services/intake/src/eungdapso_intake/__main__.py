"""`python -m eungdapso_intake [serve]` serves intake; `... clients create|revoke|list`
manages the channels' API keys (see cli.py)."""

import argparse

from eungdapso_platform.service import serve
from eungdapso_platform.settings import load_settings


def main(argv: list[str] | None = None) -> None:
    from eungdapso_intake import cli

    parser = argparse.ArgumentParser(prog="python -m eungdapso_intake", description=__doc__)
    commands = parser.add_subparsers(dest="command", metavar="{serve,clients}")
    commands.add_parser("serve", help="serve the intake API (the default)")
    cli.add_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "clients":
        raise SystemExit(cli.run(args))
    from eungdapso_intake.bootstrap import bootstrap
    from eungdapso_intake.settings import IntakeSettings

    settings = load_settings(IntakeSettings)
    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    main()
