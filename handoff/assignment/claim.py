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
the assignment row, the conversation handed to the rep (with whatever else the caller changed on it),
its SLA timers and the context events (those pending in the session, in the order its flush would
write them, then `assigned`) are further CTEs that read the taken rep, so they are written only when
the rep was, and a handoff's writes are one statement. The session's objects are then marked as
written (`_settle`), so its flush writes nothing more for them. The statement is Core, run on the
session's connection: the ORM's execution layers cost more CPU than the statement.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Executable,
    Integer,
    String,
    bindparam,
    column,
    func,
    insert,
    literal_column,
    null,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlmodel import col

from handoff.assignment.policy import Burst, Member, Mode, burst_of, window_start
from handoff.models import Assignment, Rep, RepQueue, Timer
from orchestrator.core.config import AppConfig
from orchestrator.core.contextlog import ContextEvent, inserted, pending_events
from orchestrator.core.db import UTCDateTime, loaded, written
from orchestrator.core.enums import AssignmentStatus, EventType, Owner, Presence, TimerKind
from orchestrator.core.tables import Conversation

SOURCE = "assignment_engine"  # of the context events the engine writes

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


def _constant(value: str) -> Any:
    """A constant of ours (an enum value, a sequence's name) written into the SQL rather than bound:
    the claim's SQL stays short enough for psycopg to cache its parsing (4 KB)."""
    assert "'" not in value
    return literal_column(f"'{value}'", String())


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


def _claim_parts(
    *, postgres: bool, mode: Mode, burst: Burst, first_turn: bool
) -> tuple[dict[str, Any], list[ColumnElement[bool]], ColumnElement[bool]]:
    """What a claim sets on the membership (the round-robin cursor and the pacing window), what makes
    the rep eligible, and the check that nobody assigned them since they were read."""
    turn: Any = (
        func.nextval(_constant(TURN_SEQUENCE))
        if postgres
        else select(func.coalesce(func.max(col(RepQueue.last_turn)), 0) + 1).scalar_subquery()
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
    # Nobody assigned the member since it was read: its turn is the one we saw.
    seen = col(RepQueue.last_turn).is_(None) if first_turn else col(RepQueue.last_turn) == bindparam("p_seen")
    return cursor, eligible, seen


def _claim_ctes(*, mode: Mode, burst: Burst, first_turn: bool, skip_locked: bool) -> tuple[Any, Any]:
    """PostgreSQL: lock the member's membership and rep rows (re-checked), take one unit of capacity
    (`taken`: the rep's row) and move the turn (`moved`)."""
    cursor, eligible, seen = _claim_parts(postgres=True, mode=mode, burst=burst, first_turn=first_turn)
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
    *, postgres: bool, mode: Mode, burst: Burst, first_turn: bool, skip_locked: bool
) -> tuple[Executable, Executable | None]:
    """The claim as reusable statements with bound parameters (`p_queue`, `p_rep`, `p_seen`, `p_at`):
    building these CTEs costs far more CPU than running them, so each variant is built once."""
    if postgres:
        taken, moved = _claim_ctes(mode=mode, burst=burst, first_turn=first_turn, skip_locked=skip_locked)
        return select(Rep).from_statement(select(taken).add_cte(moved)), None
    cursor, eligible, _ = _claim_parts(postgres=False, mode=mode, burst=burst, first_turn=first_turn)
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
_REP_KEYS = tuple(c.key for c in Rep.__table__.c)  # type: ignore[attr-defined]
_EVENT = ContextEvent.__table__.c  # type: ignore[attr-defined]
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
_UTC = UTCDateTime()


def assigned_text(*, rep_id: str, queue: str, backlog: bool) -> tuple[str, str]:
    """The `assigned` event's description around the rep's name (`before + name + after`): the
    claim that writes the event joins them to the name of the rep it took."""
    return "assigned to ", f" ({rep_id}) in {queue}" + (" from the waiting queue" if backlog else "")


