"""Chaos under load on PostgreSQL: real `handoff serve` and `handoff worker` processes killed with
`kill -9` at random and restarted while customers write; then quiet, and the counts.

    .venv/bin/python -m bench.chaos --database-url postgresql+psycopg://postgres@127.0.0.1:5432/chaos \\
        [--minutes 4] [--rate 20] [--api 2] [--workers 2] [--ack-only] [--kill-every 5] [--logs DIR]

The database's `public` schema is dropped and migrated first: give it a database of its own.

Processes: `--api` API processes (`handoff serve`, background work off, as in `compose.yaml`) and
`--workers` background workers (`handoff worker`: recovery, relay, timers, retention), the offline
agent engine (no model), a fake Graph API in this process answering every send. With `--ack-only`
the API processes only store and acknowledge (`HANDOFF_RUN_TURNS=false`) and the workers run every
turn.

Load: about `--rate` signed webhook deliveries a second, built from the real payloads in
`shared/fixtures/whatsapp/` (text, a tap on one of the bot's reply buttons, a click-to-WhatsApp ad
referral, delivery and read statuses of the bot's replies), from many customers, each following a
short conversation script (leads who qualify, people asking for a person, a frustrated customer, a
burst of two messages); some deliveries are posted twice, later, as Meta's retries are. A delivery
not answered 200 (connection refused or reset by a killed process, a 5xx) is retried on another API
process until it is.

Chaos: every `--kill-every` seconds (jittered) one running process, chosen at random, is killed with
SIGKILL and restarted a moment later (one API process is always left running so the load keeps
flowing; a killed worker may leave none for a while).

Reps (`--reps-every S`, 0: none): every S seconds (jittered) the admin resolves a conversation a
rep has, or hands it back to the bot, chosen at random, through the API of a running process, while
its customer may be writing: what the conversation's owner was when a message was stored may then
have changed by the time it is written (`docs/pipeline.md`).

Quiet: the load and the kills stop, every process runs again, and the run waits until nothing is
pending (or `--quiet-within` seconds). Counted from the database and the fake Graph API:
- delivered: message deliveries answered 200; stored: of those, messages in the database;
- answered: of those, consumed by a bot turn or passed to the rep workspace after a handoff;
- doubled: replies (a recipient and a text) Graph accepted more often than they were written (the
  customer got one reply twice); resent: replies claimed again after their sender died mid-send
  (the at-least-once window of `docs/pipeline.md`); unexplained: doubles no such resend accounts
  for (must be 0); unrecorded: replies Graph accepted once whose row does not say so;
- stranded (must be 0): customers' messages stored in a conversation after it was closed;
- stuck: after quiet, conversations still pending, stored messages neither answered nor handed off,
  replies unsent, inbox items unapplied, plus orphaned: conversations handed to people that have no
  open assignment (nobody would come).

Prints the counts as a table, then as its last line one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from orchestrator.channels.whatsapp.signature import compute_signature
from orchestrator.core.db import sync_url
from orchestrator.runtime.simulator import encode_webhook
from tests.conftest import reset_postgres
from tests.fakes.graph import FakeGraphAPI, SentRequest
from tests.fakes.servers import serve_in_thread
from tests.faults.processes import SECRET, Counts, Server, wait_quiet
from tests.fixtures import load_fixture

# Log events worth a look after a run (see orchestrator.runtime.turns and orchestrator.outbox).
WATCHED_EVENTS = (
    "turn_refused",
    "turn_replayed",
    "send_crashed",
    "graph_failed",
    "turn_task_failed",
    "background_tick_failed",
    "handoff_after_undelivered_reply",
    "Traceback",
)


# -- what customers send -------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    kind: str  # text | tap (one of the bot's reply buttons) | ad (text with an ad referral)
    text: str = ""
    gap_s: float | None = None  # pause before this step; None: a customer's usual pause


SCRIPTS: dict[str, list[Step]] = {
    "menu lead": [
        Step("text", "Hi there"),
        Step("tap", "sales"),
        Step("text", "We're Northwind Traders"),
        Step("text", "we want to take table bookings over WhatsApp"),
        Step("text", "thanks!"),
    ],
    "ad lead": [
        Step("ad", "Hi, I saw your ad, how much is it?"),
        Step("text", "I'm Maria from Contoso Pharma"),
        Step("text", "we'd like to send order updates to our customers"),
        Step("text", "great, thanks"),
    ],
    "asks for a person": [
        Step("text", "hello"),
        Step("text", "how do I export my invoices?"),
        Step("text", "can I talk to a human please"),
        Step("text", "it's about invoice 4411"),
    ],
    "frustrated": [
        Step("text", "my app keeps logging me out"),
        Step("text", "this is the third time I'm writing, WHY DOES THE APP KEEP LOGGING ME OUT"),
        Step("text", "hello??"),
    ],
    "burst": [
        Step("text", "hi"),
        Step("text", "I need help with billing", gap_s=0.05),
        Step("tap", "billing"),
        Step("text", "ok"),
    ],
}


class Payloads:
    """Webhook bodies shaped as the shared fixtures, with this run's customers, ids and times."""

    def __init__(self) -> None:
        self.text = load_fixture("inbound_text_pywa.json")
        self.tap = load_fixture("inbound_interactive_button_reply_pywa.json")
        self.ad = load_fixture("inbound_ctwa_referral_pywa.json")
        self.status = load_fixture("status_delivered_pywa.json")

    @staticmethod
    def _value(body: dict[str, Any]) -> dict[str, Any]:
        value: dict[str, Any] = body["entry"][0]["changes"][0]["value"]
        return value

    def _message(
        self, template: dict[str, Any], *, wa_id: str, name: str, wamid: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        body = copy.deepcopy(template)
        value = self._value(body)
        contact = value["contacts"][0]
        contact["wa_id"], contact["profile"] = wa_id, {"name": name}
        contact["user_id"] = f"US.{wa_id}"  # a BSUID of this customer's own
        contact.pop("parent_user_id", None)
        message = value["messages"][0]
        message.update({"from": wa_id, "id": wamid, "timestamp": str(int(time.time()))})
        return body, message

    def text_message(self, *, wa_id: str, name: str, wamid: str, text: str) -> bytes:
        body, message = self._message(self.text, wa_id=wa_id, name=name, wamid=wamid)
        message["text"] = {"body": text}
        return encode_webhook(body)

    def ad_message(self, *, wa_id: str, name: str, wamid: str, text: str) -> bytes:
        body, message = self._message(self.ad, wa_id=wa_id, name=name, wamid=wamid)
        message["text"] = {"body": text}
        message["referral"].update(
            {"source_id": "120210000000000001", "headline": "WhatsApp for your team", "ctwa_clid": wamid}
        )
        return encode_webhook(body)

    def button_tap(self, *, wa_id: str, name: str, wamid: str, quoted: str, button: dict[str, str]) -> bytes:
        body, message = self._message(self.tap, wa_id=wa_id, name=name, wamid=wamid)
        message["context"]["id"] = quoted
        message["interactive"]["button_reply"] = {"id": button["id"], "title": button["title"]}
        return encode_webhook(body)

    def statuses(self, *, wa_id: str, sent: list[str], status: str) -> bytes:
        body = copy.deepcopy(self.status)
        value = self._value(body)
        value["contacts"][0].update({"wa_id": wa_id, "user_id": f"US.{wa_id}"})
        template = value["statuses"][0]
        value["statuses"] = [
            {
                **copy.deepcopy(template),
                "id": wamid,
                "status": status,
                "recipient_id": wa_id,
                "timestamp": str(int(time.time())),
            }
            for wamid in sent
        ]
        return encode_webhook(body)


# -- the load ------------------------------------------------------------------------------------
@dataclass
class Tally:
    acked: set[str] = field(default_factory=set)  # message ids answered 200
    posts: Counter[str] = field(default_factory=Counter)  # deliveries answered 200, by kind
    retries: int = 0  # attempts not answered 200 (refused, reset, 5xx), each retried
    refused: list[str] = field(default_factory=list)  # 4xx answers: a bug in the load or the service
    latencies: list[float] = field(default_factory=list)  # each 200, seconds
    kills: Counter[str] = field(default_factory=Counter)
    restart_s: list[float] = field(default_factory=list)
    rep_actions: Counter[str] = field(default_factory=Counter)  # resolves and hand-backs done
    rep_errors: int = 0  # refused (the conversation changed meanwhile) or cut by a kill
    restarting: set[int] = field(default_factory=set)  # ids of processes killed and not ready again


class Pacer:
    """A steady pace shared by every customer: one delivery each 1/rate seconds at most."""

    def __init__(self, rate: float) -> None:
        self.interval = 1 / rate
        self.next = time.monotonic()

    async def wait(self) -> None:
        now = time.monotonic()
        slot = max(now, self.next)
        self.next = slot + self.interval
        await asyncio.sleep(slot - now)


class Load:
    def __init__(
        self,
        apis: list[Server],
        fake: FakeGraphAPI,
        *,
        rate: float,
        duplicate_rate: float,
        status_rate: float,
        seed: int,
    ) -> None:
        self.apis = apis
        self.fake = fake
        self.pacer = Pacer(rate)
        self.duplicate_rate = duplicate_rate
        self.status_rate = status_rate
        self.random = random.Random(seed)
        self.payloads = Payloads()
        self.tally = Tally()
        self.stop = asyncio.Event()
        self.run_id = f"{int(time.time()) % 100000:05d}"
        self._numbers = iter(range(10**6))
        self._later: set[asyncio.Task[None]] = set()
        self._reported: set[str] = set()

    async def deliver(self, http: httpx.AsyncClient, body: bytes, *, kind: str, wamid: str | None) -> None:
        """Post until answered 200, on a random running API process each time (as Meta retries)."""
        headers = {"content-type": "application/json", "x-hub-signature-256": compute_signature(SECRET, body)}
        for _ in range(3000):  # bounded: ~10 minutes of retries
            live = [
                api for api in self.apis if api.running and id(api) not in self.tally.restarting
            ] or self.apis
            api = self.random.choice(live)
            started = time.perf_counter()
            try:
                response = await http.post(f"{api.url}/webhooks/whatsapp", content=body, headers=headers)
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code == 200:
                self.tally.latencies.append(time.perf_counter() - started)
                self.tally.posts[kind] += 1
                if wamid is not None:
                    self.tally.acked.add(wamid)
                return
            if response is not None and response.status_code < 500:
                self.tally.refused.append(f"{response.status_code} {response.text[:200]}")
                return
            self.tally.retries += 1
            await asyncio.sleep(0.2)
        raise RuntimeError("a delivery was never answered 200")

    def _sent_to(self, wa_id: str) -> list[SentRequest]:
        return [r for r in list(self.fake.sent) if str(r["json"].get("to", "")).lstrip("+") == wa_id]

    async def customer(self, http: httpx.AsyncClient, script: list[Step]) -> None:
        n = next(self._numbers)
        wa_id, name = f"44{self.run_id}{n:06d}", f"Customer {n}"
        for index, step in enumerate(script):
            if self.stop.is_set():
                return
            if index:
                gap = step.gap_s if step.gap_s is not None else self.random.uniform(1.0, 5.0)
                await asyncio.sleep(gap)
            await self.pacer.wait()
            wamid = f"wamid.chaos.{self.run_id}.{n}.{index}"
            body = self._body(step, wa_id=wa_id, name=name, wamid=wamid)
            await self.deliver(http, body, kind="message", wamid=wamid)
            if self.random.random() < self.duplicate_rate:
                self._spawn(self._retry_later(http, body))
            if self.random.random() < self.status_rate:
                await self._statuses(http, wa_id)

    def _body(self, step: Step, *, wa_id: str, name: str, wamid: str) -> bytes:
        if step.kind == "ad":
            return self.payloads.ad_message(wa_id=wa_id, name=name, wamid=wamid, text=step.text)
        if step.kind == "tap":
            for request in reversed(self._sent_to(wa_id)):
                buttons = request["json"].get("interactive", {}).get("action", {}).get("buttons", [])
                if buttons and request["wa_message_id"]:
                    wanted = [b["reply"] for b in buttons if step.text in b["reply"]["id"]]
                    button = wanted[0] if wanted else self.random.choice(buttons)["reply"]
                    return self.payloads.button_tap(
                        wa_id=wa_id, name=name, wamid=wamid, quoted=request["wa_message_id"], button=button
                    )
            # No buttons reached this customer yet (the bot is behind): they type it instead.
        return self.payloads.text_message(wa_id=wa_id, name=name, wamid=wamid, text=step.text or "ok")

    async def _statuses(self, http: httpx.AsyncClient, wa_id: str) -> None:
        """Meta reports what reached the customer: `delivered` then `read` for the bot's replies."""
        sent = [r["wa_message_id"] for r in self._sent_to(wa_id) if r["wa_message_id"]]
        fresh = [wamid for wamid in sent if wamid not in self._reported]
        if not fresh:
            return
        self._reported.update(fresh)
        for status in ("delivered", "read"):
            await self.pacer.wait()
            body = self.payloads.statuses(wa_id=wa_id, sent=fresh, status=status)
            await self.deliver(http, body, kind="status", wamid=None)

    async def _retry_later(self, http: httpx.AsyncClient, body: bytes) -> None:
        await asyncio.sleep(self.random.uniform(0.5, 10.0))
        await self.deliver(http, body, kind="duplicate", wamid=None)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def run(self, *, customers: int) -> None:
        """Keep `customers` conversations going until `stop`; then let the ones in flight finish
        the step they are on, and the late duplicates arrive."""
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        async with httpx.AsyncClient(timeout=15, limits=limits) as http:

            async def one_after_another() -> None:
                while not self.stop.is_set():
                    name = self.random.choice(sorted(SCRIPTS))
                    await self.customer(http, SCRIPTS[name])

            await asyncio.gather(*(one_after_another() for _ in range(customers)))
            while self._later:
                await asyncio.gather(*list(self._later))


# -- the chaos -----------------------------------------------------------------------------------
async def chaos(
    processes: list[Server], tally: Tally, *, every_s: float, restart_after_s: float, stop: asyncio.Event
) -> None:
    """Kill a random running process every `every_s` (jittered) and restart it; one API process is
    always left running."""
    rng = random.Random(os.getpid())
    restarts: set[asyncio.Task[None]] = set()
    restarting = tally.restarting  # processes being started again are left alone until they run

    async def restart(victim: Server) -> None:
        await asyncio.sleep(restart_after_s)
        started = time.monotonic()
        try:
            for _ in range(5):
                try:
                    await asyncio.to_thread(victim.start)
                except RuntimeError as exc:
                    print(f"restart failed, again: {exc}", file=sys.stderr)
                    continue
                tally.restart_s.append(time.monotonic() - started)
                return
        finally:
            restarting.discard(id(victim))

    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=rng.uniform(0.5, 1.5) * every_s)
        if stop.is_set():
            break
        running_apis = [p for p in processes if p.role == "serve" and p.running and id(p) not in restarting]
        candidates = [
            p
            for p in processes
            if p.running and id(p) not in restarting and (p.role != "serve" or len(running_apis) > 1)
        ]
        if not candidates:
            continue
        victim = rng.choice(candidates)
        restarting.add(id(victim))
        victim.kill()
        tally.kills[victim.role] += 1
        print(f"{time.strftime('%H:%M:%S')} kill -9 {victim.role} {victim.log.name}", file=sys.stderr)
        task = asyncio.create_task(restart(victim))
        restarts.add(task)
        task.add_done_callback(restarts.discard)
    while restarts:
        await asyncio.gather(*list(restarts))


