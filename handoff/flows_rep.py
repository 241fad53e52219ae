"""What reps do: reply as the owner, change presence (which may drain waiting queues)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel import col
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.assignment import drain_queue
from handoff.enums import Owner, Presence
from handoff.models import Assignment, AssignmentStatus, AuditEntry, EventType, Rep, RepQueue
from handoff.service import log_event
from orchestrator.channels.whatsapp.outbound import text_message
from orchestrator.config import AppConfig
from orchestrator.models import Contact, Conversation, Message
from orchestrator.outbox import queue_outgoing, recipient_of


class NotOwner(PermissionError):
    """Only the conversation's current owner may write to the customer."""


async def rep_reply(
    session: AsyncSession, *, conversation_id: int, rep: Rep, text: str, at: datetime
) -> Message:
    conversation = await session.get(Conversation, conversation_id, with_for_update=True)
    if conversation is None or conversation.owner != Owner.HUMAN or conversation.assignee_id != rep.id:
        raise NotOwner("only the rep who owns this conversation may reply")
    contact = await session.get(Contact, conversation.contact_id)
    assert contact is not None
    message = await queue_outgoing(
        session,
        conversation_id=conversation_id,
        payload=text_message(recipient_of(contact), text),
        sender_type="rep",
        sender_id=rep.id,
        at=at,
    )
    active = (
        (
            await session.execute(
                select(Assignment).where(
                    col(Assignment.conversation_id) == conversation_id,
                    col(Assignment.status) == AssignmentStatus.ACTIVE,
                    col(Assignment.rep_id) == rep.id,
                )
            )
        )
        .scalars()
        .first()
    )
    if active is not None and active.first_response_at is None:
        active.first_response_at = at
        session.add(active)
    conversation.updated_at = at
    session.add(conversation)
    session.add(
        AuditEntry(
            actor_id=rep.id,
            action="reply",
            conversation_id=conversation_id,
            details={"message_id": message.id},
            created_at=at,
        )
    )
    await log_event(
        session,
        conversation_id=conversation_id,
        type=EventType.REP_REPLY,
        source=rep.id,
        description=f"{rep.name} replied",
        at=at,
        details={"message_id": message.id},
    )
    return message


async def set_presence(
    session: AsyncSession, *, config: AppConfig, rep_id: str, presence: Presence, at: datetime
) -> Rep:
    rep = await session.get(Rep, rep_id, with_for_update=True)
    assert rep is not None
    rep.presence = presence
    rep.last_seen_at = at
    rep.offline_since = at if presence == Presence.OFFLINE else None
    session.add(rep)
    await session.flush()
    if presence == Presence.ONLINE:
        queues = (
            await session.execute(select(col(RepQueue.queue)).where(col(RepQueue.rep_id) == rep_id))
        ).scalars()
        for queue in list(queues):
            await drain_queue(session, config=config, queue=str(queue), at=at)
    await session.refresh(rep)
    return rep
