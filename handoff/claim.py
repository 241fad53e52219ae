"""A rep takes ("claims") a conversation waiting in one of their queues, instead of waiting for the
round robin to give it to someone.

Who may: a member of the queue the conversation waits in (a rep or a lead; an admin too when they
are a member). The conversation must be waiting (`queued` with a waiting assignment). The claim goes
through the engine's explicit assignment (`assign_to_rep`), so the same rules hold as for a lead's
reassignment: the rep must not be offline and must have spare capacity, and the conversation
changes owner only under its row lock. It is logged as `assigned` (the engine's own entry, which
notifies) and audited as `claim`.

Exceptions (handoff.flows_rep's): NotOwner (not a member of the queue), LookupError (no such
conversation), ValueError (not waiting any more, or the rep cannot take it now). Keyword-only; the
caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from handoff.assignment import assign_to_rep, open_assignment, tell_customer
from handoff.errors import Conflict, NotFound, NotOwner
from handoff.models import Assignment, AuditEntry, Rep
from handoff.reps import queues_of
from orchestrator.core.config import AppConfig
from orchestrator.core.enums import AssignmentStatus, Owner
from orchestrator.core.tables import Conversation


class CannotClaim(Conflict):
    """The conversation is not waiting any more, or the rep cannot take it now."""


async def claim(
    session: AsyncSession, *, config: AppConfig, conversation_id: int, rep: Rep, at: datetime
) -> Assignment:
    conversation = await session.get(
        Conversation, conversation_id, with_for_update=True, populate_existing=True
    )
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    waiting = await open_assignment(session, conversation_id=conversation_id)
    if conversation.owner != Owner.QUEUED or waiting is None or waiting.status != AssignmentStatus.WAITING:
        taken = f" (with {conversation.assignee_id})" if conversation.assignee_id else ""
        raise CannotClaim(f"the conversation is not waiting any more: it is {conversation.owner}{taken}")
    if waiting.queue not in await queues_of(session, rep_id=rep.id):
        raise NotOwner(f"only a member of {waiting.queue} may take this conversation")
    taken_by = await assign_to_rep(
        session, config=config, conversation=conversation, assignment=waiting, rep_id=rep.id, at=at
    )
    if taken_by is None:
        raise CannotClaim("you cannot take it now: set yourself online, or finish a conversation first")
    await tell_customer(
        session, config=config, conversation=conversation, message="rep_joined", rep=taken_by, at=at
    )
    session.add(
        AuditEntry(
            actor_id=rep.id,
            action="claim",
            conversation_id=conversation_id,
            details={"queue": waiting.queue, "assignment_id": waiting.id},
            created_at=at,
        )
    )
    await session.flush()
    return waiting
