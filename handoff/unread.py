"""Unread state: which customer messages a rep has not seen yet, per conversation.

A rep has read a conversation up to the last message it held when they last opened it (the page
marks it, or `POST /api/conversations/{id}/read`); the customer's messages after that are unread.
Per rep, so a lead looking at a conversation does not mark it read for its owner.
Keyword-only functions; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff.models import ConversationRead
from orchestrator.channels.whatsapp.inbound import InboundKind
from orchestrator.core.enums import Direction
from orchestrator.core.tables import Message


async def mark_read(session: AsyncSession, *, rep_id: str, conversation_id: int, at: datetime) -> int:
    """Everything in the conversation so far is read by `rep_id`. Returns the last message id."""
    last = (
        await session.execute(
            select(func.max(col(Message.id))).where(col(Message.conversation_id) == conversation_id)
        )
    ).scalar_one_or_none() or 0
    row = await session.get(ConversationRead, (rep_id, conversation_id))
    if row is None:
        session.add(
            ConversationRead(rep_id=rep_id, conversation_id=conversation_id, last_message_id=last, read_at=at)
        )
    elif last > row.last_message_id:
        row.last_message_id, row.read_at = last, at
        session.add(row)
    await session.flush()
    return last


async def unread_counts(
    session: AsyncSession, *, rep_id: str, conversation_ids: Collection[int]
) -> dict[int, int]:
    """The number of unread customer messages of each conversation (those with none are left out)."""
    if not conversation_ids:
        return {}
    read = select(ConversationRead).where(col(ConversationRead.rep_id) == rep_id).subquery()
    rows = await session.execute(
        select(col(Message.conversation_id), func.count())
        .outerjoin(read, read.c.conversation_id == col(Message.conversation_id))
        .where(
            col(Message.conversation_id).in_(list(conversation_ids)),
            col(Message.direction) == Direction.INBOUND,
            col(Message.kind) != str(InboundKind.SYSTEM),  # WhatsApp's notice, not the customer's words
            (read.c.last_message_id.is_(None)) | (col(Message.id) > read.c.last_message_id),
        )
        .group_by(col(Message.conversation_id))
    )
    return {int(cid): int(n) for cid, n in rows.all() if n}
