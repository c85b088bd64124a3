from eungdapso_platform.settings import Port, ServiceSettings


class PublisherSettings(ServiceSettings):
    service_name: str = "publisher"
    http_port: Port = 8005
