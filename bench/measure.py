"""What several benchmarks read the same way: a quantile of a sample, a process's CPU time and
resident memory from `/proc`, the CPU of the local database server's processes, how late the
processes' event loops ran (their heartbeats), the event loop to run on, and whether the database
they are given is empty."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
LOOPS = ("uvloop", "asyncio")


def run_on_loop(coroutine: Coroutine[Any, Any, T], loop: str = "uvloop") -> T:
    """Run `coroutine` on the event loop the service's processes run on (`uvloop`: uvloop where
    installed, as `handoff serve` and `handoff worker` do) or on asyncio's own (`asyncio`)."""
    from orchestrator.runtime.cli import event_loop_factory  # not in a bare app's process

    with asyncio.Runner(loop_factory=event_loop_factory() if loop == "uvloop" else None) as runner:
        return runner.run(coroutine)


def require_empty_database(database_url: str, benchmark: str) -> None:
    """Exit with a clear message unless the database holds no inbox item and no contact yet (or
    has no tables: a new database). The benchmarks' customers and message ids are the same every
    run, so on a database an earlier run filled its customers would already be with reps, its
    deliveries duplicates, and what that run left unapplied would be applied inside the timings."""
    import sqlalchemy as sa

    from orchestrator.core.db import sqlite_path, sync_url

    path = sqlite_path(database_url)
    if path is not None and not path.exists():
        return  # a new file
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            held = sum(
                conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("inboxitem", "contact")
                if table in tables
            )
    finally:
        engine.dispose()
    if held:
        raise SystemExit(
            f"{benchmark} needs an empty database ({held} inbox items and contacts in it): "
            "its customers and message ids are the same every run (create a new one)"
        )


def quantile(values: list[float], q: float) -> float:
    """The value at `q` (0–1) of the sorted sample, by rank; 0.0 for an empty one."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


def process_usage(pid: int) -> tuple[float, float]:
    """(CPU seconds used, user and system; resident MB) of a live process, from `/proc`."""
    _, cpu = _name_and_cpu(Path(f"/proc/{pid}/stat").read_text())
    rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return cpu, rss_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class ProcessesCpu:
    """The CPU used by every local process of one name (`postgres`: the database server's backends
    and helpers) while the sampler runs, read from `/proc` every `every_s`: a process's use from its
    first sample to its last, so one that starts or ends in between counts from when it was seen
    (up to `every_s` of it missed). For a database on this machine only; 0 when none runs here."""

    def __init__(self, name: str = "postgres", *, every_s: float = 0.2) -> None:
        self.name, self.every_s = name, every_s
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"cpu-of-{name}", daemon=True)

    def start(self) -> ProcessesCpu:
        self._sample()
        self._thread.start()
        return self

    def stop(self) -> float:
        """The CPU seconds used since `start`."""
        self._stop.set()
        self._thread.join()
        self._sample()
        return sum(self._last[pid] - self._first[pid] for pid in self._last)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._sample()

    def _sample(self) -> None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # gone meanwhile
                continue
            name, cpu = _name_and_cpu(stat)
            if name != self.name:
                continue
            pid = int(entry.name)
            self._first.setdefault(pid, cpu)
            self._last[pid] = cpu


class LoopLagWatch:
    """The longest any process's event loop ran late while the watch runs, by role: each heartbeat
    row holds its process's longest delay over the interval before the beat (`loop_lag_s`), and the
    rows are read every `every_s`, often enough to see each beat of a few seconds' interval."""

    def __init__(self, database_url: str, *, every_s: float = 0.5) -> None:
        self.database_url, self.every_s = database_url, every_s
        self.longest: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loop-lag-watch", daemon=True)

    def start(self) -> LoopLagWatch:
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return {role: round(seconds, 4) for role, seconds in sorted(self.longest.items())}

    def _run(self) -> None:
        import sqlalchemy as sa

        from orchestrator.core.db import sync_url

        engine = sa.create_engine(sync_url(self.database_url))
        try:
            while not self._stop.wait(self.every_s):
                try:
                    with engine.connect() as conn:
                        rows = conn.execute(
                            sa.text("SELECT role, loop_lag_s FROM processbeat WHERE loop_lag_s IS NOT NULL")
                        ).all()
                except sa.exc.DBAPIError:  # the database busy or away a moment: the next read
                    continue
                for role, seconds in rows:
                    self.longest[role] = max(self.longest.get(role, 0.0), float(seconds))
        finally:
            engine.dispose()


def _name_and_cpu(stat: str) -> tuple[str, float]:
    """A process's name and CPU seconds used (user and system) from its `/proc/<pid>/stat`."""
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat.rsplit(")", 1)[1].split()
    return name, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def process_memory(pid: int) -> dict[str, float]:
    """A live process's memory in MB, from `/proc/PID/smaps_rollup`: `rss` (every page it maps,
    shared or not), `pss` (each shared page divided among the processes that map it: what the
    process costs the machine) and `uss` (its private pages: what ending it would give back)."""
    kib: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        kib[name] = int(value.split()[0])
    return {
        "rss": kib["Rss"] / 1024,
        "pss": kib["Pss"] / 1024,
        "uss": (kib["Private_Clean"] + kib["Private_Dirty"]) / 1024,
    }
