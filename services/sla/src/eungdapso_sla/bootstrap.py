"""The sla service's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from eungdapso_platform.db import Database
from eungdapso_platform.service import NO_OVERRIDES, Overrides, ServiceParts, create_app
from eungdapso_schemas.system import service
from eungdapso_sla import compute_api
from eungdapso_sla.calendar import BusinessCalendar
from eungdapso_sla.settings import SlaSettings

SERVICE = service("sla")


def build(settings: SlaSettings, overrides: Overrides = NO_OVERRIDES) -> ServiceParts:
    db = Database.for_service(settings)
    calendar = BusinessCalendar(hours=settings.working_hours())
    return ServiceParts(
        settings=settings,
        db=db,
        broker=overrides.broker_for(settings),
        routers=[compute_api.router],
        state={"calendar": calendar},
    )


def bootstrap(settings: SlaSettings | None = None, overrides: Overrides = NO_OVERRIDES) -> FastAPI:
    settings = settings or SlaSettings()
    return create_app(build(settings, overrides), title=f"Eung-Dap-So {SERVICE.title}")
