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

A claim that places a new assignment (`Placement`) writes it in the same statement on PostgreSQL:
the assignment row, the conversation handed to the rep (with whatever else the caller changed on it)
and its SLA timers are further CTEs that read the taken rep, so they are written only when the rep
was, and a handoff's assignment is one statement. The ORM objects are then marked as written
(`_settle`), so the session flushes nothing more for them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Executable,
    Integer,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlmodel import col

from handoff.assignment.policy import Burst, Member, Mode, burst_of, window_start
from handoff.models import Assignment, Rep, RepQueue, Timer
from orchestrator.core.config import AppConfig
from orchestrator.core.db import UTCDateTime
from orchestrator.core.enums import AssignmentStatus, Owner, Presence, TimerKind
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
    # A Core statement on the session's connection: the ORM's execution layers cost more than the
    # read. The session's pending changes are flushed first, as `session.execute` would.
    if session.sync_session.autoflush:
        await session.flush()
    connection = await session.connection()
    statement = _members_statement(with_backlog=backlog_besides is not None)
    rows = (await connection.execute(statement, params)).all()
    members = [Member(*row[: len(_MEMBER_COLUMNS)]) for row in rows]
    backlog = bool(rows[0][-1]) if rows and backlog_besides is not None else False
    return members, backlog


_REPQUEUE = RepQueue.__table__.c  # type: ignore[attr-defined]


