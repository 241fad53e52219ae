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
  - candidates are read without locks, then the chosen rep's membership and rep rows are locked
    with `FOR UPDATE ... SKIP LOCKED`, so concurrent assignments in one queue take different reps at
    once. If the locked row shows a newer last assignment than the read (someone assigned that rep
    in between), the ranking is redone, so round robin stays exact;
  - a rep's open count only grows by a conditional UPDATE (`open_count < capacity`);
  - a conversation changes owner only from `queued` with no assignee, under its row lock, and a
    unique partial index refuses a second open assignment of a conversation;
  - work that assigns several conversations in one transaction (drains, timers) never waits for a
    rep's lock: it skips that rep (the conversation waits for the next drain), so two drains cannot
    deadlock. A single assignment waits when every eligible rep is locked. Capacity is released
    after the new pick, so no transaction waits for a rep while holding another rep's row.
On SQLite the whole write transaction is serialised (`BEGIN IMMEDIATE`) and no FOR UPDATE is emitted.

Context-log events written here (notifications follow the log); `details` always carry `queue`:
  assigned {rep_id, assignment_id, backlog, candidates} · waiting {candidates} ·
  held_after_hours {opens_at} · assignment_revoked {rep_id, revoked_rep_id, assignment_id, reason} ·
  escalated {rep_id (the lead, or null), from_queue, level} · sla_warning {rep_id, assignment_id, due_at}
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from handoff.enums import Owner, Presence, Role
from handoff.models import (
    Assignment,
    AssignmentStatus,
    EndReason,
    EventType,
    Rep,
    RepQueue,
    Timer,
    TimerKind,
)
from handoff.service import log_event
from orchestrator.config import AppConfig, Hours
from orchestrator.models import Conversation

log = structlog.get_logger(__name__)
SOURCE = "assignment_engine"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LOCKED = "locked by a concurrent assignment"


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
    assigned_total: int
    burst_started_at: datetime | None
    burst_count: int

    def rank(self) -> tuple[bool, datetime, int, str]:
        return (
            self.last_assigned_at is not None,
            self.last_assigned_at or _EPOCH,
            self.assigned_total,
            self.rep_id,
        )

    def same_cursor(self, other: _Member) -> bool:
        return self.last_assigned_at == other.last_assigned_at and self.assigned_total == other.assigned_total


_MEMBER_COLUMNS = (
    col(RepQueue.rep_id),
    col(Rep.role),
    col(Rep.presence),
    col(Rep.auto_assign),
    col(Rep.open_count),
    col(Rep.capacity),
    col(RepQueue.last_assigned_at),
    col(RepQueue.assigned_total),
    col(RepQueue.burst_started_at),
    col(RepQueue.burst_count),
)


def _member(row: Any) -> _Member:
    return _Member(*row)


async def _read_members(session: AsyncSession, *, queue: str) -> list[_Member]:
    rows = await session.execute(
        select(*_MEMBER_COLUMNS)
        .join(Rep, col(Rep.id) == col(RepQueue.rep_id))
        .where(col(RepQueue.queue) == queue)
        .order_by(col(RepQueue.rep_id))
    )
    return [_member(r) for r in rows]


async def _lock_member(
    session: AsyncSession, *, queue: str, rep_id: str, skip_locked: bool
) -> _Member | None:
    """Lock the membership and rep rows; None when another transaction holds them (skip_locked)."""
    row = (
        await session.execute(
            select(*_MEMBER_COLUMNS)
            .join(Rep, col(Rep.id) == col(RepQueue.rep_id))
            .where(col(RepQueue.queue) == queue, col(RepQueue.rep_id) == rep_id)
            .with_for_update(of=[RepQueue, Rep], skip_locked=skip_locked)
        )
    ).first()
    return _member(row) if row is not None else None


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
        return f"paced: took {m.burst_count} waiting conversations in the last {window}s"
    return None


def _window_open(m: _Member, *, config: AppConfig, at: datetime) -> bool:
    window = timedelta(seconds=config.assignment.backlog_window_seconds)
    return m.burst_started_at is not None and at - m.burst_started_at < window


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


