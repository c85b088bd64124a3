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

from datetime import UTC, date, datetime
from typing import Annotated, ClassVar, Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from eungdapso_schemas.codes import (
    AttachmentKind,
    Channel,
    Disclosure,
    District,
    Kind,
    Language,
    MessageClass,
    OfficeLevel,
    ReplyMedium,
    Resolution,
)
from eungdapso_schemas.codes import Field as AdminField
from eungdapso_schemas.subjects import SubjectCode

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
    def cloudevents_subject(self) -> str:
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


Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
MediaType = Annotated[str, StringConstraints(pattern=r"^[a-z0-9.+\-]{1,40}/[a-z0-9.+\-]{1,80}$")]
#: A channel's own id of the message (provider message id, SNS post id, call id, ...).
ChannelRef = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,200}$")]
StaffRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
MAX_ATTACHMENTS = 10


class AttachmentRef(BaseModel):
    """A stored attachment, by reference (content lives in the blob store, never in a record).

    `sha256` names the copy everyone else may see (photos without their EXIF metadata);
    the original stays with intake."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    sha256: Sha256
    media_type: MediaType
    kind: AttachmentKind
    size_bytes: Annotated[int, Field(ge=1, le=1_000_000_000)]


class ReplyAddress(BaseModel):
    """Where the citizen is answered on their own channel. Personal data (개인정보), like
    `citizen`: only intake, casework and the notifier read it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    medium: ReplyMedium
    #: A phone number, an e-mail address, an SNS user id or handle, a postal address.
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    #: The city's SNS account the message reached: the reply goes back through it.
    account: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.\-]{1,60}$")] | None = None
    #: The post, message or conversation to answer in.
    thread: ChannelRef | None = None
    #: The citizen agreed to be contacted (called back, or sent an SMS) on this address.
    consent: bool = False


class FirstContactResolution(BaseModel):
    """The 120 agent answered on the call from the counselling database (1차 상담 종결)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    agent: StaffRef
    answer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    answered_at: AwareDatetime


class ComplaintReceivedV2(ComplaintReceivedV1):
    """v2 adds how the complaint came in, what it is about and how to answer it.

    Every v1 field keeps its meaning, so a v1 consumer reads a v2 record unchanged
    (tests/contract).

    `channel_ref` and `reply_to` are personal: like `citizen`, never projected publicly."""

    schema_version: ClassVar[int] = 2

    #: The channel's own message id: the same message delivered twice is one complaint.
    channel_ref: ChannelRef | None = None
    #: Staff, desk or client that registered it on the citizen's behalf (counter, agent, clerk).
    registered_by: StaffRef | None = None
    disclosure: Disclosure = Disclosure.PRIVATE
    attachments: Annotated[tuple[AttachmentRef, ...], Field(max_length=MAX_ATTACHMENTS)] = ()
    reply_to: ReplyAddress | None = None
    first_contact: FirstContactResolution | None = None
    #: The call went through an interpreter (120+9: en, zh, ja, vi, mn).
    interpreted: bool = False
    #: What it is about (민원 유형), when the citizen or the desk chose it (an Open311
    #: service, a form's list); `field` is then the subject's. None: nobody chose.
    subject: SubjectCode | None = None

    @classmethod
    def example(cls) -> ComplaintReceivedV2:
        v1 = ComplaintReceivedV1.example()
        return cls(
            **{**v1.model_dump(), "channel": Channel.SMS},
            channel_ref="twilio:SM5f7a8e1c2b3d4e5f6a7b8c9d0e1f2a3b",
            disclosure=Disclosure.PUBLIC,
            attachments=(
                AttachmentRef(
                    sha256="ab" * 32, media_type="image/jpeg", kind=AttachmentKind.PHOTO, size_bytes=48213
                ),
            ),
            reply_to=ReplyAddress(medium=ReplyMedium.SMS, address="010-1234-5678", consent=True),
            subject="footbridge",
        )

    @classmethod
    def from_v1(cls, v1: ComplaintReceivedV1) -> ComplaintReceivedV2:
        """A v1 record read as v2: defaults for what v1 did not say (private, no attachments)."""
        return v1 if isinstance(v1, cls) else cls(**v1.model_dump())


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


Term = Annotated[str, StringConstraints(min_length=1, max_length=60)]


class SubjectScore(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    subject: SubjectCode
    score: Annotated[float, Field(ge=0.0, le=1.0)]


class PlaceEvidence(BaseModel):
    """How the district was found: from coordinates, the address, the text, or not at all."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    method: Literal["coordinates", "address", "text", "none"]
    #: What matched (a district, dong, station, landmark or road name), never the address itself.
    matched: tuple[Term, ...] = Field(default=(), max_length=10)
    #: The neighbouring government when the place is outside Seoul.
    outside: OfficeCode | None = None


