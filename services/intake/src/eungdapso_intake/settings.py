from pydantic import Field

from eungdapso_platform.settings import Port, ServiceSettings


class IntakeSettings(ServiceSettings):
    service_name: str = "intake"
    http_port: Port = 8001
    #: Larger bodies are refused with 413 before they are parsed.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
