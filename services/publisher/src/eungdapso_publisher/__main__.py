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
        help="serve the public API and projection (default), or drop and rebuild the read model "
        "from the topics (stop the service first)",
    )
    args = parser.parse_args()
    if args.command == "rebuild":
        from eungdapso_publisher.rebuild import main as rebuild_main

        rebuild_main()
        return
    from eungdapso_publisher.bootstrap import bootstrap

    settings = load_settings(PublisherSettings)
    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    main()
