"""CPU time of one webhook acknowledgement in process, against a bare FastAPI endpoint driven the same
way: how much the acknowledgement itself costs, without the HTTP server and the load generator.
With `--in-flight N`, N deliveries are handed over at once (as a busy server sees them, so the
inbox writer shares its statements among them) and the process's CPU over the round is divided (on
SQLite that includes applying the items, which the same process does meanwhile).

    .venv/bin/python -m bench.ack_cpu [--deliveries 2000] [--rounds 3] [--database-url ...]
                                      [--in-flight N] [--profile FILE]

Each delivery is a signed single-text-message body (as `bench/ingest.py` posts) handed to the ASGI
app directly, one after the other: ours is `handoff serve`'s app (signature, parsing, the inbox's
batched insert, commit); on PostgreSQL as an acknowledge-only process (`HANDOFF_RUN_TURNS=false`,
with its NOTIFY), on SQLite with the turns held back (`burst_window_s` of an hour) so that only the
acknowledgement and the inbox run. The clock stops when the response's last byte is sent, so the
work after the answer (applying the items) is not counted: on SQLite the process's applier task is
let finish between deliveries, off the clock. Rounds alternate bare and ours.
`--profile FILE` writes a cProfile of ours (pstats format) for the last round (the first pays
for the connections' and statements' warm-up).

Prints as its last line one JSON object: `database`, `deliveries`, `ours_cpu_ms`, `bare_cpu_ms`
(each round's mean CPU per delivery, `time.process_time`), `ours_p50_ms`, `bare_p50_ms` (median
of the rounds), `loadavg`.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from pydantic import SecretStr

from bench.ingest import delivery_body
from orchestrator.channels.whatsapp.signature import compute_signature
from orchestrator.core.settings import Settings
from orchestrator.runtime.app import create_app
from orchestrator.runtime.container import Service
from tests.factories import webhook_scope
from tests.fakes.graph import FakeGraphAPI

SECRET = "bench-app-secret"
ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.post("/webhooks/whatsapp")
    async def webhook(request: Request) -> Response:
        await request.body()
        return Response(status_code=200)

    return app


def delivery(n: int, run: str) -> tuple[bytes, bytes]:
    body = delivery_body(n, f"ackcpu.{run}")
    return body, compute_signature(SECRET, body).encode()


async def post(app: ASGIApp, body: bytes, signature: bytes) -> tuple[int, float]:
    """Hand one delivery to `app`; the status and the CPU seconds until the response was complete."""
    scope = webhook_scope(body, signature)
    sent = False
    status = 0
    done = 0.0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # never disconnects
        raise AssertionError

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status, done
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body" and not message.get("more_body"):
            done = time.process_time()

    started = time.process_time()
    await app(scope, receive, send)
    return status, done - started


async def measure(
    app: ASGIApp,
    count: int,
    run: str,
    profile: cProfile.Profile | None,
    *,
    in_flight: int = 1,
    settle: Callable[[], Awaitable[None]] | None = None,
) -> float:
    """Mean CPU milliseconds per delivery over `count` deliveries, after a warm-up of 50. One after
    the other, or `in_flight` at a time (then the process's CPU over the whole run, divided).
    `settle`: awaited after each delivery, off the clock, when they go one after the other (the
    work the delivery left to the process's other tasks)."""
    for n in range(50):
        await post(app, *delivery(n, f"{run}.warm"))
        if settle is not None:
            await settle()
    bodies = [delivery(n, run) for n in range(count)]
    total = 0.0
    if profile is not None:
        profile.enable()
    if in_flight > 1:
        slots = asyncio.Semaphore(in_flight)

        async def one(body: bytes, signature: bytes) -> int:
            async with slots:
                status, _ = await post(app, body, signature)
                return status

        started = time.process_time()
        statuses = await asyncio.gather(*(one(*b) for b in bodies))
        total = time.process_time() - started
        if any(status != 200 for status in statuses):
            raise RuntimeError(f"webhook answered {sorted(set(statuses))}")
    else:
        for body, signature in bodies:
            status, cpu = await post(app, body, signature)
            if status != 200:
                raise RuntimeError(f"webhook answered {status}")
            total += cpu
            if settle is not None:
                await settle()
    if profile is not None:
        profile.disable()
    return total / count * 1000


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        postgres = url.startswith("postgresql")
        settings = Settings(
            database_url=url,
            whatsapp_app_secret=SecretStr(SECRET),
            run_background=False,
            run_turns=not postgres,
            burst_window_s=3600,
        )
        fake = FakeGraphAPI()
        ours_cpu: list[float] = []
        bare_cpu: list[float] = []
        tag = f"{os.getpid()}.{int(time.time())}"
        async with Service.running(settings, graph_transport=fake.transport()) as service:
            ours, bare = create_app(service=service), bare_app()
            # SQLite: the process applies each delivery's items in its applier task, which would run
            # inside the next delivery's clock; it is let finish between deliveries instead.
            settle = None if postgres else service.turns.applied
            for index in range(args.rounds):
                last = index == args.rounds - 1
                profile = cProfile.Profile(time.process_time) if args.profile and last else None
                flight = args.in_flight
                bare_cpu.append(
                    await measure(bare, args.deliveries, f"{tag}.{index}.b", None, in_flight=flight)
                )
                ours_cpu.append(
                    await measure(
                        ours, args.deliveries, f"{tag}.{index}", profile, in_flight=flight, settle=settle
                    )
                )
                if profile is not None:
                    profile.dump_stats(args.profile)
                await service.turns.drain()
    return {
        "database": "postgresql" if postgres else "sqlite",
        "deliveries": args.deliveries,
        "in_flight": args.in_flight,
        "ours_cpu_ms": [round(x, 3) for x in ours_cpu],
        "bare_cpu_ms": [round(x, 3) for x in bare_cpu],
        "ours_p50_ms": round(statistics.median(ours_cpu), 3),
        "bare_p50_ms": round(statistics.median(bare_cpu), 3),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--in-flight", type=int, default=1, help="deliveries handed over at once")
    parser.add_argument("--profile", default=None, help="write a cProfile of ours' first round here")
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
