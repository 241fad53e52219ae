"""The assignment engine: put a handed-off conversation in its queue and give it to a rep.

Rep selection policy (round robin), in order:
  1. members of the queue only (for an escalation: the queue's team leads only);
  2. skip reps that are excluded (they already had this conversation and let it lapse, or sent it
     away), that are not `online`, that opted out of auto-assignment, that are at capacity, or, while
     a backlog is drained, that already took `assignment.backlog_burst` waiting conversations in the
     current window ("paced"); each skip is recorded with its reason;
  3. among the rest, the rep whose last assignment *in this queue* is oldest (never assigned first);
  4. tie-break: fewer assignments in this queue, then rep id (deterministic).
Nobody eligible: the conversation waits in the queue (higher priority first, then FIFO by handoff
time) and `drain_queue` assigns it the moment someone becomes eligible. A conversation handed off
while others wait joins the back of the queue. Outside opening hours it is held, and a durable
`queue_open` timer drains the queue at opening; pacing spreads the backlog over the reps as they log
in instead of landing it on the first one.

SLA (handoff/timers.py fires it): an assignment without a rep reply within the queue's SLA (minutes
of opening hours) is revoked and goes to the next rep; after `timers.max_revocations` it escalates
along `timers.escalation`: the queue's team lead, then the catch-all (routing fallback) queue. When
nobody else in the queue can take it, it escalates at once rather than bouncing back to the rep who
let it lapse.

Correctness under concurrency comes from the database:
  - candidates are read without locks; the chosen member is then claimed in one statement on
    PostgreSQL: its membership and rep rows locked `FOR UPDATE SKIP LOCKED`, re-checked (still
    eligible, and its round-robin turn still the one read), capacity taken, turn moved. A member
    locked by a concurrent assignment, or claimed since the read, is skipped for the next in rank;
    turns only move forward, so the next unchanged member is still the right one, and concurrent
    assignments in one queue take different reps at once instead of queueing behind one lock;
  - turns come from a database sequence (claim order), not from the processes' clocks;
  - a rep's open count only grows by a conditional UPDATE (`open_count < capacity`);
  - a conversation changes owner only from `queued` with no assignee, under its row lock, and a
    unique partial index refuses a second open assignment of a conversation;
  - lock discipline, so there is no deadlock: a transaction waits for a rep's lock only while it
    holds no other rep's row (a fresh handoff). Everything else (drains, timers, transfers,
    revocations) releases capacity first and then only skips locked reps, leaving the conversation
    waiting for the next drain when everyone is busy that instant.
On SQLite the whole write transaction is serialised (`BEGIN IMMEDIATE`) and no FOR UPDATE is emitted.

Context-log events written here (notifications follow the log); `details` always carry `queue`:
  assigned {rep_id, reason, backlog, candidates} · waiting {candidates} ·
  held_after_hours {opens_at} · assignment_revoked {rep_id, revoked_rep_id, assignment_id, reason} ·
  escalated {rep_id (the lead, or null), from_queue, level} · sla_warning {rep_id, assignment_id, due_at}
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Executable, and_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from handoff.models import Assignment, Rep, RepQueue, Timer
from orchestrator.core.config import AppConfig, Hours
from orchestrator.core.contextlog import log_event
from orchestrator.core.db import UTCDateTime
from orchestrator.core.enums import AssignmentStatus, EndReason, EventType, Owner, Presence, Role, TimerKind
from orchestrator.core.tables import Conversation

log = structlog.get_logger(__name__)
SOURCE = "assignment_engine"
TURN_SEQUENCE = "repqueue_turn_seq"  # created by migration 0002 (PostgreSQL)


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

    def skip(self, reason: str) -> None:
        self.eligible, self.skipped = False, reason


@dataclass
class AssignmentOutcome:
    assignment: Assignment
    rep: Rep | None = None
    held: bool = False  # outside opening hours
    opens_at: datetime | None = None
    candidates: list[Candidate] = field(default_factory=list)


@dataclass(frozen=True)
class _Member:
    """A queue member as read (or as locked): the rep's state and the round-robin cursor."""

    rep_id: str
    role: str
    presence: str
    auto_assign: bool
    open_count: int
    capacity: int
    last_assigned_at: datetime | None
    last_turn: int | None
    assigned_total: int
    burst_started_at: datetime | None
    burst_count: int

    def rank(self) -> tuple[bool, int, int, str]:
        """Never assigned first, then the oldest last assignment (by turn), fewer, rep id."""
        return (self.last_turn is not None, self.last_turn or 0, self.assigned_total, self.rep_id)


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


