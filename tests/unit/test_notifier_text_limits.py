"""The carriers' and platforms' length rules (notifier providers/text.py): SMS/LMS/MMS by
CP949 bytes, X's weighted 280, and cutting that never splits a character."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from eungdapso_notifier.providers.text import (
    ELLIPSIS,
    LMS_MAX_BYTES,
    LMS_SUBJECT_MAX_BYTES,
    SMS_MAX_BYTES,
    X_MAX_WEIGHT,
    cut_bytes,
    cut_x,
    plan_sms,
    sms_bytes,
    x_weight,
)

HANGUL = st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3)
#: Korean notices: Hangul, ASCII letters and digits, spaces and punctuation, some Han and emoji.
KOREAN_TEXT = st.text(
    st.one_of(
        HANGUL,
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),
        st.sampled_from("漢字。、…·※😀👍🏽"),
    ),
    max_size=1500,
)


def test_hangul_counts_two_bytes_and_ascii_one() -> None:
    assert sms_bytes("가") == 2
    assert sms_bytes("a") == 1
    assert sms_bytes("접수번호 2026-0000001") == 4 * 2 + 1 + 12


def test_sms_lms_threshold_is_exact_at_90_bytes() -> None:
    assert plan_sms("가" * 45).form == "sms"  # 90 bytes
    assert plan_sms("가" * 44 + "a").form == "sms"  # 89
    assert plan_sms("가" * 45 + "a").form == "lms"  # 91
    assert plan_sms("a" * 90).form == "sms"
    assert plan_sms("a" * 91).form == "lms"
    assert plan_sms("짧은 문자", media=1).form == "mms"


def test_an_sms_has_no_subject_and_an_lms_a_subject_cut_to_40_bytes() -> None:
    assert plan_sms("접수되었습니다", subject="응답소").subject is None
    lms = plan_sms("가" * 100, subject="서울시 응답소 민원 처리 결과 안내 알림입니다")
    assert lms.subject is not None and sms_bytes(lms.subject) <= LMS_SUBJECT_MAX_BYTES
    assert lms.subject.endswith(ELLIPSIS)


def test_an_lms_longer_than_2000_bytes_is_shortened_to_fit() -> None:
    plan = plan_sms("민원" * 600)  # 2,400 bytes
    assert plan.form == "lms" and plan.shortened
    assert sms_bytes(plan.text) <= LMS_MAX_BYTES
    assert plan.text.endswith(ELLIPSIS)
    assert sms_bytes(plan.text) > LMS_MAX_BYTES - 4  # cut no shorter than it had to be


@given(KOREAN_TEXT)
def test_the_form_follows_the_byte_count_exactly(text: str) -> None:
    plan = plan_sms(text)
    expected = "sms" if sms_bytes(unicodedata.normalize("NFC", text)) <= SMS_MAX_BYTES else "lms"
    assert plan.form == expected
    assert sms_bytes(plan.text) <= (SMS_MAX_BYTES if expected == "sms" else LMS_MAX_BYTES)


@given(KOREAN_TEXT, st.integers(min_value=4, max_value=2000))
def test_cutting_by_bytes_never_splits_a_character(text: str, limit: int) -> None:
    cut = cut_bytes(text, limit)
    assert sms_bytes(cut) <= limit
    text = unicodedata.normalize("NFC", text)
    if cut == text:
        return
    kept = cut.removesuffix(ELLIPSIS)
    # Every character kept is one of the original's, in order, from its start: nothing halved.
    assert text.startswith(kept)
    assert kept.encode("utf-8").decode("utf-8") == kept


@given(st.text(HANGUL, min_size=1, max_size=400))
def test_hangul_is_never_cut_inside_a_syllable_even_when_decomposed(text: str) -> None:
    decomposed = unicodedata.normalize("NFD", text)  # 가 = ᄀ + ᅡ: two code points
    cut = cut_bytes(decomposed, 41)
    kept = cut.removesuffix(ELLIPSIS)
    assert all(0xAC00 <= ord(ch) <= 0xD7A3 for ch in kept)  # whole syllables only
    assert unicodedata.normalize("NFC", text).startswith(kept)


def test_x_weighs_hangul_two_latin_one_and_a_link_23() -> None:
    assert x_weight("abc") == 3
    assert x_weight("응답소") == 6
    assert x_weight("see https://eungdapso.seoul.go.kr/status/2026-0000001 now") == 4 + 23 + 4
    assert x_weight("가" * 140) == X_MAX_WEIGHT


def test_an_x_reply_is_cut_to_280_weighted_and_never_through_a_link() -> None:
    assert cut_x("가" * 140) == "가" * 140
    cut = cut_x("가" * 141)
    assert x_weight(cut) <= X_MAX_WEIGHT and cut.endswith(ELLIPSIS)
    text = "가" * 130 + " https://eungdapso.seoul.go.kr/r/abcdef"
    cut = cut_x(text)
    assert x_weight(text) > X_MAX_WEIGHT
    assert "https://" not in cut
    assert x_weight(cut) <= X_MAX_WEIGHT


@given(KOREAN_TEXT)
def test_an_x_cut_fits_and_keeps_a_prefix(text: str) -> None:
    cut = cut_x(text)
    assert x_weight(cut) <= X_MAX_WEIGHT
    assert unicodedata.normalize("NFC", text).startswith(cut.removesuffix(ELLIPSIS).rstrip())
