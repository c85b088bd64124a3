from eungdapso_platform.service import serve
from eungdapso_platform.settings import load_settings
from eungdapso_sla.bootstrap import bootstrap
from eungdapso_sla.settings import SlaSettings


def main() -> None:
    settings = load_settings(SlaSettings)
    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    main()
