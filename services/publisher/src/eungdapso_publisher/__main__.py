"""`python -m eungdapso_publisher` serves; `python -m eungdapso_publisher rebuild` rebuilds."""

import sys

from eungdapso_platform.service import serve
from eungdapso_publisher.settings import PublisherSettings


def main() -> None:
    if sys.argv[1:2] == ["rebuild"]:
        from eungdapso_publisher.rebuild import main as rebuild_main

        rebuild_main()
        return
    from eungdapso_publisher.bootstrap import bootstrap

    settings = PublisherSettings()
    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    main()
