"""Memory of a fleet of workers on one machine: `handoff worker --processes N` (N workers forked
from one parent that loaded the libraries and the agents first) against N separate `handoff worker`
processes, on PostgreSQL, behind an acknowledge-only API; with `--role api`, `handoff serve
--workers N` (API processes that run their turns) against N separate `handoff serve` processes.

    .venv/bin/python -m bench.fleet_memory \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/fleet \\
        [--processes 4] [--deliveries 400] [--rounds 2] [--role worker|api]

The database's `public` schema is dropped and migrated before each layout: give it a database of
its own. The two layouts are measured in turn, `--rounds` times each. For each, once every worker
has loaded its graph and gone quiet (`idle`), then again after `--deliveries` signed messages from
100 customers went through the API and every one was answered (`after_load`: sent to a fake Graph
API in this process): the memory of every process of the layout (the forked layout's parent
included), read from `/proc/PID/smaps_rollup`:
- `pss_mb`: the proportional set, each shared page divided among the processes that map it; the
  layout's total is what it costs the machine, and `per_worker_pss_mb` that total over N;
- `rss_mb` per worker: every page it maps, shared ones in full (what `ps` and `bench.startup` show);
- `uss_mb` per worker: its private pages, what one more worker adds.
Prints a table and, as its last line, one JSON object: the median of each figure per layout and
the forked layout's total over the separate one's (`pss_ratio_idle`, `pss_ratio_after_load`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.measure import process_memory
from tests.conftest import reset_postgres
from tests.fakes.graph import FakeGraphAPI
from tests.fakes.servers import serve_in_thread
from tests.faults.processes import (
    SECRET,
    Server,
    acknowledge_only_api,
    children,
    deliveries,
    post_all,
    wait_quiet,
)

SENDERS = 100
QUIET_S = 3.0  # after the graphs are loaded or the load answered: the processes' work is done


def _figures(parent: int | None, workers: list[int]) -> dict[str, float]:
    every = [process_memory(pid) for pid in workers]
    total = sum(m["pss"] for m in every) + (process_memory(parent)["pss"] if parent is not None else 0.0)
    return {
        "pss_mb": round(total, 1),
        "per_worker_pss_mb": round(total / len(workers), 1),
        "rss_mb": round(statistics.mean(m["rss"] for m in every), 1),
        "uss_mb": round(statistics.mean(m["uss"] for m in every), 1),
    }


def one_layout(
    forked: bool, args: argparse.Namespace, fake: FakeGraphAPI, graph_url: str, logs: Path
) -> dict[str, dict[str, float]]:
    reset_postgres(args.database_url)
    env = {"HANDOFF_DEV_MODE": "true"}
    api = acknowledge_only_api(args.database_url, logs / "api.log", env=env, timeout_s=90)
    role = "serve" if args.role == "api" else "worker"
    count = 1 if forked else args.processes
    workers = [
        Server(
            args.database_url,
            graph_url,
            logs / f"{role}{i}.log",
            role=role,
            processes=args.processes if forked else 1,
            env=env,
            timeout_s=120,
        )
        for i in range(count)
    ]
    apis = workers if args.role == "api" else [api]
    fake.status_webhooks, fake.app_secret = [], SECRET
    try:
        for server in workers:
            server.start()
        if args.role != "api":
            api.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            loaded = sum(s.log.read_text().count("graph_loaded") for s in workers)
            if loaded >= args.processes:
                break
            time.sleep(0.2)
        time.sleep(QUIET_S)
        assert all(s.process is not None for s in workers)
        if forked:
            parent: int | None = workers[0].process.pid  # type: ignore[union-attr]
            pids = sorted(children(parent))  # type: ignore[arg-type]
        else:
            parent, pids = None, [s.process.pid for s in workers]  # type: ignore[union-attr]
        idle = _figures(parent, pids)
        fake.status_webhooks = [server.url for server in apis]
        acked: set[str] = set()
        items = deliveries(args.deliveries, senders=SENDERS, at=int(time.time()))
        asyncio.run(post_all(apis, items, concurrency=10, acked=acked))
        counts = asyncio.run(wait_quiet(args.database_url, fake, acked, within=120))
        time.sleep(QUIET_S)
        after = _figures(parent, pids)
        after["answered"] = counts.answered
    finally:
        api.stop()
        for server in workers:
            server.stop()
    return {"idle": idle, "after_load": after}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL; its public schema is dropped")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--deliveries", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--role", choices=["worker", "api"], default="worker")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, dict[str, float]]]] = {"forked": [], "separate": []}
    fake = FakeGraphAPI()
    with serve_in_thread(fake.app) as graph_url, tempfile.TemporaryDirectory() as logs:
        for round_ in range(args.rounds):
            for layout in ("forked", "separate"):
                where = Path(logs) / f"{layout}{round_}"
                where.mkdir()
                result = one_layout(layout == "forked", args, fake, graph_url, where)
                runs[layout].append(result)
                print(layout, json.dumps(result), flush=True)
    summary: dict[str, Any] = {"role": args.role, "processes": args.processes, "deliveries": args.deliveries}
    for layout, results in runs.items():
        for phase in ("idle", "after_load"):
            for key in results[0][phase]:
                value = statistics.median(r[phase][key] for r in results)
                summary[f"{layout}_{phase}_{key}"] = round(value, 1)
    for phase in ("idle", "after_load"):
        ratio = summary[f"forked_{phase}_pss_mb"] / summary[f"separate_{phase}_pss_mb"]
        summary[f"pss_ratio_{phase}"] = round(ratio, 3)
    summary["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
