"""What every bench section measures with: percentiles and processes' CPU time from /proc.

Standard library only, so that `offered_load.py` can use it while running against an older
checkout's packages.
"""

from __future__ import annotations

import os
from pathlib import Path

#: CPU seconds so far of each process of a named group: name → pid → seconds.
CpuTimes = dict[str, dict[int, float]]


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank), NaN when there is nothing to rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


#: The two hops of receipt → routed that `offered_load.py` reports (None where a run did not
#: split them): 201 → received on the broker, received → routed.
HOPS = ("received_on_broker_p50_ms", "received_to_routed_p50_ms")


def hops_text(rate: dict[str, object]) -> str:
    """A rate's two hops in whole milliseconds, `-` for one not measured."""
    return ", ".join("-" if rate.get(key) is None else f"{rate[key]:.0f}" for key in HOPS)


def cpu_of(pid: int | None) -> float:
    """A process's CPU time so far (user + system, every thread; /proc), 0 once it is gone."""
    if pid is None:
        return 0.0
    try:
        # Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    """Every PostgreSQL process on the machine (the bench's backends are among them; on a
    shared machine others' are too, so this figure is an upper bound)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if comm.startswith("postgres"):
                pids.append(int(entry.name))
    return pids


def cpu_seconds(before: CpuTimes, after: CpuTimes) -> dict[str, float]:
    """CPU seconds each group spent between two readings (a process started in between
    counts from zero)."""
    return {
        name: sum(t - before.get(name, {}).get(pid, 0.0) for pid, t in times.items())
        for name, times in after.items()
    }


def ms_per(before: CpuTimes, after: CpuTimes, n: int) -> dict[str, float]:
    """CPU milliseconds each group spent per one of `n` things (complaints) in between."""
    return {name: s / max(1, n) * 1000 for name, s in cpu_seconds(before, after).items()}


#: The streams a complaint's receipt and its routing reach (schemas' INTAKE_EVENTS and
#: ROUTER_EVENTS; named here, as every checkout since issue 3 names them, so that the standard
#: library is all this module needs until a caller reads the broker).
RECEIVED_STREAM = "eungdapso.intake.events"
ROUTED_STREAM = "eungdapso.router.events"


async def first_record_times(
    bootstrap: str, keys: set[str], topics: tuple[str, ...] = (RECEIVED_STREAM, ROUTED_STREAM)
) -> dict[tuple[str, str], float]:
    """When the first record of each key (a complaint id) reached each topic: the record's own
    timestamp (the producer's, seconds since the epoch), read from the beginning once a phase
    is over, so that the watching costs the measured run nothing."""
    from aiokafka import AIOKafkaConsumer, TopicPartition  # a caller's checkout provides it

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, client_id="bench-first-records", group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    out: dict[tuple[str, str], float] = {}
    try:
        await consumer.topics()
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for tp, records in batches.items():
                for r in records:
                    key = r.key.decode() if r.key else ""
                    if key in keys:
                        out.setdefault((tp.topic, key), r.timestamp / 1000)
    finally:
        await consumer.stop()
    return out
