"""Place -> district (장소 판별): which of Seoul's 25 districts a complaint is about, or which
government outside Seoul, from its coordinates, its address and its text.

`PlaceResolver.resolve(place, text)` decides in this order:
1. Coordinates inside Seoul: the district whose boundary contains the point (KOSTAT 2013
   boundaries, point in polygon). Confidence is lower within 50 m of a boundary, where the
   simplified boundaries may be off. When the address names a neighbouring district and the
   point is within 300 m of it, the address decides (a pin dropped across the street).
2. The address (and the district the citizen picked): a district named ("서울 강남구 테헤란로
   152", "Gangnam-gu", "강남"), or implied by a dong, a station, a landmark or a road.
3. The text, with the address's evidence: the same names as citizens write them
   (placenames.py: spacing, no spacing, one-letter typos).
4. Coordinates outside Seoul: the neighbouring government whose centre is nearest (an
   approximation: we have no boundaries for them, see data/places/outside.toml); a point more
   than 30 km from Seoul says nothing (the sea, another province, a wrong fix).
5. Nothing: no district (`method = "none"`), never a guess.

Evidence adds up per place (a district named counts 1, a dong, station or landmark 0.8, a
road 0.5; a name shared by several places divides its weight). The best place must hold at
least 60% of all the support: a dong that exists in two districts (신사동: 강남구, 은평구, and
관악구's administrative 신사동) is ambiguous alone, so no district is given, its candidates
are, with a low confidence; other evidence ("신사동 가로수길") settles it.

A `PlaceResolver` is immutable after loading (about 0.2 s, once: `PlaceResolver.default()`)
and may be used from any thread: geometry queries take a lock because GEOS's prepared
geometries are not safe to use from two threads at once (libgeos/geos#825).
"""

from __future__ import annotations

import json
import math
import re
import threading
import tomllib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Literal

import numpy as np
import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from eungdapso_router.placenames import (
    ELSEWHERE,
    SEOUL_NAMES,
    TYPO_FACTOR,
    Entry,
    Gazetteer,
    Key,
    Kind,
    Match,
    compact,
    shares,
)
from eungdapso_schemas.codes import District
from eungdapso_schemas.events import Place, PlaceEvidence

__all__ = ["Method", "PlaceResolution", "PlaceResolver"]

Method = Literal["coordinates", "address", "text", "none"]

#: Administrative district codes (the first five digits of a legal dong's code, JUSO).
ADMIN_CODES: dict[str, District] = {
    "11110": District.JONGNO,
    "11140": District.JUNG,
    "11170": District.YONGSAN,
    "11200": District.SEONGDONG,
    "11215": District.GWANGJIN,
    "11230": District.DONGDAEMUN,
    "11260": District.JUNGNANG,
    "11290": District.SEONGBUK,
    "11305": District.GANGBUK,
    "11320": District.DOBONG,
    "11350": District.NOWON,
    "11380": District.EUNPYEONG,
    "11410": District.SEODAEMUN,
    "11440": District.MAPO,
    "11470": District.YANGCHEON,
    "11500": District.GANGSEO,
    "11530": District.GURO,
    "11545": District.GEUMCHEON,
    "11560": District.YEONGDEUNGPO,
    "11590": District.DONGJAK,
    "11620": District.GWANAK,
    "11650": District.SEOCHO,
    "11680": District.GANGNAM,
    "11710": District.SONGPA,
    "11740": District.GANGDONG,
}
#: District names without 구 that do not stand for the district: 중 is not a name, 동작 is
#: "motion", 동대문 and 서대문 are gates (동대문 is in 종로구), 강북 is "north of the river".
NOT_SHORT_NAMES = frozenset({"중", "동작", "동대문", "서대문", "강북"})

