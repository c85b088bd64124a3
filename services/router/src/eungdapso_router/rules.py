"""Minimal routing rule: field → responsible office (배정 규칙).

Real routing (districts by place, FAQ answers, transfers to outside agencies) replaces
this table later; the decision is recorded with the rule that made it, for audit.
"""

from __future__ import annotations

from eungdapso_schemas.codes import Field, Kind, OfficeLevel
from eungdapso_schemas.events import Office

HQ = OfficeLevel.HEADQUARTERS
BY_FIELD: dict[Field, Office] = {
    Field.HOUSING_BUILDING: Office(code="seoul.housing", name="주택정책실", level=HQ),
    Field.ROADS_TRAFFIC: Office(code="seoul.transport", name="도시교통실", level=HQ),
    Field.GENERAL_ADMIN: Office(code="seoul.administration", name="행정국", level=HQ),
    Field.ENVIRONMENT_PARKS: Office(code="seoul.climate_environment", name="기후환경본부", level=HQ),
    Field.HEALTH_WELFARE: Office(code="seoul.welfare", name="복지정책실", level=HQ),
    Field.URBAN_PLANNING: Office(code="seoul.urban_planning", name="도시계획국", level=HQ),
    Field.INDUSTRY_CULTURE: Office(code="seoul.culture", name="문화본부", level=HQ),
    Field.SAFETY: Office(code="seoul.safety", name="안전총괄실", level=HQ),
}
#: Confidential reports go to the offices that investigate them, whatever the field.
BY_KIND: dict[Kind, Office] = {
    Kind.CORRUPTION_REPORT: Office(code="seoul.audit", name="감사위원회", level=HQ),
    Kind.WHISTLEBLOWING: Office(code="seoul.audit", name="감사위원회", level=HQ),
    Kind.HUMAN_RIGHTS: Office(code="seoul.human_rights", name="인권담당관", level=HQ),
    Kind.WELFARE_REPORT: Office(code="seoul.welfare", name="복지정책실", level=HQ),
}
#: Everything else is handled by the Eung-Dap-So desk itself.
DEFAULT = Office(code="seoul.eungdapso", name="시민소통기획관 응답소", level=HQ)


def choose_office(kind: Kind, field: Field | None) -> tuple[Office, str]:
    if kind in BY_KIND:
        return BY_KIND[kind], f"kind:{kind.value}"
    if field is not None and field in BY_FIELD:
        return BY_FIELD[field], f"field:{field.value}"
    return DEFAULT, "default"
