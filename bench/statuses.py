"""What Meta's delivery statuses alone cost a worker: an acknowledge-only API process and one
`handoff worker` on PostgreSQL, as `docs/deploy.md` lays them out, and signed status webhooks posted
to the API at a steady rate, one status each, as Meta sends them (`sent`, `delivered`, `read` of a
reply in turn).

    .venv/bin/python -m bench.statuses --database-url postgresql+psycopg://... [--rate 240]
                                       [--statuses 3600]

A number answering 80 customers a second gets 240 statuses a second. The statuses are of messages
the service never sent, so each is recorded and moves no message forward: what is measured is the
worker's side of taking them in (its wake-ups, reads, inserts, updates and marks). The worker's CPU
(user + system, from `/proc`) is read from just before the first post until every item is applied;
the same worker's CPU over the same wall time with no traffic is measured first, to show its idle
share. Prints as its last line one JSON object: `statuses`, `rate`, `worker_cpu_ms_per_status`,
`idle_worker_cpu_ms_per_s`, `api_cpu_ms_per_status`, `settled_s` (from the last post until every
status was applied), `errors`, `loadavg`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.ingest import _Connection, _start, _stop, _wait_drained, _wait_healthy
from bench.measure import process_usage
from orchestrator.channels.whatsapp.signature import compute_signature
from orchestrator.core.settings import DEV_SECRETS
from tests.fakes.graph import status_webhook
from tests.fakes.servers import free_port

KINDS = ("sent", "delivered", "read")


async def _post(url: str, statuses: int, rate: float, tag: str) -> int:
    """Post `statuses` status webhooks, `rate` a second, on one keep-alive connection; the number
    refused."""
    secret = DEV_SECRETS["HANDOFF_WHATSAPP_APP_SECRET"]
    host, _, port = url.removeprefix("http://").partition(":")
    connection = _Connection(host, int(port))
    errors = 0
    begun = time.perf_counter()
    try:
        for n in range(statuses):
            await asyncio.sleep(max(0.0, begun + n / rate - time.perf_counter()))
            body = status_webhook(f"wamid.bench.statuses.{tag}.{n // 3}", "447700900123", KINDS[n % 3], None)
            signature = compute_signature(secret, body)
            headers = {"content-type": "application/json", "x-hub-signature-256": signature}
            errors += await connection.post("/webhooks/whatsapp", body, headers) != 200
    finally:
        connection.close()
    return errors


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-statuses-"))
    env = {
        **os.environ,
        "HANDOFF_DEV_MODE": "true",
        "HANDOFF_DATABASE_URL": args.database_url,
        # Nothing is sent: the statuses are of messages the service never sent.
        "HANDOFF_WHATSAPP_API_URL": "http://127.0.0.1:9",
    }
    port = free_port()
    api = _start(
        ["-m", "orchestrator.runtime.cli", "serve", "--port", str(port)],
        {**env, "HANDOFF_RUN_TURNS": "false", "HANDOFF_RUN_BACKGROUND": "false"},
        workdir / "api.log",
    )
    worker = _start(["-m", "orchestrator.runtime.cli", "worker"], env, workdir / "worker.log")
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(api, url)
        time.sleep(3)  # the worker's startup (its graph loaded) out of the figures
        wall_s = args.statuses / args.rate
        idle_before = process_usage(worker.pid)[0]
        time.sleep(min(wall_s, 10.0))
        idle_ms_per_s = (process_usage(worker.pid)[0] - idle_before) * 1000 / min(wall_s, 10.0)
        worker_before, api_before = process_usage(worker.pid)[0], process_usage(api.pid)[0]
        errors = asyncio.run(_post(url, args.statuses, args.rate, f"{os.getpid()}.{time.time_ns()}"))
        settled_s = _wait_drained(args.database_url, limit_s=60)
        worker_cpu_s = process_usage(worker.pid)[0] - worker_before
        api_cpu_s = process_usage(api.pid)[0] - api_before
    finally:
        _stop((api, worker))
    return {
        "statuses": args.statuses,
        "rate": args.rate,
        "worker_cpu_ms_per_status": round(worker_cpu_s * 1000 / args.statuses, 3),
        "idle_worker_cpu_ms_per_s": round(idle_ms_per_s, 2),
        "api_cpu_ms_per_status": round(api_cpu_s * 1000 / args.statuses, 3),
        "settled_s": settled_s,
        "errors": errors,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL (workers are woken by NOTIFY)")
    parser.add_argument("--rate", type=float, default=240.0, help="statuses a second")
    parser.add_argument("--statuses", type=int, default=3600)
    print(json.dumps(run(parser.parse_args())))


if __name__ == "__main__":
    main()
