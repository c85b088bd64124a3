"""A service's start-up, on a real PostgreSQL: what it loaded is frozen out of the garbage
collector's sight once its start hooks ran (heap.py), and `/readyz` shows the pauses."""

from __future__ import annotations

import asyncio
import gc

import httpx
import pytest

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_platform.db import Database
from eungdapso_platform.service import ServiceParts, create_app
from eungdapso_platform.settings import ServiceSettings
from tests.conftest import settings_for
from tests.support.heap import scanned, unfrozen  # noqa: F401 (the fixture, used by every test)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("unfrozen")]


class Model:
    """Stands for what a service loads in a start hook (the router's models)."""

    def __init__(self) -> None:
        self.weights: list[float] = [0.5]


@pytest.mark.parametrize("heap_settle", [True, False])
async def test_what_start_up_loads_is_settled_and_readyz_shows_the_pauses(
    database: PostgresTarget, heap_settle: bool
) -> None:
    settings = settings_for(ServiceSettings, database, service_name="heapcheck", heap_settle=heap_settle)
    loaded: list[Model] = []
    warmed: list[Model] = []

    async def load_model() -> None:
        loaded.append(Model())

    async def warm_index() -> None:
        warmed.append(Model())

    parts = ServiceParts(
        settings=settings, db=Database.for_service(settings), on_start=[load_model], warm_ups=[warm_index]
    )
    app = create_app(parts, title="heap check")
    async with app.router.lifespan_context(app):
        # Settled after the start hooks, so what they loaded is frozen too (or left, when off).
        assert scanned(loaded[0]) is not heap_settle
        # A warm-up runs in the background once started, and is settled when it ends.
        await asyncio.gather(*parts.background)
        assert scanned(warmed[0]) is not heap_settle
        gc.collect(2)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as http:
            answer = await http.get("/readyz")
    assert answer.status_code == 200
    shown = answer.json()["gc"]
    assert shown["gen2"]["collections"] >= 1  # the collection above, at least
    assert (shown["frozen"] > 0) is heap_settle
