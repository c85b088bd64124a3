from pydantic import Field

from eungdapso_platform.settings import Port, ServiceSettings


class RouterSettings(ServiceSettings):
    service_name: str = "router"
    http_port: Port = 8002

    # --- Organisation directory (directory_store.py)
    #: How often a running router looks for a newer published directory version (one indexed
    #: read): a publication takes effect within this long.
    directory_poll_interval_s: float = Field(default=2.0, gt=0, le=60)
