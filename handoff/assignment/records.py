"""Assignment records: open a new one (the conversation goes back to `queued`), find the open one,
close one (capacity and SLA timers released)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff.assignment.claim import release_capacity
from handoff.assignment.timers import cancel_timers
from handoff.models import Assignment
from orchestrator.core.enums import AssignmentStatus, EndReason, Owner, TimerKind
from orchestrator.core.tables import Conversation


def new_assignment(
    conversation: Conversation,
    *,
    queue: str,
    reason: str,
    routing: dict[str, Any] | None,
    at: datetime,
    waiting_since: datetime | None = None,
    revocations: int = 0,
    escalation: int = 0,
    exclude: Collection[str] = (),
) -> Assignment:
    """Owner -> queued in `queue` with a new waiting assignment (not flushed). `exclude` (reps who
    just let it lapse or sent it away) is kept with the assignment, so no later drain hands it back
    to them either."""
    assert conversation.id is not None
    conversation.owner = Owner.QUEUED
    conversation.queue = queue
    conversation.assignee_id = None
    conversation.waiting_since = waiting_since or at
    conversation.updated_at = at
    if routing is not None and routing.get("priority") is not None:
        conversation.priority = int(routing["priority"])
    return Assignment(
        conversation_id=conversation.id,
        queue=queue,
        status=AssignmentStatus.WAITING,
        reason=reason,
        routing=routing,
        excluded_reps=sorted(exclude) or None,
        queued_at=at,
        revocations=revocations,
        escalation=escalation,
    )


async def open_assignment(session: AsyncSession, *, conversation_id: int) -> Assignment | None:
    """The conversation's waiting or active assignment (at most one: a unique index says so)."""
    found: Assignment | None = (
        (
            await session.execute(
                select(Assignment)
                .where(
                    col(Assignment.conversation_id) == conversation_id,
                    col(Assignment.status).in_([AssignmentStatus.WAITING, AssignmentStatus.ACTIVE]),
                )
                .execution_options(populate_existing=True)
            )
        )
        .scalars()
        .first()
    )
    return found


async def end_assignment(
    session: AsyncSession,
    *,
    assignment: Assignment,
    status: AssignmentStatus,
    reason: EndReason,
    at: datetime,
    release: bool = True,
) -> str | None:
    """Close an open assignment. Returns the rep who held it (their capacity released if `release`;
    otherwise the caller releases it, after any new pick)."""
    held_by = assignment.rep_id if assignment.status == AssignmentStatus.ACTIVE else None
    assignment.status, assignment.end_reason, assignment.ended_at = status, reason, at
    session.add(assignment)
    await session.flush()  # before a new open assignment of the conversation is inserted
    if held_by is not None and release:
        await release_capacity(session, rep_id=held_by)
    if held_by is not None:
        await cancel_timers(
            session, at=at, kinds=(TimerKind.SLA, TimerKind.SLA_WARNING), assignment_id=assignment.id
        )
    return held_by
