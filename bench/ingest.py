"""Webhook ingest against a bare endpoint, interleaved in one run: how close the acknowledgement
comes to the speed of the web server itself.

    .venv/bin/python -m bench.ingest [--seconds 20] [--in-flight 50] [--rounds 3] [--rate 50]
                                     [--database-url sqlite:///... | postgresql+psycopg://...]
                                     [--workers N] [--workers-after] [--drain-limit-s 600]

Two servers run side by side as OS processes under the same uvicorn settings: a bare FastAPI app that
reads the body and answers 200, and `handoff serve` (the real webhook: signature, parsing, storage,
turns, sends to a local fake Graph API). A load generator posts signed single-message deliveries
from 200 senders with `--in-flight` requests outstanding, alternating between the two servers round
by round so both see the same machine. It reports each server's deliveries per second and latency
percentiles (with `--rate`, deliveries are posted at that many per second instead, open loop: the
latency is then the acknowledgement under a steady load), and the ratios the goals are written in:
ours / bare throughput and our p99 / bare p99.

`--workers N` (PostgreSQL): `handoff serve` runs as an acknowledge-only API process
(`HANDOFF_RUN_TURNS=false`) and N `handoff worker` processes run the turns, on the same machine; the
run then also waits for the workers to answer every stored message and reports `drained_s` (from the
end of the last round until nothing is pending; None past `--drain-limit-s`, or with
`--drain-limit-s 0`, which measures the acknowledgement alone without waiting) and `replies`.
With `--workers-after` the workers start only once the rounds are over, so the acknowledge-only
API has the machine to itself during the load, as when the workers run on other hosts.

The rounds start once our server answers `GET /readyz` (a process that runs turns has loaded its
graph; while it loads, the imports slow the event loop). Without `--workers`, `unapplied_at_end`
is the fraction of the flood's items the process had not applied yet when its last round ended: a
process that keeps applying while it acknowledges acknowledges less. On SQLite, as with
`--workers`, also `drained_s` (from the end of the last round until every item is applied and
nothing is pending) and `replies`.

Prints as its last line one JSON object: `database`, `in_flight`, `rate`, `ours` and `bare` (`per_s`,
`p50_ms`, `p99_ms`, `errors`), `throughput_fraction`, `p99_multiple`, `loadavg` (without
`--workers` `unapplied_at_end`; on SQLite `drained_s`, `replies`; with `--workers`: `workers`,
`drained_s`, `replies`).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench.measure import require_empty_database
from orchestrator.channels.whatsapp.signature import compute_signature
from orchestrator.core.db import sqlite_path, sync_url
from orchestrator.core.settings import DEV_SECRETS
from orchestrator.runtime.simulator import build_text_webhook, encode_webhook
from tests.fakes.graph import FakeGraphAPI
from tests.fakes.servers import free_port, serve_in_thread

BARE_APP = """
from fastapi import FastAPI, Request, Response

app = FastAPI()


@app.post("/webhooks/whatsapp")
async def webhook(request: Request) -> Response:
    await request.body()
    return Response(status_code=200)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
