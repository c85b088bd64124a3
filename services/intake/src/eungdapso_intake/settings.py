from typing import Annotated

from pydantic import Field, IPvAnyNetwork, field_validator
from pydantic_settings import NoDecode

from eungdapso_platform.settings import Port, ServiceSettings


class IntakeSettings(ServiceSettings):
    service_name: str = "intake"
    http_port: Port = 8001
    #: Larger bodies are refused with 413 before they are parsed.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)

    # Channel credentials and rate limits (clients.py, ratelimit.py). Limits are counted in
    # PostgreSQL, so they hold across replicas.
    #: Complaints one client address may post to the anonymous web form per minute (more are
    #: answered 429 with Retry-After). Generous: many citizens can share one address (carrier
    #: NAT, an office); the benchmark and the end-to-end tests raise it.
    web_rate_per_minute: int = Field(default=60, ge=1)
    #: Peers whose `X-Forwarded-For` is believed (the Ingress, the dev gateway), as addresses
    #: or networks, comma-separated: `TRUSTED_PROXIES=10.0.0.0/8,127.0.0.1`. Empty: the web
    #: form's address is always the direct peer's.
    trusted_proxies: Annotated[tuple[IPvAnyNetwork, ...], NoDecode] = ()
    #: How long a replica may keep accepting a channel key it has checked: a revoked key stops
    #: working everywhere within this many seconds (at once on the replica that revoked it).
    #: 0 checks the database on every request.
    client_cache_s: float = Field(default=10.0, ge=0, le=300)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value
