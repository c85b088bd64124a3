from pydantic import Field

from eungdapso_platform.settings import Port, ServiceSettings
from eungdapso_router.decision import TRIAGE_BELOW


class RouterSettings(ServiceSettings):
    service_name: str = "router"
    http_port: Port = 8002

    # --- Organisation directory (directory_store.py)
    #: How often a running router looks for a newer published directory version (one indexed
    #: read): a publication takes effect within this long.
    directory_poll_interval_s: float = Field(default=2.0, gt=0, le=60)

    # --- Routing (decision.py, duplicates.py, triage.py)
    #: At most this many complaints read and committed together by the `assignment` process:
    #: each costs about a millisecond to read, so a batch of hundreds (a burst) would hold
    #: its first complaints' assignments back until the last one is read.
    assignment_max_batch: int = Field(default=50, ge=1, le=500)
    #: Below this confidence in the subject, a person at the triage desk decides (chosen by
    #: cross-validation on the training data: `python -m eungdapso_router.evaluate --choose-threshold`).
    triage_below_confidence: float = Field(default=TRIAGE_BELOW, ge=0, le=1)
    #: A complaint duplicates an open one received this many days before it at most...
    duplicate_window_days: int = Field(default=14, ge=0, le=365)
    #: ...pinned this close to it, or in its district with nearly the same text (0..1), or
    #: naming the same place (a dong, road, station, landmark) with a text this alike.
    duplicate_radius_m: float = Field(default=100.0, gt=0, le=5000)
    duplicate_min_similarity: float = Field(default=0.6, ge=0, le=1)
    duplicate_min_similarity_same_place: float = Field(default=0.3, ge=0, le=1)
    #: How long a replica may keep accepting a staff key it has checked: a revoked key stops
    #: working everywhere within this many seconds (at once on the replica that revoked it).
    staff_key_cache_s: float = Field(default=10.0, ge=0, le=300)
