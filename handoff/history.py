"""A customer's other conversations, as the side panel and the conversation detail show them.

Rule: whoever may see a conversation sees that its contact has other conversations; each of those is
shown in full (date, status, reason, queue, assigned rep, the customer's first line, a link) only
when the same policy (`policy.can(viewer, VIEW, ...)`) lets the viewer see it; otherwise it is listed
as "not visible to you" with nothing about it (no id, no date, no status), so the panel never tells
a rep more than opening that conversation would.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff.policy import Viewer, can
from orchestrator.core.enums import Action, Direction, HandoffReason, Owner
from orchestrator.core.tables import Conversation, Message

LIMIT = 20
FIRST_LINE = 120


class EarlierConversation(BaseModel):
    visible: bool = Field(description="false: the viewer may not see it, and nothing else is given")
    id: int | None = None
    started_at: datetime | None = None
    owner: Owner | None = Field(default=None, description="its status: bot, queued, human or closed")
    handoff_reason: HandoffReason | None = None
    queue: str | None = None
    assignee_id: str | None = None
    first_line: str | None = Field(default=None, description="the customer's first message, shortened")


async def earlier_conversations(
    session: AsyncSession, *, viewer: Viewer, conversation: Conversation, limit: int = LIMIT
) -> list[EarlierConversation]:
    """The contact's other conversations, newest first (at most `limit`)."""
    others = list(
        (
            await session.execute(
                select(Conversation)
                .where(
                    col(Conversation.contact_id) == conversation.contact_id,
                    col(Conversation.id) != conversation.id,
                )
                .order_by(col(Conversation.created_at).desc(), col(Conversation.id).desc())
                .limit(limit)
            )
        ).scalars()
    )
    shown = [c.id for c in others if c.id is not None and can(viewer, Action.VIEW, c)]
    first_lines: dict[int, str | None] = {}
    if shown:
        first_ids = (
            select(func.min(col(Message.id)))
            .where(col(Message.conversation_id).in_(shown), col(Message.direction) == Direction.INBOUND)
            .group_by(col(Message.conversation_id))
        )
        rows = await session.execute(
            select(col(Message.conversation_id), col(Message.text), col(Message.kind)).where(
                col(Message.id).in_(first_ids)
            )
        )
        for conversation_id, text, kind in rows:
            line = (text or f"[{kind}]").strip().splitlines()[0] if (text or kind) else None
            if line and len(line) > FIRST_LINE:
                line = line[: FIRST_LINE - 1] + "…"
            first_lines[int(conversation_id)] = line
    out: list[EarlierConversation] = []
    for c in others:
        if c.id in shown:
            out.append(
                EarlierConversation(
                    visible=True,
                    id=c.id,
                    started_at=c.created_at,
                    owner=c.owner,
                    handoff_reason=c.handoff_reason,
                    queue=c.queue,
                    assignee_id=c.assignee_id,
                    first_line=first_lines.get(c.id) if c.id is not None else None,
                )
            )
        else:
            out.append(EarlierConversation(visible=False))
    return out
