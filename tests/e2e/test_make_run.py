"""What `make run` starts (python -m eungdapso_devstack), on a fresh run directory with the
embedded defaults: one base URL, /healthz, a complaint end to end, and a clean stop."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from eungdapso_devstack.infra import free_port
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


async def test_the_local_stack_starts_serves_and_stops_everything(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "KAFKA_"))}
    env.update(PORT=str(port), RUN_DIR=str(tmp_path / "run"), LOG_LEVEL="WARNING")
    out = open(tmp_path / "stdout", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "eungdapso_devstack"], env=env, stdout=out, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while b"running at " + base.encode() not in (tmp_path / "stdout").read_bytes():
            assert process.poll() is None, (tmp_path / "stdout").read_text()
            assert time.monotonic() < deadline, "the stack did not come up"
            await asyncio.sleep(0.2)
        children = psutil.Process(process.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        for service in ("intake", "router", "sla", "notifier", "publisher", "rating", "casework"):
            assert f"eungdapso_{service}" in names
        assert "tansu" in names

        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("/healthz")).status_code == 200
            r = await client.post(
                "/api/v1/complaints", json={"text": "가로등이 꺼졌어요", "kind": "complaint"}
            )
            assert r.status_code == 201
            receipt_no = r.json()["receipt_no"]

            async def assigned() -> bool:
                got = await client.get(f"/api/v1/complaints/{receipt_no}")
                return got.status_code == 200 and got.json()["status"] == "assigned"

            await eventually(assigned, what="assigned through the local stack")
        postgres = [
            p for p in psutil.process_iter(["cmdline"]) if str(tmp_path) in " ".join(p.info["cmdline"] or [])
        ]
        assert postgres, "the embedded PostgreSQL runs from the run directory"

        process.send_signal(signal.SIGTERM)
        process.wait(30)
        _gone, alive = psutil.wait_procs([*children, *postgres], timeout=15)
        assert not alive, [" ".join(p.cmdline()) for p in alive]
    finally:
        if process.poll() is None:
            process.kill()
        out.close()
