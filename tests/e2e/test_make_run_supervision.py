"""`make run` (python -m eungdapso_devstack) keeps its processes alive: a service or the
broker killed under it is reported in its log, restarted, and /healthz says so meanwhile."""

from __future__ import annotations

import asyncio
import json
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


def child(process: subprocess.Popen[bytes], marker: str) -> psutil.Process:
    [found] = [
        c for c in psutil.Process(process.pid).children(recursive=True) if marker in " ".join(c.cmdline())
    ]
    return found


def logged(output: Path, event: str, name: str) -> list[dict[str, object]]:
    lines = (json.loads(x) for x in output.read_text(errors="replace").splitlines() if x.startswith("{"))
    return [x for x in lines if x["event"] == event and x.get("name") == name]


async def down(client: httpx.AsyncClient, name: str) -> bool:
    r = await client.get("/healthz")
    return r.status_code == 503 and name in r.json().get("down", {})


async def healthy(client: httpx.AsyncClient) -> bool:
    return (await client.get("/healthz")).status_code == 200


async def kill_and_see_it_back(
    process: subprocess.Popen[bytes], client: httpx.AsyncClient, output: Path, marker: str, name: str
) -> None:
    kind = "broker" if name == "broker" else "service"
    victim = child(process, marker)
    victim.send_signal(signal.SIGKILL)
    if kind == "service":  # the broker is back too fast to catch it down reliably
        await eventually(lambda: down(client, name), timeout=15, what=f"/healthz reports {name} down")
    await eventually(
        lambda: asyncio.sleep(0, logged(output, f"{kind}_restarted", name)), timeout=90, what="restarted"
    )
    await eventually(lambda: healthy(client), timeout=90, what=f"healthy after {name} was killed")
    assert child(process, marker).pid != victim.pid
    [line] = logged(output, f"{kind}_exited", name)
    assert line["status"] == -9 and str(output.parent / "run") in str(line["log_file"])


async def test_make_run_restarts_a_killed_service_and_the_broker(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "KAFKA_"))}
    env.update(PORT=str(port), RUN_DIR=str(tmp_path / "run"), LOG_LEVEL="INFO")
    output = tmp_path / "output"
    out = open(output, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "eungdapso_devstack"], env=env, stdout=out, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while b"running at " + base.encode() not in output.read_bytes():
            assert process.poll() is None, output.read_text()
            assert time.monotonic() < deadline, "the stack did not come up"
            await asyncio.sleep(0.2)
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            await kill_and_see_it_back(process, client, output, "eungdapso_router", "router")
            await kill_and_see_it_back(process, client, output, "tansu", "broker")
            # Still serving end to end, through the restarted router and broker.
            complaint = {"text": "가로등이 꺼졌어요", "kind": "complaint"}
            r = await client.post("/api/v1/complaints", json=complaint)
            assert r.status_code == 201, r.text
            receipt_no = r.json()["receipt_no"]

            async def assigned() -> bool:
                got = await client.get(f"/api/v1/complaints/{receipt_no}")
                return got.status_code == 200 and got.json()["status"] == "assigned"

            await eventually(assigned, timeout=90, what="assigned after the restarts")
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        out.close()