async def _read_members(
    session: AsyncSession, *, queue: str, backlog_besides: int | None = None
) -> tuple[list[_Member], bool]:
    """The queue's members (no locks) and, with `backlog_besides`, whether another conversation is
    waiting in the queue: one round trip."""
    params: dict[str, Any] = {"p_queue": queue}
    if backlog_besides is not None:
        params["p_besides"] = backlog_besides
    rows = (await session.execute(_members_statement(with_backlog=backlog_besides is not None), params)).all()
    members = [_Member(*row[: len(_MEMBER_COLUMNS)]) for row in rows]
    backlog = bool(rows[0][-1]) if rows and backlog_besides is not None else False
    return members, backlog


def _skip_reason(
    m: _Member, *, config: AppConfig, at: datetime, exclude: Collection[str], backlog: bool, leads_only: bool
) -> str | None:
    if m.rep_id in exclude:
        return "excluded: already had this conversation"
    if leads_only and m.role != Role.LEAD:
        return "not a team lead"
    if m.presence != Presence.ONLINE:
        return f"presence {m.presence}"
    # An escalation is not auto-assignment: a lead who opted out still receives it.
    if not m.auto_assign and not leads_only:
        return "opted out of auto-assignment"
    if m.open_count >= m.capacity:
        return f"at capacity ({m.open_count}/{m.capacity})"
    if backlog and _paced(m, config=config, at=at):
        window = config.assignment.backlog_window_seconds
        return f"paced: took {m.burst_count} waiting conversations in this {window}s window"
    return None


def window_start(config: AppConfig, at: datetime) -> datetime:
    """Start of the pacing window containing `at`. Windows are aligned to fixed boundaries, the same
    for every rep, so at each boundary all reps get a fresh allowance together and the rest of a
    backlog goes round robin among everyone who is in by then."""
    seconds = config.assignment.backlog_window_seconds
    epoch = at.timestamp()
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def _window_open(m: _Member, *, config: AppConfig, at: datetime) -> bool:
    return m.burst_started_at is not None and m.burst_started_at >= window_start(config, at)


def _paced(m: _Member, *, config: AppConfig, at: datetime) -> bool:
    return _window_open(m, config=config, at=at) and m.burst_count >= config.assignment.backlog_burst


def _candidate(m: _Member) -> Candidate:
    return Candidate(
        rep_id=m.rep_id,
        eligible=True,
        skipped=None,
        open_count=m.open_count,
        capacity=m.capacity,
        last_assigned_at=m.last_assigned_at.isoformat() if m.last_assigned_at else None,
    )


async def release_capacity(session: AsyncSession, *, rep_id: str, count: int = 1) -> None:
    floor = func.max if session.get_bind().dialect.name == "sqlite" else func.greatest
    await session.execute(
        update(Rep)
        .where(col(Rep.id) == rep_id, col(Rep.open_count) > 0)
        .values(open_count=floor(col(Rep.open_count) - count, 0))
        .execution_options(synchronize_session=False)
    )


@dataclass
class _Pick:
    member: _Member
    rep: Rep


class _Mode(Enum):
    AUTO = "auto"  # round robin: online, opted in (or a lead, for an escalation)
    LEAD = "lead"  # escalation: online team leads, whether opted in or not
    EXPLICIT = "explicit"  # a lead's named choice: anyone not offline


class _Burst(Enum):
    NONE = "none"  # not from the backlog: pacing untouched
    MORE = "more"  # another one in the current window
    NEW = "new"  # the first one of a new window


