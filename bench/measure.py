"""What several benchmarks read the same way: a quantile of a sample, and a process's CPU time and
resident memory from `/proc`."""

from __future__ import annotations

import os
from pathlib import Path


def quantile(values: list[float], q: float) -> float:
    """The value at `q` (0–1) of the sorted sample, by rank; 0.0 for an empty one."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


def process_usage(pid: int) -> tuple[float, float]:
    """(CPU seconds used, user and system; resident MB) of a live process, from `/proc`."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return cpu, rss_pages * os.sysconf("SC_PAGE_SIZE") / 2**20
