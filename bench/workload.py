"""A realistic stream of complaints: Korean text, the channel, kind and field mix of DOMAIN.md.

Each complaint is written from parts, as citizens write them: an opening (polite, SNS, an agent's
call summary), a real place of the district it is about (a dong, a road, a station, a landmark),
what is wrong there and since when, and a closing. So the stream has the variety the router
meets in the city: texts that are not copies of a handful of sentences, places spread over the
25 districts, and as many true duplicates as chance gives (two citizens writing about the same
subject at the same place). An earlier version drew from 15 fixed sentences in 10 districts:
the router rightly linked 84 % of a 2,000-complaint burst as duplicates of each other, which is
no city's stream.
"""

from __future__ import annotations

import random
from typing import Any

#: Grievance fields, 2012 (DOMAIN.md), with SNS "safety" folded into other.
FIELD_MIX = {
    "housing_building": 38.3,
    "roads_traffic": 22.4,
    "general_admin": 12.2,
    "environment_parks": 7.5,
    "health_welfare": 5.9,
    "urban_planning": 3.5,
    "industry_culture": 5.6,
    "other": 4.7,
}
#: Channels: SNS 56% of 2014-15; the rest split as phone-heavy like 2012.
CHANNEL_MIX = {
    "sns": 56.0,
    "phone": 28.0,
    "visit": 8.0,
    "web": 4.0,
    "app": 2.0,
    "sms": 1.5,
    "fax": 0.3,
    "mail": 0.2,
}
KIND_MIX = {
    "complaint": 70.0,
    "inquiry": 15.0,
    "proposal": 10.0,
    "welfare_report": 2.5,
    "corruption_report": 1.0,
    "whistleblowing": 1.0,
    "human_rights": 0.5,
}
#: Real places of each district: dongs, roads, stations, landmarks (as citizens name them).
PLACES = {
    "jongno": ["혜화동", "종로3가역", "삼청동", "대학로", "창신동"],
    "jung": ["명동", "을지로3가", "신당동", "남대문시장", "회현역"],
    "yongsan": ["이태원동", "한남동", "용산역", "후암동", "효창공원"],
    "seongdong": ["왕십리역", "성수동", "금호동", "서울숲", "행당동"],
    "gwangjin": ["건대입구역", "자양동", "구의동", "아차산", "화양동"],
    "dongdaemun": ["회기동", "청량리역", "장안동", "답십리", "이문동"],
    "jungnang": ["면목동", "상봉역", "중화동", "망우동", "묵동"],
    "seongbuk": ["길음동", "성신여대입구역", "정릉동", "돈암동", "석관동"],
    "gangbuk": ["미아동", "수유역", "번동", "우이동", "북한산 입구"],
    "dobong": ["창동", "쌍문동", "방학동", "도봉산역", "도봉동"],
    "nowon": ["상계동", "중계동", "하계동", "노원역", "공릉동"],
    "eunpyeong": ["불광동", "응암동", "연신내역", "녹번동", "진관동"],
    "seodaemun": ["신촌동", "홍제동", "연희동", "북가좌동", "독립문"],
    "mapo": ["망원동", "합정역", "상암동", "공덕동", "연남동"],
    "yangcheon": ["목동", "신정동", "신월동", "오목교역", "목동 파리공원"],
    "gangseo": ["화곡동", "마곡동", "등촌동", "발산역", "방화동"],
    "guro": ["구로동", "신도림역", "개봉동", "오류동", "고척돔"],
    "geumcheon": ["가산디지털단지역", "독산동", "시흥동", "가산동", "금천구청역"],
    "yeongdeungpo": ["여의도동", "영등포역", "당산동", "대림동", "문래동"],
    "dongjak": ["노량진동", "사당동", "상도동", "흑석동", "보라매공원"],
    "gwanak": ["신림동", "봉천동", "서울대입구역", "낙성대", "난곡동"],
    "seocho": ["서초동", "반포동", "양재역", "방배동", "고속터미널역"],
    "gangnam": ["역삼동", "삼성동", "대치동", "강남역", "개포동"],
    "songpa": ["잠실동", "가락동", "문정동", "석촌호수", "방이동"],
    "gangdong": ["천호동", "암사동", "길동", "명일동", "고덕동"],
}
#: What is wrong, by field: phrasings with the object in `{o}`, and the objects.
ISSUES: dict[str, list[tuple[list[str], list[str]]]] = {
    "housing_building": [
        (
            [
                "{o} 공사 소음이 밤늦게까지 계속됩니다",
                "{o} 공사장 소음 때문에 잠을 못 자요",
                "{o} 공사 먼지가 심해요",
            ],
            ["아파트 옆", "빌라 신축", "상가 리모델링", "오피스텔"],
        ),
        (
            ["{o} 외벽에 금이 가서 불안합니다", "{o} 담장이 기울어져 있어요", "{o} 지붕이 무너질 것 같아요"],
            ["오래된 빌라", "주택", "다세대주택", "상가건물"],
        ),
        (
            ["{o} 불법 증축을 하고 있습니다", "{o} 옥상에 불법 건축물이 생겼어요"],
            ["옆집", "앞 건물", "근처 주택"],
        ),
    ],
    "roads_traffic": [
        (
            [
                "{o} 보도블록이 깨져서 넘어질 뻔했어요",
                "{o} 도로에 포트홀이 생겼습니다",
                "{o} 맨홀 뚜껑이 들떠 있어요",
            ],
            ["버스정류장 앞", "사거리", "초등학교 앞", "골목길"],
        ),
        (
            [
                "{o} 불법주차 차량 때문에 통행이 안 됩니다",
                "{o} 불법 주정차가 매일 있어요",
                "{o}에 차를 대 놔서 못 나가요",
            ],
            ["소방차 진입로", "어린이보호구역", "주택가 골목", "횡단보도 앞"],
        ),
        (
            ["{o} 신호등이 고장 났습니다", "{o} 신호가 너무 짧아요", "{o} 가로등이 꺼져 있어요"],
            ["횡단보도", "교차로", "학교 앞 건널목"],
        ),
        (
            ["{o} 배차 간격이 너무 길어요", "{o} 버스가 정류장을 그냥 지나갔어요"],
            ["마을버스", "간선버스", "심야버스"],
        ),
    ],
    "general_admin": [
        (
            ["{o} 발급 절차를 알고 싶습니다", "{o} 떼려면 어디로 가야 하나요", "{o} 인터넷으로도 되나요"],
            ["주민등록 등본", "가족관계증명서", "인감증명서"],
        ),
        (["{o} 결과를 아직 못 받았습니다", "{o} 처리가 너무 늦어요"], ["지난달 민원", "신청한 민원"]),
        (["{o} 직원이 불친절했어요", "{o} 대기 시간이 너무 길어요"], ["주민센터", "구청 민원실"]),
    ],
    "environment_parks": [
        (
            [
                "{o} 쓰레기가 며칠째 안 치워져요",
                "{o} 쓰레기 무단투기가 심합니다",
                "{o}에 대형폐기물이 버려져 있어요",
            ],
            ["골목 입구", "공원 옆", "전봇대 밑"],
        ),
        (
            ["{o} 화장실이 너무 지저분합니다", "{o} 벤치가 부서져 있어요", "{o} 운동기구가 고장 났어요"],
            ["공원", "어린이공원", "근린공원"],
        ),
        (["{o} 악취가 심해요", "{o}에서 매연이 나와요"], ["하수구", "음식점 환풍구", "공장"]),
    ],
    "health_welfare": [
        (["{o} 지원 제도가 있나요", "{o} 신청은 어떻게 하나요"], ["독거노인", "기초연금", "긴급복지"]),
        (["{o} 일정을 알려 주세요", "{o} 예약이 안 돼요"], ["보건소 예방접종", "건강검진"]),
        (["{o} 위생 상태가 나쁩니다", "{o}에서 상한 음식을 팔아요"], ["식당", "분식집", "편의점"]),
    ],
    "urban_planning": [
        (["{o} 지정 일정이 궁금합니다", "{o} 주민 설명회는 언제 하나요"], ["재개발 구역", "재건축 정비구역"]),
        (["{o} 계획을 다시 검토해 주세요"], ["도로 확장", "공원 조성"]),
    ],
    "industry_culture": [
        (["{o} 운영 시간을 늘려 주세요", "{o} 주차장이 부족해요"], ["전통시장", "구립도서관", "문화센터"]),
        (["{o} 노점상 때문에 지나갈 수가 없어요", "{o} 불법 노점이 늘었어요"], ["시장 입구", "역 앞"]),
    ],
    "other": [
        (["{o} 불법 전단지가 너무 많이 붙어 있어요", "{o} 현수막이 시야를 가려요"], ["전봇대", "버스정류장"]),
        (["{o} 조명이 어둡습니다", "{o}에 CCTV를 달아 주세요"], ["자전거 도로", "산책로", "지하보도"]),
    ],
}
OPENINGS = [
    "",
    "",
    "안녕하세요. ",
    "수고 많으십니다. ",
    "민원 드립니다. ",
    "아 진짜 ",
    "[전화 상담] 민원인 말씀: ",
]
SINCE = ["", "", "어제부터 ", "일주일째 ", "매일 아침 ", "주말마다 ", "벌써 한 달째 "]
CLOSINGS = [
    ".",
    ". 빨리 처리해 주세요.",
    ". 확인 부탁드립니다.",
    " ㅠㅠ 언제 고쳐지나요?",
    "!! 너무 불편함",
    ". 조치 바랍니다.",
]
#: The districts' Korean names, for the address.
DISTRICT_KO = dict(
    zip(
        PLACES,
        (
            "종로구 중구 용산구 성동구 광진구 동대문구 중랑구 성북구 강북구 도봉구 노원구 은평구 서대문구"
            " 마포구 양천구 강서구 구로구 금천구 영등포구 동작구 관악구 서초구 강남구 송파구 강동구"
        ).split(),
        strict=True,
    )
)
NAMES = ["홍길동", "김서울", "이하늘", "박민수", "최지우"]


def _pick(rng: random.Random, mix: dict[str, float]) -> str:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


def text_of(rng: random.Random, field: str, place: str) -> str:
    phrasings, objects = rng.choice(ISSUES[field])
    issue = rng.choice(phrasings).format(o=rng.choice(objects))
    return f"{rng.choice(OPENINGS)}{place} {rng.choice(SINCE)}{issue}{rng.choice(CLOSINGS)}"


def complaints(n: int, seed: int = 2014) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        field = _pick(rng, FIELD_MIX)
        district = rng.choice(list(PLACES))
        place = rng.choice(PLACES[district])
        text = text_of(rng, field, place) + f" (#{i})"
        out.append(
            {
                "channel": _pick(rng, CHANNEL_MIX),
                "submission": {
                    "text": text,
                    "kind": _pick(rng, KIND_MIX),
                    "field": field,
                    "language": "ko",
                    "place": {
                        "address": f"서울특별시 {DISTRICT_KO[district]} {place} {rng.randint(1, 300)}",
                        "district": district,
                    },
                    "contact": {
                        "name": rng.choice(NAMES),
                        "phone": f"010-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
                    },
                },
            }
        )
    return out
