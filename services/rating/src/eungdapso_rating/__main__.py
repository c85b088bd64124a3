from eungdapso_platform.service import serve
from eungdapso_platform.settings import load_settings
from eungdapso_rating.bootstrap import bootstrap
from eungdapso_rating.settings import RatingSettings


def main() -> None:
    settings = load_settings(RatingSettings)
    serve(bootstrap(settings), settings)


if __name__ == "__main__":
    main()
