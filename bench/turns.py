"""Turns through the whole service path: CPU per bot turn and per handoff, the drain rate of a
backlog of first messages, and first-reply latency.

    .venv/bin/python -m bench.turns [--backlog 1000] [--turns 300] [--database-url ...]

In one process, on the offline rules engine, with sends captured by an in-process Graph sink:
1. `turn_cpu_ms`: conversations of greeting + question (bot turns only), one message at a time,
   each drained before the next; CPU time (`time.process_time`) of the whole path per turn: the
   in-process HTTP post (its client side too, which in production is Meta's process), webhook,
   inbox, turn and send. `turn_only_cpu_ms`: the turn alone, from the stored, applied message to
   the reply sent (the drain after the post).
2. `handoff_cpu_ms`, `handoff_only_cpu_ms`: the same for turns that end in a handoff (an explicit
   request for a person: turn, context, routing and assignment in one commit).
3. `backlog`: N first messages from N customers delivered at once, then the clock runs until every
   one is answered: `drain_per_s` turns per second of wall time, first-reply p50/p99 from delivery
   (burst window off: processing time only).
4. `lone_first_reply_s`: first messages of `--lone` customers, one at a time, with the service's
   burst window on (`burst_window_s` / `burst_quiet_s` as configured; `--burst-quiet-s 1.5` waits the
   whole window, as every turn did before the window became adaptive): delivery to reply.
5. `history`: one customer's conversation of `--history` messages (small talk the bot keeps
   answering): CPU per turn over the first ten and the last ten messages, and CPU per
   `GET /api/conversations/{id}` (as the admin, in process) after the 10th and after the last.
Runs on the event loop the service's processes run on (`--loop uvloop`, the default: uvloop where
it is installed, as `handoff serve` and `handoff worker` use it); `--loop asyncio` for asyncio's own.
Once the graph is loaded, what the process holds is frozen (`orchestrator.core.heap.settle`), as
the served processes freeze it. Prints as its last line one JSON object with those figures,
`database`, `loop` and `loadavg`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.measure import LOOPS, quantile, require_empty_database, run_on_loop
from orchestrator.core.config import load_config
from orchestrator.core.heap import settle
from orchestrator.core.settings import Settings
from orchestrator.runtime.replay import harness
from orchestrator.runtime.simulator import GraphSink, build_text_webhook

AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday morning: every queue open


SMALL_TALK = ["hello", "thanks", "ok", "great, thanks", "hi there", "thank you"]


async def _detail_cpu_ms(h: Any, conversation_id: int, times: int = 20) -> float:
    headers = {"Authorization": "Bearer demo-admin"}
    started = time.process_time()
    for _ in range(times):
        response = await h.http.get(f"/api/conversations/{conversation_id}", headers=headers)
        assert response.status_code == 200, response.text
    return (time.process_time() - started) * 1000 / times


async def _one_message_cpu(h: Any, payload: dict[str, Any]) -> tuple[float, float]:
    """CPU milliseconds of one message's whole path (post + webhook + inbox + turn + send), and of
    its turn alone (the drain after the post: the stored message to the reply sent)."""
    started = time.process_time()
    await h.post(payload)
    posted = time.process_time()
    await h.service.turns.drain()
    done = time.process_time()
    return (done - started) * 1000, (done - posted) * 1000


def _cpu_figures(values: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 2), "mean": round(statistics.fmean(values), 2)}


async def run(
    *,
    database_url: str,
    turns: int,
    backlog: int,
    lone: int = 20,
    burst_quiet_s: float | None = None,
    history: int = 200,
) -> dict[str, Any]:
    config = load_config(None)
    sink = GraphSink()
    ids = iter(range(1, 10**9))

    def delivery(wa_id: str, words: str) -> dict[str, Any]:
        return build_text_webhook(
            wa_id=wa_id, message_id=f"wamid.bench.{next(ids)}", timestamp=AT, text=words
        )

    require_empty_database(database_url, "bench.turns")
    async with harness(database_url=database_url, config=config, at=AT, fake_graph=sink) as h:
        await h.service.graph.get()  # loaded before the clock starts (a process's first turn loads it)
        # What the process holds now is frozen, as `handoff serve` and `handoff worker` freeze it once
        # started and once the graph is loaded: full collections then walk what turns allocate, not
        # the modules and the graph (without it a pass walks ~330,000 objects, 80-90 ms each).
        settle()
        bot_cpu: list[float] = []
        bot_turn_cpu: list[float] = []
        for n in range(turns // 2):
            wa_id = f"1202555{n:04d}"
            for words in ("Hello", "how much does the basic plan cost?"):
                whole, alone = await _one_message_cpu(h, delivery(wa_id, words))
                bot_cpu.append(whole)
                bot_turn_cpu.append(alone)
        handoff_cpu: list[float] = []
        handoff_turn_cpu: list[float] = []
        for n in range(max(turns // 10, 10)):
            whole, alone = await _one_message_cpu(
                h, delivery(f"1303555{n:04d}", "I want to talk to a person please")
            )
            handoff_cpu.append(whole)
            handoff_turn_cpu.append(alone)

        replied: dict[str, float] = {}
        sent_before = len(sink.sent)
        delivered_at: dict[str, float] = {}
        started_wall = time.perf_counter()
        for n in range(backlog):
            wa_id = f"1404555{n:04d}"
            delivered_at[wa_id] = time.perf_counter()
            await h.post(delivery(wa_id, "Hi, what are your opening hours?"))
        while len(replied) < backlog:
            await asyncio.sleep(0.01)
            for request in sink.sent[sent_before:]:
                to = str(request["json"].get("to", "")).lstrip("+")
                if to in delivered_at and to not in replied:
                    replied[to] = time.perf_counter()
            sent_before = len(sink.sent)
            if time.perf_counter() - started_wall > 600:
                break
        await h.service.turns.drain()
        drain_s = time.perf_counter() - started_wall
        first_reply = [replied[w] - delivered_at[w] for w in replied]

        history_cpu: list[float] = []
        detail_cpu: dict[str, float] = {}
        conversation_id = 0
        for n in range(history):
            started = time.process_time()
            await h.post(delivery("1606555000", SMALL_TALK[n % len(SMALL_TALK)]))
            await h.service.turns.drain()
            history_cpu.append((time.process_time() - started) * 1000)
            if n + 1 in (10, history):
                conversation_id = conversation_id or h.outcomes[-1].conversation_id
                detail_cpu[f"at_{n + 1}"] = round(await _detail_cpu_ms(h, conversation_id), 2)

        defaults = Settings()
        h.service.turns.burst_window_s = defaults.burst_window_s
        h.service.turns.burst_quiet_s = defaults.burst_quiet_s if burst_quiet_s is None else burst_quiet_s
        lone_reply: list[float] = []
        for n in range(lone):
            before = len(sink.sent)
            started = time.perf_counter()
            await h.post(delivery(f"1505555{n:04d}", "Hi, what are your opening hours?"))
            await h.service.turns.drain()  # the reply is sent inside the turn, before it returns
            lone_reply.append(time.perf_counter() - started)
            assert len(sink.sent) > before, "a lone message went unanswered"

    return {
        "database": "postgresql" if database_url.startswith("postgresql") else "sqlite",
        "turn_cpu_ms": _cpu_figures(bot_cpu),
        "handoff_cpu_ms": _cpu_figures(handoff_cpu),
        "turn_only_cpu_ms": _cpu_figures(bot_turn_cpu),
        "handoff_only_cpu_ms": _cpu_figures(handoff_turn_cpu),
        "backlog": backlog,
        "answered": len(replied),
        "drain_per_s": round(len(replied) / drain_s, 1),
        "first_reply_s": {
            "p50": round(quantile(first_reply, 0.5), 2),
            "p99": round(quantile(first_reply, 0.99), 2),
        },
        "history": {
            "messages": history,
            "turn_cpu_ms_first_10": round(statistics.fmean(history_cpu[:10]), 2) if history_cpu else 0,
            "turn_cpu_ms_last_10": round(statistics.fmean(history_cpu[-10:]), 2) if history_cpu else 0,
            "detail_cpu_ms": detail_cpu,
        },
        "burst_window_s": h.service.turns.burst_window_s,
        "burst_quiet_s": h.service.turns.burst_quiet_s,
        "lone_first_reply_s": {
            "p50": round(quantile(lone_reply, 0.5), 3),
            "max": round(max(lone_reply, default=0.0), 3),
        },
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--backlog", type=int, default=1000)
    parser.add_argument("--lone", type=int, default=20, help="lone first messages, burst window on")
    parser.add_argument("--history", type=int, default=200, help="messages of the long conversation")
    parser.add_argument("--burst-quiet-s", type=float, default=None, help="default: the setting's")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--loop", choices=LOOPS, default="uvloop")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        figures = run_on_loop(
            run(
                database_url=url,
                turns=args.turns,
                backlog=args.backlog,
                lone=args.lone,
                burst_quiet_s=args.burst_quiet_s,
                history=args.history,
            ),
            args.loop,
        )
        print(json.dumps({**figures, "loop": args.loop}))


if __name__ == "__main__":
    main()
