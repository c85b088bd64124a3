"""Versioned payloads of the integration events that cross service boundaries.

Every payload keeps the part that may become public apart from personal data
(`citizen`): the publisher projects only whitelisted public fields, and the
notifier is the only consumer meant to read `citizen`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from eungdapso_schemas.codes import Channel, District, Kind, Language, OfficeLevel
from eungdapso_schemas.codes import Field as AdminField

RECEIPT_NO_PATTERN = r"^[0-9]{4}-[0-9]{7,}$"
ReceiptNo = Annotated[str, StringConstraints(pattern=RECEIPT_NO_PATTERN)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Payload(BaseModel):
    """Base of every event payload: frozen, and tolerant of fields added by newer producers.

    `extra="ignore"` is the forward-compatibility rule (tests/contract): a v1 consumer
    keeps working when a producer adds an optional field.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    schema_version: ClassVar[int]


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


class ComplaintReceivedV1(Payload):
    """A channel took in a complaint (민원 접수). Owned by intake."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.complaint.received"
    schema_version: ClassVar[int] = 1

    complaint_id: UUID
    receipt_no: ReceiptNo
    received_at: AwareDatetime
    channel: Channel
    kind: Kind
    confidential: bool
    field: AdminField | None = None
    language: Language = Language.KO
    text: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
    place: Place | None = None
    citizen: Citizen | None = None


class Office(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    code: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.\-]{2,80}$")]
    name: ShortText
    level: OfficeLevel


class ComplaintAssignedV1(Payload):
    """The router decided which office handles the complaint (배정). Owned by router."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.complaint.assigned"
    schema_version: ClassVar[int] = 1

    complaint_id: UUID
    receipt_no: ReceiptNo
    assigned_at: AwareDatetime
    office: Office
    rule: Annotated[str, StringConstraints(max_length=200)]


PAYLOADS: tuple[type[Payload], ...] = (ComplaintReceivedV1, ComplaintAssignedV1)


def payload_for(event_type: str, version: int) -> type[Payload] | None:
    for model in PAYLOADS:
        if model.event_type == event_type and model.schema_version == version:
            return model
    return None


def dataschema_uri(model: type[Payload]) -> str:
    """The CloudEvents `dataschema` of a payload: the checked-in JSON Schema file."""
    return f"urn:eungdapso:schema:{schema_file_stem(model)}"


def schema_file_stem(model: type[Payload]) -> str:
    short = model.event_type.rsplit(".", 2)
    return f"{short[-2]}.{short[-1]}.v{model.schema_version}"


__all__ = [
    "PAYLOADS",
    "Citizen",
    "ComplaintAssignedV1",
    "ComplaintReceivedV1",
    "Office",
    "Payload",
    "Place",
    "ReceiptNo",
    "dataschema_uri",
    "datetime",
    "payload_for",
]
