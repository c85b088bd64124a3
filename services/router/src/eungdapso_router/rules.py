"""Minimal routing rule: field → responsible office (배정 규칙).

Real routing (districts by place, FAQ answers, transfers to outside agencies) replaces
this table later; the decision is recorded with the rule that made it, for audit.
"""

from __future__ import annotations

from dataclasses import dataclass

from eungdapso_schemas.codes import Field, Kind, OfficeLevel


@dataclass(frozen=True)
class OfficeRef:
    code: str
    name: str
    level: OfficeLevel


HQ = OfficeLevel.HEADQUARTERS
BY_FIELD: dict[Field, OfficeRef] = {
    Field.HOUSING_BUILDING: OfficeRef("seoul.housing", "주택정책실", HQ),
    Field.ROADS_TRAFFIC: OfficeRef("seoul.transport", "도시교통실", HQ),
    Field.GENERAL_ADMIN: OfficeRef("seoul.administration", "행정국", HQ),
    Field.ENVIRONMENT_PARKS: OfficeRef("seoul.climate_environment", "기후환경본부", HQ),
    Field.HEALTH_WELFARE: OfficeRef("seoul.welfare", "복지정책실", HQ),
    Field.URBAN_PLANNING: OfficeRef("seoul.urban_planning", "도시계획국", HQ),
    Field.INDUSTRY_CULTURE: OfficeRef("seoul.culture", "문화본부", HQ),
    Field.SAFETY: OfficeRef("seoul.safety", "안전총괄실", HQ),
}
#: Confidential reports go to the offices that investigate them, whatever the field.
BY_KIND: dict[Kind, OfficeRef] = {
    Kind.CORRUPTION_REPORT: OfficeRef("seoul.audit", "감사위원회", HQ),
    Kind.WHISTLEBLOWING: OfficeRef("seoul.audit", "감사위원회", HQ),
    Kind.HUMAN_RIGHTS: OfficeRef("seoul.human_rights", "인권담당관", HQ),
    Kind.WELFARE_REPORT: OfficeRef("seoul.welfare", "복지정책실", HQ),
}
#: Everything else is handled by the Eung-Dap-So desk itself.
DEFAULT = OfficeRef("seoul.eungdapso", "시민소통기획관 응답소", HQ)


def choose_office(kind: Kind, field: Field | None) -> tuple[OfficeRef, str]:
    if kind in BY_KIND:
        return BY_KIND[kind], f"kind:{kind.value}"
    if field is not None and field in BY_FIELD:
        return BY_FIELD[field], f"field:{field.value}"
    return DEFAULT, "default"
