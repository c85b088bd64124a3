"""The bench's stream of complaints is one a city could see: varied texts over the 25
districts, each place named in the district the complaint says it is in (a bench whose
texts were copies of 15 sentences measured the router linking duplicates, not routing)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from eungdapso_router.places import PlaceResolver
from eungdapso_schemas.codes import District

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from workload import FIELD_MIX, PLACES, complaints


def test_the_texts_are_not_copies_of_a_few_sentences() -> None:
    texts = [c["submission"]["text"].rsplit(" (#", 1)[0] for c in complaints(2000)]
    assert len(set(texts)) >= 0.95 * len(texts)


def test_every_district_and_field_is_in_the_stream() -> None:
    stream = complaints(2000)
    districts = Counter(c["submission"]["place"]["district"] for c in stream)
    assert set(districts) == {d.value for d in District}
    assert min(districts.values()) >= 40  # no district is a rarity in 2,000
    assert {c["submission"]["field"] for c in stream} == set(FIELD_MIX)


@pytest.mark.parametrize("district", sorted(PLACES))
def test_no_place_is_read_as_another_district(district: str) -> None:
    """A place may be ambiguous (a mountain, a dong several districts have), never wrong."""
    resolver = PlaceResolver.default()
    for place in PLACES[district]:
        read = resolver.resolve(None, f"{place} 앞 보도블록이 깨졌어요").district
        assert read is None or read.value == district, (place, read)


def test_the_bench_names_the_streams_as_the_schemas_do() -> None:
    """`bench/measure.py` names the receipt and routing streams itself (it runs against older
    checkouts with the standard library); the names must stay the schemas'."""
    from measure import RECEIVED_STREAM, ROUTED_STREAM

    from eungdapso_schemas.streams import INTAKE_EVENTS, ROUTER_EVENTS

    assert (RECEIVED_STREAM, ROUTED_STREAM) == (INTAKE_EVENTS.name, ROUTER_EVENTS.name)
