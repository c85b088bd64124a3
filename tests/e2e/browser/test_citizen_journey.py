"""A citizen and an office in a real browser (headless Chromium), against the whole system
on the real broker and PostgreSQL: file a complaint with a photo, follow it with the private
link, the office accepts and answers it on the staff page, the citizen sees the answer and
rates it, and the live board shows it happen. Every page is photographed in Korean and in
English, is free of console errors, and has no serious accessibility violation (axe-core)."""

from __future__ import annotations

import asyncio
import io
import re

import httpx
import pytest
from PIL import Image
from playwright.async_api import Browser, expect

from eungdapso_devstack.infra import PostgresTarget
from tests.e2e.browser.conftest import Watched
from tests.e2e.test_gateway_services import office_key
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

OFFICE = "seoul.transport.bus_policy"
TEXT = "광화문 버스 정류장 안내판이 사흘째 꺼져 있어요. 도착 정보를 볼 수가 없습니다."


def photo_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


async def test_file_follow_answer_rate_and_watch_it_live(
    browser: Browser, base_url: str, database: PostgresTarget
) -> None:
    key = await asyncio.to_thread(office_key, database, OFFICE)
    context = await browser.new_context(locale="ko-KR")
    board = Watched(await context.new_page())
    await board.page.goto(f"{base_url}/board")
    await expect(board.page.locator("#live")).to_have_text("실시간 연결됨", timeout=15_000)

    # -- the citizen files, with a photo, choosing publication ----------------------------
    citizen = Watched(await context.new_page())
    await citizen.page.goto(f"{base_url}/file")
    await citizen.page.get_by_label("불편·고충 민원").check()
    await citizen.page.get_by_label("내용", exact=True).fill(TEXT)
    await citizen.page.get_by_label("주소", exact=True).fill("서울특별시 종로구 세종대로 172")
    await citizen.page.set_input_files(
        "#photos", files=[{"name": "stop.png", "mimeType": "image/png", "buffer": photo_png()}]
    )
    await citizen.page.get_by_label("공개: 내용과 답변을").check()
    await citizen.page.get_by_label("휴대전화").fill("010-2345-6789")
    await citizen.page.get_by_role("button", name="신청하기").click()
    receipt = citizen.page.locator("#receipt-no")
    await expect(receipt).to_have_text(re.compile(r"^20[0-9]{2}-[0-9]{7,10}$"), timeout=15_000)
    receipt_no = await receipt.inner_text()
    follow_href = await citizen.page.locator("#follow-link").get_attribute("href")
    assert follow_href and "#key=" in follow_href
    await citizen.screenshot("ko-file-receipt")

    # The board saw it arrive, live.
    await expect(board.page.locator("#feed")).to_contain_text(receipt_no, timeout=30_000)

    # -- the office works it on the staff page ------------------------------------------
    staff = Watched(await context.new_page())
    await staff.page.goto(f"{base_url}/staff/")
    await staff.page.get_by_label("부서 API 키").fill(key)
    await staff.page.get_by_role("button", name="열기").first.click()
    row = staff.page.locator("tr", has_text=receipt_no)
    # The case reaches the inbox once routed: wait for it over the API, then open the page.
    await eventually(lambda: in_inbox(base_url, key, receipt_no), what="the case in the inbox", timeout=60)
    await staff.page.get_by_role("button", name="열기").first.click()
    await row.get_by_role("button").click()
    await expect(staff.page.locator("#case-text")).to_have_text(TEXT)
    await staff.page.get_by_label("담당자 사번").fill("transport-7")
    await staff.page.locator("#do-accept").click()
    await expect(staff.page.locator("#action-outcome")).to_contain_text("처리했습니다", timeout=10_000)
    await staff.page.get_by_label("답변 내용", exact=True).fill(
        "안내판 전원 장치를 교체했습니다. 불편을 드려 죄송합니다."
    )
    await staff.page.locator("#do-answer").click()
    await expect(staff.page.locator("#action-outcome")).to_contain_text("처리했습니다", timeout=10_000)
    await staff.screenshot("ko-staff-inbox")

    # -- the citizen follows it to the answer and rates it ------------------------------
    # The answer and the rating link reach the notifier: wait over the API (a page that asked
    # too early would rightly be told 404), then open the page once.
    await eventually(
        lambda: rated_page(base_url, receipt_no, follow_href),
        what="the answer and link on the page",
        timeout=60,
    )
    await citizen.page.goto(f"{base_url}{follow_href}")
    answer = citizen.page.locator("#my-answer")
    rate_link = citizen.page.locator("#rate-link")
    await expect(answer).to_contain_text("전원 장치를 교체")
    await expect(citizen.page.locator("#my-text")).to_have_text(TEXT)
    await citizen.screenshot("ko-follow-answered")
    await rate_link.click()
    await expect(citizen.page.locator("#rated")).to_contain_text(receipt_no, timeout=10_000)
    await citizen.page.get_by_label("4 — 만족", exact=True).check()
    await citizen.page.get_by_role("button", name="평가 보내기").click()
    await expect(citizen.page.locator("#outcome")).to_contain_text("감사합니다", timeout=10_000)
    await citizen.screenshot("ko-rate-thanks")

    # The board followed the case to its answer, live.
    await expect(board.page.locator("#feed li", has_text=receipt_no).first).to_be_visible()
    await expect(board.page.locator("#feed")).to_contain_text("답변 완료", timeout=30_000)
    await board.screenshot("ko-board")

    # -- nobody else can read it: the follow page without the key shows the status only ----
    stranger = Watched(await context.new_page())
    await stranger.page.goto(f"{base_url}/follow/{receipt_no}")
    await expect(stranger.page.locator("#complaint")).to_contain_text("답변 완료", timeout=10_000)
    assert TEXT not in await stranger.page.content()

    for watched in (board, citizen, staff, stranger):
        assert watched.errors == [], watched.errors
    await context.close()


async def in_inbox(base_url: str, key: str, receipt_no: str) -> bool | None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        listed = await http.get("/api/v1/inbox/cases", headers={"Authorization": f"Bearer {key}"})
    return True if any(c["receipt_no"] == receipt_no for c in listed.json()["cases"]) else None


async def rated_page(base_url: str, receipt_no: str, follow_href: str) -> bool | None:
    follow_key = follow_href.split("#key=", 1)[1]
    async with httpx.AsyncClient(base_url=base_url) as http:
        mine = await http.get(
            f"/api/v1/follow/{receipt_no}", headers={"Authorization": f"Follow {follow_key}"}
        )
    return True if mine.status_code == 200 and mine.json()["rating_url"] else None


PAGES = ["/", "/file", "/follow/", "/board", "/staff/", "/staff/triage", "/staff/reviews"]


@pytest.mark.parametrize("lang", ["ko", "en"])
async def test_every_page_in_each_language_is_photographed_clean_and_accessible(
    browser: Browser, base_url: str, lang: str
) -> None:
    context = await browser.new_context(locale="ko-KR" if lang == "ko" else "en-GB")
    for path in PAGES:
        watched = Watched(await context.new_page())
        await watched.page.goto(f"{base_url}{path}?lang={lang}")
        await expect(watched.page.locator("html")).to_have_attribute("lang", lang)
        await watched.page.wait_for_load_state("networkidle") if path != "/board" else await asyncio.sleep(1)
        name = path.strip("/").replace("/", "-") or "home"
        await watched.screenshot(f"{lang}-{name}")
        assert await watched.serious_accessibility_violations() == [], path
        assert watched.errors == [], (path, watched.errors)
        await watched.page.close()
    await context.close()
