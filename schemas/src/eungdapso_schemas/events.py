"""Versioned payloads of the integration events that cross service boundaries.

Every payload keeps the part that may become public apart from personal data
(`citizen`): the publisher projects only whitelisted public fields; only intake,
casework and the notifier may read `citizen` (DESIGN.md, "Personal data").

Adding an event type: a payload model here (with an `example()`), a line in the stream
registry (`streams.py`), and handlers in the services that consume it. Every id, code and
text a payload accepts is bounded, so no producer can send a value that breaks a
consumer's index or storage (a btree entry is at most ~2.7 kB).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, ClassVar, Self
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from eungdapso_schemas.codes import Channel, District, Kind, Language, OfficeLevel
from eungdapso_schemas.codes import Field as AdminField

RECEIPT_NO_PATTERN = r"^[0-9]{4}-[0-9]{7,10}$"
ReceiptNo = Annotated[str, StringConstraints(pattern=RECEIPT_NO_PATTERN, max_length=15)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
OfficeCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.\-]{2,80}$")]
RuleText = Annotated[str, StringConstraints(max_length=200)]
ComplaintText = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]

_EXAMPLE_ID = UUID("3f2b8c1e-9a4d-4e7b-8c2a-5d6e7f809a1b")
_EXAMPLE_TIME = datetime(2026, 11, 20, 0, 5, tzinfo=UTC)


class Payload(BaseModel):
    """Base of every event payload: frozen, and tolerant of fields added by newer producers.

    `extra="ignore"` is the forward-compatibility rule (tests/contract): a v1 consumer
    keeps working when a producer adds an optional field.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    schema_version: ClassVar[int]

    @classmethod
    def cloudevents_type(cls) -> str:
        return f"{cls.event_type}.v{cls.schema_version}"

    @classmethod
    def example(cls) -> Self:
        """A valid instance: documentation (AsyncAPI) and the contract tests use it."""
        raise NotImplementedError(f"{cls.__name__} has no example")


class ComplaintEvent(Payload):
    """An event about one complaint: its id is the record key and the CloudEvents subject,
    so one complaint's events stay in one partition and in order."""

    complaint_id: UUID
    receipt_no: ReceiptNo

    @property
    def subject(self) -> str:
        return str(self.complaint_id)


class Place(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    lat: Annotated[float, Field(ge=33.0, le=39.0)] | None = None
    lon: Annotated[float, Field(ge=124.0, le=132.0)] | None = None
    district: District | None = None


class Citizen(BaseModel):
    """Personal data (개인정보). Never projected into anything public."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ShortText | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9\- ]{6,18}[0-9]$")] | None = None
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)] | None = (
        None
    )
    sns_handle: ShortText | None = None


class ComplaintReceivedV1(ComplaintEvent):
    """A channel took in a complaint (민원 접수). Owned by intake."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.complaint.received"
    schema_version: ClassVar[int] = 1

    received_at: AwareDatetime
    channel: Channel
    kind: Kind
    confidential: bool
    field: AdminField | None = None
    language: Language = Language.KO
    text: ComplaintText
    place: Place | None = None
    citizen: Citizen | None = None

    @classmethod
    def example(cls) -> ComplaintReceivedV1:
        return cls(
            complaint_id=_EXAMPLE_ID,
            receipt_no="2026-0000001",
            received_at=_EXAMPLE_TIME,
            channel=Channel.WEB,
            kind=Kind.COMPLAINT,
            confidential=False,
            field=AdminField.ROADS_TRAFFIC,
            language=Language.KO,
            text="만리재로 193 앞 육교 계단에 구멍이 났어요",
            place=Place(
                address="서울특별시 용산구 만리재로 193", lat=37.5536, lon=126.968, district=District.YONGSAN
            ),
            citizen=Citizen(name="홍길동", phone="010-1234-5678"),
        )


class Office(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    code: OfficeCode
    name: ShortText
    level: OfficeLevel


class ComplaintAssignedV1(ComplaintEvent):
    """The router decided which office handles the complaint (배정). Owned by router."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.complaint.assigned"
    schema_version: ClassVar[int] = 1

    assigned_at: AwareDatetime
    office: Office
    rule: RuleText

    @classmethod
    def example(cls) -> ComplaintAssignedV1:
        return cls(
            complaint_id=_EXAMPLE_ID,
            receipt_no="2026-0000001",
            assigned_at=_EXAMPLE_TIME,
            office=Office(code="seoul.transport", name="도시교통실", level=OfficeLevel.HEADQUARTERS),
            rule="field:roads_traffic",
        )


def dataschema_uri(model: type[Payload]) -> str:
    """The CloudEvents `dataschema` of a payload: the checked-in JSON Schema file."""
    return f"urn:eungdapso:schema:{schema_file_stem(model)}"


def schema_file_stem(model: type[Payload]) -> str:
    short = model.event_type.rsplit(".", 2)
    return f"{short[-2]}.{short[-1]}.v{model.schema_version}"
