"""The assignment engine: put a handed-off conversation in its queue and give it to a rep.

Rep selection policy (round robin), in order:
  1. members of the queue only;
  2. skip reps that are not `online`, that opted out of auto-assignment, or that are at capacity
     (each skip is recorded with its reason);
  3. among the rest, the rep whose last assignment *in this queue* is oldest (never assigned first);
  4. tie-break: fewer assignments in this queue, then rep id (deterministic).
Nobody eligible: the conversation waits in the queue (FIFO by handoff time, higher priority first)
and `drain_queue` assigns it the moment someone becomes eligible. Outside opening hours it is held.

Correctness under concurrency comes from the database: the queue's membership rows are locked
(`FOR UPDATE`) while a rep is picked, a rep's open count only grows by a conditional UPDATE that
re-checks capacity, and a conversation changes owner only from `queued` with no assignee. On SQLite
the whole write transaction is serialised (`BEGIN IMMEDIATE`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from handoff.enums import Owner, Presence
from handoff.models import Assignment, AssignmentStatus, EventType, Rep, RepQueue
from handoff.service import log_event
from orchestrator.config import AppConfig
from orchestrator.models import Conversation


@dataclass
class Candidate:
    rep_id: str
    eligible: bool
    skipped: str | None
    open_count: int
    capacity: int
    last_assigned_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rep_id": self.rep_id,
            "eligible": self.eligible,
            "skipped": self.skipped,
            "open": self.open_count,
            "capacity": self.capacity,
            "last_assigned_at": self.last_assigned_at,
        }


@dataclass
class AssignmentOutcome:
    assignment: Assignment
    rep: Rep | None = None
    held: bool = False  # outside opening hours
    opens_at: datetime | None = None
    candidates: list[Candidate] = field(default_factory=list)


def _skip_reason(rep: Rep, exclude: set[str]) -> str | None:
    if rep.id in exclude:
        return "excluded"
    if rep.presence != Presence.ONLINE:
        return f"presence {rep.presence}"
    if not rep.auto_assign:
        return "opted out of auto-assignment"
    if rep.open_count >= rep.capacity:
        return f"at capacity ({rep.open_count}/{rep.capacity})"
    return None


async def _rank_candidates(
    session: AsyncSession, *, queue: str, exclude: set[str]
) -> tuple[list[tuple[Rep, RepQueue]], list[Candidate]]:
    # Lock the queue's memberships: concurrent pickers for this queue go one at a time, so round
    # robin stays fair (no two transactions both take the "oldest" rep). No-op on SQLite.
    rows = (
        await session.execute(
            select(Rep, RepQueue)
            .join(RepQueue, col(RepQueue.rep_id) == col(Rep.id))
            .where(col(RepQueue.queue) == queue)
            .order_by(col(Rep.id))
            .with_for_update(of=RepQueue)
        )
    ).all()
    eligible: list[tuple[Rep, RepQueue]] = []
    candidates: list[Candidate] = []
    for rep, membership in rows:
        reason = _skip_reason(rep, exclude)
        candidates.append(
            Candidate(
                rep_id=rep.id,
                eligible=reason is None,
                skipped=reason,
                open_count=rep.open_count,
                capacity=rep.capacity,
                last_assigned_at=membership.last_assigned_at.isoformat()
                if membership.last_assigned_at
                else None,
            )
        )
        if reason is None:
            eligible.append((rep, membership))
    eligible.sort(
        key=lambda pair: (
            pair[1].last_assigned_at is not None,
            pair[1].last_assigned_at or datetime.min,
            pair[1].assigned_total,
            pair[0].id,
        )
    )
    return eligible, candidates


async def _take_capacity(session: AsyncSession, rep_id: str) -> bool:
    result = await session.execute(
        update(Rep)
        .where(and_(col(Rep.id) == rep_id, col(Rep.open_count) < col(Rep.capacity)))
        .values(open_count=col(Rep.open_count) + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def release_capacity(session: AsyncSession, *, rep_id: str) -> None:
    await session.execute(
        update(Rep)
        .where(and_(col(Rep.id) == rep_id, col(Rep.open_count) > 0))
        .values(open_count=col(Rep.open_count) - 1)
        .execution_options(synchronize_session=False)
    )


async def try_assign(
    session: AsyncSession,
    *,
    conversation: Conversation,
    assignment: Assignment,
    at: datetime,
    exclude: set[str] | None = None,
) -> tuple[Rep | None, list[Candidate]]:
    """Give a waiting conversation to the next eligible rep of its queue, if there is one."""
    assert conversation.id is not None and assignment.id is not None
    eligible, candidates = await _rank_candidates(session, queue=assignment.queue, exclude=exclude or set())
    for rep, membership in eligible:
        if not await _take_capacity(session, rep.id):
            for c in candidates:
                if c.rep_id == rep.id:
                    c.eligible, c.skipped = False, "at capacity (concurrent assignment)"
            continue
        moved = await session.execute(
            update(Conversation)
            .where(
                and_(
                    col(Conversation.id) == conversation.id,
                    col(Conversation.owner) == Owner.QUEUED,
                    col(Conversation.assignee_id).is_(None),
                )
            )
            .values(owner=Owner.HUMAN, assignee_id=rep.id, waiting_since=None, updated_at=at)
            .execution_options(synchronize_session=False)
        )
        if getattr(moved, "rowcount", 0) != 1:
            # Someone else took it meanwhile: give the capacity back, assign nothing.
            await release_capacity(session, rep_id=rep.id)
            return None, candidates
        conversation.owner, conversation.assignee_id, conversation.waiting_since = Owner.HUMAN, rep.id, None
        membership.last_assigned_at = at
        membership.assigned_total += 1
        assignment.rep_id = rep.id
        assignment.status = AssignmentStatus.ACTIVE
        assignment.assigned_at = at
        assignment.candidates = [c.as_dict() for c in candidates]
        session.add_all([membership, assignment])
        await session.flush()
        await session.refresh(rep)
        await log_event(
            session,
            conversation_id=conversation.id,
            type=EventType.ASSIGNED,
            source="assignment_engine",
            description=f"assigned to {rep.name} ({rep.id}) in {assignment.queue}",
            at=at,
            details={"rep_id": rep.id, "queue": assignment.queue, "candidates": assignment.candidates},
        )
        return rep, candidates
    assignment.candidates = [c.as_dict() for c in candidates]
    session.add(assignment)
    await session.flush()
    return None, candidates


async def enqueue(
    session: AsyncSession,
    *,
    config: AppConfig,
    conversation: Conversation,
    queue: str,
    reason: str,
    routing: dict[str, Any],
    at: datetime,
) -> AssignmentOutcome:
    """Queue a conversation (owner -> queued) and assign it now if the queue is open and a rep is free."""
    assert conversation.id is not None
    conversation.owner = Owner.QUEUED
    conversation.queue = queue
    conversation.assignee_id = None
    conversation.waiting_since = at
    conversation.updated_at = at
    assignment = Assignment(
        conversation_id=conversation.id,
        queue=queue,
        status=AssignmentStatus.WAITING,
        reason=reason,
        routing=routing,
        queued_at=at,
    )
    session.add_all([conversation, assignment])
    await session.flush()
    hours = config.queue(queue).hours
    if not hours.is_open(at):
        opens_at = hours.next_opening(at)
        await log_event(
            session,
            conversation_id=conversation.id,
            type=EventType.HELD_AFTER_HOURS,
            source="assignment_engine",
            description=f"{queue} is closed; held until {opens_at.isoformat() if opens_at else 'further notice'}",
            at=at,
            details={"queue": queue, "opens_at": opens_at.isoformat() if opens_at else None},
        )
        return AssignmentOutcome(assignment=assignment, held=True, opens_at=opens_at)
    rep, candidates = await try_assign(session, conversation=conversation, assignment=assignment, at=at)
    if rep is None:
        await log_event(
            session,
            conversation_id=conversation.id,
            type=EventType.WAITING,
            source="assignment_engine",
            description=f"nobody eligible in {queue}; waiting",
            at=at,
            details={"queue": queue, "candidates": [c.as_dict() for c in candidates]},
        )
    return AssignmentOutcome(assignment=assignment, rep=rep, candidates=candidates)


async def drain_queue(session: AsyncSession, *, config: AppConfig, queue: str, at: datetime) -> int:
    """Assign waiting conversations of `queue`, oldest first, while reps are eligible. Returns count."""
    if not config.queue(queue).hours.is_open(at):
        return 0
    assigned = 0
    while True:
        row = (
            await session.execute(
                select(Conversation, Assignment)
                .join(Assignment, col(Assignment.conversation_id) == col(Conversation.id))
                .where(
                    col(Conversation.owner) == Owner.QUEUED,
                    col(Conversation.queue) == queue,
                    col(Assignment.status) == AssignmentStatus.WAITING,
                    col(Assignment.queue) == queue,
                )
                .order_by(
                    col(Conversation.priority).desc(),
                    col(Conversation.waiting_since).asc(),
                    col(Conversation.id),
                )
                .limit(1)
                .with_for_update(of=Conversation, skip_locked=True)
            )
        ).first()
        if row is None:
            return assigned
        conversation, assignment = row
        rep, _ = await try_assign(session, conversation=conversation, assignment=assignment, at=at)
        if rep is None:
            return assigned
        assigned += 1