async def _take_capacity(session: AsyncSession, *, rep_id: str) -> Rep | None:
    """One more open conversation for the rep, only while under capacity. Returns the updated rep."""
    result = await session.execute(
        update(Rep)
        .where(and_(col(Rep.id) == rep_id, col(Rep.open_count) < col(Rep.capacity)))
        .values(open_count=col(Rep.open_count) + 1)
        .returning(Rep),
        execution_options={"populate_existing": True, "synchronize_session": False},
    )
    rep: Rep | None = result.scalars().first()
    return rep


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
) -> tuple[_Pick | None, list[Candidate]]:
    """Choose the next rep by the policy above, lock them and take one unit of their capacity."""
    candidates: dict[str, Candidate] = {}
    for _attempt in range(4):
        members = await _read_members(session, queue=queue)
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
        locked_out: list[_Member] = []
        stale = False
        for m in ranked:
            locked = await _lock_member(session, queue=queue, rep_id=m.rep_id, skip_locked=True)
            if locked is None:
                candidates[m.rep_id].skip(LOCKED)
                locked_out.append(m)
                continue
            if not locked.same_cursor(m):
                stale = True  # assigned since we read: rank again on fresh data
                break
            picked = await _claim(
                session,
                candidate=candidates[m.rep_id],
                locked=locked,
                config=config,
                at=at,
                exclude=exclude,
                backlog=backlog,
                leads_only=leads_only,
            )
            if picked is not None:
                return picked, list(candidates.values())
        if stale:
            continue
        if wait and locked_out:
            # Every eligible rep is busy in another transaction: wait for the first, then re-check.
            m = locked_out[0]
            locked = await _lock_member(session, queue=queue, rep_id=m.rep_id, skip_locked=False)
            if locked is not None and locked.same_cursor(m):
                picked = await _claim(
                    session,
                    candidate=candidates[m.rep_id],
                    locked=locked,
                    config=config,
                    at=at,
                    exclude=exclude,
                    backlog=backlog,
                    leads_only=leads_only,
                )
                if picked is not None:
                    return picked, list(candidates.values())
            continue
        break
    return None, list(candidates.values())


async def _claim(
    session: AsyncSession,
    *,
    candidate: Candidate,
    locked: _Member,
    config: AppConfig,
    at: datetime,
    exclude: Collection[str],
    backlog: bool,
    leads_only: bool,
) -> _Pick | None:
    """Re-check the locked (current) state, then take capacity."""
    candidate.eligible, candidate.skipped = True, None
    candidate.open_count, candidate.capacity = locked.open_count, locked.capacity
    reason = _skip_reason(
        locked, config=config, at=at, exclude=exclude, backlog=backlog, leads_only=leads_only
    )
    if reason is not None:
        candidate.skip(reason)
        return None
    rep = await _take_capacity(session, rep_id=locked.rep_id)
    if rep is None:
        candidate.skip("at capacity (concurrent assignment)")
        return None
    return _Pick(member=locked, rep=rep)


async def _has_backlog(session: AsyncSession, *, queue: str, other_than: int) -> bool:
    found = await session.execute(
        select(col(Conversation.id))
        .where(
            col(Conversation.owner) == Owner.QUEUED,
            col(Conversation.queue) == queue,
            col(Conversation.id) != other_than,
        )
        .limit(1)
    )
    return found.first() is not None


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


async def _schedule_sla(
    session: AsyncSession, *, config: AppConfig, assignment: Assignment, at: datetime
) -> None:
    assert assignment.id is not None
    hours = config.queue(assignment.queue).hours
    minutes = sla_minutes(config, assignment.queue)
    due = open_deadline(hours, at, minutes)
    assignment.sla_due_at = due
    if due is None:
        return
    common: dict[str, Any] = {
        "conversation_id": assignment.conversation_id,
        "rep_id": assignment.rep_id,
        "assignment_id": assignment.id,
        "created_at": at,
    }
    session.add(Timer(kind=TimerKind.SLA, due_at=due, **common))
    warning = config.timers.sla_warning_minutes
    if 0 < warning < minutes:
        warn_at = open_deadline(hours, at, minutes - warning)
        if warn_at is not None:
            session.add(Timer(kind=TimerKind.SLA_WARNING, due_at=warn_at, **common))