# -- counting ------------------------------------------------------------------------------------
def database_facts(database_url: str) -> dict[str, int]:
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT (SELECT count(*) FROM conversation),"
                    " (SELECT count(*) FROM conversation WHERE handed_off_at IS NOT NULL),"
                    " (SELECT coalesce(sum(turns), 0) FROM conversation),"
                    " (SELECT count(*) FROM messagestatusevent),"
                    " (SELECT count(*) FROM message WHERE direction = 'inbound' AND status = 'for_rep'),"
                    " (SELECT count(*) FROM message m JOIN conversation c ON c.id = m.conversation_id"
                    "   WHERE c.owner = 'closed' AND m.direction = 'inbound' AND m.created_at > c.closed_at),"
                    # Every committed turn consumed at least one message of its own: a turn counted
                    # without one would be a turn committed twice.
                    " (SELECT count(*) FROM conversation c WHERE c.turns <> (SELECT count(DISTINCT m.turn)"
                    "   FROM message m WHERE m.conversation_id = c.id AND m.direction = 'inbound'"
                    "   AND m.turn IS NOT NULL))"
                )
            ).one()
    finally:
        engine.dispose()
    keys = ("conversations", "handoffs", "turns", "statuses", "for_rep", "stranded", "turn_count_mismatches")
    return dict(zip(keys, (int(x) for x in row), strict=True))