#: The KOSTAT 2013 polygons of this redistribution are in the Tokyo datum (Bessel 1841) though
#: read as WGS84: they lie about 300 m south-east of the JUSO layer and of GPS positions (the
#: 청계천, the 종로/중구 boundary, ran along 을지로). Shifting them by the Tokyo -> WGS84 datum
#: shift (3-parameter, dX -146.43 m, dY 507.89 m, dZ 681.46 m, evaluated at Seoul; it varies by
#: under a metre across the city) makes both layers agree: 466 of the 467 legal dongs then lie
#: in their own district, against 426 before (tests/unit/test_router_places.py).
KOSTAT_DATUM_SHIFT = (-0.002134, 0.002735)  # degrees (lon, lat)

#: Kilometres per degree around Seoul (equirectangular projection centred on the city hall:
#: within 50 km its error is far below the boundaries' own).
ORIGIN = (126.978, 37.566)
KM_PER_DEG_LAT = 110.95
KM_PER_DEG_LON = 111.32 * math.cos(math.radians(ORIGIN[1]))
#: A point this close to a district's boundary may be across it (simplified boundaries).
EDGE_KM = 0.05
#: An address naming a district this close to the point decides over the point.
ADDRESS_REACH_KM = 0.3
#: Farther than this from Seoul, coordinates say nothing about where a complaint goes.
OUTSIDE_REACH_KM = 30.0
#: The best place needs this share of all support to be given; below, only candidates.
MIN_SHARE = 0.6
#: The district the citizen picked counts a little more than a district named in the address.
PICKED_WEIGHT = 1.2

CONFIDENCE_INSIDE = 0.98
CONFIDENCE_EDGE = 0.85
CONFIDENCE_DISAGREEING_ADDRESS = 0.6
CONFIDENCE_NEAREST_NEIGHBOUR = 0.6


@dataclass(frozen=True)
class PlaceResolution:
    """Where a complaint is. `district`: a Seoul district, or None. `outside`: the office code
    of the government outside Seoul it is about (ext.seongnam), or None. `candidates`: when
    the evidence is ambiguous, the places it may be (districts or outside office codes), best
    first; `district` is then None. `evidence`: how each piece of evidence was read, for the
    record; `matched`: the place names it rests on (a district, dong, station, landmark or road
    as the gazetteer writes it, never the citizen's address itself)."""

    district: District | None
    dong: str | None
    outside: str | None
    method: Method
    evidence: tuple[str, ...]
    confidence: float
    candidates: tuple[str, ...] = ()
    matched: tuple[str, ...] = ()

    def as_event_evidence(self) -> PlaceEvidence:
        """The resolution as `ComplaintAssignedV2.evidence.place` records it."""
        names = tuple(dict.fromkeys(name[:60] for name in self.matched))[:10]
        return PlaceEvidence(method=self.method, matched=names, outside=self.outside)


NO_PLACE = PlaceResolution(None, None, None, "none", (), 0.0)


@dataclass
class _Tally:
    """Evidence for places from one source (the address, the text)."""

    source: str
    support: dict[Key, float] = field(default_factory=lambda: defaultdict(float))
    evidence: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    dongs: dict[District, str] = field(default_factory=dict)
    _counted: set[str] = field(default_factory=set)

    def add(self, match: Match) -> None:
        e = match.entry
        if not e.targets or e.surface in self._counted:
            return  # "서울" points nowhere; a name said twice counts once
        self._counted.add(e.surface)
        self.names.append(e.label)
        weight = e.weight * (TYPO_FACTOR if match.typo else 1.0)
        for key, share in e.targets:
            self.support[key] += weight * share
            if e.kind is Kind.DONG and isinstance(key, District):
                self.dongs.setdefault(key, e.label)
        places = "|".join(str(k) for k, _ in e.targets)
        said = f"{match.typo}≈{e.label}" if match.typo else e.label
        self.evidence.append(f"{self.source}:{'typo:' if match.typo else ''}{e.kind.value}:{said}→{places}")

    def pick(self, district: District) -> None:
        self.support[district] += PICKED_WEIGHT
        self.evidence.append(f"place.district:{district.value}")
        self.names.append(district.value)

    def merged(self, other: _Tally) -> _Tally:
        both = _Tally(f"{self.source}+{other.source}")
        for tally in (self, other):
            for key, value in tally.support.items():
                both.support[key] += value
            both.evidence += tally.evidence
            both.names += tally.names
            for d, dong in tally.dongs.items():
                both.dongs.setdefault(d, dong)
        return both

    def decide(self) -> tuple[Key | None, float, tuple[str, ...]]:
        """The place the evidence points to with its confidence, or None and the candidates."""
        ranked = sorted(((-v, str(k), k) for k, v in self.support.items() if v > 0))
        if not ranked:
            return None, 0.0, ()
        best, key = -ranked[0][0], ranked[0][2]
        share = best / -sum(v for v, _, _ in ranked)
        confidence = round(min(0.97, 1.0 - math.exp(-2.2 * best)) * share, 2)
        if share < MIN_SHARE:
            return None, confidence, tuple(k for v, k, _ in ranked if -v >= best / 2)
        return key, confidence, ()


