from pathlib import Path
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, IPvAnyNetwork, SecretStr, StringConstraints, field_validator
from pydantic_settings import NoDecode

from eungdapso_platform.settings import Port, ServiceSettings

MIB = 1024 * 1024
#: The name of an SMS gateway, as it appears in its webhook path.
GatewayName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_\-]{0,39}$")]


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

    @field_validator("trusted_proxies", "attachment_fetch_allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip().lower() for part in value.split(",") if part.strip())
        return value

    # Attachments (attachments.py, blobstore.py): blobs named by their SHA-256, in a
    # directory or an S3-compatible bucket; which copies exist is recorded in PostgreSQL.
    #: `s3://bucket/prefix` (with the S3_* settings) or `file:///a/directory`; empty: a
    #: directory, ATTACHMENTS_DIR, by default `<RUN_DIR>/attachments`.
    blob_store_url: str = Field(default="", pattern=r"^$|^(s3://[^/\s]+(/\S*)?|file:///\S*)$")
    #: The same RUN_DIR as `make run`'s (its working files), which the services inherit.
    run_dir: Path = Path(".run")
    attachments_dir: Path | None = None
    #: Any S3-compatible endpoint (MinIO, Ceph RGW, ...); empty: AWS S3 itself.
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    #: Both empty: boto3's default chain (environment, Kubernetes web identity, ...).
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    #: `path` works with every S3-compatible store; AWS also takes `virtual`.
    s3_addressing_style: Literal["auto", "path", "virtual"] = "path"
    #: Largest attachment of each kind, in bytes (413 above).
    attachment_max_photo_bytes: int = Field(default=20 * MIB, ge=1024)
    attachment_max_video_bytes: int = Field(default=30 * MIB, ge=1024)
    attachment_max_voice_bytes: int = Field(default=10 * MIB, ge=1024)
    attachment_max_document_bytes: int = Field(default=20 * MIB, ge=1024)
    #: Largest photo in pixels (all frames of an animation together): a small file can
    #: decode to gigabytes.
    attachment_max_photo_pixels: int = Field(default=80_000_000, ge=1)
    #: The body limit of the upload endpoint and the channel webhooks (MMS, scans), which
    #: carry media; every other path keeps MAX_BODY_BYTES.
    upload_max_body_bytes: int = Field(default=32 * MIB, ge=1024)
    #: How long fetching one provider media file (MMS, SNS) may take, in seconds.
    attachment_fetch_timeout_s: float = Field(default=20.0, gt=0, le=120)
    #: Hosts fetched even when they resolve to a private or loopback address (comma-separated;
    #: tests, or a provider inside the network). Every other host must resolve to public ones.
    attachment_fetch_allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()

    def body_limits(self) -> dict[str, int]:
        """Per path prefix, the paths that carry media."""
        return {
            "/api/v1/attachments": self.upload_max_body_bytes,
            "/api/v1/channels/": self.upload_max_body_bytes,
        }

    # SMS/MMS and SNS channels (channels/sms.py, channels/sns.py). Every secret is a SecretStr:
    # never logged, never echoed when the configuration is refused.
    #: The base URL providers call (the Ingress), e.g. `https://eungdapso.seoul.go.kr`. Twilio
    #: signs the URL it called, which intake behind the gateway cannot see. Unset: the URL as
    #: intake sees it (providers calling intake directly).
    public_base_url: AnyHttpUrl | None = None
    #: Shared with the notifier (`eungdapso_platform.follow`): the private follow link handed
    #: out at filing is derived from it. At least 32 bytes. Unset: no follow link is handed out.
    follow_link_secret: SecretStr | None = None
    #: SMS gateways and their shared secrets, as JSON:
    #: `SMS_GATEWAYS='{"twilio": "<Twilio auth token>", "munja": "<secret>"}'`. `twilio` speaks
    #: Twilio's form and signature; every other gateway our JSON format (README, "Channels").
    sms_gateways: dict[GatewayName, SecretStr] = Field(default_factory=dict)
    #: Twilio's account: its requests must name it, and MMS media is fetched with it and the
    #: auth token (basic auth). Unset: any account whose requests the auth token signs.
    twilio_account_sid: Annotated[str, StringConstraints(pattern=r"^AC[0-9a-fA-F]{32}$")] | None = None
    #: How far a signed request's timestamp may be from now, either way; the same signature
    #: is refused again within it (our JSON format; providers without timestamps rely on
    #: their message ids).
    signature_window_s: int = Field(default=300, ge=30, le=3600)
    #: X (Twitter) Account Activity API: the app's consumer secret (CRC and signatures).
    x_consumer_secret: SecretStr | None = None
    #: Facebook Page webhooks: the app secret (signatures) and the verify token chosen when
    #: subscribing.
    facebook_app_secret: SecretStr | None = None
    facebook_verify_token: SecretStr | None = None
    #: The connected city SNS accounts; unset: the list shipped with intake
    #: (`channels/sns_accounts.toml`).
    sns_accounts_file: Path | None = None

    @field_validator("sns_accounts_file")
    @classmethod
    def _accounts_valid(cls, path: Path | None) -> Path | None:
        # Checked with the other settings, so that a bad file is named at start, not traced.
        from eungdapso_intake.channels.sns_accounts import SnsAccounts

        SnsAccounts.load(path)
        return path

    # Open311 GeoReport v2 (open311/). The one jurisdiction served: a client that names
    # another gets 404, one that names none is served.
    open311_jurisdiction_id: str = Field(default="seoul.go.kr", min_length=1, max_length=200)
    #: The most requests one `GET requests` answer holds (the spec's default is 1000;
    #: clients page with `page_size` and `page` beyond it). Discovery's `max_requests`.
    open311_max_requests: int = Field(default=1000, ge=1, le=10_000)
    #: How often the Open311 read model takes what arrived (seconds): a request shows "within
    #: seconds of its receipt" (GET requests says so), and each batch costs a transaction, a
    #: ledger claim and an offset commit. 0: as soon as it arrives.
    open311_cadence_s: float = Field(default=0.25, ge=0, le=10)
