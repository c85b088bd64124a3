"""Place -> district on the real boundaries and gazetteer: coordinates (inside, at a boundary,
outside Seoul, far away), addresses in every style, ambiguous dongs, stations, landmarks, roads,
spacing and typos as citizens write them, and no place at all."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import files
from typing import Any

import pytest
from shapely.geometry import shape

from eungdapso_router.places import ADMIN_CODES, PlaceResolution, PlaceResolver
from eungdapso_schemas.codes import District
from eungdapso_schemas.events import Place, PlaceEvidence

DATA = files("eungdapso_router").joinpath("data")


def features(name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(DATA.joinpath(f"seoul/{name}").read_text("utf-8"))["features"]
    return found


DISTRICT_FEATURES = features("districts.kostat2013.geojson")


@pytest.fixture(scope="module")
def resolver() -> PlaceResolver:
    return PlaceResolver.default()


def text(resolver: PlaceResolver, written: str) -> PlaceResolution:
    return resolver.resolve(None, written)


def at(resolver: PlaceResolver, lat: float, lon: float, address: str | None = None) -> PlaceResolution:
    return resolver.resolve(Place(lat=lat, lon=lon, address=address), "")


# ---------------------------------------------------------------------- coordinates
@pytest.mark.parametrize("feature", DISTRICT_FEATURES, ids=lambda f: f["properties"]["name_eng"])
def test_the_centre_of_each_district_resolves_to_that_district(resolver: PlaceResolver, feature: Any) -> None:
    centre = shape(feature["geometry"]).centroid
    found = at(resolver, centre.y, centre.x)
    assert found.district == District(feature["properties"]["name_eng"].removesuffix("-gu").lower())
    assert found.method == "coordinates" and found.confidence >= 0.85 and found.outside is None
    assert found.dong is not None  # the legal dong of the point, as addresses name it


def test_the_two_boundary_layers_agree_once_the_kostat_datum_is_corrected(resolver: PlaceResolver) -> None:
    """The KOSTAT districts are in the Tokyo datum: uncorrected, 41 of the 467 JUSO legal
    dongs (those along the 청계천, the 안양천...) would fall in the neighbouring district."""
    legal = features("legal_dongs.juso2015.simple.geojson")
    own = 0
    for f in legal:
        point = shape(f["geometry"]).representative_point()
        own += resolver.district_of(point.y, point.x) is ADMIN_CODES[f["properties"]["EMD_CD"][:5]]
    assert own >= len(legal) - 1 == 466


@pytest.mark.parametrize(
    ("lat", "lon", "district"),
    [
        (37.5663, 126.9779, District.JUNG),  # 서울시청
        (37.5759, 126.9769, District.JONGNO),  # 광화문
        (37.5663, 126.9910, District.JUNG),  # 을지로3가역, 250 m south of the 청계천 boundary
        (37.5163, 127.0203, District.GANGNAM),  # 신사역 on 강남대로, the 강남/서초 boundary
        (37.5217, 126.9244, District.YEONGDEUNGPO),  # 여의도공원
        (37.6688, 127.0471, District.DOBONG),  # 도봉산역
    ],
)
def test_known_points(resolver: PlaceResolver, lat: float, lon: float, district: District) -> None:
    assert at(resolver, lat, lon).district is district


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (District.JONGNO, District.JUNG),
        (District.GANGNAM, District.SEOCHO),
        (District.MAPO, District.SEODAEMUN),
        (District.SONGPA, District.GANGDONG),
        (District.GWANAK, District.DONGJAK),
    ],
)
def test_near_a_boundary_each_side_resolves_to_its_own_district(
    resolver: PlaceResolver, a: District, b: District
) -> None:
    """Walk from inside `a` to inside `b`, find where the boundary is crossed, and look 30 m
    and 300 m to each side of it: the right district each time, less sure near the line."""
    (lat_a, lon_a), (lat_b, lon_b) = inner_point(a), inner_point(b)
    low, high = 0.0, 1.0  # fraction of the way from a to b; district_of(low) is a
    assert resolver.district_of(lat_a, lon_a) is a and resolver.district_of(lat_b, lon_b) is b
    while high - low > 1e-6:
        middle = (low + high) / 2
        found = resolver.district_of(lat_a + (lat_b - lat_a) * middle, lon_a + (lon_b - lon_a) * middle)
        low, high = (middle, high) if found is a else (low, middle)
    metres = ((lat_b - lat_a) * 110_950) ** 2 + ((lon_b - lon_a) * 88_000) ** 2
    step = 1 / metres**0.5  # one metre, as a fraction of the walk
    for side, fraction in ((a, low - 30 * step), (b, high + 30 * step)):
        near = at(resolver, lat_a + (lat_b - lat_a) * fraction, lon_a + (lon_b - lon_a) * fraction)
        assert near.district is side and near.confidence == 0.85, near
    for side, fraction in ((a, low - 300 * step), (b, high + 300 * step)):
        inside = at(resolver, lat_a + (lat_b - lat_a) * fraction, lon_a + (lon_b - lon_a) * fraction)
        assert inside.district is side and inside.confidence >= 0.85, inside


def inner_point(district: District) -> tuple[float, float]:
    [feature] = [
        f for f in DISTRICT_FEATURES if f["properties"]["name_eng"].lower().startswith(district.value + "-")
    ]
    point = shape(feature["geometry"]).representative_point()
    return point.y, point.x


@pytest.mark.parametrize(
    ("lat", "lon", "office"),
    [
        (37.7381, 127.0338, "ext.uijeongbu"),  # 의정부시청
        (37.6584, 126.8320, "ext.goyang"),  # 고양시청
        (37.5393, 127.2149, "ext.hanam"),  # 하남시청
        (37.5943, 127.1296, "ext.guri"),  # 구리시청
        (37.4201, 127.1267, "ext.seongnam"),  # 성남시청
        (37.4292, 126.9876, "ext.gwacheon"),  # 과천시청
        (37.3943, 126.9568, "ext.anyang"),  # 안양시청
        (37.4784, 126.8644, "ext.gwangmyeong"),  # 광명시청
        (37.5035, 126.7660, "ext.bucheon"),  # 부천시청
        (37.6153, 126.7157, "ext.gimpo"),  # 김포시청
        (37.4563, 126.7052, "ext.incheon"),  # 인천시청
    ],
)
def test_outside_seoul_the_nearest_neighbouring_government(
    resolver: PlaceResolver, lat: float, lon: float, office: str
) -> None:
    found = at(resolver, lat, lon)
    assert found.district is None and found.outside == office and found.method == "coordinates"
    assert found.confidence < 0.85 and "nearest centre" in found.evidence[0]


@pytest.mark.parametrize(("lat", "lon"), [(37.45, 126.20), (35.1796, 129.0756), (33.50, 126.53)])
def test_a_point_far_from_seoul_is_no_place(resolver: PlaceResolver, lat: float, lon: float) -> None:
    found = at(resolver, lat, lon)  # the Yellow Sea west of Incheon, Busan, Jeju
    assert (found.district, found.outside, found.method, found.confidence) == (None, None, "none", 0.0)
    assert "km from Seoul" in found.evidence[0]


def test_far_coordinates_leave_the_text_to_decide(resolver: PlaceResolver) -> None:
    found = resolver.resolve(Place(lat=35.18, lon=129.07), "마포구청 앞 보도블록이 깨졌어요")
    assert found.district is District.MAPO and found.method == "text"


def test_coordinates_outside_seoul_give_way_to_a_district_named(resolver: PlaceResolver) -> None:
    found = resolver.resolve(Place(lat=37.5035, lon=126.7660), "구로구 개봉동 하수구 악취")
    assert found.district is District.GURO and found.outside is None


def test_the_address_decides_a_point_just_across_a_boundary(resolver: PlaceResolver) -> None:
    """신사역 lies on 강남대로; an address naming 서초구 within 300 m of the point wins."""
    found = at(resolver, 37.5163, 127.0203, address="서울 서초구 잠원동 25")
    assert found.district is District.SEOCHO and found.method == "address"
    assert any("the address decides" in e for e in found.evidence)


def test_coordinates_win_over_a_far_address_but_less_surely(resolver: PlaceResolver) -> None:
    found = at(resolver, 37.5663, 126.9779, address="서울 노원구 상계동")
    assert found.district is District.JUNG and found.method == "coordinates" and found.confidence == 0.6


# ---------------------------------------------------------------------- addresses
@pytest.mark.parametrize(
    ("address", "district", "dong"),
    [
        ("서울특별시 강남구 테헤란로 152", District.GANGNAM, None),
        ("서울 강남구 역삼동 737", District.GANGNAM, "역삼동"),
        ("강남구", District.GANGNAM, None),
        ("Gangnam-gu", District.GANGNAM, None),
        ("152 Teheran-ro, Gangnam-gu, Seoul", District.GANGNAM, None),
        ("강남", District.GANGNAM, None),
        ("역삼동 737-32", District.GANGNAM, "역삼동"),
        ("서울시 중구 세종대로 110", District.JUNG, None),
        ("종로구 사직로 161", District.JONGNO, None),
        ("서울 마포구 월드컵북로 400", District.MAPO, None),
        ("송파구 올림픽로 300", District.SONGPA, None),
        ("서울 강서구 화곡동 1041", District.GANGSEO, "화곡동"),
        ("노원구 상계3·4동", District.NOWON, "상계3·4동"),
        ("Yeoksam-dong", District.GANGNAM, "Yeoksam-dong"),
    ],
)
def test_addresses_of_every_style(
    resolver: PlaceResolver, address: str, district: District, dong: str | None
) -> None:
    found = resolver.resolve(Place(address=address), "")
    assert (found.district, found.method) == (district, "address"), found
    assert found.dong == dong and found.confidence >= 0.7


def test_the_district_the_citizen_picked_counts_as_the_address(resolver: PlaceResolver) -> None:
    found = resolver.resolve(Place(district=District.DOBONG), "가로등이 꺼졌어요")
    assert (found.district, found.method) == (District.DOBONG, "address") and found.confidence >= 0.9


@pytest.mark.parametrize(
    ("written", "office"),
    [
        ("경기도 성남시 분당구 정자동 1", "ext.seongnam"),
        ("경기 부천시 원미구 길주로 210", "ext.bucheon"),
        ("인천광역시 중구 공항로 272", "ext.incheon"),
        ("인천 중구 신포동", "ext.incheon"),
        ("경기도 수원시 팔달구", "ext.gyeonggi"),
        ("고양시 일산동구", "ext.goyang"),
        ("부천", "ext.bucheon"),
        ("인천", "ext.incheon"),
    ],
)
def test_an_address_outside_seoul_names_the_neighbouring_government(
    resolver: PlaceResolver, written: str, office: str
) -> None:
    found = resolver.resolve(Place(address=written), "")
    assert found.district is None and found.outside == office, found


def test_a_district_name_of_another_city_is_not_seoul(resolver: PlaceResolver) -> None:
    busan = text(resolver, "부산 강서구 명지동")
    assert busan.district is None and busan.outside is None and busan.method == "text"
    assert text(resolver, "서울 강서구 화곡동").district is District.GANGSEO


# ---------------------------------------------------------------------- ambiguous dongs
def test_a_dong_in_several_districts_alone_is_not_a_guess(resolver: PlaceResolver) -> None:
    found = text(resolver, "신사동 골목에 쓰레기가 쌓였어요")
    assert found.district is None and found.method == "text" and found.confidence < 0.3
    assert set(found.candidates) == {"gangnam", "eunpyeong", "gwanak"}


@pytest.mark.parametrize(
    ("written", "district"),
    [
        ("은평구 신사동 골목", District.EUNPYEONG),
        ("신사동 가로수길 앞", District.GANGNAM),
        ("신사역 근처", District.GANGNAM),
        ("관악구 신사동 주민센터", District.GWANAK),
    ],
)
def test_other_evidence_settles_an_ambiguous_dong(
    resolver: PlaceResolver, written: str, district: District
) -> None:
    assert text(resolver, written).district is district


@pytest.mark.parametrize(
    ("written", "district"),
    [
        # Legal dongs 성수동1가/2가 and administrative 성수1가1동…성수2가3동: citizens write 성수동
        # (a typo match once took it for 상수동, in Mapo).
        ("성수동 카페거리 앞 도로가 파였어요", District.SEONGDONG),
        ("성수동1가 공장 소음", District.SEONGDONG),
        ("성수2가3동 주민센터", District.SEONGDONG),
        ("문래동 철공소 소음", District.YEONGDEUNGPO),
        ("상수동 카페거리 쓰레기", District.MAPO),
    ],
)
def test_a_dong_written_without_its_numbered_parts(
    resolver: PlaceResolver, written: str, district: District
) -> None:
    assert text(resolver, written).district is district


def test_an_ambiguous_address_takes_the_texts_evidence(resolver: PlaceResolver) -> None:
    found = resolver.resolve(Place(address="신사동 512"), "은평구청에서 멀지 않은 곳")
    assert found.district is District.EUNPYEONG and found.method == "address"


# ---------------------------------------------------------------------- the text
@pytest.mark.parametrize(
    ("written", "district"),
    [
        ("강남역11번출구 앞에 불법주차", District.GANGNAM),
        ("신림역 근처 가로등이 깜빡여요", District.GWANAK),
        ("홍대입구역 9번 출구", District.MAPO),
        ("영등포역앞 노점", District.YEONGDEUNGPO),
        ("고속터미널 지하상가", District.SEOCHO),
        ("가산디지털단지역 사거리", District.GEUMCHEON),
        ("4.19민주묘지역에서", District.GANGBUK),
        ("총신대입구역 엘리베이터", District.DONGJAK),
        ("교대역 14번 출구", District.SEOCHO),
        ("서울역 광장 노숙", District.JUNG),
    ],
)
def test_subway_stations(resolver: PlaceResolver, written: str, district: District) -> None:
    found = text(resolver, written)
    assert found.district is district and found.method == "text", found


@pytest.mark.parametrize(
    ("written", "district"),
    [
        ("광화문광장 분수대", District.JONGNO),
        ("남산타워 올라가는 길", District.YONGSAN),
        ("코엑스 앞 횡단보도", District.GANGNAM),
        ("롯데월드타워 근처 교통체증", District.SONGPA),
        ("여의도공원 화장실", District.YEONGDEUNGPO),
        ("북촌한옥마을 관광객 소음", District.JONGNO),
        ("동대문디자인플라자 주변", District.JUNG),
        ("고척스카이돔 경기 끝나고", District.GURO),
        ("잠실종합운동장 주차", District.SONGPA),
        ("서울역사박물관 앞", District.JONGNO),
        ("홍대 앞 버스킹 소음", District.MAPO),
    ],
)
def test_landmarks(resolver: PlaceResolver, written: str, district: District) -> None:
    assert text(resolver, written).district is district


@pytest.mark.parametrize(
    ("written", "district"),
    [
        ("마포 구청 앞 보도블록", District.MAPO),
        ("송파구청옆 쓰레기", District.SONGPA),
        ("영등포 역 앞", District.YEONGDEUNGPO),
        ("롯데 월드 타워", District.SONGPA),
        ("신림역근처", District.GWANAK),
        ("어제강남구청앞에서", District.GANGNAM),
        ("서울강서구화곡동", District.GANGSEO),
        ("역삼 동 주민센터", District.GANGNAM),
    ],
)
def test_spacing_as_citizens_write_it(resolver: PlaceResolver, written: str, district: District) -> None:
    assert text(resolver, written).district is district


@pytest.mark.parametrize(
    ("written", "district", "typo"),
    [
        ("강낭구 역삼동", District.GANGNAM, "강낭구≈강남구"),
        ("어제강낭구청앞", District.GANGNAM, "강낭구≈강남구"),
        ("송퍄구 잠실동", District.SONGPA, "송퍄구≈송파구"),
        ("노웡구", District.NOWON, "노웡구≈노원구"),
        ("싱림역 근처", District.GWANAK, "싱림역≈신림역"),
        ("역삼둥 말고 역삼동", District.GANGNAM, None),
    ],
)
def test_one_letter_typos(
    resolver: PlaceResolver, written: str, district: District, typo: str | None
) -> None:
    found = text(resolver, written)
    assert found.district is district, found
    assert typo is None or any(typo in e for e in found.evidence), found


def test_a_typo_is_not_guessed_in_the_suffix_or_between_two_names(resolver: PlaceResolver) -> None:
    assert text(resolver, "신림녁 근처").district is None  # 녁 is not 역 (and 신림녁 is not a word of 신림)
    # 성동구 and 강동구 are both one jamo from 상동구: no guess.
    assert text(resolver, "상동구").district is None


def test_a_typo_says_less_than_the_name_spelt_right(resolver: PlaceResolver) -> None:
    assert text(resolver, "강낭구").confidence < text(resolver, "강남구").confidence


@pytest.mark.parametrize(
    "written",
    [
        "집중구역이라 이중구조로 중구난방입니다",  # 중구 inside words
        "방학동안 교대근무를 했어요",  # 방학동 + 안, 교대 without 역
        "온수동파로 물이 새요",  # 온수동 + 파: a burst hot-water pipe
        "홍길동입니다",  # 길동
        "강남스타일 노래가 시끄러워요",
        "고양이가 밤새 울어요",  # 고양(시)
        "삼성로 이직했어요",  # a road that is also a phrase
        "동작 감지 센서가 고장",
        "가로수 길가에 쓰러진 나무",  # not 가로수길
        "대구탕 집에서 냄새",
        "도로에 구멍이 났어요",
        "",
    ],
)
def test_words_that_only_look_like_places_are_no_place(resolver: PlaceResolver, written: str) -> None:
    found = text(resolver, written)
    assert (found.district, found.outside, found.method, found.confidence) == (None, None, "none", 0.0), found


def test_a_road_through_several_districts_alone_is_not_enough(resolver: PlaceResolver) -> None:
    several = text(resolver, "올림픽대로 포트홀")
    assert several.district is None and len(several.candidates) >= 5
    assert text(resolver, "테헤란로 포트홀").district is District.GANGNAM
    assert text(resolver, "대학로 사거리 신호등").district is District.JONGNO
    # A road narrows other evidence down: 양재대로 (서초, 강남, 송파, 강동) and 강동 (the area).
    assert text(resolver, "강동 양재대로 구간 파손").district is District.GANGDONG


def test_two_districts_named_equally_are_not_a_guess(resolver: PlaceResolver) -> None:
    found = text(resolver, "강남구에서 송파구로 가는 버스")
    assert found.district is None and set(found.candidates) == {"gangnam", "songpa"}


# ---------------------------------------------------------------------- no place
@pytest.mark.parametrize("place", [None, Place(), Place(address="")])
def test_no_place_is_none_never_a_guess(resolver: PlaceResolver, place: Place | None) -> None:
    found = resolver.resolve(place, "가로등이 꺼져서 밤에 너무 어두워요")
    assert found == PlaceResolution(None, None, None, "none", (), 0.0)


# ---------------------------------------------------------------------- service qualities
def test_one_resolver_serves_many_threads(resolver: PlaceResolver) -> None:
    cases = [
        (Place(lat=37.5663, lon=126.9779), "시청 앞"),
        (None, "강남역11번출구"),
        (Place(address="신사동"), ""),
        (Place(lat=37.4563, lon=126.7052), ""),
    ] * 50
    expected = [resolver.resolve(p, t) for p, t in cases]
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(lambda case: resolver.resolve(*case), cases)) == expected


def test_loading_takes_well_under_two_seconds_and_resolving_under_a_millisecond() -> None:
    started = time.perf_counter()
    loaded = PlaceResolver.load()
    load_s = time.perf_counter() - started
    written = (
        "어제 강남역 11번 출구 앞에 불법 주차된 차량 때문에 통행이 어렵습니다. 송파구청옆 쓰레기도요. " * 3
    )
    started = time.perf_counter()
    for _ in range(200):
        loaded.resolve(Place(lat=37.5, lon=127.03, address="서울 강남구 테헤란로 152"), written)
    per_resolve_ms = (time.perf_counter() - started) / 200 * 1000
    print(f"PlaceResolver.load: {load_s:.3f} s; resolve: {per_resolve_ms:.3f} ms")
    assert load_s < 2.0 and per_resolve_ms < 5.0


def test_the_resolution_as_the_assignment_event_records_it(resolver: PlaceResolver) -> None:
    written = resolver.resolve(Place(address="서울 강남구 역삼동 테헤란로 152"), "")
    assert written.as_event_evidence() == PlaceEvidence(
        method="address", matched=("강남구", "역삼동", "테헤란로")
    )
    pinned = at(resolver, 37.5663, 126.9779).as_event_evidence()
    assert pinned.method == "coordinates" and pinned.matched[0] == "중구" and len(pinned.matched) == 2
    outside = text(resolver, "경기도 성남시 분당구").as_event_evidence()
    assert outside.outside == "ext.seongnam" and outside.matched == ("분당구",)
    assert resolver.resolve(None, "").as_event_evidence() == PlaceEvidence(method="none")
