"""Scheduling durable timers: every kind of timer the human side sets is built here, once.

Timers live in the `timer` table, written inside the transaction that creates the reason for them
(an assignment schedules its SLA), so they survive restarts; `handoff.assignment.runner` fires them.
Kinds: `sla_warning` (the owner is warned), `sla` (revoke, next rep or escalate), `offline` (a rep
offline for `timers.offline` loses their conversations), `queue_open` (release the
after-hours hold at opening).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff.models import Assignment, Timer
from orchestrator.core.config import AppConfig
from orchestrator.core.db import insert_for
from orchestrator.core.enums import TimerKind


async def schedule_timer(
    session: AsyncSession,
    *,
    kind: TimerKind,
    due_at: datetime,
    at: datetime,
    key: str | None = None,
    conversation_id: int | None = None,
    rep_id: str | None = None,
    assignment_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Add a durable timer. With `key`, a second timer of the same key is not created (several
    processes may schedule the same opening)."""
    values: dict[str, Any] = {
        "kind": str(kind),
        "key": key,
        "due_at": due_at,
        "conversation_id": conversation_id,
        "rep_id": rep_id,
        "assignment_id": assignment_id,
        "payload": payload,
        "created_at": at,
        "attempts": 0,
    }
    if key is None:
        session.add(Timer(**values))
        return
    await session.execute(
        insert_for(session)(Timer).values(**values).on_conflict_do_nothing(index_elements=["key"])
    )


async def cancel_timers(
    session: AsyncSession,
    *,
    at: datetime,
    kinds: Collection[TimerKind],
    assignment_id: int | None = None,
    rep_id: str | None = None,
) -> None:
    """Cancel pending timers. Never waits: a timer being fired right now is left alone (its handler
    re-checks the state under the conversation's lock and finds nothing to do)."""
    pending = select(col(Timer.id)).where(
        col(Timer.kind).in_([str(k) for k in kinds]),
        col(Timer.fired_at).is_(None),
        col(Timer.cancelled_at).is_(None),
    )
    if assignment_id is not None:
        pending = pending.where(col(Timer.assignment_id) == assignment_id)
    if rep_id is not None:
        pending = pending.where(col(Timer.rep_id) == rep_id)
    await session.execute(
        update(Timer)
        .where(col(Timer.id).in_(pending.with_for_update(skip_locked=True).scalar_subquery()))
        .values(cancelled_at=at)
        .execution_options(synchronize_session=False)
    )


def schedule_sla(
    session: AsyncSession, *, assignment: Assignment, warn_at: datetime | None, at: datetime
) -> None:
    """SLA timers of a new assignment (due at its `sla_due_at`); written in the same flush (the
    relationship fills in its id)."""
    common: dict[str, Any] = {
        "conversation_id": assignment.conversation_id,
        "rep_id": assignment.rep_id,
        "assignment": assignment,
        "created_at": at,
    }
    if assignment.sla_due_at is not None:
        session.add(Timer(kind=TimerKind.SLA, due_at=assignment.sla_due_at, **common))
    if warn_at is not None:
        session.add(Timer(kind=TimerKind.SLA_WARNING, due_at=warn_at, **common))


async def schedule_offline(
    session: AsyncSession, *, config: AppConfig, rep_id: str, offline_since: datetime, at: datetime
) -> None:
    """The offline timer of a rep offline since `offline_since` (one per offline spell, whoever
    notices it first: the rep, or the heartbeat expiry)."""
    await schedule_timer(
        session,
        kind=TimerKind.OFFLINE,
        due_at=offline_since + config.timers.offline,
        at=at,
        key=f"offline:{rep_id}:{offline_since.isoformat()}",
        rep_id=rep_id,
        payload={"offline_since": offline_since.isoformat()},
    )


async def schedule_queue_open(session: AsyncSession, *, queue: str, opens_at: datetime, at: datetime) -> None:
    """Drain `queue` when it opens (one timer per opening, however many conversations wait)."""
    due = opens_at.astimezone(UTC)
    await schedule_timer(
        session,
        kind=TimerKind.QUEUE_OPEN,
        due_at=due,
        at=at,
        key=f"queue_open:{queue}:{due.isoformat()}",
        payload={"queue": queue},
    )
