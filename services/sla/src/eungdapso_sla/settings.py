from eungdapso_platform.settings import ServiceSettings


class SlaSettings(ServiceSettings):
    service_name: str = "sla"
    http_port: int = 8003
