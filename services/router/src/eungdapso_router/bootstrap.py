"""The router's composition root."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from eungdapso_platform.consumer import EventConsumer
from eungdapso_platform.db import Database
from eungdapso_platform.eventstore import LedgerEntry
from eungdapso_platform.outbox import OutboxRelay
from eungdapso_platform.service import ServiceParts, create_app, make_broker
from eungdapso_router.application import RouterApplication, to_integration_event
from eungdapso_router.consumers import ComplaintReceivedHandler
from eungdapso_router.domainmodel import Routing
from eungdapso_router.settings import RouterSettings
from eungdapso_schemas.topics import COMPLAINT_RECEIVED


def build_consumer(
    settings: RouterSettings,
    db: Database,
    broker: KafkaBroker | None,
    application: RouterApplication,
    wake_relay: Callable[[], None],
) -> EventConsumer:
    consumer = EventConsumer.for_service(settings, db, broker)
    received = ComplaintReceivedHandler(application)

    def record(routings: list[Routing], entries: list[LedgerEntry]) -> None:
        application.record(routings, entries)
        wake_relay()

    consumer.process(COMPLAINT_RECEIVED, received.decide, record)
    return consumer


def bootstrap(settings: RouterSettings | None = None) -> FastAPI:
    settings = settings or RouterSettings()
    db = Database.for_service(settings)
    broker = make_broker(settings)
    application = RouterApplication(env=settings.eventsourcing_env())
    relay = OutboxRelay(
        name="router", application=application, translate=to_integration_event, db=db, settings=settings
    )
    consumer = build_consumer(settings, db, broker, application, relay.wake)
    parts = ServiceParts(settings=settings, db=db, broker=broker, consumer=consumer, relays=[relay])
    app = create_app(parts, title="Eung-Dap-So router (배정)")
    app.state.application = application
    return app
