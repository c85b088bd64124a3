from pydantic import Field, SecretStr, field_validator

from eungdapso_platform.settings import Port, ServiceSettings


class RatingSettings(ServiceSettings):
    service_name: str = "rating"
    http_port: Port = 8006

    #: How long a rating link stays valid after the answer (then the invitation expires).
    link_valid_days: int = Field(default=30, ge=1, le=365)
    #: The key rating links are signed with. Unset, the service makes one at its first start
    #: and keeps it in its database (every replica and restart signs and checks with it);
    #: set it to manage the key yourself. Changing it voids the links already sent.
    link_secret: SecretStr | None = None

    @field_validator("link_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("a rating link key has at least 32 characters")
        return value
