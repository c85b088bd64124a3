"""The process's heap after start-up: what the garbage collector scans, and what it costs.

A service loads large, long-lived structures once (the router's morphology, models, place
names and standard answers; every service's framework, schemas and settings): about 120,000
to 200,000 container objects. CPython's cyclic collector scans all of them at every full
(oldest-generation) collection, and a full collection stops every thread of the process
while it runs: measured under load on the 2-core bench machine, 156 to 410 ms each, in
intake, the router and the publisher, one every 10 to 30 s (BENCHMARKS.md, "Garbage
collection pauses"). Every complaint in flight waits that long.

`settle` moves what exists once start-up is done into the collector's permanent generation
(`gc.freeze`, made for this): those objects are never scanned again, and a full collection
only looks at what the service made since. Reference counting still frees them as it
always does; only cycles among them would stay, and start-up structures are meant to live
as long as the process.

`GcPauses` records every collection's pause (a `gc.callbacks` hook: two clock reads per
collection) so that `/readyz` shows them and a long one is logged: an operator sees the
stop-the-world pauses instead of guessing.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from eungdapso_platform.logging import get_logger

log = get_logger("eungdapso.heap")

#: A pause at least this long is logged as a warning (one collection of the oldest generation
#: over the whole unfrozen heap; a young one takes a few milliseconds).
LONG_PAUSE_S = 0.1


def settle(reason: str) -> int:
    """Collect what start-up left behind, then freeze the rest (see the module's doc).
    Called again after later warm-ups (the router's standard answers load in the
    background): each call freezes what exists then. Returns the frozen count."""
    started = time.perf_counter()
    PAUSES.deliberate = True  # this collection is start-up's, not a pause the service suffers
    try:
        gc.collect()
    finally:
        PAUSES.deliberate = False
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info(
        "heap_settled", reason=reason, frozen=frozen, took_ms=round((time.perf_counter() - started) * 1000)
    )
    return frozen


async def settled_after(warm_up: Awaitable[object], reason: str, *, enabled: bool = True) -> None:
    """Await a warm-up that runs after start (in the background), then `settle` again, so
    that what it loaded is out of the collector's sight as well."""
    await warm_up
    if enabled:
        settle(reason)


@dataclass
class GenerationPauses:
    collections: int = 0
    total_s: float = 0.0
    longest_s: float = 0.0

    def add(self, seconds: float) -> None:
        self.collections += 1
        self.total_s += seconds
        self.longest_s = max(self.longest_s, seconds)

    def as_dict(self) -> dict[str, Any]:
        return {
            "collections": self.collections,
            "total_ms": round(self.total_s * 1000, 1),
            "longest_ms": round(self.longest_s * 1000, 1),
        }


@dataclass
class GcPauses:
    """Pauses of the process's garbage collections, by generation, since `install`."""

    generations: tuple[GenerationPauses, ...] = field(
        default_factory=lambda: tuple(GenerationPauses() for _ in range(3))
    )
    _started: float = 0.0
    #: Set while `settle` collects on purpose: not counted.
    deliberate: bool = False

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        # Runs inside the collector, with the world stopped: no allocation-heavy work here.
        if self.deliberate:
            return
        if phase == "start":
            self._started = time.perf_counter()
            return
        seconds = time.perf_counter() - self._started
        generation = int(info.get("generation", 2))
        self.generations[min(generation, 2)].add(seconds)
        if seconds >= LONG_PAUSE_S:
            log.warning("gc_long_pause", generation=generation, pause_ms=round(seconds * 1000, 1))

    def as_dict(self) -> dict[str, Any]:
        return {
            "frozen": gc.get_freeze_count(),
            **{f"gen{n}": g.as_dict() for n, g in enumerate(self.generations)},
        }


#: One per process: the collector is the process's.
PAUSES = GcPauses()

__all__ = ["LONG_PAUSE_S", "PAUSES", "GcPauses", "settle", "settled_after"]
