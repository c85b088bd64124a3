from pydantic import Field

from eungdapso_platform.settings import Port, ServiceSettings


class PublisherSettings(ServiceSettings):
    service_name: str = "publisher"
    http_port: Port = 8005
    #: How long a month's statistics are served before they are counted again (0: every time).
    statistics_cache_s: float = Field(default=60.0, ge=0, le=86_400)
