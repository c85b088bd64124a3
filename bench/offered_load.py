"""Receipt → assigned latency at fixed offered loads (open loop), next to the saturation point.

`make bench`'s burst is a closed loop: 16 clients send the next complaint as soon as the last
one's 201 comes back, so intake takes in as many as the machine lets it and the latency is
the backlog the rest of the pipeline leaves behind on a saturated machine. That figure mixes
two questions. This one asks them apart: complaints are sent at a fixed rate whatever the
answers (as citizens do), at several rates, and for each two times are measured from each
201: to the router's first record about the complaint on its stream (routed: assigned,
answered at once or linked; the record's own timestamp), which is receipt → assigned as issue
7 names it, and to the public status past `received` (the publisher's hop after it). Below
saturation they are the pipeline's latency; where they start to climb is the rate the
machine can carry.

It only needs what every checkout since issue 6 has (devstack's `Stack` and `TansuBroker`,
`publisher.public_complaints`), so the same script, with the same complaints, measures an
older commit for an A/B:

    python bench/offered_load.py --write-items /tmp/items.json          # the complaints, once
    python bench/offered_load.py --items /tmp/items.json --rates 50,100,150
    (cd ../old && .venv/bin/python /path/to/offered_load.py --items /tmp/items.json ...)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import structlog
from measure import (
    RECEIVED_STREAM,
    ROUTED_STREAM,
    CpuTimes,
    cpu_of,
    cpu_seconds,
    first_record_times,
    hops_text,
    ms_per,
    pct,
    postgres_pids,
)

from eungdapso_devstack.infra import PostgresTarget, TansuBroker, ensure_topics
from eungdapso_devstack.stack import Stack

log = structlog.get_logger("bench.offered_load")


def cpu_now(stack: Stack, broker: TansuBroker) -> CpuTimes:
    out: CpuTimes = {}
    for name in ("intake", "router", "publisher"):
        pid = stack[name].pid
        out[name] = {} if pid is None else {pid: cpu_of(pid)}
    out["postgres"] = {pid: cpu_of(pid) for pid in postgres_pids()}
    out["broker"] = {} if broker.process is None else {broker.process.pid: cpu_of(broker.process.pid)}
    out["bench"] = {os.getpid(): cpu_of(os.getpid())}
    return out


class Watch:
    """When each receipt's public status first passes `received`: the read model asked every
    5 ms for the receipts still waiting (below saturation only a handful are)."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.sent: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        #: Each receipt's complaint id and its 201's wall-clock time (epoch seconds), to set
        #: beside the records' own timestamps on the router's stream.
        self.sent_wall: dict[str, tuple[str, float]] = {}
        self._stop = False

    async def run(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
            while not self._stop:
                waiting = [r for r in self.sent if r not in self.seen]
                if waiting:
                    cur = await conn.execute(
                        "SELECT receipt_no FROM publisher.public_complaints"
                        " WHERE receipt_no = ANY(%s) AND status <> 'received'",
                        (waiting,),
                    )
                    now = time.perf_counter()
                    for (receipt_no,) in await cur.fetchall():
                        self.seen.setdefault(receipt_no, now)
                await asyncio.sleep(0.005)

    def stop(self) -> None:
        self._stop = True


async def offered(intake_url: str, items: list[dict[str, Any]], rate: float, watch: Watch) -> dict[str, Any]:
    """Send `items` at `rate` per second, each on its own schedule (open loop); the latency
    from each 201 to the public status past `received`."""
    errors: dict[str, int] = {}
    late: list[float] = []

    async def one(client: httpx.AsyncClient, item: dict[str, Any], at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        late.append(time.perf_counter() - at)
        try:
            r = await client.post("/api/v1/complaints", json=item["submission"])
        except httpx.HTTPError as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return
        if r.status_code != 201:  # under overload, a 503 with Retry-After: the citizen retries
            errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
            return
        receipt = r.json()
        watch.sent[receipt["receipt_no"]] = time.perf_counter()
        watch.sent_wall[receipt["receipt_no"]] = (str(receipt["complaint_id"]), time.time())

    async with httpx.AsyncClient(
        base_url=intake_url, timeout=60, limits=httpx.Limits(max_connections=256)
    ) as client:
        t0 = time.perf_counter() + 0.1
        await asyncio.gather(*(one(client, item, t0 + i / rate) for i, item in enumerate(items)))
        sent_s = time.perf_counter() - t0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(watch.seen) < len(watch.sent):
        await asyncio.sleep(0.05)
    latencies = [max(0.0, watch.seen[r] - t) for r, t in watch.sent.items() if r in watch.seen]
    accepted = len(watch.sent)
    return {
        "offered_per_s": rate,
        "complaints": len(items),
        "accepted": accepted,
        "errors": sum(errors.values()),
        "errors_by_status": errors,
        "accepted_per_s": accepted / sent_s,
        "shown": len(latencies),
        "p50_ms": pct(latencies, 50) * 1000,
        "p90_ms": pct(latencies, 90) * 1000,
        "p99_ms": pct(latencies, 99) * 1000,
        # How far behind its schedule the sender itself ran (the bench's own saturation).
        "sender_late_p99_ms": pct(late, 99) * 1000,
    }


async def routed(watch: Watch, bootstrap: str) -> dict[str, Any]:
    """From each 201 to the router's first record about the complaint on its stream (assigned,
    answered at once or linked: routed), the record's own timestamp. The stream is read once
    the rate is over and its CPU measured, so the watching costs the run nothing. Split in two
    hops at intake's record of the receipt on its own stream: intake's relay (201 → received on
    the broker) and the router's (received → routed: the fetch, the decision, its relay)."""
    ids = {c for c, _ in watch.sent_wall.values()}
    first = await first_record_times(bootstrap, ids, (RECEIVED_STREAM, ROUTED_STREAM))
    latencies, relayed, routing = [], [], []
    for complaint_id, at in watch.sent_wall.values():
        routed_at = first.get((ROUTED_STREAM, complaint_id))
        received_at = first.get((RECEIVED_STREAM, complaint_id))
        if routed_at is None:
            continue
        latencies.append(max(0.0, routed_at - at))
        if received_at is not None:
            relayed.append(max(0.0, received_at - at))
            routing.append(max(0.0, routed_at - received_at))
    return {
        "routed": len(latencies),
        "routed_p50_ms": pct(latencies, 50) * 1000,
        "routed_p90_ms": pct(latencies, 90) * 1000,
        "routed_p99_ms": pct(latencies, 99) * 1000,
        # The two hops' own medians (they need not add up to the whole's).
        "received_on_broker_p50_ms": pct(relayed, 50) * 1000 if relayed else None,
        "received_to_routed_p50_ms": pct(routing, 50) * 1000 if routing else None,
    }


#: Complaints sent before the figures, to warm the stack (kiwi, models, connections).
WARM_UP = 40


def rates_arg(text: str) -> list[float]:
    """`50,75,100`: offered loads, each a positive number of complaints per second."""
    try:
        rates = [float(r) for r in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not rates or any(not 0 < r <= 10_000 for r in rates):
        raise argparse.ArgumentTypeError(f"each rate must be above 0 and at most 10000: {text!r}")
    return rates


def env_arg(text: str) -> tuple[str, str]:
    """`NAME=value`: a setting for every service of the stack (to ask "what if")."""
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier() or name.upper() != name:
        raise argparse.ArgumentTypeError(f"not NAME=value with an upper-case NAME: {text!r}")
    return name, value


def sent_at(args: argparse.Namespace, rate: float) -> int:
    """How many complaints one rate sends."""
    return min(args.per_rate, int(rate * args.seconds))


def needed(args: argparse.Namespace) -> int:
    """How many complaints the warm-up and every rate take."""
    return WARM_UP + sum(sent_at(args, rate) for rate in args.rates)


async def run(args: argparse.Namespace, items: list[dict[str, Any]]) -> dict[str, Any]:
    rates: list[float] = args.rates
    postgres = PostgresTarget(
        os.environ.get("POSTGRES_HOST", "127.0.0.1"),
        int(os.environ.get("POSTGRES_PORT", "5432")),
        os.environ.get("POSTGRES_USER", "postgres"),
        os.environ.get("POSTGRES_PASSWORD", ""),
        f"eds_offered_{uuid.uuid4().hex[:8]}",
    )
    postgres.create_database()
    broker = TansuBroker(log_file=Path(tempfile.mkdtemp()) / "broker.log")
    broker.start()
    stack: Stack | None = None
    results: list[dict[str, Any]] = []
    try:
        await ensure_topics(broker.bootstrap_servers)
        stack = Stack(
            postgres=postgres,
            bootstrap_servers=broker.bootstrap_servers,
            logs=Path(tempfile.mkdtemp(prefix="eds-offered-logs-")),
            services=("intake", "router", "publisher"),
            extra_env={
                "LOG_LEVEL": "WARNING",
                "RELAY_POLL_INTERVAL_S": "0.05",
                "WEB_RATE_PER_MINUTE": "100000000",
                **dict(args.service_env),
            },
        )
        await stack.start()
        # A warm-up the figures leave out: kiwi, the models and the connections ready.
        warm = Watch(postgres.conninfo())
        task = asyncio.create_task(warm.run())
        await offered(stack["intake"].base_url, items[:WARM_UP], 20, warm)
        warm.stop()
        await task
        # The floor: what the stack costs with nothing to do (consumers' long polls, relays'
        # polls, heartbeats), in cores, per process.
        before, t0 = cpu_now(stack, broker), time.perf_counter()
        await asyncio.sleep(args.idle_seconds)
        idle_s = time.perf_counter() - t0
        idle = {k: round(v / idle_s, 3) for k, v in cpu_seconds(before, cpu_now(stack, broker)).items()}
        log.info("idle_cores", **idle)
        start = WARM_UP
        for rate in rates:
            n = sent_at(args, rate)
            batch = items[start : start + n]
            start += n
            watch = Watch(postgres.conninfo())
            task = asyncio.create_task(watch.run())
            log.info("offered_load", rate_per_s=rate, complaints=n)
            before = cpu_now(stack, broker)
            result = await offered(stack["intake"].base_url, batch, rate, watch)
            # CPU per complaint of each process over the rate and its drain.
            spent = ms_per(before, cpu_now(stack, broker), result["shown"])
            result["cpu_ms_per_complaint"] = {k: round(v, 2) for k, v in spent.items()}
            result |= await routed(watch, broker.bootstrap_servers)
            watch.stop()
            await task
            log.info("offered_load_done", **result)
            results.append(result)
            await asyncio.sleep(2)  # let the pipeline go quiet between rates
        gc = await gc_pauses(stack)
    finally:
        if stack is not None:
            stack.stop()
        broker.stop()
        postgres.drop_database()
    return {"idle_cores": idle, "rates": results, "gc_pauses": gc}


async def gc_pauses(stack: Stack) -> dict[str, Any]:
    """Each service's garbage-collector pauses since it started, as its `/readyz` shows them
    (an older checkout shows none: left out)."""
    shown: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=5) as http:
        for name in ("intake", "router", "publisher"):
            try:
                detail = (await http.get(stack[name].base_url + "/readyz")).json()
            except (httpx.HTTPError, ValueError):
                continue
            if isinstance(detail, dict) and isinstance(detail.get("gc"), dict):
                shown[name] = detail["gc"]
    return shown


def report(result: dict[str, Any], label: str) -> str:
    lines = [
        f"| {label}: offered/s | accepted/s | routed on the broker: p50 / p90 / p99 ms "
        "| hops p50: 201 → received, received → routed ms "
        "| shown | public: p50 / p90 / p99 ms | sender late p99 ms | CPU ms per complaint |",
        "|---|---|---|---|---|---|---|---|",
    ]
    idle = result.get("idle_cores")
    if idle:
        lines.insert(
            0,
            f"{label}, idle (cores): "
            + ", ".join(f"{k} {v:.3f}" for k, v in idle.items())
            + f"; all {sum(idle.values()):.3f}\n",
        )
    for r in result["rates"]:
        cpu = r.get("cpu_ms_per_complaint", {})
        cpu_text = ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()) + f"; all {sum(cpu.values()):.2f}"
        lines.append(
            f"| {r['offered_per_s']:.0f} | {r['accepted_per_s']:.0f} "
            f"| {r['routed_p50_ms']:.0f} / {r['routed_p90_ms']:.0f} / {r['routed_p99_ms']:.0f} "
            f"| {hops_text(r)} "
            f"| {r['shown']}/{r['complaints']} "
            f"| {r['p50_ms']:.0f} / {r['p90_ms']:.0f} / {r['p99_ms']:.0f} | {r['sender_late_p99_ms']:.0f} "
            f"| {cpu_text} |"
        )
    gc = result.get("gc_pauses")
    if gc:
        lines.append(
            "\nGarbage-collector pauses since start, whole run (oldest generation: collections, longest; "
            "all generations: total): "
            + "; ".join(
                f"{name} {g['gen2']['collections']}, {g['gen2']['longest_ms']:.0f} ms; "
                f"{sum(g[f'gen{n}']['total_ms'] for n in range(3)):.0f} ms"
                f" ({g['frozen']} objects frozen)"
                for name, g in gc.items()
            )
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--write-items", help="write the complaints (bench/workload.py) to this file and stop"
    )
    parser.add_argument("--items", help="the complaints to send (a file --write-items wrote)")
    parser.add_argument(
        "--rates", type=rates_arg, default="50,100,150", help="offered loads, complaints per second"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each rate is offered")
    parser.add_argument("--per-rate", type=int, default=2000, help="at most this many complaints per rate")
    parser.add_argument("--label", default="this checkout")
    parser.add_argument(
        "--idle-seconds", type=float, default=10.0, help="how long the idle floor is measured"
    )
    parser.add_argument("--out", help="write the figures here (JSON)")
    parser.add_argument(
        "--service-env",
        type=env_arg,
        action="append",
        default=[],
        metavar="NAME=value",
        help="a setting for every service (repeatable), e.g. KAFKA_FETCH_MAX_WAIT_MS=10",
    )
    args = parser.parse_args()
    if args.write_items:
        from workload import complaints  # this script's directory: bench/

        Path(args.write_items).write_text(json.dumps(complaints(10_000), ensure_ascii=False))
        return
    if not args.items:
        parser.error("--items (or --write-items) is required")
    try:
        items = json.loads(Path(args.items).read_text())
    except (OSError, ValueError) as exc:
        parser.error(f"--items {args.items}: cannot read the complaints ({exc})")
    if not isinstance(items, list) or len(items) < needed(args):
        parser.error(f"--items {args.items}: these rates need {needed(args)} complaints (--write-items)")
    result = asyncio.run(run(args, items))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    sys.stdout.write(report(result, args.label) + "\n")


if __name__ == "__main__":
    main()
