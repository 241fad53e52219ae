"""Presence on the assignment side: heartbeat expiry and the offline requeue.

A rep whose last heartbeat is older than `timers.heartbeat_ttl` goes offline (a later
heartbeat restores the presence they had) and gets an offline timer; a rep still offline when it
fires (`timers.offline` later) loses their open conversations to the queue, unless the
queue's `offline_policy` is `keep`.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from handoff.assignment.claim import release_capacity
from handoff.assignment.engine import SOURCE, place
from handoff.assignment.records import end_assignment, new_assignment, open_assignment
from handoff.assignment.timers import schedule_offline
from handoff.models import Assignment, Rep
from orchestrator.core.config import AppConfig
from orchestrator.core.contextlog import log_event
from orchestrator.core.enums import AssignmentStatus, EndReason, EventType, Presence
from orchestrator.core.tables import Conversation

log = structlog.get_logger(__name__)


async def expire_heartbeats(
    sessions: async_sessionmaker[AsyncSession], *, config: AppConfig, at: datetime
) -> list[str]:
    """Reps whose last heartbeat is older than the TTL go offline (since last heartbeat + TTL), keeping
    the presence they had for a later heartbeat to restore; their offline timer starts."""
    ttl = config.timers.heartbeat_ttl
    expired: list[str] = []
    async with sessions() as session, session.begin():
        rows = (
            await session.execute(
                select(col(Rep.id), col(Rep.last_seen_at)).where(
                    col(Rep.presence) != Presence.OFFLINE,
                    or_(col(Rep.last_seen_at).is_(None), col(Rep.last_seen_at) < at - ttl),
                )
            )
        ).all()
        for rep_id, seen in rows:
            since = seen + ttl if seen is not None else at
            seen_clause = col(Rep.last_seen_at).is_(None) if seen is None else col(Rep.last_seen_at) == seen
            done = await session.execute(
                update(Rep)
                .where(col(Rep.id) == rep_id, col(Rep.presence) != Presence.OFFLINE, seen_clause)
                .values(presence=Presence.OFFLINE, expired_presence=col(Rep.presence), offline_since=since)
                .execution_options(synchronize_session=False)
            )
            if getattr(done, "rowcount", 0) != 1:
                continue  # a heartbeat or another process got there first
            await schedule_offline(session, config=config, rep_id=str(rep_id), offline_since=since, at=at)
            expired.append(str(rep_id))
            log.info("presence_expired", rep_id=rep_id, last_seen_at=seen)
    return expired


async def requeue_offline_rep(
    session: AsyncSession,
    *,
    config: AppConfig,
    rep_id: str,
    offline_since: datetime,
    at: datetime,
    for_good: bool = False,
) -> int:
    """Offline timer: a rep offline since `offline_since` loses their open conversations, which go
    back to their queue at their original place (assigned to the next rep at once when someone is
    eligible), unless the queue's policy is `keep`; `for_good` (the rep was disabled and will not
    come back) moves them whatever the policy. Returns how many moved."""
    rep = await session.get(Rep, rep_id, populate_existing=True)
    if rep is None or rep.presence != Presence.OFFLINE or rep.offline_since != offline_since:
        return 0  # back online (or offline again later: that timer will handle it)
    ids = (
        await session.execute(
            select(col(Assignment.conversation_id)).where(
                col(Assignment.rep_id) == rep_id, col(Assignment.status) == AssignmentStatus.ACTIVE
            )
        )
    ).scalars()
    # Lock every conversation first, in id order, before touching any rep (deadlock-free order).
    conversations = list(
        (
            await session.execute(
                select(Conversation)
                .where(col(Conversation.id).in_(sorted({int(i) for i in ids})))
                .order_by(col(Conversation.id))
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalars()
    )
    lapsed: list[tuple[Conversation, Assignment]] = []
    for conversation in conversations:
        assert conversation.id is not None
        assignment = await open_assignment(session, conversation_id=conversation.id)
        if (
            assignment is None
            or assignment.status != AssignmentStatus.ACTIVE
            or assignment.rep_id != rep_id
            or conversation.assignee_id != rep_id
        ):
            continue
        policy = config.queue(assignment.queue).offline_policy or config.timers.offline_policy
        if policy == "keep" and not for_good:
            continue
        await end_assignment(
            session,
            assignment=assignment,
            status=AssignmentStatus.REVOKED,
            reason=EndReason.OFFLINE,
            at=at,
            release=False,
        )
        lapsed.append((conversation, assignment))
    if not lapsed:
        return 0
    # Release first, then place without waiting for any other rep (see engine's lock discipline).
    await release_capacity(session, rep_id=rep_id, count=len(lapsed))
    for conversation, assignment in lapsed:
        assert conversation.id is not None
        await log_event(
            session,
            conversation_id=conversation.id,
            type=EventType.ASSIGNMENT_REVOKED,
            source=SOURCE,
            description=f"{rep.name} offline since {offline_since.isoformat()}; back to {assignment.queue}",
            at=at,
            details={
                "rep_id": rep_id,
                "revoked_rep_id": rep_id,
                "queue": assignment.queue,
                "assignment_id": assignment.id,
                "reason": "offline",
            },
        )
        nxt = new_assignment(
            conversation,
            queue=assignment.queue,
            reason="offline",
            routing=assignment.routing,
            at=at,
            waiting_since=conversation.handed_off_at or assignment.queued_at,
            revocations=assignment.revocations,
            escalation=assignment.escalation,
            # Reps who let it lapse before stay excluded; the offline rep may have it again later.
            exclude=assignment.excluded_reps or (),
        )
        await place(
            session,
            config=config,
            conversation=conversation,
            assignment=nxt,
            at=at,
            exclude={rep_id},
            wait=False,
        )
    return len(lapsed)
