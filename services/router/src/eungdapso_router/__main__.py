"""`python -m eungdapso_router [serve]` serves the router; `... directory publish|check|show`
manages the organisation directory (see cli.py), `... staff create|revoke|list` the triage
desk's staff keys (see staff.py)."""

import argparse

from eungdapso_platform.service import serve
from eungdapso_platform.settings import load_settings


def main(argv: list[str] | None = None) -> None:
    from eungdapso_router import cli, staff

    parser = argparse.ArgumentParser(prog="python -m eungdapso_router", description=__doc__)
    commands = parser.add_subparsers(dest="command", metavar="{serve,directory,staff}")
    commands.add_parser("serve", help="serve the router (the default)")
    cli.add_commands(commands)
    staff.add_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "directory":
        raise SystemExit(cli.run(args))
    if args.command == "staff":
        raise SystemExit(staff.run(args))
    from eungdapso_router.bootstrap import bootstrap
    from eungdapso_router.settings import RouterSettings

    settings = load_settings(RouterSettings)
    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    main()
