"""`python -m eungdapso_notifier [serve]` serves the notifier; `... api-keys create|revoke|list`
manages the keys of its API (see keys.py)."""

import argparse

from eungdapso_notifier.settings import NotifierSettings
from eungdapso_platform.service import serve
from eungdapso_platform.settings import load_settings


def main(argv: list[str] | None = None) -> None:
    from eungdapso_notifier import keys

    parser = argparse.ArgumentParser(prog="python -m eungdapso_notifier", description=__doc__)
    commands = parser.add_subparsers(dest="command", metavar="{serve,api-keys}")
    commands.add_parser("serve", help="serve the notifier (the default)")
    keys.add_commands(commands)
    args = parser.parse_args(argv)
    settings = load_settings(NotifierSettings)
    if args.command == "api-keys":
        from eungdapso_notifier.bootstrap import MIGRATIONS

        raise SystemExit(keys.run(args, settings, MIGRATIONS))
    from eungdapso_notifier.bootstrap import bootstrap

    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    main()