@dataclass(frozen=True)
class _District:
    district: District
    ko: str
    shape: BaseGeometry


@dataclass(frozen=True)
class _Located:
    district: District | None
    dong: str | None
    outside: str | None
    confidence: float
    evidence: tuple[str, ...]
    names: tuple[str, ...] = ()


class PlaceResolver:
    def __init__(
        self,
        districts: list[_District],
        dongs: list[tuple[str, District, BaseGeometry]],
        gazetteer: Gazetteer,
        centres: list[tuple[str, tuple[float, float]]],
    ) -> None:
        self.gazetteer = gazetteer
        self._districts = districts
        self._district_tree = STRtree([d.shape for d in districts])
        self._dongs = dongs
        self._dong_tree = STRtree([g for _, _, g in dongs])
        self._by_district = {d.district: d for d in districts}
        #: Outside office code and projected centre of each government around Seoul.
        self._centres = [(office, Point(_project_point(lon, lat))) for office, (lat, lon) in centres]
        self._geometry = threading.Lock()
        shapely.prepare([d.shape for d in districts] + [g for _, _, g in dongs])
        # GEOS builds a prepared geometry's index on first use: build them all now, not in a
        # request (and not in two threads at once).
        origin = Point(0.0, 0.0)
        for geometry in [d.shape for d in districts] + [g for _, _, g in dongs]:
            shapely.contains_xy(geometry, origin.x, origin.y)

    @classmethod
    def default(cls) -> PlaceResolver:
        """The resolver of the packaged data, loaded once per process."""
        return _default()

    @classmethod
    def load(cls, root: Traversable | None = None) -> PlaceResolver:
        """Load the boundaries and gazetteer under `root` (the package's `data/`)."""
        root = root or files("eungdapso_router").joinpath("data")
        district_features = _features(root.joinpath("seoul/districts.kostat2013.geojson"))
        kostat: dict[str, District] = {}
        districts = []
        for f in district_features:
            p = f["properties"]
            district = District(p["name_eng"].removesuffix("-gu").lower())
            kostat[p["code"]] = district
            districts.append(_District(district, p["name"], _projected(f["geometry"], KOSTAT_DATUM_SHIFT)))
        legal = _features(root.joinpath("seoul/legal_dongs.juso2015.simple.geojson"))
        admin = _features(root.joinpath("seoul/admin_dongs.kostat2013.simple.geojson"))
        dongs = [
            (
                f["properties"]["EMD_KOR_NM"],
                ADMIN_CODES[f["properties"]["EMD_CD"][:5]],
                _projected(f["geometry"]),
            )
            for f in legal
        ]
        outside = tomllib.loads(root.joinpath("places/outside.toml").read_text("utf-8"))
        centres = [
            (g["office"], (float(c[0]), float(c[1])))
            for g in outside["government"]
            for c in ([g["centroid"]] if "centroid" in g else g.get("centroids", []))
        ]
        entries = [
            *_district_entries(districts, district_features),
            *_dong_entries(legal, admin, kostat),
            *_station_entries(_rows(root.joinpath("places/stations.tsv"))),
            *_landmark_entries(_rows(root.joinpath("places/landmarks.tsv"))),
            *_road_entries(_rows(root.joinpath("places/roads.tsv"))),
            *_outside_entries(outside),
            *(Entry(compact(n), n, Kind.SEOUL, ()) for n in SEOUL_NAMES),
        ]
        return cls(districts, dongs, Gazetteer(entries), centres)

    # ------------------------------------------------------------------ resolving
    def resolve(self, place: Place | None, text: str) -> PlaceResolution:
        address = _Tally("address")
        if place is not None and place.district is not None:
            address.pick(place.district)
        if place is not None and place.address:
            for m in self.gazetteer.find(place.address):
                address.add(m)
        written = _Tally("text")
        for m in self.gazetteer.find(text or ""):
            written.add(m)
        located = None
        if place is not None and place.lat is not None and place.lon is not None:
            located = self._locate(place.lat, place.lon)
        if located is not None and located.district is not None:
            return self._inside(located, address, place)
        coordinates = located.evidence if located is not None else ()
        key, confidence, candidates = address.decide()
        if key is not None:
            return self._decided(key, confidence, address, "address", coordinates)
        both = address.merged(written)
        key, confidence, candidates = both.decide()
        if key is not None:
            method: Method = "address" if address.support.get(key) else "text"
            return self._decided(key, confidence, both, method, coordinates)
        evidence, names = (*coordinates, *both.evidence), tuple(both.names)
        if located is not None and located.outside is not None:
            outside = located.outside
            return PlaceResolution(
                None, None, outside, "coordinates", evidence, located.confidence, (), names
            )
        if candidates:
            method = "address" if address.evidence else "text"
            return PlaceResolution(None, None, None, method, evidence, confidence, candidates, names)
        return PlaceResolution(None, None, None, "none", coordinates, 0.0)

    def district_of(self, lat: float, lon: float) -> District | None:
        """The district containing a point, None outside Seoul."""
        return self._locate(lat, lon).district

    def _inside(self, located: _Located, address: _Tally, place: Place | None) -> PlaceResolution:
        assert located.district is not None and place is not None
        named, named_confidence, _ = address.decide()
        evidence = [*located.evidence, *address.evidence]
        confidence = located.confidence
        if isinstance(named, District) and named is not located.district:
            assert place.lat is not None and place.lon is not None
            if self._km_to(named, place.lat, place.lon) <= ADDRESS_REACH_KM:
                reach = f"{ADDRESS_REACH_KM * 1000:.0f} m"
                evidence.append(f"coordinates:within {reach} of {named.value}: the address decides")
                dong = address.dongs.get(named)
                names = tuple(address.names)
                return PlaceResolution(
                    named, dong, None, "address", tuple(evidence), min(named_confidence, 0.8), (), names
                )
            evidence.append(f"coordinates:the address names {named.value}")
            confidence = CONFIDENCE_DISAGREEING_ADDRESS
        district, dong, names = located.district, located.dong, located.names
        return PlaceResolution(district, dong, None, "coordinates", tuple(evidence), confidence, (), names)

    @staticmethod
    def _decided(
        key: Key, confidence: float, tally: _Tally, method: Method, coordinates: tuple[str, ...]
    ) -> PlaceResolution:
        evidence, names = (*coordinates, *tally.evidence), tuple(tally.names)
        if isinstance(key, District):
            return PlaceResolution(key, tally.dongs.get(key), None, method, evidence, confidence, (), names)
        outside = None if key == ELSEWHERE else str(key)
        return PlaceResolution(None, None, outside, method, evidence, confidence, (), names)

    def _locate(self, lat: float, lon: float) -> _Located:
        point = Point(_project_point(lon, lat))
        with self._geometry:
            inside = [int(i) for i in self._district_tree.query(point, predicate="intersects")]
            if inside:
                found = self._districts[inside[0]]
                edge_km = float(found.shape.boundary.distance(point))
                dong = next(
                    (
                        self._dongs[int(i)][0]
                        for i in self._dong_tree.query(point, predicate="intersects")
                        if self._dongs[int(i)][1] is found.district
                    ),
                    None,
                )
            else:
                nearest = int(self._district_tree.query_nearest(point)[0])
                km = float(self._districts[nearest].shape.distance(point))
        if inside:
            evidence = [f"coordinates:inside:{found.ko}→{found.district.value}"]
            if len(inside) > 1:
                sides = "|".join(self._districts[i].district.value for i in inside)
                evidence.append(f"coordinates:on the boundary of {sides}")
            if dong is not None:
                evidence.append(f"coordinates:dong:{dong}")
            near_edge = edge_km < EDGE_KM or len(inside) > 1
            if near_edge:
                evidence.append(f"coordinates:{edge_km * 1000:.0f} m from the boundary")
            confidence = CONFIDENCE_EDGE if near_edge else CONFIDENCE_INSIDE
            names = (found.ko, dong) if dong is not None else (found.ko,)
            return _Located(found.district, dong, None, confidence, tuple(evidence), names)
        if km > OUTSIDE_REACH_KM:
            return _Located(None, None, None, 0.0, (f"coordinates:{km:.0f} km from Seoul: no place",))
        office, _ = min(self._centres, key=lambda c: c[1].distance(point))
        return _Located(
            None,
            None,
            office,
            CONFIDENCE_NEAREST_NEIGHBOUR,
            (f"coordinates:outside Seoul, {km:.1f} km from it, nearest centre {office}",),
        )

    def _km_to(self, district: District, lat: float, lon: float) -> float:
        point = Point(_project_point(lon, lat))
        with self._geometry:
            return float(self._by_district[district].shape.distance(point))


