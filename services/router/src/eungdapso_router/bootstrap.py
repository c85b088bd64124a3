"""The router's composition root."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from eungdapso_platform.consumer import Process
from eungdapso_platform.db import Database
from eungdapso_platform.outbox import OutboxRelay
from eungdapso_platform.service import NO_OVERRIDES, Overrides, ServiceParts, create_app
from eungdapso_router import directory_api, explain_api, staff, tables, triage_api
from eungdapso_router.application import OUTBOX, RouterApplication
from eungdapso_router.consumers import Assignment
from eungdapso_router.decision import Decider, RoutingModels, Thresholds, shared_models
from eungdapso_router.directory import packaged_directory
from eungdapso_router.directory_store import DirectoryStore, LiveDirectory
from eungdapso_router.duplicates import Rules
from eungdapso_router.faq_api import FaqIndexHolder
from eungdapso_router.faq_api import router as faq_router
from eungdapso_router.settings import RouterSettings
from eungdapso_router.staff import StaffKeys
from eungdapso_router.tables import MemoryTables, PostgresTables, RouterTables
from eungdapso_router.triage import TriageDesk
from eungdapso_schemas.events import (
    CaseAnsweredV1,
    CaseRejectedV1,
    CaseTransferredV1,
    ComplaintReceivedV1,
    ComplaintReceivedV2,
)
from eungdapso_schemas.system import service

SERVICE = service("router")
#: The router's own tables (tables.py) and its staff keys (staff.py).
MIGRATIONS = (*tables.MIGRATIONS, *staff.MIGRATIONS)


def build(
    settings: RouterSettings, overrides: Overrides = NO_OVERRIDES, models: RoutingModels | None = None
) -> ServiceParts:
    db = Database.for_service(settings, migrations=MIGRATIONS)
    application = RouterApplication(env=overrides.eventsourcing_env(settings))
    relay = OutboxRelay(name="router", application=application, translate=OUTBOX, db=db, settings=settings)
    directory = LiveDirectory(
        DirectoryStore(application),
        package=packaged_directory(),
        poll_interval_s=settings.directory_poll_interval_s,
    )
    kept: RouterTables = MemoryTables() if overrides.in_memory_ledger else PostgresTables(application, db)
    # kiwi and the models load once per process, in a worker thread (never on the event loop).
    models = models or shared_models()
    decider = Decider(models, Thresholds(triage_below=settings.triage_below_confidence))
    clock = overrides.the_clock()
    assigning = Assignment(
        clock,
        decider,
        lambda: directory.current,
        kept,
        Rules(
            window=timedelta(days=settings.duplicate_window_days),
            radius_m=settings.duplicate_radius_m,
            min_similarity=settings.duplicate_min_similarity,
            min_similarity_same_place=settings.duplicate_min_similarity_same_place,
        ),
    )
    assignment = Process(
        "assignment",
        service=settings.service_name,
        application=application,
        on_recorded=relay.wake,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        max_batch=settings.assignment_max_batch,
    )
    # v2 is a v1 with more fields: both are assigned (history replays v1).
    for received in (ComplaintReceivedV1, ComplaintReceivedV2):
        assignment.on(
            received,
            assigning.on_received,
            aggregate_ids=assigning.aggregate_ids,
            # The batch's complaints read first: their duplicate candidates in one query.
            prepare=assigning.prepare_received,
        )
    # What the offices did (casework): a rejection reassigns, a transfer moves the complaint to
    # the agency, an answer closes it for new duplicates. Same component: one complaint's
    # assignments and the actions on them are decided in one place.
    assignment.on(CaseRejectedV1, assigning.on_rejected)
    assignment.on(CaseTransferredV1, assigning.on_transferred)
    assignment.on(CaseAnsweredV1, assigning.on_answered)
    faq = FaqIndexHolder()
    parts = ServiceParts(
        settings=settings,
        db=db,
        broker=overrides.broker_for(settings),
        components=[assignment],
        relays=[relay],
        routers=[directory_api.router, faq_router, explain_api.router, triage_api.router],
        # The router is ready when it can decide: the models load (seconds) before it consumes.
        on_start=[directory.start, models.warm],
        on_stop=[directory.stop],
        state={
            "application": application,
            "assignment": assigning,
            "directory": directory,
            "decider": decider,
            "tables": kept,
            "triage": TriageDesk(application, kept, lambda: directory.current, clock),
            "staff_keys": StaffKeys(db, cache_s=settings.staff_key_cache_s),
            "faq": faq,
        },
        # The standard answers' index (kiwi) loads in seconds: in the background, not before
        # readiness.
        warm_ups=[faq.warm],
    )
    return parts


def bootstrap(settings: RouterSettings | None = None, overrides: Overrides = NO_OVERRIDES) -> FastAPI:
    settings = settings or RouterSettings()
    return create_app(build(settings, overrides), title=f"Eung-Dap-So {SERVICE.title}")