def assigned_details(
    *, rep_id: str, queue: str, reason: str, backlog: bool, candidates: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """The `assigned` event's details."""
    return {"rep_id": rep_id, "queue": queue, "reason": reason, "backlog": backlog, "candidates": candidates}


@dataclass
class Placement:
    """A new assignment for the claim to write with the rep it takes (PostgreSQL): the conversation
    (in the session, its row locked by the caller; its pending changes are written too), the
    assignment (not in the session yet) and its SLA moments. `written` once the claim wrote them;
    `logged` when it also wrote the session's pending context events and `assigned` (always, but
    inside a savepoint)."""

    conversation: Conversation
    assignment: Assignment
    warn_at: datetime | None
    due_at: datetime | None
    written: bool = False
    logged: bool = False

    def changed(self) -> tuple[str, ...] | None:
        """The conversation's columns changed in the session (besides those the placement sets), or
        None when this placement cannot be written by the claim (then the ORM writes it)."""
        conversation, assignment = instance_state(self.conversation), instance_state(self.assignment)
        if not conversation.persistent or not assignment.transient:
            return None
        changed = tuple(sorted(k for k in conversation.committed_state if k not in _HANDED))
        return changed if all(k in _CONVERSATION for k in changed) else None


def _events_cte(taken: Any) -> Any:
    """The context events, inserted for the rep taken, in order: the rows of `e_rows` (a JSON array
    of objects keyed by column; `assigned` without a description, which is its text around the
    taken rep's name). Ids come from the table's sequence in the rows' order (PostgreSQL numbers an
    INSERT ... SELECT ... ORDER BY's rows in that order), so sorted they match the rows."""
    rows = func.json_populate_recordset(
        literal_column("NULL::contextevent"), bindparam("e_rows", type_=JSON())
    ).table_valued(*(column(c.key, c.type) for c in _EVENT.values()), with_ordinality="ordinality", name="e")
    name = bindparam("e_before", type_=String()) + taken.c.name + bindparam("e_after", type_=String())
    return (
        insert(ContextEvent)
        .from_select(
            ["conversation_id", "type", "source", "description", "details", "created_at"],
            select(
                rows.c.conversation_id,
                rows.c.type,
                rows.c.source,
                func.coalesce(rows.c.description, name),
                # The ORM writes a None of a JSON column as JSON null, not SQL NULL: so does this.
                func.coalesce(rows.c.details, literal_column("'null'::json", JSON())),
                rows.c.created_at,
            )
            .select_from(taken.join(rows, true()))
            .order_by(rows.c.ordinality),
        )
        .returning(col(ContextEvent.id))
        .cte("logged")
    )


@functools.cache
def _placing_statement(
    *, mode: Mode, burst: Burst, first_turn: bool, skip_locked: bool, changed: tuple[str, ...], logged: bool
) -> Executable:
    """The claim, and with the rep taken: the assignment row, the conversation handed to the rep
    (`changed`: its other columns to write, as `c_<column>`), the SLA timers (when their moment is
    not null) and, when `logged`, the context events. Returns the rep's row, the new assignment's id
    and the events' ids (`event_ids`)."""
    taken, moved = _claim_ctes(mode=mode, burst=burst, first_turn=first_turn, skip_locked=skip_locked)
    at = bindparam("p_at", type_=UTCDateTime())
    params: list[Any] = [bindparam(f"a_{name}", type_=_ASSIGNMENT[name].type) for name in _ASSIGNMENT_PARAMS]
    assigned = (
        insert(Assignment)
        .from_select(
            [*_ASSIGNMENT_PARAMS, "rep_id", "status", "assigned_at"],
            select(*params, taken.c.id, _constant(AssignmentStatus.ACTIVE), at),
        )
        .returning(col(Assignment.id), col(Assignment.conversation_id), col(Assignment.rep_id))
        .cte("assigned")
    )
    handed = (
        update(Conversation)
        .where(col(Conversation.id) == assigned.c.conversation_id)
        .values(
            owner=_constant(Owner.HUMAN),
            assignee_id=assigned.c.rep_id,
            waiting_since=null(),
            updated_at=at,
            **{name: bindparam(f"c_{name}", type_=_CONVERSATION[name].type) for name in changed},
        )
        .returning(col(Conversation.id))
        .cte("handed")
    )
    # The SLA timers whose moment is not null, the revocation first (as `timers.schedule_sla` adds
    # them). A UNION rather than VALUES, whose bound rows would keep the statement out of the cache.
    moment_rows = [
        select(
            bindparam(f"t_{kind}", str(kind), type_=_TIMER.kind.type).label("kind"),
            bindparam(due, type_=UTCDateTime()).label("due_at"),
        )
        for kind, due in ((TimerKind.SLA, "a_sla_due_at"), (TimerKind.SLA_WARNING, "t_warn_at"))
    ]
    moments = union_all(*moment_rows).subquery("t")
    timers = (
        insert(Timer)
        .from_select(
            ["kind", "conversation_id", "rep_id", "assignment_id", "due_at", "created_at", "attempts"],
            select(
                moments.c.kind,
                assigned.c.conversation_id,
                assigned.c.rep_id,
                assigned.c.id,
                moments.c.due_at,
                at,
                literal_column("0", Integer()),
            )
            .select_from(assigned.join(moments, true()))
            .where(moments.c.due_at.is_not(None)),
        )
        .returning(col(Timer.id))
        .cte("timers")
    )
    columns: list[Any] = [taken, assigned.c.id.label("assignment_id")]
    ctes: list[Any] = [moved, handed, timers]
    if logged:
        events = _events_cte(taken)
        columns.append(select(func.array_agg(events.c.id)).scalar_subquery().label("event_ids"))
        ctes.append(events)
    return select(*columns).select_from(taken.join(assigned, assigned.c.rep_id == taken.c.id)).add_cte(*ctes)


def _event_rows(
    session: AsyncSession, events: list[ContextEvent], assigned: dict[str, Any]
) -> list[dict[str, Any]]:
    """`events` and then `assigned` as the JSON rows of `_events_cte`, their moments in UTC."""
    dialect = session.get_bind().dialect
    rows: list[dict[str, Any]] = [
        {
            "conversation_id": event.conversation_id,
            "type": str(event.type),
            "source": event.source,
            "description": event.description,
            "details": event.details,
            "created_at": event.created_at,
        }
        for event in events
    ]
    rows.append(assigned)
    for row in rows:
        moment: datetime | None = _UTC.process_bind_param(row["created_at"], dialect)
        row["created_at"] = moment.isoformat() if moment is not None else None
    return rows


def _settle(
    session: AsyncSession,
    placement: Placement,
    *,
    rep: Rep,
    assignment_id: int,
    candidates: Any,
    at: datetime,
) -> None:
    """Mark what the claim wrote as written: the conversation clean with the values written, the
    assignment a persistent row of the session."""
    conversation = placement.conversation
    for key, value in zip(_HANDED, (Owner.HUMAN, rep.id, None, at), strict=True):
        set_committed_value(conversation, key, value)
    written(session, conversation)
    assignment = placement.assignment
    assignment.id, assignment.rep_id, assignment.status = assignment_id, rep.id, AssignmentStatus.ACTIVE
    assignment.assigned_at, assignment.candidates, assignment.sla_due_at = at, candidates, placement.due_at
    make_transient_to_detached(assignment)
    session.add(assignment)
    placement.written = True


async def _place(
    session: AsyncSession,
    placement: Placement,
    *,
    member: Member,
    queue: str,
    mode: Mode,
    burst: Burst,
    skip_locked: bool,
    changed: tuple[str, ...],
    params: dict[str, Any],
    candidates: list[dict[str, Any]] | None,
    at: datetime,
) -> Rep | None:
    """The claim that also writes the placement (see `_placing_statement`); the rep taken, or None."""
    # Inside a savepoint the events stay for the flush, whose rows a rollback of it takes back.
    logged = not session.in_nested_transaction()
    statement = _placing_statement(
        mode=mode,
        burst=burst,
        first_turn=member.last_turn is None,
        skip_locked=skip_locked,
        changed=changed,
        logged=logged,
    )
    assignment, conversation = placement.assignment, placement.conversation
    for name in _ASSIGNMENT_PARAMS:
        params[f"a_{name}"] = getattr(assignment, name)
    params["a_candidates"], params["a_sla_due_at"] = candidates, placement.due_at
    params["t_warn_at"] = placement.warn_at
    for name in changed:
        params[f"c_{name}"] = getattr(conversation, name)
    events: list[ContextEvent] = []
    if logged:
        events = pending_events(session)
        rep_id = member.rep_id
        params["e_before"], params["e_after"] = assigned_text(rep_id=rep_id, queue=queue, backlog=False)
        details = assigned_details(
            rep_id=rep_id, queue=queue, reason=assignment.reason, backlog=False, candidates=candidates
        )
        assigned = {
            "conversation_id": assignment.conversation_id,
            "type": str(EventType.ASSIGNED),
            "source": SOURCE,
            "description": None,
            "details": details,
            "created_at": at,
        }
        params["e_rows"] = _event_rows(session, events, assigned)
    connection = await session.connection()
    row = (await connection.execute(statement, params)).first()
    if row is None:
        return None
    returned = row._mapping
    rep = loaded(session, Rep, {key: returned[key] for key in _REP_KEYS})
    assignment_id = returned["assignment_id"]
    _settle(session, placement, rep=rep, assignment_id=assignment_id, candidates=candidates, at=at)
    if logged:
        ids = sorted(returned["event_ids"])
        inserted(session, events, ids[:-1], rows=[(ids[-1], EventType.ASSIGNED)])
        placement.logged = True
    return rep


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
    new assignment to the rep taken (`placement.written` then), with the context events
    (`placement.logged`)."""
    burst = burst_of(member, pacing=config.assignment, at=at, backlog=backlog)
    postgres = session.get_bind().dialect.name == "postgresql"
    params: dict[str, Any] = {"p_queue": queue, "p_rep": member.rep_id, "p_at": at}
    if burst == Burst.NEW:
        params["p_window"] = window_start(config.assignment, at)
    if member.last_turn is not None:
        params["p_seen"] = member.last_turn
    changed = placement.changed() if placement is not None and postgres else None
    if placement is not None and changed is not None:
        return await _place(
            session,
            placement,
            member=member,
            queue=queue,
            mode=mode,
            burst=burst,
            skip_locked=skip_locked,
            changed=changed,
            params=params,
            candidates=candidates,
            at=at,
        )
    take, move = _claim_statements(
        postgres=postgres,
        mode=mode,
        burst=burst,
        first_turn=member.last_turn is None,
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