def log_events(logs: list[Path]) -> dict[str, int]:
    text = "\n".join(path.read_text(errors="replace") for path in logs if path.exists())
    return {event: text.count(event) for event in WATCHED_EVENTS}


def table(counts: Counts) -> str:
    head = (
        "delivered",
        "stored",
        "answered",
        "doubled",
        "resent",
        "unexplained",
        "unrecorded",
        "stuck",
        "orphaned",
    )
    values = counts.as_dict()
    widths = [max(len(h), len(str(values[h]))) for h in head]
    line = " | ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))
    rule = "-+-".join("-" * w for w in widths)
    row = " | ".join(str(values[h]).rjust(w) for h, w in zip(head, widths, strict=True))
    return f"{line}\n{rule}\n{row}"


async def reps(apis: list[Server], tally: Tally, *, every_s: float, stop: asyncio.Event, seed: int) -> None:
    """The admin (`demo-admin`, development mode) resolves or hands back a conversation a rep has,
    one every `every_s` seconds (jittered), on a running API process; a process killed meanwhile
    costs that action, not the run."""
    chooser = random.Random(seed + 1)
    headers = {"authorization": "Bearer demo-admin"}
    async with httpx.AsyncClient(timeout=15, headers=headers) as http:
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=chooser.uniform(0.5, 1.5) * every_s)
            if stop.is_set():
                return
            live = [api for api in apis if api.running and id(api) not in tally.restarting]
            if not live:
                continue
            api = chooser.choice(live)
            try:
                listed = await http.get(
                    f"{api.url}/api/conversations", params={"owner": "human", "limit": 100}
                )
                held = [c["id"] for c in listed.json()] if listed.status_code == 200 else []
                if not held:
                    continue
                action = chooser.choice(["resolve", "hand-back"])
                done = await http.post(
                    f"{api.url}/api/conversations/{chooser.choice(held)}/{action}",
                    json={} if action == "hand-back" else None,
                )
            except (httpx.HTTPError, ValueError):
                tally.rep_errors += 1
                continue
            if done.status_code == 200:
                tally.rep_actions[action] += 1
            else:
                tally.rep_errors += 1