@functools.cache
def _claim_statements(
    *, postgres: bool, mode: _Mode, burst: _Burst, first_turn: bool, skip_locked: bool
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
    if burst == _Burst.MORE:
        cursor["burst_count"] = col(RepQueue.burst_count) + 1
    elif burst == _Burst.NEW:
        cursor["burst_started_at"], cursor["burst_count"] = bindparam("p_window", type_=UTCDateTime()), 1
    eligible: list[ColumnElement[bool]] = [col(Rep.open_count) < col(Rep.capacity)]
    if mode == _Mode.EXPLICIT:
        eligible.append(col(Rep.presence) != Presence.OFFLINE)
    else:
        eligible.append(col(Rep.presence) == Presence.ONLINE)
    if mode == _Mode.AUTO:
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


async def _claim(
    session: AsyncSession,
    *,
    config: AppConfig,
    queue: str,
    member: _Member,
    at: datetime,
    backlog: bool,
    mode: _Mode,
    skip_locked: bool,
) -> Rep | None:
    """Take the member: lock their membership and rep rows, re-check that nobody assigned them since
    `member` was read and that they are still eligible, take one unit of capacity and move the
    round-robin cursor. None when they are locked (skip_locked), changed or no longer eligible.
    On PostgreSQL all of it is one statement; on SQLite (serialised) two."""
    burst = _Burst.NONE
    if backlog:
        burst = _Burst.MORE if _window_open(member, config=config, at=at) else _Burst.NEW
    take, move = _claim_statements(
        postgres=session.get_bind().dialect.name == "postgresql",
        mode=mode,
        burst=burst,
        first_turn=member.last_turn is None,
        skip_locked=skip_locked,
    )
    params: dict[str, Any] = {"p_queue": queue, "p_rep": member.rep_id, "p_at": at}
    if burst == _Burst.NEW:
        params["p_window"] = window_start(config, at)
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


BUSY = "busy: taken by a concurrent assignment"
PICK_ATTEMPTS = 6  # reads of the queue before the conversation waits for the next pass


async def _pick(
    session: AsyncSession,
    *,
    config: AppConfig,
    queue: str,
    at: datetime,
    exclude: Collection[str] = (),
    backlog: bool = False,
    wait: bool = True,
    leads_only: bool = False,
    members: list[_Member] | None = None,
) -> tuple[_Pick | None, list[Candidate]]:
    """Choose the next rep by the policy above and claim them (capacity and cursor).

    A member found locked or changed is skipped for the next in rank: turns only move forward, so
    the next unchanged member is still the right one. When every eligible member was busy, read
    again (a few times); with `wait`, also wait for the first in rank's lock."""
    mode = _Mode.LEAD if leads_only else _Mode.AUTO
    candidates: dict[str, Candidate] = {}
    for attempt in range(PICK_ATTEMPTS):
        if attempt:
            # Others hold the eligible reps for a few milliseconds: back off a little, read again.
            await asyncio.sleep(0.002 * attempt)
        if attempt or members is None:
            members, _ = await _read_members(session, queue=queue)
        candidates = {m.rep_id: _candidate(m) for m in members}
        ranked: list[_Member] = []
        for m in members:
            reason = _skip_reason(
                m, config=config, at=at, exclude=exclude, backlog=backlog, leads_only=leads_only
            )
            if reason is None:
                ranked.append(m)
            else:
                candidates[m.rep_id].skip(reason)
        ranked.sort(key=_Member.rank)
        if not ranked:
            break
        for m in ranked:
            rep = await _claim(
                session,
                config=config,
                queue=queue,
                member=m,
                at=at,
                backlog=backlog,
                mode=mode,
                skip_locked=True,
            )
            if rep is not None:
                return _Pick(member=m, rep=rep), list(candidates.values())
            candidates[m.rep_id].skip(BUSY)
        if not wait:
            continue  # read again: those claimed since the read may be free again
        # Every eligible member was busy in another transaction: wait for the first in rank.
        rep = await _claim(
            session,
            config=config,
            queue=queue,
            member=ranked[0],
            at=at,
            backlog=backlog,
            mode=mode,
            skip_locked=False,
        )
        if rep is not None:
            candidates[ranked[0].rep_id].eligible, candidates[ranked[0].rep_id].skipped = True, None
            return _Pick(member=ranked[0], rep=rep), list(candidates.values())
    return None, list(candidates.values())


# -- SLA deadlines ------------------------------------------------------------------------------
def open_deadline(hours: Hours, start: datetime, minutes: float) -> datetime | None:
    """The moment `minutes` of opening hours have passed since `start` (the SLA clock pauses while
    the queue is closed). None when the queue never opens again."""
    remaining = timedelta(minutes=minutes)
    if hours.always_open:
        return start + remaining
    t = start.astimezone(UTC)
    for _ in range(2000):
        if not hours.is_open(t):
            opening = hours.next_opening(t)
            if opening is None:
                return None
            t = opening.astimezone(UTC)
        end = hours.open_until(t)
        if end is None:  # defensive: treat as open for good
            return t + remaining
        end = end.astimezone(UTC)
        if t + remaining <= end:
            return t + remaining
        remaining -= end - t
        t = end
    return None


def sla_minutes(config: AppConfig, queue: str) -> int:
    return config.queue(queue).sla_minutes or config.timers.sla_minutes


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


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
    """Add a durable timer (fired by handoff/timers.py). With `key`, a second timer of the same key
    is not created (several processes may schedule the same opening)."""
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
        _insert(session)(Timer).values(**values).on_conflict_do_nothing(index_elements=["key"])
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


def _sla_deadlines(config: AppConfig, *, queue: str, at: datetime) -> tuple[datetime | None, datetime | None]:
    """(warning, revocation) moments of an assignment made at `at` (opening hours only count)."""
    hours = config.queue(queue).hours
    minutes = sla_minutes(config, queue)
    due = open_deadline(hours, at, minutes)
    warning = config.timers.sla_warning_minutes
    warn_at = (
        open_deadline(hours, at, minutes - warning) if due is not None and 0 < warning < minutes else None
    )
    return warn_at, due


def _schedule_sla(
    session: AsyncSession, *, assignment: Assignment, warn_at: datetime | None, at: datetime
) -> None:
    """SLA timers of a new assignment; written in the same flush (the relationship fills in its id)."""
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


# -- writing an assignment ----------------------------------------------------------------------
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
    if exclude:
        routing = {**(routing or {}), "exclude": sorted(exclude)}
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
        queued_at=at,
        revocations=revocations,
        escalation=escalation,
    )


