"""The claim SQL: read a queue's members, take one of them, give capacity back.

Correctness under concurrency comes from the database:
  - candidates are read without locks; the chosen member is then claimed in one statement on
    PostgreSQL: its membership and rep rows locked `FOR UPDATE SKIP LOCKED`, re-checked (still
    eligible, and its round-robin turn still the one read), capacity taken, turn moved. A member
    locked by a concurrent assignment, or claimed since the read, is skipped for the next in rank;
    turns only move forward, so the next unchanged member is still the right one, and concurrent
    assignments in one queue take different reps at once instead of queueing behind one lock;
  - turns come from a database sequence (claim order), not from the processes' clocks;
  - a rep's open count only grows by a conditional UPDATE (`open_count < capacity`).
On SQLite the whole write transaction is serialised (`BEGIN IMMEDIATE`), no FOR UPDATE is emitted,
and the claim is two statements.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Executable, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff.assignment.policy import Burst, Member, Mode, burst_of, window_start
from handoff.models import Rep, RepQueue
from orchestrator.core.config import AppConfig
from orchestrator.core.db import UTCDateTime
from orchestrator.core.enums import Owner, Presence
from orchestrator.core.tables import Conversation

TURN_SEQUENCE = "repqueue_turn_seq"  # created by migration 0002 (PostgreSQL)

_MEMBER_COLUMNS = (
    col(RepQueue.rep_id),
    col(Rep.role),
    col(Rep.presence),
    col(Rep.auto_assign),
    col(Rep.open_count),
    col(Rep.capacity),
    col(RepQueue.last_assigned_at),
    col(RepQueue.last_turn),
    col(RepQueue.assigned_total),
    col(RepQueue.burst_started_at),
    col(RepQueue.burst_count),
)


@functools.cache
def _members_statement(*, with_backlog: bool) -> Executable:
    columns: list[Any] = list(_MEMBER_COLUMNS)
    if with_backlog:
        waiting = (
            select(col(Conversation.id))
            .where(
                col(Conversation.owner) == Owner.QUEUED,
                col(Conversation.queue) == bindparam("p_queue"),
                col(Conversation.id) != bindparam("p_besides"),
            )
            .exists()
        )
        columns.append(waiting.label("backlog"))
    return (
        select(*columns)
        .join(Rep, col(Rep.id) == col(RepQueue.rep_id))
        .where(col(RepQueue.queue) == bindparam("p_queue"))
        .order_by(col(RepQueue.rep_id))
    )


async def read_members(
    session: AsyncSession, *, queue: str, backlog_besides: int | None = None
) -> tuple[list[Member], bool]:
    """The queue's members (no locks) and, with `backlog_besides`, whether another conversation is
    waiting in the queue: one round trip."""
    params: dict[str, Any] = {"p_queue": queue}
    if backlog_besides is not None:
        params["p_besides"] = backlog_besides
    rows = (await session.execute(_members_statement(with_backlog=backlog_besides is not None), params)).all()
    members = [Member(*row[: len(_MEMBER_COLUMNS)]) for row in rows]
    backlog = bool(rows[0][-1]) if rows and backlog_besides is not None else False
    return members, backlog


@functools.cache
def _claim_statements(
    *, postgres: bool, mode: Mode, burst: Burst, first_turn: bool, skip_locked: bool
) -> tuple[Executable, Executable | None]:
    """The claim as reusable statements with bound parameters (`p_queue`, `p_rep`, `p_seen`, `p_at`):
    building these CTEs costs far more CPU than running them, so each variant is built once."""
    turn: Any = (
        func.nextval(TURN_SEQUENCE)
        if postgres
        else select(func.coalesce(func.max(col(RepQueue.last_turn)), 0) + 1).scalar_subquery()
    )
    # Parameter names differ from column names: an UPDATE would otherwise SET columns named alike.
    at = bindparam("p_at", type_=UTCDateTime())
    cursor: dict[str, Any] = {
        "last_assigned_at": at,
        "last_turn": turn,
        "assigned_total": col(RepQueue.assigned_total) + 1,
    }
    if burst == Burst.MORE:
        cursor["burst_count"] = col(RepQueue.burst_count) + 1
    elif burst == Burst.NEW:
        cursor["burst_started_at"], cursor["burst_count"] = bindparam("p_window", type_=UTCDateTime()), 1
    eligible: list[ColumnElement[bool]] = [col(Rep.open_count) < col(Rep.capacity)]
    if mode == Mode.EXPLICIT:
        eligible.append(col(Rep.presence) != Presence.OFFLINE)
    else:
        eligible.append(col(Rep.presence) == Presence.ONLINE)
    if mode == Mode.AUTO:
        eligible.append(col(Rep.auto_assign).is_(True))
    # Nobody assigned the member since it was read: its turn is the one we saw.
    seen = col(RepQueue.last_turn).is_(None) if first_turn else col(RepQueue.last_turn) == bindparam("p_seen")
    queue: Any = bindparam("p_queue")
    rep_id: Any = bindparam("p_rep")
    if postgres:
        locked = (
            select(col(RepQueue.rep_id))
            .join(Rep, col(Rep.id) == col(RepQueue.rep_id))
            .where(col(RepQueue.queue) == queue, col(RepQueue.rep_id) == rep_id, seen, *eligible)
            .with_for_update(of=[RepQueue, Rep], skip_locked=skip_locked)
            .cte("locked")
        )
        taken = (
            update(Rep)
            .where(col(Rep.id) == locked.c.rep_id, col(Rep.open_count) < col(Rep.capacity))
            .values(open_count=col(Rep.open_count) + 1)
            .returning(*Rep.__table__.columns)  # type: ignore[attr-defined]
            .cte("taken")
        )
        moved = (
            update(RepQueue)
            .where(col(RepQueue.rep_id) == taken.c.id, col(RepQueue.queue) == queue)
            .values(**cursor)
            .returning(col(RepQueue.rep_id))
            .cte("moved")
        )
        return select(Rep).from_statement(select(taken).add_cte(moved)), None
    take = (
        update(Rep)
        .where(col(Rep.id) == rep_id, *eligible)
        .values(open_count=col(Rep.open_count) + 1)
        .returning(Rep)
    )
    move = (
        update(RepQueue).where(col(RepQueue.rep_id) == rep_id, col(RepQueue.queue) == queue).values(**cursor)
    )
    return take, move


async def claim(
    session: AsyncSession,
    *,
    config: AppConfig,
    queue: str,
    member: Member,
    at: datetime,
    backlog: bool,
    mode: Mode,
    skip_locked: bool,
) -> Rep | None:
    """Take the member: lock their membership and rep rows, re-check that nobody assigned them since
    `member` was read and that they are still eligible, take one unit of capacity and move the
    round-robin cursor. None when they are locked (skip_locked), changed or no longer eligible."""
    burst = burst_of(member, pacing=config.assignment, at=at, backlog=backlog)
    take, move = _claim_statements(
        postgres=session.get_bind().dialect.name == "postgresql",
        mode=mode,
        burst=burst,
        first_turn=member.last_turn is None,
        skip_locked=skip_locked,
    )
    params: dict[str, Any] = {"p_queue": queue, "p_rep": member.rep_id, "p_at": at}
    if burst == Burst.NEW:
        params["p_window"] = window_start(config.assignment, at)
    if member.last_turn is not None:
        params["p_seen"] = member.last_turn
    result = await session.execute(
        take, params, execution_options={"populate_existing": True, "synchronize_session": False}
    )
    rep: Rep | None = result.scalars().first()
    if rep is not None and move is not None:
        params.pop("p_seen", None)
        await session.execute(move, params, execution_options={"synchronize_session": False})
    return rep


async def release_capacity(session: AsyncSession, *, rep_id: str, count: int = 1) -> None:
    """Give back `count` units of the rep's capacity (never below zero)."""
    floor = func.max if session.get_bind().dialect.name == "sqlite" else func.greatest
    await session.execute(
        update(Rep)
        .where(col(Rep.id) == rep_id, col(Rep.open_count) > 0)
        .values(open_count=floor(col(Rep.open_count) - count, 0))
        .execution_options(synchronize_session=False)
    )
