from pydantic import Field

from eungdapso_platform.settings import Port, ServiceSettings


class PublisherSettings(ServiceSettings):
    service_name: str = "publisher"
    http_port: Port = 8005
    #: How long a month's statistics are served before they are counted again (0: every time).
    statistics_cache_s: float = Field(default=60.0, ge=0, le=86_400)
    #: How often the statistics projection takes what arrived (seconds): monthly figures
    #: cached for a minute need no faster, and each batch costs a transaction and a commit.
    statistics_cadence_s: float = Field(default=1.0, ge=0, le=60)
    #: At most this many events the public status applies in one transaction: a burst's
    #: first changes are shown without waiting for hundreds behind them.
    public_status_max_batch: int = Field(default=100, ge=1, le=500)
    #: How often the feed looks for new changes while anyone listens (seconds).
    feed_poll_s: float = Field(default=0.1, gt=0, le=10)
    #: A comment line to every listener this often, so proxies keep the stream open (seconds).
    feed_heartbeat_s: float = Field(default=15.0, gt=0, le=300)
    #: Changes per read when a listener resumes from `Last-Event-ID`.
    feed_page: int = Field(default=500, ge=1, le=10_000)
    #: Changes a slow listener may have waiting before it is dropped (it reconnects and resumes).
    feed_queue: int = Field(default=10_000, ge=100, le=1_000_000)
