"""Intake's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from eungdapso_intake import attachments
from eungdapso_intake.api import router
from eungdapso_intake.application import OUTBOX, IntakeApplication
from eungdapso_intake.receipts import ReceiptBook
from eungdapso_intake.services import ComplaintIntake
from eungdapso_intake.settings import IntakeSettings
from eungdapso_platform.db import Database
from eungdapso_platform.outbox import OutboxRelay
from eungdapso_platform.service import NO_OVERRIDES, Overrides, ServiceParts, create_app
from eungdapso_schemas.system import service

SERVICE = service("intake")


def build(
    settings: IntakeSettings, overrides: Overrides = NO_OVERRIDES
) -> tuple[ServiceParts, ComplaintIntake]:
    db = Database.for_service(settings, migrations=attachments.MIGRATIONS)
    application = IntakeApplication(env=overrides.eventsourcing_env(settings))
    relay = OutboxRelay(name="intake", application=application, translate=OUTBOX, db=db, settings=settings)
    parts = ServiceParts(settings=settings, db=db, relays=[relay], routers=[router, attachments.router])
    parts.state["attachments"] = attachments.Attachments.from_settings(settings, db)
    intake = ComplaintIntake(
        application, ReceiptBook(db), relay, overrides.the_clock(), deadline_s=settings.request_deadline_s
    )
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
    app.state.intake = intake
    app.state.application = intake.app
    return app