"""
SENDERS = 200


def delivery_body(n: int, tag: str) -> bytes:
    """The `n`-th single-message delivery of a run (one of `SENDERS` customers), unsigned."""
    return encode_webhook(
        build_text_webhook(
            wa_id=f"4477009{n % SENDERS:05d}",
            message_id=f"wamid.{tag}.{n}",
            timestamp=int(time.time()),
            text=f"hello, question number {n}",
        )
    )


@dataclass
class Round:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    error_kinds: Counter[str] = field(default_factory=Counter)  # status code or exception class


def _wait_healthy(process: subprocess.Popen[bytes], url: str, path: str = "/healthz") -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}{path}", timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    # The server's log goes to a file: a pipe nobody reads would block the server once full.
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def _stop(processes: Sequence[subprocess.Popen[bytes]], *, timeout_s: float = 60) -> None:
    """Ask every process to stop (SIGTERM: each finishes or hands back what it holds), then wait for
    each, killing one that has not stopped within `timeout_s`."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class _Connection:
    """One keep-alive HTTP/1.1 connection of the load generator, on asyncio streams. The generator
    shares the machine with the servers it measures, so it must cost far less than they do: httpx's
    connection pool scans every connection at each request's start and end, and at 50 in flight
    against a server answering in a few hundred milliseconds it took a whole core for 170 requests a
    second (measured with py-spy), which capped our server's figure, not the server. Only what
    these servers answer is understood: a status line, headers with a Content-Length, the body."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        try:
            fields = {"host": self.host, "content-length": str(len(body)), **headers}
            head = "".join(f"{k}: {v}\r\n" for k, v in fields.items())
            writer.write(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + body)
            response = await reader.readuntil(b"\r\n\r\n")
            lines = response.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            answered = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
            length = {k.strip().lower(): v.strip() for k, v in answered.items()}.get("content-length")
            if length is None:
                raise ValueError("a response without Content-Length")
            await reader.readexactly(int(length))
            return status
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


async def _load(
    url: str, *, seconds: float, in_flight: int, ids: itertools.count[int], rate: float | None = None
) -> Round:
    """Closed loop (`in_flight` clients posting back to back, each on its own connection), or open
    loop at `rate` deliveries per second whatever the answers (at most `in_flight` connections)."""
    secret = DEV_SECRETS["HANDOFF_WHATSAPP_APP_SECRET"]
    result = Round()
    deadline = time.monotonic() + seconds
    host, _, port = url.removeprefix("http://").partition(":")
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(in_flight):
        idle.put_nowait(_Connection(host, int(port)))

    async def post_one() -> None:
        n = next(ids)
        body = delivery_body(n, f"bench.{os.getpid()}")
        headers = {
            "content-type": "application/json",
            "x-hub-signature-256": compute_signature(secret, body),
        }
        connection = await idle.get()
        started = time.perf_counter()
        kind: str | None = None
        try:
            async with asyncio.timeout(60):
                status = await connection.post("/webhooks/whatsapp", body, headers)
            kind = None if status == 200 else str(status)
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError) as error:
            kind = type(error).__name__
        finally:
            idle.put_nowait(connection)
        result.latencies.append(time.perf_counter() - started)
        if kind is not None:
            result.errors += 1
            result.error_kinds[kind] += 1

    async def one_client() -> None:
        while time.monotonic() < deadline:
            await post_one()

    async def paced() -> None:
        tasks = []
        for k in range(int(seconds * (rate or 0))):
            await asyncio.sleep(max(0.0, begun + k / (rate or 1) - time.monotonic()))
            tasks.append(asyncio.create_task(post_one()))
        await asyncio.gather(*tasks)

    begun = started = time.monotonic()
    try:
        if rate:
            await paced()
        else:
            await asyncio.gather(*(one_client() for _ in range(in_flight)))
    finally:
        while not idle.empty():
            idle.get_nowait().close()
    result.seconds = time.monotonic() - started
    return result


def _wait_drained(database_url: str, *, limit_s: float = 600) -> float | None:
    """Seconds until no conversation has a message waiting for its turn (None: not within `limit_s`)."""
    engine = sa.create_engine(sync_url(database_url))
    started = time.monotonic()
    try:
        while time.monotonic() - started < limit_s:
            with engine.connect() as conn:
                waiting = conn.execute(
                    sa.text("SELECT count(*) FROM conversation WHERE has_pending")
                ).scalar()
                unapplied = conn.execute(
                    sa.text("SELECT count(*) FROM inboxitem WHERE applied_at IS NULL")
                ).scalar()
            if not waiting and not unapplied:
                return round(time.monotonic() - started, 1)
            time.sleep(0.2)
        return None
    finally:
        engine.dispose()


def _unapplied(database_url: str) -> float:
    """The fraction of the inbox's items not applied yet, read beside the server as `_wait_drained`
    reads it."""
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            total, left = conn.execute(
                sa.text("SELECT count(*), sum(CASE WHEN applied_at IS NULL THEN 1 ELSE 0 END) FROM inboxitem")
            ).one()
    finally:
        engine.dispose()
    return round(left / total, 3) if total else 0.0


def _summary(rounds: list[Round]) -> dict[str, Any]:
    latencies = sorted(x for r in rounds for x in r.latencies)
    total_s = sum(r.seconds for r in rounds)
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "per_s": round(len(latencies) / total_s, 1) if total_s else 0.0,
        "p50_ms": round(quantiles[49] * 1000, 1),
        "p99_ms": round(quantiles[98] * 1000, 1),
        "errors": sum(r.errors for r in rounds),
        "error_kinds": dict(sum((r.error_kinds for r in rounds), Counter[str]())),
        "requests": len(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--rate", type=float, default=None, help="open loop: deliveries per second")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument(
        "--workers", type=int, default=0, help="acknowledge-only API and N turn workers (PostgreSQL)"
    )
    parser.add_argument(
        "--workers-after",
        action="store_true",
        help="with --workers: start the workers once the rounds are over (the acknowledgement alone "
        "on the machine, as when the workers run on other hosts)",
    )
    parser.add_argument(
        "--drain-limit-s",
        type=float,
        default=600,
        help="with --workers or on SQLite: how long to wait for the backlog to be answered "
        "(0: report no drain)",
    )
    args = parser.parse_args()
    if args.workers and not (args.database_url or "").startswith("postgresql"):
        parser.error("--workers needs --database-url postgresql+psycopg://...")
    if args.database_url:
        require_empty_database(args.database_url, "bench.ingest")

    workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    (workdir / "bare_app.py").write_text(BARE_APP)
    database_url = args.database_url or f"sqlite:///{workdir / 'handoff.db'}"
    on_sqlite = sqlite_path(database_url) is not None
    drains = bool(args.workers) or on_sqlite  # the backlog's answers waited for (`drained_s`)
    fake = FakeGraphAPI()
    uvicorn_flags = ["--log-level", "warning", "--no-access-log"]
    with serve_in_thread(fake.app) as graph_url:
        env = {
            **os.environ,
            "HANDOFF_DEV_MODE": "true",
            "HANDOFF_DATABASE_URL": database_url,
            "HANDOFF_WHATSAPP_API_URL": graph_url,
            "PYTHONPATH": str(workdir),
        }
        bare_port, ours_port = free_port(), free_port()
        bare = _start(
            ["-m", "uvicorn", "bare_app:app", "--port", str(bare_port), *uvicorn_flags],
            env,
            workdir / "bare.log",
        )
        api_env = (
            {**env, "HANDOFF_RUN_TURNS": "false", "HANDOFF_RUN_BACKGROUND": "false"} if args.workers else env
        )
        ours = _start(
            ["-m", "orchestrator.runtime.cli", "serve", "--port", str(ours_port)],
            api_env,
            workdir / "ours.log",
        )

        def start_workers() -> list[subprocess.Popen[bytes]]:
            return [
                _start(["-m", "orchestrator.runtime.cli", "worker"], env, workdir / f"worker{i}.log")
                for i in range(args.workers)
            ]

        workers = [] if args.workers_after else start_workers()
        drained_s: float | None = None
        try:
            bare_url, ours_url = f"http://127.0.0.1:{bare_port}", f"http://127.0.0.1:{ours_port}"
            _wait_healthy(bare, bare_url)
            _wait_healthy(ours, ours_url, "/readyz")  # its graph loaded, as a load balancer waits for
            ids = itertools.count(1)
            results: dict[str, list[Round]] = {"bare": [], "ours": []}
            unapplied: float | None = None
            for index in range(args.rounds):
                order = [("bare", bare_url), ("ours", ours_url)]
                for name, url in order if index % 2 == 0 else reversed(order):
                    results[name].append(
                        asyncio.run(
                            _load(
                                url, seconds=args.seconds, in_flight=args.in_flight, ids=ids, rate=args.rate
                            )
                        )
                    )
                    print(f"round {index + 1} {name}: {_summary(results[name][-1:])}", file=sys.stderr)
                    if name == "ours" and not args.workers:
                        unapplied = _unapplied(database_url)  # as our last round ends
            if args.workers_after:
                workers = start_workers()
            if drains and args.drain_limit_s > 0:
                drained_s = _wait_drained(database_url, limit_s=args.drain_limit_s)
        finally:
            for process in (bare, ours, *workers):
                process.terminate()
                try:
                    process.wait(timeout=60)  # ours first finishes the turns of the backlog it holds
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    summary = {name: _summary(rounds) for name, rounds in results.items()}
    line = {
        "database": "postgresql" if database_url.startswith("postgresql") else "sqlite",
        "in_flight": args.in_flight,
        "rate": args.rate,
        **summary,
        "throughput_fraction": round(summary["ours"]["per_s"] / summary["bare"]["per_s"], 3),
        "p99_multiple": round(summary["ours"]["p99_ms"] / max(summary["bare"]["p99_ms"], 0.001), 2),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
    if unapplied is not None:  # one process: how much of the flood it applied while acknowledging
        line["unapplied_at_end"] = unapplied
    if args.workers:
        line["workers"] = args.workers
    if drains:
        line |= {"drained_s": drained_s, "replies": len(fake.sent)}
    print(json.dumps(line))


if __name__ == "__main__":
    main()
