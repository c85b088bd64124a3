"""The Open311 service list: our taxonomy as GeoReport v2 services.

The services are the subjects every service shares (민원 유형, `eungdapso_schemas.subjects`:
pothole, illegal parking, street light out, ...), grouped by field, and every field
(DOMAIN.md "Codes") that is not a subject itself. Each has the same three attributes: the
kind of case, the citizen's language, and whether the citizen lets the text be published.

A request for a subject's service records that subject (`complaint.received`'s `subject`);
one for a field's service records the field only. `GET requests` shows every complaint,
from any channel, under its subject's service, else its field's (`service_for`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from eungdapso_schemas.codes import Disclosure, Kind, Language, OfficeLevel
from eungdapso_schemas.codes import Field as AdminField
from eungdapso_schemas.subjects import SUBJECTS, TAXONOMY_VERSION, Subject

#: When the service list last changed (discovery's `changeset`), by version of the subject
#: taxonomy: a new taxonomy version needs its date here, or this module does not load.
CHANGESETS = {1: "2026-11-22T00:00:00+09:00"}
CHANGESET = CHANGESETS[TAXONOMY_VERSION]
#: The service code confidential reports (from any channel) show in `GET requests`: only
#: that a report exists and its status. It is not a service one can submit to.
CONFIDENTIAL = "confidential"
CONFIDENTIAL_NAME = "비공개 신고 (Confidential report)"


class Datatype(StrEnum):
    STRING = "string"
    NUMBER = "number"
    DATETIME = "datetime"
    TEXT = "text"
    SINGLEVALUELIST = "singlevaluelist"
    MULTIVALUELIST = "multivaluelist"


@dataclass(frozen=True)
class Attribute:
    code: str
    datatype: Datatype
    required: bool
    order: int
    description: str
    #: key → name, for list datatypes.
    values: tuple[tuple[str, str], ...] = ()
    datatype_description: str | None = None
    #: Used when the client sends no value.
    default: str | None = None

    def as_open311(self) -> dict[str, object]:
        return {
            "variable": True,
            "code": self.code,
            "datatype": self.datatype.value,
            "required": self.required,
            "datatype_description": self.datatype_description,
            "order": self.order,
            "description": self.description,
            "values": [{"key": key, "name": name} for key, name in self.values],
        }


@dataclass(frozen=True)
class Service:
    code: str
    #: Korean name: the start of `service_name`.
    label: str
    english: str
    field: AdminField
    description: str
    keywords: tuple[str, ...]
    kind: Kind = Kind.COMPLAINT
    #: The service is this subject of the taxonomy (its code); None: a field's service.
    subject: str | None = None

    @property
    def name(self) -> str:
        return f"{self.label} ({self.english})"

    @property
    def group(self) -> str:
        return FIELD_NAMES[self.field]

    def as_open311(self) -> dict[str, object]:
        return {
            "service_code": self.code,
            "service_name": self.name,
            "description": self.description,
            # Every service has attributes (kind, language, disclosure): see its definition.
            "metadata": True,
            "type": "realtime",
            "keywords": ", ".join(self.keywords) or None,
            "group": self.group,
        }

    def attributes(self) -> tuple[Attribute, ...]:
        kind = Attribute(
            "kind",
            Datatype.SINGLEVALUELIST,
            required=False,
            order=1,
            description=f"접수 유형 (Kind of case). Default: {self.kind.value}.",
            values=tuple((k.value, KIND_NAMES[k]) for k in SUBMITTABLE_KINDS),
            default=self.kind.value,
        )
        return (kind, LANGUAGE, DISCLOSURE)

    def definition(self) -> dict[str, object]:
        return {"service_code": self.code, "attributes": [a.as_open311() for a in self.attributes()]}


FIELD_NAMES: dict[AdminField, str] = {
    AdminField.HOUSING_BUILDING: "주택·건축 (Housing & building)",
    AdminField.ROADS_TRAFFIC: "도로·교통 (Roads & traffic)",
    AdminField.GENERAL_ADMIN: "일반행정 (General administration)",
    AdminField.ENVIRONMENT_PARKS: "환경·공원 (Environment & parks)",
    AdminField.HEALTH_WELFARE: "보건·복지 (Health & welfare)",
    AdminField.URBAN_PLANNING: "도시계획 (Urban planning)",
    AdminField.INDUSTRY_CULTURE: "산업·문화 (Industry & culture)",
    AdminField.SAFETY: "안전 (Safety)",
    AdminField.OTHER: "기타 (Other)",
}
KIND_NAMES: dict[Kind, str] = {
    Kind.COMPLAINT: "민원 (Complaint)",
    Kind.PROPOSAL: "의견·제안 (Opinion or proposal)",
    Kind.INQUIRY: "문의 (Inquiry)",
    Kind.WELFARE_REPORT: "복지문제 신고 (Welfare problem report)",
}
#: Corruption, whistleblowing and human-rights reports are confidential: they go through
#: the city's protected channels, never through a third party's Open311 client.
SUBMITTABLE_KINDS = tuple(KIND_NAMES)

LANGUAGE = Attribute(
    "language",
    Datatype.SINGLEVALUELIST,
    required=False,
    order=2,
    description="민원을 쓴 언어, 답변 언어 (Language of the description and of the answer). Default: ko.",
    values=(
        (Language.KO.value, "한국어 (Korean)"),
        (Language.EN.value, "English"),
        (Language.ZH.value, "中文 (Chinese)"),
        (Language.JA.value, "日本語 (Japanese)"),
        (Language.VI.value, "Tiếng Việt (Vietnamese)"),
        (Language.MN.value, "Монгол (Mongolian)"),
    ),
    default=Language.KO.value,
)
DISCLOSURE = Attribute(
    "disclosure",
    Datatype.SINGLEVALUELIST,
    required=False,
    order=3,
    description=(
        "민원 내용 공개 여부. 'public'을 고르면 내용이 전화번호·이메일을 가린 뒤 공개됩니다 "
        "(Publish the description? With 'public' it is published with phone numbers and e-mail "
        "addresses masked; names and contact details are never published). Default: private."
    ),
    values=(
        (Disclosure.PRIVATE.value, "비공개 (Private)"),
        (Disclosure.PUBLIC.value, "공개 (Public)"),
    ),
    default=Disclosure.PRIVATE.value,
)


#: Who normally handles a subject, as the service's description says it.
HANDLED_BY: dict[OfficeLevel, str] = {
    OfficeLevel.DISTRICT: "구청에서 처리합니다 (handled by the district office of the place)",
    OfficeLevel.HEADQUARTERS: "서울시 본청에서 처리합니다 (handled by Seoul city hall)",
    OfficeLevel.CITY_OFFICE: "서울시 사업소에서 처리합니다 (handled by a city office)",
    OfficeLevel.EXTERNAL: "담당 기관으로 이송합니다 (transferred to the agency responsible)",
}
#: Subjects that are confidential reports: never submitted through a third party's client,
#: never listed (`SUBMITTABLE_KINDS` says why).
CONFIDENTIAL_SUBJECTS = frozenset({"corruption", "human_rights"})
#: The kind a subject is by default, when not a complaint (a client may choose another).
DEFAULT_KINDS: dict[str, Kind] = {"city_policy": Kind.PROPOSAL, "welfare_benefit": Kind.INQUIRY}


def _subject_service(subject: Subject) -> Service:
    return Service(
        subject.code,
        subject.ko,
        subject.en,
        subject.field,
        f"{subject.ko} ({subject.en}): {HANDLED_BY[subject.level]}.",
        subject.keywords,
        kind=DEFAULT_KINDS.get(subject.code, Kind.COMPLAINT),
        subject=subject.code,
    )


def _field_service(code: AdminField) -> Service:
    """A field as a service of its own: for what fits none of its subjects, and for
    complaints from other channels whose subject is not known."""
    label, english = FIELD_NAMES[code].removesuffix(")").split(" (", 1)
    return Service(
        code.value, label, english, code, f"{label} 민원 (Anything else about {english.lower()}).", (label,)
    )


_SUBJECTS = tuple(_subject_service(s) for s in SUBJECTS if s.code not in CONFIDENTIAL_SUBJECTS)
#: The list `GET services` answers: the shared subject taxonomy (민원 유형, schemas'
#: `subjects.toml`), then every field that is not a subject code already.
SERVICES: tuple[Service, ...] = (
    *_SUBJECTS,
    *(_field_service(f) for f in AdminField if f.value not in {s.code for s in _SUBJECTS}),
)
_BY_CODE: dict[str, Service] = {s.code: s for s in SERVICES}
if len(_BY_CODE) != len(SERVICES):
    raise RuntimeError("two Open311 services share a code")
#: Every code `GET requests` may show (and filter by).
KNOWN_CODES = frozenset({*_BY_CODE, CONFIDENTIAL})


def service(code: str) -> Service | None:
    return _BY_CODE.get(code)


def service_for(subject: str | None, field: AdminField | None) -> Service:
    """The service a complaint shows under: its subject's, else its field's (no field yet:
    `other`). A subject that is no service (a confidential report's) shows as its field."""
    chosen = _BY_CODE.get(subject) if subject is not None else None
    if chosen is not None and chosen.subject is not None:
        return chosen
    return _BY_CODE[(field or AdminField.OTHER).value]


def service_name(code: str) -> str:
    return CONFIDENTIAL_NAME if code == CONFIDENTIAL else _BY_CODE[code].name
