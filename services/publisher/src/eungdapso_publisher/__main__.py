"""`python -m eungdapso_publisher [serve]` serves; `... rebuild` rebuilds a read model;
`... statistics --month YYYY-MM` recomputes a month's statistics from the topics."""

import argparse
import sys

from eungdapso_platform.service import serve
from eungdapso_platform.settings import load_settings
from eungdapso_publisher.settings import PublisherSettings


def main() -> None:
    if sys.argv[1:2] == ["statistics"]:
        from eungdapso_publisher.statistics_cli import main as statistics_main

        statistics_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(prog="python -m eungdapso_publisher", description=__doc__)
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "rebuild"],
        help="serve the public API and projection (default), or rebuild the public read model from "
        "the topics beside the live one and swap it in (the service may keep running)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="swap in the rebuilt model even if it has seen less history than the live one",
    )
    parser.add_argument(
        "--read-model",
        choices=["public_status", "statistics"],
        default="public_status",
        help="which read model `rebuild` rebuilds (default: public_status)",
    )
    args = parser.parse_args()
    if args.command == "rebuild":
        from eungdapso_publisher.rebuild import main as rebuild_main

        rebuild_main(force=args.force, read_model=args.read_model)
        return
    from eungdapso_publisher.bootstrap import bootstrap

    settings = load_settings(PublisherSettings)
    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    main()
