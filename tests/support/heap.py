"""What the heap tests look at: whether the collector still scans an object, and a clean
slate of frozen objects for each test (`gc.freeze` is the process's)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


def scanned(obj: object) -> bool:
    """Whether the cyclic collector's generations (not the permanent one) hold `obj`."""
    return any(o is obj for o in gc.get_objects())


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()
