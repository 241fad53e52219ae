"""The assignment engine: put a handed-off conversation in its queue and give it to a rep.

The rep is chosen by `policy` (round robin with skip reasons and a deterministic tie-break) and taken
by `claim`. Nobody eligible: the conversation waits in the queue (higher priority first, then FIFO by
handoff time) and `drain_queue` assigns it the moment someone becomes eligible. A conversation handed
off while others wait joins the back of the queue. Outside opening hours it is held, and a durable
`queue_open` timer drains the queue at opening; pacing spreads the backlog over the reps as they log
in instead of landing it on the first one.

Concurrency (see `claim` for the rep side):
  - a conversation changes owner only from `queued` with no assignee, under its row lock, and a
    unique partial index refuses a second open assignment of a conversation;
  - lock discipline, so there is no deadlock: a transaction waits for a rep's lock only while it
    holds no other rep's row (a fresh handoff, `wait=True`). Everything else (drains, timers,
    transfers, revocations) releases capacity first and then only skips locked reps, leaving the
    conversation waiting for the next drain when everyone is busy that instant;
  - nothing here sleeps (see `pick`).

Context-log events written here (notifications follow the log); `details` always carry `queue`:
  assigned {rep_id, reason, backlog, candidates} · waiting {candidates} · held_after_hours {opens_at}
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from handoff.assignment.claim import Placement, claim, read_members, release_capacity
from handoff.assignment.deadlines import sla_deadlines
from handoff.assignment.pick import Pick, any_busy, pick
from handoff.assignment.policy import Candidate, Member, Mode
from handoff.assignment.records import new_assignment
from handoff.assignment.timers import schedule_queue_open, schedule_sla
from handoff.models import Assignment, Rep
from orchestrator.channels.whatsapp.outbound import text_message
from orchestrator.core.config import AppConfig
from orchestrator.core.contextlog import log_event
from orchestrator.core.enums import AssignmentStatus, EndReason, EventType, Owner, Presence
from orchestrator.core.tables import Contact, Conversation
from orchestrator.outbox import queue_outgoing, recipient_of

SOURCE = "assignment_engine"


@dataclass
class AssignmentOutcome:
    assignment: Assignment
    rep: Rep | None = None
    held: bool = False  # outside opening hours
    opens_at: datetime | None = None
    candidates: list[Candidate] = field(default_factory=list)


# -- writing an assignment ----------------------------------------------------------------------
def placement(
    config: AppConfig, *, conversation: Conversation, assignment: Assignment, at: datetime
) -> Placement:
    """A new waiting assignment as the claim may write it with the rep it takes (see `claim`)."""
    warn_at, due_at = sla_deadlines(config, queue=assignment.queue, at=at)
    return Placement(conversation=conversation, assignment=assignment, warn_at=warn_at, due_at=due_at)


async def _write_assignment(
    session: AsyncSession,
    *,
    config: AppConfig,
    conversation: Conversation,
    assignment: Assignment,
    rep: Rep,
    candidates: list[Candidate],
    at: datetime,
    owned: bool,
) -> bool:
    """Write what the claim did not: the conversation to the rep, the assignment active, its SLA
    timers (flushed with the transaction). False when the conversation was taken meanwhile."""
    assert conversation.id is not None
    if owned:
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
            return False
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
    warn_at, assignment.sla_due_at = sla_deadlines(config, queue=assignment.queue, at=at)
    session.add(assignment)
    schedule_sla(session, assignment=assignment, warn_at=warn_at, at=at)
    return True


async def assign(
    session: AsyncSession,
    *,
    config: AppConfig,
    conversation: Conversation,
    assignment: Assignment,
    picked: Pick,
    candidates: list[Candidate],
    at: datetime,
    backlog: bool,
    owned: bool,
) -> Rep | None:
    """Give the conversation to the picked rep (whose capacity is already taken). `owned`: this
    transaction created the waiting state itself, under the conversation's row lock. When the claim
    already wrote the assignment (`picked.placed`), only the `assigned` event is left to write."""
    rep = picked.rep
    assert conversation.id is not None
    if not picked.placed and not await _write_assignment(
        session,
        config=config,
        conversation=conversation,
        assignment=assignment,
        rep=rep,
        candidates=candidates,
        at=at,
        owned=owned,
    ):
        return None
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


async def tell_customer(
    session: AsyncSession,
    *,
    config: AppConfig,
    conversation: Conversation,
    message: str,
    at: datetime,
    rep: Rep | None = None,
    queue: str | None = None,
    **values: str,
) -> None:
    """Queue one of the configured customer messages (`rep_joined`, `transferred`...) in the
    conversation's language, with the rep's first name, the team's name and `values` filled in;
    the outbox sends it."""
    assert conversation.id is not None
    contact = await session.get(Contact, conversation.contact_id)
    if contact is None:
        return
    team = config.queue(queue or conversation.queue or config.routing.fallback)
    text = config.message(
        message,
        conversation.language,
        rep_name=rep.name.split()[0] if rep else "",
        queue_name=team.customer_name or team.name,
        **values,
    )
    await queue_outgoing(
        session,
        conversation_id=conversation.id,
        payload=text_message(recipient_of(contact), text),
        sender_type="bot",
        sender_id="handoff",
        at=at,
    )


async def hold(
    session: AsyncSession,
    *,
    config: AppConfig,
    conversation: Conversation,
    assignment: Assignment,
    at: datetime,
) -> AssignmentOutcome:
    """The queue is closed: the conversation waits for the opening, which drains the queue."""
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
        await schedule_queue_open(session, queue=queue, opens_at=opens_at, at=at)
    return AssignmentOutcome(assignment=assignment, held=True, opens_at=opens_at)


class Waiting(Enum):
    """Why a conversation waits in its (open) queue: the description of the `waiting` event."""

    NOBODY_ELIGIBLE = "nobody eligible in {queue}; waiting"
    BEHIND_BACKLOG = "others are waiting in {queue}; queued behind them"
    # Nobody waits ahead of it: the backlog it joined was handed out first, or it came back at its
    # earlier place (its rep went offline).
    FIRST_IN_LINE = "first in line in {queue}; waiting for a rep who is free"
    NOBODY_ELSE_FREE = "nobody else free in {queue}; waiting"


async def wait_in_queue(
    session: AsyncSession,
    *,
    conversation: Conversation,
    assignment: Assignment,
    why: Waiting,
    at: datetime,
    candidates: list[Candidate] | None = None,
) -> None:
    """The conversation waits in its queue: record who was considered and log `waiting`."""
    assert conversation.id is not None
    if candidates is not None:
        assignment.candidates = [c.as_dict() for c in candidates]
    session.add(assignment)
    await session.flush()
    await log_event(
        session,
        conversation_id=conversation.id,
        type=EventType.WAITING,
        source=SOURCE,
        description=why.value.format(queue=assignment.queue),
        at=at,
        details={"queue": assignment.queue, "candidates": assignment.candidates or []},
    )


async def place(
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
        return await hold(session, config=config, conversation=conversation, assignment=assignment, at=at)
    session.add(conversation)
    picked: Pick | None = None
    candidates: list[Candidate] = []
    # Decide before writing, so the conversation and its assignment are written once (on PostgreSQL by
    # the claim itself). The assignment joins the session when it is written.
    with session.no_autoflush:
        members, backlog = await read_members(session, queue=queue, backlog_besides=conversation.id)
        if not backlog:
            picked, candidates = await pick(
                session,
                config=config,
                queue=queue,
                at=at,
                exclude=exclude,
                wait=wait,
                members=members,
                placement=placement(config, conversation=conversation, assignment=assignment, at=at),
            )
    if picked is not None:
        rep = await assign(
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
    if not backlog:
        await wait_in_queue(
            session,
            conversation=conversation,
            assignment=assignment,
            why=Waiting.NOBODY_ELIGIBLE,
            at=at,
            candidates=candidates,
        )
        return AssignmentOutcome(assignment=assignment, candidates=candidates)
    # Others are waiting: join the back of the queue and hand the backlog out in order.
    session.add(assignment)
    await session.flush()
    await drain_queue(session, config=config, queue=queue, at=at, quiet=conversation.id)
    if conversation.assignee_id is not None:
        return AssignmentOutcome(assignment=assignment, rep=await session.get(Rep, conversation.assignee_id))
    why = Waiting.BEHIND_BACKLOG if await _ahead_of(session, conversation) else Waiting.FIRST_IN_LINE
    await wait_in_queue(session, conversation=conversation, assignment=assignment, why=why, at=at)
    return AssignmentOutcome(assignment=assignment, candidates=candidates)


async def _ahead_of(session: AsyncSession, conversation: Conversation) -> int:
    """How many conversations wait in its queue before it, in the order `drain` hands them out
    (higher priority, then waiting longer, then the older conversation)."""
    assert conversation.id is not None
    waiting_since = conversation.waiting_since
    same = col(Conversation.priority) == conversation.priority
    earlier = (
        or_(
            col(Conversation.waiting_since) < waiting_since,
            and_(col(Conversation.waiting_since) == waiting_since, col(Conversation.id) < conversation.id),
        )
        if waiting_since is not None
        else col(Conversation.id) < conversation.id
    )
    rows = await session.execute(
        select(func.count())
        .select_from(Conversation)
        .where(
            col(Conversation.owner) == Owner.QUEUED,
            col(Conversation.queue) == conversation.queue,
            col(Conversation.assignee_id).is_(None),
            col(Conversation.id) != conversation.id,
            or_(col(Conversation.priority) > conversation.priority, and_(same, earlier)),
        )
    )
    return int(rows.scalar_one())


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
    return await place(
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
        await hold(session, config=config, conversation=conversation, assignment=assignment, at=at)
        return None
    session.add(conversation)
    with session.no_autoflush:
        picked, candidates = await pick(
            session,
            config=config,
            queue=assignment.queue,
            at=at,
            exclude=exclude,
            wait=wait,
            placement=placement(config, conversation=conversation, assignment=assignment, at=at),
        )
    if picked is not None:
        return await assign(
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
    await wait_in_queue(
        session,
        conversation=conversation,
        assignment=assignment,
        why=Waiting.NOBODY_ELIGIBLE,
        at=at,
        candidates=candidates,
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
    member: Member | None = None
    for _attempt in range(2):  # a second read when the rep was assigned since the first
        members, _ = await read_members(session, queue=assignment.queue)
        member = next((m for m in members if m.rep_id == rep_id), None)
        if member is None:
            return None
        rep = await claim(
            session,
            config=config,
            queue=assignment.queue,
            member=member,
            at=at,
            backlog=False,
            mode=Mode.EXPLICIT,
            skip_locked=True,
        )
        if rep is not None:
            break
    if rep is None or member is None:
        return None
    return await assign(
        session,
        config=config,
        conversation=conversation,
        assignment=assignment,
        picked=Pick(member=member, rep=rep),
        candidates=[Candidate.of(member)],
        at=at,
        backlog=False,
        owned=True,
    )


def _waiting_with_assignment() -> Select[Conversation, Assignment]:
    """Conversations with their waiting assignment, to be narrowed and locked by the caller."""
    return select(Conversation, Assignment).join(
        Assignment,
        and_(
            col(Assignment.conversation_id) == col(Conversation.id),
            col(Assignment.status) == AssignmentStatus.WAITING,
        ),
    )


# -- draining the waiting queue -----------------------------------------------------------------
@dataclass(frozen=True)
class Drained:
    assigned: int
    busy: bool  # stopped while eligible reps were held by concurrent assignments: worth a retry


async def drain(
    session: AsyncSession,
    *,
    config: AppConfig,
    queue: str,
    at: datetime,
    limit: int | None = None,
    quiet: int | None = None,
) -> Drained:
    """Assign waiting conversations of `queue` in order (priority, then handoff time) while reps are
    eligible, pacing each rep (fair backlog drain). Never waits for a locked conversation or rep.
    Each customer hears who has their conversation now, but `quiet`'s (whose handoff notice, being
    written in the same transaction, already says so)."""
    if not config.queue(queue).hours.is_open(at):
        return Drained(assigned=0, busy=False)
    assigned, busy = 0, False
    passed_over: list[int] = []  # waiting for someone other than the reps free now
    while limit is None or assigned < limit:
        row = (
            await session.execute(
                _waiting_with_assignment()
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
        exclude = assignment.excluded_reps or ()
        picked, candidates = await pick(
            session, config=config, queue=queue, at=at, exclude=exclude, backlog=True, wait=False
        )
        if picked is None:
            busy = busy or any_busy(candidates)
            if exclude:
                passed_over.append(conversation.id)
                continue
            break
        rep = await assign(
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
        # The customer is told who takes over, unless it is the one who had it last (back from
        # away after letting it lapse): they were told already.
        if (
            conversation.id != quiet
            and await _last_rep(session, conversation.id, before=assignment.id) != rep.id
        ):
            await tell_customer(
                session, config=config, conversation=conversation, message="rep_joined", rep=rep, at=at
            )
        assigned += 1
    return Drained(assigned=assigned, busy=busy)


async def give_back_waiting(session: AsyncSession, *, config: AppConfig, rep: Rep, at: datetime) -> int:
    """A rep back online gets back, before any drain, the conversations that went back to the queue
    while they were offline and still wait there (nobody else took them): the customer keeps the
    rep they were talking to. Not in a closed queue, not past the rep's capacity or without
    auto-assignment, never for a rep excluded from the conversation. Returns how many."""
    if rep.presence != Presence.ONLINE or not rep.auto_assign:
        return 0
    lapsed = (
        await session.execute(
            select(col(Assignment.conversation_id))
            .join(Conversation, col(Conversation.id) == col(Assignment.conversation_id))
            .where(
                col(Assignment.rep_id) == rep.id,
                col(Assignment.end_reason) == EndReason.OFFLINE,
                col(Conversation.owner) == Owner.QUEUED,
                col(Conversation.assignee_id).is_(None),
            )
            .distinct()
        )
    ).scalars()
    given = 0
    for conversation_id in sorted({int(i) for i in lapsed}):
        row = (
            await session.execute(
                _waiting_with_assignment()
                .where(col(Conversation.id) == conversation_id, col(Conversation.assignee_id).is_(None))
                .with_for_update(of=Conversation, skip_locked=True)
            )
        ).first()
        if row is None:
            continue  # taken meanwhile, or being placed by someone else this instant
        conversation, waiting = row
        if (
            rep.id in (waiting.excluded_reps or ())
            or not config.queue(waiting.queue).hours.is_open(at)
            or await _last_rep(session, conversation_id, before=waiting.id) != rep.id
        ):
            continue
        if await assign_to_rep(
            session, config=config, conversation=conversation, assignment=waiting, rep_id=rep.id, at=at
        ):
            given += 1
    return given


async def _last_rep(session: AsyncSession, conversation_id: int, *, before: int | None) -> str | None:
    """The rep of the conversation's assignment before `before` (None if it had none, or nobody)."""
    if before is None:
        return None
    return (
        await session.execute(
            select(col(Assignment.rep_id))
            .where(col(Assignment.conversation_id) == conversation_id, col(Assignment.id) < before)
            .order_by(col(Assignment.id).desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def drain_queue(
    session: AsyncSession,
    *,
    config: AppConfig,
    queue: str,
    at: datetime,
    limit: int | None = None,
    quiet: int | None = None,
) -> int:
    """`drain`, returning how many were assigned."""
    return (await drain(session, config=config, queue=queue, at=at, limit=limit, quiet=quiet)).assigned


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
