"""Failing dependencies, with a real `handoff serve` process on SQLite under a load of signed
deliveries: the Graph API down (connection refused, then 500s) and back up, the Graph API slow
(8 s per send), and the model answering 500 while one is configured. Counts printed: delivered,
stored, answered, doubled, stuck (the last two must be 0)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.responses import PlainTextResponse

from orchestrator.core.db import sync_url
from tests.fakes.graph import FakeGraphAPI
from tests.fakes.openai_server import ScriptedOpenAI
from tests.fakes.servers import free_port, serve_in_thread
from tests.faults.processes import Counts, Server, deliveries, post_all, wait_quiet


class Outage:
    """An ASGI app that answers 500 while `down`, and passes requests to `app` otherwise."""

    def __init__(self, app: Any, *, down: bool = True) -> None:
        self.app, self.down = app, down

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.down and scope["type"] == "http":
            await PlainTextResponse("Service Unavailable", status_code=500)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _report(name: str, result: Counts, **extra: Any) -> dict[str, Any]:
    line = {**result.as_dict(), **extra}
    print(f"\n{name}:", json.dumps(line))
    return line


def _outbound(database_url: str) -> dict[str, int]:
    """Outbound rows by status."""
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT status, count(*) FROM message WHERE direction = 'outbound' GROUP BY status")
            ).all()
    finally:
        engine.dispose()
    return {str(status): int(n) for status, n in rows}


async def test_graph_down_then_up_every_reply_is_delivered_once_and_nothing_is_stuck(
    sqlite_url: str, tmp_path: Path
) -> None:
    fake = FakeGraphAPI()
    outage = Outage(fake.app)
    port = free_port()  # nothing listens here at first: connection refused
    server = Server(
        sqlite_url,
        f"http://127.0.0.1:{port}",
        tmp_path / "serve.log",
        env={"HANDOFF_SEND_CLAIM_S": "90"},  # longer than the Graph client's retries
    )
    server.start()
    acked: set[str] = set()
    try:
        items = deliveries(60, senders=20, at=int(time.time()))
        load = asyncio.create_task(post_all([server], items, concurrency=5, acked=acked))
        await asyncio.sleep(3)  # refused connections
        with serve_in_thread(outage, port=port):
            await asyncio.sleep(3)  # 500s
            outage.down = False  # back up
            await load
            result = await wait_quiet(sqlite_url, fake, acked, within=40)
    finally:
        server.stop()
    statuses = _outbound(sqlite_url)
    line = _report("graph down then up", result, outbound=statuses, graph_requests=len(fake.requests))
    assert line["delivered"] == line["stored"] == line["answered"] == 60
    assert line["doubled"] == 0
    assert line["stuck"] == 0
    assert set(statuses) == {"accepted"}, "every reply delivered after the recovery, none failed"
    assert len(fake.sent) == statuses["accepted"], "each reply sent once"


async def test_a_slow_graph_api_under_a_steady_load_sends_nothing_twice(
    sqlite_url: str, tmp_path: Path
) -> None:
    fake = FakeGraphAPI()
    fake.delay_s = 8.0
    with serve_in_thread(fake.app) as graph_url:
        server = Server(sqlite_url, graph_url, tmp_path / "serve.log", env={"HANDOFF_SEND_CLAIM_S": "90"})
        server.start()
        acked: set[str] = set()
        try:
            items = deliveries(40, senders=20, at=int(time.time()))
            await post_all([server], items, concurrency=2, acked=acked)  # a steady trickle
            result = await wait_quiet(sqlite_url, fake, acked, within=45)
        finally:
            server.stop()
    line = _report("graph slow (8 s per send)", result, outbound=_outbound(sqlite_url))
    assert line["delivered"] == line["stored"] == line["answered"] == 40
    assert line["doubled"] == 0
    assert line["resent"] == 0, "a slow send is never claimed again while it runs"
    assert line["stuck"] == 0


@pytest.fixture
def model_down() -> Iterator[str]:
    """An OpenAI-compatible server answering 500 to everything."""
    with serve_in_thread(Outage(ScriptedOpenAI().app)) as url:
        yield url + "/v1"


async def test_model_down_every_conversation_is_answered_offline_or_handed_off(
    sqlite_url: str, model_down: str, tmp_path: Path
) -> None:
    fake = FakeGraphAPI()
    with serve_in_thread(fake.app) as graph_url:
        server = Server(
            sqlite_url,
            graph_url,
            tmp_path / "serve.log",
            env={
                "HANDOFF_OPENAI_API_KEY": "sk-test",
                "HANDOFF_OPENAI_BASE_URL": model_down,
                "HANDOFF_LLM_TIMEOUT_S": "2",
            },
        )
        server.start()
        acked: set[str] = set()
        try:
            items = deliveries(40, senders=20, at=int(time.time()))
            await post_all([server], items, concurrency=5, acked=acked)
            result = await wait_quiet(sqlite_url, fake, acked, within=45)
        finally:
            server.stop()
    engine = sa.create_engine(sync_url(sqlite_url))
    try:
        with engine.connect() as conn:
            conversations = conn.execute(sa.text("SELECT id, owner, handoff_reason FROM conversation")).all()
            heard = {
                int(c)
                for (c,) in conn.execute(
                    sa.text(
                        "SELECT DISTINCT conversation_id FROM message"
                        " WHERE direction = 'outbound' AND status = 'accepted'"
                    )
                )
            }
            failures = conn.execute(
                sa.text("SELECT count(*) FROM contextevent WHERE type = 'llm_failure'")
            ).scalar()
    finally:
        engine.dispose()
    handed = [c for c in conversations if c.owner != "bot"]
    line = _report(
        "model down",
        result,
        conversations=len(conversations),
        answered_by_bot=len(conversations) - len(handed),
        handed_off={
            str(r): sum(1 for c in handed if c.handoff_reason == r)
            for r in {c.handoff_reason for c in handed}
        },
        llm_failures=failures,
    )
    assert line["delivered"] == line["stored"] == line["answered"] == 40
    assert line["doubled"] == 0
    assert line["stuck"] == 0
    assert int(failures or 0) > 0, "the model was called and failed"
    assert {c.id for c in conversations} <= heard, "every customer heard back (an answer or a handoff notice)"
    assert {c.handoff_reason for c in handed} <= {"ai_unavailable"}, "handed off because the model is down"
