from eungdapso_platform.service import serve
from eungdapso_platform.settings import load_settings
from eungdapso_router.bootstrap import bootstrap
from eungdapso_router.settings import RouterSettings


def main() -> None:
    settings = load_settings(RouterSettings)
    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    main()
