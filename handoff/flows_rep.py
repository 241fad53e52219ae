"""What reps, leads and admins do: reply as the owner, presence and heartbeat, opting in and out of
auto-assignment, transfer to another queue, reassign, resolve.

All functions are keyword-only; the caller owns the transaction. Every action writes the context log
(notifications to reps follow it) and an audit entry. They refuse with `handoff.errors`: `NotOwner`
(the actor may not do this), `NotFound` (no such conversation, rep or queue, or nothing open to act
on), `Unavailable` (the chosen rep or queue cannot take it: offline, at capacity, same queue).

Who may do what is `handoff.policy.can`: the owner replies, transfers and resolves; a supervisor of
the conversation's queue (a lead who is a member of it, or an admin) may also transfer, reassign
and resolve.

Event details (besides `queue`): transferred {rep_id and from_rep_id: the previous owner or null,
from_queue, to_queue, note, actor}; reassigned {rep_id and to_rep_id: the new owner or null,
from_rep_id, actor}; resolved {rep_id: the owner or null, actor}.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from handoff.assignment import (
    assign_next,
    assign_to_rep,
    cancel_timers,
    drain_queues,
    end_assignment,
    enqueue,
    give_back_waiting,
    new_assignment,
    open_assignment,
    schedule_offline,
    tell_customer,
)
from handoff.errors import NotFound, NotOwner, Unavailable
from handoff.flows import reopening
from handoff.models import Assignment, Rep, RepQueue
from handoff.policy import can, viewer_of
from handoff.reps import audit, queues_of
from orchestrator.channels.whatsapp.outbound import text_message
from orchestrator.core.config import AppConfig
from orchestrator.core.contextlog import log_event
from orchestrator.core.enums import Action, AssignmentStatus, EndReason, EventType, Owner, Presence, TimerKind
from orchestrator.core.tables import Contact, Conversation, Message
from orchestrator.outbox import queue_outgoing, recipient_of


# -- helpers ------------------------------------------------------------------------------------
async def _locked_conversation(session: AsyncSession, conversation_id: int) -> Conversation:
    conversation = await session.get(
        Conversation, conversation_id, with_for_update=True, populate_existing=True
    )
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    return conversation


async def _may(session: AsyncSession, actor: Rep, action: Action, conversation: Conversation) -> bool:
    return can(await viewer_of(session, rep=actor), action, conversation)


async def _drain_for(
    session: AsyncSession, *, config: AppConfig | None, rep_id: str | None, at: datetime
) -> None:
    """Capacity was freed: waiting conversations of the rep's queues may go to someone now."""
    if config is not None and rep_id is not None:
        await drain_queues(session, config=config, queues=await queues_of(session, rep_id=rep_id), at=at)


# -- replying -----------------------------------------------------------------------------------
async def rep_reply(
    session: AsyncSession, *, conversation_id: int, rep: Rep, text: str, at: datetime
) -> Message:
    """Queue a rep's message to the customer. Only the current owner may write (checked under the
    conversation's row lock, so a transfer or revocation ends write access at once)."""
    conversation = await _locked_conversation(session, conversation_id)
    if not await _may(session, rep, Action.REPLY, conversation):
        raise NotOwner("only the rep who owns this conversation may reply")
    contact = await session.get(Contact, conversation.contact_id)
    assert contact is not None
    message = await queue_outgoing(
        session,
        conversation_id=conversation_id,
        payload=text_message(recipient_of(contact), text),
        sender_type="rep",
        sender_id=rep.id,
        at=at,
    )
    active = await open_assignment(session, conversation_id=conversation_id)
    if active is not None and active.rep_id == rep.id and active.first_response_at is None:
        # First response, measured from the assignment: the SLA is met.
        active.first_response_at = at
        session.add(active)
        await cancel_timers(
            session, at=at, kinds=(TimerKind.SLA, TimerKind.SLA_WARNING), assignment_id=active.id
        )
    conversation.updated_at = at
    session.add(conversation)
    audit(
        session,
        actor_id=rep.id,
        action="reply",
        at=at,
        conversation_id=conversation_id,
        details={"message_id": message.id},
    )
    await log_event(
        session,
        conversation_id=conversation_id,
        type=EventType.REP_REPLY,
        source=rep.id,
        description=f"{rep.name} replied",
        at=at,
        details={"message_id": message.id, "rep_id": rep.id},
    )
    return message


