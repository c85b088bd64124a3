"""The shape every service shares: one FastAPI app (health, problems, tracing) around the
service's own parts: its database, its Kafka broker connection, its relays and its
consumer components.

A service's `bootstrap.py` is its composition root: `build(settings, overrides)` makes the
`ServiceParts` (usable without HTTP, e.g. in unit tests with faststream's TestKafkaBroker
and an in-memory event store), `bootstrap(settings, overrides)` wraps them in `create_app`;
`__main__.py` calls `serve`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker

from eungdapso_platform.clock import Clock, SystemClock
from eungdapso_platform.consumer import Component, Projection, share_decoding
from eungdapso_platform.db import Database
from eungdapso_platform.heap import PAUSES, settle, settled_after
from eungdapso_platform.http import RequestContext
from eungdapso_platform.logging import configure_logging, get_logger
from eungdapso_platform.outbox import OutboxRelay
from eungdapso_platform.problems import install_problem_handlers
from eungdapso_platform.settings import ServiceSettings
from eungdapso_platform.tracing import configure_tracing

log = get_logger("eungdapso.service")


def make_broker(settings: ServiceSettings) -> KafkaBroker:
    from eungdapso_platform.kafka import kafka_broker

    return kafka_broker(
        settings,
        client_id=f"eungdapso-{settings.service_name}",
        # Dead letters must be durable before the offset of their record is committed.
        acks="all",
        logger=None,
    )


@dataclass(frozen=True)
class Overrides:
    """Test seams: what a bootstrap takes instead of the real thing."""

    #: A broker to use (e.g. one under faststream's TestKafkaBroker) instead of a new one.
    broker: KafkaBroker | None = None
    #: Keep the event store and its consumer ledger in memory (unit tests, milliseconds).
    in_memory_ledger: bool = False
    #: The time the service decides by.
    clock: Clock | None = None

    def broker_for(self, settings: ServiceSettings) -> KafkaBroker:
        return self.broker if self.broker is not None else make_broker(settings)

    def eventsourcing_env(self, settings: ServiceSettings) -> dict[str, str]:
        return settings.in_memory_env() if self.in_memory_ledger else settings.eventsourcing_env()

    def the_clock(self) -> Clock:
        return self.clock or SystemClock()


#: No test seams: the real broker, PostgreSQL and the system clock.
NO_OVERRIDES = Overrides()


@dataclass
class ServiceParts:
    settings: ServiceSettings
    db: Database
    broker: KafkaBroker | None = None
    components: list[Component[Any]] = field(default_factory=list)
    relays: list[OutboxRelay] = field(default_factory=list)
    routers: list[APIRouter] = field(default_factory=list)
    #: Extra start-up work (read-model tables, ...) run after the database opens.
    on_start: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    #: Loading the service needs soon but not to be ready (kiwi for a search): run in the
    #: background once started, each followed by `heap.settle` (what it loaded lives as long
    #: as the process).
    warm_ups: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    broker_started: bool = False
    #: Objects the HTTP entry points reach through `request.app.state`.
    state: dict[str, Any] = field(default_factory=dict)
    #: Tasks started with the service (read-model upgrades), cancelled when it stops.
    background: list[asyncio.Task[None]] = field(default_factory=list)
    #: Checks `/readyz` shows without making the service unready: intake takes complaints
    #: over HTTP while the broker is away (its outbox keeps them), so only its database counts.
    advisory_checks: frozenset[str] = frozenset()


async def _start_broker(parts: ServiceParts) -> None:
    """Connect to Kafka, retrying while it is unreachable; readiness waits for it."""
    assert parts.broker is not None
    share_decoding(parts.components)
    for component in parts.components:
        if component.broker is None:
            component.subscribe(parts.broker)
    delay = 0.2
    while True:
        try:
            await parts.broker.start()
            parts.broker_started = True
            log.info("broker_connected", bootstrap=parts.settings.kafka_bootstrap_servers)
            return
        except Exception as exc:
            log.warning("broker_unreachable", error=f"{type(exc).__name__}: {exc}", retry_s=delay)
            try:
                await parts.broker.stop()
            except Exception as stop_exc:
                log.debug("broker_stop_failed", error=str(stop_exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def create_app(
    parts: ServiceParts,
    *,
    title: str,
    max_body_bytes: int | None = 64 * 1024,
    body_limits: Mapping[str, int] | None = None,
) -> FastAPI:
    """`max_body_bytes` holds for every path but those `body_limits` gives their own
    (by path prefix: uploads and media webhooks may be larger than a JSON form)."""
    settings = parts.settings
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings.service_name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await parts.db.open()
        await _ensure_read_models(parts)
        for hook in parts.on_start:
            await hook()
        if settings.heap_settle:
            settle("started")  # what start-up loaded lives as long as the process
        PAUSES.install()  # from here on, the pauses the service's work suffers
        for warm_up in parts.warm_ups:
            name = getattr(warm_up, "__qualname__", "warm-up")
            warmed = settled_after(warm_up(), f"warmed: {name}", enabled=settings.heap_settle)
            parts.background.append(asyncio.create_task(warmed, name=f"warm-up {name}"))
        for relay in parts.relays:
            await relay.start()
        broker_task = asyncio.create_task(_start_broker(parts)) if parts.broker else None
        log.info("service_started", port=settings.http_port)
        try:
            yield
        finally:
            if broker_task is not None:
                broker_task.cancel()
            for task in parts.background:
                task.cancel()
            for relay in parts.relays:
                await relay.stop()
            if parts.broker is not None:
                await parts.broker.stop()
            for hook in parts.on_stop:
                await hook()
            await parts.db.close()
            log.info("service_stopped")

    app = FastAPI(title=title, lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.parts = parts
    for name, value in parts.state.items():
        setattr(app.state, name, value)
    install_problem_handlers(app)

    app.add_middleware(RequestContext, max_body_bytes=max_body_bytes, body_limits=body_limits)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "alive", "service": settings.service_name}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks: dict[str, Any] = {"database": await parts.db.ping()}
        if parts.broker is not None:
            checks["broker"] = parts.broker_started and await _ping(parts.broker)
        if parts.components:
            # A component stuck on the same batch for long is not ready, whatever the cause.
            checks["consumers"] = not any(
                c.stats.failing_since is not None
                and time.monotonic() - c.stats.failing_since > settings.consumer_stall_alarm_s
                for c in parts.components
            )
        ready = all(ok for name, ok in checks.items() if name not in parts.advisory_checks)
        detail: dict[str, Any] = {"service": settings.service_name, "ready": ready, "checks": checks}
        if parts.relays:
            detail["relays"] = {r.name: r.status() for r in parts.relays}
        if parts.components:
            detail["components"] = {c.id: {"kind": c.kind, **c.stats.as_dict()} for c in parts.components}
        # Stop-the-world pauses of the garbage collector, by generation (heap.py).
        detail["gc"] = PAUSES.as_dict()
        return JSONResponse(detail, status_code=200 if ready else 503)

    for router in parts.routers:
        app.include_router(router)
    return app


def create_skeleton_app(settings: ServiceSettings, *, title: str) -> FastAPI:
    """A service whose capability is still to come: it connects to its database and to
    Kafka and reports ready, so the stack, the gateway and the probes already know it."""
    db = Database.for_service(settings)
    return create_app(ServiceParts(settings=settings, db=db, broker=make_broker(settings)), title=title)


async def _ensure_read_models(parts: ServiceParts) -> None:
    """Every projection's read model has a live generation of the code's shape before its
    component applies anything; an older shape is rebuilt beside it first (the old one
    keeps serving readers meanwhile)."""
    from eungdapso_platform.readmodel import ReadModels
    from eungdapso_platform.rebuild import rebuild_read_model

    for component in parts.components:
        if not isinstance(component, Projection):
            continue
        if await ReadModels(parts.db).ensure(component.read_model) is not None:
            continue
        component.open.clear()

        async def upgrade(projection: Projection = component) -> None:
            log.warning("read_model_shape_changed_rebuilding", component=projection.id)
            await rebuild_read_model(projection, parts.settings)
            projection.open.set()

        parts.background.append(asyncio.create_task(upgrade(), name=f"rebuild-{component.id}"))


async def _ping(broker: KafkaBroker) -> bool:
    try:
        return await broker.ping(timeout=2)
    except Exception:
        return False


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        # `request.client` is the direct peer: a service that believes a proxy's
        # X-Forwarded-For says which proxies it trusts (intake's TRUSTED_PROXIES), instead of
        # uvicorn believing any local process (its FORWARDED_ALLOW_IPS default).
        proxy_headers=False,
    )
