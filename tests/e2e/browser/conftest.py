"""Browser tests: headless Chromium (Debian's `chromium`, installed by `make install-browser`
where missing) driven by Playwright, against the whole system behind the gateway on a real
port. Screenshots go to `test-artifacts/screenshots/` (kept by CI as artifacts)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from eungdapso_devstack.gateway import Gateway
from eungdapso_devstack.infra import free_port
from tests.e2e.conftest import StackFactory

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
AXE = Path(__file__).with_name("vendor") / "axe.min.js"
#: As the machine's probe starts it: no sandbox as root, and no background traffic to hosts
#: this closed network cannot reach.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FOLLOW_SECRET = "browser-test-follow-link-secret-0123456789"


def chromium_path() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "no chromium on this machine: `make install-browser` installs Debian's"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
async def base_url(make_stack: StackFactory, broker: str) -> AsyncIterator[str]:
    stack = await make_stack(
        broker,
        services=("intake", "router", "sla", "notifier", "publisher", "rating", "casework"),
        env={"FOLLOW_LINK_SECRET": FOLLOW_SECRET, "PUBLIC_BASE_URL": "http://127.0.0.1"},
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(Gateway(stack.upstreams), port=port, log_config=None))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done()
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    # The board's event stream may still be open: do not wait for the browser to hang up.
    server.should_exit = True
    server.force_exit = True
    await serving


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


class Watched:
    """A page whose console errors and uncaught exceptions are collected."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    async def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        # A real picture of a page: a PNG, and more than a blank canvas compresses to.
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 8_000, name
        return path

    async def serious_accessibility_violations(self) -> list[dict[str, Any]]:
        # Evaluated through the DevTools protocol, which the page's own policy (scripts from
        # this origin only) does not govern: the page stays as citizens get it.
        await self.page.evaluate(AXE.read_text(encoding="utf-8"))
        result: dict[str, Any] = await self.page.evaluate(
            "async () => await axe.run(document, {resultTypes: ['violations']})"
        )
        return [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