# -- presence -----------------------------------------------------------------------------------
async def apply_presence(
    session: AsyncSession, *, config: AppConfig, rep: Rep, presence: Presence, at: datetime
) -> Rep:
    """Set `rep`'s presence (the caller holds its row lock). Going offline starts the offline timer;
    coming online gives back first the rep's own conversations that went back to the queue while
    they were offline and still wait, then drains the rep's queues (fairly: the backlog is paced per
    rep)."""
    was_offline = rep.presence == Presence.OFFLINE
    rep.presence = presence
    rep.last_seen_at = at
    rep.expired_presence = None
    if presence == Presence.OFFLINE:
        if not was_offline or rep.offline_since is None:
            rep.offline_since = at
        since = rep.offline_since
        session.add(rep)
        await schedule_offline(session, config=config, rep_id=rep.id, offline_since=since, at=at)
    else:
        rep.offline_since = None
        session.add(rep)
        if was_offline:
            await cancel_timers(session, at=at, kinds=(TimerKind.OFFLINE,), rep_id=rep.id)
    await session.flush()
    if presence == Presence.ONLINE:
        if was_offline:  # what went back to the queue while they were away, and waits, is theirs again
            await give_back_waiting(session, config=config, rep=rep, at=at)
        await _drain_for(session, config=config, rep_id=rep.id, at=at)
        await session.refresh(rep)
    return rep


async def _locked_rep(session: AsyncSession, rep_id: str) -> Rep:
    rep = await session.get(Rep, rep_id, with_for_update=True, populate_existing=True)
    if rep is None:
        raise NotFound(f"rep {rep_id} not found")
    return rep


async def set_presence(
    session: AsyncSession,
    *,
    config: AppConfig,
    rep_id: str,
    presence: Presence,
    at: datetime,
    actor_id: str | None = None,
) -> Rep:
    """The rep sets their presence: `online` takes new conversations (waiting ones first), `away`
    and `busy` keep theirs but take no new ones, `offline` loses theirs after
    `timers.offline` (per the queue's offline policy). `actor_id`: an admin who set it for them
    (disabling them), whom the audit names."""
    rep = await _locked_rep(session, rep_id)
    before = rep.presence
    await apply_presence(session, config=config, rep=rep, presence=presence, at=at)
    if before == presence:
        return rep  # "online" chosen again: nothing changed, nothing to audit
    details: dict[str, object] = {"from": str(before), "to": str(presence)}
    if actor_id is not None and actor_id != rep_id:
        details["rep_id"] = rep_id
    audit(session, actor_id=actor_id or rep_id, action="presence", at=at, details=details)
    return rep