# -- writing an assignment ----------------------------------------------------------------------
def _new_assignment(
    conversation: Conversation,
    *,
    queue: str,
    reason: str,
    routing: dict[str, Any] | None,
    at: datetime,
    waiting_since: datetime | None = None,
    revocations: int = 0,
    escalation: int = 0,
) -> Assignment:
    """Owner -> queued in `queue` with a new waiting assignment (not flushed)."""
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
    session.add(assignment)
    m = picked.member
    cursor: dict[str, Any] = {
        "last_assigned_at": at,
        "assigned_total": col(RepQueue.assigned_total) + 1,
    }
    if backlog:
        if _window_open(m, config=config, at=at):
            cursor["burst_count"] = col(RepQueue.burst_count) + 1
        else:
            cursor["burst_started_at"], cursor["burst_count"] = at, 1
    await session.execute(
        update(RepQueue)
        .where(col(RepQueue.rep_id) == rep.id, col(RepQueue.queue) == assignment.queue)
        .values(**cursor)
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    assert assignment.id is not None
    await _schedule_sla(session, config=config, assignment=assignment, at=at)
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
            "assignment_id": assignment.id,
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
        backlog = await _has_backlog(session, queue=queue, other_than=conversation.id)
        if not backlog:
            picked, candidates = await _pick(
                session, config=config, queue=queue, at=at, exclude=exclude, wait=wait
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
) -> AssignmentOutcome:
    """Queue a conversation (owner -> queued) and assign it now if the queue is open and a rep is
    free. The caller holds the conversation's row lock and owns the transaction."""
    assignment = _new_assignment(
        conversation, queue=queue, reason=reason, routing=routing, at=at, waiting_since=waiting_since
    )
    return await _place(
        session, config=config, conversation=conversation, assignment=assignment, at=at, exclude=exclude
    )


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
    Returns None when they cannot take it."""
    locked = await _lock_member(session, queue=assignment.queue, rep_id=rep_id, skip_locked=False)
    if locked is None or locked.presence == Presence.OFFLINE:
        return None
    rep = await _take_capacity(session, rep_id=rep_id)
    if rep is None:
        return None
    candidate = _candidate(locked)
    return await _assign(
        session,
        config=config,
        conversation=conversation,
        assignment=assignment,
        picked=_Pick(member=locked, rep=rep),
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
        picked, candidates = await _pick(session, config=config, queue=queue, at=at, backlog=True, wait=False)
        if picked is None:
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
    Returns what happened (for the timer's log)."""
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
        session,
        assignment=assignment,
        status=AssignmentStatus.REVOKED,
        reason=EndReason.SLA,
        at=at,
        release=False,
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
    result: str
    if revocations < config.timers.max_revocations or level >= 2:
        nxt = _new_assignment(
            conversation,
            queue=queue,
            reason="sla_revoked",
            routing=assignment.routing,
            at=at,
            waiting_since=waiting_since,
            revocations=revocations,
            escalation=level,
        )
        if not config.queue(queue).hours.is_open(at):
            await _hold(session, config=config, conversation=conversation, assignment=nxt, at=at)
            result = "revoked; held until opening"
        else:
            session.add(nxt)
            with session.no_autoflush:
                picked, candidates = await _pick(session, config=config, queue=queue, at=at, exclude=exclude)
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
                result = f"revoked; reassigned to {picked.rep.id}"
            elif level >= 2:
                outcome = await _place(
                    session, config=config, conversation=conversation, assignment=nxt, at=at, exclude=exclude
                )
                result = (
                    "revoked; waiting" if outcome.rep is None else f"revoked; assigned to {outcome.rep.id}"
                )
            else:
                # Nobody else can take it now: escalate rather than bounce it back to the same rep.
                session.expunge(nxt)
                result = await _escalate(
                    session,
                    config=config,
                    conversation=conversation,
                    from_assignment=assignment,
                    revocations=revocations,
                    exclude=exclude,
                    at=at,
                )
    else:
        result = await _escalate(
            session,
            config=config,
            conversation=conversation,
            from_assignment=assignment,
            revocations=revocations,
            exclude=exclude,
            at=at,
        )
    await release_capacity(session, rep_id=lapsed)
    return result


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
        nxt = _new_assignment(
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
                session, config=config, queue=queue, at=at, exclude=exclude, leads_only=True
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
        nxt = _new_assignment(
            conversation,
            queue=fallback,
            reason="escalated",
            routing=from_assignment.routing,
            at=at,
            waiting_since=waiting_since,
            revocations=revocations,
            escalation=2,
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
            session, config=config, conversation=conversation, assignment=nxt, at=at, exclude=exclude
        )
        return f"escalated to {fallback}" + (f"; assigned to {outcome.rep.id}" if outcome.rep else "")
    # End of the path: wait in the queue for whoever is next.
    nxt = _new_assignment(
        conversation,
        queue=queue,
        reason="sla_revoked",
        routing=from_assignment.routing,
        at=at,
        waiting_since=waiting_since,
        revocations=revocations,
        escalation=2,
    )
    outcome = await _place(
        session, config=config, conversation=conversation, assignment=nxt, at=at, exclude=exclude
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
    moved = 0
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
        queue = config.queue(assignment.queue)
        if (queue.offline_policy or config.timers.offline_policy) == "keep":
            continue
        await end_assignment(
            session,
            assignment=assignment,
            status=AssignmentStatus.REVOKED,
            reason=EndReason.OFFLINE,
            at=at,
            release=False,
        )
        await log_event(
            session,
            conversation_id=conversation.id,
            type=EventType.ASSIGNMENT_REVOKED,
            source=SOURCE,
            description=f"{rep.name} offline since {offline_since.isoformat()}; back to {queue.slug}",
            at=at,
            details={
                "rep_id": rep_id,
                "revoked_rep_id": rep_id,
                "queue": queue.slug,
                "assignment_id": assignment.id,
                "reason": "offline",
            },
        )
        nxt = _new_assignment(
            conversation,
            queue=queue.slug,
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
        moved += 1
    if moved:
        await release_capacity(session, rep_id=rep_id, count=moved)
    return moved
