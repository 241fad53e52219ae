"""Notification latency: from the commit of a handoff to the `assigned` event arriving on the
assigned rep's live stream (Server-Sent Events over real HTTP).

    .venv/bin/python -m bench.notify [--handoffs 200] [--concurrency 1]
                                     [--database-url postgresql+psycopg://...] [--cross-process]

Each handoff is a real one: a customer taps "Support" in the welcome menu, and the signed webhook,
the turn engine, the graph and the assignment engine do the rest. The clock starts when the
transaction that wrote the handoff and the assignment commits (an `after_commit` hook registered
before the service's own) and stops when the rep's SSE client has parsed the event. Every support
rep (tara, diego, lena) has a stream open; capacities are raised so that every handoff is assigned.

`--cross-process` (PostgreSQL): the streams are served by a separate `handoff serve` process, so the
event goes commit -> trigger -> NOTIFY -> LISTEN in the other process -> SSE. Use a scratch database:
the run adds conversations to it.

Prints as its last line one JSON object: `events`, `p50_ms`, `p90_ms`, `p99_ms`, `max_ms`, `mean_ms`,
`database`, `cross_process`, `concurrency`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from pydantic import SecretStr
from sqlalchemy import event, update
from sqlalchemy.orm import Session, UOWTransaction

from handoff.models import Rep
from orchestrator.channels.whatsapp.signature import compute_signature
from orchestrator.core.config import AppConfig, default_config_text, parse_config
from orchestrator.core.contextlog import ContextEvent
from orchestrator.core.enums import EventType, Presence
from orchestrator.core.settings import Settings
from orchestrator.runtime.app import create_app
from orchestrator.runtime.container import Service
from orchestrator.runtime.simulator import build_button_reply_webhook, encode_webhook
from tests.fakes.graph import FakeGraphAPI
from tests.fakes.servers import free_port, serve_in_loop

SECRET = "bench-app-secret"
REPS = ("tara", "diego", "lena")
_PROBE = "bench.notify.assigned"


def bench_config() -> AppConfig:
    data = yaml.safe_load(default_config_text())
    for rep in data["reps"]:
        rep["capacity"] = 100_000
    # Handoffs that collide are left waiting for the next background pass, which paces the backlog
    # per rep; unpaced here, so every handoff is assigned and measured.
    data["assignment"]["backlog_burst"] = 100_000
    return parse_config(data, source="bench config")


class CommitProbe:
    """perf_counter() at the commit of each transaction that wrote an `assigned` event."""

    def __init__(self) -> None:
        self.committed: dict[int, float] = {}

    def install(self) -> None:
        # Registered before the service starts, so it runs before the notification hub's hook.
        event.listen(Session, "after_flush", self._collect)
        event.listen(Session, "after_commit", self._stamp)

    def _collect(self, session: Session, _flush: UOWTransaction) -> None:
        found = [o for o in session.new if isinstance(o, ContextEvent) and o.type == EventType.ASSIGNED]
        if found:
            session.info.setdefault(_PROBE, []).extend(found)

    def _stamp(self, session: Session) -> None:
        now = time.perf_counter()
        for obj in session.info.pop(_PROBE, []):
            if obj.id is not None:
                self.committed[obj.id] = now


class Streams:
    """One SSE reader per rep; resolves the waiter of a conversation when its `assigned` arrives."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.arrived: dict[int, float] = {}
        self.duplicates = 0
        self.waiters: dict[int, asyncio.Future[int]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._ready: list[asyncio.Event] = []

    async def start(self) -> None:
        for rep in REPS:
            ready = asyncio.Event()
            self._ready.append(ready)
            self._tasks.append(asyncio.create_task(self._read(rep, ready)))
        async with asyncio.timeout(30):
            for ready in self._ready:
                await ready.wait()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def waiter(self, conversation_key: int) -> asyncio.Future[int]:
        return self.waiters.setdefault(conversation_key, asyncio.get_running_loop().create_future())

    async def _read(self, rep: str, ready: asyncio.Event) -> None:
        headers = {"Authorization": f"Bearer demo-{rep}"}
        async with (
            httpx.AsyncClient(base_url=self.base_url, timeout=None) as client,
            client.stream("GET", "/api/stream", headers=headers, params={"types": ["assigned"]}) as response,
        ):
            response.raise_for_status()
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line:
                    if not line.startswith(":"):
                        key, _, value = line.partition(":")
                        fields[key] = value.removeprefix(" ")
                    continue
                kind, data = fields.get("event"), fields.get("data")
                fields = {}
                if kind == "ready":
                    ready.set()
                elif kind == "assigned" and data is not None:
                    now = time.perf_counter()
                    payload = json.loads(data)
                    if payload["details"].get("rep_id") != rep:
                        continue  # a lead may also see it; only the assigned rep's stream counts
                    if payload["id"] in self.arrived:
                        self.duplicates += 1  # the hub delivers each event once: this would be a bug
                        continue
                    self.arrived[payload["id"]] = now
                    waiter = self.waiter(payload["conversation_id"])
                    if not waiter.done():
                        waiter.set_result(payload["id"])


@asynccontextmanager
async def serve_here(service: Service) -> AsyncIterator[str]:
    async with serve_in_loop(create_app(service=service)) as url:
        yield url


@asynccontextmanager
async def serve_elsewhere(database_url: str) -> AsyncIterator[str]:
    """`handoff serve` in another OS process on the same database."""
    port = free_port()
    env = {**os.environ, "HANDOFF_DATABASE_URL": database_url, "HANDOFF_RUN_BACKGROUND": "false"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orchestrator.runtime.cli",
        "serve",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client, asyncio.timeout(60):
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
        yield url
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=15)


async def handoff(http: httpx.AsyncClient, service: Service, streams: Streams, wa_id: str, n: int) -> int:
    """One customer taps Support; returns the `assigned` event id seen on the rep's stream."""
    payload = build_button_reply_webhook(
        wa_id=wa_id,
        name=f"Bench {n}",
        message_id=f"wamid.bench.{wa_id}",
        timestamp=datetime.now(UTC),
        reply_id="menu_support",
        title="Support",
    )
    body = encode_webhook(payload)
    response = await http.post(
        "/webhooks/whatsapp",
        content=body,
        headers={"content-type": "application/json", "x-hub-signature-256": compute_signature(SECRET, body)},
    )
    response.raise_for_status()
    await service.turns.drain()
    conversation_id = await _conversation_of(service, wa_id)
    async with asyncio.timeout(10):
        return await streams.waiter(conversation_id)


async def _conversation_of(service: Service, wa_id: str) -> int:
    from sqlalchemy import select
    from sqlmodel import col

    from orchestrator.core.tables import Contact, Conversation

    async with service.sessions() as session:
        found = (
            await session.execute(
                select(col(Conversation.id))
                .join(Contact, col(Contact.id) == col(Conversation.contact_id))
                .where(col(Contact.wa_id) == wa_id)
            )
        ).scalar_one()
    assert found is not None
    return found


async def run(
    handoffs: int, concurrency: int, database_url: str | None, cross_process: bool
) -> dict[str, Any]:
    probe = CommitProbe()
    probe.install()
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        if cross_process and not url.startswith("postgresql"):
            raise SystemExit("--cross-process needs --database-url postgresql+psycopg://...")
        settings = Settings(
            database_url=url,
            whatsapp_app_secret=SecretStr(SECRET),
            whatsapp_api_url="http://graph.invalid",
            burst_window_s=0,
            # The background pass assigns what concurrent handoffs left waiting (the engine skips
            # queue rows another transaction holds); its `assigned` commit is measured the same way.
            timer_interval_s=0.2,
        )
        fake = FakeGraphAPI()
        async with Service.running(
            settings, config=bench_config(), graph_transport=httpx.ASGITransport(app=fake.app)
        ) as service:
            async with service.sessions() as session, session.begin():
                # An existing database keeps its reps: make sure every handoff can be assigned.
                await session.execute(
                    update(Rep).values(
                        capacity=100_000,
                        open_count=0,
                        presence=Presence.ONLINE,
                        expired_presence=None,
                        offline_since=None,
                        last_seen_at=datetime.now(UTC),
                    )
                )
            server = serve_elsewhere(url) if cross_process else serve_here(service)
            async with server as base_url:
                streams = Streams(base_url)
                await streams.start()
                prefix = f"1555{secrets.randbelow(10**4):04d}"
                numbers = iter(range(handoffs))
                try:
                    async with httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=create_app(service=service)),
                        base_url="http://bench",
                    ) as http:

                        async def worker() -> None:
                            for n in numbers:
                                await handoff(http, service, streams, f"{prefix}{n:05d}", n)

                        await asyncio.gather(*(worker() for _ in range(concurrency)))
                finally:
                    await streams.stop()
    latencies = sorted(
        (arrived - probe.committed[event_id]) * 1000
        for event_id, arrived in streams.arrived.items()
        if event_id in probe.committed
    )
    if not latencies:
        raise SystemExit("no event measured")
    return {
        "events": len(latencies),
        "p50_ms": round(statistics.median(latencies), 3),
        "p90_ms": round(latencies[max(0, int(len(latencies) * 0.9) - 1)], 3),
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 3),
        "max_ms": round(latencies[-1], 3),
        "mean_ms": round(statistics.fmean(latencies), 3),
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "cross_process": cross_process,
        "concurrency": concurrency,
        "duplicates": streams.duplicates,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--handoffs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=1, help="customers handed off at the same time")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--cross-process", action="store_true", help="streams served by another process")
    args = parser.parse_args()
    result = asyncio.run(run(args.handoffs, args.concurrency, args.database_url, args.cross_process))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