@cache
def _default() -> PlaceResolver:
    return PlaceResolver.load()


# ---------------------------------------------------------------------- loading
def _project_point(lon: float, lat: float) -> tuple[float, float]:
    return (lon - ORIGIN[0]) * KM_PER_DEG_LON, (lat - ORIGIN[1]) * KM_PER_DEG_LAT


def _projected(geometry: dict[str, Any], datum_shift: tuple[float, float] = (0.0, 0.0)) -> BaseGeometry:
    """A GeoJSON geometry (lon, lat, moved by `datum_shift` degrees) in kilometres east and
    north of the city hall."""
    offset = np.array(datum_shift) - np.array(ORIGIN)
    scale = np.array([KM_PER_DEG_LON, KM_PER_DEG_LAT])
    projected: BaseGeometry = shapely.transform(shape(geometry), lambda coords: (coords + offset) * scale)
    return projected


def _features(path: Traversable) -> list[dict[str, Any]]:
    features: list[dict[str, Any]] = json.loads(path.read_text("utf-8"))["features"]
    return features


def _rows(path: Traversable) -> Iterator[list[str]]:
    """The rows of a tab-separated gazetteer file (comments and blank lines skipped)."""
    for line in path.read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            yield [cell.strip() for cell in line.split("\t")]


def _cell_list(row: list[str], index: int) -> list[str]:
    return [v.strip() for v in row[index].split(",") if v.strip()] if len(row) > index else []


