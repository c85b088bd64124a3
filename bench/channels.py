"""Per-channel intake throughput (`make bench`, system section): complaints/s accepted through
each channel's real wire format, on the same running intake, next to the web form's JSON
POST measured in the same run (the existing figure) and the raw PostgreSQL inserts.

- Open311: form-encoded `POST /open311/v2/requests.json` with a client's `api_key`.
- SMS: our signed JSON webhook (`POST /api/v1/channels/sms/bench`, HMAC over timestamp.body).
- Kafka integrators: `complaint.submitted` records produced to the integrators' topic, until
  intake's answer for each is on the reply topic (only when the integrator intake exists).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from eungdapso_intake.channels.signatures import eungdapso_signature
from eungdapso_platform.kafka import KafkaSettings, kafka_consumer, kafka_producer
from eungdapso_platform.logging import get_logger
from eungdapso_schemas.envelope import decode
from eungdapso_schemas.events import ComplaintSubmittedV1, SubmissionAnsweredV1
from eungdapso_schemas.streams import INTAKE_REPLIES, INTEGRATOR_SUBMISSIONS

log = get_logger("bench.channels")

SMS_GATEWAY = "bench"
SMS_SECRET = "bench-gateway-secret-0123456789"
#: What intake needs to accept the channels on the bench stack.
INTAKE_ENV = {"SMS_GATEWAYS": json.dumps({SMS_GATEWAY: SMS_SECRET})}


def create_client(postgres_env: dict[str, str]) -> str:
    """An Open311 client, made with the operators' CLI; its key is the last line printed."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "eungdapso_intake",
            "clients",
            "create",
            "--name",
            f"bench-{uuid.uuid4().hex[:6]}",
            "--scope",
            "open311",
            "--rate-per-minute",
            "100000000",
        ],
        env={**os.environ, **postgres_env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


async def _drive(
    url: str, n: int, concurrency: int, send: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]
) -> dict[str, float]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    errors = 0
    latencies: list[float] = []

    async def loop(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while not queue.empty():
            i = queue.get_nowait()
            t0 = time.perf_counter()
            r = await send(client, i)
            latencies.append(time.perf_counter() - t0)
            if r.status_code not in (200, 201):
                errors += 1
                if errors <= 3:
                    log.warning("channel_error", status=r.status_code, body=r.text[:300])

    async with httpx.AsyncClient(
        base_url=url, timeout=60, limits=httpx.Limits(max_connections=concurrency)
    ) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(loop(c) for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    latencies.sort()
    return {
        "accepted_per_s": (n - errors) / elapsed,
        "errors": errors,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


async def open311(url: str, items: list[dict[str, Any]], concurrency: int, api_key: str) -> dict[str, float]:
    async def send(client: httpx.AsyncClient, i: int) -> httpx.Response:
        s = items[i % len(items)]["submission"]
        form = {
            "api_key": api_key,
            "service_code": "pothole",
            "description": s["text"],
            "lat": "37.5536",
            "long": "126.968",
            "first_name": "길동",
            "last_name": "홍",
            "phone": "010-1234-5678",
        }
        return await client.post("/open311/v2/requests.json", data=form)

    return await _drive(url, len(items), concurrency, send)


async def sms(url: str, items: list[dict[str, Any]], concurrency: int) -> dict[str, float]:
    run = uuid.uuid4().hex[:8]

    async def send(client: httpx.AsyncClient, i: int) -> httpx.Response:
        body = json.dumps(
            {
                "message_id": f"bench-{run}-{i}",
                "from": "010-2222-3333",
                "to": "120",
                "text": items[i % len(items)]["submission"]["text"],
                "received_at": datetime.now(UTC).isoformat(),
            },
            ensure_ascii=False,
        ).encode()
        timestamp = str(int(time.time()))
        return await client.post(
            f"/api/v1/channels/sms/{SMS_GATEWAY}",
            content=body,
            headers={
                "content-type": "application/json",
                "X-Eungdapso-Timestamp": timestamp,
                "X-Eungdapso-Signature": eungdapso_signature(SMS_SECRET, timestamp, body),
            },
        )

    return await _drive(url, len(items), concurrency, send)


async def web(url: str, items: list[dict[str, Any]], concurrency: int) -> dict[str, float]:
    async def send(client: httpx.AsyncClient, i: int) -> httpx.Response:
        return await client.post("/api/v1/complaints", json=items[i]["submission"])

    return await _drive(url, len(items), concurrency, send)


async def integrator(bootstrap: str, items: list[dict[str, Any]]) -> dict[str, float]:
    """Integrators' `complaint.submitted` records, produced as fast as the producer goes; each
    counts when intake's answer for it is on the reply topic (recorded and published)."""
    source = f"/integrators/bench-{uuid.uuid4().hex[:6]}"
    settings = KafkaSettings(kafka_bootstrap_servers=bootstrap)
    consumer = kafka_consumer(
        settings, INTAKE_REPLIES.name, client_id="bench-replies", group_id=None, auto_offset_reset="latest"
    )
    producer = kafka_producer(settings, client_id="bench-integrator", linger_ms=5)
    await consumer.start()
    await producer.start()
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    rejected = 0
    try:
        # Make sure the reader is positioned before the first answer can exist.
        await consumer.getmany(timeout_ms=500)
        t0 = time.perf_counter()
        for i, item in enumerate(items):
            message_id = f"bench-{i}"
            body = json.dumps(
                {"channel": "integration", "text": item["submission"]["text"], "kind": "complaint"},
                ensure_ascii=False,
            ).encode()
            headers = [
                ("ce_specversion", b"1.0"),
                ("ce_id", message_id.encode()),
                ("ce_source", source.encode()),
                ("ce_type", ComplaintSubmittedV1.cloudevents_type().encode()),
                ("ce_time", datetime.now(UTC).isoformat().encode()),
                ("content-type", b"application/json"),
            ]
            sent_at[message_id] = time.perf_counter()
            await producer.send(
                INTEGRATOR_SUBMISSIONS.name, key=message_id.encode(), value=body, headers=headers
            )
        await producer.flush()
        deadline = time.monotonic() + 300
        while len(latencies) + rejected < len(items) and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            now = time.perf_counter()
            for records in batches.values():
                for r in records:
                    answer = decode(r.headers, r.key, r.value).data
                    if not isinstance(answer, SubmissionAnsweredV1) or answer.source != source:
                        continue
                    if answer.id in sent_at:
                        if answer.accepted:
                            latencies.append(now - sent_at.pop(answer.id))
                        else:
                            rejected += 1
                            sent_at.pop(answer.id)
        elapsed = time.perf_counter() - t0
    finally:
        await producer.stop()
        await consumer.stop()
    latencies.sort()
    missing = len(sent_at)
    return {
        "accepted_per_s": len(latencies) / elapsed,
        "errors": rejected + missing,
        "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else float("nan"),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
        if latencies
        else float("nan"),
    }


def report(channels: dict[str, Any], pg_inserts_per_s: float) -> str:
    web_rate = channels["web"]["accepted_per_s"]
    lines = [
        "| channel (wire format) | accepted/s | p50 / p99 ms | vs web form (same run) | vs raw PG inserts |",
        "|---|---|---|---|---|",
    ]
    names = {
        "web": "web form (JSON POST)",
        "open311": "Open311 (form POST, api_key)",
        "sms": "SMS webhook (signed JSON)",
        "integrator": "Kafka integrator (submitted → reply)",
    }
    for key, name in names.items():
        m = channels.get(key)
        if m is None:
            continue
        lines.append(
            f"| {name} | {m['accepted_per_s']:.0f} | {m['p50_ms']:.0f} / {m['p99_ms']:.0f} | "
            f"{m['accepted_per_s'] / web_rate:.2f}x | {m['accepted_per_s'] / pg_inserts_per_s:.2f}x |"
        )
    lines.append(
        f"\n{channels['n']} complaints per channel, {channels['concurrency']} clients; errors: "
        + ", ".join(f"{k} {v['errors']}" for k, v in channels.items() if isinstance(v, dict))
    )
    return "\n".join(lines)
