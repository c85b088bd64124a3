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
