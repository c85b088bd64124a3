"""Intake's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from eungdapso_intake.api import router
from eungdapso_intake.application import IntakeApplication, to_integration_event
from eungdapso_intake.receipts import ReceiptBook
from eungdapso_intake.services import ComplaintIntake
from eungdapso_intake.settings import IntakeSettings
from eungdapso_platform.db import Database
from eungdapso_platform.outbox import OutboxRelay
from eungdapso_platform.service import ServiceParts, create_app


def bootstrap(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    db = Database.for_service(settings)
    application = IntakeApplication(env=settings.eventsourcing_env())
    relay = OutboxRelay(
        name="intake", application=application, translate=to_integration_event, db=db, settings=settings
    )
    parts = ServiceParts(settings=settings, db=db, relays=[relay], routers=[router])
    app = create_app(parts, title="Eung-Dap-So intake (응답소 접수)", max_body_bytes=settings.max_body_bytes)
    app.state.intake = ComplaintIntake(application, ReceiptBook(db), relay)
    app.state.application = application

    return app
