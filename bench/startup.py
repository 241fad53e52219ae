"""Startup to healthy and idle memory of `handoff serve` (and of a bare FastAPI app for comparison).

    .venv/bin/python -m bench.startup [--runs 3] [--loads 200] [--database-url ...]

Each run starts a fresh OS process and polls `GET /healthz` every 20 ms:
- `healthy_s`: wall time from `Popen` to the first 200 (the database already migrated, as on every
  start but the first; `--fresh` measures a first start on an empty SQLite file instead);
- `ready_s`: wall time from `Popen` to the first 200 of `GET /readyz` (a process that runs turns
  loads the agents' graph right after startup and is ready once it has; a server without the
  endpoint, the bare app, counts as ready when healthy);
- `cpu_s`: CPU time the process used until healthy (user + system, from `/proc`), steadier than wall
  time on a shared machine;
- `idle_rss_mb`: resident memory 2 s after ready, with no traffic;
- `rss_after_loads_mb`: after `--loads` requests of the API (conversations, queues, reps, the
  health check), to see that memory does not grow with use;
- `first_turn_s`, `rss_after_first_turn_mb`: then a customer's first message through the signed
  webhook: the wall time until the bot's reply is on the conversation (sent to a local stand-in
  for the Graph API that accepts every message), and the memory after that turn;
- `rss_after_100_turns_mb`, `rss_after_1000_turns_mb` (with `--turns 1000`, the default): then 100
  customers each send a message, wait for the bot's answer, and send the next, ten rounds of
  questions the knowledge base answers and small talk; the memory after the first round (100
  turns) and after the last (1,000), to see that it does not grow with the turns a process has
  run (`turns_sent` counts the replies the stand-in received).
The bare app (`bench.startup --bare`, run by this script too) is FastAPI + uvicorn answering
`/healthz`, the floor any service on this stack starts from. Prints as its last line one JSON object
with the medians of each figure, `loadavg` and the command's settings.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.measure import process_usage

POLL_S = 0.02
CUSTOMERS = 100
# Ten messages a customer sends one after the other: answered from the knowledge base or small talk,
# so the bot keeps the conversation (no handoff) and every message is a turn of the graph.
ROUND_TEXTS = (
    "Hello",
    "What are your opening hours?",
    "How much does it cost?",
    "Do you support teams?",
    "Is there a free trial?",
    "thanks",
    "How do I reset my password?",
    "ok great",
    "Can you send me the product brochure?",
    "thank you",
)


class GraphStandIn:
    """A local HTTP server answering every `/messages` request as Meta's Graph API does on success,
    counting them: the service's replies are sent (not failed and handed off)."""

    def __init__(self) -> None:
        self.sent = 0
        ids = itertools.count(1)
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                to = str(body.get("to", ""))
                answer = json.dumps(
                    {
                        "messaging_product": "whatsapp",
                        "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
                        "messages": [{"id": f"wamid.STANDIN{next(ids):08d}"}],
                    }
                ).encode()
                stand_in.sent += 1
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bare() -> None:
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[sys.argv.index("--port") + 1]), log_level="warning")


