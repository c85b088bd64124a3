from eungdapso_platform.settings import ServiceSettings


class RouterSettings(ServiceSettings):
    service_name: str = "router"
    http_port: int = 8002