async def _assign(
    session: AsyncSession,
    *,
    config: AppConfig,
    conversation: Conversation,
    assignment: Assignment,
    picked: _Pick,
    candidates: list[Candidate],
    at: datetime,
    backlog: bool,
    owned: bool,
) -> Rep | None:
    """Give the conversation to the picked rep (whose capacity is already taken)."""
    rep = picked.rep
    assert conversation.id is not None
    if owned:
        # This transaction created the waiting state itself, under the conversation's row lock.
        conversation.owner, conversation.assignee_id, conversation.waiting_since = Owner.HUMAN, rep.id, None
        conversation.updated_at = at
    else:
        moved = await session.execute(
            update(Conversation)
            .where(
                col(Conversation.id) == conversation.id,
                col(Conversation.owner) == Owner.QUEUED,
                col(Conversation.assignee_id).is_(None),
            )
            .values(owner=Owner.HUMAN, assignee_id=rep.id, waiting_since=None, updated_at=at)
            .execution_options(synchronize_session=False)
        )
        if getattr(moved, "rowcount", 0) != 1:
            await release_capacity(session, rep_id=rep.id)  # someone else took it meanwhile
            return None
        for attr, value in (
            ("owner", Owner.HUMAN),
            ("assignee_id", rep.id),
            ("waiting_since", None),
            ("updated_at", at),
        ):
            set_committed_value(conversation, attr, value)
    assignment.rep_id = rep.id
    assignment.status = AssignmentStatus.ACTIVE
    assignment.assigned_at = at
    assignment.candidates = [c.as_dict() for c in candidates]
    warn_at, assignment.sla_due_at = _sla_deadlines(config, queue=assignment.queue, at=at)
    session.add(assignment)
    _schedule_sla(session, assignment=assignment, warn_at=warn_at, at=at)
    await log_event(
        session,
        conversation_id=conversation.id,
        type=EventType.ASSIGNED,
        source=SOURCE,
        description=f"assigned to {rep.name} ({rep.id}) in {assignment.queue}"
        + (" from the waiting queue" if backlog else ""),
        at=at,
        details={
            "rep_id": rep.id,
            "queue": assignment.queue,
            "reason": assignment.reason,
            "backlog": backlog,
            "candidates": assignment.candidates,
        },
    )
    return rep


async def _hold(
    session: AsyncSession,
    *,
    config: AppConfig,
    conversation: Conversation,
    assignment: Assignment,
    at: datetime,
) -> AssignmentOutcome:
    assert conversation.id is not None
    queue = assignment.queue
    opens_at = config.queue(queue).hours.next_opening(at)
    session.add_all([conversation, assignment])
    await session.flush()
    when = opens_at.isoformat() if opens_at else "further notice"
    await log_event(
        session,
        conversation_id=conversation.id,
        type=EventType.HELD_AFTER_HOURS,
        source=SOURCE,
        description=f"{queue} is closed; held until {when}",
        at=at,
        details={"queue": queue, "opens_at": opens_at.isoformat() if opens_at else None},
    )
    if opens_at is not None:
        await schedule_timer(
            session,
            kind=TimerKind.QUEUE_OPEN,
            due_at=opens_at.astimezone(UTC),
            at=at,
            key=f"queue_open:{queue}:{opens_at.astimezone(UTC).isoformat()}",
            payload={"queue": queue},
        )
    return AssignmentOutcome(assignment=assignment, held=True, opens_at=opens_at)


