"""The sla service's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from eungdapso_platform.consumer import Process
from eungdapso_platform.db import Database
from eungdapso_platform.outbox import OutboxRelay
from eungdapso_platform.service import NO_OVERRIDES, Overrides, ServiceParts, create_app
from eungdapso_schemas.system import service
from eungdapso_sla import admin, compute_api, opendeadlines
from eungdapso_sla.admin import AdminKeys
from eungdapso_sla.application import OUTBOX, SlaApplication
from eungdapso_sla.calendar import BusinessCalendar
from eungdapso_sla.consumers import Deadlines
from eungdapso_sla.holidays import Calendars
from eungdapso_sla.periods import PeriodTable
from eungdapso_sla.scheduler import Scheduler
from eungdapso_sla.settings import SlaSettings

SERVICE = service("sla")
MIGRATIONS = (*opendeadlines.MIGRATIONS, *admin.MIGRATIONS, opendeadlines.BY_CALENDAR_VERSION)


def build(settings: SlaSettings, overrides: Overrides = NO_OVERRIDES) -> ServiceParts:
    db = Database.for_service(settings, migrations=MIGRATIONS)
    admin_keys = AdminKeys(db)
    application = SlaApplication(env=overrides.eventsourcing_env(settings))
    relay = OutboxRelay(name="sla", application=application, translate=OUTBOX, db=db, settings=settings)
    calendar = BusinessCalendar(hours=settings.working_hours())
    calendars = Calendars(calendar)
    process = Process(
        "deadlines",
        service=settings.service_name,
        application=application,
        on_recorded=relay.wake,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
    )
    Deadlines(PeriodTable.packaged(), calendars, settings.warn_at_share).register(process)
    scheduler = Scheduler(
        application=application,
        db=db,
        calendars=calendars,
        clock=overrides.the_clock(),
        warn_at_share=settings.warn_at_share,
        batch_size=settings.scheduler_batch_size,
        interval_s=settings.scheduler_interval_s,
        on_recorded=relay.wake,
    )
    return ServiceParts(
        settings=settings,
        db=db,
        broker=overrides.broker_for(settings),
        components=[process],
        relays=[relay],
        routers=[compute_api.router],
        on_start=[scheduler.start],
        on_stop=[scheduler.stop],
        state={
            "calendars": calendars,
            "application": application,
            "scheduler": scheduler,
            "admin_keys": admin_keys,
        },
    )


def bootstrap(settings: SlaSettings | None = None, overrides: Overrides = NO_OVERRIDES) -> FastAPI:
    settings = settings or SlaSettings()
    return create_app(build(settings, overrides), title=f"Eung-Dap-So {SERVICE.title}")
