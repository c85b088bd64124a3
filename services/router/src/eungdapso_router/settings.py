from eungdapso_platform.settings import Port, ServiceSettings


class RouterSettings(ServiceSettings):
    service_name: str = "router"
    http_port: Port = 8002
