"""Revocation and escalation: what the SLA timers do.

An assignment without a rep reply within the queue's SLA (minutes of opening hours, see
`deadlines`) is revoked and climbs `policy.escalation_ladder`: the next rep of the queue, then (after
`timers.max_revocations`, or when nobody else in the queue can take it) along `timers.escalation`:
the queue's team lead, then the catch-all (routing fallback) queue, where the exclusions are lifted
(someone who let it lapse is better than nobody); at the end of the path it goes to whoever can take
it but the rep who just let it lapse, or waits in the queue with an `escalated` event that tells the
queue's leads and the admins that nobody could take it. Never a silent dead end.

Lock order: the conversation, then the lapsed rep's capacity is released, then picks that never wait
(a rep locked by another transaction is skipped): two revocations crossing between the same reps
cannot deadlock.

Context-log events written here; `details` always carry `queue`:
  assignment_revoked {rep_id, revoked_rep_id, assignment_id, reason} ·
  escalated {rep_id (the lead, or null), from_queue, level} · sla_warning {rep_id, assignment_id, due_at}
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from handoff.assignment.deadlines import sla_of
from handoff.assignment.engine import (
    SOURCE,
    Waiting,
    assign,
    hold,
    place,
    placement,
    tell_customer,
    wait_in_queue,
)
from handoff.assignment.pick import any_busy, pick
from handoff.assignment.policy import Rung, Step, escalation_ladder, waits_for_next_rep
from handoff.assignment.records import end_assignment, new_assignment
from handoff.models import Assignment
from orchestrator.core.config import AppConfig, describe_duration
from orchestrator.core.contextlog import log_event
from orchestrator.core.enums import AssignmentStatus, EndReason, EventType, Owner
from orchestrator.core.tables import Conversation


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
    """SLA timer: revoke an unanswered assignment, then climb the escalation ladder until a step
    places the conversation. Returns what happened (for the timer's log)."""
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
        description=f"no reply from {lapsed} within {describe_duration(sla_of(config, queue))}; revoked",
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
    ladder = escalation_ladder(
        queue=queue,
        fallback=config.routing.fallback,
        level=assignment.escalation,
        revocations=revocations,
        max_revocations=config.timers.max_revocations,
        steps=config.timers.escalation,
    )
    for step in ladder:
        done = await _climb(
            session,
            config=config,
            conversation=conversation,
            revoked=assignment,
            step=step,
            revocations=revocations,
            exclude=exclude,
            at=at,
        )
        if done is not None:
            return done
    raise AssertionError(f"the escalation ladder ended without placing the conversation: {ladder}")


async def _climb(
    session: AsyncSession,
    *,
    config: AppConfig,
    conversation: Conversation,
    revoked: Assignment,
    step: Step,
    revocations: int,
    exclude: Collection[str],
    at: datetime,
) -> str | None:
    """Try one step of the ladder. Returns what happened, or None to try the next step."""
    assert conversation.id is not None
    queue_open = config.queue(step.queue).hours.is_open(at)
    if step.rung is Rung.LEAD and not queue_open:
        return None
    nxt = new_assignment(
        conversation,
        queue=step.queue,
        reason=step.reason,
        routing=revoked.routing,
        at=at,
        waiting_since=conversation.handed_off_at or revoked.queued_at,
        revocations=revocations,
        escalation=step.level,
        exclude=exclude if step.keep_exclusions else (),
    )
    if step.rung is Rung.NEXT_REP and not queue_open:
        await hold(session, config=config, conversation=conversation, assignment=nxt, at=at)
        return "revoked; held until opening"
    if step.rung in (Rung.NEXT_REP, Rung.LEAD):
        leads_only = step.rung is Rung.LEAD
        with session.no_autoflush:
            picked, candidates = await pick(
                session,
                config=config,
                queue=step.queue,
                at=at,
                exclude=exclude,
                leads_only=leads_only,
                wait=False,
                placement=placement(config, conversation=conversation, assignment=nxt, at=at),
            )
        if picked is not None:
            await assign(
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
            # Sorry for the wait, in effect: the customer hears who has their conversation now.
            await tell_customer(
                session, config=config, conversation=conversation, message="rep_joined", rep=picked.rep, at=at
            )
            if not leads_only:
                return f"revoked; reassigned to {picked.rep.id}"
            await _log_escalated(
                session,
                conversation=conversation,
                step=step,
                from_queue=revoked.queue,
                lead=picked.rep.id,
                description=f"escalated to team lead {picked.rep.name} ({picked.rep.id}) of {step.queue}",
                revocations=revocations,
                at=at,
            )
            return f"escalated to lead {picked.rep.id}"
        if not leads_only and waits_for_next_rep(busy=any_busy(candidates)):
            await wait_in_queue(
                session,
                conversation=conversation,
                assignment=nxt,
                why=Waiting.NOBODY_ELSE_FREE,
                at=at,
                candidates=candidates,
            )
            return "revoked; waiting"
        return None
    if step.rung is Rung.CATCH_ALL:
        await _log_escalated(
            session,
            conversation=conversation,
            step=step,
            from_queue=revoked.queue,
            lead=None,
            description=f"escalated from {revoked.queue} to the catch-all queue {step.queue}",
            revocations=revocations,
            at=at,
        )
    # The end of the path: the exclusions are lifted, but the rep who has just let it lapse does not
    # get it straight back when anyone else can take it.
    if step.keep_exclusions:
        placing: Collection[str] = exclude
    else:
        placing = {revoked.rep_id} if step.rung is Rung.WAIT and revoked.rep_id else ()
    outcome = await place(
        session, config=config, conversation=conversation, assignment=nxt, at=at, exclude=placing, wait=False
    )
    assigned = f"assigned to {outcome.rep.id}" if outcome.rep else None
    if outcome.rep is None and step.rung is Rung.WAIT:
        await _log_escalated(
            session,
            conversation=conversation,
            step=step,
            from_queue=revoked.queue,
            lead=None,
            description=f"nobody else could take it after {revocations} revocations; waiting in "
            f"{step.queue}: a lead or an admin may assign it, else it goes to the next rep free",
            revocations=revocations,
            at=at,
        )
    if step.rung is Rung.CATCH_ALL:
        return f"escalated to {step.queue}" + (f"; {assigned}" if assigned else "")
    return f"revoked; {assigned or 'waiting'}"


async def _log_escalated(
    session: AsyncSession,
    *,
    conversation: Conversation,
    step: Step,
    from_queue: str,
    lead: str | None,
    description: str,
    revocations: int,
    at: datetime,
) -> None:
    assert conversation.id is not None
    await log_event(
        session,
        conversation_id=conversation.id,
        type=EventType.ESCALATED,
        source=SOURCE,
        description=description,
        at=at,
        details={
            "rep_id": lead,
            "queue": step.queue,
            "from_queue": from_queue,
            "level": step.rung.value,
            "revocations": revocations,
        },
    )


async def sla_warning(session: AsyncSession, *, config: AppConfig, assignment_id: int, at: datetime) -> str:
    """SLA warning timer: tell the owner when they lose the conversation unless they reply."""
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