def _district_entries(districts: list[_District], features: list[dict[str, Any]]) -> Iterator[Entry]:
    english = {
        District(f["properties"]["name_eng"].removesuffix("-gu").lower()): f["properties"]["name_eng"]
        for f in features
    }
    for d in districts:
        target = ((d.district, 1.0),)
        yield Entry(compact(d.ko), d.ko, Kind.DISTRICT, target, word=len(d.ko) <= 2)
        yield Entry(compact(d.ko + "청"), d.ko + "청", Kind.DISTRICT_OFFICE, target)
        short = d.ko.removesuffix("구")
        if short not in NOT_SHORT_NAMES and len(short) >= 2:
            yield Entry(compact(short), short, Kind.DISTRICT_SHORT, target, word=True)
        name_en = english[d.district]
        yield Entry(compact(name_en), name_en, Kind.DISTRICT, target)
        yield Entry(
            compact(name_en.removesuffix("-gu")),
            name_en.removesuffix("-gu"),
            Kind.DISTRICT_SHORT,
            target,
            word=True,
        )


def _dong_entries(
    legal: list[dict[str, Any]], admin: list[dict[str, Any]], kostat: dict[str, District]
) -> Iterator[Entry]:
    """Legal dongs (as addresses name them) and administrative dongs (as 주민센터 do, with the
    number dropped too: 역삼1동 is also 역삼동), each with every district that has one."""
    places: dict[str, tuple[str, list[District]]] = {}

    def add(name: str, district: District) -> None:
        _, districts = places.setdefault(compact(name), (name, []))
        if district not in districts:
            districts.append(district)

    for f in legal:
        p = f["properties"]
        district = ADMIN_CODES[p["EMD_CD"][:5]]
        add(p["EMD_KOR_NM"], district)
        add(p["EMD_ENG_NM"], district)
        # 성수동1가 is 성수동 as citizens write it (else a typo match finds 상수동, in Mapo).
        base = re.sub(r"동[0-9]+가$", "동", p["EMD_KOR_NM"])
        if base != p["EMD_KOR_NM"]:
            add(base, district)
    for f in admin:
        name, district = f["properties"]["name"], kostat[f["properties"]["code"][:5]]
        add(name, district)
        # 역삼1동 → 역삼동, and 성수1가1동 → 성수동.
        base = re.sub(r"[0-9·.,]+(가[0-9·.,]*)?동$", "동", name)
        if base != name and len(base) >= 2:
            add(base, district)
    for surface, (label, districts) in places.items():
        yield Entry(
            surface, label, Kind.DONG, shares(sorted(districts), primary=False), word=len(surface) <= 2
        )


