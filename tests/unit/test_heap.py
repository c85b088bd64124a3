"""The heap after start-up (eungdapso_platform.heap): what start-up made is frozen out of
the collector's sight, and every collection's pause is recorded."""

from __future__ import annotations

import gc

import pytest

from eungdapso_platform.heap import GcPauses, settle, settled_after
from tests.support.heap import scanned, unfrozen  # noqa: F401 (the fixture, used by every test)

pytestmark = pytest.mark.usefixtures("unfrozen")


class Loaded:
    """Stands for what a service loads once (a model, a place-name index)."""

    def __init__(self) -> None:
        self.parts: list[object] = [object()]


def test_settle_takes_what_exists_out_of_the_collectors_sight_and_collects_garbage_first() -> None:
    loaded = Loaded()
    cycle: list[object] = []
    cycle.append(cycle)  # garbage only the collector can free
    cycle_id = id(cycle)
    del cycle
    assert scanned(loaded)

    frozen = settle("test")

    assert frozen == gc.get_freeze_count() > 0
    assert not scanned(loaded) and not scanned(loaded.parts)
    # Collected before the freeze, not frozen for good.
    assert all(id(o) != cycle_id for o in gc.get_objects())
    made_after = Loaded()
    assert scanned(made_after)  # what the service makes since is collected as always


async def test_a_warm_up_after_start_is_settled_when_it_ends_unless_turned_off() -> None:
    box: list[Loaded] = []

    async def warm() -> None:
        box.append(Loaded())

    await settled_after(warm(), "warmed", enabled=False)
    assert scanned(box[0])
    await settled_after(warm(), "warmed")
    assert not scanned(box[1])


def test_pauses_are_recorded_by_generation_and_shown() -> None:
    pauses = GcPauses()
    pauses.install()
    pauses.install()  # twice is once
    try:
        gc.collect(0)
        gc.collect(2)
        gc.collect(2)
    finally:
        pauses.uninstall()
    gc.collect(2)  # after uninstall: not counted

    shown = pauses.as_dict()
    assert shown["gen2"]["collections"] == 2
    assert shown["gen0"]["collections"] >= 1
    assert shown["gen2"]["longest_ms"] <= shown["gen2"]["total_ms"]
    assert shown["gen2"]["total_ms"] > 0
    assert shown["frozen"] == gc.get_freeze_count()


def test_settles_own_collection_is_not_counted_as_a_pause() -> None:
    from eungdapso_platform.heap import PAUSES

    installed = PAUSES._callback in gc.callbacks
    PAUSES.install()
    try:
        before = PAUSES.generations[2].collections
        settle("test")
        assert PAUSES.generations[2].collections == before
        gc.collect(2)
        assert PAUSES.generations[2].collections == before + 1
    finally:
        if not installed:
            PAUSES.uninstall()
