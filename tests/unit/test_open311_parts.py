"""Open311 GeoReport v2 pieces that need no database: the service list against the official
schemas, the wire formats, reading a client's form, the privacy rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from starlette.datastructures import FormData

from eungdapso_intake.open311 import catalogue, submission
from eungdapso_intake.open311.errors import Invalid
from eungdapso_intake.open311.privacy import MASK, mask_contacts, rounded
from eungdapso_intake.open311.readmodel import as_request
from eungdapso_intake.open311.render import Format, answer, w3c
from eungdapso_intake.open311.routes import window
from eungdapso_platform.problems import Problem
from eungdapso_schemas.codes import Channel, Disclosure, Field, Kind, Language, ReplyMedium
from eungdapso_schemas.subjects import SUBJECTS
from tests.support.open311 import (
    SCHEMA_FILES,
    SCHEMAS,
    SHARED_SCHEMAS,
    as_xml_text,
    validate,
    xml_value,
)


def test_the_copied_schemas_are_the_shared_originals() -> None:
    if not SHARED_SCHEMAS.exists():
        pytest.skip("no ../shared on this machine (a fresh clone): the copies are all there is")
    for name in (*SCHEMA_FILES, "swagger.json"):
        assert (SCHEMAS / name).read_bytes() == (SHARED_SCHEMAS / name).read_bytes(), name


# -- the service list -------------------------------------------------------------------


def test_the_service_list_is_our_taxonomy_and_valid_open311() -> None:
    listed = [s.as_open311() for s in catalogue.SERVICES]
    validate(listed, "services.json")
    codes = [s["service_code"] for s in listed]
    assert len(codes) == len(set(codes))
    # The subjects every service shares, except the confidential reports.
    assert {s.code for s in SUBJECTS} - set(codes) == {"corruption", "human_rights"}
    # Every field of DOMAIN.md is a service, and the everyday types have their own.
    assert {f.value for f in Field} <= set(codes)
    assert {
        "pothole",
        "illegal_parking",
        "streetlight",
        "illegal_dumping",
        "noise",
        "welfare_benefit",
    } <= set(codes)
    pothole = catalogue.service("pothole")
    assert pothole is not None and pothole.field is Field.ROADS_TRAFFIC
    assert pothole.as_open311()["group"] == "도로·교통 (Roads & traffic)"
    assert all(s["type"] == "realtime" and s["metadata"] is True for s in listed)


@pytest.mark.parametrize("service", catalogue.SERVICES, ids=lambda s: s.code)
def test_each_service_definition_is_valid_open311(service: catalogue.Service) -> None:
    definition = service.definition()
    validate(definition, "service-definition.json")
    attributes = {a["code"]: a for a in definition["attributes"]}  # type: ignore[union-attr,index]
    assert set(attributes) == {"kind", "language", "disclosure"}
    assert sorted(a["order"] for a in attributes.values()) == [1, 2, 3]
    # No confidential kind can be chosen: those reports never go through a third party.
    kinds = {v["key"] for v in attributes["kind"]["values"]}
    assert kinds and not any(Kind(k).confidential for k in kinds)
    assert {v["key"] for v in attributes["disclosure"]["values"]} == {"public", "private"}


def test_a_complaint_shows_under_its_subject_else_its_field_else_other() -> None:
    assert catalogue.service_for("pothole", Field.ROADS_TRAFFIC) is catalogue.service("pothole")
    assert catalogue.service_for(None, Field.ROADS_TRAFFIC) is catalogue.service("roads_traffic")
    assert catalogue.service_for(None, None) is catalogue.service("other")
    # A confidential report's subject is no service: never named, not even by its code.
    assert catalogue.service_for("corruption", Field.GENERAL_ADMIN) is catalogue.service("general_admin")
    # Subjects that share a field's code are the subject's service.
    urban = catalogue.service_for("urban_planning", Field.URBAN_PLANNING)
    assert urban is not None and urban.subject == "urban_planning"


# -- wire formats ---------------------------------------------------------------------


def test_xml_carries_the_same_data_as_json() -> None:
    definition = catalogue.service("noise").definition()  # type: ignore[union-attr]
    as_json = json.loads(answer(Format.JSON, "service_definition", definition).body)
    root, as_xml = xml_value(bytes(answer(Format.XML, "service_definition", definition).body))
    assert root == "service_definition"
    assert as_xml == as_xml_text(as_json)
    response = answer(Format.XML, "services", [s.as_open311() for s in catalogue.SERVICES])
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert answer(Format.JSON, "services", []).headers["content-type"] == "application/json; charset=utf-8"


def test_datetimes_are_w3c_with_their_offset() -> None:
    assert w3c(datetime(2026, 11, 20, 0, 5, tzinfo=UTC)) == "2026-11-20T09:05:00+09:00"


def test_the_answer_format_is_the_paths_suffix() -> None:
    assert Format.of_path("/open311/v2/services.json") is Format.JSON
    assert Format.of_path("/open311/v2/services.xml", "application/json") is Format.XML
    # A path without a known suffix: XML (the spec's required format) unless JSON is asked.
    assert Format.of_path("/open311/v2/nothing") is Format.XML
    assert Format.of_path("/open311/v2/nothing", "application/json") is Format.JSON


# -- the form ---------------------------------------------------------------------------

#: What FixMyStreet's Open311.pm posts (`_populate_service_request_params`, `_request`).
FIXMYSTREET_FORM = [
    ("jurisdiction_id", "seoul.go.kr"),
    ("api_key", "eds_x"),
    (
        "description",
        "title: 육교 계단 구멍\n\ndetail: 계단에 5cm 구멍이 두 개\n\nurl: https://fms.example/report/1",
    ),
    ("service_code", "footbridge"),
    ("first_name", "Test"),
    ("last_name", "User"),
    ("email", "test@example.com"),
    ("phone", "(02) 123-4567"),
    ("lat", "37.553600"),
    ("long", "126.968000"),
    ("media_url", "https://fms.example/photo/1.full.jpeg"),
    ("attribute[disclosure]", "public"),
    ("attribute[uprn]", "100012345"),
]


def form(*pairs: tuple[str, str]) -> FormData:
    return FormData(list(pairs))


def test_a_fixmystreet_form_becomes_the_intake_command() -> None:
    parsed = submission.parse(form(*FIXMYSTREET_FORM))
    command = parsed.command(client="fixmystreet", attachments=())
    assert command.channel is Channel.APP and command.registered_by == "open311:fixmystreet"
    assert command.field is Field.ROADS_TRAFFIC and command.kind is Kind.COMPLAINT
    assert command.language is Language.KO and command.disclosure is Disclosure.PUBLIC
    # The citizen's description is the text, exactly; the service chosen is the subject.
    assert command.text == dict(FIXMYSTREET_FORM)["description"]
    assert command.subject == "footbridge"
    assert command.place is not None and (command.place.lat, command.place.lon) == (37.5536, 126.968)
    assert command.citizen is not None
    assert (command.citizen.name, command.citizen.phone, command.citizen.email) == (
        "Test User",
        "02 123-4567",
        "test@example.com",
    )
    assert command.reply_to is not None and command.reply_to.medium is ReplyMedium.EMAIL
    assert parsed.media_urls == ("https://fms.example/photo/1.full.jpeg",)
    assert parsed.notes and "uprn" in parsed.notes[0]


def test_attributes_choose_kind_language_and_disclosure_with_defaults() -> None:
    plain = submission.parse(
        form(("service_code", "welfare_benefit"), ("address_string", "서울 중구 세종대로 110"))
    )
    assert (
        plain.kind is Kind.INQUIRY
        and plain.language is Language.KO
        and plain.disclosure is Disclosure.PRIVATE
    )
    # No description (the spec allows it): the text is the service's name.
    assert plain.citizen is None and plain.text == catalogue.service("welfare_benefit").name  # type: ignore[union-attr]
    assert plain.command(client="c", attachments=()).subject == "welfare_benefit"
    assert plain.place.address == "서울 중구 세종대로 110" and plain.place.lat is None
    chosen = submission.parse(
        form(
            ("service_code", "noise"),
            ("address_id", "11140-0001"),
            ("attribute[kind][]", "proposal"),
            ("attribute[language]", "en"),
        )
    )
    assert chosen.kind is Kind.PROPOSAL and chosen.language is Language.EN
    assert chosen.place.address == "address_id 11140-0001"


def test_a_fields_service_records_the_field_and_no_subject() -> None:
    description = " " + "가" * 4000 + "\n"  # the spec's limit once trimmed: kept whole
    parsed = submission.parse(
        form(("service_code", "safety"), ("lat", "37.5"), ("long", "126.9"), ("description", description))
    )
    command = parsed.command(client="c", attachments=())
    assert command.subject is None and command.field is Field.SAFETY
    assert command.text == description.strip()


def test_korean_names_put_the_family_name_first() -> None:
    assert submission.full_name("길동", "홍") == "홍길동"
    assert submission.full_name("Test", "User") == "Test User"
    assert submission.full_name("Test", None) == "Test"
    assert submission.full_name(None, None) is None


def errors_of(raised: pytest.ExceptionInfo[Problem]) -> dict[str, str]:
    return {e["field"]: e["message"] for e in raised.value.extra["errors"]}


@pytest.mark.parametrize(
    ("pairs", "parameter"),
    [
        ([("lat", "37.5"), ("long", "126.9")], "service_code"),
        ([("service_code", "pothole")], "location"),
        ([("service_code", "pothole"), ("lat", ""), ("long", ""), ("address_string", " ")], "location"),
        ([("service_code", "pothole"), ("lat", "37.5")], "long"),
        ([("service_code", "pothole"), ("lat", "north"), ("long", "126.9")], "lat"),
        ([("service_code", "pothole"), ("lat", "51.5"), ("long", "-0.1")], "lat"),
        ([("service_code", "pothole"), ("lat", "37.5"), ("long", "126.9"), ("attribute[kind]", "gossip")],
         "attribute[kind]"),
        ([("service_code", "pothole"), ("lat", "37.5"), ("long", "126.9"),
          ("attribute[kind]", "corruption_report")], "attribute[kind]"),
        ([("service_code", "pothole"), ("lat", "37.5"), ("long", "126.9"), ("attribute[language]", "ko"),
          ("attribute[language]", "en")], "attribute[language]"),
        ([("service_code", "pothole"), ("lat", "37.5"), ("long", "126.9"), ("email", "nobody")], "email"),
        ([("service_code", "pothole"), ("lat", "37.5"), ("long", "126.9"), ("phone", "call me")], "phone"),
        ([("service_code", "pothole"), ("lat", "37.5"), ("long", "126.9"), ("description", "가" * 4001)],
         "description"),
        ([("service_code", "pothole"), ("lat", "37.5"), ("long", "126.9"), ("media_url", "file:///etc/passwd")],
         "media_url"),
    ],
)  # fmt: skip
def test_bad_or_missing_parameters_are_named(pairs: list[tuple[str, str]], parameter: str) -> None:
    with pytest.raises(Invalid) as raised:
        submission.parse(form(*pairs))
    assert raised.value.status == 400
    assert parameter in errors_of(raised)  # type: ignore[arg-type]


def test_an_unknown_service_is_not_found() -> None:
    with pytest.raises(Problem) as raised:
        submission.parse(form(("service_code", "confidential"), ("lat", "37.5"), ("long", "126.9")))
    assert raised.value.status == 404


# -- dates ------------------------------------------------------------------------------

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_the_date_range_is_the_last_90_days_unless_told_and_never_longer() -> None:
    assert window(None, None, NOW) == (NOW - timedelta(days=90), NOW)
    start = NOW - timedelta(days=10)
    assert window(start, None, NOW) == (start, start + timedelta(days=90))
    assert window(None, NOW, NOW) == (NOW - timedelta(days=90), NOW)
    with pytest.raises(Invalid):
        window(NOW - timedelta(days=91), NOW, NOW)
    with pytest.raises(Invalid):
        window(NOW, NOW - timedelta(days=1), NOW)


# -- privacy ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("연락처 010-1234-5678 입니다", f"연락처 {MASK} 입니다"),
        ("010-1234-5678로 연락 주세요", f"{MASK}로 연락 주세요"),
        ("01012345678", MASK),
        ("+82 10-1234-5678", MASK),
        ("전화 (02)1234-5678, 02 123 4567, 031.123.4567", f"전화 {MASK}, {MASK}, {MASK}"),
        ("hong.gildong@example.co.kr 로 답변 바랍니다", f"{MASK} 로 답변 바랍니다"),
        # Not phone numbers: kept.
        (
            "2026-11-20 오후 3시, 만리재로 193 앞 12345번 버스",
            "2026-11-20 오후 3시, 만리재로 193 앞 12345번 버스",
        ),
        ("접수번호 2026-0000123 건 관련", "접수번호 2026-0000123 건 관련"),
        ("101동 1203호, 1588-1234", "101동 1203호, 1588-1234"),
    ],
)
def test_disclosed_text_is_published_with_phone_numbers_and_emails_masked(text: str, masked: str) -> None:
    assert mask_contacts(text) == masked


def test_published_coordinates_are_rounded_to_about_100_m() -> None:
    assert rounded(37.553612) == 37.554 and rounded(126.968049) == 126.968
    assert rounded(None) is None


def test_a_confidential_row_shows_only_that_a_report_exists_and_its_status() -> None:
    row = {
        "service_request_id": "2026-0000001",
        "status": "open",
        "service_code": catalogue.CONFIDENTIAL,
        "confidential": True,
        "requested_datetime": NOW,
        "updated_datetime": NOW,
        "description": "should never be here",
        "address": "nor this",
        "lat": 37.5,
        "long": 126.9,
        "agency_responsible": "감사위원회",
    }
    shown = as_request(row)
    validate(json.loads(answer(Format.JSON, "service_requests", [shown]).body), "requests.json")
    assert {k for k, v in shown.items() if v is not None} == {
        "service_request_id",
        "status",
        "service_code",
        "service_name",
        "requested_datetime",
        "updated_datetime",
    }


def test_the_open311_read_model_takes_what_arrived_on_its_own_cadence() -> None:
    """Nobody waits on it to the millisecond ("a new request appears within seconds"), and a
    batch per 50 ms fetch cost intake more than the complaints themselves at moderate load."""
    from eungdapso_intake.open311 import requests_projection
    from eungdapso_intake.settings import IntakeSettings
    from eungdapso_platform.db import Database

    settings = IntakeSettings()
    projection = requests_projection(settings, Database.for_service(settings))
    assert settings.open311_cadence_s == projection.cadence_s > 0
    assert projection.fetch_max_wait_ms >= settings.open311_cadence_s * 1000
    off = IntakeSettings(open311_cadence_s=0)
    assert requests_projection(off, Database.for_service(off)).cadence_s == 0
