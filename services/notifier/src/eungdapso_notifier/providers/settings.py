"""The delivery adapters' settings (environment variables, pydantic-settings). The notifier's
settings class inherits them; every medium writes files under the run directory unless
told otherwise (`EMAIL_PROVIDER=smtp`, `SMS_PROVIDER=sms-http`, `X_PROVIDER=x`,
`FACEBOOK_PROVIDER=facebook`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, HttpUrl, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProviderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    # --- Which adapter delivers each medium (`file`: what would be sent, one file a message).
    email_provider: Literal["file", "smtp"] = "file"
    sms_provider: Literal["file", "sms-http"] = "file"
    x_provider: Literal["file", "x"] = "file"
    facebook_provider: Literal["file", "facebook"] = "file"

    #: The same RUN_DIR as `make run`'s; the file adapter writes under `<RUN_DIR>/outbox`.
    run_dir: Path = Path(".run")
    #: Where the file adapter writes (`<dir>/<medium>/<notice id>.eml|.txt|.json`).
    outbox_dir: Path | None = None

    #: How long one call to a provider may take before it counts as unavailable.
    provider_timeout_s: float = Field(default=10.0, gt=0, le=120)

    # --- E-mail (SMTP)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    #: `starttls` upgrades a plain connection, `tls` connects with TLS (port 465), `none` neither.
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_from: str = "서울시 응답소 <noreply@eungdapso.seoul.go.kr>"
    #: The domain of the Message-IDs (derived from the notice id, so a resend is recognisable).
    smtp_message_id_domain: str = "eungdapso.seoul.go.kr"

    # --- Text messages (an SMS gateway's HTTP API, sms.py)
    sms_gateway_url: HttpUrl = HttpUrl("http://127.0.0.1:9/")
    sms_api_key: SecretStr = SecretStr("")
    #: The registered sender number (발신번호 사전등록): the 120 Dasan call centre's.
    sms_sender: str = Field(default="02120", pattern=r"^[0-9]{4,12}$")

    # --- X and Facebook: one access token per city account (the `code`s of the SNS accounts
    # file), e.g. X_ACCOUNT_TOKENS='{"mayor.x": "..."}'.
    x_api_url: HttpUrl = HttpUrl("https://api.x.com/")
    x_account_tokens: dict[str, SecretStr] = Field(default_factory=dict)
    facebook_api_url: HttpUrl = HttpUrl("https://graph.facebook.com/v21.0/")
    facebook_page_tokens: dict[str, SecretStr] = Field(default_factory=dict)

    def outbox(self) -> Path:
        return self.outbox_dir if self.outbox_dir is not None else self.run_dir / "outbox"
