"""Redaction (비식별 처리) of a disclosed complaint's text and its answer before anything public
shows them.

A citizen who chose disclosure lets the city publish what they wrote and the answer, not who
they are: phone numbers, resident registration numbers (주민등록번호), e-mail addresses, car
plates, bank account numbers, SNS handles, house numbers below the road or dong level (the
road or the dong stays: it says where the problem is) and names where they can be found (a
name with 씨/님 or a title, "저는 김철수입니다", "제 이름은 …", "신고자 …"). Each is replaced by
a bracketed placeholder that says what was there.

Patterns run from the most specific to the least, so that a resident registration number is
never half-taken by the account-number pattern and a phone number never by a plate. What a
pattern cannot recognise stays: the tests generate Korean text with every kind of personal
data in it (tests/unit/test_publisher_redaction.py) and check that none of it survives and
that ordinary words do.
"""

from __future__ import annotations

import re
from collections.abc import Callable

PHONE = "[전화번호]"
RESIDENT_NO = "[주민등록번호]"
EMAIL = "[이메일]"
PLATE = "[차량번호]"
ACCOUNT = "[계좌번호]"
HANDLE = "[SNS계정]"
HOUSE_NO = "[상세주소]"
NAME = "[이름]"

#: Korean surnames (the common single-syllable ones and the two-syllable ones), which a name
#: begins with; a name is the surname and one or two syllables.
_SURNAMES = (
    "남궁|황보|제갈|선우|독고|서문|사공|"
    "김|이|박|최|정|강|조|윤|장|임|한|오|서|신|권|황|안|송|류|유|전|홍|고|문|양|손|배|백|허|남|심|노|하|"
    "곽|성|차|주|우|구|민|진|나|지|엄|채|원|천|방|공|현|함|변|염|여|추|도|소|석|선|설|마|길|위|표|명|"
    "기|반|왕|금|옥|육|인|맹|제|모|탁|국|어|은|편|용|예|경|봉|사|부|가|복|태|목|형|피|두|감|음|빈|동|온|호|계"
)
_NAME = rf"(?:{_SURNAMES})[가-힣]{{1,2}}"
#: What follows a name: an honorific or a title. Words that end like these but are not names
#: (고객님, 선생님, 기사님 …) are the stop list below.
_TITLES = "씨|님|氏|주무관|팀장|과장|계장|국장|주임|실장|소장|반장|통장"
#: Words a name pattern would take that are not names.
_NOT_NAMES = frozenset(
    "고객 고객님 선생 선생님 기사 기사님 과장 과장님 팀장 팀장님 부장 부장님 사장 사장님 주민 주민님 "
    "시장 시장님 구청장 구청장님 담당자 담당자님 관계자 관계자님 공무원 공무원님 주무관 주무관님 "
    "민원인 신고자 이웃 이웃님 경비 경비원 손님 여러분 어머님 아버님 부모님 할머님 이분 그분 저분 "
    "우리 저희 모두 원장 원장님 반장 반장님 통장 통장님 이장 이장님 기관 기관장 마음 사모 하느 "
    "이번 이곳 "
    "그곳 저곳 이제 오늘 어제 내일 지금 정말 아주 조금 기존 주변 주민 동네 이웃집".split()
)
#: A road address's building number (만리재로 193, 테헤란로4길 5-2), a lot number (역삼동
#: 123-45, 123번지), an apartment's building and unit (101동 1203호), a floor or unit (3층,
#: B102호). A number followed by a unit of time, money or count is not a house number.
_NOT_A_HOUSE_NUMBER = (
    r"(?!\d|-\d|\s?(?:km|m\b|cm|kg|%)|(?:일|시|분|초|년|월|주|개|명|번(?!지)|대|회|살|세|원|만|천|백|억|km|m\b|cm|%|차|건|가지|"
    r"시간|개월|분기|킬로|미터|퍼센트|퍼|톤|kg|리터|장|마리|곳|군데|군|종|점|위|등|정거장|정류장|호선|배|줄|량|편|통|잔|병|권))"
)
_ROAD_NO = re.compile(
    rf"((?:[가-힣]{{1,12}}\d{{0,3}}[가-힣]{{0,3}})(?:대로|로|길))(\s?)(\d{{1,5}}(?:-\d{{1,4}})?){_NOT_A_HOUSE_NUMBER}"
)
_LOT_NO = re.compile(
    rf"([가-힣]{{1,8}}\d{{0,2}}(?:동|리|가))(\s?)(?:산\s?)?(\d{{1,5}}(?:-\d{{1,4}})?)(?:\s?번지)?{_NOT_A_HOUSE_NUMBER}"
)
_BUNJI = re.compile(r"(?:산\s?)?\d{1,5}(?:-\d{1,4})?\s?번지")
_UNIT = re.compile(
    r"(?:\d{1,4}\s?동\s?)?[A-Za-z]?\d{1,5}\s?호(?!선)|(?:지하\s?)?\d{1,3}\s?층|(?<!\d)\d{3,4}\s?동(?![가-힣0-9])"
)