class RoutingEvidence(BaseModel):
    """Why the router decided as it did: auditors and the triage desk read it. Terms are
    fragments of the complaint's text, so evidence is as private as the text."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    matched_terms: tuple[Term, ...] = Field(default=(), max_length=20)
    #: The best subjects, best first.
    scores: tuple[SubjectScore, ...] = Field(default=(), max_length=5)
    place: PlaceEvidence = PlaceEvidence(method="none")
    #: Rules that fired (kind checks, message-class rules, directory lookups).
    rules: tuple[RuleText, ...] = Field(default=(), max_length=20)


class ComplaintAssignedV2(ComplaintAssignedV1):
    """v2 adds what the router read in the complaint: message class, field, subject, district,
    the confidentiality check, its evidence and confidence, and who decided (the router, or a
    person at the triage desk). Every v1 field keeps its meaning: a v1 reader reads it unchanged.
    A reassignment (after an office rejected the case) is a new assignment of the same complaint."""

    schema_version: ClassVar[int] = 2

    message_class: MessageClass
    field: AdminField
    subject: SubjectCode
    district: District | None = None
    #: The kind check found a confidential report (corruption, whistleblowing, human rights).
    confidential: bool = False
    confidence: Annotated[float, Field(ge=0.0, le=1.0)]
    evidence: RoutingEvidence = RoutingEvidence()
    #: `router`, or the triage desk person who decided.
    decided_by: StaffRef = "router"
    #: 0 for the first assignment, then one more for each reassignment.
    reassignment: Annotated[int, Field(ge=0, le=100)] = 0

    @classmethod
    def example(cls) -> ComplaintAssignedV2:
        return cls(
            **ComplaintAssignedV1.example().model_dump(),
            message_class=MessageClass.FIELD,
            field=AdminField.ROADS_TRAFFIC,
            subject="footbridge",
            district=District.YONGSAN,
            confidence=0.91,
            evidence=RoutingEvidence(
                matched_terms=("육교", "계단", "구멍"),
                scores=(
                    SubjectScore(subject="footbridge", score=0.91),
                    SubjectScore(subject="pothole", score=0.05),
                ),
                place=PlaceEvidence(method="address", matched=("용산구", "만리재로")),
                rules=("subject footbridge → district roads division",),
            ),
        ).model_copy(
            update={
                "office": Office(
                    code="district.yongsan.roads", name="용산구 건설관리과", level=OfficeLevel.DISTRICT
                ),
                "rule": "subject:footbridge district:yongsan",
            }
        )


FaqId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.\-]{0,79}$")]


class ComplaintAnsweredInstantlyV1(ComplaintEvent):
    """The Eung-Dap-So desk answered an everyday question at once from its standard answers
    (즉시 답변), without a department. Owned by router. The complaint is also assigned, for the
    record, to the office of its subject (`complaint.assigned`, just before on the same
    partition); this answer closes it: nobody else works on it."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.complaint.answered_instantly"
    schema_version: ClassVar[int] = 1

    answered_at: AwareDatetime
    #: The standard answer given (the FAQ entry's id): the answer is the city's text, public.
    answer_id: FaqId
    answer: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    #: How well the standard answer covers the question (0..1).
    confidence: Annotated[float, Field(ge=0.0, le=1.0)]

    @classmethod
    def example(cls) -> ComplaintAnsweredInstantlyV1:
        return cls(
            complaint_id=_EXAMPLE_ID,
            receipt_no="2026-0000001",
            answered_at=_EXAMPLE_TIME,
            answer_id="faq-bulky-waste-01",
            answer="구청 누리집이나 대형폐기물 배출 신고 앱에서 품목을 신고하고 수수료를 낸 뒤, "
            "배출번호를 붙여 정해진 날 지정 장소에 내놓으면 됩니다.",
            confidence=0.92,
        )


