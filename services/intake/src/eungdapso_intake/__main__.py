from eungdapso_intake.bootstrap import bootstrap
from eungdapso_intake.settings import IntakeSettings
from eungdapso_platform.service import serve
from eungdapso_platform.settings import load_settings


def main() -> None:
    settings = load_settings(IntakeSettings)
    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    main()
