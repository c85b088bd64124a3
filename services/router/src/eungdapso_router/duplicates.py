"""Duplicate complaints (중복 민원): the same thing at the same place as a complaint still open.

A new complaint is a duplicate of an open one received within `window` before it when both
are about the same subject and
- both have coordinates within `radius_m` of each other (a pin on the same pothole), or
- they are in the same district and their texts are nearly the same (`min_similarity`: a
  complaint sent again, a template passed around), or share a named place (a dong, a road,
  a station, a landmark) and are alike enough (`min_similarity_same_place`).
Confidential reports, complaints the desk answered at once or sent to triage, and those
about `other` are never linked: each is handled on its own.

Texts are compared by their sketches: the `SKETCH_SIZE` smallest hashes of their character
3-grams with spacing and punctuation removed (so spacing and a typo change little), an
estimate of the Jaccard similarity that needs a few hundred bytes per complaint, never the
text itself (the index keeps no text).
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from eungdapso_schemas.codes import District

SHINGLE = 3
SKETCH_SIZE = 64
EARTH_RADIUS_M = 6_371_000.0
_WORDS = re.compile(r"[0-9a-z가-힣]+")


def sketch(text: str) -> tuple[int, ...]:
    """The bottom-`SKETCH_SIZE` sketch of a text's character 3-grams (signed 32-bit hashes,
    ascending, as PostgreSQL's integer[] keeps them)."""
    squeezed = "".join(_WORDS.findall(unicodedata.normalize("NFC", text).lower()))
    grams = {squeezed[i : i + SHINGLE] for i in range(max(1, len(squeezed) - SHINGLE + 1))}
    hashes = {_signed(zlib.crc32(g.encode("utf-8"))) for g in grams if g}
    return tuple(sorted(hashes)[:SKETCH_SIZE])


def _signed(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def similarity(a: Sequence[int], b: Sequence[int]) -> float:
    """Estimated Jaccard similarity of the two texts (exact for short ones)."""
    if not a or not b:
        return 0.0
    union = sorted(set(a) | set(b))[:SKETCH_SIZE]
    both = set(a) & set(b)
    return sum(1 for h in union if h in both) / len(union)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class Rules:
    window: timedelta = timedelta(days=14)
    radius_m: float = 100.0
    min_similarity: float = 0.6
    min_similarity_same_place: float = 0.3

    def since(self, received_at: datetime) -> datetime:
        return received_at - self.window

    @property
    def degrees(self) -> tuple[float, float]:
        """The radius in degrees of latitude and (at Seoul's latitude, generously) longitude:
        a box for the index to narrow the search before distances are computed."""
        lat = self.radius_m / 111_000.0
        return lat, lat / math.cos(math.radians(38.0))


@dataclass(frozen=True)
class Indexed:
    """A complaint as the duplicate index keeps it: what comparing needs, no text."""

    complaint_id: UUID
    receipt_no: str
    subject: str
    district: District | None
    lat: float | None
    lon: float | None
    places: tuple[str, ...]
    sketch: tuple[int, ...]
    received_at: datetime
    office: str


@dataclass(frozen=True)
class Match:
    original: Indexed
    similarity: float
    distance_m: float | None


def named_places(matched: Iterable[str], dong: str | None) -> tuple[str, ...]:
    """The places a complaint names more precisely than a district (dongs, roads, stations,
    landmarks): district names (`마포구`, `mapo`) say only what `district` says."""
    codes = {d.value for d in District}
    names = {n for n in matched if not n.endswith("구") and n.lower() not in codes}
    if dong:
        names.add(dong)
    return tuple(sorted(names))


def best_match(new: Indexed, candidates: Iterable[Indexed], rules: Rules) -> Match | None:
    """The open complaint `new` duplicates, if any: the nearest, then the most alike."""
    since = rules.since(new.received_at)
    best: tuple[tuple[float, float], Match] | None = None
    for old in candidates:
        if old.complaint_id == new.complaint_id or old.subject != new.subject:
            continue
        if not since <= old.received_at <= new.received_at:
            continue
        alike = similarity(new.sketch, old.sketch)
        metres = None
        if None not in (new.lat, new.lon, old.lat, old.lon):
            metres = distance_m(new.lat, new.lon, old.lat, old.lon)  # type: ignore[arg-type]
            if metres > rules.radius_m:
                continue  # both pinned, and not at the same place
        elif old.district is None or old.district != new.district:
            continue
        elif not (
            alike >= rules.min_similarity
            or (set(old.places) & set(new.places) and alike >= rules.min_similarity_same_place)
        ):
            continue
        rank = (metres if metres is not None else rules.radius_m, -alike)
        if best is None or rank < best[0]:
            best = (rank, Match(old, round(alike, 3), None if metres is None else round(metres, 1)))
    return best[1] if best is not None else None
