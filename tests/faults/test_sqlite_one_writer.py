"""SQLite, the embedded default, holds fifty conversations turning at once: the graph's checkpoints
go through the app's own connection in the turn's transaction, so no second writer fights for the
write lock (`database is locked`), and every message is answered."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.fakes.graph import FakeGraphAPI
from tests.faults.processes import Server, deliveries, post_all, wait_quiet

CONVERSATIONS = 50
DELIVERIES = 200  # four messages from each customer, all fifty in flight


async def test_fifty_conversations_turning_at_once_on_sqlite_never_lock_and_all_are_answered(
    sqlite_url: str, graph: tuple[FakeGraphAPI, str], tmp_path: Path
) -> None:
    fake, graph_url = graph
    log = tmp_path / "serve.log"
    server = Server(sqlite_url, graph_url, log, lease_s=15.0)
    server.start()
    acked: set[str] = set()
    refused: list[int] = []
    try:
        items = deliveries(DELIVERIES, senders=CONVERSATIONS, at=int(time.time()))
        await post_all([server], items, concurrency=CONVERSATIONS, acked=acked, refused=refused)
        result = (await wait_quiet(sqlite_url, fake, acked, within=45)).as_dict()
    finally:
        server.stop()
    locked = log.read_text(errors="replace").count("database is locked")
    print("\nfifty at once on SQLite:", json.dumps({**result, "refused": len(refused), "locked": locked}))
    assert locked == 0, f"'database is locked' {locked} times in the server's log"
    assert refused == [], f"webhook answers other than 200: {sorted(set(refused))}"
    assert result["delivered"] == result["stored"] == result["answered"] == DELIVERIES
    assert result["doubled"] == 0
    assert result["stuck"] == 0
