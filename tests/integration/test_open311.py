"""Open311 GeoReport v2 on a real PostgreSQL, driven as real clients drive it: FixMyStreet's
Open311.pm (form POST with `api_key`, `jurisdiction_id`, `attribute[...]`, `lat`/`long`,
names; the XML answer read as XML::Simple reads it) and a SeeClickFix-style JSON client.
Every JSON answer is checked against the official schemas; every XML answer carries the
same data. The read model is fed what intake records (the outbox's own translation of the
recorded events) and what the router would publish, record by record."""

from __future__ import annotations

import functools
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
from fastapi.testclient import TestClient

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_intake.application import OUTBOX, IntakeApplication
from eungdapso_intake.bootstrap import bootstrap
from eungdapso_intake.clients import Scope
from eungdapso_intake.services import Idempotency
from eungdapso_platform.consumer import IncomingRecord, Projection
from eungdapso_platform.eventstore import LedgeredPostgresRecorder
from eungdapso_schemas.codes import AttachmentKind, Channel, Disclosure, District, Field, Kind, OfficeLevel
from eungdapso_schemas.envelope import Envelope, encode
from eungdapso_schemas.events import (
    Citizen,
    ComplaintAssignedV1,
    ComplaintReceivedV1,
    ComplaintReceivedV2,
    Office,
    Payload,
    Place,
)
from eungdapso_schemas.streams import stream_for
from tests.integration.test_intake_http import admin_connection, settings_for, stored_events
from tests.support.media import has_gps, photo
from tests.support.open311 import as_xml_text, validate, validate_swagger, xml_value

pytestmark = pytest.mark.integration

V2 = "/open311/v2"
FORM = "application/x-www-form-urlencoded"
#: What FixMyStreet's Open311.pm posts for a report (`_populate_service_request_params`,
#: extended description; `_request` adds `jurisdiction_id` and `api_key`).
FMS_DESCRIPTION = (
    "title: 육교 계단 구멍\n\ndetail: 계단에 5cm 구멍이 두 개, 연락은 010-1234-5678로\n\n"
    "url: https://fixmystreet.example/report/80\n\nSubmitted via FixMyStreet\n"
)
PERSONAL = ("Test", "User", "test@example.com", "010-1234-5678", "02-123-4567", "device-42", "acct-9")


def fixmystreet_form(api_key: str) -> dict[str, str]:
    return {
        "jurisdiction_id": "seoul.go.kr",
        "api_key": api_key,
        "description": FMS_DESCRIPTION,
        "service_code": "footbridge",
        "first_name": "Test",
        "last_name": "User",
        "email": "test@example.com",
        "phone": "02-123-4567",
        "account_id": "acct-9",
        "lat": "37.553600",
        "long": "126.968000",
        "attribute[disclosure]": "public",
        "attribute[uprn]": "100012345",
    }


@pytest.fixture
def intake(database: PostgresTarget, tmp_path: Path) -> Iterator[TestClient]:
    # No broker: the read model is fed record by record (`apply`); the e2e test runs the broker.
    settings = settings_for(
        database, attachments_dir=tmp_path / "blobs", attachment_fetch_allowed_hosts="localhost"
    )
    with TestClient(bootstrap(settings), raise_server_exceptions=False) as client:
        yield client


