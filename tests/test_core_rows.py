"""Rows written with Core statements (the inbound message, a new contact or conversation, a reply)
are taken into the session as if loaded there. A savepoint rolled back after such a write (an inbox
item rejected in isolation) leaves its object in the session while SQLite gives its id to the next
row: that next row must still be stored and come back as itself."""

from __future__ import annotations

import contextlib

from sqlalchemy import select
from sqlmodel import col

from orchestrator.channels.whatsapp.inbound import InboundMessage, parse_item, split_webhook
from orchestrator.conversations import store_inbound
from orchestrator.core.tables import Contact, Message
from orchestrator.outbox import queue_outgoing
from orchestrator.runtime.simulator import build_text_webhook, encode_webhook
from tests.conftest import OPEN_HOURS
from tests.fakes.graph import TestHarness


def _inbound(wa_id: str, wamid: str, text: str) -> InboundMessage:
    body = encode_webhook(
        build_text_webhook(wa_id=wa_id, message_id=wamid, timestamp=OPEN_HOURS, text=text, name="Ana")
    )
    parsed = parse_item(split_webhook(body).items[0])
    assert isinstance(parsed, InboundMessage)
    return parsed


async def test_rows_after_a_rolled_back_savepoint_are_stored_under_the_same_ids(h: TestHarness) -> None:
    async with h.service.sessions() as session, session.begin():
        with contextlib.suppress(RuntimeError):
            async with session.begin_nested():
                dropped, _ = await store_inbound(
                    session, msg=_inbound("447700900001", "wamid.a", "first"), at=OPEN_HOURS
                )
                assert dropped is not None
                dropped_id = dropped.id
                raise RuntimeError("the item is rejected after its message was written")
        kept, conversation = await store_inbound(
            session, msg=_inbound("447700900002", "wamid.b", "second"), at=OPEN_HOURS
        )
        assert kept is not None
        assert kept.id == dropped_id, "SQLite gave the rolled-back row's id again"
        assert kept.wa_message_id == "wamid.b"
        assert conversation.id is not None
        reply = await queue_outgoing(
            session,
            conversation_id=conversation.id,
            payload={"type": "text", "to": "447700900002", "text": {"body": "hi"}},
            sender_type="bot",
            sender_id="responder",
            at=OPEN_HOURS,
        )
        assert reply.id is not None
    async with h.service.sessions() as session:
        stored = (await session.execute(select(col(Message.wa_message_id), col(Message.text)))).all()
        contacts = (await session.execute(select(col(Contact.wa_id)))).scalars().all()
    assert sorted((str(w), t) for w, t in stored if w) == [("wamid.b", "second")]
    assert sorted(str(w) for w in contacts) == ["447700900002"]
    assert any(t == "hi" for _, t in stored)
