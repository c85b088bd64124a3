from eungdapso_platform.settings import ServiceSettings


class PublisherSettings(ServiceSettings):
    service_name: str = "publisher"
    http_port: int = 8005