class ComplaintLinkedV1(ComplaintEvent):
    """The complaint is about the same thing at the same place as an open one (중복 민원): it is
    linked to that one and follows it. When the first is answered, the linked complaints are
    answered with it (each citizen told), and none is closed twice. Owned by router; the
    complaint is assigned, for the record, to the office handling the first."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.complaint.linked"
    schema_version: ClassVar[int] = 1

    linked_at: AwareDatetime
    #: The open complaint this one duplicates.
    duplicate_of: UUID
    duplicate_of_receipt_no: ReceiptNo
    #: Text similarity of the two complaints (0..1).
    similarity: Annotated[float, Field(ge=0.0, le=1.0)]
    #: Metres between the two places, when both had coordinates.
    distance_m: Annotated[float, Field(ge=0.0, le=100_000.0)] | None = None

    @classmethod
    def example(cls) -> ComplaintLinkedV1:
        return cls(
            complaint_id=UUID("0b7e3d52-1c4f-4a8e-9d26-7f1e2a3b4c5d"),
            receipt_no="2026-0000002",
            linked_at=_EXAMPLE_TIME,
            duplicate_of=_EXAMPLE_ID,
            duplicate_of_receipt_no="2026-0000001",
            similarity=0.71,
            distance_m=38.5,
        )


DirectoryName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
#: What an office of the directory is: a head-office bureau, city office or district office
#: (`office`), a division of one (`division`), an outside agency (`agency`) or a neighbouring
#: local government (`local_government`), both of these `external`.
OfficeKind = Literal["office", "division", "agency", "local_government"]
DIRECTORY_KEY = "organisation-directory"


class DirectoryOfficeV1(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    code: OfficeCode
    name: DirectoryName
    level: OfficeLevel
    kind: OfficeKind


class DirectoryPublishedV1(Payload):
    """A version of the organisation directory (조직 디렉터리) came into force: every office
    with its code, name, level and kind. Owned by router (it records the versions). Not about a
    complaint: keyed by the fixed key `organisation-directory`, so versions stay in one
    partition, in order; a reader keeps the highest version it has seen."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.directory.published"
    schema_version: ClassVar[int] = 1

    version: Annotated[int, Field(ge=1)]
    edition: DirectoryName
    content_hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16,128}$")]
    published_at: AwareDatetime
    offices: Annotated[tuple[DirectoryOfficeV1, ...], Field(min_length=1, max_length=10_000)]

    @property
    def cloudevents_subject(self) -> str:
        return DIRECTORY_KEY

    @classmethod
    def example(cls) -> DirectoryPublishedV1:
        return cls(
            version=2,
            edition="2026-11-23.1",
            content_hash="9f2c" * 16,
            published_at=_EXAMPLE_TIME,
            offices=(
                DirectoryOfficeV1(
                    code="district.yongsan", name="용산구청", level=OfficeLevel.DISTRICT, kind="office"
                ),
                DirectoryOfficeV1(
                    code="district.yongsan.roads",
                    name="용산구 건설관리과",
                    level=OfficeLevel.DISTRICT,
                    kind="division",
                ),
                DirectoryOfficeV1(
                    code="ext.seoul_police", name="서울경찰청", level=OfficeLevel.EXTERNAL, kind="agency"
                ),
            ),
        )


def dataschema_uri(model: type[Payload]) -> str:
    """The CloudEvents `dataschema` of a payload: the checked-in JSON Schema file."""
    return f"urn:eungdapso:schema:{schema_file_stem(model)}"


def schema_file_stem(model: type[Payload]) -> str:
    short = model.event_type.rsplit(".", 2)
    return f"{short[-2]}.{short[-1]}.v{model.schema_version}"


# -- Integrators over Kafka (DOMAIN.md, channel `integration`) ---------------------------------
#: A CloudEvents `source` and `id` as the envelope bounds them (MAX_SOURCE_CHARS, MAX_ID_CHARS).
SubmissionSource = Annotated[str, StringConstraints(min_length=1, max_length=256)]
SubmissionId = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,256}$")]


class ComplaintSubmittedV1(Payload):
    """An integrator submits a complaint over Kafka (민원 접수 요청). Owned by the integrators.

    Not a complaint event: it has no complaint id yet. Intake records each submission once,
    by its CloudEvents `source` + `id` (publishing it again records nothing new), and answers
    on `eungdapso.intake.replies` with a `complaint.submission.answered`. `ce_subject` is
    optional here; the record key is the integrator's choice."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.complaint.submitted"
    schema_version: ClassVar[int] = 1

    #: `integration`, or the channel the integrator relays (e.g. `phone` for a 120 system).
    channel: Channel = Channel.INTEGRATION
    text: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    kind: Kind
    field: AdminField | None = None
    language: Language = Language.KO
    place: Place | None = None
    citizen: Citizen | None = None
    reply_to: ReplyAddress | None = None
    disclosure: Disclosure = Disclosure.PRIVATE
    #: Attachments uploaded first (`POST /api/v1/attachments`), by their sha256.
    attachments: Annotated[tuple[Sha256, ...], Field(max_length=MAX_ATTACHMENTS)] = ()
    #: The integrator's own id of the message, kept with the complaint.
    channel_ref: ChannelRef | None = None

    @classmethod
    def example(cls) -> ComplaintSubmittedV1:
        return cls(
            channel=Channel.INTEGRATION,
            text="버스 정류장 안내 전광판이 꺼져 있어요",
            kind=Kind.COMPLAINT,
            field=AdminField.ROADS_TRAFFIC,
            language=Language.KO,
            place=Place(address="서울특별시 중구 세종대로 110", district=District.JUNG),
            citizen=Citizen(name="홍길동", phone="010-1234-5678"),
            reply_to=ReplyAddress(medium=ReplyMedium.SMS, address="010-1234-5678", consent=True),
            attachments=("ab" * 32,),
            channel_ref="partner-7f3a9c",
        )


class SubmissionAnsweredV1(Payload):
    """Intake's answer to an integrator's submission: accepted with its receipt number, or
    rejected with the reason. Owned by intake; key and subject: the submission's source and id.

    Every delivery of a submission is answered, a repeated one with the same answer; a
    rejected submission stays rejected (correct it and publish it with a new id)."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.complaint.submission.answered"
    schema_version: ClassVar[int] = 1

    #: The submission's CloudEvents `source` and `id`.
    source: SubmissionSource
    id: SubmissionId
    accepted: bool
    #: When accepted: the complaint recorded.
    complaint_id: UUID | None = None
    receipt_no: ReceiptNo | None = None
    #: When rejected: which rule refused it.
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None

    @model_validator(mode="after")
    def _answer_is_complete(self) -> Self:
        if self.accepted and (self.complaint_id is None or self.receipt_no is None or self.reason):
            raise ValueError("an accepted submission has a complaint_id and a receipt_no, and no reason")
        if not self.accepted and (self.reason is None or self.complaint_id or self.receipt_no):
            raise ValueError("a rejected submission has a reason, and no complaint_id or receipt_no")
        return self

    @property
    def cloudevents_subject(self) -> str:
        # A CloudEvents id is printable ASCII without spaces: the last space separates it.
        return f"{self.source} {self.id}"

    @classmethod
    def example(cls) -> SubmissionAnsweredV1:
        return cls(
            source="/integrators/partner",
            id="7f3a9c2e-1b4d-4c8e-9f0a-2b3c4d5e6f70",
            accepted=True,
            complaint_id=_EXAMPLE_ID,
            receipt_no="2026-0000001",
        )


