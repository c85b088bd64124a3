from eungdapso_intake.bootstrap import bootstrap
from eungdapso_intake.settings import IntakeSettings
from eungdapso_platform.service import serve


def main() -> None:
    settings = IntakeSettings()
    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    main()
