from eungdapso_platform.settings import Port, ServiceSettings


class SlaSettings(ServiceSettings):
    service_name: str = "sla"
    http_port: Port = 8003
