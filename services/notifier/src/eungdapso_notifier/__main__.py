"""`python -m eungdapso_notifier [serve]` serves the notifier; `... api-keys create|revoke|list`
manages the keys of its API (callback tasks, preferences: keys.py); `... admin-keys
create|revoke|list` those of the emergency broadcast's admin API (broadcast_api.py)."""

import argparse

from eungdapso_notifier.settings import NotifierSettings
from eungdapso_platform.service import serve
from eungdapso_platform.settings import load_settings


def main(argv: list[str] | None = None) -> None:
    from eungdapso_notifier import broadcast_api, keys

    parser = argparse.ArgumentParser(prog="python -m eungdapso_notifier", description=__doc__)
    commands = parser.add_subparsers(dest="command", metavar="{serve,api-keys,admin-keys}")
    commands.add_parser("serve", help="serve the notifier (the default)")
    keys.add_commands(commands)
    broadcast_api.add_commands(commands)
    args = parser.parse_args(argv)
    settings = load_settings(NotifierSettings)
    if args.command in ("api-keys", "admin-keys"):
        from eungdapso_notifier.bootstrap import MIGRATIONS

        run = keys.run if args.command == "api-keys" else broadcast_api.run
        raise SystemExit(run(args, settings, MIGRATIONS))
    from eungdapso_notifier.bootstrap import bootstrap

    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    main()