class PhotoHost(BaseHTTPRequestHandler):
    """A client's photo server: `/photo.jpg` is a photo (with its GPS position), anything
    else 404."""

    def do_GET(self) -> None:
        content = photo("JPEG") if self.path == "/photo.jpg" else b""
        self.send_response(200 if content else 404)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def photos() -> Iterator[str]:
    """The base URL of a photo server on loopback (allowed by ATTACHMENT_FETCH_ALLOWED_HOSTS)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), PhotoHost)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def new_key(
    client: TestClient, name: str, scopes: tuple[Scope, ...] = (Scope.OPEN311,), rate_per_minute: int = 600
) -> str:
    directory = client.app.state.clients  # type: ignore[attr-defined]
    create = functools.partial(directory.create, name, scopes, rate_per_minute)
    _, key = client.portal.call(create)  # type: ignore[union-attr]
    return str(key)


@pytest.fixture
def api_key(intake: TestClient) -> str:
    return new_key(intake, "fixmystreet")


def recorded(intake: TestClient) -> list[Envelope[Any]]:
    """What the outbox relay publishes of everything intake recorded, in order."""
    app: IntakeApplication = intake.app.state.intake.app  # type: ignore[attr-defined]
    envelopes = [OUTBOX(app.mapper.to_domain_event(n)) for n in app.notification_log.select(1, 10)]
    return [e for e in envelopes if e is not None]


def projection(intake: TestClient) -> Projection:
    [component] = [c for c in intake.app.state.parts.components if c.name == "open311_requests"]  # type: ignore[attr-defined]
    assert isinstance(component, Projection)
    return component


def apply(intake: TestClient, *envelopes: Envelope[Any]) -> None:
    """Hand the projection the records the broker would deliver."""
    records = []
    for offset, envelope in enumerate(envelopes):
        record = encode(envelope)
        topic = stream_for(type(envelope.data)).name
        records.append(IncomingRecord(topic, 0, offset, record.key, record.value, record.headers))
    intake.portal.call(projection(intake).handle_batch, records)  # type: ignore[union-attr]


def envelope(payload: Payload, *, id: str | None = None) -> Envelope[Any]:
    return Envelope(
        id=id or str(uuid.uuid4()),
        source="/eungdapso/test",
        time=datetime.now(UTC),
        subject=str(payload.complaint_id),  # type: ignore[attr-defined]
        data=payload,
    )


def assigned(received: ComplaintReceivedV1, office: str = "도시교통실") -> Envelope[Any]:
    return envelope(
        ComplaintAssignedV1(
            complaint_id=received.complaint_id,
            receipt_no=received.receipt_no,
            assigned_at=received.received_at + timedelta(seconds=2),
            office=Office(code="seoul.transport", name=office, level=OfficeLevel.HEADQUARTERS),
            rule="field:roads_traffic",
        )
    )


def get_both(intake: TestClient, path: str, root: str, **params: str) -> Any:
    """The JSON answer, after checking that the XML one carries the same data."""
    as_json = intake.get(f"{V2}/{path}.json", params=params)
    as_xml = intake.get(f"{V2}/{path}.xml", params=params)
    assert as_json.status_code == as_xml.status_code == 200, (as_json.text, as_xml.text)
    assert as_json.headers["content-type"] == "application/json; charset=utf-8"
    assert as_xml.headers["content-type"] == "text/xml; charset=utf-8"
    tag, value = xml_value(as_xml.content)
    assert tag == root
    assert value == as_xml_text(as_json.json())
    return as_json.json()


def open311_error(response: Any, status: int, fmt: str = "json") -> list[str]:
    """The descriptions of a spec-format error answer (checked as such)."""
    assert response.status_code == status, response.text
    if fmt == "json":
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        errors = response.json()
    else:
        assert response.headers["content-type"] == "text/xml; charset=utf-8"
        tag, errors = xml_value(response.content)
        assert tag == "errors"
        errors = [{"code": int(e["code"]), "description": e["description"]} for e in errors]
    assert errors and all(e["code"] == status and e["description"] for e in errors)
    return [e["description"] for e in errors]


# -- discovery and the service list -------------------------------------------------------


def test_discovery_services_and_definitions_in_json_and_xml(intake: TestClient) -> None:
    discovery = get_both(intake, "discovery", "discovery")
    [endpoint] = discovery["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and discovery["max_requests"] == 1000
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}

    services = get_both(intake, "services", "services", jurisdiction_id="seoul.go.kr")
    validate(services, "services.json")
    assert "pothole" in {s["service_code"] for s in services}
    for service in services:
        definition = get_both(intake, f"services/{service['service_code']}", "service_definition")
        validate(definition, "service-definition.json")
        assert definition["service_code"] == service["service_code"]


def test_unknown_service_jurisdiction_or_format_is_404_in_open311_format(intake: TestClient) -> None:
    assert "service_code 'nope'" in open311_error(intake.get(f"{V2}/services/nope.xml"), 404, "xml")[0]
    other = intake.get(f"{V2}/services.json", params={"jurisdiction_id": "sfgov.org"})
    assert "seoul.go.kr" in open311_error(other, 404)[0]
    open311_error(intake.get(f"{V2}/services.html"), 404, "xml")


def test_fastapis_own_errors_under_open311_are_in_open311_format_and_rfc_9457_elsewhere(
    intake: TestClient,
) -> None:
    open311_error(intake.get(f"{V2}/nothing.json"), 404)
    open311_error(intake.get("/open311/v3/services.xml"), 404, "xml")
    open311_error(intake.delete(f"{V2}/requests.json"), 405)
    open311_error(intake.put(f"{V2}/requests.xml"), 405, "xml")
    bad = open311_error(intake.get(f"{V2}/requests.json", params={"start_date": "yesterday"}), 400)
    assert bad[0].startswith("start_date:")
    naive = open311_error(
        intake.get(f"{V2}/requests.xml", params={"end_date": "2026-11-20T00:00:00"}), 400, "xml"
    )
    assert naive[0].startswith("end_date:")
    oversized = intake.post(f"{V2}/requests.json", data={"description": "가" * 100_000})
    open311_error(oversized, 413)
    # The rest of intake still answers RFC 9457.
    elsewhere = intake.get("/api/v1/nothing")
    assert elsewhere.status_code == 404 and elsewhere.headers["content-type"] == "application/problem+json"
    assert intake.put("/api/v1/complaints").headers["content-type"] == "application/problem+json"


# -- POST requests ----------------------------------------------------------------------


def test_fixmystreet_posts_a_report_and_reads_its_id_from_the_xml_answer(
    intake: TestClient, api_key: str, database: PostgresTarget
) -> None:
    response = intake.post(f"{V2}/requests.xml", data=fixmystreet_form(api_key))
    assert response.status_code == 200, response.text
    tag, answer = xml_value(response.content)
    # FixMyStreet: `$obj->{request}->[0]->{service_request_id}`, returned unless a reference.
    assert tag == "service_requests"
    receipt_no = answer[0]["service_request_id"]
    assert isinstance(receipt_no, str) and receipt_no.startswith("20")
    assert "uprn" in answer[0]["service_notice"]  # attributes it does not know: ignored, and said so
    assert stored_events(database) == 1

    [published] = recorded(intake)
    e = published.data
    assert isinstance(e, ComplaintReceivedV2) and e.receipt_no == receipt_no
    assert e.channel is Channel.APP and e.registered_by == "open311:fixmystreet"
    assert e.field is Field.ROADS_TRAFFIC and e.kind is Kind.COMPLAINT and e.disclosure is Disclosure.PUBLIC
    # What the citizen wrote, exactly; the service they chose is the subject.
    assert e.text == FMS_DESCRIPTION.strip() and e.subject == "footbridge"
    assert e.place == Place(lat=37.5536, lon=126.968)
    assert e.citizen == Citizen(name="Test User", phone="02-123-4567", email="test@example.com")
    assert e.reply_to is not None and e.reply_to.address == "test@example.com"
    assert "acct-9" not in published.data.model_dump_json()  # account and device ids are not kept


def test_a_seeclickfix_style_json_client_gets_the_spec_array(
    intake: TestClient, api_key: str, photos: str
) -> None:
    response = intake.post(
        f"{V2}/requests.json",
        data={
            "api_key": api_key,
            "service_code": "illegal_dumping",
            "address_string": "서울특별시 마포구 월드컵로 212",
            "description": "골목에 대형 폐기물이 버려져 있어요",
            "attribute[kind]": "complaint",
            "attribute[language]": "ko",
            "device_id": "device-42",
            "media_url": f"{photos}/gone.jpg",
        },
    )
    answer = response.json()
    validate_swagger(answer, "RequestResponse")
    [request] = answer
    assert set(request) == {"service_request_id", "service_notice"}
    # The photo could not be fetched: the request is recorded without it, and says so.
    assert "media_url could not be fetched" in request["service_notice"]
    assert recorded(intake)[0].data.attachments == ()


def test_photos_at_media_url_are_fetched_and_attached_never_published(
    intake: TestClient, api_key: str, photos: str, tmp_path: Path
) -> None:
    """FixMyStreet's `multi_photos`: `media_url` repeated."""
    form = [
        *fixmystreet_form(api_key).items(),
        ("media_url", f"{photos}/photo.jpg"),
        ("media_url", f"{photos}/photo.jpg"),
    ]
    response = intake.post(f"{V2}/requests.json", content=urlencode(form), headers={"content-type": FORM})
    [answer] = response.json()
    assert "media_url" not in answer["service_notice"]
    [published] = recorded(intake)
    [attachment] = published.data.attachments  # the same photo twice is attached once
    assert attachment.kind is AttachmentKind.PHOTO
    shared = next((tmp_path / "blobs").rglob(attachment.sha256))
    assert not has_gps(shared.read_bytes())  # stored without the position it was taken at
    apply(intake, published)
    [request] = get_both(intake, f"requests/{answer['service_request_id']}", "service_requests")
    assert request["media_url"] is None  # photos may show faces or plates: not published yet