def _claim_parts(
    *, postgres: bool, mode: Mode, burst: Burst
) -> tuple[dict[str, Any], list[ColumnElement[bool]], ColumnElement[bool]]:
    """What a claim sets on the membership (the round-robin cursor and the pacing window), what makes
    the rep eligible, and the check that nobody assigned them since they were read."""
    # SQLite's next turn reads the table's column, not the mapped attribute: a subquery of the
    # attribute is changed in place by the statement's first ORM compilation (its compile options),
    # so its second execution would be compiled again, after the startup rehearsal's first.
    turn: Any = (
        func.nextval(TURN_SEQUENCE)
        if postgres
        else select(func.coalesce(func.max(_REPQUEUE.last_turn), 0) + 1).scalar_subquery()
    )
    # Parameter names differ from column names: an UPDATE would otherwise SET columns named alike.
    cursor: dict[str, Any] = {
        "last_assigned_at": bindparam("p_at", type_=UTCDateTime()),
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
    # Nobody assigned the member since it was read: its turn is the one we saw (null: never
    # assigned). One comparison for both, so a member's first claim and the later ones are the same
    # statement, compiled once: a rehearsal at startup, whose member is new, warms the later ones too.
    seen = col(RepQueue.last_turn).is_not_distinct_from(bindparam("p_seen"))
    return cursor, eligible, seen


def _claim_ctes(*, mode: Mode, burst: Burst, skip_locked: bool) -> tuple[Any, Any]:
    """PostgreSQL: lock the member's membership and rep rows (re-checked), take one unit of capacity
    (`taken`: the rep's row) and move the turn (`moved`)."""
    cursor, eligible, seen = _claim_parts(postgres=True, mode=mode, burst=burst)
    queue: Any = bindparam("p_queue")
    locked = (
        select(col(RepQueue.rep_id))
        .join(Rep, col(Rep.id) == col(RepQueue.rep_id))
        .where(col(RepQueue.queue) == queue, col(RepQueue.rep_id) == bindparam("p_rep"), seen, *eligible)
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
    return taken, moved


@functools.cache
def _claim_statements(
    *, postgres: bool, mode: Mode, burst: Burst, skip_locked: bool
) -> tuple[Executable, Executable | None]:
    """The claim as reusable statements with bound parameters (`p_queue`, `p_rep`, `p_seen`, `p_at`):
    building these CTEs costs far more CPU than running them, so each variant is built once."""
    if postgres:
        taken, moved = _claim_ctes(mode=mode, burst=burst, skip_locked=skip_locked)
        return select(Rep).from_statement(select(taken).add_cte(moved)), None
    cursor, eligible, _ = _claim_parts(postgres=False, mode=mode, burst=burst)
    rep_id: Any = bindparam("p_rep")
    take = (
        update(Rep)
        .where(col(Rep.id) == rep_id, *eligible)
        .values(open_count=col(Rep.open_count) + 1)
        .returning(Rep)
    )
    move = (
        update(RepQueue)
        .where(col(RepQueue.rep_id) == rep_id, col(RepQueue.queue) == bindparam("p_queue"))
        .values(**cursor)
    )
    return take, move


# -- a claim that also writes the new assignment (PostgreSQL) -------------------------------------
# Set on the conversation by the placement itself; every other changed column is written as it is.
_HANDED = ("owner", "assignee_id", "waiting_since", "updated_at")
_CONVERSATION = Conversation.__table__.c  # type: ignore[attr-defined]
_ASSIGNMENT = Assignment.__table__.c  # type: ignore[attr-defined]
_TIMER = Timer.__table__.c  # type: ignore[attr-defined]
_ASSIGNMENT_PARAMS = (
    "conversation_id",
    "queue",
    "reason",
    "routing",
    "excluded_reps",
    "candidates",
    "queued_at",
    "revocations",
    "escalation",
    "sla_due_at",
)


@dataclass
class Placement:
    """A new assignment for the claim to write with the rep it takes (PostgreSQL): the conversation
    (in the session, its row locked by the caller; its pending changes are written too), the
    assignment (not in the session yet) and its SLA moments. `written` once the claim wrote them."""

    conversation: Conversation
    assignment: Assignment
    warn_at: datetime | None
    due_at: datetime | None
    written: bool = False

    def changed(self) -> tuple[str, ...] | None:
        """The conversation's columns changed in the session (besides those the placement sets), or
        None when this placement cannot be written by the claim (then the ORM writes it)."""
        conversation, assignment = instance_state(self.conversation), instance_state(self.assignment)
        if not conversation.persistent or not assignment.transient:
            return None
        changed = tuple(sorted(k for k in conversation.committed_state if k not in _HANDED))
        return changed if all(k in _CONVERSATION for k in changed) else None


@functools.cache
def _placing_statement(
    *, mode: Mode, burst: Burst, skip_locked: bool, changed: tuple[str, ...]
) -> Executable:
    """The claim, and with the rep taken: the assignment row, the conversation handed to the rep
    (`changed`: its other columns to write, as `c_<column>`) and the SLA timers (when their moment is
    not null). Returns the rep's row and the new assignment's id."""
    taken, moved = _claim_ctes(mode=mode, burst=burst, skip_locked=skip_locked)
    at = bindparam("p_at", type_=UTCDateTime())
    values: list[Any] = [bindparam(f"a_{name}", type_=_ASSIGNMENT[name].type) for name in _ASSIGNMENT_PARAMS]
    assigned = (
        insert(Assignment)
        .from_select(
            [*_ASSIGNMENT_PARAMS, "rep_id", "status", "assigned_at"],
            select(*values, taken.c.id, bindparam("a_status", AssignmentStatus.ACTIVE.value), at),
        )
        .returning(col(Assignment.id), col(Assignment.conversation_id), col(Assignment.rep_id))
        .cte("assigned")
    )
    handed = (
        update(Conversation)
        .where(col(Conversation.id) == assigned.c.conversation_id)
        .values(
            owner=Owner.HUMAN,
            assignee_id=assigned.c.rep_id,
            waiting_since=None,
            updated_at=at,
            **{name: bindparam(f"c_{name}", type_=_CONVERSATION[name].type) for name in changed},
        )
        .returning(col(Conversation.id))
        .cte("handed")
    )
    timers = []
    for kind, due in ((TimerKind.SLA, "a_sla_due_at"), (TimerKind.SLA_WARNING, "t_warn_at")):
        moment = bindparam(due, type_=UTCDateTime())
        timers.append(
            insert(Timer)
            .from_select(
                ["kind", "conversation_id", "rep_id", "assignment_id", "due_at", "created_at", "attempts"],
                select(
                    bindparam(f"t_{kind}", str(kind), type_=_TIMER.kind.type),
                    assigned.c.conversation_id,
                    assigned.c.rep_id,
                    assigned.c.id,
                    moment,
                    at,
                    bindparam("t_attempts", 0, type_=Integer()),
                ).where(moment.is_not(None)),
            )
            .returning(col(Timer.id))
            .cte(f"timer_{kind}")
        )
    rows = (
        select(taken, assigned.c.id.label("assignment_id"))
        .select_from(taken.join(assigned, assigned.c.rep_id == taken.c.id))
        .add_cte(moved, handed, *timers)
    )
    return select(Rep, literal_column("assignment_id", Integer())).from_statement(rows)


def _settle(
    session: AsyncSession,
    placement: Placement,
    *,
    rep: Rep,
    assignment_id: int,
    candidates: Any,
    at: datetime,
) -> None:
    """Mark what the claim wrote as written: the conversation's changes as committed, the assignment
    as a persistent row of the session."""
    conversation = placement.conversation
    for key in instance_state(conversation).committed_state.copy():
        set_committed_value(conversation, key, getattr(conversation, key))
    for key, value in zip(_HANDED, (Owner.HUMAN, rep.id, None, at), strict=True):
        set_committed_value(conversation, key, value)
    assignment = placement.assignment
    assignment.id, assignment.rep_id, assignment.status = assignment_id, rep.id, AssignmentStatus.ACTIVE
    assignment.assigned_at, assignment.candidates, assignment.sla_due_at = at, candidates, placement.due_at
    make_transient_to_detached(assignment)
    session.add(assignment)
    placement.written = True


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
    placement: Placement | None = None,
    candidates: list[dict[str, Any]] | None = None,
) -> Rep | None:
    """Take the member: lock their membership and rep rows, re-check that nobody assigned them since
    `member` was read and that they are still eligible, take one unit of capacity and move the
    round-robin cursor. None when they are locked (skip_locked), changed or no longer eligible.

    With `placement` (and the `candidates` to record), on PostgreSQL the same statement writes the
    new assignment to the rep taken (`placement.written` then)."""
    burst = burst_of(member, pacing=config.assignment, at=at, backlog=backlog)
    postgres = session.get_bind().dialect.name == "postgresql"
    params: dict[str, Any] = {
        "p_queue": queue,
        "p_rep": member.rep_id,
        "p_at": at,
        "p_seen": member.last_turn,
    }
    if burst == Burst.NEW:
        params["p_window"] = window_start(config.assignment, at)
    changed = placement.changed() if placement is not None and postgres else None
    if placement is not None and changed is not None:
        statement = _placing_statement(
            mode=mode,
            burst=burst,
            skip_locked=skip_locked,
            changed=changed,
        )
        assignment, conversation = placement.assignment, placement.conversation
        for name in _ASSIGNMENT_PARAMS:
            params[f"a_{name}"] = getattr(assignment, name)
        params["a_candidates"], params["a_sla_due_at"] = candidates, placement.due_at
        params["t_warn_at"] = placement.warn_at
        for name in changed:
            params[f"c_{name}"] = getattr(conversation, name)
        row = (
            await session.execute(
                statement, params, execution_options={"populate_existing": True, "synchronize_session": False}
            )
        ).first()
        if row is None:
            return None
        rep, assignment_id = row
        _settle(session, placement, rep=rep, assignment_id=assignment_id, candidates=candidates, at=at)
        return rep  # type: ignore[no-any-return]
    take, move = _claim_statements(
        postgres=postgres,
        mode=mode,
        burst=burst,
        skip_locked=skip_locked,
    )
    result = await session.execute(
        take, params, execution_options={"populate_existing": True, "synchronize_session": False}
    )
    rep_taken: Rep | None = result.scalars().first()
    if rep_taken is not None and move is not None:
        params.pop("p_seen", None)
        await session.execute(move, params, execution_options={"synchronize_session": False})
    return rep_taken


async def release_capacity(session: AsyncSession, *, rep_id: str, count: int = 1) -> None:
    """Give back `count` units of the rep's capacity (never below zero)."""
    floor = func.max if session.get_bind().dialect.name == "sqlite" else func.greatest
    await session.execute(
        update(Rep)
        .where(col(Rep.id) == rep_id, col(Rep.open_count) > 0)
        .values(open_count=floor(col(Rep.open_count) - count, 0))
        .execution_options(synchronize_session=False)
    )
