"""Visit counters, the fax and the mail rooms on a real PostgreSQL: staff register a
complaint on the citizen's behalf, with the scanned document, once per desk reference."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_intake.clients import Scope
from eungdapso_schemas.codes import AttachmentKind, Channel, Disclosure, Kind, ReplyMedium
from tests.support.intake import (
    REFUSED_CALLERS,
    complaints_recorded,
    desk_key,
    presented_key,
    recorded,
    running_intake,
)

pytestmark = pytest.mark.integration

#: (channel, scope, what the desk reference becomes in the channel reference)
DESKS = [
    (Channel.VISIT, Scope.VISIT, "ticket"),
    (Channel.FAX, Scope.FAX, "fax"),
    (Channel.MAIL, Scope.MAIL, "registry"),
]
REGISTRATION: dict[str, Any] = {
    "reference": "2026-A-0042",
    "staff_id": "S2041",
    "text": "아파트 앞 공사장 소음이 밤 10시 넘어서까지 계속됩니다 (민원인 서면 요지)",
    "kind": "complaint",
    "field": "environment_parks",
    "language": "ko",
    "place": {"address": "서울특별시 마포구 월드컵로 212", "district": "mapo"},
    "disclosure": "public",
    "citizen": {
        "name": "김민원",
        "phone": "010-3456-7890",
        "postal_address": "서울특별시 마포구 월드컵로 212, 101동 1001호",
        "reply_by": "post",
    },
}


def path(channel: Channel) -> str:
    return f"/api/v1/channels/{channel.value}/registrations"


def form_for(channel: Channel, **change: Any) -> dict[str, Any]:
    body = {**REGISTRATION, **change}
    if channel is Channel.VISIT:
        body.setdefault("counter", 7)
    return {k: v for k, v in body.items() if v is not None}


def fax_scan() -> bytes:
    """A one-page fax as fax machines send it: bilevel TIFF, CCITT group 4."""
    page = Image.new("1", (200, 120), 1)
    for x in range(20, 180):
        page.putpixel((x, 60), 0)
    out = io.BytesIO()
    page.save(out, "TIFF", compression="group4")
    return out.getvalue()


@pytest.mark.parametrize(("channel", "scope", "ref"), DESKS, ids=[d[0].value for d in DESKS])
async def test_a_desk_registers_a_complaint_with_the_citizens_reply_choice_and_an_uploaded_scan(
    database: PostgresTarget, tmp_path: Path, channel: Channel, scope: Scope, ref: str
) -> None:
    async with running_intake(database, tmp_path) as (app, http):
        key = await desk_key(app, f"{channel.value}-desk-mapo", scope)
        uploaded = await http.post(
            "/api/v1/attachments", files={"file": ("scan.tif", fax_scan(), "image/tiff")}
        )
        assert uploaded.status_code == 201, uploaded.text
        sha256 = uploaded.json()["sha256"]
        response = await http.post(path(channel), json=form_for(channel, attachments=[sha256]), headers=key)
        assert response.status_code == 201, response.text
        receipt = response.json()
        assert response.headers["location"] == f"/api/v1/complaints/{receipt['receipt_no']}"

        complaint = await recorded(app, receipt["complaint_id"])
        assert complaint.channel is channel and complaint.kind is Kind.COMPLAINT
        assert complaint.channel_ref == f"{ref}:2026-A-0042"
        staff = "counter 7/S2041" if channel is Channel.VISIT else "S2041"
        assert complaint.registered_by == f"{channel.value}-desk-mapo/{staff}"
        assert complaint.disclosure is Disclosure.PUBLIC
        assert complaint.citizen is not None and complaint.citizen.name == "김민원"
        reply = complaint.reply_to
        assert reply is not None and reply.medium is ReplyMedium.POST and reply.consent
        assert reply.address == REGISTRATION["citizen"]["postal_address"]
        [attachment] = complaint.attachments
        assert attachment.sha256 == sha256 and attachment.kind is AttachmentKind.DOCUMENT


async def test_a_fax_registers_with_its_scan_in_the_same_request(
    database: PostgresTarget, tmp_path: Path
) -> None:
    scan = fax_scan()
    registration = form_for(Channel.FAX, citizen={"email": "citizen@example.org", "reply_by": "email"})
    async with running_intake(database, tmp_path) as (app, http):
        key = await desk_key(app, "fax-room", Scope.FAX)
        response = await http.post(
            path(Channel.FAX),
            data={"registration": json.dumps(registration, ensure_ascii=False)},
            files=[
                ("scan", ("page1.tif", scan, "image/tiff")),
                ("scan", ("page2.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")),
            ],
            headers=key,
        )
        assert response.status_code == 201, response.text
        complaint = await recorded(app, response.json()["complaint_id"])
        assert complaint.attachments[0].sha256 == hashlib.sha256(scan).hexdigest()
        assert [a.media_type for a in complaint.attachments] == ["image/tiff", "application/pdf"]
        reply = complaint.reply_to
        assert (
            reply is not None and reply.medium is ReplyMedium.EMAIL and reply.address == "citizen@example.org"
        )
        # The registration as a file part too (`curl -F registration=@reg.json;type=application/json`).
        as_file = json.dumps({**registration, "reference": "fax-0043"}).encode()
        response = await http.post(
            path(Channel.FAX),
            files=[
                ("registration", ("reg.json", as_file, "application/json")),
                ("scan", ("p.tif", scan, "image/tiff")),
            ],
            headers=key,
        )
        assert response.status_code == 201, response.text
        assert (await recorded(app, response.json()["complaint_id"])).channel_ref == "fax:fax-0043"


async def test_the_same_registration_again_answers_the_first_receipt_and_another_desk_numbers_its_own(
    database: PostgresTarget, tmp_path: Path
) -> None:
    async with running_intake(database, tmp_path) as (app, http):
        mapo = await desk_key(app, "mail-room-mapo", Scope.MAIL)
        first = await http.post(path(Channel.MAIL), json=form_for(Channel.MAIL), headers=mapo)
        again = await http.post(path(Channel.MAIL), json=form_for(Channel.MAIL), headers=mapo)
        assert first.status_code == 201 and again.status_code == 200, again.text
        assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
        # Another mail room's registry has its own numbers: the same number is another letter.
        jongno = await desk_key(app, "mail-room-jongno", Scope.MAIL)
        other = await http.post(path(Channel.MAIL), json=form_for(Channel.MAIL), headers=jongno)
        assert other.status_code == 201 and other.json()["complaint_id"] != first.json()["complaint_id"]
        assert complaints_recorded(database) == 2


@pytest.mark.parametrize("who", REFUSED_CALLERS)
@pytest.mark.parametrize(
    ("channel", "scope", "other"),
    [
        (Channel.VISIT, Scope.VISIT, Scope.PHONE),
        (Channel.FAX, Scope.FAX, Scope.MAIL),
        (Channel.MAIL, Scope.MAIL, Scope.FAX),
    ],
    ids=["visit", "fax", "mail"],
)
async def test_only_the_desks_own_key_may_register(
    database: PostgresTarget, tmp_path: Path, channel: Channel, scope: Scope, other: Scope, who: str
) -> None:
    async with running_intake(database, tmp_path) as (app, http):
        headers = await presented_key(app, who, scope, other)
        response = await http.post(path(channel), json=form_for(channel), headers=headers)
        assert response.status_code == (403 if who == "another desk's key" else 401), response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert complaints_recorded(database) == 0


@pytest.mark.parametrize(
    ("channel", "change", "field"),
    [
        (Channel.VISIT, {"counter": 0}, "counter"),
        (Channel.MAIL, {"reference": None}, "reference"),
        (Channel.FAX, {"staff_id": "clerk with spaces"}, "staff_id"),
        (Channel.MAIL, {"text": "  "}, "text"),
        (Channel.VISIT, {"kind": None}, "kind"),
        (Channel.FAX, {"citizen": {"name": "김민원", "reply_by": "sms"}}, "citizen.reply_by"),
        (Channel.MAIL, {"citizen": {"phone": "010-3456-7890", "reply_by": "sns"}}, "citizen.reply_by"),
        (Channel.MAIL, {"citizen": {"email": "no-at-sign"}}, "citizen.email"),
        (Channel.FAX, {"attachments": ["not-a-sha256"]}, "attachments.0"),
        (Channel.MAIL, {"counter": 3}, "counter"),  # only a visit has a counter
    ],
)
async def test_bad_registrations_get_a_problem_naming_the_field(
    database: PostgresTarget, tmp_path: Path, channel: Channel, change: dict[str, Any], field: str
) -> None:
    body = {k: v for k, v in {**REGISTRATION, "counter": 7, **change}.items() if v is not None}
    if channel is not Channel.VISIT and "counter" not in change:
        body.pop("counter")
    scope = {Channel.VISIT: Scope.VISIT, Channel.FAX: Scope.FAX, Channel.MAIL: Scope.MAIL}[channel]
    async with running_intake(database, tmp_path) as (app, http):
        key = await desk_key(app, "desk", scope)
        response = await http.post(path(channel), json=body, headers=key)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in response.json()["errors"]]
        assert complaints_recorded(database) == 0


async def test_what_a_desk_cannot_send_is_refused_and_nothing_recorded(
    database: PostgresTarget, tmp_path: Path
) -> None:
    async with running_intake(database, tmp_path) as (app, http):
        key = await desk_key(app, "fax-room", Scope.FAX)
        unknown = await http.post(
            path(Channel.FAX), json=form_for(Channel.FAX, attachments=["ab" * 32]), headers=key
        )
        assert unknown.status_code == 422 and unknown.json()["type"].endswith("unknown-attachment")
        not_a_document = await http.post(
            path(Channel.FAX),
            data={"registration": json.dumps(form_for(Channel.FAX))},
            files={"scan": ("fax.exe", b"MZ\x90\x00" + bytes(300), "image/tiff")},
            headers=key,
        )
        assert not_a_document.status_code == 415, not_a_document.text
        no_registration = await http.post(
            path(Channel.FAX), files={"scan": ("p.tif", fax_scan(), "image/tiff")}, headers=key
        )
        assert no_registration.status_code == 422
        assert [e["field"] for e in no_registration.json()["errors"]] == ["registration"]
        as_text = await http.post(
            path(Channel.FAX), content=b"text=hello", headers={**key, "content-type": "text/plain"}
        )
        assert as_text.status_code == 415
        broken = await http.post(
            path(Channel.FAX), content=b"{not json", headers={**key, "content-type": "application/json"}
        )
        assert broken.status_code == 400 and broken.json()["type"].endswith("malformed-json")
        assert complaints_recorded(database) == 0
