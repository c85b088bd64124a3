"""`python -m eungdapso_casework [serve]` serves casework; `... offices create|revoke|list`
manages the offices' keys (see cli.py)."""

import argparse

from eungdapso_platform.service import serve
from eungdapso_platform.settings import load_settings


def main(argv: list[str] | None = None) -> None:
    from eungdapso_casework import cli

    parser = argparse.ArgumentParser(prog="python -m eungdapso_casework", description=__doc__)
    commands = parser.add_subparsers(dest="command", metavar="{serve,offices}")
    commands.add_parser("serve", help="serve the inbox API and the inbox process (the default)")
    cli.add_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "offices":
        raise SystemExit(cli.run(args))
    from eungdapso_casework.bootstrap import bootstrap
    from eungdapso_casework.settings import CaseworkSettings

    settings = load_settings(CaseworkSettings)
    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    main()
