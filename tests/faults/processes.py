"""Real `handoff serve` processes for the fault tests: start, kill -9, restart; a load of signed
deliveries retried until answered 200 (as Meta does); and the counts that say whether anything was
lost, doubled or left stuck."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from orchestrator.channels.whatsapp.signature import compute_signature
from orchestrator.core.db import sync_url
from orchestrator.runtime.simulator import build_text_webhook, encode_webhook
from tests.fakes.graph import FakeGraphAPI
from tests.fakes.servers import free_port

SECRET = "fault-test-app-secret"


@dataclass
class Server:
    database_url: str
    graph_url: str
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    lease_s: float = 3.0
    env: dict[str, str] = field(default_factory=dict)  # more settings (HANDOFF_*)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "HANDOFF_DATABASE_URL": self.database_url,
            "HANDOFF_WHATSAPP_APP_SECRET": SECRET,
            "HANDOFF_WHATSAPP_API_URL": self.graph_url,
            "HANDOFF_BURST_WINDOW_S": "0.2",
            "HANDOFF_TIMER_INTERVAL_S": "0.5",
            "HANDOFF_TURN_LEASE_S": str(self.lease_s),
            "HANDOFF_SEND_CLAIM_S": "5",
            **self.env,
        }
        handoff = Path(sys.executable).parent / "handoff"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(handoff), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"handoff serve exited with {self.process.returncode}; see {self.log}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"handoff serve did not become healthy; see {self.log}")

    def kill(self) -> None:
        """kill -9: no shutdown, no clean-up."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def deliveries(count: int, *, senders: int, at: int) -> list[tuple[str, bytes]]:
    """`count` single-message deliveries from `senders` customers: (wamid, signed body)."""
    out = []
    for i in range(count):
        wamid = f"wamid.fault.{i}"
        payload = build_text_webhook(
            wa_id=f"1202555{i % senders:04d}",
            name="Load",
            message_id=wamid,
            timestamp=at,
            text=f"question {i}",
        )
        out.append((wamid, encode_webhook(payload)))
    return out


async def post_all(
    servers: list[Server],
    items: list[tuple[str, bytes]],
    *,
    concurrency: int,
    acked: set[str],
    refused: list[int] | None = None,
) -> None:
    """Post every delivery, `concurrency` in flight, spread over the servers; a delivery not answered
    200 (refused connection, reset, 5xx) is retried on the next server, as Meta retries. The status
    of every answer other than 200 is appended to `refused` (0 for no answer)."""
    queue: asyncio.Queue[tuple[int, str, bytes]] = asyncio.Queue()
    for n, (wamid, body) in enumerate(items):
        queue.put_nowait((n, wamid, body))

    async def worker(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            n, wamid, body = queue.get_nowait()
            for attempt in range(200):
                server = servers[(n + attempt) % len(servers)]
                headers = {
                    "content-type": "application/json",
                    "x-hub-signature-256": compute_signature(SECRET, body),
                }
                try:
                    response = await http.post(
                        f"{server.url}/webhooks/whatsapp", content=body, headers=headers
                    )
                except httpx.HTTPError:
                    response = None
                if response is not None and response.status_code == 200:
                    acked.add(wamid)
                    break
                if refused is not None:
                    refused.append(response.status_code if response is not None else 0)
                assert response is None or response.status_code >= 500, response.text
                await asyncio.sleep(0.1)

    async with httpx.AsyncClient(timeout=10) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))


@dataclass
class Counts:
    delivered: int
    stored: int
    answered: int
    doubled: int
    stuck: int
    sends: int
    resent: int  # replies claimed again after their sender died mid-send (the at-least-once window)

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def counts(database_url: str, fake: FakeGraphAPI, acked: set[str]) -> Counts:
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            inbound = conn.execute(
                sa.text("SELECT wa_message_id, turn, status FROM message WHERE direction = 'inbound'")
            ).all()
            recorded = conn.execute(
                sa.text(
                    "SELECT count(*) FROM message WHERE direction = 'outbound' AND wa_message_id IS NOT NULL"
                )
            ).scalar_one()
            resent = conn.execute(
                sa.text("SELECT count(*) FROM message WHERE direction = 'outbound' AND attempts > 1")
            ).scalar_one()
            stuck = conn.execute(
                sa.text(
                    "SELECT (SELECT count(*) FROM conversation WHERE has_pending)"
                    " + (SELECT count(*) FROM message WHERE direction = 'inbound' AND status = 'received'"
                    "    AND turn IS NULL)"
                    " + (SELECT count(*) FROM message WHERE direction = 'outbound'"
                    "    AND status IN ('pending', 'sending'))"
                    " + (SELECT count(*) FROM inboxitem WHERE applied_at IS NULL)"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    stored = {m for m, _, _ in inbound}
    answered = sum(
        1 for m, turn, status in inbound if m in acked and (turn is not None or status == "for_rep")
    )
    sends = len(fake.sent)
    # A reply sent twice is a Graph request the database holds no row for.
    return Counts(
        delivered=len(acked),
        stored=len(acked & stored),
        answered=answered,
        doubled=sends - int(recorded),
        stuck=int(stuck),
        sends=sends,
        resent=int(resent),
    )


async def wait_quiet(database_url: str, fake: FakeGraphAPI, acked: set[str], *, within: float) -> Counts:
    """Poll until nothing is pending (or `within` seconds pass); the last counts."""
    deadline = time.monotonic() + within
    while True:
        current = await asyncio.to_thread(counts, database_url, fake, acked)
        if (current.stuck == 0 and current.answered == current.delivered) or time.monotonic() > deadline:
            return current
        await asyncio.sleep(0.5)
