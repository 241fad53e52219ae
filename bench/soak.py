"""Sizes after a soak, before and after retention: what the service keeps, and what pruning frees.

    .venv/bin/python -m bench.soak --database-url postgresql+psycopg://postgres@127.0.0.1:5432/soak \\
        [--minutes 3] [--rate 20] [--keep-s 30] [--logs DIR]

The database's `public` schema is dropped and migrated first: give it a database of its own.

1. Load: one API process and one worker (`bench/chaos.py`'s customers, no kills) for `--minutes`,
   the worker's retention periods at their defaults (days), so nothing is pruned yet; then quiet.
2. Before: rows and bytes (`pg_total_relation_size`, indexes and TOAST included) of every table,
   and the database size.
3. Prune: the worker restarted with every retention period at `--keep-s` seconds; once the newest
   record is older than that, its first background pass prunes (`orchestrator/runtime/retention.py`).
4. After: the same figures; then after a plain `VACUUM` (space of deleted rows reusable; the file
   shrinks only where whole trailing pages are free).

Prints a table per phase, then as its last line one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.chaos import Load, start_fleet, stop_fleet
from tests.conftest import reset_postgres
from tests.fakes.graph import FakeGraphAPI
from tests.fakes.servers import serve_in_thread
from tests.faults.processes import wait_quiet

SECONDS_PER_DAY = 86400


def sizes(database_url: str) -> dict[str, Any]:
    """Rows and bytes of every table of the schema, and the database's size."""
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).fetchall()
        ]
        out: dict[str, Any] = {"tables": {}}
        for table in tables:
            rows = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
            size = conn.execute("SELECT pg_total_relation_size(%s)", (f'public."{table}"',)).fetchone()
            assert rows is not None
            assert size is not None
            out["tables"][table] = {"rows": int(rows[0]), "bytes": int(size[0])}
        database = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        assert database is not None
        out["database_bytes"] = int(database[0])
    return out


def vacuum(database_url: str) -> None:
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("VACUUM")


def render(title: str, before: dict[str, Any], after: dict[str, Any] | None = None) -> str:
    lines = [
        title,
        f"{'table':<28} {'rows':>9} {'kB':>8}" + (f" {'rows after':>11} {'kB after':>9}" if after else ""),
    ]
    for table, figures in before["tables"].items():
        if not figures["rows"] and not (after and after["tables"][table]["rows"]):
            continue
        line = f"{table:<28} {figures['rows']:>9} {figures['bytes'] // 1024:>8}"
        if after:
            later = after["tables"][table]
            line += f" {later['rows']:>11} {later['bytes'] // 1024:>9}"
        lines.append(line)
    total = f"{'database':<28} {'':>9} {before['database_bytes'] // 1024:>8}"
    if after:
        total += f" {'':>11} {after['database_bytes'] // 1024:>9}"
    lines.append(total)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL; its public schema is reset")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=20.0, help="webhook deliveries per second")
    parser.add_argument("--keep-s", type=float, default=30.0, help="every retention period while pruning")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--logs", type=Path, default=None, help="default: a new temporary folder")
    args = parser.parse_args()
    logs = args.logs or Path(tempfile.mkdtemp(prefix="bench-soak-"))
    logs.mkdir(parents=True, exist_ok=True)
    reset_postgres(args.database_url)
    fake = FakeGraphAPI()
    fake.delay_s = 0.02
    with serve_in_thread(fake.app) as graph_url:
        fleet = start_fleet(args.database_url, graph_url, logs, apis=1, workers=1, env={})
        try:
            load = Load(
                fleet.apis, fake, rate=args.rate, duplicate_rate=0.05, status_rate=0.5, seed=args.seed
            )

            async def drive() -> None:
                running = asyncio.create_task(load.run(customers=max(4, int(args.rate * 4))))
                await asyncio.sleep(args.minutes * 60)
                load.stop.set()
                await running

            asyncio.run(drive())
            counts = asyncio.run(wait_quiet(args.database_url, fake, load.tally.acked, within=180))
            loaded_at = time.monotonic()
            before = sizes(args.database_url)

            # The worker again, every retention period `--keep-s` seconds.
            worker = fleet.workers[0]
            worker.stop()
            keep_days = str(args.keep_s / SECONDS_PER_DAY)
            worker.env.update(
                {
                    "HANDOFF_RETENTION_DELIVERIES_DAYS": keep_days,
                    "HANDOFF_RETENTION_STATUSES_DAYS": keep_days,
                    "HANDOFF_RETENTION_TIMERS_DAYS": keep_days,
                    "HANDOFF_RETENTION_AUDIT_DAYS": keep_days,
                    "HANDOFF_RETENTION_INTERVAL_S": "5",
                }
            )
            time.sleep(max(0.0, args.keep_s + 1 - (time.monotonic() - loaded_at)))
            offset = worker.log.stat().st_size
            worker.start()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with worker.log.open("rb") as log:
                    log.seek(offset)
                    if b"retention_pruned" in log.read():
                        break
                time.sleep(1)
            time.sleep(6)  # one more pass: what the first left (a timer that fired meanwhile)
            after = sizes(args.database_url)
            vacuum(args.database_url)
            vacuumed = sizes(args.database_url)
        finally:
            stop_fleet(fleet)
    print(render("before pruning / after pruning", before, after))
    print(render("after VACUUM", vacuumed))
    result = {
        "minutes": args.minutes,
        "rate": args.rate,
        "keep_s": args.keep_s,
        "delivered": counts.delivered,
        "stuck": counts.stuck,
        "posts": dict(load.tally.posts),
        "before": before,
        "after": after,
        "after_vacuum": vacuumed,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
