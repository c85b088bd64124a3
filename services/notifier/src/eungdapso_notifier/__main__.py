from eungdapso_notifier.bootstrap import bootstrap
from eungdapso_notifier.settings import NotifierSettings
from eungdapso_platform.service import serve


def main() -> None:
    settings = NotifierSettings()
    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    main()
