"""The citizen's own page behind the private follow link, on a real PostgreSQL and broker:
the notifier learns the complaint's text, office, deadline, answer and rating link from the
owners' streams (in any order) and shows them only to whoever presents the key intake
handed out; another complaint's key, a made-up key and no key get nothing. The receipt
notice carries the same private link."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from eungdapso_devstack.infra import PostgresTarget
from eungdapso_platform.follow import FollowKeys
from eungdapso_schemas.codes import Channel, Language, ReplyMedium
from eungdapso_schemas.events import CaseAnsweredV1, ReplyAddress
from eungdapso_schemas.streams import CASEWORK_EVENTS, INTAKE_EVENTS, RATING_LINKS, ROUTER_EVENTS, SLA_EVENTS
from tests.integration.test_notifier_notices import Complaint, make_settings, notices, runner
from tests.integration.test_sla_deadlines import publish
from tests.support.notifier import RecordingOutbox
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

SECRET = "follow-link-secret-for-the-notifier-test-0123"


async def test_only_the_follow_key_opens_the_citizens_own_page(
    database: PostgresTarget, broker: str, tmp_path: Path
) -> None:
    outbox = RecordingOutbox(tmp_path / "outbox")
    settings = make_settings(database, broker, follow_link_secret=SECRET, rating_link_grace_s=0)
    keys = FollowKeys(SecretStr(SECRET))
    mine = Complaint(
        501,
        Channel.SMS,
        Language.KO,
        ReplyAddress(medium=ReplyMedium.SMS, address="010-5000-0501", consent=True),
    )
    other = Complaint(502, Channel.WEB, Language.EN, None)
    async with runner(settings, outbox, None)() as app:
        # The answer and the rating link arrive before the receipt: order across owners is not given.
        await publish(broker, CASEWORK_EVENTS.name, mine.case(CaseAnsweredV1, text="포트홀을 메웠습니다."))
        await publish(broker, RATING_LINKS.name, mine.link())
        await publish(broker, INTAKE_EVENTS.name, mine.received(), other.received())
        await publish(broker, ROUTER_EVENTS.name, mine.assigned())
        await publish(broker, SLA_EVENTS.name, mine.deadline())
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as http:

            async def page() -> dict[str, object] | None:
                r = await http.get(
                    f"/api/v1/follow/{mine.no}", headers={"Authorization": f"Follow {keys.key_for(mine.id)}"}
                )
                body = r.json()
                done = r.status_code == 200 and body["deadline"] and body["notices"] and body["rating_url"]
                return body if done else None

            shown = await eventually(page, what="the citizen page with answer, deadline, link and notices")
            assert shown["status"] == "answered"
            assert shown["text"] == "만리재로 193 앞 육교 계단에 구멍이 났어요"  # the citizen's own words
            assert (
                shown["answer"]["text"] == "포트홀을 메웠습니다."
                and shown["answer"]["answered_by"] == "office"
            )
            assert shown["office"]["code"] == "district.yongsan.roads"
            assert shown["rating_url"] == f"/rate#token=tok-{mine.id.hex}"
            assert {n["stage"] for n in shown["notices"]} >= {"received"}

            def get(receipt: str, authorization: str | None) -> object:
                headers = {"Authorization": authorization} if authorization else {}
                return http.get(f"/api/v1/follow/{receipt}", headers=headers)

            refused = [
                await get(mine.no, f"Follow {keys.key_for(other.id)}"),  # another complaint's key
                await get(mine.no, f"Follow {FollowKeys(SecretStr('x' * 40)).key_for(mine.id)}"),  # forged
                await get("2026-9999999", f"Follow {keys.key_for(mine.id)}"),  # unknown receipt
            ]
            for r in refused:
                assert isinstance(r, httpx.Response)
                assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
                assert "포트홀" not in r.text and "육교" not in r.text
            # the same answer for a wrong key and an unknown receipt: nothing to probe
            assert refused[0].json()["detail"] == refused[2].json()["detail"]  # type: ignore[union-attr]
            for authorization in (None, "Bearer abc", "Follow short"):
                r = await get(mine.no, authorization)
                assert isinstance(r, httpx.Response) and r.status_code == 401
            bad = await get("not-a-receipt", f"Follow {keys.key_for(mine.id)}")
            assert isinstance(bad, httpx.Response) and bad.status_code == 422

        # The receipt notice (by SMS) carries the private link, so the citizen can open the page.
        await notices(broker, 1)
        link = FollowKeys.link("https://eungdapso.test", mine.no, keys.key_for(mine.id))
        sent = await eventually(
            lambda: _texts_with(outbox, mine.no), what="the receipt text message in the outbox"
        )
        assert any(link in text for text in sent), sent


async def _texts_with(outbox: RecordingOutbox, receipt_no: str) -> list[str] | None:
    texts = [m["text"] for m in outbox.messages("sms") if receipt_no in m["text"]]
    return texts or None
