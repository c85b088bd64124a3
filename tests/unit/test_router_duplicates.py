"""When a complaint duplicates an open one (duplicates.py): same subject, same place (pinned
within the radius, or the same district with nearly the same text or a named place in common),
within the window."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from eungdapso_router.duplicates import Indexed, Rules, best_match, named_places, similarity, sketch
from eungdapso_schemas.codes import District

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
RULES = Rules()
POTHOLE = "망원동 골목 도로에 포트홀이 생겨서 자전거가 넘어질 뻔했어요"


def indexed(
    text: str = POTHOLE,
    *,
    subject: str = "pothole",
    district: District | None = District.MAPO,
    at: datetime = T0,
    lat: float | None = None,
    lon: float | None = None,
    places: tuple[str, ...] = (),
) -> Indexed:
    return Indexed(
        complaint_id=uuid.uuid4(),
        receipt_no="2026-0000001",
        subject=subject,
        district=district,
        lat=lat,
        lon=lon,
        places=places,
        sketch=sketch(text),
        received_at=at,
        office="district.mapo.roads",
    )


def test_texts_are_compared_whatever_their_spacing_and_punctuation() -> None:
    assert similarity(sketch("불법 주차 단속해 주세요!!"), sketch("불법주차단속해주세요")) == 1.0
    assert similarity(sketch(POTHOLE), sketch("강남역 앞 버스 정류장 안내판이 꺼졌어요")) < 0.1
    assert len(sketch("가" * 5000)) <= 64 and sketch("") == ()


def test_the_same_text_in_the_same_district_within_the_window_is_a_duplicate() -> None:
    first = indexed()
    again = indexed(POTHOLE + " 빨리요", at=T0 + timedelta(days=3))
    match = best_match(again, [first], RULES)
    assert match is not None and match.original is first and match.similarity >= 0.6
    assert match.distance_m is None


def test_another_subject_district_or_a_time_outside_the_window_is_not() -> None:
    first = indexed()
    assert best_match(indexed(subject="sidewalk", at=T0 + timedelta(days=1)), [first], RULES) is None
    assert best_match(indexed(district=District.JONGNO, at=T0 + timedelta(days=1)), [first], RULES) is None
    assert best_match(indexed(at=T0 + timedelta(days=15)), [first], RULES) is None
    assert best_match(indexed(at=T0 - timedelta(days=1)), [first], RULES) is None  # not an earlier one


def test_pinned_nearby_is_a_duplicate_in_other_words_and_pinned_apart_is_not() -> None:
    first = indexed(lat=37.5556, lon=126.9016)
    near = indexed("골목길이 움푹 파였어요", lat=37.5559, lon=126.9019, at=T0 + timedelta(hours=5))
    far = indexed(POTHOLE, lat=37.5600, lon=126.9100, at=T0 + timedelta(hours=5))  # ~900 m
    match = best_match(near, [first], RULES)
    assert match is not None and match.distance_m is not None and match.distance_m < 100
    assert best_match(far, [first], RULES) is None  # the same words about another place


def test_a_named_place_in_common_lowers_the_bar_for_the_text() -> None:
    first = indexed("망원시장 앞 도로 포트홀 신고합니다", places=("망원시장",))
    alike = indexed("망원시장 앞 도로에 큰 포트홀", places=("망원시장",), at=T0 + timedelta(days=1))
    assert 0.3 <= similarity(first.sketch, alike.sketch) < 0.6
    assert best_match(alike, [first], RULES) is not None
    assert (
        best_match(indexed("망원시장 앞 도로에 큰 포트홀", at=T0 + timedelta(days=1)), [first], RULES) is None
    )


def test_district_names_say_no_more_than_the_district() -> None:
    assert named_places(("마포구", "mapo", "망원동", "합정역"), "합정동") == ("망원동", "합정동", "합정역")
