"""Real `handoff serve` and `handoff worker` processes for the fault tests and the chaos benchmark:
start, kill -9, restart; a load of signed deliveries retried until answered 200 (as Meta does); and
the counts that say whether anything was lost, doubled or left stuck."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from orchestrator.channels.whatsapp.outbound import render_as_text
from orchestrator.channels.whatsapp.signature import compute_signature
from orchestrator.core.db import sync_url
from orchestrator.runtime.simulator import build_text_webhook, encode_webhook
from tests.fakes.graph import FakeGraphAPI
from tests.fakes.servers import free_port

SECRET = "fault-test-app-secret"
RETRY_FOR_S = 120.0


# Every process a test started, so that one a failing test left running is stopped after it
# (`conftest.stop_left_running`): a process left behind would go on writing to the next test's
# database.
STARTED: list[Server] = []


@dataclass
class Server:
    """`handoff serve` (role "serve", healthy once `/healthz` answers) or `handoff worker` (role
    "worker", no HTTP: started once its log says `worker_started`). The log goes to a file: a pipe
    nobody reads would block the process once full."""

    database_url: str
    graph_url: str
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    lease_s: float = 3.0
    role: str = "serve"
    env: dict[str, str] = field(default_factory=dict)  # more settings (HANDOFF_*), over the defaults below
    timeout_s: float = 30.0
    # serve's `--workers`, a worker's `--processes` (a worker is started once each has logged
    # `worker_started`; serve once one of them answers)
    processes: int = 1

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

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
        args = (
            [
                str(handoff),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.processes),
            ]
            if self.role == "serve"
            else [str(handoff), "worker", "--processes", str(self.processes)]
        )
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        STARTED.append(self)
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"handoff {self.role} exited with {self.process.returncode}; see {self.log}"
                )
            if self._ready(offset):
                return
            time.sleep(0.1)
        raise RuntimeError(f"handoff {self.role} did not become ready; see {self.log}")

    def _ready(self, offset: int) -> bool:
        if self.role != "serve":
            with self.log.open("rb") as log:
                log.seek(offset)
                return log.read().count(b"worker_started") >= self.processes
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

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


def acknowledge_only_api(
    database_url: str, log: Path, *, env: dict[str, str] | None = None, **more: Any
) -> Server:
    """An API process that stores and acknowledges and runs no turn and no background work
    (`HANDOFF_RUN_TURNS=false`, the workers' layout), given a Graph API address where nothing
    listens: a reply it sent itself would fail, so every reply that arrives was a worker's."""
    return Server(
        database_url,
        f"http://127.0.0.1:{free_port()}",
        log,
        env={**(env or {}), "HANDOFF_RUN_TURNS": "false", "HANDOFF_RUN_BACKGROUND": "false"},
        **more,
    )


def _state_and_parent(pid: int) -> tuple[str, int] | None:
    """A process's state letter and its parent's pid, from `/proc`; None once it has ended."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, parent = stat.rsplit(")", 1)[1].split()[:2]
    return state, int(parent)


def alive(pid: int) -> bool:
    """Whether the process runs (ended and not yet reaped by its parent counts as ended)."""
    found = _state_and_parent(pid)
    return found is not None and found[0] != "Z"


def children(pid: int) -> set[int]:
    """The running processes `pid` forked (`handoff worker --processes`, `serve --workers`)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            read = _state_and_parent(int(entry.name))
            if read is not None and read[1] == pid and read[0] != "Z":
                found.add(int(entry.name))
    return found


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
            # Retried for as long as a restart can take on a busy machine (Meta retries for days).
            deadline = time.monotonic() + RETRY_FOR_S
            attempt = 0
            while time.monotonic() < deadline:
                server = servers[(n + attempt) % len(servers)]
                attempt += 1
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
    doubled: int  # replies Graph accepted more often than they were written: the customer got one twice
    stuck: int
    sends: int
    resent: int  # replies claimed again after their sender died mid-send (the at-least-once window)
    # Doubles that no such resend accounts for (a turn run twice, two senders at once): always 0.
    unexplained: int = 0
    # Conversations with people (queued or human) without an open assignment: nobody would come.
    # Counted in `stuck` too.
    orphaned: int = 0
    # Replies Graph accepted once whose row does not say so (recorded as failed, or not at all).
    unrecorded: int = 0

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _reply_key(payload: Any) -> tuple[str, str]:
    """One reply to one customer: its recipient and what it says."""
    if not isinstance(payload, dict):
        return ("", "")
    return (str(payload.get("to", "")).lstrip("+"), render_as_text(payload))


def counts(database_url: str, fake: FakeGraphAPI, acked: set[str]) -> Counts:
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            inbound = conn.execute(
                sa.text("SELECT wa_message_id, turn, status FROM message WHERE direction = 'inbound'")
            ).all()
            outbound = conn.execute(
                sa.text("SELECT wa_message_id, attempts, payload FROM message WHERE direction = 'outbound'")
            ).all()
            orphaned = conn.execute(
                sa.text(
                    "SELECT count(*) FROM conversation c WHERE c.owner IN ('queued', 'human') AND ("
                    " NOT EXISTS (SELECT 1 FROM assignment a WHERE a.conversation_id = c.id"
                    "   AND a.status IN ('waiting', 'active'))"
                    " OR (c.owner = 'human' AND c.assignee_id IS NULL))"
                )
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
    recorded = {wamid for wamid, _, _ in outbound if wamid is not None}
    sent = list(fake.sent)
    # One reply (a recipient and a text) written n times is expected n times; each Graph accepted
    # beyond that is a double, explained when a row of that reply was claimed again after its sender
    # died (the at-least-once window).
    accepted = Counter(_reply_key(r["json"]) for r in sent)
    written = Counter[tuple[str, str]]()
    resends = Counter[tuple[str, str]]()
    for _, attempts, payload in outbound:
        key = _reply_key(_json(payload))
        written[key] += 1
        resends[key] += max(0, attempts - 1)
    doubles = {key: n - written[key] for key, n in accepted.items() if n > written[key]}
    doubled = sum(doubles.values())
    return Counts(
        delivered=len(acked),
        stored=len(acked & stored),
        answered=answered,
        doubled=doubled,
        stuck=int(stuck) + int(orphaned),
        sends=len(sent),
        resent=sum(1 for _, attempts, _ in outbound if attempts > 1),
        unexplained=sum(max(0, n - resends[key]) for key, n in doubles.items()),
        orphaned=int(orphaned),
        unrecorded=sum(1 for r in sent if r["wa_message_id"] not in recorded) - doubled,
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def wait_quiet(database_url: str, fake: FakeGraphAPI, acked: set[str], *, within: float) -> Counts:
    """Poll until nothing is pending (or `within` seconds pass); the last counts."""
    deadline = time.monotonic() + within
    while True:
        current = await asyncio.to_thread(counts, database_url, fake, acked)
        if (current.stuck == 0 and current.answered == current.delivered) or time.monotonic() > deadline:
            return current
        await asyncio.sleep(0.5)