def _keys(cell: list[str]) -> list[Key]:
    return [District(v) for v in cell]


def _station_entries(rows: Iterator[list[str]]) -> Iterator[Entry]:
    for row in rows:
        name, targets = row[0], shares(_keys(_cell_list(row, 2)), primary=True)
        for n in (name, *_cell_list(row, 3)):
            yield Entry(compact(n + "역"), n + "역", Kind.STATION, targets)
            if len(compact(n)) >= 4:  # long enough to be unmistakable without 역
                yield Entry(compact(n), n, Kind.STATION, targets)


def _landmark_entries(rows: Iterator[list[str]]) -> Iterator[Entry]:
    for row in rows:
        kind = Kind(row[1])
        targets = shares(_keys(_cell_list(row, 2)), primary=True)
        for n in (row[0], *_cell_list(row, 3)):
            yield Entry(compact(n), n, kind, targets, word=kind is Kind.AREA or len(compact(n)) <= 2)


def _road_entries(rows: Iterator[list[str]]) -> Iterator[Entry]:
    for row in rows:
        targets = shares(_keys(_cell_list(row, 1)), primary=False)
        phrase = "word" in _cell_list(row, 3)
        for n in (row[0], *_cell_list(row, 2)):
            yield Entry(compact(n), n, Kind.ROAD, targets, word=len(compact(n)) <= 2, road_phrase=phrase)


def _outside_entries(outside: dict[str, Any]) -> Iterator[Entry]:
    groups: list[tuple[Key, dict[str, Any]]] = [(g["office"], g) for g in outside["government"]]
    groups += [(ELSEWHERE, g) for g in outside.get("elsewhere", [])]
    for key, g in groups:
        for n in g.get("names", []):
            yield Entry(compact(n), n, Kind.OUTSIDE, ((key, 1.0),), word=len(compact(n)) <= 2)
        for n in g.get("short", []):
            yield Entry(compact(n), n, Kind.OUTSIDE_SHORT, ((key, 1.0),), word=True)
