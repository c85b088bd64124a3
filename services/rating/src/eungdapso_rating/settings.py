from eungdapso_platform.settings import Port, ServiceSettings


class RatingSettings(ServiceSettings):
    service_name: str = "rating"
    http_port: Port = 8006