async def heartbeat(session: AsyncSession, *, config: AppConfig, rep_id: str, at: datetime) -> Rep:
    """The rep's client is alive. A rep turned offline by a missed heartbeat gets back the presence
    they had chosen (and, if online, waiting conversations)."""
    rep = await session.get(Rep, rep_id, populate_existing=True)
    if rep is None:
        raise NotFound(f"rep {rep_id} not found")
    if rep.presence == Presence.OFFLINE and rep.expired_presence is not None:
        rep = await _locked_rep(session, rep_id)
        if rep.presence == Presence.OFFLINE and rep.expired_presence is not None:
            return await apply_presence(
                session, config=config, rep=rep, presence=Presence(rep.expired_presence), at=at
            )
    await session.execute(
        update(Rep)
        .where(col(Rep.id) == rep_id)
        .values(last_seen_at=at)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(rep, "last_seen_at", at)
    return rep


async def set_auto_assign(
    session: AsyncSession, *, config: AppConfig, rep_id: str, enabled: bool, at: datetime
) -> Rep:
    """Opt in to (or out of) automatic assignment. Opting in while online drains the rep's queues."""
    rep = await _locked_rep(session, rep_id)
    rep.auto_assign = enabled
    session.add(rep)
    await session.flush()
    audit(session, actor_id=rep_id, action="auto_assign", at=at, details={"enabled": enabled})
    if enabled and rep.presence == Presence.ONLINE:
        await _drain_for(session, config=config, rep_id=rep_id, at=at)
        await session.refresh(rep)
    return rep


# -- moving conversations -----------------------------------------------------------------------
async def _open_handoff(session: AsyncSession, conversation: Conversation) -> Assignment:
    assert conversation.id is not None
    if conversation.owner not in (Owner.HUMAN, Owner.QUEUED):
        raise NotFound(f"conversation {conversation.id} is {conversation.owner}: not with the human side")
    current = await open_assignment(session, conversation_id=conversation.id)
    if current is None:
        raise NotFound(f"conversation {conversation.id} has no open assignment")
    return current


async def transfer(
    session: AsyncSession,
    *,
    config: AppConfig,
    conversation_id: int,
    actor: Rep,
    to_queue: str,
    note: str | None,
    at: datetime,
) -> Assignment:
    """Move a conversation to another queue with a note. The sender's write access ends at once; the
    conversation (transcript, context log, assignment history) goes along unchanged and is routed and
    assigned in the target queue by the engine (never back to the sender straight away)."""
    try:
        target = config.queue(to_queue)
    except KeyError:
        raise NotFound(f"no queue {to_queue!r}") from None
    conversation = await _locked_conversation(session, conversation_id)
    current = await _open_handoff(session, conversation)
    if not await _may(session, actor, Action.TRANSFER, conversation):
        raise NotOwner("only the owner, a lead of this queue or an admin may transfer it")
    from_queue = conversation.queue
    if target.slug == from_queue:
        raise Unavailable(f"the conversation is already in {to_queue}")
    # The sender's capacity is released first; the pick below then never waits for a rep's lock.
    sender = await end_assignment(
        session, assignment=current, status=AssignmentStatus.TRANSFERRED, reason=EndReason.TRANSFERRED, at=at
    )
    details: dict[str, object] = {
        "rep_id": sender,
        "from_rep_id": sender,
        "actor": actor.id,
        "actor_name": actor.name,
        "from_queue": from_queue,
        "queue": target.slug,
        "to_queue": target.slug,
        "note": note,
    }
    await log_event(
        session,
        conversation_id=conversation_id,
        type=EventType.TRANSFERRED,
        source=actor.id,
        description=f"{actor.name} transferred it from {from_queue} to {target.slug}"
        + (f": {note}" if note else ""),
        at=at,
        details=details,
    )
    audit(
        session, actor_id=actor.id, action="transfer", at=at, conversation_id=conversation_id, details=details
    )
    routing = {
        "queue": target.slug,
        "stage": "transfer",
        "rule": "transfer",
        "explanation": [f"transferred from {from_queue} by {actor.id}"] + ([f"note: {note}"] if note else []),
        "from_queue": from_queue,
    }
    # Never straight back to whoever sent it on: the rep who had it, nor the lead who moved it (they
    # want someone else in that team, even when they belong to it and are the only one online).
    exclude: Collection[str] = {rep_id for rep_id in (sender, actor.id) if rep_id}
    outcome = await enqueue(
        session,
        config=config,
        conversation=conversation,
        queue=target.slug,
        reason="transfer",
        routing=routing,
        at=at,
        exclude=exclude,
        wait=False,
    )
    if outcome.held:  # the team is closed: the customer is told when it is back, as at a handoff
        language = conversation.language or config.default_language
        opens = reopening(config, outcome, at=at, language=language)
        await tell_customer(
            session,
            config=config,
            conversation=conversation,
            message="transferred_after_hours",
            queue=target.slug,
            at=at,
            opens_at=opens,
        )
    else:
        await tell_customer(
            session, config=config, conversation=conversation, message="transferred", queue=target.slug, at=at
        )
    await _drain_for(session, config=config, rep_id=sender, at=at)
    return outcome.assignment


async def reassign(
    session: AsyncSession,
    *,
    config: AppConfig,
    conversation_id: int,
    actor: Rep,
    to_rep_id: str | None,
    at: datetime,
) -> Assignment:
    """A lead of the conversation's queue (or an admin) gives it to a named member of the queue, or
    with `to_rep_id=None` to the next rep in round robin other than the current one (waiting, at its
    place in the queue, when nobody is eligible). The named rep must not be offline and must have
    capacity (away or busy is the lead's call)."""
    conversation = await _locked_conversation(session, conversation_id)
    current = await _open_handoff(session, conversation)
    if not await _may(session, actor, Action.REASSIGN, conversation):
        raise NotOwner("only a lead of this queue or an admin may reassign it")
    queue = current.queue
    previous = current.rep_id if current.status == AssignmentStatus.ACTIVE else None
    if to_rep_id is not None:
        if to_rep_id == previous:
            raise Unavailable(f"{to_rep_id} already has this conversation")
        if await session.get(RepQueue, (to_rep_id, queue)) is None:
            raise NotFound(f"{to_rep_id} is not a member of {queue}")
    # Reps who let it lapse earlier stay excluded; so does the current owner when it goes to the next
    # rep in round robin. A rep the lead names is the lead's call.
    exclude = set(current.excluded_reps or ()) | ({previous} if previous and to_rep_id is None else set())
    exclude.discard(to_rep_id or "")
    # Lock discipline (see handoff/assignment/engine.py): release first, never wait for a rep's lock.
    await end_assignment(
        session, assignment=current, status=AssignmentStatus.REVOKED, reason=EndReason.REASSIGNED, at=at
    )
    nxt = new_assignment(
        conversation,
        queue=queue,
        reason="reassigned",
        routing=current.routing,
        at=at,
        waiting_since=conversation.waiting_since or conversation.handed_off_at or current.queued_at,
        escalation=current.escalation,
        exclude=exclude,
    )
    if to_rep_id is not None:
        session.add_all([conversation, nxt])
        await session.flush()
        rep = await assign_to_rep(
            session, config=config, conversation=conversation, assignment=nxt, rep_id=to_rep_id, at=at
        )
        if rep is None:
            raise Unavailable(await _why_not_free(session, to_rep_id))
    else:
        rep = await assign_next(
            session,
            config=config,
            conversation=conversation,
            assignment=nxt,
            at=at,
            exclude=exclude,
            wait=False,
        )
    details: dict[str, object] = {
        "rep_id": rep.id if rep else None,
        "to_rep_id": rep.id if rep else None,
        "from_rep_id": previous,
        "actor": actor.id,
        "actor_name": actor.name,
        "queue": queue,
        "assignment_id": nxt.id,
    }
    await log_event(
        session,
        conversation_id=conversation_id,
        type=EventType.REASSIGNED,
        source=actor.id,
        description=f"{actor.name} reassigned it "
        + (f"from {previous} " if previous else "")
        + (f"to {rep.id}" if rep else "to the next available rep"),
        at=at,
        details=details,
    )
    audit(
        session, actor_id=actor.id, action="reassign", at=at, conversation_id=conversation_id, details=details
    )
    if rep is not None:  # as when the queue or an SLA gives it to a rep: the customer hears who has it
        await tell_customer(
            session, config=config, conversation=conversation, message="rep_joined", rep=rep, at=at
        )
    await _drain_for(session, config=config, rep_id=previous, at=at)
    return nxt


async def resolve(
    session: AsyncSession,
    *,
    conversation_id: int,
    actor: Rep,
    at: datetime,
    config: AppConfig | None = None,
) -> None:
    """Close the conversation (owner -> closed) and release the owner's capacity. The owner, a lead
    of its queue or an admin may. With `config`, the freed capacity is used at once for waiting
    conversations; otherwise the next background pass does it."""
    conversation = await _locked_conversation(session, conversation_id)
    current = await _open_handoff(session, conversation)
    if not await _may(session, actor, Action.RESOLVE, conversation):
        raise NotOwner("only the owner, a lead of this queue or an admin may resolve it")
    held_by = await end_assignment(
        session, assignment=current, status=AssignmentStatus.RESOLVED, reason=EndReason.RESOLVED, at=at
    )
    conversation.owner = Owner.CLOSED
    conversation.closed_at = at
    conversation.waiting_since = None
    conversation.updated_at = at
    session.add(conversation)
    details: dict[str, object] = {"rep_id": held_by, "actor": actor.id, "queue": current.queue}
    await log_event(
        session,
        conversation_id=conversation_id,
        type=EventType.RESOLVED,
        source=actor.id,
        description=f"resolved by {actor.name}",
        at=at,
        details=details,
    )
    audit(
        session, actor_id=actor.id, action="resolve", at=at, conversation_id=conversation_id, details=details
    )
    await _drain_for(session, config=config, rep_id=held_by, at=at)


async def _why_not_free(session: AsyncSession, rep_id: str) -> str:
    """Why a named rep could not be given a conversation, in the words a lead acts on."""
    rep = await session.get(Rep, rep_id)
    if rep is None:
        return f"{rep_id} cannot take it now"
    if rep.presence != Presence.ONLINE:
        return f"{rep.name} cannot take it now: they are {rep.presence}"
    if rep.open_count >= rep.capacity:
        return (
            f"{rep.name} cannot take it now: they are at capacity ({rep.open_count} of {rep.capacity} open)"
        )
    return f"{rep.name} cannot take it now: another change to them is under way; try again"
