"""The notifier service's composition root: the notices (consumers, store, dispatcher, API),
the delivery adapters (providers/), the emergency broadcasts (broadcast*.py) and the
citizen's own page behind the follow link (citizen_page.py, follow_api.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from fastapi import FastAPI

from eungdapso_notifier import api, broadcast_api, citizen_page, follow_api, keys, tables
from eungdapso_notifier.application import OUTBOX, NotifierApplication
from eungdapso_notifier.broadcast import SmsSubscribers
from eungdapso_notifier.consumers import Notices
from eungdapso_notifier.dispatcher import Dispatcher
from eungdapso_notifier.keys import ApiKeys
from eungdapso_notifier.preferences import EmergencySms, Preferences
from eungdapso_notifier.providers import Provider
from eungdapso_notifier.providers.registry import Providers
from eungdapso_notifier.providers.registry import providers as adapters_for
from eungdapso_notifier.settings import NotifierSettings
from eungdapso_notifier.templates import Templates
from eungdapso_platform import directory
from eungdapso_platform.consumer import Process, Projection
from eungdapso_platform.db import Database
from eungdapso_platform.follow import FollowKeys
from eungdapso_platform.logging import get_logger
from eungdapso_platform.outbox import OutboxRelay
from eungdapso_platform.service import NO_OVERRIDES, Overrides, ServiceParts, create_app
from eungdapso_schemas.system import service

SERVICE = service("notifier")
MIGRATIONS = (*tables.MIGRATIONS, *keys.MIGRATIONS, tables.EMERGENCY_SMS, *broadcast_api.MIGRATIONS)
log = get_logger("eungdapso.notifier")


def default_providers(adapters: Providers) -> dict[str, Provider]:
    """The delivery adapters by medium (`eungdapso_notifier.providers`: the file outbox on
    the local stack, SMTP, the SMS gateway, X and Facebook). The citizen page, the letter
    queue and callback tasks need none: the notifier writes them itself."""
    return {medium: provider for medium, provider in adapters.external().items()}


def citizen_pages(settings: NotifierSettings, db: Database) -> Projection:
    """The `citizen_page` projection: what the follow link opens (citizen_page.py)."""
    component = Projection(
        "citizen_page",
        service=settings.service_name,
        db=db,
        read_model=citizen_page.CITIZEN_PAGE,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
    )
    citizen_page.register(component)
    return component


def build(
    settings: NotifierSettings,
    overrides: Overrides = NO_OVERRIDES,
    providers: Mapping[str, Provider] | None = None,
    *,
    subscribers: SmsSubscribers | None = None,
) -> ServiceParts:
    db = Database.for_service(settings, migrations=MIGRATIONS)
    adapters = adapters_for(settings)
    application = NotifierApplication(env=overrides.eventsourcing_env(settings))
    relay = OutboxRelay(name="notifier", application=application, translate=OUTBOX, db=db, settings=settings)
    clock = overrides.the_clock()
    preferences = Preferences(db)
    emergency_sms = EmergencySms(db)
    chosen = dict(default_providers(adapters) if providers is None else providers)
    dispatcher = Dispatcher(
        application=application,
        db=db,
        providers=chosen,
        templates=Templates.packaged(),
        preferences=preferences,
        directory=directory.DirectoryQueries(db),
        settings=settings,
        clock=clock,
        on_recorded=relay.wake,
    )

    def recorded() -> None:
        relay.wake()
        dispatcher.wake()

    process = Process(
        "notices",
        service=settings.service_name,
        application=application,
        on_recorded=recorded,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
    )
    Notices(clock, timedelta(seconds=settings.rating_link_grace_s)).register(process)
    log.info("providers", media=sorted(chosen))
    broadcasts = broadcast_api.broadcast_wiring(
        settings,
        settings,
        db=db,
        providers=adapters,
        clock=clock,
        eventsourcing_env=overrides.eventsourcing_env(settings),
        subscribers=emergency_sms if subscribers is None else subscribers,
    )
    pages = citizen_page.CitizenPages(db)
    return ServiceParts(
        settings=settings,
        db=db,
        broker=overrides.broker_for(settings),
        # The `directory` projection: the router's organisation directory in force names the
        # offices the notices speak of (a transfer's target is known by its code only).
        components=[process, citizen_pages(settings, db), directory.projection(settings, db)],
        relays=[relay, broadcasts.relay],
        routers=[api.router, follow_api.router, *broadcasts.routers],
        on_start=[dispatcher.start, broadcasts.delivery.start],
        on_stop=[dispatcher.stop, broadcasts.delivery.stop, adapters.close],
        state={
            "broadcasts": broadcasts,
            "citizen_pages": pages,
            "follow_keys": None
            if settings.follow_link_secret is None
            else FollowKeys(settings.follow_link_secret),
            "application": application,
            "dispatcher": dispatcher,
            "preferences": preferences,
            "emergency_sms": emergency_sms,
            "api_keys": ApiKeys(db),
            "clock": clock,
        },
    )


def bootstrap(
    settings: NotifierSettings | None = None,
    overrides: Overrides = NO_OVERRIDES,
    providers: Mapping[str, Provider] | None = None,
) -> FastAPI:
    settings = settings or NotifierSettings()
    return create_app(build(settings, overrides, providers), title=f"Eung-Dap-So {SERVICE.title}")
