"""Outbound messages: written as `pending` rows inside the caller's transaction, sent after commit.

Sending after commit means a crash never loses a reply (the row stays pending and is sent on the next
pass) and a rollback never leaves a sent message without a record. A send that fails past the Graph
client's retries is marked `failed` with Meta's error and logged on the conversation for the rep.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from orchestrator.channels.whatsapp.client import GraphAPIError, GraphClient, GraphError
from orchestrator.channels.whatsapp.outbound import render_as_text, reply_buttons, text_message
from orchestrator.core.clock import Clock
from orchestrator.core.contextlog import log_event
from orchestrator.core.enums import Direction, EventType, SendStatus
from orchestrator.core.state import Outgoing
from orchestrator.core.tables import Contact, Message

log = structlog.get_logger(__name__)


def recipient_of(contact: Contact) -> str:
    if contact.wa_id:
        return contact.wa_id
    if contact.user_id:
        return contact.user_id
    raise ValueError(f"contact {contact.id} has no address")


def build_payload(contact: Contact, item: Outgoing) -> dict[str, Any]:
    to = recipient_of(contact)
    if item["kind"] == "buttons":
        buttons = [(b["id"], b["title"]) for b in item.get("buttons", [])]
        return reply_buttons(to, item["text"], buttons)
    return text_message(to, item["text"])


async def queue_outgoing(
    session: AsyncSession,
    *,
    conversation_id: int,
    payload: dict[str, Any],
    sender_type: str,
    sender_id: str | None,
    at: datetime,
) -> Message:
    kind = str(payload.get("type", "text"))
    message = Message(
        conversation_id=conversation_id,
        direction=Direction.OUTBOUND,
        kind=kind,
        text=render_as_text(payload),
        payload=payload,
        sender_type=sender_type,
        sender_id=sender_id,
        status=SendStatus.PENDING,
        created_at=at,
        updated_at=at,
    )
    session.add(message)
    await session.flush()
    return message


async def send_pending(
    sessions: async_sessionmaker[AsyncSession], *, client: GraphClient, conversation_id: int, clock: Clock
) -> list[Message]:
    """Send the conversation's pending outbound messages in order; returns them with their outcome."""
    async with sessions() as session:
        rows = await session.execute(
            select(Message)
            .where(
                col(Message.conversation_id) == conversation_id,
                col(Message.direction) == Direction.OUTBOUND,
                col(Message.status) == SendStatus.PENDING,
            )
            .order_by(col(Message.id))
        )
        pending = list(rows.scalars())
    done: list[Message] = []
    for message in pending:
        assert message.payload is not None
        assert message.id is not None
        error: dict[str, Any] | None = None
        wamid: str | None = None
        try:
            result = await client.send(message.payload)
            wamid = result.wa_message_id
        except GraphAPIError as exc:
            error = {
                "source": "graph_api",
                "code": exc.code,
                "title": exc.title,
                "details": exc.details,
                "http_status": exc.http_status,
            }
        except GraphError as exc:
            error = {"source": "transport", "details": str(exc)}
        at = clock.now()
        async with sessions() as session, session.begin():
            fresh = await session.get(Message, message.id, with_for_update=True)
            assert fresh is not None
            if fresh.status != SendStatus.PENDING:
                continue
            fresh.updated_at = at
            if error is None:
                fresh.status, fresh.wa_message_id, fresh.sent_at = SendStatus.ACCEPTED, wamid, at
            else:
                fresh.status, fresh.error = SendStatus.FAILED, error
                what = error.get("title") or error.get("details")
                log.warning("send_failed", conversation_id=conversation_id, message_id=fresh.id, error=error)
                await log_event(
                    session,
                    conversation_id=conversation_id,
                    type=EventType.SEND_FAILED,
                    source="whatsapp",
                    description=f"send failed: {error.get('code') or ''} {what}",
                    at=at,
                    details={"message_id": fresh.id, **error},
                )
            session.add(fresh)
            done.append(fresh)
    return done
