"""Channels whose messages arrive as providers' webhooks: SMS/MMS gateways (`sms`) and the
city's X and Facebook accounts (`sns`), with the signature checks they share (`signatures`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from eungdapso_intake.channels import signatures, sms, sns
from eungdapso_intake.channels.signatures import ReplayWindow
from eungdapso_intake.channels.sms import SmsGateways
from eungdapso_intake.channels.sns import SnsChannel
from eungdapso_intake.channels.sns_accounts import SnsAccounts
from eungdapso_intake.settings import IntakeSettings
from eungdapso_platform.clock import Clock
from eungdapso_platform.db import Database

ROUTERS: tuple[APIRouter, ...] = (sms.router, sns.router)
MIGRATIONS = signatures.MIGRATIONS


def channel_state(settings: IntakeSettings, db: Database, clock: Clock) -> dict[str, Any]:
    """What the channels' routes reach through `request.app.state`; the SNS accounts file is
    read and checked here, so a bad one stops intake at start."""
    base_url = str(settings.public_base_url).rstrip("/") if settings.public_base_url else None
    return {
        "sms": SmsGateways(
            secrets=settings.sms_gateways,
            replay=ReplayWindow(db, clock, window_s=settings.signature_window_s),
            twilio_account_sid=settings.twilio_account_sid,
            public_base_url=base_url,
        ),
        "sns": SnsChannel(
            accounts=SnsAccounts.load(settings.sns_accounts_file),
            x_consumer_secret=settings.x_consumer_secret,
            facebook_app_secret=settings.facebook_app_secret,
            facebook_verify_token=settings.facebook_verify_token,
        ),
    }
