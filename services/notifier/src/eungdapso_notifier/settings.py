from datetime import time

from pydantic import Field, SecretStr

from eungdapso_notifier.broadcast_delivery import BroadcastSettings
from eungdapso_notifier.providers.settings import ProviderSettings
from eungdapso_platform.settings import Port, ServiceSettings


class NotifierSettings(ServiceSettings, ProviderSettings, BroadcastSettings):
    service_name: str = "notifier"
    http_port: Port = 8004

    # --- Links in the notices
    #: Where citizens follow their complaint (the public site): `{base}/complaints/{receipt_no}`.
    public_base_url: str = "http://127.0.0.1:8000"
    #: The rating page; `{base}` and `{token}` are filled in (the token in the fragment: no
    #: server log sees it).
    rating_link_template: str = "{base}/rate#token={token}"
    #: Shared with intake (`eungdapso_platform.follow`): the citizen's private follow link, in
    #: the receipt notice and opened by `GET /api/v1/follow/{receipt_no}`. At least 32 bytes.
    #: Unset: notices point to the public status, and the citizen page API answers 503.
    follow_link_secret: SecretStr | None = None
    #: An office's notices go by e-mail to this address (`{office}`: the office code), through
    #: the e-mail provider (on the local stack the file outbox, so they are files to read).
    office_email_template: str = "{office}@offices.eungdapso.seoul.go.kr"

    # --- The answer notice waits this long for the rating link, then goes without it.
    rating_link_grace_s: float = Field(default=300.0, ge=0, le=86_400)

    # --- Delivery (dispatcher.py)
    #: Attempts on one medium while its provider is unavailable, before `NoticeFailed` and the
    #: next medium of the citizen's fallback order.
    max_attempts: int = Field(default=5, ge=1, le=100)
    #: The wait before attempt n+1 is `retry_base_s * 2**(n-1)`, at most `retry_max_s`.
    retry_base_s: float = Field(default=30.0, gt=0, le=3600)
    retry_max_s: float = Field(default=1800.0, gt=0, le=86_400)
    #: A provider that has not answered by then is taken as unavailable (the attempt counts).
    provider_timeout_s: float = Field(default=20.0, gt=0, le=300)
    dispatcher_interval_s: float = Field(default=1.0, gt=0, le=60)
    dispatcher_batch_size: int = Field(default=100, ge=1, le=10_000)

    # --- Quiet hours for text messages (Asia/Seoul): non-urgent SMS wait until they end.
    quiet_hours_start: time = time(21)
    quiet_hours_end: time = time(8)
