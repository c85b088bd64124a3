"""Intake's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from eungdapso_intake import attachments, channels, clients, integrators, open311, ratelimit
from eungdapso_intake.api import router
from eungdapso_intake.application import OUTBOX, IntakeApplication
from eungdapso_intake.channels import desks
from eungdapso_intake.clients import ClientDirectory
from eungdapso_intake.ratelimit import RateLimiter, RateLimits
from eungdapso_intake.receipts import ReceiptBook
from eungdapso_intake.services import ComplaintIntake
from eungdapso_intake.settings import IntakeSettings
from eungdapso_platform.db import Database
from eungdapso_platform.follow import FollowKeys
from eungdapso_platform.outbox import OutboxRelay
from eungdapso_platform.service import NO_OVERRIDES, Overrides, ServiceParts, create_app
from eungdapso_schemas.system import service

SERVICE = service("intake")
#: Intake's own tables, in version order.
MIGRATIONS = (*clients.MIGRATIONS, *ratelimit.MIGRATIONS, *attachments.MIGRATIONS, *channels.MIGRATIONS)


def build(
    settings: IntakeSettings, overrides: Overrides = NO_OVERRIDES
) -> tuple[ServiceParts, ComplaintIntake]:
    db = Database.for_service(settings, migrations=MIGRATIONS)
    application = IntakeApplication(env=overrides.eventsourcing_env(settings))
    relay = OutboxRelay(name="intake", application=application, translate=OUTBOX, db=db, settings=settings)
    limiter = RateLimiter(db)
    limits = RateLimits(
        limiter,
        web_rate_per_minute=settings.web_rate_per_minute,
        trusted_proxies=settings.trusted_proxies,
        deadline_s=settings.request_deadline_s,
    )
    parts = ServiceParts(
        settings=settings,
        db=db,
        broker=overrides.broker_for(settings),
        relays=[relay],
        routers=[router, attachments.router, *channels.ROUTERS, desks.router],
        on_stop=[limiter.close],
        state={"clients": ClientDirectory(db, cache_s=settings.client_cache_s), "rate_limits": limits},
    )
    parts.state["attachments"] = attachments.Attachments.from_settings(settings, db)
    parts.state["follow_keys"] = (
        FollowKeys(settings.follow_link_secret) if settings.follow_link_secret is not None else None
    )
    intake = ComplaintIntake(
        application, ReceiptBook(db), relay, overrides.the_clock(), deadline_s=settings.request_deadline_s
    )
    parts.state.update(channels.channel_state(settings, db, intake.clock))
    open311.install(parts, settings, intake)
    integrators.subscribe(parts, intake, overrides)
    return parts, intake


def bootstrap(settings: IntakeSettings | None = None, overrides: Overrides = NO_OVERRIDES) -> FastAPI:
    settings = settings or IntakeSettings()
    parts, intake = build(settings, overrides)
    app = create_app(
        parts,
        title=f"Eung-Dap-So {SERVICE.title}",
        max_body_bytes=settings.max_body_bytes,
        body_limits=settings.body_limits(),
    )
    open311.install_error_format(app)
    app.state.intake = intake
    app.state.application = intake.app
    return app