async def _place(
    session: AsyncSession,
    *,
    config: AppConfig,
    conversation: Conversation,
    assignment: Assignment,
    at: datetime,
    exclude: Collection[str] = (),
    wait: bool = True,
) -> AssignmentOutcome:
    """A new waiting assignment: hold it (closed), queue it behind a backlog, or assign it now."""
    assert conversation.id is not None
    queue = assignment.queue
    if not config.queue(queue).hours.is_open(at):
        return await _hold(session, config=config, conversation=conversation, assignment=assignment, at=at)
    session.add_all([conversation, assignment])
    picked: _Pick | None = None
    candidates: list[Candidate] = []
    # Decide before writing, so the conversation and its assignment are written once.
    with session.no_autoflush:
        members, backlog = await _read_members(session, queue=queue, backlog_besides=conversation.id)
        if not backlog:
            picked, candidates = await _pick(
                session, config=config, queue=queue, at=at, exclude=exclude, wait=wait, members=members
            )
    if picked is not None:
        rep = await _assign(
            session,
            config=config,
            conversation=conversation,
            assignment=assignment,
            picked=picked,
            candidates=candidates,
            at=at,
            backlog=False,
            owned=True,
        )
        return AssignmentOutcome(assignment=assignment, rep=rep, candidates=candidates)
    if backlog:
        # Others are waiting: join the back of the queue and hand the backlog out in order.
        await session.flush()
        await drain_queue(session, config=config, queue=queue, at=at)
        if conversation.assignee_id is not None:
            rep = await session.get(Rep, conversation.assignee_id)
            return AssignmentOutcome(assignment=assignment, rep=rep)
    else:
        assignment.candidates = [c.as_dict() for c in candidates]
        await session.flush()
    await log_event(
        session,
        conversation_id=conversation.id,
        type=EventType.WAITING,
        source=SOURCE,
        description=f"nobody eligible in {queue}; waiting"
        if not backlog
        else f"others are waiting in {queue}; queued behind them",
        at=at,
        details={"queue": queue, "candidates": assignment.candidates or []},
    )
    return AssignmentOutcome(assignment=assignment, candidates=candidates)


async def enqueue(
    session: AsyncSession,
    *,
    config: AppConfig,
    conversation: Conversation,
    queue: str,
    reason: str,
    routing: dict[str, Any],
    at: datetime,
    exclude: Collection[str] = (),
    waiting_since: datetime | None = None,
    wait: bool = True,
) -> AssignmentOutcome:
    """Queue a conversation (owner -> queued) and assign it now if the queue is open and a rep is
    free. The caller holds the conversation's row lock and owns the transaction. `wait=False` when
    the transaction holds a rep's row (it released capacity): never wait for another rep then."""
    assignment = new_assignment(
        conversation,
        queue=queue,
        reason=reason,
        routing=routing,
        at=at,
        waiting_since=waiting_since,
        exclude=exclude,
    )
    return await _place(
        session,
        config=config,
        conversation=conversation,
        assignment=assignment,
        at=at,
        exclude=exclude,
        wait=wait,
    )


async def assign_next(
    session: AsyncSession,
    *,
    config: AppConfig,
    conversation: Conversation,
    assignment: Assignment,
    at: datetime,
    exclude: Collection[str] = (),
    wait: bool = True,
) -> Rep | None:
    """Give a new waiting assignment to the next eligible rep now, ahead of the backlog (a lead's
    "next in round robin"). Nobody eligible: it waits at its place; a closed queue holds it. The
    caller holds the conversation's row lock."""
    assert conversation.id is not None
    if not config.queue(assignment.queue).hours.is_open(at):
        await _hold(session, config=config, conversation=conversation, assignment=assignment, at=at)
        return None
    session.add_all([conversation, assignment])
    with session.no_autoflush:
        picked, candidates = await _pick(
            session, config=config, queue=assignment.queue, at=at, exclude=exclude, wait=wait
        )
    if picked is not None:
        return await _assign(
            session,
            config=config,
            conversation=conversation,
            assignment=assignment,
            picked=picked,
            candidates=candidates,
            at=at,
            backlog=False,
            owned=True,
        )
    assignment.candidates = [c.as_dict() for c in candidates]
    await session.flush()
    await log_event(
        session,
        conversation_id=conversation.id,
        type=EventType.WAITING,
        source=SOURCE,
        description=f"nobody eligible in {assignment.queue}; waiting",
        at=at,
        details={"queue": assignment.queue, "candidates": assignment.candidates},
    )
    return None


