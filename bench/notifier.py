"""What the notifier costs (`make bench`, section `notifier`): the service in this process on
the bench's broker and PostgreSQL, with a provider that accepts every message at once (so the
figures are the notifier's own: consuming, planning, recording each notice before and after
the send, publishing `NoticeSent`), next to bare aiokafka on the same records, same run.

- **notices/s**: a burst of text-message complaints (`ComplaintReceived`, SMS with consent)
  produced at once, until every receipt notice was handed to the provider;
- **answered → notice sent**: one `CaseAnswered` at a time at a steady rate, from its produce
  to the answer notice handed to the provider, p50 / p99 (raw: produce → consume).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from asgi_lifespan import LifespanManager
from measure import pct
from platform_cost import service_values

from eungdapso_devstack.infra import PostgresTarget, TansuBroker, ensure_topics
from eungdapso_notifier.bootstrap import bootstrap
from eungdapso_notifier.domainmodel import notice_id
from eungdapso_notifier.providers import Delivered, OutgoingMessage
from eungdapso_notifier.settings import NotifierSettings
from eungdapso_platform.kafka import KafkaSettings, kafka_producer
from eungdapso_schemas.codes import Channel, ReplyMedium
from eungdapso_schemas.envelope import Envelope, encode
from eungdapso_schemas.events import CaseAnsweredV1, ComplaintReceivedV2, ReplyAddress
from eungdapso_schemas.streams import CASEWORK_EVENTS, INTAKE_EVENTS

Baseline = Callable[[str, list[Any], int, float], Awaitable[dict[str, float]]]


class Sink:
    """Accepts every message at once and notes when each notice reached it."""

    name = "bench-sink"

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    async def send(self, message: OutgoingMessage) -> Delivered:
        self.at.setdefault(message.notice_id, time.perf_counter())
        return Delivered(self.name, message.notice_id, form="sms")


def _envelope(payload: Any, source: str) -> Envelope[Any]:
    return Envelope(
        id=str(uuid.uuid4()),
        source=source,
        time=datetime.now(UTC),
        subject=str(payload.complaint_id),
        data=payload,
    )


def received(i: int) -> Envelope[Any]:
    payload = ComplaintReceivedV2.example().model_copy(
        update={
            "complaint_id": uuid.uuid4(),
            "receipt_no": f"2026-{i + 1:07d}",
            "channel": Channel.SMS,
            "reply_to": ReplyAddress(
                medium=ReplyMedium.SMS, address=f"010-5{i:03d}-{i % 10000:04d}", consent=True
            ),
        }
    )
    return _envelope(payload, "/bench/intake")


def answered(of: Envelope[Any]) -> Envelope[Any]:
    payload = CaseAnsweredV1.example().model_copy(
        update={"complaint_id": of.data.complaint_id, "receipt_no": of.data.receipt_no}
    )
    return _envelope(payload, "/bench/casework")


async def _wait(done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the notifier did not send everything in time")
        await asyncio.sleep(0.01)


async def notifier_cost(
    postgres: PostgresTarget, *, n: int, steady: int, rate: float, kafka_baseline: Baseline
) -> dict[str, Any]:
    broker = TansuBroker(log_file=Path(tempfile.mkdtemp(prefix="eds-bench-notifier-")) / "broker.log")
    broker.start()
    try:
        bootstrap_servers = broker.bootstrap_servers
        await ensure_topics(bootstrap_servers)
        burst = [received(i) for i in range(n)]
        records = [(r.key, r.value, r.headers) for r in map(encode, burst)]
        raw = await kafka_baseline(bootstrap_servers, records, steady, rate)
        settings = NotifierSettings(
            **service_values(postgres, bootstrap_servers, "notifier_bench"),
            log_level="WARNING",
            relay_poll_interval_s=0.05,
            dispatcher_interval_s=0.05,
            rating_link_grace_s=0,
            quiet_hours_start=clock_time(0),
            quiet_hours_end=clock_time(0),
        )
        sink = Sink()
        app = bootstrap(settings, providers={"sms": sink})
        producer = kafka_producer(KafkaSettings(kafka_bootstrap_servers=bootstrap_servers), client_id="bench")
        await producer.start()
        try:
            async with LifespanManager(app, startup_timeout=120, shutdown_timeout=30):
                t0 = time.perf_counter()
                futures = [
                    await producer.send(INTAKE_EVENTS.name, value=v, key=k, headers=h) for k, v, h in records
                ]
                await asyncio.gather(*futures)
                await _wait(lambda: len(sink.at) >= n, 600)
                # From the first notice to the last: the consumer group's start-up (joining,
                # the first fetch) is not the notifier's throughput.
                burst_s = max(sink.at.values()) - min(sink.at.values())
                first_after_s = min(sink.at.values()) - t0
                latencies = []
                for complaint in burst[:steady]:
                    r = encode(answered(complaint))
                    await producer.send_and_wait(
                        CASEWORK_EVENTS.name, value=r.value, key=r.key, headers=r.headers
                    )
                    sent = time.perf_counter()
                    notice = str(notice_id(complaint.data.complaint_id, "answered", 1, "sms"))
                    await _wait(lambda notice=notice: notice in sink.at, 60)  # type: ignore[misc]
                    latencies.append(sink.at[notice] - sent)
                    await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - sent)))
        finally:
            await producer.stop()
    finally:
        broker.stop()
    notices_per_s = (n - 1) / burst_s
    p50, p99 = pct(latencies, 50) * 1000, pct(latencies, 99) * 1000
    return {
        "n": n,
        "steady": steady,
        "rate": rate,
        "notices_per_s": notices_per_s,
        "first_notice_after_s": first_after_s,
        "answered_to_sent_p50_ms": p50,
        "answered_to_sent_p99_ms": p99,
        "raw_kafka": raw,
        "ratios": {
            "notices_vs_raw_kafka_produce": notices_per_s / raw["produce_per_s"],
            "latency_p50_vs_raw_kafka": p50 / raw["steady_p50_ms"],
            "latency_p99_vs_raw_kafka": p99 / raw["steady_p99_ms"],
        },
    }


def report(r: dict[str, Any]) -> str:
    k, q = r["raw_kafka"], r["ratios"]
    rows = [
        (
            "Notifier, receipt notices sent (burst, notices/s)",
            f"{r['notices_per_s']:.0f}",
            f"Kafka produce {k['produce_per_s']:.0f}/s",
            f"{q['notices_vs_raw_kafka_produce']:.3f}x",
        ),
        (
            "Answered → answer notice sent, steady p50 / p99 (ms)",
            f"{r['answered_to_sent_p50_ms']:.1f} / {r['answered_to_sent_p99_ms']:.1f}",
            f"Kafka produce→consume p50 {k['steady_p50_ms']:.1f} / p99 {k['steady_p99_ms']:.1f}",
            f"{q['latency_p50_vs_raw_kafka']:.1f}x / {q['latency_p99_vs_raw_kafka']:.1f}x",
        ),
    ]
    lines = ["| measure | notifier | raw baseline (same run) | ratio |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    lines.append(
        f"\n{r['n']} complaints in the burst (the first notice {r['first_notice_after_s']:.1f} s after the "
        f"first produce: the consumer's start-up); {r['steady']} answers at {r['rate']}/s"
    )
    return "\n".join(lines)
