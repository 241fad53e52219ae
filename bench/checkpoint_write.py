"""The CPU of a turn's checkpoint write on PostgreSQL: the one statement `SessionTurnSaver.put_in`
sends (the changed channel values from arrays and the checkpoint row, `_UPSERT_BLOBS_AND_CHECKPOINT`)
against the two it sent before (LangGraph's `executemany` of the values, which psycopg runs in
pipeline mode, then the row's own statement).

    .venv/bin/python -m bench.checkpoint_write --database-url postgresql+psycopg://...
                                               [--blocks 6] [--writes 200]

Each write is a transaction of its own on the service's engine (`BEGIN`, the write, `COMMIT`), with
a checkpoint shaped like a bot turn's (seven channel values stored as blobs, four kept inline),
spread over 50 conversations. The two ways alternate in blocks of `--writes`; for each block the client's
CPU (`time.process_time`) and PostgreSQL's (its local processes, `bench.measure.ProcessesCpu`) per
write. Runs on the service's event loop. Prints as its last line one JSON object: each way's
per-block figures and medians, and `loadavg`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

from langgraph.checkpoint.base import empty_checkpoint, get_serializable_checkpoint_metadata
from psycopg.types.json import Jsonb
from sqlalchemy.ext.asyncio import AsyncSession

from bench.measure import ProcessesCpu, run_on_loop
from orchestrator.core.db import make_engine, make_sessionmaker
from orchestrator.runtime.graph import open_checkpointer
from orchestrator.runtime.pg_checkpoints import SessionTurnSaver, _driver_connection

METADATA: Any = {"source": "loop", "step": 2, "parents": {}}


def _checkpoint(n: int) -> Any:
    checkpoint = empty_checkpoint()
    checkpoint["id"] = f"1ef-{n:010}"
    checkpoint["channel_values"] = {
        "language": "en",
        "turn": n,
        "handoff": None,
        "qualified": False,
        "incoming": [{"id": n, "kind": "text", "text": "how much does it cost?", "reply_id": None}],
        "fields": {"company": {"value": "Initech", "message_id": n, "evidence": None, "source": "rules"}},
        "transcript": ["customer: hello", "bot: Hi! How can I help?", "customer: how much does it cost?"],
        "outgoing": [{"agent": "faq", "text": "The basic plan is $29 a month."}],
        "signals": [],
        "events": [{"type": "bot_reply", "agent": "faq", "description": "answered: pricing"}],
        "intent": {"name": "question", "score": 0.9},
    }
    checkpoint["channel_versions"] = dict.fromkeys(checkpoint["channel_values"], f"{n:032}.{0.5:016}")
    return checkpoint


async def _two_statements(
    saver: SessionTurnSaver, session: AsyncSession, config: Any, checkpoint: Any, versions: Any
) -> None:
    """The write as it was: the values with `executemany` (pipeline mode), then the row."""
    with saver._joined(await _driver_connection(session)):
        configurable = config["configurable"]
        thread_id, checkpoint_ns = configurable["thread_id"], configurable["checkpoint_ns"]
        row = checkpoint.copy()
        inline = row["channel_values"] = dict(checkpoint["channel_values"])
        blobs = {
            k: inline.pop(k)
            for k, v in checkpoint["channel_values"].items()
            if not (v is None or isinstance(v, (str, int, float, bool)))
        }
        async with saver._cursor() as cur:
            if changed := {k: v for k, v in versions.items() if k in blobs}:
                params = saver._dump_blobs(thread_id, checkpoint_ns, blobs, changed)
                await cur.executemany(saver.UPSERT_CHECKPOINT_BLOBS_SQL, params)
            await cur.execute(
                saver.UPSERT_CHECKPOINTS_SQL,
                (
                    thread_id,
                    checkpoint_ns,
                    checkpoint["id"],
                    configurable.get("checkpoint_id"),
                    Jsonb(row),
                    Jsonb(get_serializable_checkpoint_metadata(config, METADATA)),
                ),
            )


async def run(url: str, *, blocks: int, writes: int) -> dict[str, Any]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    figures: dict[str, dict[str, list[float]]] = {
        way: {"client_ms": [], "database_ms": []} for way in ("one_statement", "two_statements")
    }
    n = 0
    try:
        async with open_checkpointer(url) as staged:
            saver = staged.inner
            assert isinstance(saver, SessionTurnSaver), "PostgreSQL only"
            for _ in range(blocks):
                for way in figures:
                    database = ProcessesCpu().start()
                    started = time.process_time()
                    for _ in range(writes):
                        n += 1
                        checkpoint = _checkpoint(n)
                        versions = dict(checkpoint["channel_versions"])
                        config: Any = {"configurable": {"thread_id": f"bench-{n % 50}", "checkpoint_ns": ""}}
                        async with sessions() as session, session.begin():
                            if way == "one_statement":
                                await saver.put_in(session, config, checkpoint, METADATA, versions)
                            else:
                                await _two_statements(saver, session, config, checkpoint, versions)
                    figures[way]["client_ms"].append((time.process_time() - started) * 1000 / writes)
                    figures[way]["database_ms"].append(database.stop() * 1000 / writes)
    finally:
        await engine.dispose()
    return {
        way: {
            **{k: [round(x, 3) for x in v] for k, v in each.items()},
            **{f"{k}_median": round(statistics.median(v), 3) for k, v in each.items()},
        }
        for way, each in figures.items()
    } | {"blocks": blocks, "writes": writes, "loadavg": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="postgresql+psycopg://...")
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--writes", type=int, default=200)
    args = parser.parse_args()
    result = run_on_loop(run(args.database_url, blocks=args.blocks, writes=args.writes))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
