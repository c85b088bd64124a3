"""The notifier service's composition root.

So far: the delivery adapters (providers/) and the emergency broadcasts (broadcast*.py:
their event store, outbox relay, delivery and admin API). The notices' consumers and store
join them here.
"""

from __future__ import annotations

from fastapi import FastAPI

from eungdapso_notifier import broadcast_api
from eungdapso_notifier.broadcast import SmsSubscribers
from eungdapso_notifier.providers.registry import providers
from eungdapso_notifier.settings import NotifierSettings
from eungdapso_platform.db import Database
from eungdapso_platform.service import NO_OVERRIDES, Overrides, ServiceParts, create_app
from eungdapso_schemas.system import service

SERVICE = service("notifier")
MIGRATIONS = (*broadcast_api.MIGRATIONS,)


def build(
    settings: NotifierSettings,
    overrides: Overrides = NO_OVERRIDES,
    *,
    subscribers: SmsSubscribers | None = None,
) -> ServiceParts:
    db = Database.for_service(settings, migrations=MIGRATIONS)
    adapters = providers(settings)
    broadcasts = broadcast_api.broadcast_wiring(
        settings,
        settings,
        db=db,
        providers=adapters,
        clock=overrides.the_clock(),
        eventsourcing_env=overrides.eventsourcing_env(settings),
        subscribers=subscribers,
    )
    return ServiceParts(
        settings=settings,
        db=db,
        broker=overrides.broker_for(settings),
        relays=[broadcasts.relay],
        routers=broadcasts.routers,
        on_start=[broadcasts.delivery.start],
        on_stop=[broadcasts.delivery.stop, adapters.close],
        state={"broadcasts": broadcasts},
    )


def bootstrap(settings: NotifierSettings | None = None, overrides: Overrides = NO_OVERRIDES) -> FastAPI:
    settings = settings or NotifierSettings()
    return create_app(build(settings, overrides), title=f"Eung-Dap-So {SERVICE.title}")
