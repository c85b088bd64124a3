from eungdapso_platform.settings import Port, ServiceSettings


class NotifierSettings(ServiceSettings):
    service_name: str = "notifier"
    http_port: Port = 8004
