"""Codes shared by every API, event and table (DOMAIN.md, "Codes")."""

from enum import StrEnum


class Channel(StrEnum):
    """How the citizen reached the city."""

    WEB = "web"
    APP = "app"
    PHONE = "phone"  # 120 Dasan call center
    SMS = "sms"
    SNS = "sns"
    VISIT = "visit"  # 열린민원실
    FAX = "fax"
    MAIL = "mail"
    INTEGRATION = "integration"  # an integrator publishing directly to Kafka


class Kind(StrEnum):
    """Registration kind (민원, 의견·제안, 문의, and the confidential reports)."""

    COMPLAINT = "complaint"
    PROPOSAL = "proposal"
    INQUIRY = "inquiry"
    CORRUPTION_REPORT = "corruption_report"  # 공직자 부패신고
    WHISTLEBLOWING = "whistleblowing"  # 공익신고
    HUMAN_RIGHTS = "human_rights"  # 인권침해 구제신청
    WELFARE_REPORT = "welfare_report"  # 복지문제 신고

    @property
    def confidential(self) -> bool:
        """The reporter's identity and the content of these reports are never public."""
        return self in CONFIDENTIAL_KINDS


CONFIDENTIAL_KINDS = frozenset({Kind.CORRUPTION_REPORT, Kind.WHISTLEBLOWING, Kind.HUMAN_RIGHTS})


class MessageClass(StrEnum):
    """메시지민원 처리규정 classes."""

    FIELD = "field"
    PROPOSAL = "proposal"
    GENERAL = "general"
    COMMUNICATION = "communication"


class Field(StrEnum):
    """Administrative field of the grievance."""

    HOUSING_BUILDING = "housing_building"
    ROADS_TRAFFIC = "roads_traffic"
    GENERAL_ADMIN = "general_admin"
    ENVIRONMENT_PARKS = "environment_parks"
    HEALTH_WELFARE = "health_welfare"
    URBAN_PLANNING = "urban_planning"
    INDUSTRY_CULTURE = "industry_culture"
    SAFETY = "safety"
    OTHER = "other"


class District(StrEnum):
    """The 25 autonomous districts (자치구)."""

    JONGNO = "jongno"
    JUNG = "jung"
    YONGSAN = "yongsan"
    SEONGDONG = "seongdong"
    GWANGJIN = "gwangjin"
    DONGDAEMUN = "dongdaemun"
    JUNGNANG = "jungnang"
    SEONGBUK = "seongbuk"
    GANGBUK = "gangbuk"
    DOBONG = "dobong"
    NOWON = "nowon"
    EUNPYEONG = "eunpyeong"
    SEODAEMUN = "seodaemun"
    MAPO = "mapo"
    YANGCHEON = "yangcheon"
    GANGSEO = "gangseo"
    GURO = "guro"
    GEUMCHEON = "geumcheon"
    YEONGDEUNGPO = "yeongdeungpo"
    DONGJAK = "dongjak"
    GWANAK = "gwanak"
    SEOCHO = "seocho"
    GANGNAM = "gangnam"
    SONGPA = "songpa"
    GANGDONG = "gangdong"


class Language(StrEnum):
    KO = "ko"
    EN = "en"
    ZH = "zh"
    JA = "ja"
    VI = "vi"
    MN = "mn"


class OfficeLevel(StrEnum):
    """Where the responsible office sits."""

    HEADQUARTERS = "headquarters"  # 본청 bureaus and divisions
    CITY_OFFICE = "city_office"  # 사업소
    DISTRICT = "district"  # 자치구
    EXTERNAL = "external"  # central government or another local government (이송/이첩)


class Disclosure(StrEnum):
    """Whether the citizen lets the complaint's text and answer be published (redacted), as
    국민신문고 lets citizens choose. Private unless the citizen chose otherwise."""

    PUBLIC = "public"
    PRIVATE = "private"


class AttachmentKind(StrEnum):
    """What an attachment is, decided from its content, never from its name."""

    PHOTO = "photo"
    VIDEO = "video"
    VOICE = "voice"
    DOCUMENT = "document"


class ReplyMedium(StrEnum):
    """How the citizen can be answered on their own channel (notifier issue)."""

    SMS = "sms"  # a mobile number: SMS/LMS/MMS
    PHONE = "phone"  # a number to call back (120)
    EMAIL = "email"
    SNS = "sns"  # a handle or user id, answered through the same city account
    POST = "post"  # a postal address (visit, mail, fax)
    WEB = "web"  # only the citizen page (receipt number and private link)


class Resolution(StrEnum):
    """How an office's answer settles the complaint (처리결과). An answer that does not fully
    grant it must tell the citizen how to object (이의신청)."""

    RESOLVED = "resolved"  # 수용
    PARTLY = "partly"  # 일부 수용
    NOT_POSSIBLE = "not_possible"  # 불수용

    @property
    def needs_objection_notice(self) -> bool:
        return self is not Resolution.RESOLVED