# -- the run -------------------------------------------------------------------------------------
@dataclass
class Fleet:
    apis: list[Server]
    workers: list[Server]

    @property
    def all(self) -> list[Server]:
        return [*self.apis, *self.workers]


def start_fleet(
    database_url: str,
    graph_url: str,
    logs: Path,
    *,
    apis: int,
    workers: int,
    env: dict[str, str],
    ack_only: bool = False,
) -> Fleet:
    common = {"HANDOFF_DEV_MODE": "true", **env}
    api_env = {**common, "HANDOFF_RUN_BACKGROUND": "false"}
    if ack_only:
        api_env["HANDOFF_RUN_TURNS"] = "false"
    fleet = Fleet(
        apis=[
            Server(
                database_url,
                graph_url,
                logs / f"api{i}.log",
                env=api_env,
                timeout_s=90,
            )
            for i in range(apis)
        ],
        workers=[
            Server(database_url, graph_url, logs / f"worker{i}.log", role="worker", env=common, timeout_s=90)
            for i in range(workers)
        ],
    )
    for process in fleet.all:
        process.start()
    return fleet


def stop_fleet(fleet: Fleet) -> None:
    for process in fleet.all:
        process.stop()


def parser() -> argparse.ArgumentParser:
    doc = __doc__ or ""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--database-url", required=True, help="PostgreSQL; its public schema is reset")
    p.add_argument("--minutes", type=float, default=4.0)
    p.add_argument("--rate", type=float, default=20.0, help="webhook deliveries per second")
    p.add_argument("--api", type=int, default=2, help="`handoff serve` processes")
    p.add_argument("--workers", type=int, default=2, help="`handoff worker` processes")
    p.add_argument(
        "--ack-only",
        action="store_true",
        help="API processes only acknowledge (HANDOFF_RUN_TURNS=false); the workers run the turns",
    )
    p.add_argument("--kill-every", type=float, default=5.0, help="seconds between kills; 0: none")
    p.add_argument("--restart-after", type=float, default=1.0)
    p.add_argument("--duplicates", type=float, default=0.05, help="share of deliveries posted twice")
    p.add_argument("--statuses", type=float, default=0.5, help="chance a step reports statuses")
    p.add_argument("--quiet-within", type=float, default=180.0)
    p.add_argument("--graph-delay", type=float, default=0.02, help="the fake Graph API's answer time")
    p.add_argument(
        "--sent-statuses",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the fake Graph API posts a signed `sent` status webhook for each send it accepts, as Meta "
        "does (--no-sent-statuses: none, so no send can be confirmed by its status)",
    )
    p.add_argument(
        "--reps-every",
        type=float,
        default=0.0,
        help="seconds between the admin's resolves and hand-backs; 0: none",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--logs", type=Path, default=None, help="default: a new temporary folder")
    return p


async def drive(args: argparse.Namespace, fleet: Fleet, fake: FakeGraphAPI) -> tuple[Load, float]:
    load = Load(
        fleet.apis,
        fake,
        rate=args.rate,
        duplicate_rate=args.duplicates,
        status_rate=args.statuses,
        seed=args.seed,
    )
    # Enough customers that their pauses (about 3 s between steps) still fill the pace.
    customers = max(4, int(args.rate * 4))
    stop_chaos = asyncio.Event()
    started = time.monotonic()
    loading = asyncio.create_task(load.run(customers=customers))
    killing = (
        asyncio.create_task(
            chaos(
                fleet.all,
                load.tally,
                every_s=args.kill_every,
                restart_after_s=args.restart_after,
                stop=stop_chaos,
            )
        )
        if args.kill_every > 0
        else None
    )
    acting = (
        asyncio.create_task(
            reps(fleet.apis, load.tally, every_s=args.reps_every, stop=stop_chaos, seed=args.seed)
        )
        if args.reps_every > 0
        else None
    )
    await asyncio.sleep(args.minutes * 60)
    load.stop.set()
    stop_chaos.set()
    if killing is not None:
        await killing
    if acting is not None:
        await acting
    await loading
    return load, time.monotonic() - started


def main() -> None:
    args = parser().parse_args()
    logs = args.logs or Path(tempfile.mkdtemp(prefix="bench-chaos-"))
    logs.mkdir(parents=True, exist_ok=True)
    reset_postgres(args.database_url)
    fake = FakeGraphAPI()
    fake.delay_s = args.graph_delay
    with serve_in_thread(fake.app) as graph_url:
        fleet = start_fleet(
            args.database_url,
            graph_url,
            logs,
            apis=args.api,
            workers=args.workers,
            env={},
            ack_only=args.ack_only,
        )
        if args.sent_statuses:  # to the API processes, as Meta's status webhooks come
            fake.status_webhooks, fake.app_secret = [api.url for api in fleet.apis], SECRET
        try:
            load, seconds = asyncio.run(drive(args, fleet, fake))
            for process in fleet.all:  # a restart may still be failing: everyone runs for the quiet
                if not process.running:
                    process.start()
            quiet_started = time.monotonic()
            counts = asyncio.run(
                wait_quiet(args.database_url, fake, load.tally.acked, within=args.quiet_within)
            )
            quiet_s = time.monotonic() - quiet_started
        finally:
            stop_fleet(fleet)
    tally = load.tally
    latencies = sorted(tally.latencies)
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    result: dict[str, Any] = {
        **counts.as_dict(),
        "seconds": round(seconds, 1),
        "quiet_s": round(quiet_s, 1),
        "processes": {"api": args.api, "workers": args.workers, "ack_only": args.ack_only},
        "sent_statuses_posted": fake.statuses_posted if args.sent_statuses else None,
        "kills": dict(tally.kills),
        "restart_s_max": round(max(tally.restart_s, default=0.0), 1),
        "posts": dict(tally.posts),
        "per_s": round(sum(tally.posts.values()) / seconds, 1),
        "retried_attempts": tally.retries,
        "rep_actions": dict(tally.rep_actions),
        "rep_errors": tally.rep_errors,
        "refused": len(tally.refused),
        "ack_p50_ms": round(quantiles[49] * 1000, 1),
        "ack_p99_ms": round(quantiles[98] * 1000, 1),
        **database_facts(args.database_url),
        "log_events": log_events([p.log for p in fleet.all]),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "logs": str(logs),
    }
    for refusal in tally.refused[:5]:
        print("refused:", refusal, file=sys.stderr)
    print(table(counts))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
