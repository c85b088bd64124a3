"""The rating service's composition root."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from eungdapso_platform.consumer import Process
from eungdapso_platform.db import Database
from eungdapso_platform.outbox import OutboxRelay
from eungdapso_platform.service import NO_OVERRIDES, Overrides, ServiceParts, create_app
from eungdapso_rating import tables
from eungdapso_rating.api import router
from eungdapso_rating.application import OUTBOX, RatingApplication
from eungdapso_rating.consumers import Invitations
from eungdapso_rating.links import LinkSigner
from eungdapso_rating.services import Ratings
from eungdapso_rating.settings import RatingSettings
from eungdapso_schemas.system import service

SERVICE = service("rating")


class Signer:
    """The link signer, made at start: its key may be the one kept in the database."""

    def __init__(self, settings: RatingSettings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._signer: LinkSigner | None = None

    async def start(self) -> None:
        configured = self.settings.link_secret
        secret = configured.get_secret_value() if configured else await tables.link_key(self.db)
        self._signer = LinkSigner(secret)

    def __call__(self) -> LinkSigner:
        if self._signer is None:
            raise RuntimeError("the rating service has not started: no link key yet")
        return self._signer


def build(settings: RatingSettings, overrides: Overrides = NO_OVERRIDES) -> ServiceParts:
    db = Database.for_service(settings, migrations=tables.MIGRATIONS)
    application = RatingApplication(env=overrides.eventsourcing_env(settings))
    relay = OutboxRelay(name="rating", application=application, translate=OUTBOX, db=db, settings=settings)
    signer = Signer(settings, db)
    process = Process(
        "invitations",
        service=settings.service_name,
        application=application,
        on_recorded=relay.wake,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
    )
    clock = overrides.the_clock()
    Invitations(signer, timedelta(days=settings.link_valid_days), clock).register(process)
    return ServiceParts(
        settings=settings,
        db=db,
        broker=overrides.broker_for(settings),
        components=[process],
        relays=[relay],
        routers=[router],
        # Before the consumer and the API: they sign and check links with it.
        on_start=[signer.start],
        state={
            "application": application,
            "ratings": Ratings(application, clock, signer, relay.wake),
            "queries": tables.RatingQueries(db),
            "request_deadline_s": settings.request_deadline_s,
        },
    )


def bootstrap(settings: RatingSettings | None = None, overrides: Overrides = NO_OVERRIDES) -> FastAPI:
    settings = settings or RatingSettings()
    return create_app(build(settings, overrides), title=f"Eung-Dap-So {SERVICE.title}")
