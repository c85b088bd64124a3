"""`python -m eungdapso_publisher [serve]` serves; `... rebuild` rebuilds the read model."""

import argparse

from eungdapso_platform.service import serve
from eungdapso_platform.settings import load_settings
from eungdapso_publisher.settings import PublisherSettings


def main() -> None:
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
    args = parser.parse_args()
    if args.command == "rebuild":
        from eungdapso_publisher.rebuild import main as rebuild_main

        rebuild_main(force=args.force)
        return
    from eungdapso_publisher.bootstrap import bootstrap

    settings = load_settings(PublisherSettings)
    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    main()