async def assign_to_rep(
    session: AsyncSession,
    *,
    config: AppConfig,
    conversation: Conversation,
    assignment: Assignment,
    rep_id: str,
    at: datetime,
) -> Rep | None:
    """Give a waiting conversation to one named member of its queue (a lead's choice): the rep must
    not be offline and must have capacity (presence away/busy is allowed: a lead's explicit call).
    Returns None when they cannot take it, or are locked by another transaction this instant (the
    caller may hold a rep's row, so this never waits)."""
    rep: Rep | None = None
    member: _Member | None = None
    for _attempt in range(2):  # a second read when the rep was assigned since the first
        members, _ = await _read_members(session, queue=assignment.queue)
        member = next((m for m in members if m.rep_id == rep_id), None)
        if member is None:
            return None
        rep = await _claim(
            session,
            config=config,
            queue=assignment.queue,
            member=member,
            at=at,
            backlog=False,
            mode=_Mode.EXPLICIT,
            skip_locked=True,
        )
        if rep is not None:
            break
    if rep is None or member is None:
        return None
    candidate = _candidate(member)
    return await _assign(
        session,
        config=config,
        conversation=conversation,
        assignment=assignment,
        picked=_Pick(member=member, rep=rep),
        candidates=[candidate],
        at=at,
        backlog=False,
        owned=True,
    )


