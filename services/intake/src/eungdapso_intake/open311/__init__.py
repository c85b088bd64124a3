"""Open311 GeoReport v2 under /open311/v2/ (routes.py), its service list (catalogue.py),
wire formats (render.py, errors.py), form intake (submission.py) and public read model
(readmodel.py, privacy.py)."""

from __future__ import annotations

from eungdapso_intake.open311 import readmodel
from eungdapso_intake.open311.errors import install_error_format
from eungdapso_intake.open311.routes import Open311, router
from eungdapso_intake.services import ComplaintIntake
from eungdapso_intake.settings import IntakeSettings
from eungdapso_platform.consumer import Projection
from eungdapso_platform.db import Database
from eungdapso_platform.service import ServiceParts
from eungdapso_schemas.events import (
    ComplaintAssignedV1,
    ComplaintAssignedV2,
    ComplaintReceivedV1,
    ComplaintReceivedV2,
)

__all__ = ["install", "install_error_format", "requests_projection"]


def requests_projection(settings: IntakeSettings, db: Database) -> Projection:
    """The `open311_requests` projection: intake's receipts and the router's assignments."""
    component = Projection(
        "open311_requests",
        service=settings.service_name,
        db=db,
        read_model=readmodel.OPEN311_REQUESTS,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        cadence_s=settings.open311_cadence_s,
    )
    # v2 is a v1 with more fields: both are read (history replays v1).
    for received in (ComplaintReceivedV1, ComplaintReceivedV2):
        component.on(received, readmodel.on_received)
    for assigned in (ComplaintAssignedV1, ComplaintAssignedV2):
        component.on(assigned, readmodel.on_assigned)
    return component


def install(parts: ServiceParts, settings: IntakeSettings, intake: ComplaintIntake) -> None:
    """Add Open311's routes, projection and state to intake's parts (before `create_app`)."""
    parts.components.append(requests_projection(settings, parts.db))
    parts.routers.append(router)
    parts.state["open311"] = Open311(
        intake,
        readmodel.Open311Queries(parts.db),
        jurisdiction_id=settings.open311_jurisdiction_id,
        max_requests=settings.open311_max_requests,
    )