def test_the_same_idempotency_key_records_one_complaint(
    intake: TestClient, api_key: str, database: PostgresTarget
) -> None:
    form = fixmystreet_form(api_key)
    headers = {"Idempotency-Key": "fms-report-80"}
    first = intake.post(f"{V2}/requests.json", data=form, headers=headers)
    again = intake.post(f"{V2}/requests.json", data=form, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json()[0]["service_request_id"] == first.json()[0]["service_request_id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert stored_events(database) == 1
    changed = intake.post(f"{V2}/requests.json", data={**form, "description": "다른 민원"}, headers=headers)
    assert "Idempotency-Key" in open311_error(changed, 400)[0]
    # Without a key every POST is a new request, as the spec has it.
    intake.post(f"{V2}/requests.json", data=form)
    assert stored_events(database) == 2


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_no_bad_or_revoked_api_key_is_403_in_open311_format(
    intake: TestClient, api_key: str, database: PostgresTarget, fmt: str
) -> None:
    form = fixmystreet_form(api_key)
    without = {k: v for k, v in form.items() if k != "api_key"}
    open311_error(intake.post(f"{V2}/requests.{fmt}", data=without), 403, fmt)
    open311_error(
        intake.post(f"{V2}/requests.{fmt}", data={**form, "api_key": "eds_0123456789ab_nope"}), 403, fmt
    )
    phone_desk = new_key(intake, f"dasan-120-{fmt}", (Scope.PHONE,))
    open311_error(intake.post(f"{V2}/requests.{fmt}", data={**form, "api_key": phone_desk}), 403, fmt)
    directory = intake.app.state.clients  # type: ignore[attr-defined]
    assert intake.portal.call(directory.revoke, "fixmystreet")  # type: ignore[union-attr]
    open311_error(intake.post(f"{V2}/requests.{fmt}", data=form), 403, fmt)
    assert stored_events(database) == 0


def test_a_client_over_its_rate_gets_429_with_retry_after(
    intake: TestClient, database: PostgresTarget
) -> None:
    form = fixmystreet_form(new_key(intake, "slow-client", rate_per_minute=1))
    assert intake.post(f"{V2}/requests.json", data=form).status_code == 200
    limited = intake.post(f"{V2}/requests.xml", data=form)
    assert "Retry after" in open311_error(limited, 429, "xml")[0]
    assert int(limited.headers["retry-after"]) > 0
    assert stored_events(database) == 1


def test_missing_service_code_or_location_is_400_and_unknown_service_404(
    intake: TestClient, api_key: str, database: PostgresTarget
) -> None:
    form = fixmystreet_form(api_key)
    no_code = {k: v for k, v in form.items() if k != "service_code"}
    assert open311_error(intake.post(f"{V2}/requests.json", data=no_code), 400)[0].startswith("service_code")
    nowhere = {k: v for k, v in form.items() if k not in ("lat", "long")}
    assert open311_error(intake.post(f"{V2}/requests.xml", data=nowhere), 400, "xml")[0].startswith(
        "location"
    )
    several = {**nowhere, "email": "nobody", "attribute[kind]": "gossip"}
    assert len(open311_error(intake.post(f"{V2}/requests.json", data=several), 400)) == 3
    open311_error(intake.post(f"{V2}/requests.json", data={**form, "service_code": "nope"}), 404)
    open311_error(intake.post(f"{V2}/requests.json", data={**form, "jurisdiction_id": "sfgov.org"}), 404)
    assert stored_events(database) == 0


def test_outcome_unknown_answers_a_token_that_tells_whether_it_was_recorded(
    intake: TestClient, api_key: str, database: PostgresTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session dies as the complaint is committed: the client gets a token, not an
    error it would retry blindly; `tokens/<token>` says 404 (not recorded: send it again,
    it cannot be recorded twice) or gives the id."""
    admin = admin_connection(database)
    insert_then = LedgeredPostgresRecorder._fetch_ids_after_insert_events

    def then_lose_the_session(self: LedgeredPostgresRecorder, curs: Any, stored: Any, **kwargs: Any) -> Any:
        ids = insert_then(self, curs, stored, **kwargs)
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (curs.connection.info.backend_pid,))
        return ids

    monkeypatch.setattr(LedgeredPostgresRecorder, "_fetch_ids_after_insert_events", then_lose_the_session)
    lost = intake.post(f"{V2}/requests.xml", data=fixmystreet_form(api_key))
    monkeypatch.undo()
    admin.close()
    assert lost.status_code == 200, lost.text
    _, [answer] = xml_value(lost.content)
    assert "service_request_id" not in answer and answer["token"]
    unknown = intake.get(f"{V2}/tokens/{answer['token']}.xml")
    assert "send the request again" in open311_error(unknown, 404, "xml")[0]
    assert stored_events(database) == 0

    again = intake.post(
        f"{V2}/requests.xml", data=fixmystreet_form(api_key), headers={"Idempotency-Key": "r-80"}
    )
    receipt_no = xml_value(again.content)[1][0]["service_request_id"]
    token = str(Idempotency.client_key("r-80", client="fixmystreet").complaint_id("r-80"))
    tokens = get_both(intake, f"tokens/{token}", "service_requests")
    validate_swagger(tokens, "TokenResponse")
    assert tokens == [{"service_request_id": receipt_no, "token": token}]
    assert stored_events(database) == 1


# -- GET requests and updates: the public read model -------------------------------------

NOW = datetime.now(UTC).replace(microsecond=0)


def received(**values: Any) -> ComplaintReceivedV2:
    details: dict[str, Any] = {
        "complaint_id": uuid.uuid4(),
        "receipt_no": f"2026-{uuid.uuid4().int % 10_000_000:07d}",
        "received_at": NOW - timedelta(hours=1),
        "channel": Channel.WEB,
        "kind": Kind.COMPLAINT,
        "confidential": False,
        "field": Field.ROADS_TRAFFIC,
        "subject": "pothole",
        "text": "만리재로 193 앞 구멍, 010-1234-5678로 연락 주세요 (test@example.com)",
        "place": Place(address="서울 용산구 만리재로 193 (02-123-4567)", lat=37.553612, lon=126.968049,
                       district=District.YONGSAN),
        "citizen": Citizen(name="Test User", phone="010-1234-5678", email="test@example.com"),
        "disclosure": Disclosure.PUBLIC,
    }  # fmt: skip
    details.update(values)
    return ComplaintReceivedV2(**details)


def test_get_requests_shows_only_what_may_be_public(intake: TestClient) -> None:
    public = received()
    private = received(disclosure=Disclosure.PRIVATE, received_at=NOW - timedelta(hours=2))
    secret = received(
        kind=Kind.CORRUPTION_REPORT,
        confidential=True,
        disclosure=Disclosure.PRIVATE,
        subject="corruption",
        field=Field.GENERAL_ADMIN,
        text="공무원 금품 요구",
        received_at=NOW - timedelta(hours=3),
    )
    web_v1 = ComplaintReceivedV1(
        **received(text="버스가 30분째 안 와요", received_at=NOW - timedelta(hours=4)).model_dump(
            include=set(ComplaintReceivedV1.model_fields)
        )
    )
    # The confidential report's assignment comes first (another stream): nothing shows
    # until its receipt, and then never its office.
    apply(intake, assigned(secret, "감사위원회"))
    assert get_both(intake, "requests", "service_requests") == []
    apply(intake, envelope(public), envelope(private), envelope(secret), envelope(web_v1), assigned(public))

    requests = get_both(intake, "requests", "service_requests")
    validate(requests, "requests.json")
    by_id = {r["service_request_id"]: r for r in requests}
    assert list(by_id) == [public.receipt_no, private.receipt_no, secret.receipt_no, web_v1.receipt_no]
    shown = by_id[public.receipt_no]
    assert (
        shown["service_code"] == "pothole"
        and shown["service_name"] == "도로 파손·포트홀 (Pothole or damaged road surface)"
    )
    assert shown["description"] == "만리재로 193 앞 구멍, [비공개]로 연락 주세요 ([비공개])"
    assert shown["address"] == "서울 용산구 만리재로 193 ([비공개])"
    assert (shown["lat"], shown["long"]) == (37.554, 126.968)
    assert shown["agency_responsible"] == "도시교통실" and shown["status"] == "open"
    assert datetime.fromisoformat(shown["updated_datetime"]) == public.received_at + timedelta(seconds=2)
    hidden = by_id[private.receipt_no]
    assert hidden["description"] is None and hidden["address"] is None and hidden["lat"] == 37.554
    confidential = by_id[secret.receipt_no]
    assert confidential["service_code"] == "confidential"
    shown_fields = {k for k, v in confidential.items() if v is not None}
    assert shown_fields == {"service_request_id", "status", "service_code", "service_name"} | {
        "requested_datetime",
        "updated_datetime",
    }
    assert by_id[web_v1.receipt_no]["service_code"] == "roads_traffic"
    assert by_id[web_v1.receipt_no]["description"] is None  # v1 had no disclosure: private
    everything = intake.get(f"{V2}/requests.json").text + intake.get(f"{V2}/requests.xml").text
    for personal in PERSONAL:
        assert personal not in everything
    assert "corruption" not in everything and "general_admin" not in everything


def test_get_requests_filters_and_pages(intake: TestClient) -> None:
    first = received(received_at=NOW - timedelta(days=1))
    second = received(
        subject=None, field=Field.SAFETY, text="맨홀 뚜껑이 열려 있어요", received_at=NOW - timedelta(days=2)
    )
    old = received(received_at=NOW - timedelta(days=100))
    apply(intake, *(envelope(e) for e in (first, second, old)))

    def ids(path: str = "requests", **params: str) -> list[str]:
        answer = get_both(intake, path, "service_requests", **params)
        validate(answer, "requests.json") if answer else None
        return [r["service_request_id"] for r in answer]

    assert ids() == [first.receipt_no, second.receipt_no]  # the last 90 days, most recent first
    assert ids(service_request_id=f"{old.receipt_no},{first.receipt_no}") == sorted(
        [old.receipt_no, first.receipt_no]
    )
    assert ids(service_code="safety") == [second.receipt_no]
    assert ids(service_code="pothole,safety", status="open") == [first.receipt_no, second.receipt_no]
    assert ids(status="closed") == []
    window = {
        "start_date": (NOW - timedelta(days=120)).isoformat(),
        "end_date": (NOW - timedelta(days=50)).isoformat(),
    }
    assert ids(**window) == [old.receipt_no]
    assert ids(page_size="1") == [first.receipt_no] and ids(page_size="1", page="2") == [second.receipt_no]
    assert ids(f"requests/{second.receipt_no}") == [second.receipt_no]

    open311_error(intake.get(f"{V2}/requests/2026-9999999.json"), 404)
    open311_error(intake.get(f"{V2}/requests/not-a-receipt.xml"), 404, "xml")
    too_long = {"start_date": (NOW - timedelta(days=200)).isoformat(), "end_date": NOW.isoformat()}
    assert "90 days" in open311_error(intake.get(f"{V2}/requests.json", params=too_long), 400)[0]
    open311_error(intake.get(f"{V2}/requests.json", params={"service_code": "nope"}), 400)
    open311_error(intake.get(f"{V2}/requests.json", params={"status": "pending"}), 400)
    open311_error(intake.get(f"{V2}/requests.json", params={"page_size": "0"}), 400)


def test_service_request_updates_show_the_assignment(intake: TestClient) -> None:
    """mySociety's extension, as FixMyStreet's GetServiceRequestUpdates reads it."""
    public = received()
    later = NOW - timedelta(minutes=30)
    secret = received(kind=Kind.WHISTLEBLOWING, confidential=True, text="제보합니다", received_at=later)
    assignment = assigned(public)
    apply(intake, envelope(public), assignment, envelope(secret), assigned(secret, "감사위원회"))
    apply(intake, assignment)  # redelivered: applied once

    updates = get_both(
        intake,
        "servicerequestupdates",
        "service_requests_updates",
        start_date=(NOW - timedelta(hours=2)).isoformat(),
        end_date=NOW.isoformat(),
    )
    assert [u["service_request_id"] for u in updates] == [public.receipt_no, secret.receipt_no]
    mine = updates[0]
    assert mine["update_id"] == assignment.id and mine["status"] == "open"
    assert "도시교통실" in mine["description"] and mine["media_url"] is None
    assert datetime.fromisoformat(mine["updated_datetime"]) == public.received_at + timedelta(seconds=2)
    assert updates[1]["description"] is None  # who investigates a report would tell its kind
    assert "감사위원회" not in intake.get(f"{V2}/servicerequestupdates.xml").text


def test_the_read_model_is_built_from_what_intake_records(intake: TestClient, api_key: str) -> None:
    """A form POST, the event intake records for it, the router's assignment: the GET answer."""
    receipt_no = intake.post(f"{V2}/requests.json", data=fixmystreet_form(api_key)).json()[0][
        "service_request_id"
    ]
    [published] = recorded(intake)
    apply(intake, published, assigned(published.data))
    [request] = get_both(intake, f"requests/{receipt_no}", "service_requests")
    validate([request], "requests.json")
    assert request["service_code"] == "footbridge" and request["agency_responsible"] == "도시교통실"
    assert (
        request["description"].startswith("title: 육교 계단 구멍") and "[비공개]로" in request["description"]
    )
    shown = json.dumps(request, ensure_ascii=False)
    for personal in PERSONAL:
        assert personal not in shown


def test_the_read_model_lives_in_intakes_schema(intake: TestClient, database: PostgresTarget) -> None:
    with psycopg.connect(database.conninfo()) as conn:
        views = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.views WHERE table_schema='intake'"
            )
        }
    assert {"open311_requests", "open311_request_updates"} <= views
