from eungdapso_notifier.bootstrap import bootstrap
from eungdapso_notifier.settings import NotifierSettings
from eungdapso_platform.service import serve
from eungdapso_platform.settings import load_settings


def main() -> None:
    settings = load_settings(NotifierSettings)
    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    main()
