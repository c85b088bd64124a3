from eungdapso_platform.settings import ServiceSettings


class RatingSettings(ServiceSettings):
    service_name: str = "rating"
    http_port: int = 8006
