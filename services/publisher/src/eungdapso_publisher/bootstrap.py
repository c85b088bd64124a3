"""The publisher's composition root."""

from __future__ import annotations

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from eungdapso_platform.consumer import EventConsumer
from eungdapso_platform.db import Database
from eungdapso_platform.service import ServiceParts, create_app, make_broker
from eungdapso_publisher.api import router
from eungdapso_publisher.projection import PublicProjection
from eungdapso_publisher.settings import PublisherSettings
from eungdapso_schemas.topics import COMPLAINT_ASSIGNED, COMPLAINT_RECEIVED


def build_consumer(
    settings: PublisherSettings, db: Database, broker: KafkaBroker | None
) -> tuple[EventConsumer, PublicProjection]:
    projection = PublicProjection(db)
    consumer = EventConsumer.for_service(settings, db, broker)
    consumer.project(COMPLAINT_RECEIVED, projection.on_received)
    consumer.project(COMPLAINT_ASSIGNED, projection.on_assigned)
    return consumer, projection


def bootstrap(settings: PublisherSettings | None = None) -> FastAPI:
    settings = settings or PublisherSettings()
    db = Database.for_service(settings)
    broker = make_broker(settings)
    consumer, projection = build_consumer(settings, db, broker)
    parts = ServiceParts(
        settings=settings,
        db=db,
        broker=broker,
        consumer=consumer,
        routers=[router],
        on_start=[projection.create],
    )
    app = create_app(parts, title="Eung-Dap-So publisher (공개)")
    app.state.projection = projection
    return app