def one_run(
    *,
    command: list[str],
    env: dict[str, str],
    port: int,
    loads: int,
    log: Path,
    turns: int = 0,
    graph: GraphStandIn | None = None,
) -> dict[str, float]:
    import httpx

    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    turn: dict[str, float] = {}
    try:
        with httpx.Client(timeout=2) as client:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the process exited with {process.returncode}; see {log}")
                try:
                    if client.get(f"{url}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.perf_counter() - started > 120:
                    raise RuntimeError("not healthy within 120 s")
                time.sleep(POLL_S)
            healthy_s = time.perf_counter() - started
            cpu_s, _ = process_usage(process.pid)
            while client.get(f"{url}/readyz").status_code not in (200, 404):  # 404: no readiness
                if time.perf_counter() - started > 120:
                    raise RuntimeError("not ready within 120 s")
                time.sleep(POLL_S)
            ready_s = time.perf_counter() - started
            time.sleep(2)
            _, idle_rss = process_usage(process.pid)
            after = idle_rss
            if loads:
                headers = {"Authorization": "Bearer demo-admin"}
                for n in range(loads):
                    path = ("/healthz", "/api/conversations", "/api/queues", "/api/reps")[n % 4]
                    client.get(f"{url}{path}", headers=headers)
                time.sleep(1)
                _, after = process_usage(process.pid)
            turn = _first_turn(client, url, process.pid) if loads else {}
            if turns and graph is not None:
                turn.update(_many_turns(client, url, process.pid, graph, rounds=turns // CUSTOMERS))
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return {
        "healthy_s": healthy_s,
        "ready_s": ready_s,
        "cpu_s": cpu_s,
        "idle_rss_mb": idle_rss,
        "rss_after_loads_mb": after,
        **turn,
    }


def _first_turn(client: Any, url: str, pid: int) -> dict[str, float]:
    """A customer's first message through the signed webhook; the wall time until the conversation
    shows the bot's reply (sent to the stand-in for the Graph API), and the process's
    memory once the graph is loaded."""
    from orchestrator.channels.whatsapp.signature import compute_signature
    from orchestrator.core.settings import DEV_SECRETS
    from orchestrator.runtime.simulator import build_text_webhook, encode_webhook

    body = encode_webhook(
        build_text_webhook(
            wa_id="15550009999", message_id="wamid.startup.1", timestamp=int(time.time()), text="Hello"
        )
    )
    signature = compute_signature(DEV_SECRETS["HANDOFF_WHATSAPP_APP_SECRET"], body)
    headers = {"Authorization": "Bearer demo-admin"}
    started = time.perf_counter()
    client.post(
        f"{url}/webhooks/whatsapp",
        content=body,
        headers={"content-type": "application/json", "x-hub-signature-256": signature},
    )
    while time.perf_counter() - started < 60:
        listed = client.get(f"{url}/api/conversations", headers=headers).json()
        if listed:
            detail = client.get(f"{url}/api/conversations/{listed[0]['id']}", headers=headers).json()
            if any(m["direction"] == "outbound" for m in detail["messages"]):
                break
        time.sleep(0.05)
    replied_s = time.perf_counter() - started
    time.sleep(1)
    return {"first_turn_s": replied_s, "rss_after_first_turn_mb": process_usage(pid)[1]}


def _settle(pid: int) -> None:
    """Wait until the process has used less than 20 ms of CPU in half a second: its work is done."""
    cpu = process_usage(pid)[0]
    for _ in range(240):
        time.sleep(0.5)
        now = process_usage(pid)[0]
        if now - cpu < 0.02:
            return
        cpu = now


def _many_turns(client: Any, url: str, pid: int, graph: GraphStandIn, *, rounds: int) -> dict[str, float]:
    """`CUSTOMERS` customers each send a message per round and get the bot's answer before the next
    round; the memory after the first round and after the last."""
    from orchestrator.channels.whatsapp.signature import compute_signature
    from orchestrator.core.settings import DEV_SECRETS
    from orchestrator.runtime.simulator import build_text_webhook, encode_webhook

    secret = DEV_SECRETS["HANDOFF_WHATSAPP_APP_SECRET"]
    figures: dict[str, float] = {}
    sent_before = graph.sent
    for round_ in range(rounds):
        expected = graph.sent + CUSTOMERS
        for n in range(CUSTOMERS):
            text = ROUND_TEXTS[(round_ + n) % len(ROUND_TEXTS)]
            body = encode_webhook(
                build_text_webhook(
                    wa_id=f"1555100{n:04d}",
                    message_id=f"wamid.startup.{round_}.{n}",
                    timestamp=int(time.time()),
                    text=text,
                )
            )
            client.post(
                f"{url}/webhooks/whatsapp",
                content=body,
                headers={
                    "content-type": "application/json",
                    "x-hub-signature-256": compute_signature(secret, body),
                },
            )
        deadline = time.perf_counter() + 120
        while graph.sent < expected and time.perf_counter() < deadline:
            time.sleep(0.05)
        _settle(pid)
        if round_ == 0:
            figures["rss_after_100_turns_mb"] = process_usage(pid)[1]
    figures[f"rss_after_{rounds * CUSTOMERS}_turns_mb"] = process_usage(pid)[1]
    figures["turns_sent"] = graph.sent - sent_before
    return figures


def _median(runs: list[dict[str, float]], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 2)


def main() -> None:
    if "--bare" in sys.argv:
        _bare()
        return
    from orchestrator.migrations import run_migrations

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--loads", type=int, default=200)
    parser.add_argument("--turns", type=int, default=1000, help="turns after the first (0: none)")
    parser.add_argument("--fresh", action="store_true", help="a first start: migrate an empty database")
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary dir")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    graph = GraphStandIn()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        ours: list[dict[str, float]] = []
        bare: list[dict[str, float]] = []
        for n in range(args.runs):
            url = args.database_url or f"sqlite:///{Path(tmp) / f'startup-{n}.db'}"
            if not args.fresh:
                run_migrations(url)
            env = {
                **os.environ,
                "HANDOFF_DEV_MODE": "true",
                "HANDOFF_DATABASE_URL": url,
                "HANDOFF_WHATSAPP_API_URL": graph.url,
            }
            port = free_port()
            ours.append(
                one_run(
                    command=[sys.executable, "-m", "orchestrator.runtime.cli", "serve", "--port", str(port)],
                    env=env,
                    port=port,
                    loads=args.loads,
                    log=log,
                    turns=args.turns,
                    graph=graph,
                )
            )
            port = free_port()
            bare.append(
                one_run(
                    command=[sys.executable, "-m", "bench.startup", "--bare", "--port", str(port)],
                    env=env,
                    port=port,
                    loads=0,
                    log=log,
                )
            )
        for name, runs in (("handoff", ours), ("bare", bare)):
            results[name] = {key: _median(runs, key) for key in runs[0]}
        results["handoff"]["runs"] = [{k: round(v, 2) for k, v in r.items()} for r in ours]
    graph.close()
    results["fresh_database"] = args.fresh
    results["loads"] = args.loads
    results["turns"] = args.turns
    results["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