_PLATE_LETTERS = "가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주아바사자배하허호육공해국합"


def _account(match: re.Match[str]) -> str:
    # Dates (2026-11-24) and receipt numbers have fewer digits than an account number.
    return ACCOUNT if sum(c.isdigit() for c in match.group(0)) >= 10 else match.group(0)


_RULES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"[A-Za-z0-9._%+\-]{1,64}\s?@\s?[A-Za-z0-9.\-]{1,253}\.[A-Za-z]{2,24}"), EMAIL),
    # YYMMDD-[1-8]NNNNNN (with or without the hyphen or spaces).
    (
        re.compile(r"(?<!\d)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\s?[-–]?\s?[1-8]\d{6}(?!\d)"),
        RESIDENT_NO,
    ),
    # Mobile, Seoul and area numbers, with +82 or without, hyphens, dots or spaces; 1588-style.
    (
        re.compile(
            r"(?<![\d-])(?:\+?82[\s.\-]?\(?0?\)?[\s.\-]?|0)(?:1[016789]|2|[3-6][1-5]|70|50\d?)"
            r"[\s.\-)]?\d{3,4}[\s.\-]?\d{4}(?![\d-])"
        ),
        PHONE,
    ),
    (re.compile(r"(?<![\d-])1[5-9]\d{2}-\d{4}(?![\d-])"), PHONE),
    # Account numbers: groups of digits with hyphens, or a long run of digits.
    (re.compile(r"(?<![\d-])\d{2,6}(?:-\d{2,7}){2,3}(?![\d-])"), _account),
    (re.compile(r"(?<![\d-])\d{10,16}(?![\d-])"), ACCOUNT),
    # An apartment's unit before plates: "101호 2345" is no plate.
    (_UNIT, HOUSE_NO),
    # A plate: [region] 12가3456 / 123가 4567 (with the letters Korean plates use).
    (
        re.compile(
            r"(?:(?:서울|부산|대구|인천|광주|대전|울산|세종|경기|강원|충북|충남|전북|전남|경북|경남|제주)\s?)?"
            rf"(?<!\d)\d{{2,3}}\s?[{_PLATE_LETTERS}]\s?\d{{4}}(?!\d)"
        ),
        PLATE,
    ),
    (re.compile(r"(?<![A-Za-z0-9_.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?"), HANDLE),
    (
        re.compile(
            r"(?:인스타|instagram|트위터|twitter|페이스북|facebook|카톡|카카오톡)\s?(?:아이디|id|ID)\s?:?\s?"
            r"[A-Za-z0-9_.]{2,30}"
        ),
        HANDLE,
    ),
    (_ROAD_NO, lambda m: f"{m.group(1)}{m.group(2)}{HOUSE_NO}"),
    (_BUNJI, HOUSE_NO),
    (_LOT_NO, lambda m: f"{m.group(1)}{m.group(2)}{HOUSE_NO}"),
)

#: A particle after a name or a title ("김철수씨가", "주무관에게").
_PARTICLE = r"(?:께서|에게|한테|이랑|은|는|이|가|을|를|의|께|도|만|와|과|랑)?(?![가-힣])"
#: Names said as names: "저는 김철수입니다", "제 이름은 김철수", "김철수라고 합니다", "성명: 김철수",
#: and a name with an honorific or title ("홍길동 씨", "김영희 주무관").
_NAME_RULES: tuple[re.Pattern[str], ...] = (
    re.compile(rf"저는\s(?P<name>{_NAME})(?=\s?(?:입니다|이에요|예요|이고|인데|이라고|라고))"),
    re.compile(rf"제\s?이름은\s(?P<name>{_NAME})"),
    re.compile(rf"(?<![가-힣])(?P<name>{_NAME})(?=\s?(?:이라고|라고)\s?(?:합니다|해요|하는))"),
    re.compile(rf"(?:신고자|민원인|작성자|성명|이름|담당자)\s?[:：]\s?(?P<name>{_NAME}){_PARTICLE}"),
    re.compile(rf"(?:신고자|민원인|작성자)\s(?P<name>(?:{_SURNAMES})[가-힣]{{2}}){_PARTICLE}"),
    re.compile(rf"(?<![가-힣])(?P<name>{_NAME})(?=\s?(?:{_TITLES}){_PARTICLE})"),
)


def _name(match: re.Match[str]) -> str:
    word = match.group("name")
    if word in _NOT_NAMES:
        return match.group(0)
    start, end = match.span("name")
    whole = match.group(0)
    offset = match.start(0)
    return whole[: start - offset] + NAME + whole[end - offset :]


def redact(text: str) -> str:
    """The text with every piece of personal data it recognises replaced by a placeholder."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    for pattern in _NAME_RULES:
        text = pattern.sub(_name, text)
    return text
