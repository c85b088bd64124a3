"""The publisher's composition root."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from eungdapso_platform.consumer import Projection
from eungdapso_platform.db import Database
from eungdapso_platform.service import NO_OVERRIDES, Overrides, ServiceParts, create_app
from eungdapso_publisher import board_api, feed_api, pages, projection, search_api
from eungdapso_publisher.api import router
from eungdapso_publisher.search_terms import shared_terms
from eungdapso_publisher.settings import PublisherSettings
from eungdapso_publisher.statistics_api import router as statistics_router
from eungdapso_publisher.statistics_projection import StatisticsQueries
from eungdapso_publisher.statistics_projection import statistics as statistics_projection
from eungdapso_schemas.events import (
    CaseAcceptedV1,
    CaseAnsweredV1,
    CaseClosedV1,
    CaseTransferredV1,
    ComplaintAnsweredInstantlyV1,
    ComplaintAssignedV1,
    ComplaintAssignedV2,
    ComplaintLinkedV1,
    ComplaintReceivedV1,
    ComplaintReceivedV2,
    DeadlineBreachedV1,
    DeadlineExtendedV1,
    DeadlineMovedV1,
    DeadlineSetV1,
    DuplicateAnsweredV1,
    RatedV1,
)
from eungdapso_schemas.system import service

SERVICE = service("publisher")


def public_status(settings: PublisherSettings, db: Database) -> Projection:
    """The `public_status` projection: the public processing status of every complaint."""
    component = Projection(
        "public_status",
        service=settings.service_name,
        db=db,
        read_model=projection.PUBLIC_STATUS,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        max_batch=settings.public_status_max_batch,
    )
    # v2 is a v1 with more fields: the projection reads both (history replays v1).
    for received in (ComplaintReceivedV1, ComplaintReceivedV2):
        component.on(received, projection.on_received)
    for assigned in (ComplaintAssignedV1, ComplaintAssignedV2):
        component.on(assigned, projection.on_assigned)
    # What the router decided beside the assignment.
    component.on(ComplaintAnsweredInstantlyV1, projection.on_answered_instantly)
    component.on(ComplaintLinkedV1, projection.on_linked)
    # What the offices did (casework's stream).
    component.on(CaseAcceptedV1, projection.on_accepted)
    component.on(CaseTransferredV1, projection.on_transferred)
    component.on(CaseAnsweredV1, projection.on_answered)
    component.on(DuplicateAnsweredV1, projection.on_duplicate_answered)
    component.on(CaseClosedV1, projection.on_closed)
    # The deadline (sla's stream) and the citizen's score (rating's stream).
    component.on(DeadlineSetV1, projection.on_deadline_set)
    component.on(DeadlineExtendedV1, projection.on_deadline_extended)
    component.on(DeadlineMovedV1, projection.on_deadline_moved)
    component.on(DeadlineBreachedV1, projection.on_deadline_breached)
    component.on(RatedV1, projection.on_rated)
    return component


def statistics(settings: PublisherSettings, db: Database) -> Projection:
    """The `statistics` projection: the facts the monthly statistics are counted from."""
    return statistics_projection(
        db,
        service=settings.service_name,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        cadence_s=settings.statistics_cadence_s,
    )


def build(settings: PublisherSettings, overrides: Overrides = NO_OVERRIDES) -> ServiceParts:
    db = Database.for_service(settings)
    queries = projection.PublicStatusQueries(db)
    hub = feed_api.FeedHub(queries, settings)
    parts = ServiceParts(
        settings=settings,
        db=db,
        broker=overrides.broker_for(settings),
        components=[public_status(settings, db), statistics(settings, db)],
        routers=[
            router,
            feed_api.router,
            search_api.router,
            statistics_router,
            board_api.router,
            pages.router,
        ],
        state={
            "queries": queries,
            "feed": hub,
            "statistics": StatisticsQueries(db, cache_s=settings.statistics_cache_s),
        },
        on_stop=[hub.stop],
        # kiwi loads in seconds: in the background, not before readiness.
        warm_ups=[load_kiwi],
    )
    return parts


async def load_kiwi() -> None:
    await asyncio.to_thread(shared_terms)


def bootstrap(settings: PublisherSettings | None = None, overrides: Overrides = NO_OVERRIDES) -> FastAPI:
    settings = settings or PublisherSettings()
    app = create_app(build(settings, overrides), title=f"Eung-Dap-So {SERVICE.title}")
    app.mount("/static", pages.static, name="static")
    return app
