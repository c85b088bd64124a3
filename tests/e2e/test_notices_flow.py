"""End to end, every service as its own process on the real broker and PostgreSQL: complaints
that came in by text message (an SMS gateway's signed webhook) and by the web form (in English,
with an e-mail address) are told, on their own channel and in their own language, that they
were received, to whom they went and by when, and, once the office answered through the inbox
API, the answer with the rating link — each notice once, as files the file outbox wrote."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from eungdapso_devstack.gateway import Gateway
from eungdapso_devstack.infra import PostgresTarget
from eungdapso_intake.channels.signatures import eungdapso_signature
from eungdapso_platform.follow import FollowKeys
from tests.e2e.conftest import StackFactory
from tests.e2e.test_gateway_services import office_key
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

GATEWAY_SECRET = "e2e-munja-gateway-secret-2026"
FOLLOW_SECRET = "e2e-follow-link-secret-0123456789abcdef"
OFFICE = "seoul.transport.bus_policy"


@pytest.fixture
async def system(
    make_stack: StackFactory, broker: str, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Path]]:
    outbox = tmp_path / "outbox"
    stack = await make_stack(
        broker,
        services=("intake", "router", "sla", "notifier", "publisher", "rating", "casework"),
        env={
            "SMS_GATEWAYS": json.dumps({"munja": GATEWAY_SECRET}),
            "FOLLOW_LINK_SECRET": FOLLOW_SECRET,
            "OUTBOX_DIR": str(outbox),
            "PUBLIC_BASE_URL": "https://eungdapso.test",
            # Whatever the hour of the run, text messages go out now (quiet hours have their own test).
            "QUIET_HOURS_START": "00:00",
            "QUIET_HOURS_END": "00:00",
            "DISPATCHER_INTERVAL_S": "0.1",
        },
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=Gateway(stack.upstreams)), base_url="https://eungdapso.test"
    ) as client:
        yield client, outbox


def files(outbox: Path, medium: str) -> list[str]:
    folder = outbox / medium
    return [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*"))] if folder.exists() else []


async def test_each_channel_is_told_every_stage_once_in_its_language_on_its_channel(
    system: tuple[httpx.AsyncClient, Path], database: PostgresTarget
) -> None:
    client, outbox = system
    key = {"X-Api-Key": await asyncio.to_thread(office_key, database, OFFICE)}
    # By text message, through the gateway's signed webhook.
    body = json.dumps(
        {
            "message_id": "e2e-sms-0001",
            "from": "010-7777-0001",
            "to": "120",
            "text": "광화문 버스 정류장 안내판이 꺼져 있어요",
            "received_at": datetime.now(UTC).isoformat(),
        },
        ensure_ascii=False,
    ).encode()
    stamp = str(int(time.time()))
    sms = await client.post(
        "/api/v1/channels/sms/munja",
        content=body,
        headers={
            "content-type": "application/json",
            "X-Eungdapso-Timestamp": stamp,
            "X-Eungdapso-Signature": eungdapso_signature(GATEWAY_SECRET, stamp, body),
        },
    )
    assert sms.status_code in (200, 201), sms.text
    # By the web form, in English, with an e-mail address to be answered at.
    web = await client.post(
        "/api/v1/complaints",
        json={
            "text": "The information display at the Gwanghwamun bus stop has been off for days.",
            "kind": "complaint",
            "subject": "bus_stop",
            "language": "en",
            "contact": {"email": "visitor@example.org"},
        },
    )
    assert web.status_code == 201, web.text
    receipts = {"sms": sms.json()["receipt_no"], "web": web.json()["receipt_no"]}

    # The office answers both through its inbox.
    async def cases() -> list[dict[str, object]] | None:
        listed = (await client.get("/api/v1/inbox/cases", headers=key)).json()["cases"]
        mine = [c for c in listed if c["receipt_no"] in receipts.values()]
        return mine if len(mine) == 2 else None

    for case in await eventually(cases, what="both cases in the bus policy division's inbox", timeout=60):
        path = f"/api/v1/inbox/cases/{case['case_id']}"
        staff = {"staff": "transport-9"}
        assert (await client.post(f"{path}/accept", headers=key, json=staff)).status_code == 200
        answer = {**staff, "text": "안내판 전원 장치를 교체했습니다.", "resolution": "resolved"}
        assert (await client.post(f"{path}/answer", headers=key, json=answer)).status_code == 200

    def told(medium: str, receipt_no: str, at_least: int) -> list[str] | None:
        # The citizen's notices (the office is told of its new case by e-mail too).
        mine = [f for f in files(outbox, medium) if receipt_no in f and "@offices." not in f.split("\n\n")[0]]
        return mine if len(mine) >= at_least and any("rate#token=" in f for f in mine) else None

    async def sms_told() -> list[str] | None:
        return told("sms", receipts["sms"], 3)

    async def mail_told() -> list[str] | None:
        return told("email", receipts["web"], 3)

    texts = await eventually(sms_told, what="received, assigned and answered by text message", timeout=90)
    mails = await eventually(mail_told, what="received, assigned and answered by e-mail", timeout=90)
    await asyncio.sleep(2)  # anything sent twice would be here by now
    texts, mails = told("sms", receipts["sms"], 3) or [], told("email", receipts["web"], 3) or []

    # Once each: received, assigned, answered (with the rating link), nothing twice.
    assert len(texts) == 3 and len(mails) == 3, (texts, mails)
    assert all("To: 010-7777-0001" in t for t in texts)
    assert all("To: visitor@example.org" in m for m in mails)
    # In the citizen's language: Korean by SMS (the message was Korean), English by e-mail.
    assert any("접수되었습니다" in t for t in texts) and any("답변" in t for t in texts)
    assert any("received your complaint" in m for m in mails)
    # The receipt notice carries the citizen's private follow link.
    follow = FollowKeys(SecretStr(FOLLOW_SECRET)).key_for(uuid.UUID(sms.json()["complaint_id"]))
    assert any(FollowKeys.link("https://eungdapso.test", receipts["sms"], follow) in t for t in texts), texts
    # The office was told of its new cases, by e-mail to its address.
    office_mail = [f for f in files(outbox, "email") if f"To: {OFFICE}@offices." in f]
    assert {r for r in receipts.values() if any(r in f for f in office_mail)} == set(receipts.values())
