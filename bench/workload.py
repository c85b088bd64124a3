"""A realistic stream of complaints: Korean text, the channel, kind and field mix of DOMAIN.md."""

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
DISTRICTS = ["jongno", "jung", "yongsan", "mapo", "gangnam", "songpa", "nowon", "gwanak", "seocho", "guro"]
TEXTS = {
    "housing_building": [
        "{d} 아파트 옆 공사장 소음이 밤늦게까지 계속됩니다.",
        "빌라 외벽에 금이 가서 불안합니다. 점검 부탁드립니다.",
    ],
    "roads_traffic": [
        "만리재로 193 앞 육교 계단에 구멍이 났어요.",
        "{d} 버스 정류장 안내판이 고장 났습니다.",
        "심야 올빼미 버스 배차 간격을 줄여 주세요.",
    ],
    "general_admin": ["주민등록 등본 발급 절차를 알고 싶습니다.", "민원 처리 결과를 아직 못 받았습니다."],
    "environment_parks": ["1리터 음식물 쓰레기 봉투를 파나요?", "{d} 공원 화장실이 너무 지저분합니다."],
    "health_welfare": ["독거노인 지원 제도가 있나요?", "보건소 예방접종 일정을 알려 주세요."],
    "urban_planning": ["재개발 구역 지정 일정이 궁금합니다."],
    "industry_culture": ["전통시장 주차장 운영 시간을 늘려 주세요."],
    "other": ["불법 전단지가 너무 많이 붙어 있어요.", "한강 자전거 도로 조명이 어둡습니다."],
}
NAMES = ["홍길동", "김서울", "이하늘", "박민수", "최지우"]


def _pick(rng: random.Random, mix: dict[str, float]) -> str:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


def complaints(n: int, seed: int = 2014) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        field = _pick(rng, FIELD_MIX)
        district = rng.choice(DISTRICTS)
        text = rng.choice(TEXTS[field]).format(d=district) + f" (#{i})"
        out.append(
            {
                "channel": _pick(rng, CHANNEL_MIX),
                "submission": {
                    "text": text,
                    "kind": _pick(rng, KIND_MIX),
                    "field": field,
                    "language": "ko",
                    "place": {
                        "address": f"서울특별시 {district} 어딘가 {rng.randint(1, 300)}",
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