async def drain_queue(
    session: AsyncSession, *, config: AppConfig, queue: str, at: datetime, limit: int | None = None
) -> int:
    """Assign waiting conversations of `queue` in order (priority, then handoff time) while reps are
    eligible, pacing each rep (fair backlog drain). Never waits for a locked conversation or rep.
    Returns how many were assigned."""
    if not config.queue(queue).hours.is_open(at):
        return 0
    assigned = 0
    passed_over: list[int] = []  # waiting for someone other than the reps free now
    while limit is None or assigned < limit:
        row = (
            await session.execute(
                select(Conversation, Assignment)
                .join(
                    Assignment,
                    and_(
                        col(Assignment.conversation_id) == col(Conversation.id),
                        col(Assignment.status) == AssignmentStatus.WAITING,
                    ),
                )
                .where(
                    col(Conversation.owner) == Owner.QUEUED,
                    col(Conversation.queue) == queue,
                    col(Conversation.assignee_id).is_(None),
                    col(Assignment.queue) == queue,
                    col(Conversation.id).not_in(passed_over),
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
            break
        conversation, assignment = row
        assert conversation.id is not None
        exclude = (assignment.routing or {}).get("exclude") or ()
        picked, candidates = await _pick(
            session, config=config, queue=queue, at=at, exclude=exclude, backlog=True, wait=False
        )
        if picked is None:
            if exclude:
                passed_over.append(conversation.id)
                continue
            break
        rep = await _assign(
            session,
            config=config,
            conversation=conversation,
            assignment=assignment,
            picked=picked,
            candidates=candidates,
            at=at,
            backlog=True,
            owned=False,
        )
        if rep is None:
            break
        assigned += 1
    return assigned


async def drain_queues(
    session: AsyncSession, *, config: AppConfig, queues: Collection[str], at: datetime
) -> int:
    total = 0
    for queue in sorted(set(queues)):
        total += await drain_queue(session, config=config, queue=queue, at=at)
    return total


async def waiting_queues(session: AsyncSession) -> list[str]:
    rows = await session.execute(
        select(col(Conversation.queue)).where(col(Conversation.owner) == Owner.QUEUED).distinct()
    )
    return sorted(str(q) for q in rows.scalars() if q)


# -- ending assignments -------------------------------------------------------------------------
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


async def _sla_revoked_reps(session: AsyncSession, *, conversation_id: int, queue: str) -> set[str]:
    rows = await session.execute(
        select(col(Assignment.rep_id)).where(
            col(Assignment.conversation_id) == conversation_id,
            col(Assignment.queue) == queue,
            col(Assignment.end_reason) == EndReason.SLA,
        )
    )
    return {str(r) for r in rows.scalars() if r}


async def sla_expired(session: AsyncSession, *, config: AppConfig, assignment_id: int, at: datetime) -> str:
    """SLA timer: revoke an unanswered assignment, then the next rep or the escalation path.
    Returns what happened (for the timer's log).

    Lock order: the conversation, then the lapsed rep's capacity is released, then picks that never
    wait (a rep locked by another transaction is skipped): two revocations crossing between the
    same reps cannot deadlock."""
    found = await session.get(Assignment, assignment_id)
    if found is None or found.status != AssignmentStatus.ACTIVE or found.first_response_at is not None:
        return "nothing to do"
    conversation = await session.get(
        Conversation, found.conversation_id, with_for_update=True, populate_existing=True
    )
    assignment = await session.get(Assignment, assignment_id, populate_existing=True)
    if (
        conversation is None
        or assignment is None
        or assignment.status != AssignmentStatus.ACTIVE
        or assignment.first_response_at is not None
        or conversation.owner != Owner.HUMAN
        or conversation.assignee_id != assignment.rep_id
    ):
        return "nothing to do"
    assert conversation.id is not None
    queue = assignment.queue
    lapsed = assignment.rep_id
    assert lapsed is not None
    revocations = assignment.revocations + 1
    assignment.sla_breached_at = at
    await end_assignment(
        session, assignment=assignment, status=AssignmentStatus.REVOKED, reason=EndReason.SLA, at=at
    )
    await log_event(
        session,
        conversation_id=conversation.id,
        type=EventType.ASSIGNMENT_REVOKED,
        source=SOURCE,
        description=f"no reply from {lapsed} within {sla_minutes(config, queue)} minutes; revoked",
        at=at,
        details={
            "rep_id": lapsed,
            "revoked_rep_id": lapsed,
            "queue": queue,
            "assignment_id": assignment.id,
            "reason": "sla",
            "revocations": revocations,
        },
    )
    exclude = await _sla_revoked_reps(session, conversation_id=conversation.id, queue=queue) | {lapsed}
    waiting_since = conversation.handed_off_at or assignment.queued_at
    level = assignment.escalation
    if revocations >= config.timers.max_revocations and level < 2:
        return await _escalate(
            session,
            config=config,
            conversation=conversation,
            from_assignment=assignment,
            revocations=revocations,
            exclude=exclude,
            at=at,
        )
    nxt = new_assignment(
        conversation,
        queue=queue,
        reason="sla_revoked",
        routing=assignment.routing,
        at=at,
        waiting_since=waiting_since,
        revocations=revocations,
        escalation=level,
        exclude=exclude,
    )
    if not config.queue(queue).hours.is_open(at):
        await _hold(session, config=config, conversation=conversation, assignment=nxt, at=at)
        return "revoked; held until opening"
    session.add(nxt)
    with session.no_autoflush:
        picked, candidates = await _pick(
            session, config=config, queue=queue, at=at, exclude=exclude, wait=False
        )
    if picked is not None:
        await _assign(
            session,
            config=config,
            conversation=conversation,
            assignment=nxt,
            picked=picked,
            candidates=candidates,
            at=at,
            backlog=False,
            owned=True,
        )
        return f"revoked; reassigned to {picked.rep.id}"
    if level >= 2 or any(c.skipped == BUSY for c in candidates):
        # The end of the escalation path, or reps who are only busy this instant: wait in the queue
        # (the next drain assigns it, never to the reps who let it lapse).
        assignment_candidates = [c.as_dict() for c in candidates]
        nxt.candidates = assignment_candidates
        await session.flush()
        await log_event(
            session,
            conversation_id=conversation.id,
            type=EventType.WAITING,
            source=SOURCE,
            description=f"nobody else free in {queue}; waiting",
            at=at,
            details={"queue": queue, "candidates": assignment_candidates},
        )
        return "revoked; waiting"
    # Nobody else in the queue can take it: escalate rather than bounce it back to the same rep.
    session.expunge(nxt)
    return await _escalate(
        session,
        config=config,
        conversation=conversation,
        from_assignment=assignment,
        revocations=revocations,
        exclude=exclude,
        at=at,
    )


async def _escalate(
    session: AsyncSession,
    *,
    config: AppConfig,
    conversation: Conversation,
    from_assignment: Assignment,
    revocations: int,
    exclude: Collection[str],
    at: datetime,
) -> str:
    """Next step of the escalation path: the queue's team lead, then the catch-all queue."""
    assert conversation.id is not None
    queue = from_assignment.queue
    level = from_assignment.escalation
    steps = config.timers.escalation
    waiting_since = conversation.handed_off_at or from_assignment.queued_at
    if level < 1 and "lead" in steps and config.queue(queue).hours.is_open(at):
        nxt = new_assignment(
            conversation,
            queue=queue,
            reason="escalated",
            routing=from_assignment.routing,
            at=at,
            waiting_since=waiting_since,
            revocations=revocations,
            escalation=1,
        )
        session.add(nxt)
        with session.no_autoflush:
            picked, candidates = await _pick(
                session, config=config, queue=queue, at=at, exclude=exclude, leads_only=True, wait=False
            )
        if picked is not None:
            await _assign(
                session,
                config=config,
                conversation=conversation,
                assignment=nxt,
                picked=picked,
                candidates=candidates,
                at=at,
                backlog=False,
                owned=True,
            )
            await log_event(
                session,
                conversation_id=conversation.id,
                type=EventType.ESCALATED,
                source=SOURCE,
                description=f"escalated to team lead {picked.rep.name} ({picked.rep.id}) of {queue}",
                at=at,
                details={
                    "rep_id": picked.rep.id,
                    "queue": queue,
                    "from_queue": queue,
                    "level": "lead",
                    "revocations": revocations,
                },
            )
            return f"escalated to lead {picked.rep.id}"
        session.expunge(nxt)
    fallback = config.routing.fallback
    if level < 2 and "catch_all" in steps and fallback != queue:
        nxt = new_assignment(
            conversation,
            queue=fallback,
            reason="escalated",
            routing=from_assignment.routing,
            at=at,
            waiting_since=waiting_since,
            revocations=revocations,
            escalation=2,
            exclude=exclude,
        )
        await log_event(
            session,
            conversation_id=conversation.id,
            type=EventType.ESCALATED,
            source=SOURCE,
            description=f"escalated from {queue} to the catch-all queue {fallback}",
            at=at,
            details={
                "rep_id": None,
                "queue": fallback,
                "from_queue": queue,
                "level": "catch_all",
                "revocations": revocations,
            },
        )
        outcome = await _place(
            session,
            config=config,
            conversation=conversation,
            assignment=nxt,
            at=at,
            exclude=exclude,
            wait=False,
        )
        return f"escalated to {fallback}" + (f"; assigned to {outcome.rep.id}" if outcome.rep else "")
    # End of the path: wait in the queue for whoever is next.
    nxt = new_assignment(
        conversation,
        queue=queue,
        reason="sla_revoked",
        routing=from_assignment.routing,
        at=at,
        waiting_since=waiting_since,
        revocations=revocations,
        escalation=2,
        exclude=exclude,
    )
    outcome = await _place(
        session, config=config, conversation=conversation, assignment=nxt, at=at, exclude=exclude, wait=False
    )
    return "revoked; waiting" if outcome.rep is None else f"revoked; assigned to {outcome.rep.id}"


async def sla_warning(session: AsyncSession, *, config: AppConfig, assignment_id: int, at: datetime) -> str:
    assignment = await session.get(Assignment, assignment_id)
    if assignment is None or assignment.status != AssignmentStatus.ACTIVE or assignment.first_response_at:
        return "nothing to do"
    due = assignment.sla_due_at.isoformat() if assignment.sla_due_at else None
    await log_event(
        session,
        conversation_id=assignment.conversation_id,
        type=EventType.SLA_WARNING,
        source=SOURCE,
        description=f"no reply yet; {assignment.rep_id} loses this conversation at {due}",
        at=at,
        details={
            "rep_id": assignment.rep_id,
            "queue": assignment.queue,
            "assignment_id": assignment.id,
            "due_at": due,
        },
    )
    return "warned"


async def requeue_offline_rep(
    session: AsyncSession, *, config: AppConfig, rep_id: str, offline_since: datetime, at: datetime
) -> int:
    """Offline timer: a rep offline since `offline_since` loses their open conversations, which go
    back to their queue at their original place (assigned to the next rep at once when someone is
    eligible), unless the queue's policy is `keep`. Returns how many moved."""
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
        if (config.queue(assignment.queue).offline_policy or config.timers.offline_policy) == "keep":
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
    # Release first, then place without waiting for any other rep (see the module docstring).
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
        )
        await _place(
            session,
            config=config,
            conversation=conversation,
            assignment=nxt,
            at=at,
            exclude={rep_id},
            wait=False,
        )
    return len(lapsed)
