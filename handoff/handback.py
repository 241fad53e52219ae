"""Return to bot: a rep (or a supervisor) hands the conversation back; the bot resumes with a briefing
of what the human did and never re-asks what is known (the collected fields stay in its state).

The human side does not know the bot: the composition root gives it a `BotResumer`, which may
write the briefing with the model. The order: read what the rep said (`rep_lines_of`), have the
briefing written (a model call, never inside a write transaction), then `hand_back` in the caller's
transaction, which records the briefing with the ownership change (the `returned_to_bot` event) and
tells the customer the assistant is back. The bot's state takes the briefing at its next turn, in
that turn's commit, so the two never part (a crash after the hand-back's commit loses nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff.assignment import release_capacity
from handoff.errors import NotFound
from handoff.models import Assignment, Rep
from handoff.policy import require, viewer_of
from handoff.reps import audit
from orchestrator.channels.whatsapp.outbound import text_message
from orchestrator.core.config import AppConfig
from orchestrator.core.contextlog import log_event
from orchestrator.core.enums import Action, AssignmentStatus, EventType, Owner
from orchestrator.core.tables import Contact, Conversation, Message
from orchestrator.outbox import queue_outgoing, recipient_of


class BotResumer(Protocol):
    """The bot, as far as a hand-back needs it."""

    async def brief(self, *, rep_lines: Sequence[str], note: str | None) -> str | None:
        """A briefing written by the model from what the rep said, or None (no model, or it failed)."""
        ...


def offline_briefing(note: str | None, rep_lines: Sequence[str]) -> str:
    """The briefing without a model: the rep's note and the last things they told the customer."""
    parts = []
    if note:
        parts.append(f"Rep's note: {note.strip()}")
    if rep_lines:
        parts.append("The rep told the customer: " + " / ".join(line[:200] for line in rep_lines[-3:]))
    return " ".join(parts) or "A rep handled the conversation and handed it back."


async def rep_lines_of(session: AsyncSession, *, conversation_id: int) -> list[str]:
    """What the reps told the customer in this conversation, oldest first."""
    rows = await session.execute(
        select(col(Message.text))
        .where(col(Message.conversation_id) == conversation_id, col(Message.sender_type) == "rep")
        .order_by(col(Message.id))
    )
    return [text or "" for text in rows.scalars()]


async def hand_back(
    session: AsyncSession,
    *,
    config: AppConfig,
    conversation_id: int,
    actor: Rep,
    note: str | None,
    briefing: str,
    at: datetime,
) -> None:
    """Give a conversation with the human side back to the bot: end its open assignments (freeing
    the rep's capacity), owner -> bot, the customer told in their language (`messages.resumed`),
    context-log entry and audit."""
    conversation = await session.get(Conversation, conversation_id, with_for_update=True)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    require(await viewer_of(session, rep=actor), Action.HAND_BACK, conversation)
    active = (
        await session.execute(
            select(Assignment).where(
                col(Assignment.conversation_id) == conversation_id,
                col(Assignment.status).in_([AssignmentStatus.ACTIVE, AssignmentStatus.WAITING]),
            )
        )
    ).scalars()
    for assignment in active:
        if assignment.status == AssignmentStatus.ACTIVE and assignment.rep_id:
            await release_capacity(session, rep_id=assignment.rep_id)
        assignment.status, assignment.ended_at = AssignmentStatus.RETURNED, at
        session.add(assignment)
    conversation.owner, conversation.assignee_id, conversation.waiting_since = Owner.BOT, None, None
    conversation.updated_at = at
    session.add(conversation)
    contact = await session.get(Contact, conversation.contact_id)
    if contact is not None:
        await queue_outgoing(
            session,
            conversation_id=conversation_id,
            payload=text_message(recipient_of(contact), config.message("resumed", conversation.language)),
            sender_type="bot",
            sender_id=None,
            at=at,
        )
    audit(
        session,
        actor_id=actor.id,
        action="hand_back",
        at=at,
        conversation_id=conversation_id,
        details={"note": note},
    )
    await log_event(
        session,
        conversation_id=conversation_id,
        type=EventType.RETURNED_TO_BOT,
        source=actor.id,
        description=f"{actor.name} handed the conversation back to the bot",
        at=at,
        details={"briefing": briefing, "note": note},
    )
