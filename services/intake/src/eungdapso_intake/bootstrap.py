"""Intake's composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from eungdapso_intake.api import router
from eungdapso_intake.application import IntakeApplication, to_integration_event
from eungdapso_intake.receipts import ReceiptBook
from eungdapso_intake.services import ComplaintIntake
from eungdapso_intake.settings import IntakeSettings
from eungdapso_platform.db import Database
from eungdapso_platform.outbox import OutboxRelay
from eungdapso_platform.problems import Problem, problem_response
from eungdapso_platform.service import ServiceParts, create_app


def bootstrap(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    db = Database(settings.postgres_conninfo(), settings.db_schema)
    application = IntakeApplication(env=settings.eventsourcing_env())
    relay = OutboxRelay(
        name="intake", application=application, translate=to_integration_event, db=db, settings=settings
    )
    parts = ServiceParts(settings=settings, db=db, relays=[relay], routers=[router])
    app = create_app(parts, title="Eung-Dap-So intake (응답소 접수)")
    app.state.intake = ComplaintIntake(application, ReceiptBook(db), relay)
    app.state.application = application

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > settings.max_body_bytes):
            return problem_response(
                request,
                Problem(
                    413, "Request too large", f"The body may be at most {settings.max_body_bytes} bytes."
                ),
            )
        return await call_next(request)

    return app
