"""A backlog of first messages drained by the production layout: how many turns a worker process runs
per second of its own CPU (per core), and how long the customers wait.

    .venv/bin/python -m bench.drain --database-url postgresql+psycopg://... [--backlog 1000]
                                    [--status-kinds sent,delivered,read | --no-statuses]
                                    [--workers 1] [--in-flight 50] [--rate 80]

An acknowledge-only API process (`handoff serve`, `HANDOFF_RUN_TURNS=false`) and `--workers`
`handoff worker` processes run on one PostgreSQL database, as `docs/deploy.md` lays them out (with
`--workers 0`, one `handoff serve` process runs the turns too, the embedded layout, on SQLite or
PostgreSQL; its CPU is then the workers'), with
sends to a local fake Graph API (in this process's thread), which answers each send with a signed
`sent` status webhook to the API as Meta does (`--no-statuses`: none; Meta also sends `delivered`
and `read`, so a real number's workers apply up to three status items per reply:
`--status-kinds sent,delivered,read` posts those, each 50 ms after the one before). The backlog, one
first message from each of `--backlog` customers, is posted as fast as the API takes it (with
`--rate`, that many a second: a campaign bringing customers in steadily); the clock runs until every
customer has had a reply (`drained_s`), and then until the statuses are applied too (`settled_s`,
after that). The workers' CPU (user + system, from `/proc`) is read at that moment, so
`turns_per_worker_cpu_s` is the rate one core would drain at, whatever the machine's other load (the
API, PostgreSQL and the load generator share the same two cores here, so the wall-clock rate is
lower than the per-core rate when they compete).

Prints as its last line one JSON object: `backlog`, `workers`, `posted_s`, `drained_s`, `settled_s`,
`turns_per_s` (wall clock), `worker_cpu_s`, `turns_per_worker_cpu_s`, `api_cpu_s` (the API
process's), `bench_cpu_s` (this process's: the load generator, the fake Graph API and the status
webhooks it posts, which a real deployment does not carry), `database_cpu_s` (PostgreSQL's own
processes, when the database runs on this machine: `bench.measure.ProcessesCpu`), `cpu_ms_per_turn`
(worker, acknowledge-only API and database, each per answered customer), `rate`, `statuses`,
`first_reply_s` (p50, p99, from the start of the posting), `reply_s` (p50, p99, from each customer's
own post), `errors`, `loop_lag_max_s` (by role, the longest the processes' event loops ran late
during the run, from their heartbeats: `bench.measure.LoopLagWatch`), `loadavg`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.ingest import _Connection, _start, _stop, _wait_drained, _wait_healthy
from bench.measure import LoopLagWatch, ProcessesCpu, process_usage, quantile, require_empty_database
from orchestrator.channels.whatsapp.signature import compute_signature
from orchestrator.core.settings import DEV_SECRETS
from orchestrator.runtime.simulator import build_text_webhook, encode_webhook
from tests.fakes.graph import FakeGraphAPI
from tests.fakes.servers import free_port, serve_in_thread

TEXT = "Hi, what are your opening hours?"


async def _post_backlog(
    url: str,
    backlog: int,
    in_flight: int,
    tag: str,
    *,
    first: int = 0,
    rate: float | None = None,
    posted: dict[str, float] | None = None,
) -> int:
    """Post one first message from each of `backlog` customers (numbered from `first`), as fast as
    the API takes them, or `rate` a second; the number of refused posts. `posted`: each customer's
    number → when its post was answered (`time.perf_counter`)."""
    secret = DEV_SECRETS["HANDOFF_WHATSAPP_APP_SECRET"]
    host, _, port = url.removeprefix("http://").partition(":")
    numbers = iter(range(first, first + backlog))
    errors = 0
    begun = time.perf_counter()

    async def client() -> None:
        nonlocal errors
        connection = _Connection(host, int(port))
        try:
            for n in numbers:
                if rate:
                    await asyncio.sleep(max(0.0, begun + (n - first) / rate - time.perf_counter()))
                wa_id = f"4478009{n:05d}"
                body = encode_webhook(
                    build_text_webhook(
                        wa_id=wa_id,
                        message_id=f"wamid.{tag}.{n}",
                        timestamp=int(time.time()),
                        text=TEXT,
                    )
                )
                headers = {
                    "content-type": "application/json",
                    "x-hub-signature-256": compute_signature(secret, body),
                }
                if await connection.post("/webhooks/whatsapp", body, headers) != 200:
                    errors += 1
                elif posted is not None:
                    posted[wa_id] = time.perf_counter()
        finally:
            connection.close()

    await asyncio.gather(*(client() for _ in range(in_flight)))
    return errors


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    fake = FakeGraphAPI()
    kinds = tuple(k.strip() for k in args.status_kinds.split(",") if k.strip())
    postgres = args.database_url.startswith("postgresql")
    with serve_in_thread(fake.app) as graph_url:
        env = {
            **os.environ,
            "HANDOFF_DEV_MODE": "true",
            "HANDOFF_DATABASE_URL": args.database_url,
            "HANDOFF_WHATSAPP_API_URL": graph_url,
        }
        port = free_port()
        api = _start(
            ["-m", "orchestrator.runtime.cli", "serve", "--port", str(port)],
            # Without workers, the API process runs the turns itself (the embedded layout).
            {**env, "HANDOFF_RUN_TURNS": "false", "HANDOFF_RUN_BACKGROUND": "false"} if args.workers else env,
            workdir / "api.log",
        )
        workers = [
            _start(["-m", "orchestrator.runtime.cli", "worker"], env, workdir / f"worker{i}.log")
            for i in range(args.workers)
        ]
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(api, url)
            if args.statuses:  # as Meta does: signed status webhooks for each accepted send
                fake.status_webhooks, fake.app_secret = [url], DEV_SECRETS["HANDOFF_WHATSAPP_APP_SECRET"]
                fake.status_sequence = kinds
            # Each worker loads the graph at its first turn (a couple of seconds of CPU, once per
            # process: `bench.startup` measures it): five messages per worker first, answered before
            # the clock starts.
            tag = f"drain{os.getpid()}"
            warm = 5 * max(args.workers, 1)
            asyncio.run(_post_backlog(url, warm, 1, f"{tag}.warm", first=90000))
            deadline = time.monotonic() + 60
            while len(fake.sent) < warm and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1)
            turners = workers or [api]  # the processes that run the turns
            cpu_before = [process_usage(w.pid)[0] for w in turners]
            api_before, bench_before = process_usage(api.pid)[0], time.process_time()
            database = ProcessesCpu("postgres").start() if postgres else None
            lags = LoopLagWatch(args.database_url).start()
            sent_before = len(fake.sent)
            started = time.perf_counter()
            posted: dict[str, float] = {}
            outcome: list[int] = []
            poster = threading.Thread(
                target=lambda: outcome.append(
                    asyncio.run(
                        _post_backlog(url, args.backlog, args.in_flight, tag, rate=args.rate, posted=posted)
                    )
                )
            )
            poster.start()
            replied: dict[str, float] = {}
            seen = sent_before
            while time.perf_counter() - started < args.limit_s:
                time.sleep(0.01)
                now = time.perf_counter()
                for request in fake.sent[seen:]:
                    replied.setdefault(str(request["json"].get("to", "")).lstrip("+"), now)
                    seen += 1
                if not poster.is_alive() and len(replied) >= args.backlog - outcome[0]:
                    break
            poster.join()
            errors = outcome[0]
            posted_s = max(posted.values(), default=started) - started
            drained_s = time.perf_counter() - started
            # The workers' CPU once they have also applied every status the sends brought back.
            if args.statuses:
                expected = len(kinds) * len(fake.sent)
                # Each status is posted or its error recorded: stop at the first error rather than wait
                # the whole limit for statuses that will never come.
                while (
                    fake.statuses_posted < expected
                    and not fake.status_errors
                    and time.perf_counter() - started < args.limit_s
                ):
                    time.sleep(0.05)
            settled_s = _wait_drained(args.database_url, limit_s=max(1.0, args.limit_s - drained_s))
            worker_cpu_s = sum(
                process_usage(w.pid)[0] - before for w, before in zip(turners, cpu_before, strict=True)
            )
            api_cpu_s = process_usage(api.pid)[0] - api_before
            bench_cpu_s = time.process_time() - bench_before
            database_cpu_s = database.stop() if database is not None else None
            loop_lag_max_s = lags.stop()
        finally:
            _stop((api, *workers))
    first = [at - started for at in replied.values()]
    own = [at - posted[who] for who, at in replied.items() if who in posted]
    return {
        "backlog": args.backlog,
        "workers": args.workers,
        "answered": len(replied),
        "posted_s": round(posted_s, 2),
        "drained_s": round(drained_s, 2),
        "settled_s": settled_s,
        "turns_per_s": round(len(replied) / drained_s, 1),
        "worker_cpu_s": round(worker_cpu_s, 2),
        "api_cpu_s": round(api_cpu_s, 2),
        "bench_cpu_s": round(bench_cpu_s, 2),
        "turns_per_worker_cpu_s": round(len(replied) / worker_cpu_s, 1) if worker_cpu_s else None,
        # PostgreSQL's own processes on this machine (none found: 0; another host: not counted).
        "database_cpu_s": round(database_cpu_s, 2) if database_cpu_s is not None else None,
        "cpu_ms_per_turn": {
            "worker": round(1000 * worker_cpu_s / len(replied), 2) if replied else None,
            "api": round(1000 * api_cpu_s / len(replied), 2) if replied and args.workers else None,
            "database": round(1000 * database_cpu_s / len(replied), 2)
            if replied and database_cpu_s is not None
            else None,
        },
        "rate": args.rate,
        "statuses": ",".join(kinds) if args.statuses else None,
        "statuses_posted": fake.statuses_posted,
        "status_errors": fake.status_errors[:3],
        "first_reply_s": {"p50": round(quantile(first, 0.5), 2), "p99": round(quantile(first, 0.99), 2)},
        "reply_s": {"p50": round(quantile(own, 0.5), 2), "p99": round(quantile(own, 0.99), 2)},
        "errors": errors,
        "loop_lag_max_s": loop_lag_max_s,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--database-url",
        required=True,
        help="postgresql+psycopg://... (a fresh database); sqlite:///... (a new file) with --workers 0",
    )
    parser.add_argument("--backlog", type=int, default=1000)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="0: one `handoff serve` process runs the turns (the embedded layout)",
    )
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument(
        "--statuses",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the fake Graph API posts a `sent` status webhook for each send, as Meta does",
    )
    parser.add_argument(
        "--status-kinds",
        default="sent",
        help="the statuses posted for each send, in order (sent,delivered,read: a customer who reads)",
    )
    parser.add_argument("--rate", type=float, default=None, help="first messages a second (default: at once)")
    parser.add_argument("--limit-s", type=float, default=600)
    args = parser.parse_args()
    if args.workers and not args.database_url.startswith("postgresql"):
        parser.error(
            "the API and the workers share a PostgreSQL database: --database-url postgresql+psycopg://..."
        )
    require_empty_database(args.database_url, "bench.drain")
    print(json.dumps(run(args)))


if __name__ == "__main__":
    main()
