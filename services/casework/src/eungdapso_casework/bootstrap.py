"""Casework's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from eungdapso_casework import consumers, deadlines, directory, feeds, inbox, offices, pages, reviews
from eungdapso_casework.api import router
from eungdapso_casework.application import OUTBOX, CaseworkApplication
from eungdapso_casework.services import Casework
from eungdapso_casework.settings import CaseworkSettings
from eungdapso_platform.consumer import Process, Projection
from eungdapso_platform.db import Database
from eungdapso_platform.outbox import OutboxRelay
from eungdapso_platform.readmodel import ReadModel
from eungdapso_platform.service import NO_OVERRIDES, Overrides, ServiceParts, create_app
from eungdapso_schemas.events import (
    ComplaintAnsweredInstantlyV1,
    ComplaintAssignedV1,
    ComplaintAssignedV2,
    ComplaintLinkedV1,
    ComplaintReceivedV1,
    ComplaintReceivedV2,
    ReviewRequestedV1,
)
from eungdapso_schemas.system import service

SERVICE = service("casework")
#: Casework's own tables, in version order.
MIGRATIONS = (*offices.MIGRATIONS, *inbox.MIGRATIONS, *reviews.MIGRATIONS)


def build(settings: CaseworkSettings, overrides: Overrides = NO_OVERRIDES) -> ServiceParts:
    db = Database.for_service(settings, migrations=MIGRATIONS)
    application = CaseworkApplication(env=overrides.eventsourcing_env(settings))
    relay = OutboxRelay(name="casework", application=application, translate=OUTBOX, db=db, settings=settings)
    office_feeds = feeds.office_feeds_relay(application, db, settings)

    def recorded() -> None:
        relay.wake()
        office_feeds.wake()

    process = Process(
        "inbox",
        service=settings.service_name,
        application=application,
        on_recorded=recorded,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
    )
    # v2 is a v1 with more fields: both are read (history replays v1).
    for received in (ComplaintReceivedV1, ComplaintReceivedV2):
        process.on(received, consumers.on_received)
    for assigned in (ComplaintAssignedV1, ComplaintAssignedV2):
        process.on(assigned, consumers.on_assigned)
    # Right after the assignment on the same partition: the case leaves the inbox.
    process.on(ComplaintAnsweredInstantlyV1, consumers.on_answered_instantly)
    process.on(ComplaintLinkedV1, consumers.on_linked)

    def projection(name: str, read_model: ReadModel) -> Projection:
        return Projection(
            name,
            service=settings.service_name,
            db=db,
            read_model=read_model,
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        )

    # The router's directory versions (transfer targets), SLA's deadlines, rating's reviews.
    directory_versions = directory.projection(settings, db)
    deadline_rows = projection("deadlines", deadlines.DEADLINES)
    for payload, handler in deadlines.HANDLERS:
        deadline_rows.on(payload, handler)
    review_rows = projection("reviews", reviews.REVIEWS)
    review_rows.on(ReviewRequestedV1, reviews.on_review_requested)
    return ServiceParts(
        settings=settings,
        db=db,
        broker=overrides.broker_for(settings),
        components=[process, directory_versions, deadline_rows, review_rows],
        relays=[relay, office_feeds],
        routers=[router, pages.router],
        state={
            "application": application,
            "casework": Casework(application, overrides.the_clock(), recorded),
            "inbox": inbox.InboxQueries(db),
            "directory": directory.DirectoryQueries(db),
            "reviews": reviews.ReviewQueries(db),
            "office_keys": offices.OfficeKeys(db, cache_s=settings.office_key_cache_s),
            "request_deadline_s": settings.request_deadline_s,
        },
    )


def bootstrap(settings: CaseworkSettings | None = None, overrides: Overrides = NO_OVERRIDES) -> FastAPI:
    settings = settings or CaseworkSettings()
    return create_app(build(settings, overrides), title=f"Eung-Dap-So {SERVICE.title}")
