"""Redaction of disclosed complaints: generated Korean text with personal data of every kind
in it; none of the personal data survives, every ordinary word does."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from eungdapso_publisher.redaction import redact

#: Ordinary words of complaints and answers (no digits, no names): they must survive.
ORDINARY = (
    "버스 정류장 앞에 쓰레기가 쌓여 있어요 악취가 심합니다 빨리 치워 주세요 도로에 구멍이 났습니다 "
    "가로등이 꺼져서 밤에 어둡습니다 불법 주차 차량 때문에 통행이 어렵습니다 공원 화장실이 더럽습니다 "
    "소음이 너무 심해요 공사장 먼지 민원 처리 부탁드립니다 현장을 확인하고 보수했습니다 불편을 드려 "
    "죄송합니다 담당 부서에서 조치하겠습니다 구청 주민센터 횡단보도 신호등 보도블록 파손 하수구 "
    "냄새 고양이 비둘기 어르신 보행 안전 점검 단속 계도 예정입니다 감사합니다 고객님 선생님 "
    "날씨 마음씨 육교 계단 지하철 승강장 엘리베이터 고장 자전거 거치대 따릉이 대여소 분리수거"
).split()

SURNAMES = "김이박최정강조윤장임한오서신권황안송류전홍고문양손배백허남심노하곽성차주우구민진"
SYLLABLES = "민서준지우현수영희철호진성경숙미정은혜윤아연동훈재석태"
names = st.builds(
    lambda s, a, b: s + a + b,
    st.sampled_from(SURNAMES),
    st.sampled_from(SYLLABLES),
    st.sampled_from(SYLLABLES),
)
digits = st.integers


def digit_string(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


phones = st.one_of(
    st.builds(
        lambda m, a, b, sep: f"010{sep}{a}{sep}{b}",
        digit_string(0),
        digit_string(4),
        digit_string(4),
        st.sampled_from(["-", "", " ", "."]),
    ),
    st.builds(lambda a, b: f"02-{a}-{b}", digit_string(4), digit_string(4)),
    st.builds(lambda a, b: f"031-{a}-{b}", digit_string(3), digit_string(4)),
    st.builds(lambda a, b: f"+82 10-{a}-{b}", digit_string(4), digit_string(4)),
)
resident_numbers = st.builds(
    lambda y, m, d, g, rest, sep: f"{y:02d}{m:02d}{d:02d}{sep}{g}{rest}",
    st.integers(0, 99),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(1, 4),
    digit_string(6),
    st.sampled_from(["-", ""]),
)
emails = st.builds(
    lambda user, host, tld: f"{user}@{host}.{tld}",
    st.text("abcdefghijklmnopqrstuvwxyz0123456789._", min_size=2, max_size=12).filter(
        lambda u: u[0].isalnum() and u[-1].isalnum()
    ),
    st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=10),
    st.sampled_from(["com", "net", "kr", "co.kr", "go.kr"]),
)
plates = st.builds(
    lambda region, a, letter, b, sep: f"{region}{a}{letter}{sep}{b}",
    st.sampled_from(["", "서울", "경기 "]),
    st.integers(10, 999),
    st.sampled_from("가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주하허호"),
    digit_string(4),
    st.sampled_from(["", " "]),
)
accounts = st.builds(
    lambda a, b, c: f"{a}-{b}-{c}", digit_string(3), digit_string(3), digit_string(6)
) | st.builds(lambda a, b, c: f"{a}-{b}-{c}", digit_string(4), digit_string(3), digit_string(6))
handles = st.builds(
    lambda h: f"@{h}",
    st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=3, max_size=15),
)
house_numbers = st.one_of(
    st.builds(
        lambda road, n: (f"{road} {n}", str(n)),
        st.sampled_from(["만리재로", "세종대로", "테헤란로4길", "도봉로"]),
        st.integers(1, 999),
    ),
    st.builds(
        lambda dong, a, b: (f"{dong} {a}-{b}번지", f"{a}-{b}"),
        st.sampled_from(["역삼동", "창신동", "상계동"]),
        st.integers(1, 999),
        st.integers(1, 99),
    ),
    st.builds(lambda a, b: (f"{a}동 {b}호", f"{a}동 {b}호"), st.integers(101, 120), st.integers(101, 2505)),
)
name_phrases = st.one_of(
    st.builds(lambda n: (f"저는 {n}입니다", n), names),
    st.builds(lambda n: (f"{n} 씨가", n), names),
    st.builds(lambda n: (f"{n}씨", n), names),
    st.builds(lambda n: (f"담당 {n} 주무관", n), names),
    st.builds(lambda n: (f"제 이름은 {n}", n), names),
    st.builds(lambda n: (f"성명: {n}", n), names),
    st.builds(lambda n: (f"{n}라고 합니다", n), names),
)
#: (how it is written in the text, what must not survive)
personal = st.one_of(
    phones.map(lambda p: (p, p)),
    resident_numbers.map(lambda r: (r, r)),
    emails.map(lambda e: (e, e)),
    plates.map(lambda p: (p, re.sub(r"\D", "", p))),
    accounts.map(lambda a: (a, a)),
    handles.map(lambda h: (h, h)),
    house_numbers,
    name_phrases,
)


def digit_runs(value: str) -> list[str]:
    return re.findall(r"\d+", value)


@settings(max_examples=400, deadline=None)
@given(
    before=st.lists(st.sampled_from(ORDINARY), max_size=8),
    pieces=st.lists(
        st.tuples(personal, st.lists(st.sampled_from(ORDINARY), max_size=4)), min_size=1, max_size=4
    ),
)
def test_generated_personal_data_never_survives(
    before: list[str], pieces: list[tuple[tuple[str, str], list[str]]]
) -> None:
    parts = list(before)
    secrets = []
    for (written, secret), after in pieces:
        parts.append(written)
        parts.extend(after)
        secrets.append(secret)
    text = " ".join(parts)
    redacted = redact(text)
    for secret in secrets:
        assert secret not in redacted, (text, redacted)
        # Not even the digits of it, however spaced.
        for run in digit_runs(secret):
            if len(run) >= 3:
                assert run not in redacted, (text, redacted)


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(st.sampled_from(ORDINARY), min_size=1, max_size=30), sep=st.sampled_from([" ", ", ", ". "])
)
def test_ordinary_words_survive(words: list[str], sep: str) -> None:
    text = sep.join(words)
    assert redact(text) == text


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(st.sampled_from(ORDINARY), min_size=1, max_size=10),
    secret=personal,
)
def test_ordinary_words_around_personal_data_survive(words: list[str], secret: tuple[str, str]) -> None:
    redacted = redact(" ".join([*words, secret[0], *words]))
    for word in words:
        assert word in redacted


def test_fixed_examples() -> None:
    text = (
        "만리재로 193 앞 육교 계단이 부서졌어요. 저는 김철수입니다. 010-1234-5678로 연락 주세요. "
        "홍길동 씨 차 12가3456이 매일 서 있어요. 인스타 @kimcitizen, hong@example.com"
    )
    assert redact(text) == (
        "만리재로 [상세주소] 앞 육교 계단이 부서졌어요. 저는 [이름]입니다. [전화번호]로 연락 주세요. "
        "[이름] 씨 차 [차량번호]이 매일 서 있어요. 인스타 [SNS계정], [이메일]"
    )
    # What the public needs stays: the road, the dong, dates, receipt numbers, durations.
    answer = "역삼동 도로를 2026-11-24 보수했습니다 (접수번호 2026-0000001). 3일 걸렸습니다."
    assert redact(answer) == answer
