"""Builders of Cloud API webhook payloads and small helpers for tests (shapes follow the fixtures)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, select
from sqlmodel import SQLModel

from orchestrator.channels.whatsapp.inbound import InboundMessage, parse_item, split_webhook
from orchestrator.runtime.simulator import build_button_reply_webhook, build_text_webhook, encode_webhook
from tests.fakes.graph import TestHarness

AD_REFERRAL: dict[str, Any] = {
    "source_url": "https://fb.me/test-ad",
    "source_id": "120200000001",
    "source_type": "ad",
    "headline": "Sell more on WhatsApp",
    "body": "Free trial",
    "ctwa_clid": "test-clid",
}
_ids = itertools.count(1)


def inbound(wa_id: str, wamid: str, body: str, timestamp: datetime | int) -> InboundMessage:
    """A text message from `wa_id` (profile name "Ana") as the inbox parses it, to store directly."""
    delivery = encode_webhook(
        build_text_webhook(wa_id=wa_id, message_id=wamid, timestamp=timestamp, text=body, name="Ana")
    )
    parsed = parse_item(split_webhook(delivery).items[0])
    assert isinstance(parsed, InboundMessage)
    return parsed


def text(
    wa_id: str,
    body: str,
    at: datetime,
    *,
    name: str = "Test Customer",
    referral: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return build_text_webhook(
        wa_id=wa_id,
        name=name,
        message_id=f"wamid.test.{next(_ids)}",
        timestamp=at,
        text=body,
        referral=referral,
    )


def button(
    wa_id: str, reply_id: str, title: str, at: datetime, *, name: str = "Test Customer"
) -> dict[str, Any]:
    return build_button_reply_webhook(
        wa_id=wa_id,
        name=name,
        message_id=f"wamid.test.{next(_ids)}",
        timestamp=at,
        reply_id=reply_id,
        title=title,
    )


async def say(h: TestHarness, payload: dict[str, Any]) -> list[str]:
    """Deliver one webhook, let the turn run, return what the bot sent in reply (as text)."""
    before = len(h.fake_graph.sent)
    h.clock.advance(seconds=15)
    response = await h.post(payload)
    assert response.status_code == 200, response.text
    await h.service.turns.drain()
    return h.fake_graph.sent_texts()[before:]


async def count(h: TestHarness, model: type[SQLModel]) -> int:
    async with h.service.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def first_listed_conversation(h: TestHarness) -> dict[str, Any]:
    """The detail of the first conversation the admin's list shows (the newest)."""
    listed = (await h.http.get("/api/conversations", headers=auth("demo-admin"))).json()
    detail = await h.http.get(f"/api/conversations/{listed[0]['id']}", headers=auth("demo-admin"))
    data: dict[str, Any] = detail.json()
    return data


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def counting(h: TestHarness) -> Iterator[list[str]]:
    """Every SQL statement the service's engine runs inside the block (on SQLite the graph's
    checkpoints go through it too; on PostgreSQL they run in the turn's transactions but through
    the driver's cursor, which the engine's events do not see)."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = h.service.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def webhook_scope(body: bytes, signature: bytes) -> dict[str, Any]:
    """The ASGI scope an HTTP server hands the app for a signed POST of `body` to the webhook (to
    drive the app directly, without a client: a disconnect, or the acknowledgement's own CPU)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/webhooks/whatsapp",
        "raw_path": b"/webhooks/whatsapp",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-hub-signature-256", signature),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


@asynccontextmanager
async def loop_ticks() -> AsyncIterator[list[int]]:
    """How often the event loop woke a 10 ms sleeper while the block ran (`[count]`, read at any
    time): a block waiting without stopping the loop sees it grow."""
    ticks = [0]

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.01)
            ticks[0] += 1

    ticker = asyncio.create_task(tick())
    try:
        yield ticks
    finally:
        ticker.cancel()
