from pydantic import Field

from eungdapso_platform.settings import Port, ServiceSettings


class CaseworkSettings(ServiceSettings):
    service_name: str = "casework"
    http_port: Port = 8007
    #: How long a replica may keep accepting an office key it has checked: a revoked key stops
    #: working everywhere within this many seconds (at once on the replica that revoked it).
    office_key_cache_s: float = Field(default=10.0, ge=0, le=300)
    #: Partitions and replicas of each office's feed topic, created when its first case opens.
    #: One partition keeps an office's feed in one order; production brokers want 3 replicas.
    office_feed_partitions: int = Field(default=1, ge=1, le=100)
    office_feed_replication_factor: int = Field(default=1, ge=1, le=10)
