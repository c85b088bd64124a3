"""The router's composition root."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from eungdapso_platform.consumer import Process
from eungdapso_platform.db import Database
from eungdapso_platform.outbox import OutboxRelay
from eungdapso_platform.service import NO_OVERRIDES, Overrides, ServiceParts, create_app
from eungdapso_router import directory_api
from eungdapso_router.application import OUTBOX, RouterApplication
from eungdapso_router.consumers import Assignment
from eungdapso_router.directory import packaged_directory
from eungdapso_router.directory_store import DirectoryStore, LiveDirectory
from eungdapso_router.faq_api import FaqIndexHolder
from eungdapso_router.faq_api import router as faq_router
from eungdapso_router.settings import RouterSettings
from eungdapso_schemas.events import ComplaintReceivedV1, ComplaintReceivedV2
from eungdapso_schemas.system import service

SERVICE = service("router")


def build(settings: RouterSettings, overrides: Overrides = NO_OVERRIDES) -> ServiceParts:
    db = Database.for_service(settings)
    application = RouterApplication(env=overrides.eventsourcing_env(settings))
    relay = OutboxRelay(name="router", application=application, translate=OUTBOX, db=db, settings=settings)
    assignment = Process(
        "assignment",
        service=settings.service_name,
        application=application,
        on_recorded=relay.wake,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
    )
    assigning = Assignment(overrides.the_clock())
    # v2 is a v1 with more fields: both are assigned (history replays v1).
    for received in (ComplaintReceivedV1, ComplaintReceivedV2):
        assignment.on(received, assigning.on_received, aggregate_ids=assigning.aggregate_ids)
    directory = LiveDirectory(
        DirectoryStore(application),
        package=packaged_directory(),
        poll_interval_s=settings.directory_poll_interval_s,
    )
    faq = FaqIndexHolder()
    parts = ServiceParts(
        settings=settings,
        db=db,
        broker=overrides.broker_for(settings),
        components=[assignment],
        relays=[relay],
        routers=[directory_api.router, faq_router],
        on_start=[directory.start],
        on_stop=[directory.stop],
        state={"application": application, "directory": directory, "faq": faq},
    )

    async def warm_faq() -> None:  # kiwi loads in seconds: in the background, not before readiness
        parts.background.append(asyncio.create_task(faq.warm()))

    parts.on_start.append(warm_faq)
    return parts


def bootstrap(settings: RouterSettings | None = None, overrides: Overrides = NO_OVERRIDES) -> FastAPI:
    settings = settings or RouterSettings()
    return create_app(build(settings, overrides), title=f"Eung-Dap-So {SERVICE.title}")
