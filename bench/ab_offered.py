"""An A/B of receipt → routed between this checkout and another one (a baseline commit), in
alternating pairs, with the same complaints: `offered_load.py` run in each checkout in turn.

One run of each says little on a shared machine: the same code's routed p50 has scattered
1.5-3x from one run to the next here. So each pair runs the two checkouts back to back (the
order alternates from pair to pair, so that a drift of the machine favours neither), and the
figure is each pair's ratio of routed p50 (this checkout / the baseline), with the median
ratio over the pairs. The hops are reported too (201 → received on the broker, received →
routed), so that a difference shows where it is.

    git worktree add --detach ../base ba749db && (cd ../base && make install)
    python bench/offered_load.py --write-items /tmp/items.json
    python bench/ab_offered.py --baseline ../base --items /tmp/items.json --pairs 6 --rates 20

Nothing else should run meanwhile. Runs' figures are kept as JSON in `--out`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog
from measure import hops_text  # this script's directory: bench/

log = structlog.get_logger("bench.ab_offered")

HERE = Path(__file__).resolve().parent
THIS_CHECKOUT = HERE.parent


def run_once(checkout: Path, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """One `offered_load.py` run in `checkout` (its own virtualenv and code), this script's
    copy of the bench (the same measurement for both)."""
    command = [
        str(checkout / ".venv" / "bin" / "python"),
        str(HERE / "offered_load.py"),
        "--items",
        args.items,
        "--rates",
        args.rates,
        "--seconds",
        str(args.seconds),
        "--idle-seconds",
        str(args.idle_seconds),
        "--out",
        str(out),
    ]
    started = time.monotonic()
    done = subprocess.run(command, cwd=checkout, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"offered_load.py failed in {checkout} ({done.returncode}):\n{done.stderr[-3000:]}")
    log.info("run_done", checkout=str(checkout), seconds=round(time.monotonic() - started))
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def summary(pairs: list[dict[str, Any]]) -> str:
    """Per rate: each pair's routed p50 of both, their ratio, and the hops; the median ratio."""
    lines: list[str] = []
    rates = [r["offered_per_s"] for r in pairs[0]["this"]["rates"]]
    for index, rate in enumerate(rates):
        lines += [
            f"\nOffered {rate:g}/s: routed p50 ms (hops p50: 201 → received, received → routed)\n",
            "| pair | this checkout | baseline | this / baseline |",
            "|---|---|---|---|",
        ]
        ratios = []
        for n, pair in enumerate(pairs, 1):
            this, base = pair["this"]["rates"][index], pair["base"]["rates"][index]
            ratio = this["routed_p50_ms"] / base["routed_p50_ms"]
            ratios.append(ratio)
            change = f"{ratio:.2f} ({(ratio - 1) * 100:+.0f} %)"
            lines.append(f"| {n} ({pair['order']}) | {cell(this)} | {cell(base)} | {change} |")
        median = statistics.median(ratios)
        lines.append(
            f"\nMedian ratio {median:.2f} ({(median - 1) * 100:+.0f} %) over {len(ratios)} pairs; "
            f"range {min(ratios):.2f}-{max(ratios):.2f}. Median routed p50: this checkout "
            f"{statistics.median(p['this']['rates'][index]['routed_p50_ms'] for p in pairs):.0f} ms, "
            f"baseline {statistics.median(p['base']['rates'][index]['routed_p50_ms'] for p in pairs):.0f} ms."
        )
    return "\n".join(lines)


def cell(r: dict[str, Any]) -> str:
    return f"{r['routed_p50_ms']:.0f} ({hops_text(r)})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", required=True, help="the other checkout (with its .venv: make install)")
    parser.add_argument("--items", required=True, help="the complaints (offered_load.py --write-items)")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--rates", default="20", help="offered loads per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each rate is offered")
    parser.add_argument("--idle-seconds", type=float, default=3.0)
    parser.add_argument("--out", help="where the runs' figures go (a directory)")
    args = parser.parse_args()
    baseline = Path(args.baseline).resolve()
    if not (baseline / ".venv" / "bin" / "python").exists():
        parser.error(f"--baseline {baseline}: no .venv (run make install there)")
    if args.pairs < 1:
        parser.error("--pairs: at least 1")
    out = Path(args.out or tempfile.mkdtemp(prefix="eds-ab-"))
    out.mkdir(parents=True, exist_ok=True)
    pairs: list[dict[str, Any]] = []
    for n in range(args.pairs):
        order = ("this", "base") if n % 2 == 0 else ("base", "this")
        pair: dict[str, Any] = {"order": " then ".join(order)}
        for side in order:
            checkout = THIS_CHECKOUT if side == "this" else baseline
            log.info("run", pair=n + 1, of=args.pairs, side=side)
            pair[side] = run_once(checkout, args, out / f"pair{n + 1}-{side}.json")
        pairs.append(pair)
        (out / "pairs.json").write_text(json.dumps(pairs, indent=2))
    sys.stdout.write(summary(pairs) + f"\n\nRuns kept in {out}\n")


if __name__ == "__main__":
    main()
