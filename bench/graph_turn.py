"""Graph overhead per bot turn on the offline rules engine, with the real SQLite checkpointer.

    .venv/bin/python -m bench.graph_turn [--conversations 200] [--turns 4]

Runs the compiled graph directly (no HTTP, no database rows besides checkpoints) over a mix of
turns (greetings, questions, qualification answers, acknowledgements), and prints as its last line
one JSON object: `turns`, `p50_ms`, `p90_ms`, `p99_ms`, `mean_ms` (wall time, the checkpoint's write
to the SQLite file included) and `cpu_ms` (the process's CPU time per turn, `time.process_time`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.core.config import load_config
from orchestrator.core.context import GraphContext
from orchestrator.core.state import TurnMessage, turn_input
from orchestrator.runtime.graph import build_graph, open_checkpointer, thread_config

SCRIPTS = [
    (True, ["Hi! I saw your ad", "the company is Initech", "we want to qualify inbound leads automatically"]),
    (False, ["Hello", "how much does the basic plan cost?", "thanks!", "do you support teams?"]),
    (False, ["Hola", "¿cuánto cuesta el plan básico?", "vale, gracias"]),
    (False, ["Hi", "is there a free trial", "cool"]),
]


def message(i: int, words: str) -> TurnMessage:
    return {"id": i, "kind": "text", "text": words, "reply_id": None, "reply_title": None}


async def run(conversations: int, turns: int) -> dict[str, float]:
    config = load_config(None)
    timings: list[float] = []
    cpu = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        async with open_checkpointer(url) as saver:
            graph = build_graph(checkpointer=saver)
            ad = {"source_type": "ad", "source_id": "1"}
            for c in range(conversations):
                is_ad, script = SCRIPTS[c % len(SCRIPTS)]
                context = GraphContext(config=config, now=datetime.now(UTC), referral=ad if is_ad else None)
                for t, words in enumerate(script[:turns]):
                    started, cpu_started = time.perf_counter(), time.process_time()
                    await graph.ainvoke(
                        turn_input([message(t, words)]),
                        config=thread_config(c),
                        context=context,
                        durability="exit",  # as the turn engine runs it
                        version="v2",
                    )
                    timings.append((time.perf_counter() - started) * 1000)
                    cpu += time.process_time() - cpu_started
    timings.sort()
    return {
        "turns": len(timings),
        "p50_ms": round(statistics.median(timings), 3),
        "p90_ms": round(timings[int(len(timings) * 0.9) - 1], 3),
        "p99_ms": round(timings[int(len(timings) * 0.99) - 1], 3),
        "mean_ms": round(statistics.fmean(timings), 3),
        "cpu_ms": round(cpu * 1000 / len(timings), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--turns", type=int, default=4)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.conversations, args.turns))))


if __name__ == "__main__":
    main()