# -- Casework: what offices do with their cases (DOMAIN.md, 처리) -------------------------------
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
AnswerText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
_EXAMPLE_CASE_ID = UUID("8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f")
_EXAMPLE_OFFICE = "district.yongsan.roads"


class CaseEvent(ComplaintEvent):
    """Something that happened to one case: one office's handling of one assignment of a
    complaint (a reassignment opens a new case). Owned by casework."""

    case_id: UUID
    #: The office whose case it is (and whose feed, `eungdapso.casework.office.<office>`, carries it).
    office: OfficeCode
    at: AwareDatetime


class StaffAction(CaseEvent):
    """Something a person at the office did on the case."""

    #: The office's staff member who acted (an employee id, not a name).
    staff: StaffRef


class CaseOpenedV1(CaseEvent):
    """A case entered an office's inbox: the router assigned the complaint to it."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.case.opened"
    schema_version: ClassVar[int] = 1

    #: 1 for the complaint's first case, then one more for each reassignment.
    number: Annotated[int, Field(ge=1, le=1000)]
    #: How many offices refused this complaint before this one.
    rejections_before: Annotated[int, Field(ge=0, le=1000)] = 0
    #: What the router read in the complaint (assigned.v2), or None (assigned.v1).
    message_class: MessageClass | None = None
    field: AdminField | None = None
    subject: SubjectCode | None = None
    district: District | None = None
    confidential: bool = False

    @classmethod
    def example(cls) -> CaseOpenedV1:
        return cls(
            complaint_id=_EXAMPLE_ID,
            receipt_no="2026-0000001",
            case_id=_EXAMPLE_CASE_ID,
            office=_EXAMPLE_OFFICE,
            at=_EXAMPLE_TIME,
            number=1,
            message_class=MessageClass.FIELD,
            field=AdminField.ROADS_TRAFFIC,
            subject="footbridge",
            district=District.YONGSAN,
        )


class CaseWithdrawnV1(CaseEvent):
    """The case left this office's inbox, and the office may no longer act on it: the router
    reassigned the complaint elsewhere, or (contract 2.8) the desk answered it at once, or it was
    linked as a duplicate of another complaint (it is then shown under that one's case)."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.case.withdrawn"
    schema_version: ClassVar[int] = 1

    #: The office the complaint went to (the desk for an instant answer, the original's office
    #: for a linked duplicate).
    to_office: OfficeCode
    #: Why (added in contract 2.8; records before it were all reassignments).
    because: Literal["reassigned", "answered_instantly", "linked"] = "reassigned"

    @classmethod
    def example(cls) -> CaseWithdrawnV1:
        return cls(
            complaint_id=_EXAMPLE_ID,
            receipt_no="2026-0000001",
            case_id=_EXAMPLE_CASE_ID,
            office=_EXAMPLE_OFFICE,
            at=_EXAMPLE_TIME,
            to_office="district.mapo.roads",
        )


def _staff_example(**values: object) -> dict[str, object]:
    return {
        "complaint_id": _EXAMPLE_ID,
        "receipt_no": "2026-0000001",
        "case_id": _EXAMPLE_CASE_ID,
        "office": _EXAMPLE_OFFICE,
        "at": _EXAMPLE_TIME,
        "staff": "yongsan-0412",
        **values,
    }


class CaseAcceptedV1(StaffAction):
    """The office took the case (접수): it will answer it, transfer it or ask for more time."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.case.accepted"
    schema_version: ClassVar[int] = 1

    @classmethod
    def example(cls) -> CaseAcceptedV1:
        return cls.model_validate(_staff_example())


class CaseRejectedV1(StaffAction):
    """The office refused the case as not its own (반려), saying why: the router reassigns it
    (after two rejections of the same complaint, a person at the triage desk decides)."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.case.rejected"
    schema_version: ClassVar[int] = 1

    reason: Reason
    #: Rejections of this complaint so far, this one included (1 for the first).
    rejections: Annotated[int, Field(ge=1, le=1000)]

    @classmethod
    def example(cls) -> CaseRejectedV1:
        return cls.model_validate(
            _staff_example(reason="시 도로(만리재로)는 도로사업소 소관입니다", rejections=1)
        )


class ExtensionRequestedV1(StaffAction):
    """The office asked once for more time (처리기간 연장), saying why. The deadline itself
    is the SLA service's to set."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.case.extension_requested"
    schema_version: ClassVar[int] = 1

    reason: Reason

    @classmethod
    def example(cls) -> ExtensionRequestedV1:
        return cls.model_validate(_staff_example(reason="현장 조사와 시공업체 견적이 필요합니다"))


class CaseTransferredV1(StaffAction):
    """The office transferred the case to the agency that handles it (이송), saying why."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.case.transferred"
    schema_version: ClassVar[int] = 1

    #: An outside agency (`ext.…`) or an office of the city's directory.
    to_office: OfficeCode
    reason: Reason

    @classmethod
    def example(cls) -> CaseTransferredV1:
        return cls.model_validate(
            _staff_example(to_office="ext.seoul_police", reason="불법 주정차가 아닌 교통사고 신고입니다")
        )


class CaseAnsweredV1(StaffAction):
    """The office answered the citizen (답변). An answer that does not fully resolve the
    complaint tells the citizen how to object (이의신청): a refusal without it is no answer."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.case.answered"
    schema_version: ClassVar[int] = 1

    text: AnswerText
    resolution: Resolution
    #: How to object (이의신청): where, how, within how long. Required unless resolved.
    objection: Reason | None = None

    @model_validator(mode="after")
    def _objection_when_not_resolved(self) -> Self:
        if self.resolution.needs_objection_notice and self.objection is None:
            raise ValueError(f"a {self.resolution.value} answer tells the citizen how to object (objection)")
        return self

    @classmethod
    def example(cls) -> CaseAnsweredV1:
        return cls.model_validate(
            _staff_example(
                text="육교 계단 파손 부위를 11월 24일 보수했습니다. 불편을 드려 죄송합니다.",
                resolution=Resolution.RESOLVED,
            )
        )


class CaseClosedV1(StaffAction):
    """The office closed the case (종결): nothing more happens to it."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.case.closed"
    schema_version: ClassVar[int] = 1

    @classmethod
    def example(cls) -> CaseClosedV1:
        return cls.model_validate(_staff_example())


class DuplicateAnsweredV1(CaseEvent):
    """A complaint linked as a duplicate (중복 민원) of another was answered with the answer the
    office gave to that other one: `case_id` and `office` are the answering case's. Exactly one
    per linked complaint, whichever of the link and the answer arrived first."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.case.duplicate_answered"
    schema_version: ClassVar[int] = 1

    #: The complaint whose answer this is.
    duplicate_of: UUID
    duplicate_of_receipt_no: ReceiptNo
    text: AnswerText
    resolution: Resolution
    objection: Reason | None = None

    @classmethod
    def example(cls) -> DuplicateAnsweredV1:
        return cls(
            complaint_id=UUID("0b7e3d52-1c4f-4a8e-9d26-7f1e2a3b4c5d"),
            receipt_no="2026-0000002",
            case_id=_EXAMPLE_CASE_ID,
            office=_EXAMPLE_OFFICE,
            at=_EXAMPLE_TIME,
            duplicate_of=_EXAMPLE_ID,
            duplicate_of_receipt_no="2026-0000001",
            text="육교 계단 파손 부위를 11월 24일 보수했습니다. 불편을 드려 죄송합니다.",
            resolution=Resolution.RESOLVED,
        )


# -- SLA: statutory deadlines (처리기한, 민원 처리에 관한 법률 제19조) ------------------------------
DeadlineUnit = Literal["days", "weeks", "months", "years", "working_hours", "hours", "same_day"]
DeadlineRule = Literal["working_hours", "working_days", "calendar", "same_day", "elapsed"]
_EXAMPLE_DUE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 18:00 in Seoul


class DeadlineEvent(ComplaintEvent):
    """Something that happened to one complaint's deadline. Owned by the SLA service."""

    #: When the complaint is due (Asia/Seoul offset), after any extension.
    due: AwareDatetime
    #: The office the complaint is assigned to (the one warned), when known.
    office: OfficeCode | None = None


class DeadlineSetV1(DeadlineEvent):
    """The deadline was counted from the moment of receipt (once receipt and assignment were
    both known): the period, how it was counted and on which legal basis."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.deadline.set"
    schema_version: ClassVar[int] = 1

    received_at: AwareDatetime
    #: The period as the law or rule states it: `amount` of `unit` (0 for `same_day`).
    amount: Annotated[int, Field(ge=0, le=10_000)]
    unit: DeadlineUnit
    rule: DeadlineRule
    #: The case type the period comes from (sla's periods table) and its legal basis.
    category: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,59}$")]
    basis: Annotated[str, StringConstraints(min_length=1, max_length=500)]

    @classmethod
    def example(cls) -> DeadlineSetV1:
        return cls(
            complaint_id=_EXAMPLE_ID,
            receipt_no="2026-0000001",
            due=_EXAMPLE_DUE,
            office=_EXAMPLE_OFFICE,
            received_at=_EXAMPLE_TIME,
            amount=7,
            unit="days",
            rule="working_days",
            category="grievance",
            basis="민원 처리에 관한 법률 시행령 제17조제1항 (고충민원: 7일)",
        )


class DeadlineExtendedV1(DeadlineEvent):
    """The office's request for more time was granted: once, by at most the original period."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.deadline.extended"
    schema_version: ClassVar[int] = 1

    previous_due: AwareDatetime
    reason: Reason

    @classmethod
    def example(cls) -> DeadlineExtendedV1:
        return cls(
            complaint_id=_EXAMPLE_ID,
            receipt_no="2026-0000001",
            due=datetime(2026, 12, 10, 9, 0, tzinfo=UTC),
            office=_EXAMPLE_OFFICE,
            previous_due=_EXAMPLE_DUE,
            reason="현장 조사와 시공업체 견적이 필요합니다",
        )


class DeadlineMovedV1(DeadlineEvent):
    """A holiday declared at run time moved the open deadline (counted again from receipt)."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.deadline.moved"
    schema_version: ClassVar[int] = 1

    previous_due: AwareDatetime
    #: Every holiday declared at run time the new due moment was counted with (YYYY-MM-DD).
    declared: Annotated[tuple[date, ...], Field(max_length=1000)]

    @classmethod
    def example(cls) -> DeadlineMovedV1:
        return cls(
            complaint_id=_EXAMPLE_ID,
            receipt_no="2026-0000001",
            due=datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
            office=_EXAMPLE_OFFICE,
            previous_due=_EXAMPLE_DUE,
            declared=(date(2026, 11, 25),),
        )


class DeadlineWarnedV1(DeadlineEvent):
    """The deadline is near (a share of the period passed, or an hour left): the office is told."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.deadline.warned"
    schema_version: ClassVar[int] = 1

    at: AwareDatetime
    #: `share`: the configured share of the period has passed; `last_hour`: one working hour left.
    stage: Literal["share", "last_hour"]

    @classmethod
    def example(cls) -> DeadlineWarnedV1:
        return cls(
            complaint_id=_EXAMPLE_ID,
            receipt_no="2026-0000001",
            due=_EXAMPLE_DUE,
            office=_EXAMPLE_OFFICE,
            at=datetime(2026, 11, 30, 8, 0, tzinfo=UTC),
            stage="last_hour",
        )


class DeadlineBreachedV1(DeadlineEvent):
    """The due moment passed without an answer (처리기한 경과)."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.deadline.breached"
    schema_version: ClassVar[int] = 1

    at: AwareDatetime

    @classmethod
    def example(cls) -> DeadlineBreachedV1:
        return cls(
            complaint_id=_EXAMPLE_ID,
            receipt_no="2026-0000001",
            due=_EXAMPLE_DUE,
            office=_EXAMPLE_OFFICE,
            at=datetime(2026, 12, 1, 9, 0, 1, tzinfo=UTC),
        )


class DeadlineMetV1(DeadlineEvent):
    """The complaint was answered: the statutory and the actual processing period in the same
    unit (the one the period is counted in), which the speed index compares."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.deadline.met"
    schema_version: ClassVar[int] = 1

    answered_at: AwareDatetime
    statutory: Annotated[float, Field(ge=0)]
    actual: Annotated[float, Field(ge=0)]
    measured_in: Literal["working_hours", "working_days", "days", "hours"]
    #: Answered by the due moment.
    within: bool

    @classmethod
    def example(cls) -> DeadlineMetV1:
        return cls(
            complaint_id=_EXAMPLE_ID,
            receipt_no="2026-0000001",
            due=_EXAMPLE_DUE,
            office=_EXAMPLE_OFFICE,
            answered_at=datetime(2026, 11, 26, 5, 0, tzinfo=UTC),
            statutory=7,
            actual=5,
            measured_in="working_days",
            within=True,
        )


# -- Rating: the citizen's satisfaction with the answer (만족도 평가) -----------------------------
Score = Annotated[int, Field(ge=1, le=5)]
#: What gave the citizen the answer they rate.
AnsweredBy = Literal["office", "instant", "duplicate"]
RatingComment = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class RatingEvent(ComplaintEvent):
    """Something about the rating of one complaint's answer. Owned by the rating service."""

    #: Identifies the invitation (and the single-use link made from it; the link itself never
    #: travels on this stream).
    invitation_id: UUID
    #: The office whose answer is rated (None for the desk's instant answers).
    office: OfficeCode | None = None


class RatingInvitedV1(RatingEvent):
    """The complaint was answered: the citizen is invited to rate the answer 1–5 until
    `expires_at`. The notifier sends the link (it asks the rating service for it)."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.rating.invited"
    schema_version: ClassVar[int] = 1

    answered_by: AnsweredBy
    answered_at: AwareDatetime
    expires_at: AwareDatetime

    @classmethod
    def example(cls) -> RatingInvitedV1:
        return cls(
            complaint_id=_EXAMPLE_ID,
            receipt_no="2026-0000001",
            invitation_id=_EXAMPLE_CASE_ID,
            office=_EXAMPLE_OFFICE,
            answered_by="office",
            answered_at=datetime(2026, 11, 26, 5, 0, tzinfo=UTC),
            expires_at=datetime(2026, 12, 26, 5, 0, tzinfo=UTC),
        )


class RatedV1(RatingEvent):
    """The citizen rated the answer (once per invitation). `comment` is personal by default:
    only casework (the office) may read it; nothing public shows it."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.rating.rated"
    schema_version: ClassVar[int] = 1

    score: Score
    rated_at: AwareDatetime
    answered_by: AnsweredBy
    comment: RatingComment | None = None

    @classmethod
    def example(cls) -> RatedV1:
        return cls(
            complaint_id=_EXAMPLE_ID,
            receipt_no="2026-0000001",
            invitation_id=_EXAMPLE_CASE_ID,
            office=_EXAMPLE_OFFICE,
            score=4,
            rated_at=datetime(2026, 11, 27, 1, 0, tzinfo=UTC),
            answered_by="office",
        )


class ReviewRequestedV1(RatingEvent):
    """A low score (1–2): the office is asked to review how it handled the case (casework
    shows it in the office's review queue)."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.rating.review_requested"
    schema_version: ClassVar[int] = 1

    score: Score
    rated_at: AwareDatetime
    comment: RatingComment | None = None

    @classmethod
    def example(cls) -> ReviewRequestedV1:
        return cls(
            complaint_id=_EXAMPLE_ID,
            receipt_no="2026-0000001",
            invitation_id=_EXAMPLE_CASE_ID,
            office=_EXAMPLE_OFFICE,
            score=1,
            rated_at=datetime(2026, 11, 27, 1, 0, tzinfo=UTC),
            comment="답변이 현장 상황과 다릅니다",
        )


RatingToken = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-.:]{16,512}$")]


class RatingLinkIssuedV1(RatingEvent):
    """The single-use rating token of an invitation, for the notifier to send to the citizen
    (and to nobody else): it travels only on `eungdapso.rating.links`, which only the
    notifier may read."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.rating.link_issued"
    schema_version: ClassVar[int] = 1

    token: RatingToken
    expires_at: AwareDatetime

    @classmethod
    def example(cls) -> RatingLinkIssuedV1:
        return cls(
            complaint_id=_EXAMPLE_ID,
            receipt_no="2026-0000001",
            invitation_id=_EXAMPLE_CASE_ID,
            office=_EXAMPLE_OFFICE,
            token="eyJpIjoiOGMxZDJlM2YifQ.Z1x2Yw.Qm9ndXNTaWduYXR1cmVFeGFtcGxl",  # noqa: S106 (an example)
            expires_at=datetime(2026, 12, 26, 5, 0, tzinfo=UTC),
        )


# -- Notifier: emergency broadcasts (긴급 알림) -------------------------------------------------
BroadcastText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
#: Who a broadcast went to: `account:<SNS account code>`, or `sms:<subscriber ref>` (an opaque
#: reference the notifier keeps, never a phone number).
BroadcastTarget = Annotated[str, StringConstraints(pattern=r"^(account|sms):[A-Za-z0-9_.\-]{1,80}$")]
_EXAMPLE_BROADCAST_ID = UUID("b7d0c3a1-5e2f-4a6b-9c8d-1e2f3a4b5c6d")


class BroadcastEvent(Payload):
    """Something about one emergency broadcast, owned by the notifier; keyed by its id."""

    broadcast_id: UUID

    @property
    def cloudevents_subject(self) -> str:
        return str(self.broadcast_id)


class BroadcastPostedV1(BroadcastEvent):
    """An administrator posted an emergency alert: to the city's SNS accounts listed, and
    by SMS to `sms_recipients` citizens who opted in, in the districts listed (none: the
    whole city)."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.notifier.broadcast_posted"
    schema_version: ClassVar[int] = 1

    title: ShortText
    text: BroadcastText
    districts: tuple[District, ...] = ()
    accounts: tuple[Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.\-]{1,60}$")], ...]
    sms_recipients: Annotated[int, Field(ge=0)] = 0
    posted_at: AwareDatetime
    #: The administrator's key name (not a person's name).
    posted_by: ShortText

    @classmethod
    def example(cls) -> BroadcastPostedV1:
        return cls(
            broadcast_id=_EXAMPLE_BROADCAST_ID,
            title="호우경보",
            text="한강 수위 상승으로 잠수교 보행이 통제됩니다. 안전에 유의하세요.",
            districts=(District.YONGSAN, District.SEOCHO),
            accounts=("seoulcity.x", "seoulcity.facebook"),
            sms_recipients=1200,
            posted_at=datetime(2026, 7, 14, 6, 0, tzinfo=UTC),
            posted_by="safety-duty-officer",
        )


class BroadcastDeliveredV1(BroadcastEvent):
    """One target of a broadcast received it (once per broadcast and target)."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.notifier.broadcast_delivered"
    schema_version: ClassVar[int] = 1

    target: BroadcastTarget
    provider: ShortText
    provider_message_id: ShortText | None = None
    delivered_at: AwareDatetime

    @classmethod
    def example(cls) -> BroadcastDeliveredV1:
        return cls(
            broadcast_id=_EXAMPLE_BROADCAST_ID,
            target="account:seoulcity.x",
            provider="x",
            provider_message_id="1900000000000000001",
            delivered_at=datetime(2026, 7, 14, 6, 0, 2, tzinfo=UTC),
        )


class BroadcastDeliveryFailedV1(BroadcastEvent):
    """One target of a broadcast could not be reached: refused, or the provider stayed
    unavailable through every attempt. `reason` is the provider's (status and error code)."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.notifier.broadcast_delivery_failed"
    schema_version: ClassVar[int] = 1

    target: BroadcastTarget
    provider: ShortText
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    attempts: Annotated[int, Field(ge=1)]
    failed_at: AwareDatetime

    @classmethod
    def example(cls) -> BroadcastDeliveryFailedV1:
        return cls(
            broadcast_id=_EXAMPLE_BROADCAST_ID,
            target="account:seoulcity.facebook",
            provider="facebook",
            reason="facebook: HTTP 503",
            attempts=5,
            failed_at=datetime(2026, 7, 14, 6, 1, tzinfo=UTC),
        )


# -- Notifier: what the citizen and the office were told (알림) --------------------------------------
#: The moments the notifier tells someone about (the citizen's, then the office's).
NoticeStage = Literal[
    "received",
    "assigned",
    "extended",
    "transferred",
    "answered",
    # The rating link, when it came after the answer's notice had gone without it.
    "rating_invited",
    "office_new_case",
    "office_deadline_warning",
    "office_breach",
    "office_low_rating",
]
#: Where a notice went: the citizen's own channel, the citizen page, the letter queue, a callback
#: task for the 120 agents, or the office's e-mail.
NoticeMedium = Literal["sms", "email", "x", "facebook", "web", "letter", "callback"]
ProviderName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.\-]{1,40}$")]


class NoticeEvent(ComplaintEvent):
    """One notice about one complaint. Ids and codes only: the address, the text and the
    rating link stay in the notifier (personal data)."""

    #: Derived from (complaint, stage, occurrence, medium): the same notice is the same id.
    notice_id: UUID
    stage: NoticeStage
    #: The n-th time the complaint reached this stage (a second transfer is another notice).
    occurrence: Annotated[int, Field(ge=1, le=100)] = 1
    medium: NoticeMedium
    language: Language
    recipient: Literal["citizen", "office"]
    #: The office concerned (the office's own notices; the handling office otherwise).
    office: OfficeCode | None = None
    provider: ProviderName
    attempt: Annotated[int, Field(ge=1, le=100)]
    at: AwareDatetime


class NoticeSentV1(NoticeEvent):
    """The provider accepted the notice (for the citizen page, the letter queue and callback
    tasks: it was put there)."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.notice.sent"
    schema_version: ClassVar[int] = 1

    #: The form it took, where the provider says (`sms`, `lms`, `mms`, `reply`, ...).
    form: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_\-]{1,20}$")] | None = None

    @classmethod
    def example(cls) -> NoticeSentV1:
        return cls(
            complaint_id=_EXAMPLE_ID,
            receipt_no="2026-0000001",
            notice_id=UUID("5b0c7a2e-1d3f-4e5a-9b8c-7d6e5f4a3b2c"),
            stage="assigned",
            medium="sms",
            language=Language.KO,
            recipient="citizen",
            office=_EXAMPLE_OFFICE,
            provider="sms-http",
            attempt=1,
            at=datetime(2026, 11, 20, 0, 7, tzinfo=UTC),
            form="lms",
        )


class NoticeFailedV1(NoticeEvent):
    """The notice could not be delivered on this medium: refused by the provider, or the
    provider stayed unavailable for every attempt allowed. `fallback` is the medium tried
    next (None: none was left, or it was an office's notice)."""

    event_type: ClassVar[str] = "kr.go.seoul.eungdapso.notice.failed"
    schema_version: ClassVar[int] = 1

    #: The provider's reason (never the address or the text).
    reason: Reason
    fallback: NoticeMedium | None = None

    @classmethod
    def example(cls) -> NoticeFailedV1:
        return cls(
            complaint_id=_EXAMPLE_ID,
            receipt_no="2026-0000001",
            notice_id=UUID("5b0c7a2e-1d3f-4e5a-9b8c-7d6e5f4a3b2c"),
            stage="assigned",
            medium="sms",
            language=Language.KO,
            recipient="citizen",
            office=_EXAMPLE_OFFICE,
            provider="sms-http",
            attempt=5,
            at=datetime(2026, 11, 20, 0, 37, tzinfo=UTC),
            reason="gateway answered 503 five times",
            fallback="web",
        )
